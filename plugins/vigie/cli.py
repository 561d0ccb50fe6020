"""``vigie run | sample | check | migrate | airflow``: the operator's entry points."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from vigie.contracts import prefectures
from vigie.contracts.validation import Context, read_and_validate
from vigie.demo.dag_runs import producer_first, task_log_files
from vigie.demo.police_api_server import DEMO_TOKEN, PoliceApiServer
from vigie.demo.story import police_frame, write_demo_sample
from vigie.ingest import association_loader, police_loader
from vigie.parsing.table import FileRejected
from vigie.reference.geography import load_reference
from vigie.settings import (
    DEMO_MARKER,
    WAREHOUSE_POOL,
    Settings,
    apply_airflow_env,
    demo_env,
    get_settings,
    use_demo_when_alone,
)
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
CHECK_NAMES = (  # docs/alerts.md, in its order
    "fipd_share_below_target",
    "fipd_export_missing",
    "part_annex_missing",
    "police_indicator_drop",
    "association_report_missing",
)
CHECK_STATUSES = ("alert", "ok", "no_data")
QUARANTINE_TASKS = {"report_quarantine"}  # fail to say that files wait in quarantine/
FAILED_STATES = {"failed", "upstream_failed", "TaskInstanceState.FAILED"}
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


def _today(args: argparse.Namespace) -> date:
    """The demo's one clock: ``--today``, else the machine's date (only here, at the edge)."""
    return args.today or date.today()


def cmd_sample(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    today = _today(args)
    sample = write_demo_sample(Path(args.out_dir), today, seed=args.seed)
    _say(
        f"{len(sample.fipd.files)} FIPD programmes ({sample.fipd.years[0]}-{today.year}), "
        f"{len(sample.contrats.files)} contrats de ville follow-ups and "
        f"{len(sample.associations.files)} association reports written under "
        f"{sample.out_dir} as of {today} in {time.perf_counter() - started:.1f}s "
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
    # Columns the header matcher could not place: their data would not load (exit code as is).
    for ignored in verdict.ignored_columns:
        print(f"  column not loaded: {ignored.describe()}")
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
def _sample_police_api(seed: int, today: date) -> Iterator[None]:
    """Serve the police-population sample on 127.0.0.1 and point the connection at it.

    Why: the demo should go through the real client (HTTP, pages, token) rather than a
    shortcut. A connection already configured wins: then nothing is started.
    """
    if os.environ.get(POLICE_CONN_ENV):
        yield
        return
    frame = police_frame(today, seed)
    with PoliceApiServer(frame, token=DEMO_TOKEN) as server:
        _say(f"serving the police-population sample ({len(frame):,} rows) on {server.url}")
        os.environ[POLICE_CONN_ENV] = f"http://:{DEMO_TOKEN}@127.0.0.1:{server.port}"
        try:
            yield
        finally:
            os.environ.pop(POLICE_CONN_ENV, None)


def cmd_run(args: argparse.Namespace) -> int:
    """The whole flow once, in-process, each DAG through ``dag.test()`` in dependency order."""
    today = _today(args)
    if args.serve_sample_api:
        with _sample_police_api(args.seed, today):
            return _run_pipeline(today)
    return _run_pipeline(today)


def _run_pipeline(today: date) -> int:
    os.environ.setdefault("DBT_QUIET", "true")  # dbt's per-model lines; errors still print
    # dag.test() runs one task at a time, with no triggerer: the DAGs run as the UI draws them
    # (WATCHER by default), the warehouse's producer first (vigie.demo.dag_runs).
    # Cosmos's stock WATCHER starts its sensors on workers: its producer-first variant here.
    mode = os.environ.get("VIGIE_COSMOS_EXECUTION_MODE", "").strip().lower()
    if mode == "watcher_stock":
        os.environ["VIGIE_COSMOS_EXECUTION_MODE"] = "watcher_batched"
    # Progress for a person at a terminal: library chatter stays in the task logs
    # (vigie.demo.dag_runs.task_log_files).
    warnings.filterwarnings("ignore", message="Import 'DAG' directly", category=UserWarning)
    apply_airflow_env()
    settings = get_settings()
    os.environ.update(settings.dbt_env())
    _ensure_airflow_ready()
    _ensure_manifest()
    # Airflow is heavy, and reads its configuration when imported: only after apply_airflow_env.
    from airflow.dag_processing.dagbag import DagBag

    started = time.perf_counter()
    with task_log_files():  # the console keeps warnings and errors; INFO goes to task logs
        bag = DagBag(dag_folder=str(settings.home / "dags"))
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            _say(f"DAG import error in {path}:\n{error}")
        return 1
    # The run's logical date: now on the machine's date, noon of ``today`` otherwise (the
    # weekly checks report on its week).
    moment = datetime.now().astimezone()
    if moment.date() != today:
        moment = datetime(today.year, today.month, today.day, 12).astimezone()
    for dag_id in PIPELINE:
        step = time.perf_counter()
        _say(f"running {dag_id} ...")
        with task_log_files(quiet_tasks=frozenset(QUARANTINE_TASKS)), producer_first():
            run = bag.get_dag(dag_id).test(logical_date=moment)
        state = str(getattr(run, "state", "unknown"))
        failed = (
            _failed_tasks(dag_id, getattr(run, "run_id", None)) if "success" not in state else []
        )
        quarantine_only = bool(failed) and set(failed) <= QUARANTINE_TASKS
        if quarantine_only:
            # The run is red so that someone looks at the quarantine; the files that could be
            # read are loaded and the flow goes on (the sample holds invalid files on purpose).
            state = "loaded; red for the file(s) it put in quarantine/ (report_quarantine)"
        _say(f"  {dag_id}: {state} in {time.perf_counter() - step:.1f}s")
        if "success" not in state and not quarantine_only:
            _say(f"{dag_id} did not succeed; see the task logs under {os.environ['AIRFLOW_HOME']}")
            return 1
    _say(f"pipeline finished in {time.perf_counter() - started:.1f}s")
    print_summary(today)
    return 0


def _failed_tasks(dag_id: str, run_id: str | None) -> list[str]:
    """The task ids of ``run_id`` that failed (or were upstream_failed)."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(TaskInstance.task_id, TaskInstance.state)
            .filter_by(dag_id=dag_id, run_id=run_id)
            .all()
        )
    return [task for task, ti_state in rows if str(ti_state) in FAILED_STATES]


def print_summary(today: date | None = None) -> None:
    """What a pilot or a data engineer wants to know after a run, in a few lines."""
    settings = get_settings()
    today = today or date.today()
    year = today.year
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
    _print_checks_summary(settings, today)
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


def _print_checks_summary(settings: Settings, today: date) -> None:
    """Each weekly check's rows of ``today``'s week, by status."""
    from vigie.tasks import week_start_of

    week = week_start_of(today)
    with Warehouse(settings).transaction() as tx:
        exists = tx.fetchall(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'marts' AND table_name = 'weekly_alerts'"
        )[0][0]
        rows = (
            tx.fetchall(
                "SELECT check_name, status, count(*) FROM marts.weekly_alerts "
                "WHERE week_start = ? GROUP BY check_name, status",
                [week],
            )
            if exists
            else []
        )
    counts: dict[str, dict[str, int]] = {}
    for check, status, n in rows:
        counts.setdefault(check, {})[status] = n
    others = sorted({s for by in counts.values() for s in by} - set(CHECK_STATUSES))
    print(f"  weekly checks, week of {week} (marts.weekly_alerts):")
    for check in CHECK_NAMES:
        by_status = counts.get(check, {})
        print(
            f"    {check:<28}"
            + "  ".join(
                f"{status} {by_status.get(status, 0):>4}" for status in (*CHECK_STATUSES, *others)
            )
        )


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


DEMO_PARTS = ("landing", "archive", "quarantine", "outbox", "gx", "warehouse.duckdb")


def _demo_folder_free(folder: Path, yes: bool) -> bool:
    """True when the demo may write ``folder``: new, empty, its own, or the person agreed."""
    if not folder.exists() or not any(folder.iterdir()) or (folder / DEMO_MARKER).exists():
        return True
    if yes:
        return True
    message = f"{folder} holds data the demo did not write"
    if not sys.stdin.isatty():
        _say(f"{message}: not touching it (vigie demo --yes replaces it, --dir picks another)")
        return False
    answer = input(f"[vigie] {message}. Replace its demo folders {', '.join(DEMO_PARTS)}? [y/N] ")
    return answer.strip().lower() in {"y", "yes", "o", "oui"}


def cmd_demo(args: argparse.Namespace) -> int:
    """The sample and the whole flow once, in a folder of the demo's own, with a summary.

    Its settings point every path at ``--dir`` (landing, archive, quarantine, outbox, Great
    Expectations, a DuckDB warehouse): nothing the settings of the environment point at is
    touched, a PostgreSQL warehouse only with ``--warehouse-url``. A folder the demo wrote
    (marked) is replaced; any other is replaced only once the person agrees.
    """
    folder = Path(args.dir).resolve()
    if not _demo_folder_free(folder, args.yes):
        return 2
    if (folder / DEMO_MARKER).exists():
        _say(f"replacing the previous demo in {folder}")
    for part in DEMO_PARTS:
        target = folder / part
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    for extra in folder.glob("warehouse.duckdb.*"):  # DuckDB's WAL and spill folder
        if extra.is_dir():
            shutil.rmtree(extra)
        else:
            extra.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    today = _today(args)
    (folder / DEMO_MARKER).write_text(f"written by `vigie demo` for {today}\n", encoding="utf-8")
    if os.environ.get("VIGIE_WAREHOUSE_URL") and not args.warehouse_url:
        _say("VIGIE_WAREHOUSE_URL is set: the demo uses its own warehouse (--warehouse-url)")
    # Great Expectations' batch validation triples the prefecture load of the demo's ten years
    # at once: on with --gx (every load in production validates).
    os.environ.update(demo_env(folder, warehouse_url=args.warehouse_url, gx=args.gx))
    get_settings.cache_clear()
    sample_args = argparse.Namespace(out_dir=str(folder / "landing"), seed=20170410, today=today)
    cmd_sample(sample_args)
    with _sample_police_api(42, today):
        return _run_pipeline(today)


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the warehouse's schemas to this code's version (docs/migrations.md).

    Run before starting the scheduler after an upgrade (loads migrate too, but an operator
    sees the outcome here first). Exit 1 when the warehouse is newer than this code or a
    migration fails (that one rolled back).
    """
    from vigie.warehouse.migrations import MigrationError, migrate_warehouse

    settings = get_settings()  # the warehouse the loaders write, resolved as they resolve it
    warehouse = Warehouse(settings)
    where = settings.duckdb_path if warehouse.kind == "duckdb" else "PostgreSQL"
    try:
        report = migrate_warehouse(warehouse)
    except MigrationError as error:
        _say(f"warehouse ({where}): {error}")
        return 1
    for line in report.lines():
        _say(f"warehouse ({where}): {line}")
    return 0


def cmd_airflow(args: argparse.Namespace) -> int:
    """``airflow ...`` with Vigie's environment (project-local AIRFLOW_HOME, DAG folder)."""
    demo = use_demo_when_alone()
    if demo is not None:
        _say(f"no warehouse of your own yet: Airflow shows the demo's, in {demo}")
    apply_airflow_env()
    os.environ.update(get_settings().dbt_env())
    venv_bin = str(Path(sys.executable).parent)
    os.environ["PATH"] = venv_bin + os.pathsep + os.environ.get("PATH", "")
    if args.airflow_args[:1] != ["db"]:
        _ensure_airflow_ready()
    _ensure_manifest()
    command = [sys.executable, "-m", "airflow", *args.airflow_args]
    if args.airflow_args[:1] == ["standalone"]:
        from vigie.orchestration.process_group import run_in_own_group

        # Ctrl-C must stop every component, not leave the terminal blocked (make up).
        return run_in_own_group(command, say=_say)
    os.execv(sys.executable, command)
    return 0  # pragma: no cover


TODAY_HELP = "the day the demo stands on (YYYY-MM-DD; default: the machine's date)"


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
    run.add_argument("--today", type=date.fromisoformat, help=TODAY_HELP)
    run.set_defaults(func=cmd_run)
    sample = commands.add_parser("sample", help="write the sample landing zone")
    sample.add_argument("out_dir")
    sample.add_argument("--seed", type=int, default=20170410)
    sample.add_argument("--today", type=date.fromisoformat, help=TODAY_HELP)
    sample.set_defaults(func=cmd_sample)
    demo = commands.add_parser(
        "demo", help="sample + the whole flow once, in a folder of its own, with a summary"
    )
    demo.add_argument("--dir", default="data/demo", help="the demo's folder (data/demo)")
    demo.add_argument("--today", type=date.fromisoformat, help=TODAY_HELP)
    demo.add_argument(
        "--warehouse-url",
        help="the demo's warehouse (default: duckdb:///<dir>/warehouse.duckdb; "
        "VIGIE_WAREHOUSE_URL is not used)",
    )
    demo.add_argument(
        "--yes", action="store_true", help="replace a folder the demo did not write, unasked"
    )
    demo.add_argument(
        "--gx", action="store_true", help="validate each batch with Great Expectations too"
    )
    demo.set_defaults(func=cmd_demo)
    check = commands.add_parser("check", help="validate one file without loading it")
    check.add_argument("file")
    check.set_defaults(func=cmd_check)
    migrate = commands.add_parser(
        "migrate", help="upgrade the warehouse's schemas (before starting the scheduler)"
    )
    migrate.set_defaults(func=cmd_migrate)
    airflow = commands.add_parser("airflow", help="airflow CLI with Vigie's environment")
    airflow.add_argument("airflow_args", nargs=argparse.REMAINDER)
    airflow.set_defaults(func=cmd_airflow)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
