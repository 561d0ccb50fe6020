"""Benchmark: full and weekly-incremental fetch+load of the police-population API.

10 years x 101 départements x 2 forces x 7 indicators (~170,000 rows) served by the local test
server (vigie.demo.police_api_server) in pages of 1,000, loaded into a fresh DuckDB warehouse (or a
scratch database, dropped afterwards, on the PostgreSQL server ``--postgres`` names).
Targets (issue 4): full fetch+load < 15 s; incremental weekly fetch < 10 % of the full. The
baseline is downloading the same pages without loading, so the ratio shows what loading costs
on top of the network.

    uv run python bench/bench_police_api.py [--postgres postgresql://postgres@127.0.0.1:5432/]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from contextlib import nullcontext
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vigie.demo import sample_police  # noqa: E402
from vigie.demo.police_api_server import PoliceApiServer  # noqa: E402
from vigie.ingest import police_loader  # noqa: E402
from vigie.ingest.police_api import ApiConfig, PoliceApiClient  # noqa: E402
from vigie.settings import load_settings  # noqa: E402
from vigie.warehouse.connection import Warehouse  # noqa: E402

from bench.scratch import scratch_postgres  # noqa: E402

TOKEN = "bench-token"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="SERVER_URL", help="bench on PostgreSQL instead")
    args = parser.parse_args()
    with scratch_postgres(args.postgres) if args.postgres else nullcontext() as url:
        return bench(url)


def bench(warehouse_url: str | None) -> int:
    today = date.today()
    last = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    start = date(last.year - 10, last.month, 1) + timedelta(days=32)
    frame = sample_police.generate_indicators(7, today, start=start.replace(day=1))
    scratch = Path(tempfile.mkdtemp(prefix="vigie-bench-police-"))
    settings = load_settings(
        {
            "VIGIE_LANDING_URL": str(scratch / "landing"),
            "VIGIE_WAREHOUSE_URL": warehouse_url or f"duckdb:///{scratch / 'warehouse.duckdb'}",
        }
    )
    warehouse = Warehouse(settings)
    ctx = police_loader._context(settings)
    police_loader.ensure_schema(warehouse)
    with PoliceApiServer(frame, token=TOKEN) as server:
        config = ApiConfig(base_url=server.url, token=TOKEN, page_size=1000)
        server.window("0000-00", f"{today:%Y-%m}")  # warm the server's cache once

        t0 = time.perf_counter()
        with PoliceApiClient(config) as client:
            pages = client.fetch(None, f"{today:%Y-%m}")
        download = time.perf_counter() - t0

        t0 = time.perf_counter()
        full = police_loader.fetch_and_load(
            warehouse, config, ctx, run_id="bench-full", today=today
        )
        full_s = time.perf_counter() - t0

        t0 = time.perf_counter()
        weekly = police_loader.fetch_and_load(
            warehouse, config, ctx, run_id="bench-weekly", today=today + timedelta(days=7)
        )
        weekly_s = time.perf_counter() - t0

    rows = sum(len(p.rows) for p in pages)
    print(
        f"police-population API bench ({settings.warehouse_kind}, {rows:,} rows, "
        f"{len(pages)} pages of 1,000, months {frame.mois.min()}..{frame.mois.max()})"
    )
    print(f"{'step':<34}{'seconds':>9}{'rows':>10}  note")
    print(f"{'download only (baseline)':<34}{download:>9.2f}{rows:>10,}")
    print(
        f"{'full fetch + load':<34}{full_s:>9.2f}{full['rows_inserted']:>10,}  "
        f"{full_s / download:.1f}x baseline; target < 15 s: "
        f"{'ok' if full_s < 15 else 'MISSED'}"
    )
    print(
        f"{'weekly incremental fetch + load':<34}{weekly_s:>9.2f}{weekly['rows_received']:>10,}"
        f"  {weekly_s / full_s:.1%} of full (depuis {weekly['depuis']}); target < 10 %: "
        f"{'ok' if weekly_s < 0.1 * full_s else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
