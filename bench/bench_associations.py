"""Ingesting thousands of small association reports (XLSX template): where the time goes.

    uv run python bench/bench_associations.py [--files 5000] [--baseline-files 300]

Writes ``--files`` reports in the template's shape (two sheets, merged titles, 1-6 territory rows
each, real communes) into a temporary landing zone, then times
``vigie.ingest.association_loader.ingest_reports`` into a fresh DuckDB warehouse (the whole DAG
task: reading, hashing, validation, rejects, audit, supersession, archive moves) and splits the time
per file into open / parse / validate / load. Target (issue 5): 5,000 reports in under 2 minutes.

Baselines in the same run, on the first ``--baseline-files`` workbooks: opening them with
openpyxl (the prefecture reader, and the loader's fallback), with python-calamine through
``pandas.read_excel(engine="calamine")``, and with python-calamine called directly (what the
loader uses when installed).

A benchmark, not a test: it prints numbers and asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 120.0


def _write_reports(landing: Path, count: int, seed: int) -> list[Path]:
    from vigie.demo.sample_associations import _siret, report_xlsx
    from vigie.reference.geography import load_reference

    ref = load_reference()
    communes = ref.communes[ref.communes["type"] == "commune-actuelle"]
    by_dep = {
        str(d): [
            str(c) for c in g.sort_values("population", ascending=False)["code_commune"].head(20)
        ]
        for d, g in communes.groupby("code_departement")
    }
    deps = sorted(by_dep)
    rng = random.Random(seed)
    folder = landing / "associations"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(count):
        dep = rng.choice(deps)
        served = rng.sample(by_dep[dep], min(rng.randint(1, 6), len(by_dep[dep])))
        identification = {
            "reseau": rng.choice(["FNEPE", "ANPAEJ", "CNLAPS"]),
            "structure": f"Structure {number}",
            "siret": _siret(rng),
            "code_departement": dep,
            "periode": rng.choice(["2019", "2019-S1", "1er semestre 2020", "2020-S2"]),
        }
        rows = [
            {
                "code_commune": c,
                "nb_jeunes_accueillis": rng.randint(0, 400),
                "nb_familles_accompagnees": rng.randint(0, 120),
                "nb_actions_collectives": rng.randint(0, 30),
                "nb_situations_radicalisation_orientees": rng.choice([None, 0, 1, 2]),
            }
            for c in served
        ]
        path = folder / f"rapport_{number:05d}.xlsx"
        path.write_bytes(report_xlsx(identification, rows))
        paths.append(path)
    return paths


def _per_file_ms(paths: list[Path], open_one) -> float:
    payloads = [p.read_bytes() for p in paths]
    started = time.perf_counter()
    for data in payloads:
        open_one(data)
    return (time.perf_counter() - started) / len(payloads) * 1000


def _baselines(paths: list[Path]) -> dict[str, float]:
    import openpyxl
    from vigie.parsing import workbook

    def with_openpyxl(data: bytes) -> None:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        for sheet in book.worksheets:
            list(sheet.iter_rows(values_only=True))
        book.close()

    found = {"openpyxl": _per_file_ms(paths, with_openpyxl)}
    if workbook.calamine_available():
        from python_calamine import CalamineWorkbook

        def direct(data: bytes) -> None:
            book = CalamineWorkbook.from_filelike(io.BytesIO(data))
            for name in book.sheet_names:
                book.get_sheet_by_name(name).to_python(skip_empty_area=False)

        def via_pandas(data: bytes) -> None:
            import pandas as pd

            pd.read_excel(io.BytesIO(data), sheet_name=None, header=None, engine="calamine")

        found["calamine via pandas"] = _per_file_ms(paths, via_pandas)
        found["calamine direct"] = _per_file_ms(paths, direct)
        found["loader's open_workbook"] = _per_file_ms(paths, workbook.open_workbook)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--baseline-files", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)

    from vigie.contracts.validation import Context
    from vigie.ingest import association_loader as al
    from vigie.parsing.workbook import calamine_available
    from vigie.reference.geography import load_reference
    from vigie.settings import load_settings
    from vigie.warehouse.connection import Warehouse

    with tempfile.TemporaryDirectory(prefix="vigie-bench-assoc-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        paths = _write_reports(root / "landing", args.files, args.seed)
        size = sum(p.stat().st_size for p in paths)
        prepared = time.perf_counter() - started
        baselines = _baselines(paths[: args.baseline_files])

        settings = load_settings(
            {
                "VIGIE_LANDING_URL": str(root / "landing"),
                "VIGIE_WAREHOUSE_URL": f"duckdb:///{root / 'warehouse.duckdb'}",
                "VIGIE_OUTBOX_DIR": str(root / "outbox"),
            }
        )
        ctx = Context(load_reference(settings.reference_dir), settings.qpv_2024_from_year)
        warehouse = Warehouse(settings)
        al.ensure_schema(warehouse)
        timings = al.Timings()
        started = time.perf_counter()
        reports = al.ingest_reports(warehouse, settings.landing_url, ctx, "bench", timings)
        total = time.perf_counter() - started
        with warehouse.transaction() as tx:
            raw_rows = tx.fetchall(f"SELECT count(*) FROM {al.RAW_TABLE}")[0][0]

    n = len(reports)
    statuses: dict[str, int] = {}
    for r in reports:
        statuses[r.status] = statuses.get(r.status, 0) + 1
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    other = total - timings.open - timings.parse - timings.validate - timings.load
    print(
        f"reports              {n} XLSX ({size / n / 1024:.1f} KiB each), {raw_rows} rows "
        f"loaded; statuses {statuses}"
    )
    reader = "python-calamine" if calamine_available() else "openpyxl (no python-calamine)"
    print(f"reader               {reader}")
    print(f"preparation          {prepared:.1f} s (writing the reports, not timed below)")
    print(
        f"ingest_reports       {total:.1f} s total, {total / n * 1000:.2f} ms per file "
        f"(target {TARGET_S:.0f} s: {'met' if total < TARGET_S else 'MISSED'})"
    )
    for label, seconds in (
        ("open", timings.open),
        ("parse", timings.parse),
        ("validate", timings.validate),
        ("load", timings.load),
        ("other", other),
    ):
        print(
            f"  {label:<9}          {seconds:6.2f} s  {seconds / n * 1000:6.2f} ms/file "
            f"({seconds / total:5.1%})"
        )
    print(f"open baselines       on {min(args.baseline_files, n)} workbooks, ms per file:")
    reference = baselines["openpyxl"]
    for label, ms in baselines.items():
        print(f"  {label:<22} {ms:6.2f} ms  ({reference / ms:4.1f}x faster than openpyxl)")
    print(f"peak RSS             {peak_mb:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
