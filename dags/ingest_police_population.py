"""
### Police-population indicators → raw table

Fetches the monthly police-population indicators (`docs/contracts/police_population.md`) from the
statistical service's API through the `vigie_police_api` connection (host = base URL,
password = bearer token): only the months not yet complete plus the last three (revisions),
every page, retrying `429`/`5xx` with backoff, staged outside the warehouse and written in
one transaction per fetch (the warehouse is held only while writing). The window is the run's
(its data interval), so a re-run or a backfill asks for the same months. Every fetch, a failed
one too, is recorded in `audit.api_fetches`. Without that connection the API task is skipped.
Whatever the API did, the CSV fallback files dropped in
`<VIGIE_LANDING_URL>/police_population/` are loaded with the common file rules (rejects,
quarantine, archive); a failed fetch still makes the run fail. Both feed
`raw.police_population_indicators` with their lineage; unknown indicators are stored and
listed in the task's return value and a WARNING log line.

`announce_changes` emits the `vigie_raw_police_population` asset event, which schedules the
warehouse build, once per run and only when rows changed: the API inserted rows (a fetch whose
figures are all already stored, same `publie_le` and `valeur`, inserts none) or a CSV file
loaded. A run where neither did skips it: no event, no build. It runs once both are done,
whatever they did (a teardown), so an outage's CSV files are announced while the failed fetch
keeps the run red.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from vigie import tasks
from vigie.orchestration.assets import RAW_POLICE_POPULATION
from vigie.orchestration.defaults import DAG_DEFAULTS, WAREHOUSE_POOL


@dag(
    dag_id="ingest_police_population",
    description=(
        "Police-population indicators (API, CSV fallback) to raw tables; announced if changed"
    ),
    schedule="@daily",
    tags=["vigie", "ingestion", "police_population"],
    doc_md=__doc__,
    **DAG_DEFAULTS,
)
def ingest_police_population() -> None:
    @task(pool=WAREHOUSE_POOL)
    def fetch_api(**context: Any) -> dict:
        """Incremental fetch and load from the API, for the run's day; skipped without the
        connection."""
        return tasks.fetch_police_api(context["run_id"], tasks.run_data_day(context))

    @task(pool=WAREHOUSE_POOL)
    def load_csv_fallback(run_id: str | None = None) -> dict:
        """Each CSV waiting under police_population/: validate, load or quarantine, archive."""
        return tasks.load_police_csv(run_id)

    @task(pool=WAREHOUSE_POOL, on_failure_callback=[])
    def report_quarantine(loaded: dict) -> str:
        """Fails, with the files' names and reasons, when the fallback quarantined any."""
        return tasks.report_quarantine("police_population", loaded)

    @task(pool=WAREHOUSE_POOL, outlets=[RAW_POLICE_POPULATION])
    def announce_changes(**context: Any) -> dict:
        """The asset event, once, only when the API or the CSV fallback loaded rows; skipped
        otherwise."""
        return tasks.announce_changes("police_population", context, api=True)

    # No edge between the API and the fallback: the CSV files dropped during an outage load
    # whatever the API did, and a failed fetch stays a leaf, so the run still shows it red
    # (Airflow decides a run's state from its leaf tasks). The one-slot pool runs them one
    # after the other; the API first, by weight.
    fetched = fetch_api.override(priority_weight=2)()
    loaded = load_csv_fallback()
    report_quarantine(loaded)
    # After both, whatever they did: a teardown, so the fetch stays a leaf for the run's state
    # (a normal task after it would hide its failure). Hence on_failure_fail_dagrun stays off:
    # a failed announcement is the engineers' failure notice, not a red run.
    [fetched, loaded] >> announce_changes().as_teardown()


ingest_police_population()
