"""Versioned migrations of the warehouse's own schemas (``raw``, ``audit``, ``reference``).

Why: raw tables hold years of history that nothing can rebuild, so their schema changes by
numbered, recorded steps, never by dropping and creating again. ``audit.schema_migrations``
says which steps a warehouse has had (version, name, checksum, when); :func:`migrate` applies
the missing ones in order, each in **one transaction with its version row** (DuckDB and
PostgreSQL both have transactional DDL): a migration is applied whole or not at all. Every load
calls it first (``vigie.ingest.batches.ensure_schema``), and so does ``vigie migrate``.

Migrations are frozen text. Migration 1, the baseline, is the schema the loaders created before
migrations existed (``CREATE TABLE IF NOT EXISTS`` and the columns added since): on a
warehouse the previous code created it changes nothing but the missing columns, and records
version 1. A migration is never edited once released (its checksum is recorded; a change is
logged); a change to a contract's columns is a new migration, and ``tests/test_raw_tables.py``
fails until the migrated tables match the contracts again. See docs/migrations.md.

This module sits in the ``warehouse`` layer on purpose: frozen SQL needs no contract, and any
layer that writes the warehouse may call :func:`migrate`.

Two processes starting together: on PostgreSQL each migration's transaction first takes an
advisory lock and reads the applied versions again, so a migration runs once; DuckDB has one
writer process at a time anyway. A warehouse whose version is newer than this code knows is
refused (:class:`SchemaTooNewError`): old code must not write into tables it does not know.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from vigie.settings import Settings
from vigie.warehouse.connection import Transaction, Warehouse

log = logging.getLogger(__name__)

VERSION_TABLE = "audit.schema_migrations"
VERSION_DDL = f"""CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (
    version INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL,
    applied_at TIMESTAMP WITH TIME ZONE NOT NULL, seconds DOUBLE PRECISION NOT NULL)"""
# pg_advisory_xact_lock's key: any constant shared by every Vigie process ("vigie" + "mig").
ADVISORY_LOCK_KEY = 0x76696769656D6967
# The schemas whose views must still read after a migration (dbt's views are dbt's: the next
# build recreates them).
OWN_SCHEMAS = ("raw", "audit", "reference")


class MigrationError(RuntimeError):
    """A migration could not be applied (rolled back: the warehouse is as before it)."""


class SchemaTooNewError(MigrationError):
    """The warehouse was migrated by newer code than this one: refuse to touch it."""


@dataclass(frozen=True)
class AddColumn:
    """``ALTER TABLE ... ADD COLUMN``, only when the column is missing (rows kept, null on them).

    The catalogue is asked first: on PostgreSQL even a no-op ``ALTER TABLE`` waits for an
    exclusive lock on the table, behind every reader.
    """

    table: str
    column: str
    sql_type: str

    def sql(self) -> str:
        return f"ALTER TABLE {self.table} ADD COLUMN IF NOT EXISTS {self.column} {self.sql_type}"

    def apply(self, tx: Transaction) -> None:
        schema, name = self.table.split(".")
        found = tx.fetchall(
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? AND column_name = ?",
            [schema, name, self.column],
        )[0][0]
        if not found:
            tx.execute(self.sql())


Step = str | AddColumn


@dataclass(frozen=True)
class Migration:
    """One numbered change of the schemas: its steps run in order, in one transaction."""

    version: int
    name: str
    steps: tuple[Step, ...]

    @property
    def checksum(self) -> str:
        """SHA-256 of the steps' SQL, whitespace-insensitive (recorded when applied)."""
        text = "\n".join(
            " ".join((s if isinstance(s, str) else s.sql()).split()) for s in self.steps
        )
        return hashlib.sha256(text.encode()).hexdigest()

    def apply(self, tx: Transaction) -> None:
        for step in self.steps:
            if isinstance(step, str):
                tx.execute(step)
            else:
                step.apply(tx)


@dataclass
class MigrationReport:
    """What :func:`migrate` found and did."""

    before: int  # the version the warehouse was at (0: never migrated)
    after: int
    applied: list[Migration] = field(default_factory=list)
    changed: list[int] = field(default_factory=list)  # applied versions whose text changed since

    def lines(self) -> list[str]:
        """What ``vigie migrate`` prints."""
        if not self.applied:
            out = [f"already at version {self.after}"]
        else:
            out = [f"applied {m.version} {m.name}" for m in self.applied]
            out.append(f"now at version {self.after} (was {self.before})")
        out += [
            f"warning: migration {v} differs from the one applied (migrations are never edited)"
            for v in self.changed
        ]
        return out


# --- Migration 1: the schema as the loaders created it before migrations --------------------

_FILE_LOADS = """CREATE TABLE IF NOT EXISTS audit.file_loads (
    source_file_sha256 VARCHAR NOT NULL, source_file_name VARCHAR NOT NULL,
    source_file_path VARCHAR, source VARCHAR NOT NULL, kind VARCHAR,
    status VARCHAR NOT NULL, reason VARCHAR, rows_read INTEGER NOT NULL,
    rows_loaded INTEGER NOT NULL, rows_rejected INTEGER NOT NULL,
    sender VARCHAR, period VARCHAR, file_modified_at TIMESTAMP WITH TIME ZONE,
    received_at TIMESTAMP WITH TIME ZONE NOT NULL, dag_run_id VARCHAR)"""
# What each reference list's last refresh wrote (refresh_reference skips unchanged lists).
_REFERENCE_LOADS = """CREATE TABLE IF NOT EXISTS audit.reference_loads (
    table_name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL, rows_loaded BIGINT NOT NULL,
    loaded_at TIMESTAMP WITH TIME ZONE NOT NULL)"""
_LOAD_REJECTS = """CREATE TABLE IF NOT EXISTS audit.load_rejects (
    source_file_sha256 VARCHAR NOT NULL, source_file_name VARCHAR NOT NULL,
    source_row INTEGER NOT NULL, column_name VARCHAR NOT NULL, value VARCHAR,
    reason VARCHAR NOT NULL, rejected_at TIMESTAMP WITH TIME ZONE NOT NULL)"""
# Rows rejected per (column, reason) for every file validated, quarantined ones included
# (counts only: a quarantined file's values are stored nowhere).
_LOAD_REJECT_COUNTS = """CREATE TABLE IF NOT EXISTS audit.load_reject_counts (
    source_file_sha256 VARCHAR NOT NULL, source_file_name VARCHAR NOT NULL,
    source VARCHAR NOT NULL, kind VARCHAR, column_name VARCHAR NOT NULL,
    reason VARCHAR NOT NULL, rows_rejected INTEGER NOT NULL,
    counted_at TIMESTAMP WITH TIME ZONE NOT NULL, dag_run_id VARCHAR)"""
# One line per received file: what was read, loaded, rejected, and why. A file's bytes are
# recorded once with counts (a re-delivery is a 'duplicate' record without any), so the join
# on the hash cannot double count.
LOAD_REPORTS_VIEW_V1 = """CREATE OR REPLACE VIEW audit.load_reports AS
SELECT f.source_file_sha256, f.source_file_name, f.source_file_path, f.source, f.kind,
    f.status, f.reason, f.rows_read, f.rows_loaded, f.rows_rejected,
    (SELECT string_agg(c.column_name || ':' || c.reason || '='
                       || CAST(c.rows_rejected AS VARCHAR), ', '
                       ORDER BY c.column_name, c.reason)
     FROM audit.load_reject_counts c
     WHERE c.source_file_sha256 = f.source_file_sha256 AND f.status <> 'duplicate'
    ) AS rejects_by_reason,
    f.received_at, f.dag_run_id, f.ignored_columns, f.sender
FROM audit.file_loads f"""
# Every fetch of the police-population API: the window asked, pages and rows received.
_API_FETCHES = """CREATE TABLE IF NOT EXISTS audit.api_fetches (
    fetch_id VARCHAR NOT NULL, source VARCHAR NOT NULL, base_url VARCHAR NOT NULL,
    depuis VARCHAR, jusqua VARCHAR, pages INTEGER NOT NULL, rows_received INTEGER NOT NULL,
    rows_inserted INTEGER NOT NULL, rows_rejected INTEGER NOT NULL,
    unknown_indicators VARCHAR, started_at TIMESTAMP WITH TIME ZONE NOT NULL,
    finished_at TIMESTAMP WITH TIME ZONE NOT NULL, dag_run_id VARCHAR)"""
# The raw tables as the contracts declared them (vigie.contracts.raw_tables) at the baseline.
_RAW_FIPD = """CREATE TABLE IF NOT EXISTS raw.prefecture_fipd_actions (
    code_departement VARCHAR NOT NULL,
    annee INTEGER NOT NULL,
    numero_dossier VARCHAR NOT NULL,
    porteur VARCHAR NOT NULL,
    siret VARCHAR,
    type_porteur VARCHAR,
    intitule_action VARCHAR NOT NULL,
    programme VARCHAR NOT NULL,
    nature VARCHAR,
    montant_demande NUMERIC(14, 2),
    montant_attribue NUMERIC(14, 2) NOT NULL,
    date_attribution DATE,
    code_commune VARCHAR,
    codes_qpv VARCHAR,
    zsp VARCHAR,
    part_qpv DOUBLE PRECISION,
    source_file_sha256 VARCHAR NOT NULL,
    source_file_name VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    source_sheet VARCHAR,
    loaded_at TIMESTAMP WITH TIME ZONE NOT NULL,
    dag_run_id VARCHAR
)"""
_RAW_CONTRATS = """CREATE TABLE IF NOT EXISTS raw.prefecture_contrats_de_ville (
    code_departement VARCHAR NOT NULL,
    annee INTEGER NOT NULL,
    contrat_id VARCHAR NOT NULL,
    nom_contrat VARCHAR NOT NULL,
    siren_epci VARCHAR,
    plan_radicalisation VARCHAR NOT NULL,
    date_adoption_plan DATE,
    nb_qpv INTEGER,
    source_file_sha256 VARCHAR NOT NULL,
    source_file_name VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    source_sheet VARCHAR,
    loaded_at TIMESTAMP WITH TIME ZONE NOT NULL,
    dag_run_id VARCHAR
)"""
_RAW_POLICE = """CREATE TABLE IF NOT EXISTS raw.police_population_indicators (
    code_departement VARCHAR NOT NULL,
    mois VARCHAR NOT NULL,
    force VARCHAR NOT NULL,
    indicateur VARCHAR NOT NULL,
    valeur DOUBLE PRECISION,
    publie_le TIMESTAMP WITH TIME ZONE NOT NULL,
    source VARCHAR NOT NULL DEFAULT 'csv',
    request_url VARCHAR,
    page INTEGER,
    fetched_at TIMESTAMP WITH TIME ZONE,
    fetch_id VARCHAR,
    source_file_sha256 VARCHAR,
    source_file_name VARCHAR,
    source_row INTEGER,
    source_sheet VARCHAR,
    loaded_at TIMESTAMP WITH TIME ZONE NOT NULL,
    dag_run_id VARCHAR
)"""
_RAW_ASSOCIATIONS = """CREATE TABLE IF NOT EXISTS raw.association_reports (
    reseau VARCHAR NOT NULL,
    structure VARCHAR NOT NULL,
    siret VARCHAR NOT NULL,
    code_departement VARCHAR NOT NULL,
    periode VARCHAR NOT NULL,
    code_commune VARCHAR NOT NULL,
    codes_qpv VARCHAR,
    nb_jeunes_accueillis INTEGER NOT NULL,
    nb_familles_accompagnees INTEGER NOT NULL,
    nb_actions_collectives INTEGER NOT NULL,
    nb_professionnels_formes INTEGER,
    nb_situations_radicalisation_orientees INTEGER,
    montant_fipd_recu NUMERIC(14, 2),
    source_file_sha256 VARCHAR NOT NULL,
    source_file_name VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    source_sheet VARCHAR,
    loaded_at TIMESTAMP WITH TIME ZONE NOT NULL,
    dag_run_id VARCHAR
)"""

BASELINE = Migration(
    1,
    "baseline",
    (
        "CREATE SCHEMA IF NOT EXISTS raw",
        "CREATE SCHEMA IF NOT EXISTS audit",
        "CREATE SCHEMA IF NOT EXISTS reference",
        _FILE_LOADS,
        # Header cells not loaded (unknown, ambiguous, duplicate titles), named one by one.
        AddColumn("audit.file_loads", "ignored_columns", "VARCHAR"),
        _REFERENCE_LOADS,
        _LOAD_REJECTS,
        _LOAD_REJECT_COUNTS,
        LOAD_REPORTS_VIEW_V1,
        _API_FETCHES,
        # A failed fetch is recorded too, with what went wrong (null status: 'ok').
        AddColumn("audit.api_fetches", "status", "VARCHAR"),
        AddColumn("audit.api_fetches", "error", "VARCHAR"),
        _RAW_FIPD,
        _RAW_CONTRATS,
        _RAW_POLICE,
        _RAW_ASSOCIATIONS,
    ),
)

# --- Migration 2: the tables the checks, the e-mails and the builds created for themselves ----
# Their history (alerts told, e-mails sent, freshness states, builds recorded) is as precious
# as the loads' audit: from here their schema changes by migrations too. The text is theirs as
# it was, so a warehouse that has them already changes nothing.

_WEEKLY_ALERTS = """CREATE TABLE IF NOT EXISTS marts.weekly_alerts (
    week_start DATE NOT NULL, check_name VARCHAR NOT NULL, territory_kind VARCHAR NOT NULL,
    territory_code VARCHAR NOT NULL, period VARCHAR NOT NULL, code_departement VARCHAR,
    status VARCHAR NOT NULL, message VARCHAR NOT NULL, figures VARCHAR NOT NULL,
    lineage VARCHAR NOT NULL, evaluated_at TIMESTAMP WITH TIME ZONE NOT NULL)"""
_EMAIL_SENDS = """CREATE TABLE IF NOT EXISTS audit.email_sends (
    send_id VARCHAR NOT NULL, week_start DATE NOT NULL, recipient VARCHAR NOT NULL,
    checksum VARCHAR NOT NULL, message_id VARCHAR, subject VARCHAR,
    transport VARCHAR NOT NULL, outcome VARCHAR NOT NULL, error VARCHAR,
    forced BOOLEAN NOT NULL, attempted_at TIMESTAMP WITH TIME ZONE NOT NULL,
    dag_run_id VARCHAR)"""
_SOURCE_FRESHNESS = """CREATE TABLE IF NOT EXISTS audit.source_freshness (
    source_name VARCHAR NOT NULL, table_name VARCHAR NOT NULL, loaded_at_field VARCHAR,
    warn_after VARCHAR, error_after VARCHAR, status VARCHAR NOT NULL,
    status_since TIMESTAMP WITH TIME ZONE NOT NULL)"""
_WAREHOUSE_BUILDS = """CREATE TABLE IF NOT EXISTS audit.warehouse_builds (
    built_at TIMESTAMP WITH TIME ZONE NOT NULL, mode VARCHAR NOT NULL,
    project_checksum VARCHAR NOT NULL, fingerprints VARCHAR NOT NULL,
    selected VARCHAR, seconds DOUBLE PRECISION)"""

ALERTS_AND_BUILDS = Migration(
    2,
    "alerts_emails_freshness_builds",
    (
        "CREATE SCHEMA IF NOT EXISTS marts",
        _WEEKLY_ALERTS,
        _EMAIL_SENDS,
        _SOURCE_FRESHNESS,
        _WAREHOUSE_BUILDS,
    ),
)

# Every migration, in order; append only (a released migration is never edited nor removed).
MIGRATIONS: tuple[Migration, ...] = (BASELINE, ALERTS_AND_BUILDS)


# --- Applying them ---------------------------------------------------------------------------


def check_sequence(migrations: Sequence[Migration]) -> None:
    """Versions 1, 2, 3... in order, each once: a mistake in the list fails before any change."""
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise MigrationError(f"migration versions must be 1, 2, 3... in order; got {versions}")


def _applied(tx: Transaction) -> dict[int, tuple[str, str]]:
    """version -> (name, checksum) recorded; empty when the version table does not exist."""
    exists = tx.fetchall(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'audit' AND table_name = 'schema_migrations'"
    )[0][0]
    if not exists:
        return {}
    rows = tx.fetchall(f"SELECT version, name, checksum FROM {VERSION_TABLE}")
    return {int(v): (name, checksum) for v, name, checksum in rows}


def _refuse_unknown(applied: dict[int, tuple[str, str]], migrations: Sequence[Migration]) -> None:
    known = {m.version for m in migrations}
    unknown = sorted(set(applied) - known)
    if unknown:
        newest = max(applied)
        raise SchemaTooNewError(
            f"the warehouse is at schema version {newest} ({applied[newest][0]}), newer than "
            f"this code knows (up to {len(migrations)}): version(s) {unknown} unknown. "
            "Deploy the code that migrated it (or restore the backup taken before); "
            "nothing was changed."
        )


def _check_views(tx: Transaction, migration: Migration) -> None:
    """Every view of the warehouse's own schemas still reads after ``migration``.

    DuckDB binds a view when it is read: renaming or dropping a column a view uses succeeds,
    and the view fails later. The migration must drop and recreate such views itself; this
    check rolls it back, with the view named, when it did not.
    """
    marks = ", ".join("?" for _ in OWN_SCHEMAS)
    views = tx.fetchall(
        "SELECT table_schema, table_name FROM information_schema.tables "
        f"WHERE table_type = 'VIEW' AND table_schema IN ({marks}) "
        "ORDER BY table_schema, table_name",
        list(OWN_SCHEMAS),
    )
    for schema, name in views:
        try:
            tx.fetchall(f"SELECT * FROM {schema}.{name} LIMIT 0")
        except Exception as error:
            raise MigrationError(
                f"migration {migration.version} ({migration.name}) leaves the view "
                f"{schema}.{name} unreadable ({error}); drop it before the change and "
                "create it again after, in the same migration"
            ) from error


def _apply_next(
    warehouse: Warehouse, migrations: Sequence[Migration], report: MigrationReport
) -> bool:
    """Apply the first pending migration in its own transaction; False when none is pending."""
    with warehouse.transaction() as tx:
        if warehouse.kind == "postgres":
            # Held until this transaction ends; a second process waits here, then reads the
            # versions this one recorded.
            tx.execute("SELECT pg_advisory_xact_lock(?)", [ADVISORY_LOCK_KEY])
        applied = _applied(tx)
        _refuse_unknown(applied, migrations)
        pending = [m for m in migrations if m.version not in applied]
        if not pending:
            return False
        migration = pending[0]
        started = time.perf_counter()
        tx.execute("CREATE SCHEMA IF NOT EXISTS audit")
        tx.execute(VERSION_DDL)
        try:
            migration.apply(tx)
        except Exception as error:
            raise MigrationError(
                f"migration {migration.version} ({migration.name}) failed and was rolled back: "
                f"{error}"
            ) from error
        _check_views(tx, migration)
        tx.execute(
            f"INSERT INTO {VERSION_TABLE} (version, name, checksum, applied_at, seconds) "
            "VALUES (?, ?, ?, ?, ?)",
            [
                migration.version,
                migration.name,
                migration.checksum,
                datetime.now(UTC),
                time.perf_counter() - started,
            ],
        )
    log.info("warehouse schema: applied migration %d (%s)", migration.version, migration.name)
    report.applied.append(migration)
    report.after = migration.version
    return True


def migrate_warehouse(
    warehouse: Warehouse, migrations: Sequence[Migration] = MIGRATIONS
) -> MigrationReport:
    """Apply the pending migrations in order, each in one transaction with its version row.

    Idempotent: at the latest version it only reads the version table. Raises
    :class:`SchemaTooNewError` (changing nothing) when the warehouse has a version this code
    does not know, :class:`MigrationError` when a migration fails (that migration rolled back,
    the earlier ones kept).
    """
    check_sequence(migrations)
    with warehouse.session():
        with warehouse.transaction() as tx:
            applied = _applied(tx)
        _refuse_unknown(applied, migrations)
        report = MigrationReport(before=max(applied, default=0), after=max(applied, default=0))
        report.changed = [
            m.version
            for m in migrations
            if m.version in applied and applied[m.version][1] != m.checksum
        ]
        for version in report.changed:
            log.warning("warehouse schema: migration %d was edited after it was applied", version)
        if len(applied) < len(migrations):
            while _apply_next(warehouse, migrations, report):
                pass
            report.after = len(migrations)  # whoever applied them, this process or another
    return report


def migrate(settings: Settings, migrations: Sequence[Migration] = MIGRATIONS) -> MigrationReport:
    """:func:`migrate_warehouse` on the warehouse ``settings`` point at (``vigie migrate``)."""
    return migrate_warehouse(Warehouse(settings), migrations)
