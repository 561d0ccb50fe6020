"""Notices for the data engineers: a failed task, files quarantined this week.

Why apart from the pilots' e-mails: pilots read figures, engineers read task ids and log links;
the two never share a recipient list. A failed task reaches here through Airflow's notifier
(:class:`vigie.orchestration.notifier.EngineersNotifier`); the notices go to
``VIGIE_ENGINEERS_EMAIL`` through
the ``smtp_default`` connection, or, with either missing, to ``<outbox>/_engineers/`` as
``.eml`` files so that nothing is lost on a laptop. A notice never carries file content.
"""

from __future__ import annotations

import logging
import re
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from vigie.settings import Settings, get_settings

log = logging.getLogger(__name__)

ENGINEERS_DIR = "_engineers"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def engineers_message(subject: str, body: str, settings: Settings) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.mail_from
    message["To"] = ", ".join(settings.engineers_email) or "data-engineers@vigie.invalid"
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="vigie.invalid")
    message["Auto-Submitted"] = "auto-generated"
    message["X-Vigie-Audience"] = "engineers"
    message.set_content(body, charset="utf-8")
    return message


def send_to_engineers(subject: str, body: str, settings: Settings | None = None) -> str:
    """Send (or write) one notice; returns where it went, for the log."""
    # Not at the top: DAG files import this module (orchestration.notifier); sending is pandas.
    from vigie.alerts.sending import SMTP_CONN_ID, smtp_configured

    settings = settings or get_settings()
    message = engineers_message(subject, body, settings)
    if settings.engineers_email and smtp_configured(SMTP_CONN_ID):
        from airflow.providers.smtp.hooks.smtp import SmtpHook  # Airflow: only when sending

        try:
            with SmtpHook(smtp_conn_id=SMTP_CONN_ID) as hook:
                client = hook.get_conn()._smtp_client
                assert client is not None  # get_conn() connects it
                client.send_message(message)
            return f"smtp:{','.join(settings.engineers_email)}"
        except (OSError, smtplib.SMTPException) as exc:
            # The relay being down is often what failed the task: keep the notice on disk.
            log.error("could not e-mail the data engineers (%s); notice kept in the outbox", exc)
    folder = Path(settings.outbox_dir) / ENGINEERS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = folder / f"{stamp}-{_UNSAFE.sub('_', subject)[:80]}.eml"
    path.write_bytes(bytes(message))
    return str(path)


def quarantine_notice(since: datetime, settings: Settings | None = None) -> str | None:
    """Tell the engineers which files were quarantined since ``since``; None when none were."""
    # Not at the top: DAG files import this module (orchestration.notifier); this is pandas.
    from vigie.warehouse.connection import Warehouse

    settings = settings or get_settings()
    with Warehouse(settings).transaction() as tx:
        rows = tx.fetchall(
            "SELECT source, source_file_name, reason, received_at FROM audit.file_loads "
            "WHERE status = 'quarantined' AND received_at >= ? ORDER BY received_at",
            [since],
        )
    if not rows:
        return None
    lines = [
        "Bonjour,",
        "",
        f"{_files(len(rows))} mis en quarantaine depuis le {since:%d/%m/%Y} :",
        "",
        *(
            f"- {source} : {name} ({reason}), reçu le {received:%d/%m/%Y %H:%M}"
            for source, name, reason, received in rows
        ),
        "",
        "Chaque fichier est dans quarantine/ avec la raison à côté (.reason.json) ; "
        "`vigie check FICHIER` montre ce qu'il faut corriger.",
    ]
    return send_to_engineers(
        f"[Vigie] {_files(len(rows))} en quarantaine", "\n".join(lines), settings
    )


# The sources as the notices name them (the code's names are identifiers, not French).
SOURCE_LABELS = {
    "prefectures": "des préfectures",
    "police_population": "police-population",
    "associations": "des associations",
}


def _files(count: int) -> str:
    """« 1 fichier », « 3 fichiers »: French agrees, no « (s) »."""
    return f"{count} fichier{'s' if count > 1 else ''}"


def _files_of(count: int, source: str) -> str:
    """« 1 fichier des préfectures », « 3 fichiers police-population »."""
    return f"{_files(count)} {SOURCE_LABELS.get(source, source)}"


def run_quarantine_notice(
    source: str,
    files: list[dict],
    run_id: str | None = None,
    settings: Settings | None = None,
) -> str | None:
    """One notice for the files one run quarantined (not one per file); None when none were.

    Sent by the ingestion task itself, so the engineers hear of it the same hour, not in
    Monday's digest (:func:`quarantine_notice`). ``files`` are the loader's reports
    (:class:`vigie.ingest.batches.FileReport` as dicts): name, reason, where the file went,
    whose it is; never its content.
    """
    quarantined = [f for f in files if f.get("status") == "quarantined"]
    if not quarantined:
        return None
    files_of = _files_of(len(quarantined), source)
    lines = [
        "Bonjour,",
        "",
        f"{files_of} mis en quarantaine par l'exécution "
        f"{run_id or '(hors Airflow)'} ; les autres fichiers du lot sont chargés.",
        "",
    ]
    for report in quarantined:
        sender = f", expéditeur {report['sender']}" if report.get("sender") else ""
        lines.append(f"- {report['file']}{sender} : {report.get('reason') or 'raison inconnue'}")
        if report.get("moved_to"):
            where = report["moved_to"]
            lines.append(f"  déplacé vers {where} (raison : {where}.reason.json)")
        for column in report.get("ignored_columns") or []:
            lines.append(f"  colonne non chargée : {column}")
    lines += [
        "",
        "`vigie check FICHIER` montre ce qu'il faut corriger ; une fois corrigé, déposez le "
        "fichier à nouveau dans la zone d'atterrissage (README, « Operating Vigie »).",
    ]
    subject = f"[Vigie] {files_of} en quarantaine"
    return send_to_engineers(subject, "\n".join(lines), settings)
