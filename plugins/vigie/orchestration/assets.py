"""The assets the DAGs hand each other: a raw source changed, the warehouse is to be rebuilt.

Each ingestion DAG's ``announce_changes`` task emits its event, once per run and only when the
run changed rows (:func:`vigie.tasks.announce_changes`); the event's ``extra`` holds the counts.
Cheap to import at parse time (no I/O).
"""

from __future__ import annotations

from airflow.sdk import Asset

RAW_PREFECTURES = Asset(name="vigie_raw_prefectures", uri="vigie://warehouse/raw/prefectures")
RAW_POLICE_POPULATION = Asset(
    name="vigie_raw_police_population", uri="vigie://warehouse/raw/police_population"
)
RAW_ASSOCIATIONS = Asset(name="vigie_raw_associations", uri="vigie://warehouse/raw/associations")
