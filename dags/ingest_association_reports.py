"""
### Association activity reports → raw table

Collects the activity reports of the associative networks (FNEPE, ANPAEJ, CNLAPS) dropped in
`<VIGIE_LANDING_URL>/associations/`, in any of the three shapes of
`docs/contracts/associations.md`: the XLSX template (`Identification` and `Activité` sheets), a
CSV with the identification repeated as columns, or the online form's JSON. Reports load in
batches (one transaction per batch, one per file if the batch fails) into
`raw.association_reports` with their lineage; a newer report for the same SIRET and période
supersedes the earlier one (history kept). A report with an invalid SIRET, an unreadable
période or any column about individuals goes whole to `quarantine/` with a `.reason.json`;
refused rows go to `audit.load_rejects`; every file's fate is in `audit.file_loads`. A
quarantined report is a WARNING line, one notice to the data engineers, and `report_quarantine`
failing (the run shows red; the good reports are loaded).

`announce_changes` emits the `vigie_raw_associations` asset event, which schedules the
warehouse build, only when this run loaded a report's rows (a newer report superseding an
earlier one too). A run with no report, only reports already received, or only quarantined
ones skips it: no event, no build. It runs once the load is done, whatever it did (a
teardown: rows committed before a failure are announced too).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from vigie import tasks
from vigie.orchestration.assets import RAW_ASSOCIATIONS
from vigie.orchestration.defaults import DAG_DEFAULTS, WAREHOUSE_POOL


@dag(
    dag_id="ingest_association_reports",
    description="Association activity reports to raw tables; announced if rows changed",
    schedule="@daily",
    tags=["vigie", "ingestion", "associations"],
    doc_md=__doc__,
    **DAG_DEFAULTS,
)
def ingest_association_reports() -> None:
    @task(pool=WAREHOUSE_POOL)
    def load_landed_reports(run_id: str | None = None) -> dict:
        """Each waiting report: read, validate, load or quarantine, archive (one log line each)."""
        return tasks.load_association_reports(run_id)

    # Red only when reports were quarantined; the load task sent the engineers' notice.
    @task(pool=WAREHOUSE_POOL, on_failure_callback=[])
    def report_quarantine(loaded: dict) -> str:
        """Fails, with the reports' names and reasons, when the load quarantined any."""
        return tasks.report_quarantine("associations", loaded)

    @task(pool=WAREHOUSE_POOL, outlets=[RAW_ASSOCIATIONS])
    def announce_changes(**context: Any) -> dict:
        """The asset event, only when this run loaded rows; skipped otherwise."""
        return tasks.announce_changes("associations", context)

    loaded = load_landed_reports()
    report_quarantine(loaded)
    # A teardown runs once the load is done, whatever its state; its own failure still fails
    # the run (the load is not a leaf: report_quarantine decides with it).
    loaded >> announce_changes().as_teardown(on_failure_fail_dagrun=True)


ingest_association_reports()
