"""What ``marts.association_activity`` shows: live reports only, small counts about people
suppressed (threshold from VIGIE_SUPPRESSION_THRESHOLD), a second cell suppressed so the
``TOUS`` row cannot give a suppressed one back, and the sensitive count nowhere downstream."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from vigie import association_loading as al
from vigie import loading
from vigie.dbt import run_dbt
from vigie.reference import load_reference
from vigie.validation import Context
from vigie.warehouse import Warehouse

from tests.association_files import drop, ident, report_csv, report_json, report_xlsx, row
from tests.conftest import make_settings

COLUMNS = "reseau, nb_structures, nb_jeunes_accueillis, nb_familles_accompagnees, " \
    "nb_actions_collectives"  # fmt: skip


def _reports(landing: Path) -> None:
    """93 / 2019: two ANPAEJ, one FNEPE, one CNLAPS (corrected once); 13 / 2019-S1: one PAEJ."""

    def one(n, reseau, jeunes, familles, kind="xlsx", when=datetime(2020, 2, 1)):
        identification = ident(n, reseau=reseau, code_departement="93")
        rows = [row("93066", jeunes, familles, 2, nb_situations_radicalisation_orientees=3)]
        if kind == "xlsx":
            data = report_xlsx(identification, rows)
        elif kind == "csv":
            data = report_csv(identification, rows, 1)
        else:
            data = report_json(identification, rows)
        drop(landing, f"{n}_{jeunes}.{kind}", data, when)

    one(1, "ANPAEJ", 100, 40)
    one(2, "ANPAEJ", 50, 20, "csv")
    one(3, "FNEPE", 30, 8, "json")
    one(4, "CNLAPS", 400, 400, when=datetime(2020, 1, 5))  # superseded by the next one
    one(4, "CNLAPS", 7, 25, "csv", when=datetime(2020, 3, 1))
    drop(landing, "marseille.xlsx", report_xlsx(
        ident(5, periode="2019-S1"), [row("13055", 9, 2, 1)]), datetime(2020, 2, 1))  # fmt: skip


def _build(settings, tmp_path: Path, select: str) -> None:
    # Own target and log paths: the project's target/ (the Airflow manifest) stays untouched.
    target, logs = str(tmp_path / "dbt_target"), str(tmp_path / "dbt_logs")
    args = ["build", "--select", select, "--indirect-selection", "cautious"]
    run_dbt([*args, "--target-path", target, "--log-path", logs], settings)


def _mart(settings, dep: str, periode: str) -> list[list]:
    with Warehouse(settings).transaction() as tx:
        frame = tx.fetch_frame(
            f"SELECT {COLUMNS} FROM marts.association_activity "
            "WHERE code_departement = ? AND periode = ? ORDER BY reseau",
            [dep, periode],
        )
    return [[str(v) for v in r] for r in frame.values.tolist()]


# The rule with the default threshold (11) on PostgreSQL, and with the setting changed to 5 on
# DuckDB: one dbt build each (a build costs seconds), both engines, both paths of the setting.
EXPECTED = {
    "postgres": ("11", {
        ("93", "2019"): [
            # CNLAPS's 7 young people are below 11; the smallest other cell (FNEPE's 30) goes
            # too, or 187 - 150 - 30 would give 7 back. Same for FNEPE's 8 families and
            # CNLAPS's 25.
            ["ANPAEJ", "2", "150", "60", "4"],
            ["CNLAPS", "1", "< 11", "< 11", "2"],
            ["FNEPE", "1", "< 11", "< 11", "2"],
            ["TOUS", "4", "187", "93", "8"],
        ],
        # One structure alone below the threshold: its TOUS row is suppressed with it.
        ("13", "2019-S1"): [
            ["ANPAEJ", "1", "< 11", "< 11", "1"],
            ["TOUS", "1", "< 11", "< 11", "1"],
        ],
    }),
    "duckdb": ("5", {
        ("93", "2019"): [
            ["ANPAEJ", "2", "150", "60", "4"],
            ["CNLAPS", "1", "7", "25", "2"],
            ["FNEPE", "1", "30", "8", "2"],
            ["TOUS", "4", "187", "93", "8"],
        ],
        ("13", "2019-S1"): [["ANPAEJ", "1", "9", "< 5", "1"], ["TOUS", "1", "9", "< 5", "1"]],
    }),
}  # fmt: skip


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_the_mart_suppresses_small_counts_and_protects_them_from_the_total(
    backend: str, tmp_path: Path, monkeypatch, request
) -> None:
    threshold, expected = EXPECTED[backend]
    env = {"VIGIE_SUPPRESSION_THRESHOLD": threshold}
    if backend == "postgres":
        env["VIGIE_WAREHOUSE_URL"] = request.getfixturevalue("pg_url")
    settings = make_settings(tmp_path, **env)
    # dbt reads the setting from the environment (vigie.settings.Settings.dbt_env).
    monkeypatch.setenv("VIGIE_SUPPRESSION_THRESHOLD", threshold)
    _reports(Path(settings.landing_url))
    ctx = Context(load_reference(), settings.qpv_2024_from_year)
    warehouse = Warehouse(settings)
    al.ingest_reports(warehouse, settings.landing_url, ctx)
    with warehouse.transaction() as tx:
        statuses = tx.fetchall("SELECT status, count(*) FROM audit.file_loads GROUP BY status")
    assert sorted(statuses) == [("loaded", 5), ("superseded", 1)]
    loading.refresh_reference(warehouse, load_reference())

    _build(settings, tmp_path, "+association_activity stg_reference__departements")

    for (dep, periode), rows in expected.items():
        assert _mart(settings, dep, periode) == rows, (dep, periode)
    # The sensitive count stays in the raw layer: no other relation has that column.
    with warehouse.transaction() as tx:
        holders = tx.fetchall(
            "SELECT DISTINCT table_schema FROM information_schema.columns "
            "WHERE column_name = 'nb_situations_radicalisation_orientees'"
        )
    assert holders == [("raw",)]
