"""
### Association activity reports → raw table

Collects the activity reports of the associative networks (FNEPE, ANPAEJ, CNLAPS) dropped in
`<VIGIE_LANDING_URL>/associations/`, in any of the three shapes of
`contracts/associations.md`: the XLSX template (`Identification` and `Activité` sheets), a
CSV with the identification repeated as columns, or the online form's JSON. Reports load in
batches (one transaction per batch, one per file if the batch fails) into
`raw.association_reports` with their lineage; a newer report for the same SIRET and période
supersedes the earlier one (history kept). A report with an invalid SIRET, an unreadable
période or any column about individuals goes whole to `quarantine/` with a `.reason.json`;
refused rows go to `audit.load_rejects`; every file's fate is in `audit.file_loads`.

Produces the `vigie_raw_associations` asset that schedules the warehouse build.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, get_current_context, task
from vigie.assets import DEFAULT_ARGS, RAW_ASSOCIATIONS, WAREHOUSE_POOL


@dag(
    dag_id="ingest_association_reports",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vigie", "ingestion", "associations"],
    doc_md=__doc__,
)
def ingest_association_reports() -> None:
    @task(pool=WAREHOUSE_POOL, outlets=[RAW_ASSOCIATIONS])
    def load_landed_reports() -> dict:
        """Each waiting report: read, validate, load or quarantine, archive (one log line each)."""
        from vigie import association_loading

        return association_loading.run(run_id=get_current_context()["run_id"])

    load_landed_reports()


ingest_association_reports()
