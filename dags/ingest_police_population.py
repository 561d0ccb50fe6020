"""
### Police-population indicators → raw table

Fetches the monthly police-population indicators (`contracts/police_population.md`) from the
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

import pendulum
from airflow.sdk import dag, get_current_context, task
from vigie.assets import DEFAULT_ARGS, RAW_POLICE_POPULATION, WAREHOUSE_POOL


@dag(
    dag_id="ingest_police_population",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vigie", "ingestion", "police_population"],
    doc_md=__doc__,
)
def ingest_police_population() -> None:
    @task(pool=WAREHOUSE_POOL)
    def fetch_api() -> dict:
        """Incremental fetch and load from the API; skipped without the connection."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
        from vigie import api_loading
        from vigie.police_api import PoliceApiAuthError

        try:
            report = api_loading.run_api(run_id=get_current_context()["run_id"])
        except PoliceApiAuthError as exc:  # retrying will not fix credentials
            raise AirflowFailException(str(exc)) from exc
        if report is None:
            raise AirflowSkipException("no vigie_police_api connection: CSV fallback only")
        return report

    # none_failed: runs after a skipped API task, not after a failed one (the run shows it).
    @task(pool=WAREHOUSE_POOL, outlets=[RAW_POLICE_POPULATION], trigger_rule="none_failed")
    def load_csv_fallback() -> dict:
        """Each CSV waiting under police_population/: validate, load or quarantine, archive."""
        from vigie import api_loading

        report = api_loading.run_csv(run_id=get_current_context()["run_id"])
        report.pop("files")  # per-file details are in audit.file_loads and the task log
        return report

    fetch_api() >> load_csv_fallback()


ingest_police_population()
