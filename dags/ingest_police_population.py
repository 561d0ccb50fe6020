"""
### Police-population indicators → raw table

Fetches the monthly police-population indicators (`docs/contracts/police_population.md`) from the
statistical service's API through the `vigie_police_api` connection (host = base URL,
password = bearer token): only the months not yet complete plus the last three (revisions),
every page, retrying `429`/`5xx` with backoff, in one transaction per fetch. Without that
connection the API task is skipped. Then loads the CSV fallback files dropped in
`<VIGIE_LANDING_URL>/police_population/` with the common file rules (rejects, quarantine,
archive). Both feed `raw.police_population_indicators` with their lineage; unknown indicators
are stored and listed in the task's return value and a WARNING log line.

Produces the `vigie_raw_police_population` asset.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from vigie import tasks
from vigie.orchestration.assets import RAW_POLICE_POPULATION
from vigie.orchestration.defaults import DAG_DEFAULTS, WAREHOUSE_POOL


@dag(
    dag_id="ingest_police_population",
    schedule="@daily",
    tags=["vigie", "ingestion", "police_population"],
    doc_md=__doc__,
    **DAG_DEFAULTS,
)
def ingest_police_population() -> None:
    @task(pool=WAREHOUSE_POOL)
    def fetch_api(run_id: str | None = None) -> dict:
        """Incremental fetch and load from the API; skipped without the connection."""
        return tasks.fetch_police_api(run_id)

    # none_failed: runs after a skipped API task, not after a failed one (the run shows it).
    @task(pool=WAREHOUSE_POOL, outlets=[RAW_POLICE_POPULATION], trigger_rule="none_failed")
    def load_csv_fallback(run_id: str | None = None) -> dict:
        """Each CSV waiting under police_population/: validate, load or quarantine, archive."""
        return tasks.load_police_csv(run_id)

    fetch_api() >> load_csv_fallback()


ingest_police_population()
