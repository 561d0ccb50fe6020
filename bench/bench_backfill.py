"""Benchmark: backfill a year of weekly alert runs, distributed (Celery, 2 workers) vs local.

Issue 8: on one 2-core machine the distributed topology cannot be faster than one
LocalExecutor process; it must not be slower than 1.5x, and the per-task overhead of each is
reported so the cost of scaling out is known. Both run in the same session, on the same
PostgreSQL warehouse (national sample: prefecture exports and association reports, built with
dbt), each with Airflow's metadata in a scratch database, the same parallelism (4 task slots)
and the same backfill: the 52 Mondays of one year, ``force_resend`` so both render and write
every e-mail (to an outbox: no relay is measured here).

    uv run python bench/bench_backfill.py [--postgres postgresql://postgres@127.0.0.1:5432/postgres]
        [--weeks 52] [--year 2025]

Prints a table and returns the rows (``measure``) for ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vigie import tasks  # noqa: E402
from vigie.demo.local_cluster import LocalCluster  # noqa: E402
from vigie.demo.sample_associations import write_association_sample  # noqa: E402
from vigie.demo.sample_prefectures import write_sample  # noqa: E402
from vigie.ingest import association_loader  # noqa: E402
from vigie.settings import load_settings  # noqa: E402

from bench.scratch import scratch_postgres  # noqa: E402

DAG_ID = "weekly_pilot_alerts"
BROKER = "redis://127.0.0.1:6379/5"
PARIS = ZoneInfo("Europe/Paris")
SLOTS = 4  # 2 workers x 2 processes; the same for the LocalExecutor


def prepare_warehouse(warehouse_url: str, work: Path) -> dict[str, str]:
    """Load the national sample into the warehouse and build it; the settings' environment."""
    env = {
        "VIGIE_LANDING_URL": str(work / "landing"),
        "VIGIE_WAREHOUSE_URL": warehouse_url,
        "VIGIE_GX_VALIDATE": "false",
    }
    settings = load_settings(env)
    write_sample(work / "landing")
    write_association_sample(work / "landing")
    tasks.refresh_reference(settings)
    tasks.ingest_prefectures("bench", settings)
    association_loader.run("bench", settings)
    tasks.build_warehouse(settings)
    return env


def mondays(year: int, weeks: int) -> tuple[datetime, datetime]:
    first = date(year, 1, 1) + timedelta(days=(7 - date(year, 1, 1).weekday()) % 7)
    start = datetime(first.year, first.month, first.day, 7, tzinfo=PARIS)
    return start, start + timedelta(weeks=weeks - 1)


def backfill(cluster: LocalCluster, start: datetime, end: datetime, weeks: int) -> dict:
    """Create the backfill through the REST API, wait for every run; timings from Airflow."""
    api = cluster.api
    # A paused DAG's backfill runs stay queued. Unpausing also schedules the latest Monday (one
    # run, not counted below), the same for both executors.
    api.unpause(DAG_ID)
    began = time.monotonic()
    api.call(
        "POST",
        "/api/v2/backfills",
        {
            "dag_id": DAG_ID,
            "from_date": start.isoformat(),
            "to_date": end.isoformat(),
            "max_active_runs": SLOTS,
            "dag_run_conf": {"force_resend": True},
            "reprocess_behavior": "completed",
        },
    )
    deadline = time.monotonic() + 3600
    while time.monotonic() < deadline:
        runs = [r for r in api.runs(DAG_ID) if r["run_type"] == "backfill"]
        if len(runs) >= weeks and all(r["state"] in {"success", "failed"} for r in runs):
            break
        time.sleep(2)
    else:
        raise TimeoutError("the backfill did not finish within an hour")
    wall = time.monotonic() - began
    tis = [ti for r in runs for ti in api.task_instances(DAG_ID, r["dag_run_id"])]
    durations = [ti["duration"] or 0.0 for ti in tis]
    waits = [
        (
            datetime.fromisoformat(ti["start_date"]) - datetime.fromisoformat(ti["queued_when"])
        ).total_seconds()
        for ti in tis
        if ti["start_date"] and ti["queued_when"]
    ]
    failed = sum(r["state"] != "success" for r in runs)
    return {
        "wall_s": wall,
        "runs": len(runs),
        "failed_runs": failed,
        "tasks": len(tis),
        "task_s_mean": statistics.fmean(durations),
        "queued_to_start_s_mean": statistics.fmean(waits) if waits else None,
        # What the executor adds to each task: wall time x slots, less the tasks' own time.
        "overhead_per_task_s": (wall * SLOTS - sum(durations)) / len(tis),
    }


def run_on(
    executor: str,
    server_url: str,
    env: dict[str, str],
    work: Path,
    start: datetime,
    end: datetime,
    weeks: int,
) -> dict:
    distributed = executor == "CeleryExecutor"
    with scratch_postgres(server_url) as metadata:
        cluster = LocalCluster(
            home=work / executor,
            executor=executor,
            workers=2 if distributed else 0,
            broker_url=BROKER,
            metadata_url=metadata.replace("postgresql://", "postgresql+psycopg2://"),
            env={
                **env,
                "VIGIE_OUTBOX_DIR": str(work / f"outbox-{executor}"),
                "AIRFLOW__CORE__PARALLELISM": str(SLOTS),
            },
        )
        if distributed:
            import redis

            redis.Redis.from_url(BROKER).flushdb()
        with cluster:
            return backfill(cluster, start, end, weeks)


def measure(server_url: str, weeks: int = 52, year: int | None = None) -> list[dict]:
    year = year or date.today().year - 1
    start, end = mondays(year, weeks)
    work = Path(tempfile.mkdtemp(prefix="vigie-bench-backfill-"))
    with scratch_postgres(server_url) as warehouse_url:
        env = prepare_warehouse(warehouse_url, work)
        results = {
            ex: run_on(ex, server_url, env, work, start, end, weeks)
            for ex in ("LocalExecutor", "CeleryExecutor")
        }
    local, celery = results["LocalExecutor"], results["CeleryExecutor"]
    rows = []
    for variant, result in (("local_executor", local), ("celery_2_workers", celery)):
        rows.append(
            {
                "stage": "weekly_backfill",
                "variant": variant,
                "engine": "postgres",
                "scale": f"{weeks} weeks",
                "time_s": result["wall_s"],
                "baseline_s": local["wall_s"],
                "ratio": result["wall_s"] / local["wall_s"],
                **{k: v for k, v in result.items() if k != "wall_s"},
            }
        )
    return rows


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the clusters on SIGTERM too
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--year", type=int, default=None)
    args = parser.parse_args()
    rows = measure(args.postgres, args.weeks, args.year)
    print(
        f"{'variant':<18} {'wall s':>8} {'ratio':>6} {'runs':>5} {'tasks':>6} "
        f"{'task s':>7} {'queue s':>8} {'overhead/task s':>16}"
    )
    for r in rows:
        queue = r["queued_to_start_s_mean"]
        print(
            f"{r['variant']:<18} {r['time_s']:>8.1f} {r['ratio']:>6.2f} {r['runs']:>5} "
            f"{r['tasks']:>6} {r['task_s_mean']:>7.2f} "
            f"{queue if queue is None else round(queue, 2)!s:>8} "
            f"{r['overhead_per_task_s']:>16.2f}"
        )
    celery = rows[1]
    verdict = "OK" if celery["ratio"] <= 1.5 else "MISSED"
    print(f"distributed / local = {celery['ratio']:.2f} (target <= 1.5): {verdict}")
    return 0 if all(r["failed_runs"] == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
