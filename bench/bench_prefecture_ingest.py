"""Prefecture ingestion against DuckDB's own CSV reader, on the sample landing zone.

    uv run python bench/bench_prefecture_ingest.py [--departements N]

Writes the sample landing zone (``vigie.sample.write_sample``: mixed encodings, dialects, XLSX
with title rows, French numbers...) into a temporary directory, and beside it the *same rows*
as clean UTF-8 ``;`` CSVs with canonical headers, one per sample file (the cells as the sender
wrote them, minus the encoding/dialect/XLSX mess). Then times:

- the baseline: DuckDB's ``read_csv`` over the clean files, materialised;
- ``flows.ingest_prefectures`` over the messy sample into a fresh DuckDB warehouse (reading,
  validation, rejects, audit, archive moves: the whole task).

A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
from pathlib import Path


def _clean_copies(files: list[Path], out_dir: Path) -> int:
    """One clean CSV per sample file, same rows; returns the number of rows written."""
    from vigie.sources.prefectures import KINDS
    from vigie.validation import read_file, to_frame

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
    from vigie import flows
    from vigie.reference import load_reference
    from vigie.sample import write_sample
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

        settings = load_settings(
            {
                "VIGIE_LANDING_URL": str(root / "landing"),
                "VIGIE_WAREHOUSE_URL": f"duckdb:///{root / 'warehouse.duckdb'}",
                "VIGIE_OUTBOX_DIR": str(root / "outbox"),
            }
        )
        flows.refresh_reference(settings)
        started = time.perf_counter()
        reports = flows.ingest_prefectures("bench", settings)
        ingest = time.perf_counter() - started

    rows_read = sum(r["rows_read"] for r in reports)
    rows_loaded = sum(r["rows_loaded"] for r in reports)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"files                {len(files)} ({len(reports)} ingested)")
    print(f"rows                 {rows_read} read, {rows_loaded} loaded")
    print(f"                     {clean_rows} in the clean copies, {len(baseline_rows)} by DuckDB")
    print(f"preparation          {prepared:.2f} s (sample + clean copies, not timed below)")
    print(f"baseline read_csv    {baseline:.3f} s")
    print(f"ingest_prefectures   {ingest:.3f} s")
    print(f"ratio                {ingest / baseline:.1f}x (ingest / baseline)")
    print(f"throughput           {rows_read / ingest:,.0f} rows/s ingest, "
          f"{len(baseline_rows) / baseline:,.0f} rows/s baseline")  # fmt: skip
    print(f"peak RSS             {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
