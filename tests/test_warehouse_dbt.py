"""The dbt warehouse, built with `dbt build` on DuckDB and on PostgreSQL from the same sample.

One build per engine (module-scoped): the sample's FIPD programmes of a handful of
départements (Corsica, overseas, dense and empty ones), a contrats de ville follow-up over three
years with a superseded file, and a file nobody can read. `dbt build` runs every model, data
test and unit test (contracts enforced on the marts); the tests then check what an analyst would
notice in the marts, that both engines agree, and that the five questions of the README's
"Querying the warehouse" section run and answer sensibly (on PostgreSQL as the analysts' role).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from vigie import tasks
from vigie.demo.sample_prefectures import SampleSummary, write_sample
from vigie.settings import Settings
from vigie.warehouse.connection import Warehouse

from tests.conftest import fresh_postgres_database, make_settings

YEAR = 2026  # the sample's "current" year: fixed, so the figures do not move with the clock
CHECK_YEAR = 2019  # a year whose below-target départements the sample knows
DEPARTEMENTS = ["2A", "2B", "48", "93", "974", "976"]
MARTS = [
    "dim_departement",
    "dim_commune",
    "dim_epci",
    "dim_qpv",
    "dim_zsp",
    "dim_contrat_de_ville",
    "fct_fipd_action",
    "bridge_fipd_action_qpv",
    "fipd_priority_share",
    "police_population_monthly",
    "contrats_de_ville",
    "data_freshness",
    "association_activity",
    "dim_structure",
    "data_coverage",
    "load_quality",
    "dim_indicateur",
    "dim_periode",
    "email_sends_weekly",
]

CONTRATS_HEADER = (
    "Département;Année;Id contrat;Nom du contrat;SIREN EPCI;Annexe PART;Date adoption plan;Nb QPV\n"
)
# CV-93-01 goes non -> en cours -> oui; 2019 is sent twice, the later file wins.
# 200057867 is Plaine Commune, an établissement public territorial: not an EPCI of the reference.
PLAINE_COMMUNE = "CV-93-01;Contrat de ville de Plaine Commune;200057867"
EST_ENSEMBLE = "CV-93-02;Contrat de ville Est Ensemble;;Oui;2017-06-30;19"
CONTRATS = {  # (file name, sending order): rows
    ("suivi_93_2018.csv", 1): f"93;2018;{PLAINE_COMMUNE};Non;;14\n93;2018;{EST_ENSEMBLE}\n",
    ("suivi_93_2019_v1.csv", 2): f"93;2019;{PLAINE_COMMUNE};Non;;14\n93;2019;{EST_ENSEMBLE}\n",
    ("suivi_93_2019_v2.csv", 3): f"93;2019;{PLAINE_COMMUNE};En cours;;14\n93;2019;{EST_ENSEMBLE}\n",
    (
        "suivi_93_2020.csv",
        4,
    ): f"93;2020;{PLAINE_COMMUNE};Oui;12/03/2020;14\n93;2020;{EST_ENSEMBLE}\n",
}

# The README's "Querying the warehouse" questions, verbatim (both engines run them below).
QUESTIONS = {
    "Which départements missed the 75 % target in 2019, and by how many euros?": """
SELECT code_departement, nom_departement,
       round(cast(share_located AS numeric), 3) AS share_located, gap_eur
FROM marts.fipd_priority_share
WHERE annee = 2019 AND status = 'below_target' AND code_departement <> 'FR'
ORDER BY gap_eur DESC, code_departement""",
    "How did the national priority share evolve, by both measures?": """
SELECT annee, montant_scope, round(cast(share_located AS numeric), 3) AS share_located,
       round(cast(share_beneficiaries AS numeric), 3) AS share_beneficiaries, status
FROM marts.fipd_priority_share
WHERE code_departement = 'FR'
ORDER BY annee""",
    "Which quartiers of Seine-Saint-Denis received the most FIPD prevention money in 2019?": """
SELECT q.code_qpv, q.nom_qpv, count(*) AS nb_actions, sum(b.montant_attribue) AS montant
FROM marts.bridge_fipd_action_qpv AS b
JOIN marts.dim_qpv AS q ON q.code_qpv = b.code_qpv
WHERE b.code_departement = '93' AND b.annee = 2019 AND b.in_scope
GROUP BY q.code_qpv, q.nom_qpv
ORDER BY montant DESC, q.code_qpv
LIMIT 10""",
    "How many contrats de ville carried their radicalisation-prevention plan, year by year?": """
SELECT annee, count(*) AS nb_contrats,
       sum(CASE WHEN plan_radicalisation = 'oui' THEN 1 ELSE 0 END) AS nb_avec_plan,
       sum(CASE WHEN is_newly_adopted THEN 1 ELSE 0 END) AS nb_nouveaux_plans
FROM marts.contrats_de_ville
GROUP BY annee
ORDER BY annee""",
    "Which senders had rows rejected, and when did each last send something?": """
SELECT source, sender, nb_deliveries, nb_quarantined, rows_loaded, rows_rejected, last_file_at
FROM marts.data_freshness
WHERE rows_rejected > 0 OR nb_quarantined > 0
ORDER BY rows_rejected DESC, sender""",
}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    return write_sample(
        tmp_path_factory.mktemp("sample") / "landing",
        current_year=YEAR,
        departements=DEPARTEMENTS,
    )


def _landing(summary: SampleSummary, target: Path) -> None:
    """The sample, the contrats follow-ups (mtimes in sending order) and an unreadable file."""
    for path in summary.files:
        dest = target / path.relative_to(summary.out_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(path.read_bytes())
        os.utime(dest, (path.stat().st_mtime, path.stat().st_mtime))
    folder = target / "prefectures" / "suivi"
    folder.mkdir(parents=True)
    for (name, order), rows in CONTRATS.items():
        (folder / name).write_text(CONTRATS_HEADER + rows, encoding="utf-8")
        stamp = datetime(2021, 1, order, tzinfo=UTC).timestamp()
        os.utime(folder / name, (stamp, stamp))
    (folder / "notes_reunion.csv").write_text("sujet;remarque\nbudget;à revoir\n", encoding="utf-8")


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this module (the conftest one is per test)."""
    with fresh_postgres_database("vigie_test_dbt") as url:
        yield url


def _build(summary: SampleSummary, root: Path, **env: str) -> Settings:
    """Reference, ingestion and `dbt build`, with dbt's target and logs under ``root``
    (the project's own target/ holds the manifest Airflow renders: leave it alone)."""
    _landing(summary, root / "landing")
    settings = make_settings(root, **env)
    tasks.refresh_reference(settings)
    tasks.ingest_prefectures("test-dbt", settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_TARGET_PATH", str(root / "dbt_target"))
        patch.setenv("DBT_LOG_PATH", str(root / "dbt_logs"))
        tasks.build_warehouse(settings)
    return settings


@pytest.fixture(scope="module")
def duckdb_built(sample, tmp_path_factory) -> Settings:
    return _build(sample, tmp_path_factory.mktemp("duckdb"))


@pytest.fixture(scope="module")
def postgres_built(sample, tmp_path_factory, pg_database) -> Settings:
    return _build(sample, tmp_path_factory.mktemp("postgres"), VIGIE_WAREHOUSE_URL=pg_database)


@pytest.fixture(params=["duckdb", "postgres"])
def built(request) -> Settings:
    return request.getfixturevalue(f"{request.param}_built")


def _frame(settings: Settings, sql: str, params: tuple = ()) -> pd.DataFrame:
    with Warehouse(settings).transaction() as tx:
        return tx.fetch_frame(sql, params)


def _rows(settings: Settings, sql: str, params: tuple = ()) -> list[tuple]:
    with Warehouse(settings).transaction() as tx:
        return tx.fetchall(sql, params)


def test_priority_share_has_every_departement_and_the_known_answers(built, sample) -> None:
    share = _frame(built, "SELECT * FROM marts.fipd_priority_share WHERE annee = ?", (CHECK_YEAR,))
    by_dep = share.set_index("code_departement")
    # Every département of the reference, Corsica as 2A/2B (never 20), plus the nation.
    assert len(by_dep) == 102 and {"2A", "2B", "971", "976", "FR"} <= set(by_dep.index)
    assert "20" not in by_dep.index
    below = sorted(d for d in DEPARTEMENTS if by_dep.loc[d, "status"] == "below_target")
    assert below == sorted(sample.below_target[CHECK_YEAR])
    # Départements the sample did not send are no_data, never passing.
    assert by_dep.loc["971", "status"] == "no_data" and pd.isna(by_dep.loc["971", "share_located"])
    # The national row is the sum of the départements' rows, and its share their ratio.
    deps = by_dep.drop(index="FR")
    national = by_dep.loc["FR"]
    assert float(national["montant_scope"]) == pytest.approx(float(deps["montant_scope"].sum()))
    assert national["share_located"] == pytest.approx(
        float(deps["montant_located"].sum()) / float(deps["montant_scope"].sum())
    )


def test_every_live_row_is_in_the_fact_table_once(built) -> None:
    loaded = _rows(
        built,
        "SELECT sum(rows_loaded) FROM audit.file_loads "
        "WHERE kind = 'fipd' AND status IN ('loaded', 'loaded_with_rejects')",
    )[0][0]
    facts = _rows(
        built, "SELECT count(*), count(DISTINCT source_file_sha256) FROM marts.fct_fipd_action"
    )
    assert facts[0][0] == loaded > 0
    assert facts[0][1] == len(DEPARTEMENTS) * 5  # one live file per département × year
    # The located measure counts exactly the in-scope actions naming a QPV or a ZSP.
    check = _rows(
        built,
        "SELECT count(*) FROM marts.fct_fipd_action WHERE counted_located <> "
        "CASE WHEN is_located THEN montant_attribue ELSE 0 END",
    )[0][0]
    assert check == 0


def test_contrats_de_ville_show_the_annex_status_over_time(built) -> None:
    rows = _rows(
        built,
        "SELECT annee, plan_radicalisation, plan_radicalisation_precedent, is_newly_adopted, "
        "source_file_name FROM marts.contrats_de_ville WHERE contrat_id = 'CV-93-01' "
        "ORDER BY annee",
    )
    assert [tuple(r) for r in rows] == [
        (2018, "non", None, False, "suivi_93_2018.csv"),
        (2019, "en_cours", "non", False, "suivi_93_2019_v2.csv"),  # the later 2019 file wins
        (2020, "oui", "en_cours", True, "suivi_93_2020.csv"),
    ]
    dim = _rows(
        built,
        "SELECT contrat_id, plan_radicalisation, premiere_annee, derniere_annee, nb_suivis, "
        "premiere_annee_plan_adopte FROM marts.dim_contrat_de_ville ORDER BY contrat_id",
    )
    assert [tuple(r) for r in dim] == [
        ("CV-93-01", "oui", 2018, 2020, 3, 2020),
        ("CV-93-02", "oui", 2018, 2020, 3, 2018),
    ]
    # The unknown EPCI SIREN only warns, and the failing rows are kept for whoever looks.
    stored = _rows(
        built,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = 'audit_test_failures' "
        "AND substr(table_name, 1, 30) = 'relationships_contrats_de_vill'",
    )
    failing = [
        t for (t,) in stored if _rows(built, f"SELECT count(*) FROM audit_test_failures.{t}")[0][0]
    ]
    assert len(failing) == 1, stored  # the code_departement relationship passes, the SIREN one not
    sirens = _rows(built, f"SELECT DISTINCT from_field FROM audit_test_failures.{failing[0]}")
    assert sirens == [("200057867",)]


def test_data_freshness_per_source_and_sender(built) -> None:
    fresh = _frame(built, "SELECT * FROM marts.data_freshness").set_index(["source", "sender"])
    audit = _frame(built, "SELECT sender, rows_loaded, rows_rejected, status FROM audit.file_loads")
    lists = {"departements", "communes", "epci", "qpv", "zsp"}
    assert set(fresh.index) == {("prefectures", d) for d in DEPARTEMENTS} | {
        ("prefectures", "unknown")
    } | {("reference", name) for name in lists}
    # Each reference list says when its content last changed, and how many rows it holds.
    epci = fresh.loc[("reference", "epci")]
    assert epci["channel"] == "reference" and not pd.isna(epci["last_load_at"])
    assert epci["rows_loaded"] == _rows(built, "SELECT count(*) FROM reference.epci")[0][0] > 1000
    row_93 = fresh.loc[("prefectures", "93")]
    mine = audit[audit["sender"] == "93"]
    assert row_93["nb_deliveries"] == 5 + 4  # five FIPD years, four follow-up files
    assert row_93["rows_loaded"] == mine["rows_loaded"].sum()
    assert row_93["rows_rejected"] == mine["rows_rejected"].sum()
    unknown = fresh.loc[("prefectures", "unknown")]
    assert (unknown["nb_quarantined"], unknown["rows_loaded"]) == (1, 0)
    assert pd.isna(unknown["last_load_at"]) and not pd.isna(unknown["last_file_at"])


def test_dimensions_hold_the_reference(built) -> None:
    deps = dict(
        _rows(
            built, "SELECT code_departement, nb_qpv_2015 + nb_qpv_2024 FROM marts.dim_departement"
        )
    )
    qpv = dict(
        _rows(
            built, "SELECT code_departement, count(*) FROM reference.qpv GROUP BY code_departement"
        )
    )
    assert len(deps) == 101 and all(deps[d] == qpv.get(d, 0) for d in deps)
    communes = dict(
        _rows(
            built,
            "SELECT code_commune, code_departement FROM marts.dim_commune "
            "WHERE code_commune IN ('2A004', '97411', '75056', '13055')",
        )
    )
    assert communes == {"2A004": "2A", "97411": "974", "75056": "75", "13055": "13"}
    grand_paris = _rows(
        built,
        "SELECT codes_departements, nom_epci FROM marts.dim_epci WHERE siren_epci = '200054781'",
    )
    assert grand_paris and {"75", "92", "93", "94"} <= set(grand_paris[0][0].split("|"))
    assert grand_paris[0][1] == "Métropole du Grand Paris"
    assert _rows(built, "SELECT count(*) FROM marts.dim_epci WHERE nom_epci IS NULL") == [(0,)]
    geographies = dict(
        _rows(
            built, "SELECT geographie, min(premiere_annee) FROM marts.dim_qpv GROUP BY geographie"
        )
    )
    assert geographies == {"2015": 2015, "2024": 2024}


def test_both_engines_give_the_same_marts(duckdb_built, postgres_built) -> None:
    for mart, key in [
        ("fipd_priority_share", "code_departement, annee"),
        ("contrats_de_ville", "code_departement, annee, contrat_id"),
        ("dim_departement", "code_departement"),
    ]:
        sql = f"SELECT * FROM marts.{mart} ORDER BY {key}"
        left, right = (
            _comparable(_frame(duckdb_built, sql)),
            _comparable(_frame(postgres_built, sql)),
        )
        assert len(left) == len(right) > 0, mart
        for a, b in zip(left, right, strict=True):
            assert a == b, (mart, a, b)


def _comparable(frame: pd.DataFrame) -> list[tuple]:
    """Rows as tuples of plain values: Decimal and float alike, nulls as None."""

    def plain(value: object) -> object:
        if (
            value is None
            or value is pd.NA
            or value is pd.NaT
            or (isinstance(value, float) and value != value)
        ):
            return None
        if hasattr(value, "as_tuple") or isinstance(value, float):
            return round(float(value), 9)
        if isinstance(value, pd.Timestamp):  # DuckDB's dates come back as Timestamps
            return value.date() if value.tzinfo is None and value == value.normalize() else value
        if hasattr(value, "item"):  # numpy scalars
            return plain(value.item())
        return value

    return [tuple(plain(v) for v in row) for row in frame.astype(object).itertuples(index=False)]


def test_every_mart_and_column_is_documented_and_typed(duckdb_built) -> None:
    target = Path(duckdb_built.landing_url).parent / "dbt_target"
    manifest = json.loads((target / "manifest.json").read_text())
    nodes = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    for name in MARTS:
        node = nodes[name]
        assert node["schema"] == "marts" and node["config"]["contract"]["enforced"], name
        assert len(node["description"]) > 40, name
        for column, spec in node["columns"].items():
            assert spec["description"] and spec["data_type"], (name, column)
            assert "(" in spec["description"] or "`" in spec["description"], (name, column)
    unit_tests = {n["name"] for n in manifest["unit_tests"].values()}
    assert {
        "status_and_gap_at_the_target_boundary",
        "shares_of_both_measures",
        "counted_amounts_follow_geography_scope_and_part_qpv",
        "qpv_boundary_year_is_a_setting",
    } <= unit_tests


def test_required_mart_columns_are_not_null_in_the_database(built) -> None:
    """The marts' required columns are NOT NULL constraints of the tables (enforced contracts),
    not dbt tests run after the table is published: a NULL fails the model's build and the
    previous table stays; an analyst's SQL client shows the columns as NOT NULL."""
    target = Path(built.landing_url).parent / "dbt_target"
    manifest = json.loads((target / "manifest.json").read_text())
    required = {
        (node["name"], column)
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"] in MARTS
        for column, spec in node["columns"].items()
        if any(c["type"] == "not_null" for c in spec.get("constraints") or [])
    }
    assert ("fct_fipd_action", "montant_attribue") in required and len(required) > 70
    nullable = {
        (table, column): flag
        for table, column, flag in _rows(
            built,
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = 'marts'",
        )
    }
    assert {key: nullable.get(key) for key in required} == dict.fromkeys(required, "NO")
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    redundant = [
        n["name"]
        for n in tests
        if n.get("test_metadata", {}).get("name") == "not_null"
        and (n["attached_node"] or "").split(".")[-1] in MARTS
        and not n["config"].get("where")  # "required when ..." stays a test
    ]
    assert redundant == []  # a not_null test on a constrained column is a node for nothing


def test_a_null_in_a_required_mart_column_fails_the_model_and_keeps_the_table(
    built, tmp_path, monkeypatch
) -> None:
    """What replaced the marts' not_null tests, in action: a model change that lets a NULL
    through fails that model's build with the column's name, and the table analysts read is
    the previous one, whole, without the NULL."""
    import shutil

    from dbt.cli.main import dbtRunner
    from vigie.warehouse.dbt_runner import dbt_environment

    project = tmp_path / "dbt_project"
    shutil.copytree(built.dbt_project_dir, project, ignore=shutil.ignore_patterns("target"))
    model = project / "models" / "marts" / "fct_fipd_action.sql"
    sql = model.read_text()
    assert "cast(porteur as varchar) as porteur," in sql
    model.write_text(
        sql.replace(
            "cast(porteur as varchar) as porteur,",
            "cast(case when numero_dossier = (select min(numero_dossier) from "
            "{{ ref('int_fipd_actions__current') }}) then null else porteur end as varchar) "
            "as porteur,",
        )
    )
    count = "SELECT count(*), count(porteur) FROM marts.fct_fipd_action"
    before = _rows(built, count)[0]
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "logs"))
    with dbt_environment(built):
        result = dbtRunner().invoke(
            [
                "run",
                "--select",
                "fct_fipd_action",
                "--project-dir",
                str(project),
                "--profiles-dir",
                str(project),
                "--target",
                built.warehouse_kind,
            ]
        )
    assert not result.success
    (failed,) = [r for r in result.result if r.status == "error"]
    assert failed.node.name == "fct_fipd_action"
    assert "porteur" in str(failed.message) and "null" in str(failed.message).lower()
    assert _rows(built, count)[0] == before and before[0] == before[1] > 0
    leftovers = _rows(
        built,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
        "AND (table_name LIKE ? OR table_name LIKE ?)",
        ("%dbt_tmp%", "%dbt_backup%"),
    )
    assert leftovers == []  # nothing half-built for analysts to stumble on


def test_descriptions_reach_the_analysts_sql_client(built) -> None:
    """persist_docs: the docs site's descriptions are the tables' and columns' comments."""
    if built.warehouse_kind == "postgres":
        sql = (
            "SELECT obj_description('marts.fipd_priority_share'::regclass), "
            "col_description('marts.fipd_priority_share'::regclass, 1)"
        )
    else:
        sql = (
            "SELECT t.comment, c.comment FROM duckdb_tables() AS t JOIN duckdb_columns() AS c "
            "ON c.table_oid = t.table_oid WHERE t.schema_name = 'marts' "
            "AND t.table_name = 'fipd_priority_share' AND c.column_name = 'code_departement'"
        )
    table, column = _rows(built, sql)[0]
    assert "part du FIPD" in table and "code département" in column


def test_the_readme_questions_run_and_answer(built, sample) -> None:
    answers = []
    with Warehouse(built).transaction() as tx:
        if built.warehouse_kind == "postgres":
            tx.execute("SET ROLE vigie_analyst")  # what an analyst may run, not a superuser
        for sql in QUESTIONS.values():
            answers.append(tx.fetch_frame(sql))
    below, national, quartiers, contrats, senders = answers
    assert sorted(below["code_departement"]) == sorted(sample.below_target[CHECK_YEAR])
    assert list(below["gap_eur"]) == sorted(below["gap_eur"], reverse=True)
    assert list(national["annee"]) == [2017, 2018, 2019, 2020, YEAR]
    assert 0 < len(quartiers) <= 10 and all(c.startswith("QP093") for c in quartiers["code_qpv"])
    assert contrats.astype(int).values.tolist() == [
        [2018, 2, 1, 1],
        [2019, 2, 1, 0],
        [2020, 2, 2, 1],
    ]
    assert "unknown" in set(senders["sender"])


def test_the_duckdb_memory_limit_binds_the_loader_and_dbt(tmp_path: Path) -> None:
    """VIGIE_DUCKDB_MEMORY_LIMIT caps both writers of the DuckDB file (beyond it DuckDB
    spills to disk): without it a 17-million-row police fetch held 12 GB of a worker. dbt runs
    while the loader's connection is open, as in ``tasks.build_warehouse``: DuckDB refuses a
    second connection of one process that differs in its configuration."""
    from dbt.cli.main import dbtRunner
    from vigie.warehouse.dbt_runner import dbt_environment

    settings = make_settings(tmp_path, VIGIE_DUCKDB_MEMORY_LIMIT="300MB")
    assert _rows(settings, "SELECT current_setting('memory_limit')") == [("286.1 MiB",)]
    project = str(settings.dbt_project_dir)
    args = [
        "show",
        "--inline",
        "select current_setting('memory_limit') as memory_limit",
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target",
        "duckdb",
        "--output",
        "json",
        "--quiet",
    ]
    with (
        Warehouse(settings).session(),  # the loader's connection, held open
        dbt_environment(settings),
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))
        patch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
        shown = dbtRunner().invoke(args)
    assert shown.success, shown.exception
    table = shown.result.results[0].agate_table
    assert [tuple(row) for row in table.rows] == [("286.1 MiB",)]
