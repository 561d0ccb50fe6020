"""Police-population rows into the warehouse (DuckDB and PostgreSQL) and the monthly mart.

Real local HTTP server, real warehouse, real dbt: a revision keeps history and the latest wins
in the mart; an unknown indicator is stored and reported; the CSV fallback gives the same rows
as the API for the same data.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from vigie import tasks
from vigie.contracts.police_population import FIELDS
from vigie.demo import sample_police
from vigie.demo.police_api_server import PoliceApiServer, small_frame
from vigie.ingest import police_loader
from vigie.ingest.police_api import ApiConfig
from vigie.warehouse.connection import Warehouse

from tests.conftest import make_settings

TOKEN = "loading-test-token"
TODAY = date(2025, 5, 20)
KEY = {
    "code_departement": "2A",
    "mois": "2025-03",
    "force": "GN",
    "indicateur": "delegues_cohesion",
}


@pytest.fixture(params=["duckdb", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "postgres":
        return make_settings(tmp_path, VIGIE_WAREHOUSE_URL=request.getfixturevalue("pg_url"))
    return make_settings(tmp_path)


@pytest.fixture
def server() -> Iterator[PoliceApiServer]:
    with PoliceApiServer(small_frame(), token=TOKEN) as running:
        yield running


def _config(server: PoliceApiServer) -> ApiConfig:
    return ApiConfig(base_url=server.url, token=TOKEN, page_size=40, sleep=lambda s: None)


def _query(settings, sql: str) -> pd.DataFrame:
    with Warehouse(settings).transaction() as tx:
        return tx.fetch_frame(sql)


def _build_mart(settings) -> None:
    """The mart, its parents and their tests (cautious: not the prefecture models' tests)."""
    from vigie.warehouse.dbt_runner import run_dbt

    selection = "+police_population_monthly stg_reference__departements"
    run_dbt(["build", "--select", selection, "--indirect-selection", "cautious"], settings)


def _where(key: dict[str, str]) -> str:
    return " AND ".join(f"{k} = '{v}'" for k, v in key.items())


def test_revision_keeps_history_and_the_latest_wins_in_the_mart(server, settings, caplog) -> None:
    first = police_loader.run_api("run-1", settings, _config(server), today=TODAY)
    assert first["rows_inserted"] == 168
    # The API publishes a revision of one value, and a new indicator, between two fetches.
    revised = small_frame()
    mask = (revised[list(KEY)] == pd.Series(KEY)).all(axis=1)
    assert mask.sum() == 1
    old_value = int(revised.loc[mask, "valeur"].iloc[0])
    revision = revised[mask].assign(valeur=old_value - 1, publie_le="2025-05-12T09:00:00+02:00")
    novel = small_frame(("93",), ("2025-04",), ("drones_de_surveillance",))
    server.set_frame(pd.concat([revised, revision, novel], ignore_index=True))
    caplog.set_level(logging.WARNING, logger="vigie.ingest.police_loader")
    second = police_loader.run_api("run-2", settings, _config(server), today=TODAY)
    assert second["rows_inserted"] == 1 + 2  # the revision and the new indicator (2 forces)
    assert second["unknown_indicators"] == {"drones_de_surveillance": 2}
    assert "unknown indicator(s) stored" in caplog.text and "drones_de_surveillance" in caplog.text
    third = police_loader.run_api("run-3", settings, _config(server), today=TODAY)
    assert third["rows_inserted"] == 0  # same publications again: nothing new

    history = _query(
        settings,
        f"""
        SELECT valeur, dag_run_id
        FROM raw.police_population_indicators
        WHERE {_where(KEY)}
        ORDER BY publie_le
        """,
    )
    assert history["valeur"].tolist() == [old_value, old_value - 1]
    assert history["dag_run_id"].tolist() == ["run-1", "run-2"]

    tasks.refresh_reference(settings)
    _build_mart(settings)
    mart = _query(settings, "SELECT * FROM marts.police_population_monthly")
    assert len(mart) == 168 + 2  # one row per key: history is not counted twice
    row = mart[
        (mart.code_departement == "2A")
        & (mart.force == "GN")
        & (mart.indicateur == KEY["indicateur"])
        & (pd.to_datetime(mart.mois) == pd.Timestamp("2025-03-01"))
    ]
    assert row["valeur"].tolist() == [old_value - 1] and row["nb_publications"].tolist() == [2]
    unknown = mart[mart.indicateur == "drones_de_surveillance"]
    assert len(unknown) == 2 and not unknown["indicateur_connu"].any()


def test_evolution_is_a_fraction_of_last_years_value(settings, tmp_path) -> None:
    frame = small_frame(("93",), ("2024-04", "2025-04"), ("intervenants_sociaux",))
    frame["valeur"] = pd.array([8, 6, 10, 6], dtype="Int64")  # PN 8 -> 6, GN 10 -> 6
    with PoliceApiServer(frame, token=TOKEN) as server:
        police_loader.run_api("run-1", settings, _config(server), today=TODAY)
    tasks.refresh_reference(settings)
    _build_mart(settings)
    mart = _query(
        settings,
        """
        SELECT force, valeur, valeur_annee_precedente, evolution
        FROM marts.police_population_monthly
        WHERE valeur_annee_precedente IS NOT NULL
        ORDER BY force
        """,
    )
    assert mart["force"].tolist() == ["GN", "PN"]
    assert mart["evolution"].astype(float).round(4).tolist() == [-0.4, -0.25]


def test_csv_fallback_gives_the_same_rows_as_the_api(server, settings) -> None:
    api = police_loader.run_api("run-api", settings, _config(server), today=TODAY)
    paths = sample_police.write_police_csv(settings.landing_url, small_frame())
    csv = police_loader.run_csv("run-csv", settings)
    assert csv["statuses"] == {"loaded": 1} and csv["rows_loaded"] == api["rows_inserted"] == 168
    assert not paths[0].exists()  # archived
    raw = _query(settings, "SELECT * FROM raw.police_population_indicators")

    def canonical(source: str) -> list[tuple]:
        part = raw[raw["source"] == source][list(FIELDS)].copy()
        part["publie_le"] = pd.to_datetime(part["publie_le"], utc=True)
        part["valeur"] = part["valeur"].astype("Float64")
        rows = part.astype(object).where(part.notna(), None).itertuples(index=False)
        return sorted(tuple(r) for r in rows)

    assert canonical("csv") == canonical("api")
    lineage = raw[raw["source"] == "csv"]
    assert set(lineage["source_file_name"]) == {"indicateurs_2025.csv"}
    assert sorted(lineage["source_row"]) == list(range(2, 170))
    assert lineage["request_url"].isna().all()
    # Same bytes again: a duplicate, nothing loaded twice.
    sample_police.write_police_csv(settings.landing_url, small_frame())
    assert police_loader.run_csv("run-csv-2", settings)["statuses"] == {"duplicate": 1}
    assert len(_query(settings, "SELECT 1 FROM raw.police_population_indicators")) == 336


def test_csv_fallback_follows_the_common_file_rules(settings) -> None:
    folder = Path(settings.landing_url) / "police_population"
    folder.mkdir(parents=True)
    lines = ["Département;Mois;Force;Indicateur;Valeur;Date publication"]
    lines += [
        f"93;2025-{m:02d};Police nationale;intervenants_sociaux;{m};2025-{m + 1:02d}-12"
        for m in range(1, 11)
    ]
    lines += ["20;2025-11;PN;intervenants_sociaux;3;2025-12-12", "93;2025-13;GN;x;1;2026-01-12"]
    lines += ["93;2025-12;gn;drones;1 200;2026-01-12T09:00:00+01:00"]
    (folder / "export.csv").write_bytes("\n".join(lines).encode("cp1252"))
    report = police_loader.run_csv("run-1", settings)
    assert report["statuses"] == {"loaded_with_rejects": 1}
    assert report["rows_loaded"] == 11 and report["rows_rejected"] == 2
    assert report["unknown_indicators"] == {"drones": 1}
    rejects = _query(settings, "SELECT column_name, reason FROM audit.load_rejects")
    assert sorted(map(tuple, rejects.values.tolist())) == [
        ("code_departement", "invalid_departement"),
        ("mois", "invalid_mois"),
    ]
    raw = _query(settings, "SELECT * FROM raw.police_population_indicators ORDER BY source_row")
    assert raw["force"].tolist()[-1] == "GN" and raw["valeur"].tolist()[-1] == 1200
    assert set(raw["source"]) == {"csv"}
