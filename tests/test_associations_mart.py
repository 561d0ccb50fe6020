"""What ``marts.association_activity`` shows: live reports only, small counts about people
suppressed (threshold from VIGIE_SUPPRESSION_THRESHOLD), a second cell suppressed so the
``TOUS`` row cannot give a suppressed one back, and the sensitive count nowhere downstream.
And what ``marts.dim_structure`` holds: one row per structure that reported, corrections
counted once, nothing about people."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from vigie.contracts.validation import Context
from vigie.demo.sample_associations import write_association_sample
from vigie.ingest import association_loader as al
from vigie.ingest import batches
from vigie.reference.geography import load_reference
from vigie.settings import Settings
from vigie.warehouse.connection import Warehouse
from vigie.warehouse.dbt_runner import run_dbt

from tests.association_files import drop, ident, report_csv, report_json, report_xlsx, row
from tests.conftest import make_settings, query_frame

COLUMNS = (
    "reseau, nb_structures, nb_jeunes_accueillis, nb_familles_accompagnees, nb_actions_collectives"
)


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
    drop(
        landing,
        "marseille.xlsx",
        report_xlsx(ident(5, periode="2019-S1"), [row("13055", 9, 2, 1)]),
        datetime(2020, 2, 1),
    )


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
    "postgres": (
        "11",
        {
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
        },
    ),
    "duckdb": (
        "5",
        {
            ("93", "2019"): [
                ["ANPAEJ", "2", "150", "60", "4"],
                ["CNLAPS", "1", "7", "25", "2"],
                ["FNEPE", "1", "30", "8", "2"],
                ["TOUS", "4", "187", "93", "8"],
            ],
            ("13", "2019-S1"): [["ANPAEJ", "1", "9", "< 5", "1"], ["TOUS", "1", "9", "< 5", "1"]],
        },
    ),
}


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
    batches.refresh_reference(warehouse, load_reference())

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


STRUCTURE_COLUMNS = {
    "siret",
    "nom_structure",
    "reseau",
    "code_departement",
    "first_periode",
    "last_periode",
    "nb_reports",
    "last_received_at",
}
# Columns about individuals (docs/contracts/associations.md quarantines reports carrying them).
PERSONAL = {"nom", "prenom", "date_naissance", "telephone", "email", "adresse"}


def _expected_reports(sample) -> dict[str, set[str]]:
    """SIRET -> the périodes it reported, read from the sample's file names
    (``<siret>_<période>[_corrige].<ext>``): a correction is the same période again, and a
    report quarantined whole (a fault other than some bad rows) counts for nothing."""
    quarantined = {
        p for kind, paths in sample.invalid.items() if not kind.startswith("row_") for p in paths
    }
    periodes: dict[str, set[str]] = defaultdict(set)
    for path in sample.files:
        if path not in quarantined:
            siret, periode = path.stem.split("_")[:2]
            periodes[siret].add(periode)
    return periodes


def test_dim_structure_has_one_row_per_reporting_structure_without_personal_data(
    settings_on_both_engines: Settings, tmp_path: Path
) -> None:
    settings = settings_on_both_engines
    sample = write_association_sample(Path(settings.landing_url))
    warehouse = Warehouse(settings)
    al.ingest_reports(
        warehouse, settings.landing_url, Context(load_reference(), settings.qpv_2024_from_year)
    )
    batches.refresh_reference(warehouse, load_reference())
    # dim_departement too: the relationships test runs only when both its models are selected.
    _build(settings, tmp_path, "+dim_structure +dim_departement")

    expected = _expected_reports(sample)
    assert sample.corrected and all(p.stem.split("_")[0] in expected for p in sample.corrected)
    # Independently again, from the raw layer: reports per SIRET are its distinct périodes.
    raw = query_frame(
        settings,
        "SELECT siret, count(DISTINCT periode) AS n FROM raw.association_reports GROUP BY siret",
    )
    assert {r.siret: int(r.n) for r in raw.itertuples()} == {s: len(p) for s, p in expected.items()}

    mart = query_frame(settings, "SELECT * FROM marts.dim_structure ORDER BY siret")
    assert set(mart.columns) == STRUCTURE_COLUMNS and not set(mart.columns) & PERSONAL
    assert mart["siret"].is_unique
    assert {r.siret: int(r.nb_reports) for r in mart.itertuples()} == {
        s: len(p) for s, p in expected.items()
    }
    # A corrected report replaced its original: more files than reports for those structures.
    files: dict[str, int] = defaultdict(int)
    for path in sample.files:
        files[path.stem.split("_")[0]] += 1
    counted = dict(zip(mart["siret"], mart["nb_reports"], strict=True))
    corrected = {p.stem.split("_")[0] for p in sample.corrected}
    assert all(files[siret] > counted[siret] for siret in corrected)
    structures = {s.siret: s for s in sample.structures}
    for r in mart.itertuples():
        s = structures[r.siret]
        assert (r.nom_structure, r.reseau, r.code_departement) == (s.name, s.reseau, s.departement)
        assert (r.first_periode, r.last_periode) == (min(expected[r.siret]), max(expected[r.siret]))
    assert mart["last_received_at"].notna().all()
