"""Shared fixtures: isolated Airflow home, settings per test, a fresh PostgreSQL database."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from vigie.settings import SOURCE_TREE_ROOT, Settings, load_settings

# Airflow must never touch the developer's .airflow/ from the tests: point it at a scratch home
# before anything imports airflow.
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="vigie-test-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(SOURCE_TREE_ROOT / "dags")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
os.environ["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] = "False"
for key in [k for k in os.environ if k.startswith(("AIRFLOW_VAR_", "VIGIE_"))]:
    if key != "VIGIE_REQUIRE_POSTGRES":
        del os.environ[key]

PROJECT = SOURCE_TREE_ROOT
PG_ADMIN = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "postgres"}


def make_settings(tmp_path: Path, **overrides: str) -> Settings:
    """Settings for a test: its own landing zone, warehouse and outbox under ``tmp_path``."""
    env = {
        "VIGIE_HOME": str(PROJECT),
        "VIGIE_LANDING_URL": str(tmp_path / "landing"),
        "VIGIE_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "VIGIE_OUTBOX_DIR": str(tmp_path / "outbox"),
    }
    env.update(overrides)
    return load_settings(env)


def _postgres_available() -> bool:
    try:
        import psycopg2

        psycopg2.connect(connect_timeout=3, **PG_ADMIN).close()
        return True
    except Exception:
        return False


@contextmanager
def fresh_postgres_database(prefix: str = "vigie_test") -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped on exit; yields its URL.

    Skips when no server answers, unless VIGIE_REQUIRE_POSTGRES=1 (CI), where it fails.
    """
    if not _postgres_available():
        if os.environ.get("VIGIE_REQUIRE_POSTGRES") == "1":
            pytest.fail("PostgreSQL on 127.0.0.1:5432 is required (VIGIE_REQUIRE_POSTGRES=1)")
        pytest.skip("no PostgreSQL server on 127.0.0.1:5432")
    import psycopg2

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(**PG_ADMIN)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def rows_93() -> list[dict]:
    """Four actions of Seine-Saint-Denis in 2019, with real codes from the reference."""
    from vigie.reference.geography import load_reference

    ref = load_reference()
    qpv = ref.qpv[(ref.qpv.code_departement == "93") & (ref.qpv.geographie == "2015")]
    communes = qpv["codes_communes"].str.split("|").explode()
    zsp = ref.zsp[ref.zsp.code_departement == "93"]["code_zsp"].iloc[0]
    base = {"code_departement": "93", "annee": 2019, "zsp": "", "part_qpv": None}
    return [
        {
            **base,
            "numero_dossier": "2019-93-001",
            "porteur": "Association Rebonds 93",
            "intitule_action": "Chantiers éducatifs; été",
            "programme": "D",
            "nature": "prevention_jeunes",
            "montant_demande": 15000.0,
            "montant_attribue": 12500.5,
            "date_attribution": date(2019, 3, 14),
            "code_commune": communes.iloc[0],
            "codes_qpv": list(qpv["code_qpv"].iloc[:2]),
        },
        {
            **base,
            "numero_dossier": "2019-93-002",
            "porteur": "Commune",
            "intitule_action": "Caméras du centre-ville",
            "programme": "D",
            "nature": "videoprotection",
            "montant_demande": None,
            "montant_attribue": 30000.0,
            "date_attribution": None,
            "code_commune": communes.iloc[1],
            "codes_qpv": [],
        },
        {
            **base,
            "numero_dossier": "2019-93-003",
            "porteur": "Maison des familles",
            "intitule_action": 'Groupe de parole "parents"',
            "programme": "R",
            "nature": "prevention_radicalisation",
            "montant_demande": 8000.0,
            "montant_attribue": 8000.0,
            "date_attribution": date(2019, 6, 1),
            "code_commune": "",
            "codes_qpv": [],
            "zsp": zsp,
        },
        {
            **base,
            "numero_dossier": "2019-93-004",
            "porteur": "France Victimes 93",
            "intitule_action": "Permanences d'aide aux victimes",
            "programme": "D",
            "nature": "aide_aux_victimes",
            "montant_demande": 4000.0,
            "montant_attribue": 4000.0,
            "date_attribution": date(2019, 9, 30),
            "code_commune": communes.iloc[0],
            "codes_qpv": [],
            "part_qpv": 0.4,
        },
    ]


@pytest.fixture(params=["duckdb", "postgres"])
def settings_on_both_engines(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings on a fresh DuckDB file, then on a fresh PostgreSQL database.

    Great Expectations has its own tests (tests/test_expectations.py): off here, for speed.
    """
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        return make_settings(tmp_path, VIGIE_WAREHOUSE_URL=url, VIGIE_GX_VALIDATE="false")
    return make_settings(tmp_path, VIGIE_GX_VALIDATE="false")


def query_frame(settings: Settings, sql: str):
    """The result of ``sql`` on the settings' warehouse, as a DataFrame."""
    from vigie.warehouse.connection import Warehouse

    with Warehouse(settings).transaction() as tx:
        return tx.fetch_frame(sql)
