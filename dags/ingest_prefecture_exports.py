"""
### Prefecture exports → raw tables

Collects the FIPD programme and contrats de ville files prefectures drop in
`<VIGIE_LANDING_URL>/prefectures/`, validates each against `contracts/prefectures.md`, and
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

import pendulum
from airflow.sdk import dag, get_current_context, task
from vigie.assets import DEFAULT_ARGS, RAW_PREFECTURES, WAREHOUSE_POOL


@dag(
    dag_id="ingest_prefecture_exports",
    schedule="@hourly",
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vigie", "ingestion", "prefectures"],
    doc_md=__doc__,
)
def ingest_prefecture_exports() -> None:
    @task(pool=WAREHOUSE_POOL)
    def refresh_reference() -> dict[str, int]:
        """Reference geography, QPV and ZSP lists in force, into the warehouse."""
        from vigie import flows

        return flows.refresh_reference()

    @task(pool=WAREHOUSE_POOL, outlets=[RAW_PREFECTURES])
    def load_landed_files() -> dict[str, int]:
        """Each waiting file: validate, load or quarantine, archive. Logs one line per file."""
        from collections import Counter

        from vigie import flows

        reports = flows.ingest_prefectures(run_id=get_current_context()["run_id"])
        counts = Counter(report["status"] for report in reports)
        for report in reports:
            counts.update({f"rejected:{k}": n for k, n in report["rejects_by_reason"].items()})
        return dict(counts)

    refresh_reference() >> load_landed_files()


ingest_prefecture_exports()
