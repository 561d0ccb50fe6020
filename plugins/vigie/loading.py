"""Idempotent raw loads with lineage, one transaction per file.

Only this module (and dbt) writes the warehouse. A file is known by the SHA-256 of its bytes:
the same bytes twice load once; a newer file for the same sender and period supersedes the
older one, whose rows stay in history (``audit.file_loads.status = 'superseded'``).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pandas as pd

from vigie import landing
from vigie.parsing.text import FileRejected
from vigie.reference import ReferenceData
from vigie.validation import Context, Kind, Verdict, read_and_validate
from vigie.warehouse import Transaction, Warehouse

log = logging.getLogger(__name__)

LINEAGE_DDL = """
    source_file_sha256 VARCHAR NOT NULL,
    source_file_name VARCHAR NOT NULL,
    source_row INTEGER NOT NULL,
    source_sheet VARCHAR,
    loaded_at TIMESTAMP WITH TIME ZONE NOT NULL,
    dag_run_id VARCHAR
"""
SCHEMA_DDL = [
    "CREATE SCHEMA IF NOT EXISTS raw",
    "CREATE SCHEMA IF NOT EXISTS audit",
    "CREATE SCHEMA IF NOT EXISTS reference",
    f"""CREATE TABLE IF NOT EXISTS raw.prefecture_fipd_actions (
        code_departement VARCHAR NOT NULL, annee INTEGER NOT NULL,
        numero_dossier VARCHAR NOT NULL, porteur VARCHAR NOT NULL, siret VARCHAR,
        type_porteur VARCHAR, intitule_action VARCHAR NOT NULL, programme VARCHAR NOT NULL,
        nature VARCHAR, montant_demande NUMERIC(14, 2), montant_attribue NUMERIC(14, 2) NOT NULL,
        date_attribution DATE, code_commune VARCHAR, codes_qpv VARCHAR, zsp VARCHAR,
        part_qpv DOUBLE PRECISION, {LINEAGE_DDL})""",
    f"""CREATE TABLE IF NOT EXISTS raw.prefecture_contrats_de_ville (
        code_departement VARCHAR NOT NULL, annee INTEGER NOT NULL, contrat_id VARCHAR NOT NULL,
        nom_contrat VARCHAR NOT NULL, siren_epci VARCHAR, plan_radicalisation VARCHAR NOT NULL,
        date_adoption_plan DATE, nb_qpv INTEGER, {LINEAGE_DDL})""",
    """CREATE TABLE IF NOT EXISTS audit.file_loads (
        source_file_sha256 VARCHAR NOT NULL, source_file_name VARCHAR NOT NULL,
        source_file_path VARCHAR, source VARCHAR NOT NULL, kind VARCHAR,
        status VARCHAR NOT NULL, reason VARCHAR, rows_read INTEGER NOT NULL,
        rows_loaded INTEGER NOT NULL, rows_rejected INTEGER NOT NULL,
        sender VARCHAR, period VARCHAR, file_modified_at TIMESTAMP WITH TIME ZONE,
        received_at TIMESTAMP WITH TIME ZONE NOT NULL, dag_run_id VARCHAR)""",
    """CREATE TABLE IF NOT EXISTS audit.load_rejects (
        source_file_sha256 VARCHAR NOT NULL, source_file_name VARCHAR NOT NULL,
        source_row INTEGER NOT NULL, column_name VARCHAR NOT NULL, value VARCHAR,
        reason VARCHAR NOT NULL, rejected_at TIMESTAMP WITH TIME ZONE NOT NULL)""",
]

RAW_TABLES = {
    ("prefectures", "fipd"): "raw.prefecture_fipd_actions",
    ("prefectures", "contrats"): "raw.prefecture_contrats_de_ville",
}
REFERENCE_TABLES = ("departements", "communes", "qpv", "zsp")
LIVE_STATUSES = ("loaded", "loaded_with_rejects")


def ensure_schema(warehouse: Warehouse) -> None:
    """Create the raw, audit and reference tables if they are missing."""
    with warehouse.transaction() as tx:
        for statement in SCHEMA_DDL:
            tx.execute(statement)


def refresh_reference(warehouse: Warehouse, reference: ReferenceData) -> dict[str, int]:
    """Replace the ``reference`` schema's tables with the lists in force, in one transaction."""
    counts: dict[str, int] = {}
    with warehouse.transaction() as tx:
        for name in REFERENCE_TABLES:
            frame: pd.DataFrame = getattr(reference, name).copy()
            frame = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
            tx.execute(f"DROP TABLE IF EXISTS reference.{name}")
            tx.execute(f"CREATE TABLE reference.{name} ({_columns_ddl(frame)})")
            counts[name] = tx.insert_frame(f"reference.{name}", frame)
    return counts


def _columns_ddl(frame: pd.DataFrame) -> str:
    def sql_type(dtype: object) -> str:
        if pd.api.types.is_integer_dtype(dtype):
            return "BIGINT"
        if pd.api.types.is_float_dtype(dtype):
            return "DOUBLE PRECISION"
        return "VARCHAR"

    return ", ".join(f"{name} {sql_type(dtype)}" for name, dtype in frame.dtypes.items())


@dataclass
class FileReport:
    """What happened to one file: logged by the DAG, kept in ``audit.file_loads``."""

    file: str
    sha256: str
    status: str
    kind: str | None = None
    reason: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    moved_to: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _already_received(tx: Transaction, digest: str) -> bool:
    rows = tx.fetchall(
        "SELECT 1 FROM audit.file_loads WHERE source_file_sha256 = ? AND status <> 'duplicate'",
        [digest],
    )
    return bool(rows)


def _record(
    tx: Transaction, file: landing.LandedFile, digest: str, source: str, report: FileReport,
    sender: str | None, period: str | None, now: datetime, run_id: str | None,
) -> None:  # fmt: skip
    tx.execute(
        """INSERT INTO audit.file_loads (source_file_sha256, source_file_name, source_file_path,
        source, kind, status, reason, rows_read, rows_loaded, rows_rejected, sender, period,
        file_modified_at, received_at, dag_run_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)""",
        [digest, file.name, file.relative_path, source, report.kind, report.status, report.reason,
         report.rows_read, report.rows_loaded, report.rows_rejected, sender, period,
         file.modified_at, now, run_id],
    )  # fmt: skip


def _supersede(tx: Transaction, source: str, kind: str, sender: str, period: str) -> None:
    """Among files for one (sender, period), only the newest (mtime, then name) stays live."""
    files = tx.fetchall(
        """SELECT source_file_sha256, rows_rejected FROM audit.file_loads
        WHERE source = ? AND kind = ? AND sender = ? AND period = ?
          AND status IN ('loaded', 'loaded_with_rejects', 'superseded')
        ORDER BY file_modified_at DESC, source_file_name DESC""",
        [source, kind, sender, period],
    )
    for position, (digest, rejected) in enumerate(files):
        status = "superseded" if position else (
            "loaded_with_rejects" if rejected else "loaded"
        )  # fmt: skip
        tx.execute(
            "UPDATE audit.file_loads SET status = ? WHERE source_file_sha256 = ? "
            "AND status <> 'duplicate'",
            [status, digest],
        )


def _sender_period(verdict: Verdict) -> tuple[str | None, str | None]:
    rows = verdict.rows
    if rows.empty or not verdict.kind.period_columns:
        return None, None
    sender_col, period_col = verdict.kind.period_columns
    sender = rows[sender_col].mode().sort_values().iloc[0]
    periods = sorted({str(p) for p in rows[period_col].dropna()})
    return str(sender), ",".join(periods)


def ingest_file(
    warehouse: Warehouse,
    file: landing.LandedFile,
    kinds: tuple[Kind, ...],
    ctx: Context,
    landing_url: str,
    run_id: str | None = None,
) -> FileReport:
    """Validate and load one file atomically, then archive or quarantine it."""
    source = kinds[0].source
    data = landing.read_bytes(file)
    digest = landing.sha256(data)
    now = datetime.now(UTC)
    report = FileReport(file=file.relative_path, sha256=digest, status="loaded")
    with warehouse.transaction() as tx:
        if _already_received(tx, digest):
            report.status = "duplicate"
            _record(tx, file, digest, source, report, None, None, now, run_id)
    if report.status == "duplicate":
        report.moved_to = landing.archive(file, landing_url, source, digest)
        return report

    try:
        verdict = read_and_validate(data, kinds, ctx)
    except FileRejected as exc:
        verdict = None
        report.status, report.reason = "quarantined", f"{exc.reason}: {exc.detail}"
    if verdict is not None:
        report.kind = verdict.kind.name
        report.rows_read = verdict.rows_read
        report.rows_rejected = verdict.rows_rejected
        if verdict.quarantine_reason:
            report.status = "quarantined"
            report.reason = f"{verdict.quarantine_reason}: {verdict.quarantine_detail}"
    if report.status == "quarantined":
        # Nothing of a quarantined file's content is stored: it may hold personal data.
        reason_code, _, detail = (report.reason or "").partition(": ")
        with warehouse.transaction() as tx:
            _record(tx, file, digest, source, report, None, None, now, run_id)
        report.moved_to = landing.quarantine(file, landing_url, source, digest, reason_code, detail)
        return report

    assert verdict is not None
    sender, period = _sender_period(verdict)
    rows = verdict.rows.assign(
        source_file_sha256=digest, source_file_name=file.name, loaded_at=now, dag_run_id=run_id
    )
    rejects = verdict.rejects.assign(
        source_file_sha256=digest, source_file_name=file.name, rejected_at=now
    ).astype({"value": "string"})
    report.rows_loaded = len(rows)
    report.status = "loaded_with_rejects" if report.rows_rejected else "loaded"
    report.rejects_by_reason = {str(k): int(n) for k, n in rejects["reason"].value_counts().items()}
    with warehouse.transaction() as tx:
        tx.insert_frame(RAW_TABLES[(source, verdict.kind.name)], rows)
        tx.insert_frame("audit.load_rejects", rejects)
        _record(tx, file, digest, source, report, sender, period, now, run_id)
        if sender is not None and period is not None:
            _supersede(tx, source, verdict.kind.name, sender, period)
        final = tx.fetchall(
            "SELECT status FROM audit.file_loads WHERE source_file_sha256 = ? "
            "AND status <> 'duplicate'",
            [digest],
        )
        report.status = final[0][0]
    report.moved_to = landing.archive(file, landing_url, source, digest)
    return report


def ingest_landed(
    warehouse: Warehouse,
    landing_url: str,
    kinds: tuple[Kind, ...],
    ctx: Context,
    run_id: str | None = None,
) -> list[FileReport]:
    """Every file waiting for one source, oldest first; one bad file never blocks the others."""
    ensure_schema(warehouse)
    reports = []
    failures: list[str] = []
    with warehouse.session():
        for file in landing.list_files(landing_url, kinds[0].source):
            try:
                report = ingest_file(warehouse, file, kinds, ctx, landing_url, run_id)
            except Exception:  # unexpected: leave the file in place, go on with the others
                log.exception("%s: not processed, left in the landing zone", file.relative_path)
                failures.append(file.relative_path)
                continue
            log.info(
                "%s: %s (%s) read=%d loaded=%d rejected=%d %s",
                report.file, report.status, report.kind, report.rows_read, report.rows_loaded,
                report.rows_rejected, report.reason or report.rejects_by_reason or "",
            )  # fmt: skip
            reports.append(report)
    if failures:
        raise RuntimeError(
            f"{len(failures)} file(s) could not be processed and stay in the landing zone: "
            + ", ".join(failures[:10])
        )
    return reports
