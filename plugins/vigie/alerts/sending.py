"""Delivering the week's e-mails: through Airflow's SMTP connection, or to the outbox.

Why a send log: the weekly DAG may run twice for the same week (a retry, a manual re-run, a
backfill) and a pilot must not get the same e-mail twice. Every attempt is recorded in
``audit.email_sends`` (week, recipient, checksum, time, transport, outcome); a message whose
(week, recipient, checksum) was already sent is skipped unless a resend is forced, a message
whose content changed is sent again, and when some sends fail the task fails after trying the
others, so Airflow's retry sends only what is still missing.

The checksum is the renderer's ``X-Vigie-Checksum`` (a hash of the week, the addresses and the
content), so the time a message is rendered does not make it "new".

Airflow (its connection lookup, the SMTP provider's hook) is imported inside the functions that
use it: importing it costs seconds, paid only when e-mails are delivered.
"""

from __future__ import annotations

import logging
import smtplib
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from vigie.alerts.outbox import outbox_path, write_outbox
from vigie.settings import Settings
from vigie.warehouse.connection import Warehouse
from vigie.warehouse.migrations import migrate_warehouse

log = logging.getLogger(__name__)

SMTP_CONN_ID = "smtp_default"
SEND_LOG = "audit.email_sends"


class DeliveryError(RuntimeError):
    """Some e-mails could not be sent; the others were, and are logged as sent."""


@dataclass
class DeliveryReport:
    """What one delivery did, for the task log and its return value."""

    week_start: date
    transport: str
    sent: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    outbox_paths: list[Path] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "week_start": self.week_start.isoformat(),
            "transport": self.transport,
            "sent": len(self.sent),
            "skipped_already_sent": len(self.skipped),
            "failed": sorted(self.failed),
            "outbox": [str(p) for p in self.outbox_paths],
        }


def ensure_send_log(warehouse: Warehouse) -> None:
    """The send log is the schema's (migration 2): bring the warehouse up to date first."""
    migrate_warehouse(warehouse)


def smtp_configured(conn_id: str = SMTP_CONN_ID) -> bool:
    """True when Airflow knows the SMTP connection (environment, secrets backend or database)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False
    return True


def _recipient(message: EmailMessage) -> str:
    return message["To"].addresses[0].addr_spec


def _checksum(message: EmailMessage) -> str:
    value = message["X-Vigie-Checksum"]
    if not value:
        raise ValueError(f"message to {_recipient(message)} has no X-Vigie-Checksum header")
    return str(value)


def already_sent(warehouse: Warehouse, week_start: date) -> set[tuple[str, str]]:
    """(recipient, checksum) pairs sent successfully for the week."""
    with warehouse.transaction() as tx:
        rows = tx.fetchall(
            f"SELECT recipient, checksum FROM {SEND_LOG} WHERE week_start = ? AND outcome = 'sent'",
            [week_start],
        )
    return {(recipient, checksum) for recipient, checksum in rows}


def _log_attempt(
    warehouse: Warehouse,
    message: EmailMessage,
    week_start: date,
    transport: str,
    outcome: str,
    *,
    error: str | None,
    forced: bool,
    run_id: str | None,
) -> None:
    with warehouse.transaction() as tx:
        tx.execute(
            f"""
            INSERT INTO {SEND_LOG} (
                send_id, week_start, recipient, checksum, message_id, subject,
                transport, outcome, error, forced, attempted_at, dag_run_id
            )
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            [
                uuid.uuid4().hex,
                week_start,
                _recipient(message),
                _checksum(message),
                str(message["Message-ID"] or ""),
                str(message["Subject"] or ""),
                transport,
                outcome,
                error,
                forced,
                datetime.now(UTC),
                run_id,
            ],
        )


def _describe(error: BaseException) -> str:
    """The SMTP reply or exception class, never the message content."""
    code = getattr(error, "smtp_code", None)
    reply = getattr(error, "smtp_error", b"")
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    if code:
        return f"SMTP {code} {reply}".strip()
    recipients = getattr(error, "recipients", None)
    if isinstance(recipients, dict) and recipients:
        code, reply = next(iter(recipients.values()))
        return (
            f"SMTP {code} {reply.decode('utf-8', 'replace') if isinstance(reply, bytes) else reply}"
        )
    return f"{type(error).__name__}: {error}"[:300]


def deliver(
    messages: list[EmailMessage],
    week_start: date,
    settings: Settings,
    *,
    force: bool = False,
    conn_id: str = SMTP_CONN_ID,
    run_id: str | None = None,
) -> DeliveryReport:
    """Send each message not yet sent for the week (all of them when ``force``).

    With no SMTP connection the messages go to ``settings.outbox_dir`` as ``.eml`` files and
    are logged with transport ``outbox``. Raises :class:`DeliveryError` after trying every
    message if any failed, so the task is retried and only the failed ones are sent again.
    """
    warehouse = Warehouse(settings)
    ensure_send_log(warehouse)
    if not smtp_configured(conn_id):
        report = DeliveryReport(week_start, "outbox")
        written, skipped = write_outbox(messages, settings.outbox_dir, force=force)
        report.outbox_paths = written
        fresh = set(written)
        with warehouse.session():  # one connection for the whole log
            for message in messages:
                if outbox_path(message, settings.outbox_dir) not in fresh:
                    report.skipped.append(_recipient(message))  # same content already there
                    continue
                report.sent.append(_recipient(message))
                _log_attempt(
                    warehouse,
                    message,
                    week_start,
                    "outbox",
                    "written",
                    error=None,
                    forced=force,
                    run_id=run_id,
                )
        log.info(
            "no %r connection: %d e-mail(s) written to %s, %d unchanged and skipped",
            conn_id,
            len(written),
            settings.outbox_dir,
            len(skipped),
        )
        return report

    from airflow.providers.smtp.hooks.smtp import SmtpHook

    report = DeliveryReport(week_start, "smtp")
    done = set() if force else already_sent(warehouse, week_start)
    pending = []
    for message in messages:
        if (_recipient(message), _checksum(message)) in done:
            report.skipped.append(_recipient(message))
        else:
            pending.append(message)
    if pending:
        try:
            # One warehouse connection for the whole send log (each attempt still commits).
            with SmtpHook(smtp_conn_id=conn_id) as hook, warehouse.session():
                client = hook.get_conn()._smtp_client  # the provider's own test_connection does so
                for message in pending:
                    _send_one(client, message, week_start, warehouse, report, force, run_id)
        except Exception as error:  # connection refused, login failed, server gone mid-way
            problem = _describe(error)
            for message in pending:
                recipient = _recipient(message)
                if recipient not in report.sent and recipient not in report.failed:
                    report.failed[recipient] = problem
                    _log_attempt(
                        warehouse,
                        message,
                        week_start,
                        "smtp",
                        "failed",
                        error=problem,
                        forced=force,
                        run_id=run_id,
                    )
    outcome = Counter(
        {
            "sent": len(report.sent),
            "already sent": len(report.skipped),
            "failed": len(report.failed),
        }
    )
    log.info(
        "week %s via %r: %s",
        week_start,
        conn_id,
        ", ".join(f"{n} {what}" for what, n in outcome.items()),
    )
    if report.failed:
        raise DeliveryError(
            f"{len(report.failed)} of {len(pending)} e-mail(s) for the week of {week_start} "
            f"could not be sent ({next(iter(report.failed.values()))}); the {len(report.sent)} "
            "sent are logged in audit.email_sends and will not be sent again on retry"
        )
    return report


def _send_one(
    client: Any,
    message: EmailMessage,
    week_start: date,
    warehouse: Warehouse,
    report: DeliveryReport,
    force: bool,
    run_id: str | None,
) -> None:
    recipient = _recipient(message)
    try:
        refused = client.send_message(message)
    except (
        smtplib.SMTPRecipientsRefused,
        smtplib.SMTPDataError,
        smtplib.SMTPSenderRefused,
        smtplib.SMTPResponseException,
    ) as error:
        problem = _describe(error)
        report.failed[recipient] = problem
        _log_attempt(
            warehouse,
            message,
            week_start,
            "smtp",
            "failed",
            error=problem,
            forced=force,
            run_id=run_id,
        )
        return
    if refused:
        problem = _describe(smtplib.SMTPRecipientsRefused(refused))
        report.failed[recipient] = problem
        _log_attempt(
            warehouse,
            message,
            week_start,
            "smtp",
            "failed",
            error=problem,
            forced=force,
            run_id=run_id,
        )
        return
    report.sent.append(recipient)
    _log_attempt(
        warehouse, message, week_start, "smtp", "sent", error=None, forced=force, run_id=run_id
    )
