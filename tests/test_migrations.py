"""Versioned schema migrations on a warehouse holding real loads (DuckDB and PostgreSQL).

The data goes in through the real loaders (prefecture exports, association reports, the police
API served locally); then the schemas change by numbered migrations, and every row is still
there, with its lineage. A warehouse the code before migrations created upgrades to the
baseline; a warehouse newer than the code is refused; ``vigie migrate`` says what it did.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import date, datetime
from pathlib import Path

import pytest
from vigie import cli
from vigie.contracts import prefectures
from vigie.contracts.catalog import RAW_TABLES
from vigie.contracts.validation import Context
from vigie.demo.police_api_server import PoliceApiServer, small_frame
from vigie.demo.sample_associations import report_csv, report_xlsx
from vigie.ingest import association_loader, batches, police_loader
from vigie.ingest.police_api import ApiConfig
from vigie.reference.geography import load_reference
from vigie.settings import Settings, get_settings
from vigie.warehouse.connection import Warehouse
from vigie.warehouse.migrations import (
    LOAD_REPORTS_VIEW_V1,
    MIGRATIONS,
    AddColumn,
    Migration,
    MigrationError,
    SchemaTooNewError,
    migrate,
)

from tests.association_files import drop, ident, row
from tests.conftest import fresh_postgres_database, make_settings
from tests.prefecture_files import write_variant

TOKEN = "migrations-test-token"
JAN, FEB = datetime(2020, 1, 10), datetime(2020, 2, 10)
FILE_RAW_TABLES = (
    "raw.prefecture_fipd_actions",
    "raw.association_reports",
)

# What a later release could bring: a column added to a raw table, a raw column renamed, and a
# column renamed under a view (the view dropped and created again in the same migration).
CURRENT = len(MIGRATIONS)  # the version this code brings a warehouse to
SHIPPED = [(m.version, m.name) for m in MIGRATIONS]
ADD_A_COLUMN = Migration(
    CURRENT + 1,
    "fipd_actions_commentaire",
    ("ALTER TABLE raw.prefecture_fipd_actions ADD COLUMN commentaire VARCHAR",),
)
RENAME_COLUMNS = Migration(
    CURRENT + 2,
    "rename_reseau_and_sender",
    (
        "ALTER TABLE raw.association_reports RENAME COLUMN reseau TO reseau_national",
        "DROP VIEW audit.load_reports",
        "ALTER TABLE audit.file_loads RENAME COLUMN sender TO sender_code",
        """CREATE VIEW audit.load_reports AS
        SELECT f.source_file_sha256, f.source_file_name, f.source_file_path, f.source, f.kind,
            f.status, f.reason, f.rows_read, f.rows_loaded, f.rows_rejected,
            (SELECT string_agg(c.column_name || ':' || c.reason || '='
                               || CAST(c.rows_rejected AS VARCHAR), ', '
                               ORDER BY c.column_name, c.reason)
             FROM audit.load_reject_counts c
             WHERE c.source_file_sha256 = f.source_file_sha256 AND f.status <> 'duplicate'
            ) AS rejects_by_reason,
            f.received_at, f.dag_run_id, f.ignored_columns, f.sender_code AS sender
        FROM audit.file_loads f""",
    ),
)
LATER = (*MIGRATIONS, ADD_A_COLUMN, RENAME_COLUMNS)


@pytest.fixture
def settings(settings_on_both_engines: Settings) -> Settings:
    return settings_on_both_engines


def _rows(settings: Settings, sql: str) -> list[tuple]:
    with Warehouse(settings).transaction() as tx:
        return tx.fetchall(sql)


def _load_real_data(settings: Settings, rows_93: list[dict]) -> None:
    """Reference lists, prefecture exports (one superseded, one with rejects), association
    reports and a police API fetch, each through its loader."""
    warehouse = Warehouse(settings)
    reference = load_reference(settings.reference_dir)
    batches.refresh_reference(warehouse, reference)
    ctx = Context(reference, settings.qpv_2024_from_year)
    landing = Path(settings.landing_url)
    write_variant(landing / "prefectures" / "fipd_93.csv", rows_93, "clean")
    batches.ingest_landed(warehouse, settings.landing_url, prefectures.KINDS, ctx, "run-1")
    more = [dict(r, numero_dossier=f"2019-93-1{i:02d}") for i, r in enumerate(rows_93)]
    rejected = [dict(rows_93[0], montant_attribue=-5.0), *rows_93[1:], *more]  # 1 of 8 refused
    write_variant(landing / "prefectures" / "fipd_93_v2.csv", rejected, "french_cp1252")
    batches.ingest_landed(warehouse, settings.landing_url, prefectures.KINDS, ctx, "run-2")
    drop(landing, "a.xlsx", report_xlsx(ident(1), [row("13055"), row("13001")]), JAN)
    drop(landing, "b.csv", report_csv(ident(2), [row("13001")], 0), FEB)
    association_loader.ingest_reports(warehouse, settings.landing_url, ctx, "run-3")
    with PoliceApiServer(small_frame(("93",), ("2025-03",)), token=TOKEN) as server:
        config = ApiConfig(base_url=server.url, token=TOKEN, page_size=40, sleep=lambda s: None)
        police_loader.run_api("run-4", settings, config, today=date(2025, 5, 20))


def _counts(settings: Settings) -> dict[str, int]:
    """Rows of every table of the warehouse's own schemas."""
    with Warehouse(settings).transaction() as tx:
        tables = tx.fetchall(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables "
            "WHERE table_schema IN ('raw', 'audit', 'reference') AND table_type = 'BASE TABLE' "
            "AND table_name <> 'schema_migrations' ORDER BY 1"
        )
        return {t: tx.fetchall(f"SELECT count(*) FROM {t}")[0][0] for (t,) in tables}


def _columns(settings: Settings) -> dict[str, list[tuple[str, str, str]]]:
    """(column, type, nullable) of every table and view of the warehouse's own schemas."""
    rows = _rows(
        settings,
        "SELECT table_schema || '.' || table_name, column_name, data_type, is_nullable "
        "FROM information_schema.columns WHERE table_schema IN ('raw', 'audit', 'reference') "
        "ORDER BY table_schema, table_name, ordinal_position",
    )
    out: dict[str, list[tuple[str, str, str]]] = {}
    for table, name, data_type, nullable in rows:
        out.setdefault(table, []).append((name, data_type, nullable))
    return out


def _versions(settings: Settings) -> list[tuple[int, str]]:
    return [
        (int(v), n)
        for v, n in _rows(settings, "SELECT version, name FROM audit.schema_migrations ORDER BY 1")
    ]


def _assert_lineage_whole(settings: Settings) -> None:
    """Every file row names its file (hash, name, row) and the file is in audit.file_loads;
    every API row names its fetch, which is in audit.api_fetches."""
    for table in FILE_RAW_TABLES:
        orphans = _rows(
            settings,
            f"""SELECT count(*) FROM {table} r
            WHERE r.source_file_sha256 IS NULL OR r.source_file_name IS NULL
               OR r.source_row IS NULL
               OR NOT EXISTS (SELECT 1 FROM audit.file_loads f
                              WHERE f.source_file_sha256 = r.source_file_sha256
                                AND f.source_file_name = r.source_file_name)""",
        )
        assert orphans == [(0,)], table
    orphans = _rows(
        settings,
        """SELECT count(*) FROM raw.police_population_indicators r
        WHERE r.source = 'api' AND NOT EXISTS (
            SELECT 1 FROM audit.api_fetches a WHERE a.fetch_id = r.fetch_id)""",
    )
    assert orphans == [(0,)]


def _lineage(settings: Settings) -> dict[str, list[tuple]]:
    return {
        table: sorted(
            _rows(
                settings,
                f"SELECT source_file_sha256, source_file_name, source_row FROM {table}",
            )
        )
        for table in FILE_RAW_TABLES
    }


def test_later_migrations_keep_every_row_and_its_lineage(
    settings: Settings, rows_93: list[dict]
) -> None:
    _load_real_data(settings, rows_93)
    counts, lineage = _counts(settings), _lineage(settings)
    assert counts["raw.prefecture_fipd_actions"] == 4 + 7  # both deliveries: history is kept
    assert counts["raw.association_reports"] == 3 and counts["audit.load_rejects"] == 1
    assert counts["raw.police_population_indicators"] > 0 and counts["audit.api_fetches"] == 1
    senders = _rows(settings, "SELECT source_file_name, sender FROM audit.load_reports ORDER BY 1")
    assert _versions(settings) == SHIPPED  # the loads migrated first

    report = migrate(settings, LATER)

    assert [m.version for m in report.applied] == [CURRENT + 1, CURRENT + 2]
    assert report.lines() == [
        f"applied {CURRENT + 1} fipd_actions_commentaire",
        f"applied {CURRENT + 2} rename_reseau_and_sender",
        f"now at version {CURRENT + 2} (was {CURRENT})",
    ]
    assert _counts(settings) == counts  # no row lost, none added
    assert _lineage(settings) == lineage
    _assert_lineage_whole(settings)
    columns = _columns(settings)
    assert columns["raw.prefecture_fipd_actions"][-1][0] == "commentaire"
    names = [c[0] for c in columns["raw.association_reports"]]
    assert "reseau_national" in names and "reseau" not in names
    assert _rows(
        settings, "SELECT count(*) FROM raw.association_reports WHERE reseau_national IS NULL"
    ) == [(0,)]  # the values moved with the name
    # The view reads the renamed column under its old name: what readers see is unchanged.
    assert (
        _rows(settings, "SELECT source_file_name, sender FROM audit.load_reports ORDER BY 1")
        == senders
    )
    assert _versions(settings) == [
        *SHIPPED,
        (CURRENT + 1, "fipd_actions_commentaire"),
        (CURRENT + 2, "rename_reseau_and_sender"),
    ]

    again = migrate(settings, LATER)  # a second start: nothing to do
    assert again.applied == [] and again.lines() == [f"already at version {CURRENT + 2}"]
    assert len(_versions(settings)) == CURRENT + 2

    # The code of before (it knows the shipped versions only) refuses the warehouse, loads
    # included.
    with pytest.raises(SchemaTooNewError, match=rf"version {CURRENT + 2} .*newer than this code"):
        migrate(settings)
    with pytest.raises(SchemaTooNewError):
        batches.ensure_schema(Warehouse(settings))
    assert _counts(settings) == counts and len(_versions(settings)) == CURRENT + 2


def test_a_warehouse_of_the_code_before_migrations_upgrades_with_its_rows(
    settings: Settings, rows_93: list[dict]
) -> None:
    """Tables created ``IF NOT EXISTS`` and no version table: the baseline records itself and
    adds only the columns an older warehouse lacks; every row stays."""
    _load_real_data(settings, rows_93)
    fresh = _columns(settings)
    with Warehouse(settings).transaction() as tx:
        # What the code before migrations left: no version table; and, older still, a file
        # log without ignored_columns (its view without it) and a fetch log without status.
        tx.execute("DROP TABLE audit.schema_migrations")
        tx.execute("DROP VIEW audit.load_reports")
        tx.execute("ALTER TABLE audit.file_loads DROP COLUMN ignored_columns")
        tx.execute("ALTER TABLE audit.api_fetches DROP COLUMN status")
        tx.execute("ALTER TABLE audit.api_fetches DROP COLUMN error")
        tx.execute(  # the view of then: the columns of today but the last two
            LOAD_REPORTS_VIEW_V1.replace("CREATE OR REPLACE", "CREATE").replace(
                ", f.ignored_columns, f.sender", ""
            )
        )
        # The weekly checks and the sends had created their own tables, with history in them.
        tx.execute(
            "INSERT INTO audit.email_sends (send_id, week_start, recipient, checksum, transport,"
            " outcome, forced, attempted_at) VALUES ('s1', DATE '2026-11-23', 'pdec-93@pilotes."
            "example', 'c1', 'smtp', 'sent', false, TIMESTAMP WITH TIME ZONE "
            "'2026-11-23 07:00:00+00')"
        )
    counts, lineage = _counts(settings), _lineage(settings)

    report = migrate(settings)

    assert [m.version for m in report.applied] == [v for v, _ in SHIPPED] and report.before == 0
    assert _versions(settings) == SHIPPED
    assert _rows(settings, "SELECT send_id, recipient FROM audit.email_sends") == [
        ("s1", "pdec-93@pilotes.example")
    ]
    assert _counts(settings) == counts and _lineage(settings) == lineage
    _assert_lineage_whole(settings)
    assert _columns(settings) == fresh  # the same schema as a warehouse created today
    assert _rows(
        settings, "SELECT count(*) FROM audit.file_loads WHERE ignored_columns IS NOT NULL"
    ) == [(0,)]  # null on the rows from before the column
    assert migrate(settings).lines() == [f"already at version {CURRENT}"]


def test_a_migration_that_fails_is_rolled_back_whole(settings: Settings) -> None:
    """Its earlier steps are undone and no version is recorded; the reason is named.

    Dropping a column a view reads: PostgreSQL refuses it; DuckDB allows it (views are bound
    when read), and the check after each migration finds the broken view."""
    migrate(settings)
    breaks_a_view = Migration(
        CURRENT + 1,
        "drop_sender",
        (
            AddColumn("raw.prefecture_fipd_actions", "commentaire", "VARCHAR"),
            "ALTER TABLE audit.file_loads DROP COLUMN sender",
        ),
    )
    with pytest.raises(MigrationError, match=rf"migration {CURRENT + 1} \(drop_sender\)") as raised:
        migrate(settings, (*MIGRATIONS, breaks_a_view))
    assert "load_reports" in str(raised.value)
    assert _versions(settings) == SHIPPED
    columns = _columns(settings)
    assert "sender" in [c[0] for c in columns["audit.file_loads"]]
    assert "commentaire" not in [c[0] for c in columns["raw.prefecture_fipd_actions"]]
    assert _rows(settings, "SELECT count(*) FROM audit.load_reports") == [(0,)]  # still reads


@pytest.mark.parametrize(
    "migrations",
    [
        (Migration(2, "two", ()),),
        (*MIGRATIONS, Migration(CURRENT + 2, "gap", ())),
    ],
    ids=["without-baseline", "gap"],
)
def test_a_list_out_of_order_changes_nothing(
    migrations: Sequence[Migration], tmp_path: Path
) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(MigrationError, match="1, 2, 3"):
        migrate(settings, migrations)
    assert not settings.duckdb_path.exists() or _counts(settings) == {}


def test_two_processes_starting_together_apply_each_migration_once(tmp_path: Path) -> None:
    """PostgreSQL: the advisory lock makes the second wait, then find nothing to do."""
    with fresh_postgres_database() as url:
        settings = make_settings(tmp_path, VIGIE_WAREHOUSE_URL=url)
        slow = Migration(CURRENT + 1, "slow", ("SELECT pg_sleep(0.5)",))
        outcomes: list[object] = []

        def start() -> None:
            try:
                outcomes.append(migrate(settings, (*MIGRATIONS, slow)))
            except Exception as error:  # collected, asserted below
                outcomes.append(error)

        threads = [threading.Thread(target=start) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        applied = sorted(
            m.version for outcome in outcomes for m in getattr(outcome, "applied", [outcome])
        )
        assert applied == [*range(1, CURRENT + 2)]  # each once, by one or the other
        assert _versions(settings) == [*SHIPPED, (CURRENT + 1, "slow")]


@pytest.fixture
def warehouse_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The operator's environment: VIGIE_WAREHOUSE_URL names the warehouse."""
    monkeypatch.setenv("VIGIE_WAREHOUSE_URL", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    get_settings.cache_clear()
    yield make_settings(tmp_path)
    get_settings.cache_clear()


def test_vigie_migrate_says_what_it_did(
    warehouse_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert "applied 1 baseline" in out and f"now at version {CURRENT} (was 0)" in out
    assert cli.main(["migrate"]) == 0
    assert f"already at version {CURRENT}" in capsys.readouterr().out
    migrate(warehouse_env, LATER)  # as a newer release would
    assert cli.main(["migrate"]) == 1
    out = capsys.readouterr().out
    assert f"schema version {CURRENT + 2}" in out and "newer than this code" in out


def test_an_edited_migration_is_reported_not_applied_again(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    migrate(settings)
    edited = Migration(1, "baseline", (*MIGRATIONS[0].steps, "SELECT 1"))
    report = migrate(settings, (edited, *MIGRATIONS[1:]))
    assert report.applied == [] and report.changed == [1]
    assert report.lines() == [
        f"already at version {CURRENT}",
        "warning: migration 1 differs from the one applied (migrations are never edited)",
    ]
    assert _versions(settings) == SHIPPED


def test_the_migrated_raw_tables_are_the_contracts_tables(settings: Settings) -> None:
    """Types, defaults, NOT NULL and order: the migrations give each raw table exactly what its
    contract declares today (a contract change without its migration fails here)."""
    migrate(settings)
    described = (
        "SELECT column_name, data_type, is_nullable, column_default, numeric_precision, "
        "numeric_scale FROM information_schema.columns WHERE table_schema = ? "
        "AND table_name = ? ORDER BY ordinal_position"
    )
    with Warehouse(settings).transaction() as tx:
        tx.execute("CREATE SCHEMA declared")
        for spec in RAW_TABLES.values():
            schema, table = spec.name.split(".")
            tx.execute(spec.create_sql().replace(spec.name, f"declared.{table}", 1))
            assert tx.fetchall(described, [schema, table]) == tx.fetchall(
                described, ["declared", table]
            ), spec.name
        tx.execute("DROP SCHEMA declared CASCADE")
