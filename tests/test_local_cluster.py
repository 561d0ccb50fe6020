"""The production topology, run on this machine's own services, driven and broken for real.

One cluster for the module (`vigie.demo.local_cluster`): Airflow's metadata on the local PostgreSQL,
CeleryExecutor with the local Redis, API server, scheduler, DAG processor, triggerer, two Celery
workers; the warehouse on PostgreSQL; the police-population API served on 127.0.0.1; an
aiosmtpd relay on a port reserved up front. Every API call logs in through the FAB auth
manager, as in production. The tests run in file order:

0. users and roles: a wrong password is refused (401), a `Viewer` lists the DAGs but may
   neither trigger nor pause one (403), an `Op` may;
1. the weekly flow as an operator runs it (REST API), with the SMTP relay down when the
   e-mails are first sent: they arrive once, on the retry;
2. a Celery worker killed while the prefecture load is writing: the task is retried on the
   other worker and no row is loaded twice;
3. the warehouse's connections dropped while the prefecture load is writing: the load is
   retried and every file is there whole, once.
"""

from __future__ import annotations

import secrets
import shutil
import signal
import stat
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest
from vigie import tasks
from vigie.demo.local_cluster import FAB_AUTH_MANAGER, AirflowApi, LocalCluster
from vigie.demo.sample_associations import write_association_sample
from vigie.demo.sample_prefectures import SampleSummary, write_sample

from tests.conftest import fresh_postgres_database, make_settings
from tests.smtp_sink import free_port, smtp_conn_uri, smtp_server

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(2400)]

YEAR = date.today().year
FLOW_DEPARTEMENTS = ["13", "2A", "45", "59", "75", "93", "974"]
KILL_DEPARTEMENTS = ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"]
DROP_DEPARTEMENTS = ["14", "15", "16", "17", "18", "19", "21", "22", "23", "24", "25", "26"]
ENGINEERS = "data-eng@vigie.example"
PARIS = ZoneInfo("Europe/Paris")
BROKER = "redis://127.0.0.1:6379/3"  # a Redis database of its own, flushed first


@dataclass
class Topology:
    cluster: LocalCluster
    warehouse_url: str
    landing: Path
    staging: Path  # samples generated ahead, copied into the landing zone by each test
    smtp_port: int
    tmp: Path
    sample: SampleSummary

    @property
    def settings(self):
        return make_settings(
            self.tmp, VIGIE_WAREHOUSE_URL=self.warehouse_url, VIGIE_LANDING_URL=str(self.landing)
        )

    def land(self, departements: list[str]) -> list[Path]:
        """Copy those départements' prefecture files into the landing zone (times kept)."""
        landed = []
        for path in (self.staging / "prefectures").rglob("fipd_*"):
            if path.name.split("_")[1] in departements:
                target = self.landing / path.relative_to(self.staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
                landed.append(target)
        return landed


@pytest.fixture(scope="module")
def topology(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Topology]:
    import redis
    from vigie.demo.police_api_server import DEMO_TOKEN, PoliceApiServer
    from vigie.demo.sample_police import generate_indicators

    # A CI job stopped with SIGTERM still stops the cluster (the fixture's teardown runs).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tmp_path_factory.mktemp("cluster")
    staging, landing = tmp / "staging", tmp / "landing"
    every = FLOW_DEPARTEMENTS + KILL_DEPARTEMENTS + DROP_DEPARTEMENTS
    sample = write_sample(staging, current_year=YEAR, departements=every)
    write_association_sample(landing)
    redis.Redis.from_url(BROKER).flushdb()
    frame = generate_indicators(7, date.today(), start=date(YEAR - 2, 1, 1))
    smtp_port = free_port()
    with (
        fresh_postgres_database("vigie_cluster_meta") as metadata,
        fresh_postgres_database("vigie_cluster_wh") as warehouse_url,
        PoliceApiServer(frame, token=DEMO_TOKEN) as police,
    ):
        cluster = LocalCluster(
            home=tmp / "processes",
            broker_url=BROKER,
            metadata_url=metadata.replace("postgresql://", "postgresql+psycopg2://"),
            env={
                "VIGIE_LANDING_URL": str(landing),
                "VIGIE_WAREHOUSE_URL": warehouse_url,
                "VIGIE_OUTBOX_DIR": str(tmp / "outbox"),
                "VIGIE_GX_DIR": str(tmp / "gx"),
                "VIGIE_ENGINEERS_EMAIL": ENGINEERS,
                "VIGIE_RETRY_DELAY_SECONDS": "10",
                "AIRFLOW_CONN_SMTP_DEFAULT": smtp_conn_uri(smtp_port),
                "AIRFLOW_CONN_VIGIE_POLICE_API": f"http://:{DEMO_TOKEN}@127.0.0.1:{police.port}",
                # A dead worker's task is declared failed (then retried) after 20 s, not 5 min.
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            },
        )
        with cluster:
            yield Topology(cluster, warehouse_url, landing, staging, smtp_port, tmp, sample)


def test_users_log_in_through_fab_and_their_role_decides_what_they_may_do(
    topology: Topology,
) -> None:
    cluster = topology.cluster
    assert cluster.process_env()["AIRFLOW__CORE__AUTH_MANAGER"] == FAB_AUTH_MANAGER
    # The admin's password, generated at start, is readable by this machine's user only.
    assert stat.S_IMODE(cluster.admin_password_file.stat().st_mode) == 0o600
    password = cluster.admin_password_file.read_text(encoding="utf-8").strip()
    admin = AirflowApi(cluster.base_url, "admin", password)
    # FAB's own API answers (SimpleAuthManager has no users nor roles): its built-in roles.
    roles = {role["name"] for role in admin.call("GET", "/auth/fab/v1/roles")["roles"]}
    assert {"Admin", "Op", "Viewer"} <= roles
    with pytest.raises(RuntimeError, match="POST /auth/token: HTTP 401"):
        AirflowApi(cluster.base_url, "admin", password + "x").dag_ids()

    # Users as the README creates them: `airflow users create`, or FAB's API as an Admin.
    # A leading "-" must not read as an option of `airflow users create`.
    viewer_password, operator_password = "-" + secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    cluster.create_user("viewer", "Viewer", viewer_password)
    user = {"username": "operator", "email": "operator@vigie.invalid", "roles": [{"name": "Op"}]}
    user |= {"first_name": "Op", "last_name": "Vigie", "password": secrets.token_urlsafe(16)}
    assert admin.call("POST", "/auth/fab/v1/users", user)["roles"] == [{"name": "Op"}]
    # Creating an existing user again sets its password (a restart of `make cluster`).
    cluster.create_user("operator", "Op", operator_password)
    viewer = AirflowApi(cluster.base_url, "viewer", viewer_password)
    operator = AirflowApi(cluster.base_url, "operator", operator_password)
    expected = {p.stem for p in (Path(__file__).parents[1] / "dags").glob("*.py")}
    assert expected <= viewer.dag_ids(), "a Viewer reads every DAG"
    with pytest.raises(RuntimeError, match="HTTP 403"):
        viewer.trigger("weekly_pilot_alerts")
    with pytest.raises(RuntimeError, match="HTTP 403"):
        viewer.call("PATCH", "/api/v2/dags/weekly_pilot_alerts", {"is_paused": True})
    # An Op may operate the DAGs: pausing one already paused changes nothing.
    paused = operator.call("PATCH", "/api/v2/dags/weekly_pilot_alerts", {"is_paused": True})
    assert paused["is_paused"] is True
    assert admin.runs("weekly_pilot_alerts") == [], "the Viewer's trigger created no run"


def _first_run(api, dag_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if runs := api.runs(dag_id):
            return runs[0]
        time.sleep(1)
    pytest.fail(f"the scheduler created no {dag_id} run within {timeout:.0f} s")


def _wait_for_task_state(
    api, dag_id: str, run_id: str, task_id: str, states: set[str], timeout: float = 600
) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ti in api.task_instances(dag_id, run_id):
            if ti["task_id"] == task_id and ti["state"] in states:
                return ti
        if api.run(dag_id, run_id)["state"] in {"success", "failed"}:
            break
        time.sleep(0.5)
    pytest.fail(f"{dag_id}.{task_id} never reached {states}")


def test_weekly_flow_through_the_rest_api_with_the_relay_down_at_first(
    topology: Topology,
) -> None:
    api = topology.cluster.api
    topology.land(FLOW_DEPARTEMENTS)
    ingests = (
        "ingest_prefecture_exports",
        "ingest_police_population",
        "ingest_association_reports",
    )
    for dag_id in ingests:
        api.unpause(dag_id)  # DAGs start paused; unpausing also schedules their latest interval
    run_ids = {dag_id: api.trigger(dag_id) for dag_id in ingests}
    for dag_id, run_id in run_ids.items():
        assert api.wait_for_run(dag_id, run_id, 1200)["state"] == "success", dag_id
    # Asset events do not wait for a paused DAG: an operator unpausing the warehouse DAG after
    # the first loads starts its first build by hand; from then on each load starts one.
    api.unpause("build_warehouse")
    build = api.wait_for_run("build_warehouse", api.trigger("build_warehouse"), 1500)
    assert build["state"] == "success"
    # One dbt build on a Celery worker; every model's task started and ended in the triggerer.
    instances = api.task_instances("build_warehouse", build["dag_run_id"])
    assert {t["state"] for t in instances} == {"success"}
    assert [t["task_id"] for t in instances if t["queued_when"]] == ["dbt_producer_watcher"]

    # Unpaused, the weekly DAG runs for the Monday just past (the latest cron time), as it
    # would at 07:00 that day; nobody listens on the relay's port yet.
    api.unpause("weekly_pilot_alerts")
    run = _first_run(api, "weekly_pilot_alerts")
    run_id = run["dag_run_id"]
    failed_try = _wait_for_task_state(
        api, "weekly_pilot_alerts", run_id, "send_pilot_emails", {"up_for_retry"}
    )
    assert failed_try["try_number"] == 1
    with smtp_server(topology.smtp_port) as (mailbox, _):
        run = api.wait_for_run("weekly_pilot_alerts", run_id, 600)
    assert run["state"] == "success"

    monday = datetime.fromisoformat(run["logical_date"]).astimezone(PARIS)
    assert (monday.weekday(), monday.hour) == (0, 7)
    expected = tasks.weekly_emails(monday.date(), topology.settings)
    assert expected
    received = sorted(r for rcpts, _ in mailbox.received for r in rcpts if r != ENGINEERS)
    assert received == sorted(_addresses(expected)), "every pilot's e-mail arrived, once"
    digests = [m for rcpts, m in mailbox.received if any("copil" in r for r in rcpts)]
    assert len(digests) == 2  # the comité de pilotage's two members (pilots.example.csv)
    digest = digests[0].get_body(("plain",)).get_content()
    below = [d for d in topology.sample.below_target[YEAR] if d in FLOW_DEPARTEMENTS]
    assert below
    for dep in below:
        assert f"({dep})" in digest, f"the national digest names {dep}, below target"
    with psycopg2.connect(topology.warehouse_url) as con, con.cursor() as cur:
        cur.execute("SELECT outcome, count(*) FROM audit.email_sends GROUP BY outcome")
        outcomes = dict(cur.fetchall())
        cur.execute(
            "SELECT count(DISTINCT check_name) FROM marts.weekly_alerts WHERE week_start = %s",
            (monday.date(),),
        )
        checks = cur.fetchone()[0]
    assert outcomes.get("sent") == len(expected), outcomes
    assert checks >= 4
    api.call("PATCH", "/api/v2/dags/build_warehouse", {"is_paused": True})  # quiet from here


def _addresses(messages: list) -> list[str]:
    return [a.addr_spec for m in messages for a in m["To"].addresses]


def _wait_for_writer(database_url: str, timeout: float = 300) -> list[int]:
    """Wait for a connection to the warehouse whose transaction has written rows (mid-load).

    A loader first makes sure its tables exist (short DDL transactions that may already have
    committed when the test acts): only a transaction running a data statement is the load's.
    """
    database = database_url.rsplit("/", 1)[1]
    con = psycopg2.connect(database_url.rsplit("/", 1)[0] + "/postgres")
    con.autocommit = True
    deadline = time.monotonic() + timeout
    try:
        with con.cursor() as cur:
            while time.monotonic() < deadline:
                cur.execute(
                    """
                    SELECT pid
                    FROM pg_stat_activity
                    WHERE
                        datname = %s
                        AND pid <> pg_backend_pid()
                        AND backend_xid IS NOT NULL
                        AND query !~* '^[[:space:]]*(create|alter|drop)[[:space:]]'
                    """,
                    (database,),
                )
                pids = [pid for (pid,) in cur.fetchall()]
                if pids:
                    return pids
                time.sleep(0.02)
    finally:
        con.close()
    pytest.fail("no load transaction was seen writing the warehouse")


def _trigger_load(topology: Topology, departements: list[str]) -> tuple[str, list[Path]]:
    landed = topology.land(departements)
    assert landed
    return topology.cluster.api.trigger("ingest_prefecture_exports"), landed


def _assert_each_file_loaded_once_and_whole(topology: Topology, landed: list[Path]) -> None:
    import hashlib

    digests = {
        hashlib.sha256(p.read_bytes()).hexdigest(): p.name for p in _archived(topology, landed)
    }
    assert len(digests) == len(landed), "every landed file was archived"
    with psycopg2.connect(topology.warehouse_url) as con, con.cursor() as cur:
        cur.execute(
            """
            SELECT
                f.source_file_sha256, f.status, f.rows_loaded,
                (
                    SELECT count(*) FROM raw.prefecture_fipd_actions a
                    WHERE a.source_file_sha256 = f.source_file_sha256
                ) + (
                    SELECT count(*) FROM raw.prefecture_contrats_de_ville c
                    WHERE c.source_file_sha256 = f.source_file_sha256
                )
            FROM audit.file_loads f
            WHERE f.source_file_sha256 = ANY(%s)
            """,
            (list(digests),),
        )
        records = cur.fetchall()
        cur.execute(
            "SELECT count(*) FROM (SELECT source_file_sha256, source_sheet, source_row "
            "FROM raw.prefecture_fipd_actions GROUP BY 1, 2, 3 HAVING count(*) > 1) d"
        )
        duplicated_rows = cur.fetchone()[0]
    assert sorted(r[0] for r in records) == sorted(digests), "one load record per file"
    for sha, status, rows_loaded, rows_present in records:
        assert status != "duplicate", digests[sha]
        assert rows_present == rows_loaded, f"{digests[sha]}: {rows_present} of {rows_loaded}"
    assert duplicated_rows == 0
    assert not any(topology.landing.joinpath("prefectures").rglob("fipd_*")), "landing emptied"


def _archived(topology: Topology, landed: list[Path]) -> list[Path]:
    names = {p.name for p in landed}
    archive = topology.tmp / "archive"
    quarantine = topology.tmp / "quarantine"
    return [
        p
        for root in (archive, quarantine)
        for p in root.rglob("*__fipd_*")
        if p.name.split("__", 1)[1] in names
    ]


def test_a_worker_killed_mid_load_is_retried_on_the_other_without_duplicates(
    topology: Topology,
) -> None:
    cluster, api = topology.cluster, topology.cluster.api
    run_id, landed = _trigger_load(topology, KILL_DEPARTEMENTS)
    load = _wait_for_task_state(
        api, "ingest_prefecture_exports", run_id, "load_landed_files", {"running"}
    )
    _wait_for_writer(topology.warehouse_url)
    worker = cluster.worker_running(load["id"])
    assert worker, "the running load is found in a worker's process tree"
    cluster.kill(worker)
    try:
        run = api.wait_for_run("ingest_prefecture_exports", run_id, 600)
    finally:
        cluster.start_worker(int(worker.removeprefix("worker")))
    assert run["state"] == "success"
    tries = {
        t["task_id"]: t["try_number"]
        for t in api.task_instances("ingest_prefecture_exports", run_id)
    }
    assert tries["load_landed_files"] >= 2, "the killed try was retried"
    _assert_each_file_loaded_once_and_whole(topology, landed)


def test_connections_dropped_mid_load_leave_no_partial_file(topology: Topology) -> None:
    api = topology.cluster.api
    run_id, landed = _trigger_load(topology, DROP_DEPARTEMENTS)
    _wait_for_task_state(api, "ingest_prefecture_exports", run_id, "load_landed_files", {"running"})
    pids = _wait_for_writer(topology.warehouse_url)
    admin = psycopg2.connect(topology.warehouse_url)
    admin.autocommit = True
    with admin.cursor() as cur:
        for pid in pids:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
    admin.close()
    run = api.wait_for_run("ingest_prefecture_exports", run_id, 600)
    assert run["state"] == "success"
    tries = {
        t["task_id"]: t["try_number"]
        for t in api.task_instances("ingest_prefecture_exports", run_id)
    }
    assert tries["load_landed_files"] >= 2, "the try whose connection died failed, then retried"
    _assert_each_file_loaded_once_and_whole(topology, landed)
