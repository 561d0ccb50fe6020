"""Assets and constants shared by the DAG files; cheap to import at parse time."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset

from vigie.notifications import EngineersNotifier
from vigie.settings import WAREHOUSE_POOL, get_settings

RAW_PREFECTURES = Asset(name="vigie_raw_prefectures", uri="vigie://warehouse/raw/prefectures")
RAW_POLICE_POPULATION = Asset(
    name="vigie_raw_police_population", uri="vigie://warehouse/raw/police_population"
)
RAW_ASSOCIATIONS = Asset(name="vigie_raw_associations", uri="vigie://warehouse/raw/associations")
MARTS = Asset(name="vigie_marts", uri="vigie://warehouse/marts")

__all__ = ["DEFAULT_ARGS", "MARTS", "RAW_ASSOCIATIONS", "RAW_POLICE_POPULATION",
           "RAW_PREFECTURES", "WAREHOUSE_POOL"]  # fmt: skip

DEFAULT_ARGS = {
    "owner": "vigie-data",
    # Two more tries, a minute apart by default (VIGIE_RETRY_DELAY_SECONDS): enough for a
    # relay restart or a database fail-over, short enough for the Monday e-mails.
    "retries": 2,
    "retry_delay": timedelta(seconds=get_settings().retry_delay_seconds),
    # Data engineers hear of a task failing for good (never the pilots): vigie.notifications.
    "on_failure_callback": EngineersNotifier(),
}
