"""The analysts' PostgreSQL role: reads the marts, nothing else, and the project sets it up itself.

`dbt build` ends with the `grant_analyst_access` hook (dbt_project/macros), so no manual step is
needed after a deployment or a rebuild (dbt recreates the mart tables, which drops grants). The
test logs in as a real analyst (a login role member of ``vigie_analyst``), not as a superuser
pretending.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import errors
from sqlalchemy.engine import make_url
from vigie import tasks
from vigie.settings import Settings
from vigie.warehouse.dbt_runner import run_dbt

from tests.conftest import PG_ADMIN, make_settings
from tests.test_warehouse_dbt import pg_database  # noqa: F401  (a module-scoped fixture)

ROLE = "vigie_analyst"
DENIED = [
    "raw.prefecture_fipd_actions",
    "audit.file_loads",
    "audit.load_rejects",
    "reference.departements",
    "staging.stg_reference__departements",
]


@pytest.fixture(scope="module")
def warehouse(pg_database: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:  # noqa: F811
    """Raw, audit and reference tables, and the département dimension, built by dbt."""
    root = tmp_path_factory.mktemp("analyst")
    settings = make_settings(root, VIGIE_WAREHOUSE_URL=pg_database)
    tasks.refresh_reference(settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_TARGET_PATH", str(root / "dbt_target"))
        patch.setenv("DBT_LOG_PATH", str(root / "dbt_logs"))
        # Only the dimension and its parents (tests touching other models stay out).
        run_dbt(
            ["build", "--select", "+dim_departement", "--indirect-selection", "cautious"], settings
        )
    return settings


@pytest.fixture
def analyst(warehouse: Settings) -> Iterator[psycopg2.extensions.connection]:
    """A connection as a fresh login role that is a member of the analysts' role."""
    name = f"vigie_test_analyst_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(**PG_ADMIN)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {name} LOGIN IN ROLE {ROLE}")
    database = make_url(warehouse.warehouse_url).database
    connection = psycopg2.connect(host="127.0.0.1", port=5432, user=name, dbname=database)
    connection.autocommit = True
    try:
        yield connection
    finally:
        connection.close()
        with admin.cursor() as cursor:
            cursor.execute(f"DROP ROLE IF EXISTS {name}")
        admin.close()


def _count(connection: psycopg2.extensions.connection, table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def test_analyst_reads_the_marts_and_nothing_else(analyst) -> None:
    assert _count(analyst, "marts.dim_departement") == 101
    for table in DENIED:
        with pytest.raises(errors.InsufficientPrivilege):
            _count(analyst, table)
    # Test failures stored by dbt may quote raw values: not for analysts either.
    with analyst.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'audit_test_failures' LIMIT 1"
        )
        assert cursor.fetchone() is None  # information_schema hides what the role cannot use
    # Read-only: no writing into the marts, no new tables there.
    with analyst.cursor() as cursor, pytest.raises(errors.InsufficientPrivilege):
        cursor.execute("DELETE FROM marts.dim_departement")
    with analyst.cursor() as cursor, pytest.raises(errors.InsufficientPrivilege):
        cursor.execute("CREATE TABLE marts.mine (x integer)")


def test_setup_is_idempotent_and_takes_back_stray_grants(warehouse, analyst) -> None:
    admin = psycopg2.connect(**{**PG_ADMIN, "dbname": make_url(warehouse.warehouse_url).database})
    admin.autocommit = True
    with admin.cursor() as cursor:  # someone "helpfully" opened the raw rows to analysts
        cursor.execute(f"GRANT USAGE ON SCHEMA raw TO {ROLE}")
        cursor.execute(f"GRANT SELECT ON raw.prefecture_fipd_actions TO {ROLE}")
    admin.close()
    assert _count(analyst, "raw.prefecture_fipd_actions") == 0  # the stray grant works...
    root = Path(warehouse.landing_url).parent
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_TARGET_PATH", str(root / "dbt_target"))
        patch.setenv("DBT_LOG_PATH", str(root / "dbt_logs"))
        for _ in range(2):  # ...until the project's setup runs again (twice: idempotent)
            run_dbt(["run-operation", "grant_analyst_access"], warehouse)
    with pytest.raises(errors.InsufficientPrivilege):
        _count(analyst, "raw.prefecture_fipd_actions")
    assert _count(analyst, "marts.dim_departement") == 101
