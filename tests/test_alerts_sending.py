"""Delivering the week's e-mails to a real SMTP server on 127.0.0.1, once each.

The messages are those the pilots would get (built from the same hand-made figures as
test_alerts_render); the send log is a real DuckDB warehouse. What is asserted is what the
pilots' mailboxes end up holding.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from vigie.alerts.render import build_weekly_emails
from vigie.alerts.sending import DeliveryError, deliver
from vigie.warehouse.connection import Warehouse

from tests.conftest import make_settings
from tests.smtp_sink import free_port, smtp_conn_uri, smtp_server
from tests.test_alerts_render import AT, ROWS, SENDER, WEEK, row

EXPECTED = sorted(
    [
        "copil@pilotes.example",
        "pdec-93@pilotes.example",
        "spv-93@pilotes.example",
        "pdec-13@pilotes.example",
        "pdec-69@pilotes.example",
        "sud@pilotes.example",
    ]
)


@pytest.fixture
def settings(tmp_path: Path):
    return make_settings(tmp_path)


@pytest.fixture
def messages(pilots):
    return build_weekly_emails(WEEK, ROWS, pilots, SENDER, generated_at=AT)


@pytest.fixture
def pilots(tmp_path: Path):
    from vigie.reference.pilots import read_pilots

    from tests.test_alerts_render import PILOTS_CSV

    path = tmp_path / "pilots.csv"
    path.write_text(PILOTS_CSV, encoding="utf-8")
    return read_pilots(path)


@pytest.fixture
def smtp(monkeypatch):
    with smtp_server() as (mailbox, port):
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_uri(port))
        yield mailbox


def _log(settings) -> list[tuple]:
    with Warehouse(settings).transaction() as tx:
        return tx.fetchall(
            "SELECT recipient, outcome, transport, error FROM audit.email_sends "
            "ORDER BY attempted_at"
        )


def test_each_pilot_gets_their_own_email_once(smtp, messages, settings) -> None:
    report = deliver(messages, WEEK, settings)
    assert smtp.recipients() == EXPECTED and report.transport == "smtp"
    for recipients, message in smtp.received:
        assert [str(message["To"])] == recipients  # envelope and header agree: no Bcc leak
        body = message.get_body(("plain",)).get_content()
        if recipients == ["pdec-13@pilotes.example"]:
            assert "Bouches-du-Rhône" in body and "Seine-Saint-Denis" not in body
        if recipients == ["pdec-93@pilotes.example"]:
            assert "Seine-Saint-Denis" in body and "Bouches-du-Rhône" not in body
    # The MIME structure a mail client needs: text, HTML alternative, the CSV attachment.
    digest = smtp.to("copil@pilotes.example")[0]
    assert digest.get_body(("plain",)) is not None and digest.get_body(("html",)) is not None
    (attachment,) = list(digest.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    assert {outcome for _, outcome, _, _ in _log(settings)} == {"sent"}


def test_a_second_run_of_the_same_week_sends_nothing(smtp, pilots, messages, settings) -> None:
    deliver(messages, WEEK, settings)
    rerun = build_weekly_emails(WEEK, ROWS, pilots, SENDER, generated_at=datetime.now())
    again = deliver(rerun, WEEK, settings)
    assert len(smtp.received) == len(EXPECTED)
    assert again.sent == [] and sorted(again.skipped) == EXPECTED


def test_changed_figures_go_out_again_only_to_those_who_see_them(
    smtp, pilots, messages, settings
) -> None:
    deliver(messages, WEEK, settings)
    changed = [r for r in ROWS if r["code_departement"] != "69"]
    changed += [
        row("69", "Rhône", 2026, "below_target", 876_543.0, 500_000.0, 510_000.0, 33),
        row("69", "Rhône", 2025, "ok", 905_000.0, 760_200.0, 771_000.0, 36),
    ]
    report = deliver(build_weekly_emails(WEEK, changed, pilots, SENDER), WEEK, settings)
    # The national digest shows every département, 69's pilots their own: nobody else.
    assert sorted(report.sent) == ["copil@pilotes.example", "pdec-69@pilotes.example"]
    assert len(smtp.to("pdec-69@pilotes.example")) == 2
    assert len(smtp.to("pdec-93@pilotes.example")) == 1


def test_a_forced_resend_sends_every_email_again(smtp, messages, settings) -> None:
    deliver(messages, WEEK, settings)
    report = deliver(messages, WEEK, settings, force=True)
    assert sorted(report.sent) == EXPECTED
    assert smtp.recipients() == sorted(EXPECTED * 2)


def test_a_relay_failing_at_first_ends_with_exactly_one_email_each(
    smtp, messages, settings
) -> None:
    smtp.refuse_next = 2  # the first two messages get "451 try again later"
    with pytest.raises(DeliveryError, match=r"2 of 6 e-mail\(s\).*451"):
        deliver(messages, WEEK, settings)
    assert len(smtp.received) == 4
    retry = deliver(messages, WEEK, settings)  # what Airflow's task retry does
    assert len(retry.sent) == 2 and len(retry.skipped) == 4
    assert smtp.recipients() == EXPECTED
    outcomes = [outcome for _, outcome, _, _ in _log(settings)]
    assert outcomes.count("failed") == 2 and outcomes.count("sent") == 6


def test_a_relay_down_fails_the_run_then_sends_everything_once_up(
    monkeypatch, messages, settings
) -> None:
    port = free_port()  # nothing listens there yet
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_uri(port))
    with pytest.raises(DeliveryError, match="6 of 6"):
        deliver(messages, WEEK, settings)
    with smtp_server(port) as (mailbox, _):
        deliver(messages, WEEK, settings)
    assert mailbox.recipients() == EXPECTED


def test_without_smtp_the_emails_go_to_the_outbox_and_are_logged(
    monkeypatch, messages, settings
) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    report = deliver(messages, WEEK, settings)
    assert report.transport == "outbox" and len(report.outbox_paths) == len(EXPECTED)
    assert all(path.exists() for path in report.outbox_paths)
    assert {(transport, outcome) for _, outcome, transport, _ in _log(settings)} == {
        ("outbox", "written")
    }


def test_the_outbox_writes_a_message_once_per_content(monkeypatch, pilots, messages, settings):
    """As with SMTP: a re-run of the week writes (and logs) only what changed."""
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    first = deliver(messages, WEEK, settings)
    before = {path: path.stat().st_mtime_ns for path in first.outbox_paths}
    rerun = build_weekly_emails(WEEK, ROWS, pilots, SENDER, generated_at=datetime.now())
    again = deliver(rerun, WEEK, settings)
    assert again.outbox_paths == [] and sorted(again.skipped) == EXPECTED
    assert {path: path.stat().st_mtime_ns for path in first.outbox_paths} == before
    assert len(_log(settings)) == len(EXPECTED)  # no second "written" row
    changed = [r for r in ROWS if r["code_departement"] != "69"]
    changed += [
        row("69", "Rhône", 2026, "below_target", 876_543.0, 500_000.0, 510_000.0, 33),
        row("69", "Rhône", 2025, "ok", 905_000.0, 760_200.0, 771_000.0, 36),
    ]
    report = deliver(build_weekly_emails(WEEK, changed, pilots, SENDER), WEEK, settings)
    assert sorted(report.sent) == ["copil@pilotes.example", "pdec-69@pilotes.example"]
    assert len(_log(settings)) == len(EXPECTED) + 2
    forced = deliver(messages, WEEK, settings, force=True)
    assert sorted(forced.sent) == EXPECTED
