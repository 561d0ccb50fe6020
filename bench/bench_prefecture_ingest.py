"""Prefecture ingestion against DuckDB's own CSV reader, on the sample landing zone.

    uv run python bench/bench_prefecture_ingest.py [--departements N]

Writes the sample landing zone (``vigie.demo.sample_prefectures.write_sample``: mixed encodings,
dialects, XLSX
with title rows, French numbers...) into a temporary directory, and beside it the *same rows*
as clean UTF-8 ``;`` CSVs with canonical headers, one per sample file (the cells as the sender
wrote them, minus the encoding/dialect/XLSX mess). Then times:

- the baseline: DuckDB's ``read_csv`` over the clean files, materialised;
- ``tasks.ingest_prefectures`` over the messy sample into a fresh DuckDB warehouse (reading,
  validation, rejects, audit, archive moves: the whole task), twice on copies of the same
  landing zone: without Great Expectations (``VIGIE_GX_VALIDATE=false``), then with it (the
  suite once per batch, its results and Data Docs written). ``import great_expectations``
  (7-9 s, once per task process) is timed apart: it does not grow with the data.

A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import logging
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path


def _clean_copies(files: list[Path], out_dir: Path) -> int:
    """One clean CSV per sample file, same rows; returns the number of rows written."""
    from vigie.contracts.prefectures import KINDS
    from vigie.contracts.validation import read_file, to_frame

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = 0
    for number, path in enumerate(files):
        table, kind = read_file(path.read_bytes(), KINDS)
        frame = to_frame(table, kind).drop(columns="source_row")
        target = out_dir / f"{number:04d}_{path.stem}.csv"
        with target.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=";", lineterminator="\n")
            writer.writerow(frame.columns)
            writer.writerows(frame.astype(object).where(frame.notna(), "").values.tolist())
        rows += len(frame)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--departements", type=int, default=None, help="only the first N départements"
    )
    args = parser.parse_args(argv)

    import duckdb
    from vigie import tasks
    from vigie.demo.sample_prefectures import write_sample
    from vigie.reference.geography import load_reference
    from vigie.settings import load_settings

    with tempfile.TemporaryDirectory(prefix="vigie-bench-") as tmp:
        root = Path(tmp)
        wanted = None
        if args.departements is not None:
            codes = load_reference().departements["code_departement"].tolist()
            wanted = codes[: args.departements]
        started = time.perf_counter()
        sample = write_sample(root / "landing", departements=wanted)
        files = list(sample.files)
        clean_rows = _clean_copies(files, root / "clean")
        prepared = time.perf_counter() - started

        started = time.perf_counter()
        baseline_rows = duckdb.sql(
            f"SELECT * FROM read_csv('{root / 'clean'}/*.csv', delim=';', header=true, "
            "union_by_name=true)"
        ).fetchall()
        baseline = time.perf_counter() - started

        shutil.copytree(root / "landing", root / "gx_run" / "landing")

        def ingest(base: Path, gx: bool) -> tuple[list[dict], float]:
            settings = load_settings(
                {
                    "VIGIE_LANDING_URL": str(base / "landing"),
                    "VIGIE_WAREHOUSE_URL": f"duckdb:///{base / 'warehouse.duckdb'}",
                    "VIGIE_OUTBOX_DIR": str(base / "outbox"),
                    "VIGIE_GX_VALIDATE": str(gx).lower(),
                }
            )
            tasks.refresh_reference(settings)
            started = time.perf_counter()
            found = tasks.ingest_prefectures("bench", settings)
            return found, time.perf_counter() - started

        reports, ingest_plain = ingest(root, gx=False)
        peak_plain_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB
        started = time.perf_counter()
        from vigie.ingest.expectations import import_gx

        import_gx()
        gx_import = time.perf_counter() - started
        suite_runs = _GxLines()
        logging.getLogger("vigie.ingest.expectations").addHandler(suite_runs)
        logging.getLogger("vigie.ingest.expectations").setLevel(logging.INFO)
        gx_reports, ingest_gx = ingest(root / "gx_run", gx=True)
        assert [r["status"] for r in gx_reports] == [r["status"] for r in reports]

    rows_read = sum(r["rows_read"] for r in reports)
    rows_loaded = sum(r["rows_loaded"] for r in reports)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"files                {len(files)} ({len(reports)} ingested)")
    print(f"rows                 {rows_read} read, {rows_loaded} loaded")
    print(f"                     {clean_rows} in the clean copies, {len(baseline_rows)} by DuckDB")
    print(f"preparation          {prepared:.2f} s (sample + clean copies, not timed below)")
    print(f"baseline read_csv    {baseline:.3f} s")
    print(f"ingest, no GX        {ingest_plain:.3f} s")
    print(f"ingest, GX per batch {ingest_gx:.3f} s ({len(suite_runs.lines)} suite run(s))")
    for line in suite_runs.lines:
        print(f"    {line}")
    print(
        f"GX overhead          {ingest_gx - ingest_plain:+.3f} s "
        f"(+ import great_expectations {gx_import:.1f} s once per task process)"
    )
    print(
        f"ratio                {ingest_gx / baseline:.1f}x (ingest with GX / baseline); "
        f"{ingest_plain / baseline:.1f}x without GX; "
        f"{(ingest_gx + gx_import) / baseline:.1f}x counting the GX import"
    )
    print(
        f"throughput           {rows_read / ingest_gx:,.0f} rows/s ingest with GX, "
        f"{len(baseline_rows) / baseline:,.0f} rows/s baseline"
    )
    print(f"peak RSS             {peak_plain_mb:.0f} MB without GX, {peak_mb:.0f} MB with GX")
    return 0


class _GxLines(logging.Handler):
    """Keeps the suite runs' summary lines (``GX ... in 0.42 s``) to print them."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("GX "):
            self.lines.append(record.getMessage())


if __name__ == "__main__":
    sys.exit(main())
