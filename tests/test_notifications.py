"""Notices for the data engineers: a task failing for good, files quarantined this week."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from vigie import tasks
from vigie.alerts.engineers import ENGINEERS_DIR, quarantine_notice
from vigie.warehouse.connection import Warehouse

from tests.conftest import PROJECT, make_settings
from tests.smtp_sink import smtp_conn_uri, smtp_server

FAILING_DAG = textwrap.dedent('''
    """A DAG whose only task fails: the data engineers must hear of it (airflow)."""
    import pendulum
    from airflow.sdk import dag, task
    from vigie.orchestration.defaults import DEFAULT_ARGS

    @dag(dag_id="always_fails", start_date=pendulum.datetime(2026, 1, 1), schedule=None,
         default_args={**DEFAULT_ARGS, "retries": 0})
    def always_fails():
        @task
        def load():
            raise ValueError("the prefecture share is not a number")
        load()

    always_fails()
''')
RUN = (
    "from airflow.dag_processing.dagbag import DagBag; import sys; "
    "DagBag(dag_folder=sys.argv[1]).get_dag('always_fails').test()"
)


def test_a_failed_task_reaches_the_engineers_not_the_pilots(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "always_fails.py").write_text(FAILING_DAG)
    with smtp_server() as (mailbox, port):
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("VIGIE_", "AIRFLOW"))},
            "AIRFLOW_HOME": str(tmp_path / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_CONN_SMTP_DEFAULT": smtp_conn_uri(port),
            "VIGIE_ENGINEERS_EMAIL": "data@vigie.example, astreinte@vigie.example",
            "VIGIE_OUTBOX_DIR": str(tmp_path / "outbox"),
        }
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
        subprocess.run(
            [sys.executable, "-c", RUN, str(dags)],
            env=env,
            cwd=PROJECT,
            capture_output=True,
            timeout=180,
        )
    assert mailbox.recipients() == ["astreinte@vigie.example", "data@vigie.example"]
    ((_, notice),) = mailbox.received
    body = notice.get_body(("plain",)).get_content()
    assert "always_fails.load" in str(notice["Subject"])
    assert "ValueError: the prefecture share is not a number" in body
    assert notice["X-Vigie-Audience"] == "engineers"
    assert not (tmp_path / "outbox").exists()  # nothing went to the pilots' outbox


def test_quarantined_files_of_the_week_are_listed_for_the_engineers(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    tasks.refresh_reference(settings)  # creates the audit tables
    now = datetime.now(UTC)
    with Warehouse(settings).transaction() as tx:
        for name, status, when in (
            ("fipd_93_2026.csv", "quarantined", now),
            ("old.csv", "quarantined", now - timedelta(days=9)),
            ("fine.csv", "loaded", now),
        ):
            tx.execute(
                "INSERT INTO audit.file_loads (source_file_sha256, source_file_name, source, "
                "kind, status, reason, rows_read, rows_loaded, rows_rejected, received_at) "
                "VALUES (?, ?, 'prefectures', 'fipd', ?, 'personal_data', 0, 0, 0, ?)",
                [name, name, status, when],
            )
    where = quarantine_notice(now - timedelta(days=7), settings)
    assert where and Path(where).parent == settings.outbox_dir / ENGINEERS_DIR
    text = Path(where).read_text(encoding="utf-8")
    assert "fipd_93_2026.csv (personal_data)" in text
    assert "old.csv" not in text and "fine.csv" not in text
    assert quarantine_notice(now + timedelta(minutes=1), settings) is None


def test_the_notice_is_kept_in_the_outbox_when_the_relay_is_down(
    tmp_path: Path, monkeypatch
) -> None:
    """The relay being down is often what failed the task: the notice must not be lost too."""
    from vigie.alerts.engineers import send_to_engineers

    from tests.smtp_sink import free_port

    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", smtp_conn_uri(free_port()))  # nobody there
    settings = make_settings(tmp_path, VIGIE_ENGINEERS_EMAIL="data@vigie.example")
    where = send_to_engineers(
        "weekly_pilot_alerts.send_pilot_emails failed", "relay down", settings
    )
    kept = list((tmp_path / "outbox" / ENGINEERS_DIR).glob("*.eml"))
    assert [str(p) for p in kept] == [where]
    assert b"relay down" in kept[0].read_bytes()
