"""What each DAG task does, as plain functions returning what the task hands to XCom.

The DAG files are thin: each task is one call into this module, so everything a task does is
tested without a scheduler, and the CLI (`vigie run`) and the bench call the same functions.
Imports of the heavy layers (pandas, Great Expectations, dbt, matplotlib) happen inside the
functions: the DAG files import this module when they are parsed, and parsing stays cheap.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from vigie.settings import Settings, get_settings

log = logging.getLogger(__name__)


def refresh_reference(settings: Settings | None = None) -> dict[str, int]:
    """Load the reference lists in force (shipped or ``VIGIE_REFERENCE_DIR``) into the warehouse."""
    from vigie.ingest.batches import ensure_schema
    from vigie.ingest.batches import refresh_reference as load
    from vigie.reference.geography import load_reference
    from vigie.warehouse.connection import Warehouse

    settings = settings or get_settings()
    warehouse = Warehouse(settings)
    ensure_schema(warehouse)
    counts = load(warehouse, load_reference(settings.reference_dir))
    log.info("reference refreshed: %s", counts)
    return counts


def ingest_prefectures(run_id: str | None = None, settings: Settings | None = None) -> list[dict]:
    """Collect, validate and load every prefecture export waiting in the landing zone.

    Each batch is also validated as a whole by the committed Great Expectations suites
    (``include/expectations/``) unless ``VIGIE_GX_VALIDATE=false``; results and Data Docs
    go to ``settings.gx_dir``.
    """
    from vigie.contracts import prefectures
    from vigie.contracts.validation import Context
    from vigie.ingest.batches import ingest_landed
    from vigie.reference.geography import load_reference
    from vigie.warehouse.connection import Warehouse

    settings = settings or get_settings()
    ctx = Context(load_reference(settings.reference_dir), settings.qpv_2024_from_year)
    validator = None
    if settings.gx_validate:
        from vigie.ingest.expectations import BatchValidator

        gx_dir = settings.gx_dir or settings.home / "data" / "gx"
        validator = BatchValidator(gx_dir, settings.include_dir, run_id)
    reports = ingest_landed(
        Warehouse(settings), settings.landing_url, prefectures.KINDS, ctx, run_id, validator
    )
    log_load_summary("prefectures", reports)
    if validator is not None and validator.runs:
        log.info("Great Expectations Data Docs: %s", validator.docs_index)
    return [r.as_dict() for r in reports]


def log_load_summary(source: str, reports: list) -> dict[str, dict[str, int]]:
    """One line of counts per status and one per reject reason, after the per-file lines."""
    statuses = Counter(r.status for r in reports)
    reasons: Counter[str] = Counter()
    for report in reports:
        reasons.update(report.rejects_by_reason)
    by_status = ", ".join(f"{n} {s}" for s, n in sorted(statuses.items()))
    log.info("%s: %d file(s): %s", source, len(reports), by_status or "nothing waiting")
    if reasons:
        by_reason = ", ".join(f"{r} {n}" for r, n in reasons.most_common())
        log.info("%s: rejected rows by reason (quarantined files included): %s", source, by_reason)
    return {"status": dict(statuses), "reasons": dict(reasons)}


def build_warehouse(
    settings: Settings | None = None, select: str | None = None, *, changed_only: bool = False
) -> dict:
    """A plain ``dbt build`` (the CLI's and tests' path; Airflow runs the models via Cosmos).

    ``changed_only``: only the models downstream of the sources that changed since the last
    recorded build, and their tests (:mod:`vigie.warehouse.build_selection`); a full build when
    nothing
    is recorded or the project changed. A whole build (no ``select``) is recorded too, so the
    next ``changed_only`` build has something to compare with. Returns what ran.
    """
    from vigie.warehouse import build_selection
    from vigie.warehouse.dbt_runner import run_dbt

    settings = settings or get_settings()
    if select:
        run_dbt(["build", "--select", select], settings)
        return {"mode": "select", "reason": select, "changed": []}
    plan = build_selection.plan_build(settings, full=not changed_only)
    log.info("warehouse build: %s (%s)", plan.mode, plan.reason)
    started = time.perf_counter()
    if plan.mode != "nothing":
        run_dbt(plan.dbt_args(), settings)
        build_selection.record_build(settings, plan, time.perf_counter() - started)
    return plan.as_dict()


def check_source_freshness(settings: Settings | None = None) -> dict:
    """``dbt source freshness`` against the sources' declared rules, kept in
    ``audit.source_freshness`` and shown in ``marts.data_freshness``: a stale source is logged,
    never a failure (:func:`vigie.warehouse.dbt_runner.check_source_freshness`)."""
    from vigie.warehouse.dbt_runner import check_source_freshness as check

    return check(settings or get_settings())


def week_start_of(day: date) -> date:
    """The Monday of ``day``'s ISO week: alerts are keyed by week."""
    return day - timedelta(days=day.weekday())


def priority_share_rows(years: list[int], settings: Settings | None = None) -> list[dict]:
    """Rows of ``marts.fipd_priority_share`` for ``years`` (national rows included)."""
    from vigie.warehouse.connection import Warehouse

    settings = settings or get_settings()
    placeholders = ", ".join("?" for _ in years)
    with Warehouse(settings).transaction() as tx:
        frame = tx.fetch_frame(
            "SELECT * FROM marts.fipd_priority_share "
            f"WHERE annee IN ({placeholders}) ORDER BY annee, code_departement",
            years,
        )
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for record in records:
        for key, value in record.items():
            if hasattr(value, "as_tuple"):  # Decimal from PostgreSQL / DuckDB numerics
                record[key] = float(value)
    return records


def evaluate_checks(day: date, settings: Settings | None = None) -> dict:
    """The week's checks into ``marts.weekly_alerts``; returns counts per check and status."""
    from vigie.alerts.checks import evaluate

    frame = evaluate(week_start_of(day), settings or get_settings())
    counts = frame.groupby(["check_name", "status"]).size()
    return {f"{check}.{status}": int(n) for (check, status), n in counts.items()}


def weekly_emails(day: date, settings: Settings | None = None) -> list:
    """Render the week's pilot e-mails (current year to date and last closed year).

    From the FIPD share mart and the week's ``marts.weekly_alerts`` rows (every check), with
    the week before's rows to tell what is new and what is resolved. No alerts table yet (the
    checks never ran) means e-mails about the FIPD share only, not a failure.
    """
    from vigie.alerts.render import build_weekly_emails
    from vigie.reference.pilots import read_pilots
    from vigie.warehouse.connection import Warehouse

    settings = settings or get_settings()
    week = week_start_of(day)
    rows = priority_share_rows([day.year, day.year - 1], settings)
    alerts: dict[date, list[dict]] = {week: [], week - timedelta(days=7): []}
    with Warehouse(settings).transaction() as tx:
        exists = tx.fetchall(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'marts' AND table_name = 'weekly_alerts'"
        )[0][0]
        if exists:
            frame = tx.fetch_frame(
                "SELECT week_start, check_name, territory_kind, territory_code, period, "
                "code_departement, status, message, figures, lineage FROM marts.weekly_alerts "
                "WHERE week_start IN (?, ?) ORDER BY check_name, territory_code, period",
                list(alerts),
            )
            for record in frame.astype(object).where(frame.notna(), None).to_dict("records"):
                start = record["week_start"]  # a Timestamp from DuckDB, a date from PostgreSQL
                alerts[start.date() if hasattr(start, "date") else start].append(record)
    return build_weekly_emails(
        week,
        rows,
        read_pilots(settings.pilots_file),
        settings.mail_from,
        alert_rows=alerts[week],
        previous_alert_rows=alerts[week - timedelta(days=7)],
        sender_name=settings.mail_from_name,
        reply_to=settings.mail_reply_to,
        response_days=settings.alerts_response_days,
    )


def send_weekly_emails(
    day: date, settings: Settings | None = None, *, force: bool = False, run_id: str | None = None
) -> dict:
    """Render and deliver the week's e-mails (SMTP if configured, else the outbox), once each."""
    from vigie.alerts.sending import deliver

    settings = settings or get_settings()
    messages = weekly_emails(day, settings)
    report = deliver(messages, week_start_of(day), settings, force=force, run_id=run_id)
    return report.as_dict()


# --- The DAGs' tasks: the Airflow context in, what goes to XCom out ---------------------------


def notify_quarantined(
    source: str, reports: list[dict], run_id: str | None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """The files this run quarantined, in one notice to the data engineers (not one per file);
    returns them (name, reason, where they went) for the task's XCom.

    The notice never fails the load: the files are loaded and moved by then, and the task
    that reports the quarantine (:func:`report_quarantine`) makes the run show it.
    """
    from vigie.alerts.engineers import run_quarantine_notice

    quarantined = [r for r in reports if r["status"] == "quarantined"]
    if quarantined:
        try:
            where = run_quarantine_notice(source, quarantined, run_id, settings)
            log.warning(
                "%s: %d file(s) quarantined by this run; notice to the data engineers: %s",
                source,
                len(quarantined),
                where,
            )
        except Exception:
            log.exception("%s: the quarantine notice could not be sent nor kept", source)
    return [
        {"file": r["file"], "reason": r["reason"], "moved_to": r["moved_to"], "sender": r["sender"]}
        for r in quarantined
    ]


def report_quarantine(source: str, loaded: Mapping[str, Any] | None) -> str:
    """Fail (for good, no retry) when the load quarantined files, so that the run shows red.

    The good files are loaded by the load task, which succeeded, and announced by
    :func:`announce_changes`; this task is downstream of the load, and only says that someone
    has to act.
    """
    from airflow.sdk.exceptions import AirflowFailException

    files = list((loaded or {}).get("quarantined") or [])
    if not files:
        return f"{source}: no file quarantined"
    # One line per file, full reason, above the traceback Airflow adds: what the log shows first.
    for quarantined in files:
        log.error("quarantined: %s: %s", quarantined["file"], quarantined["reason"])
    log.error(
        "what to do: read quarantine/%s/<file>.reason.json (or `vigie check FILE`), fix the file "
        "and drop it in the landing zone again; the other files of this run are loaded",
        source,
    )
    named = ", ".join(f"{f['file']} ({str(f['reason']).partition(':')[0]})" for f in files[:10])
    # The last line of the log (where the UI opens it): short, the files first.
    raise AirflowFailException(
        f"quarantined: {named}{', ...' if len(files) > 10 else ''} ({len(files)} {source} "
        "file(s); the others loaded). Reasons and what to do: the ERROR lines above, "
        f"quarantine/{source}/*.reason.json, the data engineers' notice."
    )


def load_prefecture_files(
    run_id: str | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Every waiting prefecture file loaded or quarantined: counts per status and reject
    reason, and the quarantined files (told to the data engineers at once)."""
    reports = ingest_prefectures(run_id=run_id, settings=settings)
    counts: Counter[str] = Counter(report["status"] for report in reports)
    for report in reports:
        counts.update({f"rejected:{k}": n for k, n in report["rejects_by_reason"].items()})
    return {
        **counts,
        "quarantined": notify_quarantined("prefectures", reports, run_id, settings),
    }


def load_association_reports(
    run_id: str | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """Every waiting association report read, validated, loaded or quarantined, archived."""
    from vigie.ingest import association_loader

    report = association_loader.run(run_id=run_id, settings=settings)
    files = report.pop("files")  # per-file details are in audit.file_loads and the task log
    report["quarantined"] = notify_quarantined("associations", files, run_id, settings)
    return report


def run_data_day(context: Mapping[str, Any]) -> date:
    """The day a run stands for, in Paris: the end of its data interval (a daily run covers
    the day before it), else its logical date, else when it was due (a manual run).

    Never the clock: a re-run or a backfill of the same run computes the same thing.
    """
    import pendulum

    moment = (
        context.get("data_interval_end")
        or context.get("logical_date")
        or context["dag_run"].run_after
    )
    return pendulum.instance(moment).in_timezone("Europe/Paris").date()


def fetch_police_api(
    run_id: str | None = None, day: date | None = None, settings: Settings | None = None
) -> dict[str, Any]:
    """The incremental API fetch and load; the task is skipped without the connection.

    ``day`` is the run's day (:func:`run_data_day`): the window asked is the same on a re-run.
    A refused token fails the task for good (retrying will not fix credentials). Every fetch,
    a failed one too, is in ``audit.api_fetches``.
    """
    from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

    from vigie.ingest import police_loader
    from vigie.ingest.police_api import PoliceApiAuthError

    try:
        report = police_loader.run_api(run_id=run_id, settings=settings, today=day)
    except PoliceApiAuthError as exc:
        raise AirflowFailException(str(exc)) from exc
    if report is None:
        raise AirflowSkipException("no vigie_police_api connection: CSV fallback only")
    return report


def load_police_csv(run_id: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """Each CSV waiting under police_population/: validated, loaded or quarantined, archived."""
    from vigie.ingest import police_loader

    report = police_loader.run_csv(run_id=run_id, settings=settings)
    files = report.pop("files")  # per-file details are in audit.file_loads and the task log
    report["quarantined"] = notify_quarantined("police_population", files, run_id, settings)
    return report


def announce_changes(
    source: str,
    context: Mapping[str, Any],
    *,
    api: bool = False,
    reference: bool = False,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Let the task's asset event (its outlet) go out only when this run changed rows.

    What changed is read back from the loaders' audit records by the run's id
    (:func:`vigie.ingest.changes.run_changes`): files whose rows went in, API fetches that
    inserted rows when ``api``, reference lists the run rewrote when ``reference``. Rows
    committed by a try that failed later, or by an earlier try of a retried task, count.
    Nothing changed: the task is skipped, and a skipped task emits no asset event (the warehouse
    build is not triggered). Otherwise the event carries the counts as its ``extra``.
    """
    from airflow.sdk.exceptions import AirflowSkipException

    from vigie.ingest.changes import run_changes
    from vigie.warehouse.connection import Warehouse

    started = getattr(context.get("dag_run"), "start_date", None) if reference else None
    changes = run_changes(
        Warehouse(settings or get_settings()),
        source,
        context["run_id"],
        api=api,
        reference_since=started,
    )
    if not changes.changed:
        raise AirflowSkipException(f"{source}: this run changed no row, nothing to announce")
    summary = changes.as_dict()
    task = context.get("task")
    for outlet in getattr(task, "outlets", None) or []:
        context["outlet_events"][outlet].extra = summary
    log.info("%s: this run changed %s; the asset event goes out", source, changes.line())
    return summary


def run_day(context: Mapping[str, Any]) -> date:
    """The run's day in Paris: a Monday 07:00 run reports on the week that starts that day.

    The run's own time (its logical date, or when it was due), never the clock.
    """
    import pendulum

    moment = context.get("logical_date") or context["dag_run"].run_after
    return pendulum.instance(moment).in_timezone("Europe/Paris").date()


def evaluate_week_checks(context: Mapping[str, Any]) -> dict:
    """Every weekly check for the run's week, into ``marts.weekly_alerts``."""
    return evaluate_checks(run_day(context))


def send_week_emails(context: Mapping[str, Any]) -> dict:
    """The run's week of pilot e-mails, sent once each (``force_resend`` sends them again)."""
    params = context.get("params") or {}
    return send_weekly_emails(
        run_day(context), force=bool(params.get("force_resend")), run_id=context["run_id"]
    )


def notify_week_quarantine(context: Mapping[str, Any]) -> str | None:
    """The files quarantined in the seven days before the run, to the data engineers."""
    import pendulum

    from vigie.alerts.engineers import quarantine_notice

    run_after: datetime = context["dag_run"].run_after
    return quarantine_notice(pendulum.instance(run_after) - timedelta(days=7))
