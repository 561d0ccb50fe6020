"""What every Vigie DAG shares: owner, retries, the failure notice, the warehouse pool.

Read when a DAG file is parsed: environment only, no I/O.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum

from vigie.orchestration.notifier import EngineersNotifier
from vigie.settings import WAREHOUSE_POOL, get_settings

__all__ = ["DAG_DEFAULTS", "DEFAULT_ARGS", "START_DATE", "WAREHOUSE_POOL"]

START_DATE = pendulum.datetime(2026, 1, 1, tz="Europe/Paris")

DEFAULT_ARGS = {
    "owner": "vigie-data",
    # Two more tries, a minute apart by default (VIGIE_RETRY_DELAY_SECONDS): enough for a
    # relay restart or a database fail-over, short enough for the Monday e-mails.
    "retries": 2,
    "retry_delay": timedelta(seconds=get_settings().retry_delay_seconds),
    # Data engineers hear of a task failing for good (never the pilots).
    "on_failure_callback": EngineersNotifier(),
}

# The keyword arguments every DAG takes alike: one run at a time, no catch-up of missed runs.
DAG_DEFAULTS = {
    "start_date": START_DATE,
    "catchup": False,
    "max_active_runs": 1,
    "default_args": DEFAULT_ARGS,
}
