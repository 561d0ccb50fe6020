"""
### Prefecture exports → raw tables

Collects the FIPD programme and contrats de ville files prefectures drop in
`<VIGIE_LANDING_URL>/prefectures/`, validates each against `docs/contracts/prefectures.md`, and
loads it in one transaction with its lineage (file SHA-256, name, row). Refused rows go to
`audit.load_rejects`; refused files to `quarantine/` with a `.reason.json`; processed files
to `archive/`. Every file's fate is in `audit.file_loads`.

The task logs one line per file (rows read, loaded, rejected and why) and the counts per
reason; the report is kept in `audit.load_reject_counts` (rows rejected per file, column and
reason, quarantined files included) and read as one line per file in the view
`audit.load_reports`. Each batch of files is also validated once, as a whole, by the Great
Expectations suites in `include/expectations/`; results and Data Docs go to `VIGIE_GX_DIR`
(the log gives the path of `data_docs/index.html`).

A quarantined file is a WARNING line, one notice to the data engineers for the run, and the
task `report_quarantine` failing with the files' names: the run shows red while the good files
are loaded and announced.

`announce_changes` emits the `vigie_raw_prefectures` asset event, which schedules the warehouse
build, only when this run changed rows: a file loaded (a correction replacing an earlier
file's rows too) or a reference list rewritten. A run with no file, only files already
received, or only quarantined files skips it: no event, no build. It runs once the load is
done, whatever it did (a teardown: rows committed before a failure are announced too).
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task
from vigie import tasks
from vigie.orchestration.assets import RAW_PREFECTURES
from vigie.orchestration.defaults import DAG_DEFAULTS, WAREHOUSE_POOL


@dag(
    dag_id="ingest_prefecture_exports",
    description="Prefecture exports (FIPD, contrats de ville) to raw tables; announced if changed",
    schedule="@hourly",
    tags=["vigie", "ingestion", "prefectures"],
    doc_md=__doc__,
    **DAG_DEFAULTS,
)
def ingest_prefecture_exports() -> None:
    @task(pool=WAREHOUSE_POOL)
    def refresh_reference() -> dict[str, int]:
        """Reference geography, QPV and ZSP lists in force, into the warehouse."""
        return tasks.refresh_reference()

    @task(pool=WAREHOUSE_POOL)
    def load_landed_files(run_id: str | None = None) -> dict:
        """Each waiting file: validate, load or quarantine, archive. Logs one line per file."""
        return tasks.load_prefecture_files(run_id)

    # Red only when files were quarantined (the good ones are loaded by then); its message
    # names them. No failure e-mail: the load task sent the quarantine notice.
    @task(pool=WAREHOUSE_POOL, on_failure_callback=[])
    def report_quarantine(loaded: dict) -> str:
        """Fails, with the files' names and reasons, when the load quarantined any."""
        return tasks.report_quarantine("prefectures", loaded)

    @task(pool=WAREHOUSE_POOL, outlets=[RAW_PREFECTURES])
    def announce_changes(**context: Any) -> dict:
        """The asset event, only when this run loaded rows or rewrote the reference; skipped
        otherwise."""
        return tasks.announce_changes("prefectures", context, reference=True)

    loaded = load_landed_files()
    refresh_reference() >> loaded
    report_quarantine(loaded)
    # A teardown runs once the load is done, whatever its state; its own failure still fails
    # the run (the load is not a leaf: report_quarantine decides with it).
    loaded >> announce_changes().as_teardown(on_failure_fail_dagrun=True)


ingest_prefecture_exports()
