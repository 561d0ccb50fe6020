"""``vigie run | sample | check | airflow``: the operator's entry points."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from vigie.contracts import prefectures
from vigie.contracts.validation import Context, read_and_validate
from vigie.demo.police_api_server import DEMO_TOKEN, PoliceApiServer
from vigie.demo.sample_associations import write_association_sample
from vigie.demo.sample_police import generate_indicators
from vigie.demo.sample_prefectures import write_sample
from vigie.ingest import association_loader, police_loader
from vigie.parsing.table import FileRejected
from vigie.reference.geography import load_reference
from vigie.settings import WAREHOUSE_POOL, Settings, apply_airflow_env, get_settings
from vigie.tasks import priority_share_rows
from vigie.warehouse.connection import Warehouse
from vigie.warehouse.dbt_runner import run_dbt

PIPELINE = (
    "ingest_prefecture_exports",
    "ingest_police_population",
    "ingest_association_reports",
    "build_warehouse",
    "weekly_pilot_alerts",
)
POLICE_CONN_ENV = "AIRFLOW_CONN_VIGIE_POLICE_API"
FILE_STATUSES = """
    SELECT status, count(*)
    FROM audit.file_loads
    WHERE source = ?
    GROUP BY status
"""
PREFECTURE_REJECTS = """
    SELECT count(*)
    FROM audit.load_rejects r
    JOIN (
        SELECT DISTINCT source_file_sha256
        FROM audit.file_loads
        WHERE source = 'prefectures'
    ) f USING (source_file_sha256)
"""


def _say(message: str) -> None:
    print(f"[vigie] {message}", flush=True)


def cmd_sample(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    summary = write_sample(Path(args.out_dir), seed=args.seed)
    associations = write_association_sample(Path(args.out_dir), seed=args.seed)
    _say(
        f"{len(summary.files)} prefecture files and {len(associations.files)} association "
        f"reports written under {summary.out_dir} in {time.perf_counter() - started:.1f}s "
        f"(seed {args.seed})"
    )
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate one file without loading it: what a prefecture agent needs to fix."""
    settings = get_settings()
    path = Path(args.file)
    ctx = Context(load_reference(settings.reference_dir), settings.qpv_2024_from_year)
    try:
        verdict = read_and_validate(path.read_bytes(), prefectures.KINDS, ctx)
    except FileRejected as exc:
        print(f"{path}: REFUSED ({exc.reason}) {exc.detail}")
        return 2
    print(f"{path}: kind {verdict.kind.name}, {verdict.rows_read} row(s) read")
    if verdict.quarantine_reason:
        print(f"  REFUSED ({verdict.quarantine_reason}) {verdict.quarantine_detail}")
    for reject in verdict.rejects.itertuples():
        print(
            f"  row {reject.source_row}, column {reject.column_name}: {reject.reason} "
            f"(value {reject.value!r})"
        )
    loadable = verdict.rows_read - verdict.rows_rejected
    if not verdict.quarantine_reason:
        print(f"  {loadable} row(s) would load, {verdict.rows_rejected} would be rejected")
    return 2 if verdict.quarantine_reason else (1 if verdict.rows_rejected else 0)


def _ensure_airflow_ready() -> None:
    """Migrate the metadata DB and create the warehouse pool (both idempotent)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".vigie-initialised"
    if not marker.exists():
        _say(f"initialising Airflow in {home} (first run only)")
        for command in (
            ["db", "migrate"],
            [
                "pools",
                "set",
                WAREHOUSE_POOL,
                "1",
                "DuckDB single writer: every task writing the warehouse",
            ],
        ):
            subprocess.run(
                [sys.executable, "-m", "airflow", *command], check=True, stdout=subprocess.DEVNULL
            )
        marker.touch()


def _ensure_manifest() -> None:
    settings = get_settings()
    if not (settings.dbt_project_dir / "target" / "manifest.json").exists():
        _say("building the dbt manifest (dbt parse)")
        run_dbt(["parse"], settings)


@contextmanager
def _sample_police_api(seed: int) -> Iterator[None]:
    """Serve the police-population sample on 127.0.0.1 and point the connection at it.

    Why: the demo should go through the real client (HTTP, pages, token) rather than a
    shortcut. A connection already configured wins: then nothing is started.
    """
    if os.environ.get(POLICE_CONN_ENV):
        yield
        return
    frame = generate_indicators(seed, date.today())
    with PoliceApiServer(frame, token=DEMO_TOKEN) as server:
        _say(f"serving the police-population sample ({len(frame):,} rows) on {server.url}")
        os.environ[POLICE_CONN_ENV] = f"http://:{DEMO_TOKEN}@127.0.0.1:{server.port}"
        try:
            yield
        finally:
            os.environ.pop(POLICE_CONN_ENV, None)


def cmd_run(args: argparse.Namespace) -> int:
    """The whole flow once, in-process, each DAG through ``dag.test()`` in dependency order."""
    if args.serve_sample_api:
        with _sample_police_api(args.seed):
            return _run_pipeline()
    return _run_pipeline()


def _run_pipeline() -> int:
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("DBT_QUIET", "true")  # dbt's per-model lines; errors still print
    # dag.test() runs one task at a time, with no triggerer: WATCHER's sensors, started beside
    # the producer, would wait for it forever. LOCAL (one dbt build per model) works in-process,
    # and so does the producer-first WATCHER variant when asked for
    # (vigie.orchestration.cosmos_modes).
    mode = os.environ.get("VIGIE_COSMOS_EXECUTION_MODE", "").strip().lower()
    if mode in {"", "watcher"}:
        os.environ["VIGIE_COSMOS_EXECUTION_MODE"] = "local"
    elif mode == "watcher_stock":
        os.environ["VIGIE_COSMOS_EXECUTION_MODE"] = "watcher_batched"
    # Progress for a person at a terminal: library chatter stays in the task logs.
    logging.getLogger("cosmos").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Import 'DAG' directly", category=UserWarning)
    apply_airflow_env()
    settings = get_settings()
    os.environ.update(settings.dbt_env())
    _ensure_airflow_ready()
    _ensure_manifest()
    # Airflow is heavy, and reads its configuration when imported: only after apply_airflow_env.
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    bag = DagBag(dag_folder=str(settings.home / "dags"))
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            _say(f"DAG import error in {path}:\n{error}")
        return 1
    for dag_id in PIPELINE:
        step = time.perf_counter()
        _say(f"running {dag_id} ...")
        run = bag.get_dag(dag_id).test()
        state = str(getattr(run, "state", "unknown"))
        _say(f"  {dag_id}: {state} in {time.perf_counter() - step:.1f}s")
        if "success" not in state:
            _say(f"{dag_id} did not succeed; see the task logs under {os.environ['AIRFLOW_HOME']}")
            return 1
    _say(f"pipeline finished in {time.perf_counter() - started:.1f}s")
    print_summary()
    return 0


def print_summary() -> None:
    """What a pilot or a data engineer wants to know after a run, in a few lines."""
    settings = get_settings()
    year = date.today().year
    with Warehouse(settings).transaction() as tx:
        files = dict(tx.fetchall(FILE_STATUSES, ["prefectures"]))
        rejects = tx.fetchall(PREFECTURE_REJECTS)[0][0]
    rows = priority_share_rows([year - 1, year], settings)
    print()
    print("Vigie summary")
    print(
        "  prefecture files: "
        + ", ".join(f"{n} {s}" for s, n in sorted(files.items()))
        + f"; {rejects} rejected cell(s) in audit.load_rejects"
    )
    for wanted in (year, year - 1):
        year_rows = [r for r in rows if r["annee"] == wanted and r["code_departement"] != "FR"]
        if not year_rows:
            continue
        national = next(
            (r for r in rows if r["annee"] == wanted and r["code_departement"] == "FR"), None
        )
        below = sorted(
            (r for r in year_rows if r["status"] == "below_target"),
            key=lambda r: r["share_located"],
        )
        no_data = [r for r in year_rows if r["status"] == "no_data"]
        headline = (
            f"national share {national['share_located']:.1%}"
            if national and national["share_located"] is not None
            else "no national figure"
        )
        print(
            f"  FIPD {wanted}: {headline}; {len(below)} département(s) below the "
            f"{settings.fipd_target:.0%} target, {len(no_data)} without data"
        )
        for r in below:
            print(
                f"    {r['code_departement']:>3} {r['nom_departement']:<28} "
                f"{r['share_located']:.1%}  gap {_euros(r['gap_eur'])} EUR"
            )
    _print_police_summary(settings)
    _print_association_summary(settings)
    where = settings.duckdb_path if settings.warehouse_kind == "duckdb" else "PostgreSQL"
    print(f"  warehouse: {where}")
    print(f"  e-mails:   {settings.outbox_dir}")


def _print_association_summary(settings: Settings) -> None:
    warehouse = Warehouse(settings)
    association_loader.ensure_schema(warehouse)
    with warehouse.transaction() as tx:
        statuses = dict(tx.fetchall(FILE_STATUSES, ["associations"]))
    if statuses:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(statuses.items()))
        print(f"  association reports: {counts}")


def _euros(amount: float) -> str:
    """Whole euros rounded half up, as the pilots' e-mails show them (not banker's rounding)."""
    return f"{Decimal(str(amount)).quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"


def _print_police_summary(settings: Settings) -> None:
    warehouse = Warehouse(settings)
    police_loader.ensure_schema(warehouse)  # a run without the police DAG still summarises
    with warehouse.transaction() as tx:
        rows = tx.fetchall(
            f"""
            SELECT source, count(*), min(mois), max(mois)
            FROM {police_loader.RAW_TABLE}
            GROUP BY source
            ORDER BY source
            """
        )
    if not rows:
        print("  police-population: nothing loaded (no API connection, no CSV fallback file)")
    for source, count, first, last in rows:
        via = "the API" if source == "api" else "CSV files"
        print(f"  police-population: {count:,} values via {via}, {first} to {last}")


def cmd_airflow(args: argparse.Namespace) -> int:
    """``airflow ...`` with Vigie's environment (project-local AIRFLOW_HOME, DAG folder)."""
    apply_airflow_env()
    os.environ.update(get_settings().dbt_env())
    venv_bin = str(Path(sys.executable).parent)
    os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    if args.airflow_args[:1] != ["db"]:
        _ensure_airflow_ready()
    _ensure_manifest()
    os.execv(sys.executable, [sys.executable, "-m", "airflow", *args.airflow_args])
    return 0  # pragma: no cover


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vigie", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the whole flow once, in-process")
    run.add_argument(
        "--serve-sample-api",
        action="store_true",
        help="serve the police-population sample on 127.0.0.1 (demo) unless "
        f"{POLICE_CONN_ENV} is set",
    )
    run.add_argument("--seed", type=int, default=42, help="seed of the served sample")
    run.set_defaults(func=cmd_run)
    sample = commands.add_parser("sample", help="write the sample landing zone")
    sample.add_argument("out_dir")
    sample.add_argument("--seed", type=int, default=20170410)
    sample.set_defaults(func=cmd_sample)
    check = commands.add_parser("check", help="validate one file without loading it")
    check.add_argument("file")
    check.set_defaults(func=cmd_check)
    airflow = commands.add_parser("airflow", help="airflow CLI with Vigie's environment")
    airflow.add_argument("airflow_args", nargs=argparse.REMAINDER)
    airflow.set_defaults(func=cmd_airflow)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
