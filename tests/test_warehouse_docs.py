"""The warehouse explains itself: an analyst answers real questions from the marts alone.

One warehouse per engine (module-scoped) with the three sources: FIPD exports of a few
départements over two years, a year of association reports, a year of police-population
indicators from the CSV fallback; then `dbt build` and the weekly source-freshness check.
The tests check what the marts that describe the warehouse say (coverage, load quality, the
indicator and period dimensions, freshness, the FIPD scope, the e-mail log's counts), that
they agree with the Python declarations they mirror, and that the project follows its own
rules (primary keys on the staging models, enforced contracts on every mart, documented
columns, the e-mails declared as exposures).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
import yaml
from vigie import tasks
from vigie.alerts import checks
from vigie.contracts import police_population
from vigie.demo import sample_police
from vigie.demo.police_api_server import small_frame
from vigie.demo.sample_associations import write_association_sample
from vigie.demo.sample_prefectures import write_sample
from vigie.ingest import police_loader
from vigie.settings import SOURCE_TREE_ROOT, Settings
from vigie.warehouse.connection import Warehouse

from tests.conftest import fresh_postgres_database, make_settings

DEPARTEMENTS = ["09", "93", "2A", "974"]
FIPD_YEARS = [2019, 2020]
ASSOCIATION_YEAR = 2025
POLICE_MONTHS = tuple(f"2024-{m:02d}" for m in range(1, 13))
POLICE_DEPARTEMENTS = ("971", "93")  # small_frame leaves one value of its first one null
STAGING_KEYS = {  # model -> the key its primary-key test covers
    "stg_prefectures__fipd_actions": ["source_file_sha256", "source_row"],
    "stg_audit__load_rejects": [
        "source_file_sha256",
        "source_row",
        "column_name",
        "reason",
        "rejected_at",
    ],
    "stg_audit__file_loads": ["source_file_sha256", "source_file_path", "received_at"],
    "stg_police__indicators": ["publication_id"],
}
DBT_PROJECT = SOURCE_TREE_ROOT / "dbt_project"

# The README's questions on what the warehouse holds, verbatim (run below as the analysts'
# role on PostgreSQL).
QUESTIONS = {
    "Why is 09 missing in 2019?": """
SELECT source, kind, periode, status, missing_detail, nb_files, rows_loaded, rows_rejected,
       last_received_at
FROM marts.data_coverage
WHERE code_departement = '09' AND annee = 2019
ORDER BY source, kind, periode""",
    "Which association reports of the last complete période are missing, per département?": """
SELECT c.code_departement, c.periode, c.nb_expected, c.nb_present, c.missing_detail
FROM marts.data_coverage AS c
JOIN marts.dim_periode AS p ON p.periode = c.periode
WHERE c.source = 'associations' AND p.is_complete AND c.nb_present < c.nb_expected
ORDER BY c.nb_expected - c.nb_present DESC, c.code_departement, c.periode""",
    "What do the prefectures' files get rejected for?": """
SELECT source, column_name, reason, sum(nb_files) AS nb_files, sum(rows_rejected) AS rows_rejected
FROM marts.load_quality
GROUP BY source, column_name, reason
ORDER BY rows_rejected DESC, source, column_name, reason""",
    "Which police indicators fell in 93, and what counts as a fall?": """
SELECT m.mois, m.force, i.libelle, m.valeur_annee_precedente, m.valeur, m.evolution,
       i.regle_baisse
FROM marts.police_population_monthly AS m
JOIN marts.dim_indicateur AS i ON i.indicateur = m.indicateur
WHERE m.code_departement = '93'
  AND ((m.evolution <= i.seuil_baisse AND m.valeur_annee_precedente >= i.valeur_minimum)
       OR (i.baisse_a_zero AND m.valeur = 0 AND m.valeur_annee_precedente > 0))
ORDER BY m.mois, m.force, i.ordre""",
    "Is each source fresh, by its own rule?": """
SELECT DISTINCT source, freshness_status, freshness_status_since, freshness_detail
FROM marts.data_freshness
WHERE freshness_status IS NOT NULL
ORDER BY source""",
}


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    with fresh_postgres_database("vigie_test_docs") as url:
        yield url


def _build(root: Path, **env: str) -> Settings:
    """The three sources ingested, `dbt build`, the source-freshness check; dbt's target and
    logs under ``root`` (the project's own target/ holds the manifest Airflow renders)."""
    from vigie.contracts.validation import Context
    from vigie.ingest import association_loader as al
    from vigie.reference.geography import load_reference

    settings = make_settings(root, VIGIE_GX_VALIDATE="false", **env)
    landing = Path(settings.landing_url)
    write_sample(landing, departements=DEPARTEMENTS, years=FIPD_YEARS)
    reports = write_association_sample(root / "associations_sample", year=ASSOCIATION_YEAR)
    for path in reports.files:
        target = landing / path.relative_to(root / "associations_sample")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    sample_police.write_police_csv(
        landing, small_frame(departements=POLICE_DEPARTEMENTS, months=POLICE_MONTHS)
    )
    tasks.refresh_reference(settings)
    tasks.ingest_prefectures("test-docs", settings)
    context = Context(load_reference(settings.reference_dir), settings.qpv_2024_from_year)
    al.ensure_schema(Warehouse(settings))
    al.ingest_reports(Warehouse(settings), settings.landing_url, context, "test-docs")
    police_loader.run_csv("test-docs", settings)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_TARGET_PATH", str(root / "dbt_target"))
        patch.setenv("DBT_LOG_PATH", str(root / "dbt_logs"))
        tasks.build_warehouse(settings)
        tasks.check_source_freshness(settings)
    return settings


@pytest.fixture(scope="module")
def duckdb_built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return _build(tmp_path_factory.mktemp("docs_duckdb"))


@pytest.fixture(scope="module")
def postgres_built(tmp_path_factory: pytest.TempPathFactory, pg_database: str) -> Settings:
    return _build(tmp_path_factory.mktemp("docs_postgres"), VIGIE_WAREHOUSE_URL=pg_database)


@pytest.fixture(params=["duckdb", "postgres"])
def built(request: pytest.FixtureRequest) -> Settings:
    return request.getfixturevalue(f"{request.param}_built")


@pytest.fixture(scope="module")
def manifest(duckdb_built: Settings) -> dict:
    target = Path(duckdb_built.landing_url).parent / "dbt_target"
    return json.loads((target / "manifest.json").read_text())


def _frame(settings: Settings, sql: str, params: tuple = ()) -> pd.DataFrame:
    with Warehouse(settings).transaction() as tx:
        return tx.fetch_frame(sql, params)


def _rows(settings: Settings, sql: str, params: tuple = ()) -> list[tuple]:
    with Warehouse(settings).transaction() as tx:
        return [tuple(row) for row in tx.fetchall(sql, params)]


@contextmanager
def _dbt_env(settings: Settings) -> Iterator[None]:
    """dbt's target and logs beside the test's warehouse, as when it was built."""
    root = Path(settings.landing_url).parent
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DBT_TARGET_PATH", str(root / "dbt_target"))
        patch.setenv("DBT_LOG_PATH", str(root / "dbt_logs"))
        yield


# --- Coverage -------------------------------------------------------------------------------


def test_coverage_accounts_for_every_departement_source_and_period(built) -> None:
    coverage = _frame(built, "SELECT * FROM marts.data_coverage")
    departements = {
        d for (d,) in _rows(built, "SELECT code_departement FROM reference.departements")
    }
    assert len(departements) == 101
    association_periodes = {
        str(ASSOCIATION_YEAR),
        f"{ASSOCIATION_YEAR}-S1",
        f"{ASSOCIATION_YEAR}-S2",
    }
    expected = {
        ("prefectures", "fipd"): {str(y) for y in FIPD_YEARS},
        ("police_population", "indicateurs"): {"2024"},
        ("associations", "rapport_activite"): association_periodes,
    }
    for (source, kind), periodes in expected.items():
        cells = coverage[(coverage["source"] == source) & (coverage["kind"] == kind)]
        keys = set(zip(cells["code_departement"], cells["periode"], strict=True))
        assert keys == {(d, p) for d in departements for p in periodes}, (source, kind)
        assert len(cells) == len(keys)  # one row per département × period
    assert set(zip(coverage["source"], coverage["kind"], strict=True)) == set(expected)

    by_key = coverage.set_index(["source", "kind", "code_departement", "periode"]).sort_index()
    # A département that sent nothing has its row, saying so.
    nothing = by_key.loc[("prefectures", "fipd", "48", "2019")]
    assert (nothing["status"], nothing["missing_detail"], nothing["nb_files"]) == (
        "not_received",
        "nothing received",
        0,
    )
    assert not nothing["is_received"] and pd.isna(nothing["last_received_at"])
    # What was received is what the marts count.
    facts = dict(
        ((d, str(y)), n)
        for d, y, n in _rows(
            built,
            "SELECT code_departement, annee, count(*) FROM marts.fct_fipd_action GROUP BY 1, 2",
        )
    )
    fipd = coverage[(coverage["kind"] == "fipd") & coverage["is_received"]]
    assert {
        (d, p): n
        for d, p, n in zip(
            fipd["code_departement"], fipd["periode"], fipd["rows_loaded"], strict=True
        )
    } == facts
    assert set(fipd["code_departement"]) == set(DEPARTEMENTS)
    # The rows rejected are the live files' (audit.file_loads), and make a cell partial.
    rejected = _rows(
        built,
        "SELECT sum(rows_rejected) FROM audit.file_loads WHERE kind = 'fipd' "
        "AND status IN ('loaded', 'loaded_with_rejects')",
    )[0][0]
    assert fipd["rows_rejected"].sum() == rejected
    assert set(fipd[fipd["rows_rejected"] > 0]["status"]) <= {"partial"}
    # Police: 12 months × 2 forces × 7 indicators expected; 971 lacks one value.
    police = by_key.loc[("police_population", "indicateurs")]
    assert police.loc[("93", "2024"), "status"] == "complete"
    assert police.loc[("971", "2024"), "nb_expected"] == 12 * 2 * len(police_population.INDICATORS)
    assert police.loc[("971", "2024"), "missing_detail"] == "1 of 168 values missing"
    assert pd.isna(police.loc[("971", "2024"), "rows_rejected"])
    # Associations: each structure counted in its département; all reports of a cell live.
    associations = coverage[coverage["source"] == "associations"]
    structures = _rows(
        built,
        "SELECT count(DISTINCT siret || periode) FROM raw.association_reports r "
        "JOIN audit.file_loads f ON f.source_file_sha256 = r.source_file_sha256 "
        "AND f.status IN ('loaded', 'loaded_with_rejects')",
    )[0][0]
    assert associations["nb_present"].sum() == structures > 100
    assert (associations["nb_present"] <= associations["nb_expected"]).all()


def test_a_structure_missing_its_second_semester_is_counted_missing(built) -> None:
    """A structure that sent 2025-S1 and not 2025-S2 is expected in 2025-S2 (the weekly
    check's rule, docs/alerts.md): the département of its S1 report counts it missing."""
    s1, s2 = f"{ASSOCIATION_YEAR}-S1", f"{ASSOCIATION_YEAR}-S2"
    live = _frame(
        built,
        "SELECT DISTINCT r.siret, r.code_departement, r.periode FROM raw.association_reports r "
        "JOIN audit.file_loads f ON f.source_file_sha256 = r.source_file_sha256 "
        "AND f.status IN ('loaded', 'loaded_with_rejects')",
    )
    sent_s2 = set(live[live["periode"] == s2]["siret"])
    first = live[(live["periode"] == s1) & ~live["siret"].isin(sent_s2)]
    stopped = first.groupby("code_departement")["siret"].nunique().to_dict()
    assert stopped  # the sample has late or missing second reports
    cells = _frame(
        built,
        "SELECT code_departement, nb_expected - nb_present AS missing, status "
        "FROM marts.data_coverage WHERE source = 'associations' AND periode = ?",
        (s2,),
    ).set_index("code_departement")
    assert {d: m for d, m in cells["missing"].items() if m} == stopped
    assert set(cells.loc[list(stopped), "status"]) <= {"partial", "not_received"}


# --- Load quality ---------------------------------------------------------------------------


def test_load_quality_counts_rejects_without_their_values(built) -> None:
    quality = _frame(built, "SELECT * FROM marts.load_quality")
    assert "value" not in quality.columns and "source_file_name" not in quality.columns
    counted = _rows(built, "SELECT sum(rows_rejected) FROM audit.load_reject_counts")[0][0]
    assert quality["rows_rejected"].sum() == counted > 0  # the sample's files name one year each
    prefectures = quality[quality["source"] == "prefectures"]
    assert set(prefectures["code_departement"]) <= set(DEPARTEMENTS)
    assert set(prefectures["annee"]) <= set(FIPD_YEARS)
    # Files quarantined whole cannot be placed: their counts are there, without a département.
    quarantined = quality[quality["file_status"] == "quarantined"]
    assert quarantined["code_departement"].isna().all()


# --- Indicators and periods -----------------------------------------------------------------


def test_dim_indicateur_covers_every_indicator_of_the_police_contract(built) -> None:
    dim = _frame(built, "SELECT * FROM marts.dim_indicateur ORDER BY ordre").set_index("indicateur")
    assert list(dim.index) == list(police_population.INDICATORS)
    assert dim["libelle"].to_dict() == checks.INDICATOR_LABELS
    assert set(dim["forces"]) == {"|".join(police_population.FORCES)}
    assert (dim["seuil_baisse"] == checks.DROP_THRESHOLD).all()
    assert set(dim.index[dim["baisse_a_zero"].astype(bool)]) == set(checks.POSTS)
    assert (dim["valeur_minimum"] == built.police_drop_min_count).all()
    assert dim["unite"].str.len().min() > 3 and dim["regle_baisse"].str.contains("20 %").all()
    # And the monthly mart's "known" flag is that list.
    unknown = _rows(
        built,
        "SELECT count(*) FROM marts.police_population_monthly m WHERE m.indicateur_connu "
        "<> (m.indicateur IN (SELECT indicateur FROM marts.dim_indicateur))",
    )
    assert unknown == [(0,)]


def test_dim_periode_due_dates_follow_the_weekly_check(built) -> None:
    periodes = _frame(built, "SELECT * FROM marts.dim_periode")
    assert len(periodes) == 30 * 3 and periodes["periode"].is_unique
    today = pd.Timestamp(periodes["date_reference"].iloc[0]).date()  # the database's today
    for row in periodes.itertuples():
        end = checks._period_end(row.periode)
        limit = end + timedelta(days=checks.REPORT_GRACE_DAYS)
        assert pd.Timestamp(row.date_fin).date() == end, row.periode
        assert pd.Timestamp(row.date_limite).date() == limit, row.periode
        assert row.periode_precedente == checks._previous_period(row.periode)
        assert bool(row.is_complete) == (limit <= today), row.periode
    # The periods the check says are due this week are complete here.
    due = checks.due_periods(today)
    assert set(periodes[periodes["periode"].isin(due)]["is_complete"]) == {True}


# --- Freshness, scope, e-mails --------------------------------------------------------------


def test_source_freshness_is_shown_and_a_second_check_changes_nothing(built) -> None:
    fresh = _frame(
        built,
        "SELECT DISTINCT source, freshness_status, freshness_detail FROM marts.data_freshness",
    ).set_index("source")
    assert fresh.loc["prefectures", "freshness_status"] == "warn"  # no contrats de ville file
    assert "prefecture_fipd_actions: pass" in fresh.loc["prefectures", "freshness_detail"]
    assert "prefecture_contrats_de_ville: warn" in fresh.loc["prefectures", "freshness_detail"]
    assert fresh.loc["police_population", "freshness_status"] == "pass"
    assert pd.isna(fresh.loc["reference", "freshness_status"])  # no rule for the lists
    with _dbt_env(built):
        again = tasks.check_source_freshness(built)
        assert again["changed"] is False and not again["data_freshness_rebuilt"]
        # The first check (after the build) is what the next build picks up, nothing else;
        # an unchanged check leaves the build fingerprints alone: then nothing to rebuild.
        first = tasks.build_warehouse(built, changed_only=True)
        assert set(first["changed"]) <= {"audit.source_freshness"}
        assert tasks.build_warehouse(built, changed_only=True)["mode"] == "nothing"


def test_priority_share_says_which_scope_it_was_built_with(built, manifest) -> None:
    scopes = _rows(
        built,
        "SELECT DISTINCT scope_programmes, scope_natures_excluded FROM marts.fipd_priority_share",
    )
    assert scopes == [("D", "videoprotection")]
    node = manifest["nodes"]["model.vigie.fipd_priority_share"]
    assert "programmes `D`" in node["description"]
    assert "`videoprotection`" in node["description"]


def test_email_send_counts_reach_the_marts_without_addresses(built) -> None:
    from vigie.warehouse.migrations import migrate_warehouse

    week = date(2026, 11, 30)
    migrate_warehouse(Warehouse(built))
    with Warehouse(built).transaction() as tx:
        tx.execute("DELETE FROM audit.email_sends")
        for n, (recipient, outcome, forced) in enumerate(
            [
                ("pilote93@example.gouv.fr", "sent", False),
                ("pilote09@example.gouv.fr", "failed", False),
                ("pilote09@example.gouv.fr", "sent", False),
                ("pilote09@example.gouv.fr", "sent", True),
            ]
        ):
            tx.execute(
                "INSERT INTO audit.email_sends (send_id, week_start, recipient, checksum, "
                "transport, outcome, forced, attempted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    f"s{n}",
                    week,
                    recipient,
                    recipient[:9],
                    "smtp",
                    outcome,
                    forced,
                    datetime.now(UTC),
                ],
            )
    with _dbt_env(built):
        plan = tasks.build_warehouse(built, changed_only=True)
    assert "audit.email_sends" in plan["changed"]
    weekly = _frame(built, "SELECT * FROM marts.email_sends_weekly ORDER BY outcome")
    assert {"recipient", "subject", "checksum", "error"}.isdisjoint(weekly.columns)
    assert not weekly.astype(str).apply(lambda c: c.str.contains("@")).any().any()
    counts = weekly.set_index("outcome")[["nb_attempts", "nb_recipients", "nb_forced"]]
    assert counts.to_dict("index") == {
        "failed": {"nb_attempts": 1, "nb_recipients": 1, "nb_forced": 0},
        "sent": {"nb_attempts": 3, "nb_recipients": 2, "nb_forced": 1},
    }


# --- What analysts may read and ask ---------------------------------------------------------


def test_the_readme_questions_on_coverage_run_as_an_analyst(built) -> None:
    answers = {}
    with Warehouse(built).transaction() as tx:
        if built.warehouse_kind == "postgres":
            tx.execute("SET ROLE vigie_analyst")  # what an analyst may run, not a superuser
        for question, sql in QUESTIONS.items():
            answers[question] = tx.fetch_frame(sql)
        if built.warehouse_kind == "postgres":
            for private in ("audit.email_sends", "audit.source_freshness", "audit.load_rejects"):
                tx.execute("SAVEPOINT denied")
                with pytest.raises(Exception, match="permission denied"):
                    tx.fetchall(f"SELECT count(*) FROM {private}")
                tx.execute("ROLLBACK TO SAVEPOINT denied")
    missing_09 = answers["Why is 09 missing in 2019?"].set_index(["source", "kind"])
    assert missing_09.loc[("prefectures", "fipd"), "status"] in {"complete", "partial"}
    assert ("police_population", "indicateurs") not in missing_09.index  # police from 2024
    assert len(answers["What do the prefectures' files get rejected for?"]) > 0
    falls = answers["Which police indicators fell in 93, and what counts as a fall?"]
    assert falls.empty or (falls["regle_baisse"].str.len() > 10).all()
    fresh = answers["Is each source fresh, by its own rule?"]
    assert set(fresh["source"]) == {"prefectures", "police_population", "associations"}


def test_the_readme_shows_these_questions_verbatim() -> None:
    readme = (SOURCE_TREE_ROOT / "README.md").read_text()
    for question, sql in QUESTIONS.items():
        assert sql.strip() in readme, question


# --- The project's own rules (read from the manifest) ---------------------------------------


def test_the_four_staging_models_have_a_primary_key_test(manifest) -> None:
    tests = [n for n in manifest["nodes"].values() if n["resource_type"] == "test"]
    for model, key in STAGING_KEYS.items():
        attached = [t for t in tests if (t.get("attached_node") or "").endswith(f".{model}")]
        found = set()
        for test in attached:
            meta = test.get("test_metadata") or {}
            kwargs = meta.get("kwargs") or {}
            if meta.get("name") == "primary_key" and kwargs.get("columns") == key:
                found |= {"unique", *(f"not_null:{c}" for c in key)}  # both, in one query
            if meta.get("name") == "unique_combination" and kwargs.get("columns") == key:
                found.add("unique")
            if meta.get("name") == "unique" and [kwargs.get("column_name")] == key:
                found.add("unique")
            if meta.get("name") == "not_null" and kwargs.get("column_name") in key:
                found.add(f"not_null:{kwargs['column_name']}")
        assert "unique" in found, model
        assert {f"not_null:{c}" for c in key} <= found, model  # every key column


def test_every_mart_has_an_enforced_contract_and_documented_columns(manifest) -> None:
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    marts = [n for n in models if n["fqn"][1] == "marts"]
    assert {
        "data_coverage",
        "load_quality",
        "dim_indicateur",
        "dim_periode",
        "email_sends_weekly",
    } <= {n["name"] for n in marts}
    for node in marts:
        assert node["config"]["contract"]["enforced"], node["name"]
        assert all(c.get("data_type") for c in node["columns"].values()), node["name"]
    # Staging and intermediate models: every column they select is described.
    for node in models:
        if node["fqn"][1] not in {"staging", "intermediate"}:
            continue
        undocumented = [c for c, spec in node["columns"].items() if not spec.get("description")]
        assert undocumented == [], node["name"]


def test_staging_and_intermediate_columns_are_all_declared(built, manifest) -> None:
    """The yml lists every column of the views (nothing selected goes undocumented)."""
    schema_of = {"staging": "staging", "intermediate": "intermediate"}
    relations = _frame(
        built,
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema IN ('staging', 'intermediate')",
    )
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["fqn"][1] not in schema_of:
            continue
        actual = set(
            relations[
                (relations["table_schema"] == schema_of[node["fqn"][1]])
                & (relations["table_name"] == node["name"])
            ]["column_name"]
        )
        assert actual and actual <= set(node["columns"]), (
            node["name"],
            actual - set(node["columns"]),
        )


def test_the_sources_are_named_after_their_systems_and_weekly_alerts_is_declared(manifest) -> None:
    sources = {(s["source_name"], s["name"]): s for s in manifest["sources"].values()}
    assert ("prefectures", "prefecture_fipd_actions") in sources
    assert ("police", "police_population_indicators") in sources
    assert ("associations", "association_reports") in sources
    assert not {name for name, _ in sources} & {"raw", "police_raw", "associations_raw"}
    alerts = sources[("alerts", "weekly_alerts")]
    assert alerts["schema"] == "marts"
    assert list(alerts["columns"]) == [*checks.COLUMNS, "evaluated_at"]
    assert all(c["description"] for c in alerts["columns"].values())
    # dbt never builds it: no model writes marts.weekly_alerts.
    assert "weekly_alerts" not in {n["name"] for n in manifest["nodes"].values()}


def test_the_e_mails_are_exposures_with_owner_and_inputs(manifest) -> None:
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    pilots = exposures["weekly_pilot_emails"]
    assert pilots["owner"]["name"]
    assert {
        "model.vigie.fipd_priority_share",
        "source.vigie.alerts.weekly_alerts",
    } <= set(pilots["depends_on"]["nodes"])
    assert exposures["engineers_quarantine_notice"]["depends_on"]["nodes"] == [
        "source.vigie.audit.file_loads"
    ]


def test_grace_days_are_the_weekly_checks() -> None:
    project = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text())
    assert project["vars"]["report_grace_days"] == checks.REPORT_GRACE_DAYS


def test_dbt_user_file_is_ignored() -> None:
    """dbt's per-machine id is no project file (and the project sends no usage stats)."""
    assert "dbt_project/.user.yml" in (SOURCE_TREE_ROOT / ".gitignore").read_text().split()
    project = yaml.safe_load((DBT_PROJECT / "dbt_project.yml").read_text())
    assert project["flags"]["send_anonymous_usage_stats"] is False
