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

Produces the `vigie_raw_prefectures` asset that schedules the warehouse build.
"""

from __future__ import annotations

from airflow.sdk import dag, task
from vigie import tasks
from vigie.orchestration.assets import RAW_PREFECTURES
from vigie.orchestration.defaults import DAG_DEFAULTS, WAREHOUSE_POOL


@dag(
    dag_id="ingest_prefecture_exports",
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

    @task(pool=WAREHOUSE_POOL, outlets=[RAW_PREFECTURES])
    def load_landed_files(run_id: str | None = None) -> dict[str, int]:
        """Each waiting file: validate, load or quarantine, archive. Logs one line per file."""
        return tasks.load_prefecture_files(run_id)

    refresh_reference() >> load_landed_files()


ingest_prefecture_exports()
