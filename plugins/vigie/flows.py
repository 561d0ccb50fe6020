"""What each DAG task does, as plain functions: tested without Airflow, called by thin DAGs."""

from __future__ import annotations

import logging
from datetime import date, timedelta

from vigie.settings import Settings, get_settings

log = logging.getLogger(__name__)


def refresh_reference(settings: Settings | None = None) -> dict[str, int]:
    """Load the reference lists in force (shipped or ``VIGIE_REFERENCE_DIR``) into the warehouse."""
    from vigie.loading import ensure_schema
    from vigie.loading import refresh_reference as load
    from vigie.reference import load_reference
    from vigie.warehouse import Warehouse

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
    from vigie.loading import ingest_landed
    from vigie.reference import load_reference
    from vigie.sources import prefectures
    from vigie.validation import Context
    from vigie.warehouse import Warehouse

    settings = settings or get_settings()
    ctx = Context(load_reference(settings.reference_dir), settings.qpv_2024_from_year)
    validator = None
    if settings.gx_validate:
        from vigie.expectations import BatchValidator

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
    from collections import Counter

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
    recorded build, and their tests (:mod:`vigie.dbt_selection`); a full build when nothing
    is recorded or the project changed. A whole build (no ``select``) is recorded too, so the
    next ``changed_only`` build has something to compare with. Returns what ran.
    """
    import time

    from vigie import dbt_selection
    from vigie.dbt import run_dbt

    settings = settings or get_settings()
    if select:
        run_dbt(["build", "--select", select], settings)
        return {"mode": "select", "reason": select, "changed": []}
    plan = dbt_selection.plan_build(settings, full=not changed_only)
    log.info("warehouse build: %s (%s)", plan.mode, plan.reason)
    started = time.perf_counter()
    if plan.mode != "nothing":
        run_dbt(plan.dbt_args(), settings)
        dbt_selection.record_build(settings, plan, time.perf_counter() - started)
    return plan.as_dict()


def week_start_of(day: date) -> date:
    """The Monday of ``day``'s ISO week: alerts are keyed by week."""
    return day - timedelta(days=day.weekday())


def priority_share_rows(years: list[int], settings: Settings | None = None) -> list[dict]:
    """Rows of ``marts.fipd_priority_share`` for ``years`` (national rows included)."""
    from vigie.warehouse import Warehouse

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
    from vigie.checks import evaluate

    frame = evaluate(week_start_of(day), settings or get_settings())
    counts = frame.groupby(["check_name", "status"]).size()
    return {f"{check}.{status}": int(n) for (check, status), n in counts.items()}


def weekly_emails(day: date, settings: Settings | None = None) -> list:
    """Render the week's pilot e-mails (current year to date and last closed year).

    From the FIPD share mart and the week's ``marts.weekly_alerts`` rows (every check), with
    the week before's rows to tell what is new and what is resolved. No alerts table yet (the
    checks never ran) means e-mails about the FIPD share only, not a failure.
    """
    from vigie.alerts.pilots import read_pilots
    from vigie.alerts.render import build_weekly_emails
    from vigie.warehouse import Warehouse

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
        week, rows, read_pilots(settings.pilots_file), settings.mail_from,
        alert_rows=alerts[week], previous_alert_rows=alerts[week - timedelta(days=7)],
    )  # fmt: skip


def send_weekly_emails(
    day: date, settings: Settings | None = None, *, force: bool = False, run_id: str | None = None
) -> dict:
    """Render and deliver the week's e-mails (SMTP if configured, else the outbox), once each."""
    from vigie.alerts.sending import deliver

    settings = settings or get_settings()
    messages = weekly_emails(day, settings)
    report = deliver(messages, week_start_of(day), settings, force=force, run_id=run_id)
    return report.as_dict()
