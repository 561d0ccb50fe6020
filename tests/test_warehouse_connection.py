"""The warehouse as the Airflow connection ``vigie_warehouse`` (issue #21).

When the connection exists, the loaders, dbt and Cosmos use it; else ``VIGIE_WAREHOUSE_URL``;
else the embedded DuckDB file. The password is in no URL, no task argument (rendered or
serialized) and no log. Real environments, a real PostgreSQL database and a real Airflow run
(``vigie run``: every DAG through ``dag.test()``): no mocks.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from sqlalchemy.engine import make_url
from vigie.settings import (
    DEFAULT_WAREHOUSE_URL,
    WAREHOUSE_CONN_ID,
    Settings,
    load_settings,
    warehouse_conn_json,
)

from tests.conftest import PG_ADMIN, PROJECT, fresh_postgres_database

CONN_ENV = "AIRFLOW_CONN_VIGIE_WAREHOUSE"
# scheme://user:password@host: a URL holding credentials.
CREDENTIALS_IN_URL = re.compile(r"\w[\w+.-]*://[^\s/@:\"'\\]*:([^\s/@\"'\\]+)@")


@contextmanager
def environment(**values: str | None) -> Iterator[None]:
    """``os.environ`` with ``values`` set (None: removed), restored afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _settings(**env: str) -> Settings:
    """Settings from the process's environment plus ``env`` (also set in it, for Airflow)."""
    return load_settings({**os.environ, **env})


# --- Resolution: the connection, else the URL, else the embedded DuckDB file ------------------


def test_without_a_connection_the_url_then_the_embedded_duckdb_default(tmp_path: Path) -> None:
    with environment(**{CONN_ENV: None, "VIGIE_WAREHOUSE_CONN_TYPE": None}):
        default = load_settings({"VIGIE_HOME": str(tmp_path)})
        assert default.warehouse_url == DEFAULT_WAREHOUSE_URL
        target = default.warehouse_target()
        assert target.kind == "duckdb" and target.source == "VIGIE_WAREHOUSE_URL"
        assert target.duckdb_path == tmp_path / "data" / "warehouse.duckdb"
        assert default.declared_warehouse_kind == "duckdb" and default.warehouse_conn_type is None

        url = "postgresql://someone:url-secret@db.example:6543/wh"
        from_url = load_settings({"VIGIE_HOME": str(tmp_path), "VIGIE_WAREHOUSE_URL": url})
        target = from_url.warehouse_target()
        assert (target.kind, target.host, target.port, target.user, target.database) == (
            "postgres",
            "db.example",
            6543,
            "someone",
            "wh",
        )
        assert target.password == "url-secret"
        assert "url-secret" not in repr(target) and "url-secret" not in target.display
        assert "url-secret" not in target.url() and "url-secret" in target.url(hide_password=False)


@pytest.mark.parametrize(
    "value",
    [
        "postgres://conn_user:p%40ss%2Fw0rd@pg.example:5433/conn_db",
        json.dumps(
            {
                "conn_type": "postgres",
                "host": "pg.example",
                "port": 5433,
                "login": "conn_user",
                "password": "p@ss/w0rd",
                "schema": "conn_db",
            }
        ),
    ],
    ids=["uri", "json"],
)
def test_the_connection_wins_over_the_url(value: str, tmp_path: Path) -> None:
    with environment(**{CONN_ENV: value}):
        settings = _settings(VIGIE_HOME=str(tmp_path), VIGIE_WAREHOUSE_URL="duckdb:///x.duckdb")
        assert settings.warehouse_conn_type == "postgres"  # read from the variable, no Airflow
        target = settings.warehouse_target()
        assert target.source == f"Airflow connection {WAREHOUSE_CONN_ID}"
        assert (target.kind, target.host, target.port, target.user, target.database) == (
            "postgres",
            "pg.example",
            5433,
            "conn_user",
            "conn_db",
        )
        assert target.password == "p@ss/w0rd"
        assert settings.warehouse_kind == "postgres"
        env = settings.dbt_env()
        assert env["VIGIE_DBT_TARGET"] == "postgres" and env["VIGIE_PG_PASSWORD"] == "p@ss/w0rd"
        assert "p@ss" not in repr(target) and "p@ss" not in target.display


def test_a_duckdb_connection_names_the_file(tmp_path: Path) -> None:
    for conn, path in [
        ({"conn_type": "duckdb", "host": str(tmp_path / "a.duckdb")}, tmp_path / "a.duckdb"),
        ({"conn_type": "duckdb", "extra": {"path": "rel/b.duckdb"}}, tmp_path / "rel/b.duckdb"),
    ]:
        with environment(**{CONN_ENV: json.dumps(conn)}):
            settings = _settings(VIGIE_HOME=str(tmp_path))
            assert settings.warehouse_conn_type == "duckdb"
            assert settings.duckdb_path == path
            assert settings.dbt_env()["VIGIE_DUCKDB_PATH"] == str(path)


def test_a_connection_the_dags_were_not_told_about_is_an_error_not_a_second_warehouse(
    tmp_path: Path,
) -> None:
    """Cosmos chooses its profile at parse time from the declared type: loaders writing to a
    connection dbt does not read would split the warehouse in two."""
    value = json.dumps({"conn_type": "postgres", "host": "h", "login": "u", "schema": "d"})
    parsed_without = load_settings({"VIGIE_HOME": str(tmp_path)})  # before the connection
    with environment(**{CONN_ENV: value}):
        with pytest.raises(ValueError, match="VIGIE_WAREHOUSE_CONN_TYPE=postgres"):
            parsed_without.warehouse_target()
        told_duckdb = _settings(VIGIE_HOME=str(tmp_path), VIGIE_WAREHOUSE_CONN_TYPE="duckdb")
        assert told_duckdb.warehouse_conn_type == "postgres"  # the variable's own type wins
        # VIGIE_WAREHOUSE_CONN_ID empty: no connection at all (what `vigie demo` sets).
        alone = _settings(VIGIE_HOME=str(tmp_path), VIGIE_WAREHOUSE_CONN_ID="")
        assert alone.warehouse_target().kind == "duckdb" and alone.warehouse_conn_type is None
    with pytest.raises(ValueError, match="VIGIE_WAREHOUSE_CONN_TYPE"):
        load_settings({"VIGIE_WAREHOUSE_CONN_TYPE": "mysql"})
    with environment(**{CONN_ENV: "mysql://u:secret-x@h/d"}), pytest.raises(ValueError) as err:
        _settings()
    assert "secret-x" not in str(err.value)


def test_outside_a_task_a_connection_kept_in_airflow_falls_back_without_crashing(
    tmp_path: Path,
) -> None:
    """`make sql`, the CLI: no API server to ask; the URL then (a task would fail instead)."""
    with environment(**{CONN_ENV: None}):
        settings = load_settings(
            {"VIGIE_HOME": str(tmp_path), "VIGIE_WAREHOUSE_CONN_TYPE": "postgres"}
        )
        assert settings.declared_warehouse_kind == "postgres"
        assert settings.warehouse_target().kind == "duckdb"


def test_the_cosmos_profile_follows_the_declared_connection(tmp_path: Path) -> None:
    from cosmos.profiles import (
        DuckDBUserPasswordProfileMapping,
        PostgresUserPasswordProfileMapping,
    )
    from vigie.orchestration.warehouse_profile import warehouse_profile_config

    env: dict[str, str] = {}
    declared = load_settings({"VIGIE_HOME": str(PROJECT), "VIGIE_WAREHOUSE_CONN_TYPE": "postgres"})
    config = warehouse_profile_config(declared, env)  # no connection exists: parse time reads none
    mapping = config.profile_mapping
    assert isinstance(mapping, PostgresUserPasswordProfileMapping)
    assert mapping.conn_id == WAREHOUSE_CONN_ID and config.profiles_yml_filepath is None
    assert mapping.profile_args["schema"] == "public"
    # When a task runs: the password goes to dbt as an environment variable, also an empty one
    # (a server trusting the machine, as `make cluster`'s).
    for password in ("s3cret-x", ""):
        conn = {"conn_type": "postgres", "host": "h", "login": "u", "schema": "d"}
        with environment(**{CONN_ENV: json.dumps({**conn, "password": password})}):
            task_mapping = warehouse_profile_config(declared, {}).profile_mapping
            assert task_mapping is not None
            assert task_mapping.env_vars["COSMOS_CONN_POSTGRES_PASSWORD"] == password
            assert task_mapping.profile["password"] == (
                "{{ env_var('COSMOS_CONN_POSTGRES_PASSWORD') }}"
            )
            assert task_mapping.profile["dbname"] == "d"
    assert not any(key.startswith("VIGIE_PG_") for key in env)  # Cosmos passes the password
    assert env["VIGIE_FIPD_TARGET"] == repr(declared.fipd_target)

    duck = load_settings({"VIGIE_HOME": str(PROJECT), "VIGIE_WAREHOUSE_CONN_TYPE": "duckdb"})
    config = warehouse_profile_config(duck, {})
    assert isinstance(config.profile_mapping, DuckDBUserPasswordProfileMapping)
    assert config.target_name == "duckdb"

    env = {}
    url = "postgresql://u:url-pass@127.0.0.1/wh"
    alone = load_settings({"VIGIE_HOME": str(PROJECT), "VIGIE_WAREHOUSE_URL": url})
    config = warehouse_profile_config(alone, env)
    assert config.profile_mapping is None and config.target_name == "postgres"
    assert config.profiles_yml_filepath == PROJECT / "dbt_project" / "profiles.yml"
    assert env["VIGIE_PG_PASSWORD"] == "url-pass"  # the environment, never a task argument


def test_make_cluster_passes_the_connection_not_the_url() -> None:
    from vigie.demo.local_cluster import LocalCluster

    url = "postgresql://postgres:cluster-pass@127.0.0.1:5432/vigie_wh"
    cluster = LocalCluster(
        home=Path("/nonexistent"),
        metadata_url="postgresql+psycopg2://x",
        env={"VIGIE_WAREHOUSE_URL": url},
    )
    env = cluster.process_env()
    assert "VIGIE_WAREHOUSE_URL" not in env
    assert json.loads(env[CONN_ENV]) == {
        "conn_type": "postgres",
        "host": "127.0.0.1",
        "port": 5432,
        "login": "postgres",
        "password": "cluster-pass",
        "schema": "vigie_wh",
    }
    assert not any(CREDENTIALS_IN_URL.search(v) for k, v in env.items() if "WAREHOUSE" in k)


# --- A real run: the connection's database gets the rows; the password is nowhere ------------


@pytest.fixture(scope="module")
def warehouse_role() -> Iterator[tuple[str, str]]:
    """A fresh database owned by a role of its own with a password: (connection JSON, password)."""
    password = f"Wh-{uuid.uuid4().hex}"
    role = f"vigie_conn_{uuid.uuid4().hex[:8]}"
    with fresh_postgres_database("vigie_conn") as url:
        database = make_url(url).database
        admin = psycopg2.connect(**PG_ADMIN)
        admin.autocommit = True
        with admin.cursor() as cursor:
            # As in the compose stack (include/docker/postgres-init.sh): the owner may not create
            # roles; the analysts' group role exists already, and every dbt build grants it.
            cursor.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s", (password,))
            cursor.execute(
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = "
                "'vigie_analyst') THEN CREATE ROLE vigie_analyst NOLOGIN; END IF; END $$"
            )
            cursor.execute(f"ALTER DATABASE {database} OWNER TO {role}")
        try:
            conn = json.loads(
                warehouse_conn_json(load_settings({"VIGIE_WAREHOUSE_URL": url}).url_target())
            )
            yield json.dumps({**conn, "login": role, "password": password}), password
        finally:
            with admin.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
                cursor.execute(f"DROP ROLE IF EXISTS {role}")
            admin.close()


@pytest.fixture(scope="module")
def run_on_the_connection(
    warehouse_role: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict:
    """`vigie run` (every DAG through Airflow) with the warehouse as the connection only."""
    from vigie.demo.sample_prefectures import write_sample

    conn, password = warehouse_role
    tmp = tmp_path_factory.mktemp("conn_run")
    write_sample(tmp / "landing", current_year=2025, departements=["93", "13"])
    fallback = tmp / "url-fallback.duckdb"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIGIE_", "AIRFLOW"))},
        "VIGIE_LANDING_URL": str(tmp / "landing"),
        "VIGIE_OUTBOX_DIR": str(tmp / "outbox"),
        "VIGIE_GX_VALIDATE": "false",
        "VIGIE_WAREHOUSE_URL": f"duckdb:///{fallback}",  # must stay untouched
        "AIRFLOW_HOME": str(tmp / "airflow"),
        CONN_ENV: conn,
    }
    result = subprocess.run(
        [sys.executable, "-m", "vigie.cli", "run"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return {
        "conn": json.loads(conn),
        "password": password,
        "fallback": fallback,
        "airflow_home": tmp / "airflow",
        "output": result.stdout + result.stderr,
    }


@pytest.mark.slow
@pytest.mark.postgres
def test_the_loaders_and_dbt_write_the_connections_database(run_on_the_connection: dict) -> None:
    conn = run_on_the_connection["conn"]
    with (
        psycopg2.connect(
            host=conn["host"],
            port=conn["port"],
            user=conn["login"],
            password=conn["password"],
            dbname=conn["schema"],
        ) as con,
        con.cursor() as cur,
    ):
        cur.execute("SELECT count(*) FROM raw.prefecture_fipd_actions")  # a load task's rows
        assert cur.fetchone()[0] > 0
        cur.execute("SELECT count(*) FROM marts.fipd_priority_share")  # dbt's, through Cosmos
        assert cur.fetchone()[0] > 0
        cur.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname IN ('raw', 'marts')"
        )
        assert {row[0] for row in cur.fetchall()} == {conn["login"]}  # all through the role
    assert not run_on_the_connection["fallback"].exists()  # the URL setting was not used


@pytest.mark.slow
@pytest.mark.postgres
def test_the_password_is_in_no_rendered_argument_serialized_dag_nor_log(
    run_on_the_connection: dict,
) -> None:
    password = run_on_the_connection["password"]
    home: Path = run_on_the_connection["airflow_home"]
    db = sqlite3.connect(home / "airflow.db")
    try:
        rendered = db.execute(
            "SELECT task_id, rendered_fields FROM rendered_task_instance_fields "
            "WHERE dag_id = 'build_warehouse'"
        ).fetchall()
        serialized = db.execute(
            "SELECT dag_id, CAST(data AS TEXT), data_compressed IS NOT NULL FROM serialized_dag"
        ).fetchall()
    finally:
        db.close()
    assert rendered, "the warehouse DAG's tasks rendered their templated fields"
    assert any(task == "dbt_producer_watcher" for task, _ in rendered)
    for task, fields in rendered:
        assert password not in fields, task
        assert not CREDENTIALS_IN_URL.search(fields), (task, fields)
    assert {dag for dag, _, _ in serialized} >= {"build_warehouse", "ingest_prefecture_exports"}
    for dag, data, compressed in serialized:
        text = data or ""
        if compressed and not text:
            continue  # compressed rows are checked through the DagBag below
        assert password not in text, dag
        assert not CREDENTIALS_IN_URL.search(text), dag
    logs = [p for p in (home / "logs").rglob("*") if p.is_file()]
    assert logs, "the tasks wrote logs"
    for path in logs:
        assert password.encode() not in path.read_bytes(), path
    assert password not in run_on_the_connection["output"]


@pytest.mark.postgres
def test_the_serialized_warehouse_dag_holds_no_password(
    warehouse_role: tuple[str, str], tmp_path: Path
) -> None:
    """The DAG as the DAG processor serializes it, parsed with the connection's variable set."""
    conn, password = warehouse_role
    code = (
        "import json, sys\n"
        "import airflow.sdk\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "from airflow.serialization.serialized_objects import DagSerialization\n"
        "bag = DagBag(dag_folder=sys.argv[1])\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "dag = bag.dags['build_warehouse']\n"
        "mapping = dag.task_dict['dbt_producer_watcher'].profile_config.profile_mapping\n"
        "print(json.dumps({'mapping': [c.__name__ for c in type(mapping).__mro__],"
        " 'dag': DagSerialization.to_dict(dag)}, default=str))\n"
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIGIE_", "AIRFLOW_CONN"))},
        CONN_ENV: conn,
        "AIRFLOW_HOME": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-c", code, str(PROJECT / "dags" / "build_warehouse.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert "PostgresUserPasswordProfileMapping" in out["mapping"]
    text = json.dumps(out["dag"])
    assert password not in text and not CREDENTIALS_IN_URL.search(text)
