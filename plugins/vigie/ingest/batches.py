"""Idempotent raw loads with lineage, one transaction per batch of files.

Only this module (and dbt) writes the warehouse. A file is known by the SHA-256 of its bytes:
the same bytes twice load once; a newer file for the same sender and period supersedes the
older one, whose rows stay in history (``audit.file_loads.status = 'superseded'``).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np
import pandas as pd

from vigie.contracts.catalog import raw_table
from vigie.contracts.validation import Context, Kind, KindBatch, Verdict, check_batch, read_file
from vigie.ingest import landing
from vigie.parsing.table import FileRejected, RawTable
from vigie.reference.geography import ReferenceData
from vigie.warehouse.connection import Transaction, Warehouse
from vigie.warehouse.migrations import migrate_warehouse

log = logging.getLogger(__name__)

REFERENCE_TABLES = ("departements", "communes", "qpv", "zsp", "epci")
LIVE_STATUSES = ("loaded", "loaded_with_rejects")


def ensure_schema(warehouse: Warehouse) -> None:
    """Bring the warehouse's schemas to the latest version before a load (or refuse).

    The schemas, the audit tables and every source's raw table are created and changed by the
    numbered migrations of :mod:`vigie.warehouse.migrations` (each in one transaction with its
    version row in ``audit.schema_migrations``); at the latest version this only reads that
    table. All raw tables exist after it, so a dbt build finds every source whichever DAG ran
    first. Raises :class:`vigie.warehouse.migrations.SchemaTooNewError` on a warehouse newer
    than this code.
    """
    migrate_warehouse(warehouse)


def reference_digest(frame: pd.DataFrame) -> str:
    """A checksum of a reference list's columns, types and rows (order included)."""
    digest = hashlib.sha256(repr(list(frame.dtypes.astype(str).items())).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def refresh_reference(warehouse: Warehouse, reference: ReferenceData) -> dict[str, int]:
    """Replace the ``reference`` schema's tables with the lists in force, in one transaction.

    A list whose checksum, columns and row count match what the last refresh recorded in
    ``audit.reference_loads`` is left as it is: every ingestion run refreshes the reference,
    and rewriting unchanged rows would make the next warehouse build believe they changed.

    The rows are replaced in place: the warehouse's staging views read these tables, and on
    PostgreSQL a table with dependent views cannot be dropped (every ingestion after the first
    build failed that way). Only a change of columns (a new reference format) drops the table,
    with its views on PostgreSQL; the next warehouse build recreates them.
    """
    counts: dict[str, int] = {}
    ensure_schema(warehouse)  # the reference schema and audit.reference_loads
    with warehouse.transaction() as tx:
        recorded = dict(tx.fetchall("SELECT table_name, sha256 FROM audit.reference_loads"))
        for name in REFERENCE_TABLES:
            frame: pd.DataFrame = getattr(reference, name).copy()
            frame = frame.astype({c: "string" for c in frame.columns if frame[c].dtype == object})
            digest = reference_digest(frame)
            columns = tx.fetchall(
                """
                SELECT column_name
                FROM information_schema.columns
                WHERE table_schema = 'reference' AND table_name = ?
                ORDER BY ordinal_position
                """,
                [name],
            )
            existing = [c for (c,) in columns]
            if existing == list(frame.columns) and recorded.get(name) == digest:
                rows = tx.fetchall(f"SELECT count(*) FROM reference.{name}")[0][0]
                if rows == len(frame):
                    counts[name] = rows
                    continue
            if existing == list(frame.columns):
                tx.execute(f"DELETE FROM reference.{name}")
            else:
                cascade = " CASCADE" if warehouse.kind == "postgres" else ""
                tx.execute(f"DROP TABLE IF EXISTS reference.{name}{cascade}")
                tx.execute(f"CREATE TABLE reference.{name} ({_columns_ddl(frame)})")
            counts[name] = tx.insert_frame(f"reference.{name}", frame)
            tx.execute("DELETE FROM audit.reference_loads WHERE table_name = ?", [name])
            tx.execute(
                "INSERT INTO audit.reference_loads (table_name, sha256, rows_loaded, loaded_at) "
                "VALUES (?, ?, ?, ?)",
                [name, digest, counts[name], datetime.now(UTC)],
            )
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
    ignored_columns: list[str] = field(default_factory=list)  # IgnoredColumn.describe()
    sender: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        """One readable log line: ``name: status (kind): 20 read, 17 loaded, 3 rejected (...)``."""
        why = self.reason or ", ".join(f"{k} {n}" for k, n in self.rejects_by_reason.items())
        ignored = "; ".join(self.ignored_columns)
        return (
            f"{self.file}: {self.status} ({self.kind or 'unknown kind'}): {self.rows_read} read, "
            f"{self.rows_loaded} loaded, {self.rows_rejected} rejected"
            + (f" ({why})" if why else "")
            + (f"; column(s) not loaded: {ignored}" if ignored else "")
        )


class BatchExpectations(Protocol):
    """What validates a batch's canonical rows as a whole (:class:`vigie.ingest.expectations.
    BatchValidator`); the loader only needs this, and so never imports Great Expectations."""

    def validate(self, batch: KindBatch, label: str, file_names: Sequence[str] = ()) -> object: ...


LIVE_OR_SUPERSEDED = "('loaded', 'loaded_with_rejects', 'superseded')"


def _groups_values(groups: Sequence[tuple[str, str, str]]) -> tuple[str, list[str]]:
    """``(VALUES (?, ?, ?), ...)`` naming (kind, sender, period) groups, and its parameters."""
    marks = ", ".join("(?, ?, ?)" for _ in groups)
    return f"(VALUES {marks}) AS g (kind, sender, period)", [x for g in groups for x in g]


def _supersede_groups(tx: Transaction, source: str, groups: Sequence[tuple[str, str, str]]) -> None:
    """In each (kind, sender, period) group, only the newest file (mtime, then name) stays live.

    One statement for any number of groups; re-ranking a group is idempotent, so it does not
    matter how many of its files arrived since the last time.
    """
    for start in range(0, len(groups), 1000):
        values, params = _groups_values(groups[start : start + 1000])
        tx.execute(
            f"""UPDATE audit.file_loads SET status = ranked.new_status
            FROM (
                SELECT f.source_file_sha256 AS digest,
                    CASE WHEN row_number() OVER (
                            PARTITION BY f.kind, f.sender, f.period
                            ORDER BY f.file_modified_at DESC, f.source_file_name DESC) > 1
                        THEN 'superseded'
                        WHEN f.rows_rejected > 0 THEN 'loaded_with_rejects'
                        ELSE 'loaded' END AS new_status
                FROM audit.file_loads f
                JOIN {values}
                  ON f.kind = g.kind AND f.sender = g.sender AND f.period = g.period
                WHERE f.source = ? AND f.status IN {LIVE_OR_SUPERSEDED}
            ) AS ranked
            WHERE audit.file_loads.source_file_sha256 = ranked.digest
              AND audit.file_loads.status <> 'duplicate'""",
            [*params, source],
        )


def _supersede(tx: Transaction, source: str, kind: str, sender: str, period: str) -> None:
    """Among files for one (sender, period), only the newest (mtime, then name) stays live."""
    _supersede_groups(tx, source, [(kind, sender, period)])


def _arrived_superseded(tx: Transaction, source: str, digests: Sequence[str]) -> set[str]:
    """Files of ``digests`` that an already-recorded file (not one of them) supersedes.

    What a one-file-at-a-time load would have reported for each: a file is ``superseded`` on
    arrival when a newer file for its group was loaded before. Files of one batch arrive
    oldest first, so none of them supersedes an earlier one of the same batch on arrival.
    """
    marks = ", ".join("?" for _ in digests)
    rows = tx.fetchall(
        f"""SELECT DISTINCT b.source_file_sha256 FROM audit.file_loads b
        JOIN audit.file_loads f ON f.source = b.source AND f.kind = b.kind
            AND f.sender = b.sender AND f.period = b.period
        WHERE b.source = ? AND b.source_file_sha256 IN ({marks})
          AND b.status <> 'duplicate'
          AND f.source_file_sha256 NOT IN ({marks})
          AND f.status IN {LIVE_OR_SUPERSEDED}
          AND (f.file_modified_at > b.file_modified_at
               OR (f.file_modified_at = b.file_modified_at
                   AND f.source_file_name > b.source_file_name))""",
        [source, *digests, *digests],
    )
    return {r[0] for r in rows}


# A batch is at most this many files or bytes: enough to pay pandas' per-operation cost once
# for a whole monthly delivery, small enough to bound memory and the work a crash throws away.
BATCH_FILES = 1000
BATCH_BYTES = 64 * 1024 * 1024


@dataclass(eq=False)
class _Item:
    """One file of a batch, from reading to moving."""

    file: landing.LandedFile
    report: FileReport
    verdict: Verdict | None = None
    table: RawTable | None = None
    kind: Kind | None = None
    copy_of: _Item | None = None  # same bytes as an earlier file of the batch
    sender: str | None = None
    period: str | None = None


def _table_kind(item: _Item) -> tuple[RawTable, Kind]:
    """A read file's table and kind: the reader gives both or neither."""
    assert item.table is not None and item.kind is not None, item.report.file
    return item.table, item.kind


def _verdict(item: _Item) -> Verdict:
    """A validated file's verdict: every live file and every file with rejects has one."""
    assert item.verdict is not None, item.report.file
    return item.verdict


def _group(item: _Item) -> tuple[str, str, str]:
    """A live file's (kind, sender, period), for a file with both a sender and a period."""
    kind, sender, period = item.report.kind, item.sender, item.period
    assert kind is not None and sender is not None and period is not None, item.report.file
    return kind, sender, period


def _sender_period(verdict: Verdict) -> tuple[str | None, str | None]:
    """The file's (sender, period): its most frequent sender (ties: smallest), its periods."""
    rows = verdict.rows
    if rows.empty or not verdict.kind.period_columns:
        return None, None
    sender_col, period_col = verdict.kind.period_columns
    counts = Counter(x for x in rows[sender_col].tolist() if not pd.isna(x))
    top = max(counts.values())
    sender = min(value for value, n in counts.items() if n == top)
    periods = sorted({str(p) for p in rows[period_col].tolist() if not pd.isna(p)})
    return str(sender), ",".join(periods)


def _batches(files: list[landing.LandedFile]) -> list[list[landing.LandedFile]]:
    batches: list[list[landing.LandedFile]] = []
    size = 0
    for file in files:
        if not batches or len(batches[-1]) >= BATCH_FILES or size + file.size > BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(file)
        size += file.size
    return batches


def _known_digests(warehouse: Warehouse, digests: list[str]) -> set[str]:
    """The digests already received (in any status but ``duplicate``): one query per batch."""
    if not digests:
        return set()
    marks = ", ".join("?" for _ in digests)
    with warehouse.transaction() as tx:
        rows = tx.fetchall(
            "SELECT DISTINCT source_file_sha256 FROM audit.file_loads "
            f"WHERE source_file_sha256 IN ({marks}) AND status <> 'duplicate'",
            digests,
        )
    return {r[0] for r in rows}


# Bytes of one file -> its table and kind, or FileRejected: what differs between sources.
Reader = Callable[[bytes], tuple[RawTable, Kind]]


@dataclass
class Timings:
    """Seconds spent per phase over a run: where the time per file goes (the benches print it).

    A reader may add to ``open`` and ``parse`` itself (the association reader splits opening a
    workbook from reading its cells); otherwise ``open`` is bytes, hashes and known digests and
    ``parse`` the reader's whole time.
    """

    open: float = 0.0
    parse: float = 0.0
    validate: float = 0.0  # typing, reference checks, rules, GX (once per batch and kind)
    load: float = 0.0  # the warehouse transaction(s), archive and quarantine moves
    files: int = 0

    def as_dict(self) -> dict[str, float]:
        return {
            "files": self.files,
            "open_s": self.open,
            "parse_s": self.parse,
            "validate_s": self.validate,
            "load_s": self.load,
        }


def _read(
    warehouse: Warehouse,
    files: list[landing.LandedFile],
    kinds: tuple[Kind, ...],
    failures: list[str],
    reader: Reader | None = None,
    timings: Timings | None = None,
) -> list[_Item]:
    """Per file and cheap: bytes, hash, duplicate check, table and kind (or file-level fault)."""
    timings = timings or Timings()
    started = time.perf_counter()
    read: list[tuple[landing.LandedFile, bytes, str]] = []
    for file in files:
        try:
            data = landing.read_bytes(file)
        except Exception:
            log.exception("%s: not read, left in the landing zone", file.relative_path)
            failures.append(file.relative_path)
            continue
        read.append((file, data, landing.sha256(data)))
    known = _known_digests(warehouse, sorted({digest for _, _, digest in read}))
    timings.open += time.perf_counter() - started
    first: dict[str, _Item] = {}
    items: list[_Item] = []
    for file, data, digest in read:
        item = _Item(file, FileReport(file=file.relative_path, sha256=digest, status="loaded"))
        if digest in known or digest in first:
            item.report.status = "duplicate"
            item.copy_of = first.get(digest)
            items.append(item)
            continue
        try:
            item.table, item.kind = reader(data) if reader else read_file(data, kinds)
        except FileRejected as exc:
            item.report.status = "quarantined"
            item.report.kind = kinds[0].name if len(kinds) == 1 else None
            item.report.reason = f"{exc.reason}: {exc.detail}"
        except Exception:
            log.exception("%s: not processed, left in the landing zone", file.relative_path)
            failures.append(file.relative_path)
            continue
        first[digest] = item
        items.append(item)
    return items


def _validate(
    items: list[_Item],
    ctx: Context,
    failures: list[str],
    batches: list[tuple[KindBatch, list[str]]] | None = None,
) -> list[_Item]:
    """Per kind and once for the batch: every parser and rule (see check_batch).

    ``batches``, when given, receives each kind's rows of the batch (and its files' names),
    for the suite that validates them as a whole.
    """
    pending = [i for i in items if i.table is not None]
    try:
        check = check_batch([_table_kind(i) for i in pending], ctx)
        verdicts: list[Verdict | None] = list(check.verdicts)
        if batches is not None:
            for batch in check.kinds:
                batches.append((batch, [pending[p].report.file for p in batch.files]))
    except Exception:  # a bug tripped by some file: find it, and go on with the others
        log.exception("batch validation failed: validating its files one by one")
        verdicts = []
        for item in pending:
            try:
                verdicts.append(check_batch([_table_kind(item)], ctx).verdicts[0])
            except Exception:
                log.exception("%s: not processed, left in the landing zone", item.report.file)
                failures.append(item.report.file)
                verdicts.append(None)
    dropped = {id(i) for i, verdict in zip(pending, verdicts, strict=True) if verdict is None}
    for item, verdict in zip(pending, verdicts, strict=True):
        item.table = None  # free the strings early
        if verdict is None:
            continue
        item.verdict = verdict
        report = item.report
        report.kind = verdict.kind.name
        report.rows_read = verdict.rows_read
        report.rows_rejected = verdict.rows_rejected
        report.ignored_columns = [c.describe() for c in verdict.ignored_columns]
        if report.rows_rejected:
            counts = verdict.rejects["reason"].value_counts()
            report.rejects_by_reason = {str(k): int(n) for k, n in counts.items()}
        if verdict.quarantine_reason:
            report.status = "quarantined"
            report.reason = f"{verdict.quarantine_reason}: {verdict.quarantine_detail}"
            item.sender = report.sender = verdict.sender
            continue
        report.rows_loaded = len(verdict.rows)
        report.status = "loaded_with_rejects" if report.rows_rejected else "loaded"
        item.sender, item.period = _sender_period(verdict)
        report.sender = item.sender
    kept = []
    for item in items:
        if id(item) in dropped:
            continue
        if item.copy_of is not None and id(item.copy_of) in dropped:
            # A copy of a file that could not be processed waits with it in the landing zone.
            failures.append(item.report.file)
            continue
        kept.append(item)
    return kept


def _write(
    tx: Transaction, items: list[_Item], source: str, now: datetime, run_id: str | None
) -> set[str]:
    """Every item's rows, rejects and audit record, then supersession, in the caller's
    transaction; returns the digests superseded on arrival (for the reports, once committed).

    Nothing of a quarantined file's content is stored (it may hold personal data): only its
    audit record.
    """
    loadable = [i for i in items if i.report.status in LIVE_STATUSES]
    by_table: dict[str, list[_Item]] = {}
    for item in loadable:
        assert item.report.kind is not None  # a live file was validated: its kind is known
        by_table.setdefault(raw_table((source, item.report.kind)).name, []).append(item)
    for table, members in by_table.items():
        tx.insert_frame(
            table,
            _with_lineage(
                [_verdict(i).rows for i in members], members, now, loaded_at=True, run_id=run_id
            ),
        )
    with_rejects = [i for i in loadable if i.report.rows_rejected]
    if with_rejects:
        rejects = _with_lineage([_verdict(i).rejects for i in with_rejects], with_rejects, now)
        tx.insert_frame("audit.load_rejects", rejects.astype({"value": "string"}))
    counted = [i for i in items if i.verdict is not None and len(i.verdict.rejects)]
    if counted:
        tx.insert_frame("audit.load_reject_counts", _reject_counts(counted, source, now, run_id))
    records = pd.DataFrame(
        {
            "source_file_sha256": [i.report.sha256 for i in items],
            "source_file_name": [i.file.name for i in items],
            "source_file_path": [i.file.relative_path for i in items],
            "source": source,
            "kind": [i.report.kind for i in items],
            "status": [i.report.status for i in items],
            "reason": [i.report.reason for i in items],
            "rows_read": [i.report.rows_read for i in items],
            "rows_loaded": [i.report.rows_loaded for i in items],
            "rows_rejected": [i.report.rows_rejected for i in items],
            "sender": [i.sender for i in items],
            "period": [i.period for i in items],
            "file_modified_at": [i.file.modified_at for i in items],
            "received_at": [now] * len(items),
            "dag_run_id": [run_id] * len(items),
            "ignored_columns": ["; ".join(i.report.ignored_columns) or None for i in items],
        },
        dtype=object,
    ).astype({"rows_read": "int64", "rows_loaded": "int64", "rows_rejected": "int64"})
    for column in ("file_modified_at", "received_at"):
        records[column] = pd.to_datetime(records[column], utc=True)
    tx.insert_frame("audit.file_loads", records)
    periodic = [i for i in loadable if i.sender is not None and i.period is not None]
    if not periodic:
        return set()
    superseded = _arrived_superseded(tx, source, [i.report.sha256 for i in periodic])
    _supersede_groups(tx, source, sorted({_group(i) for i in periodic}))
    return superseded


def _reject_counts(
    items: list[_Item], source: str, now: datetime, run_id: str | None
) -> pd.DataFrame:
    """Rows rejected per (file, column, reason): the counts only, never a value."""
    frames = []
    for item in items:
        counts = _verdict(item).rejects.groupby(["column_name", "reason"], sort=True).size()
        frame = counts.rename("rows_rejected").reset_index()
        frame.insert(0, "source_file_sha256", item.report.sha256)
        frame.insert(1, "source_file_name", item.file.name)
        frame.insert(2, "source", source)
        frame.insert(3, "kind", item.report.kind)
        frames.append(frame)
    out = pd.concat(frames, ignore_index=True).astype(
        {"column_name": "string", "reason": "string", "rows_rejected": "int64"}
    )
    out["counted_at"] = now
    out["dag_run_id"] = run_id
    return out


def _with_lineage(
    frames: list[pd.DataFrame],
    items: list[_Item],
    now: datetime,
    loaded_at: bool = False,
    run_id: str | None = None,
) -> pd.DataFrame:
    """The frames of several files as one, each row with its file's hash and name."""
    lengths = [len(f) for f in frames]
    out = pd.concat(frames, ignore_index=True)
    out["source_file_sha256"] = np.repeat([i.report.sha256 for i in items], lengths)
    out["source_file_name"] = np.repeat([i.file.name for i in items], lengths)
    if loaded_at:
        out["loaded_at"] = now
        out["dag_run_id"] = run_id
    else:
        out["rejected_at"] = now
    return out


def _move(item: _Item, landing_url: str, source: str) -> str:
    report = item.report
    if report.status == "quarantined":
        reason_code, _, detail = (report.reason or "").partition(": ")
        return landing.quarantine(
            item.file, landing_url, source, report.sha256, reason_code, detail
        )
    return landing.archive(item.file, landing_url, source, report.sha256)


def _expect(
    expectations: BatchExpectations, batches: list[tuple[KindBatch, list[str]]], label: str
) -> None:
    """The suite of each kind, once on the batch's rows; its failure never stops the load."""
    for batch, names in batches:
        try:
            expectations.validate(batch, label, names)
        except Exception:
            log.exception(
                "Great Expectations could not validate %s (%s); the load goes on",
                label,
                batch.kind.name,
            )


def _ingest_batch(
    warehouse: Warehouse,
    files: list[landing.LandedFile],
    kinds: tuple[Kind, ...],
    ctx: Context,
    landing_url: str,
    run_id: str | None,
    failures: list[str],
    expectations: BatchExpectations | None = None,
    label: str = "batch 1",
    reader: Reader | None = None,
    timings: Timings | None = None,
) -> list[FileReport]:
    """Read, validate and load a batch of files; see :func:`ingest_landed` for the guarantees."""
    timings = timings or Timings()
    timings.files += len(files)
    source = kinds[0].source
    batches: list[tuple[KindBatch, list[str]]] = []
    started = time.perf_counter()
    before = timings.open + timings.parse
    items = _read(warehouse, files, kinds, failures, reader, timings)
    if reader is None:  # read_file cannot tell opening from parsing: all of it is parsing
        timings.parse += time.perf_counter() - started - (timings.open + timings.parse - before)
    started = time.perf_counter()
    items = _validate(items, ctx, failures, batches)
    if expectations is not None:
        _expect(expectations, batches, label)
    timings.validate += time.perf_counter() - started
    if not items:
        return []
    started = time.perf_counter()
    try:
        return _load_and_move(warehouse, items, source, landing_url, run_id, failures)
    finally:
        timings.load += time.perf_counter() - started


def _load_and_move(
    warehouse: Warehouse,
    items: list[_Item],
    source: str,
    landing_url: str,
    run_id: str | None,
    failures: list[str],
) -> list[FileReport]:
    """One transaction for the batch (per file on failure), then the moves."""
    now = datetime.now(UTC)
    committed = items
    try:
        with warehouse.transaction() as tx:
            superseded = _write(tx, items, source, now, run_id)
    except Exception:  # e.g. a value the database refuses: find the file, load the others
        log.exception("batch load failed: loading its %d files one by one", len(items))
        committed, superseded = [], set()
        failed: set[int] = set()
        for item in items:
            if item.copy_of is not None and id(item.copy_of) in failed:
                failures.append(item.report.file)
                continue
            try:
                with warehouse.transaction() as tx:
                    superseded |= _write(tx, [item], source, now, run_id)
            except Exception:
                log.exception("%s: not loaded, left in the landing zone", item.report.file)
                failures.append(item.report.file)
                failed.add(id(item))
                continue
            committed.append(item)
    for item in committed:
        if item.report.sha256 in superseded and item.report.status in LIVE_STATUSES:
            item.report.status = "superseded"
    # Moves only once the records are committed: a crash in between leaves files in the
    # landing zone whose next run sees them as duplicates and archives them.
    reports = []
    for item in committed:
        try:
            item.report.moved_to = _move(item, landing_url, source)
        except Exception:
            log.exception("%s: loaded but not moved, left in the landing zone", item.report.file)
            failures.append(item.report.file)
            continue
        if item.report.status == "quarantined":
            # Someone has to act: a WARNING, and the task's notice to the data engineers.
            log.warning("%s -> %s", item.report.line(), item.report.moved_to)
        elif item.report.ignored_columns:
            log.warning("%s", item.report.line())  # data the sender sent and nobody loads
        else:
            log.info("%s", item.report.line())
        reports.append(item.report)
    return reports


def ingest_file(
    warehouse: Warehouse,
    file: landing.LandedFile,
    kinds: tuple[Kind, ...],
    ctx: Context,
    landing_url: str,
    run_id: str | None = None,
) -> FileReport:
    """Validate and load one file atomically, then archive or quarantine it."""
    failures: list[str] = []
    reports = _ingest_batch(warehouse, [file], kinds, ctx, landing_url, run_id, failures)
    if not reports:
        raise RuntimeError(f"{file.relative_path}: not processed, left in the landing zone")
    return reports[0]


def ingest_landed(
    warehouse: Warehouse,
    landing_url: str,
    kinds: tuple[Kind, ...],
    ctx: Context,
    run_id: str | None = None,
    expectations: BatchExpectations | None = None,
    reader: Reader | None = None,
    timings: Timings | None = None,
) -> list[FileReport]:
    """Every file waiting for one source, oldest first; one bad file never blocks the others.

    Files go in batches (:data:`BATCH_FILES`, :data:`BATCH_BYTES`): per file, the cheap
    part (bytes, SHA-256, header, kind); per batch and kind, the pandas part
    (:func:`vigie.contracts.validation.validate_batch`); per file again, the verdict (> 20 % invalid
    rows: quarantine).

    Transactions: **one per batch**, holding every file's rows, rejects and audit record and
    the supersession. One per file costs several statements per file, the bulk of a run once
    validation is batched; one per batch is a handful of bulk statements. What it keeps:

    - *a crash loses nothing silently*: the transaction commits every file of the batch or
      none; files move to ``archive/``/``quarantine/`` only after the commit, so a crash
      before it leaves them all in the landing zone and the next run retries them (nothing
      was recorded, so they are not duplicates); a crash after it leaves committed files
      there, which the next run records as ``duplicate`` and archives;
    - *nothing loaded twice*: the known digests are read once per batch and the batch's own
      digests are checked as it is read (the second copy of the same bytes is a
      ``duplicate``, recorded in the same transaction as the first);
    - *one bad file never blocks the good ones*: a file-level fault is that file's
      quarantine; if the batch transaction fails (say a value the database refuses), it is
      rolled back and the batch is loaded again one transaction per file, so only the
      offending file stays in the landing zone (and its copies with it);
    - *supersession as before*: every (sender, period) group the batch touches is re-ranked
      in the same transaction, and each report says what a one-file-at-a-time run said
      (``superseded`` only when a newer file was already loaded before the batch).

    ``expectations`` (a :class:`vigie.ingest.expectations.BatchValidator`), when given, validates
    each batch's rows of each kind as a whole, once, before the invalid rows are dropped; it
    reports and keeps results but decides nothing (the row verdicts do).

    ``reader`` replaces :func:`vigie.contracts.validation.read_file` for sources whose files are
    not one table with a recognisable header (association reports); ``timings`` collects the seconds
    per phase.

    The per-file load report: one log line per file (:meth:`FileReport.line`), the record in
    ``audit.file_loads``, the rows rejected per column and reason in
    ``audit.load_reject_counts`` (quarantined files included), and one line per file in the
    view ``audit.load_reports``.
    """
    ensure_schema(warehouse)
    reports: list[FileReport] = []
    failures: list[str] = []
    with warehouse.session():
        batches = _batches(landing.list_files(landing_url, kinds[0].source))
        for number, files in enumerate(batches, start=1):
            reports += _ingest_batch(
                warehouse,
                files,
                kinds,
                ctx,
                landing_url,
                run_id,
                failures,
                expectations,
                f"batch {number} of {len(batches)}",
                reader,
                timings,
            )
    if failures:
        raise RuntimeError(
            f"{len(failures)} file(s) could not be processed and stay in the landing zone: "
            + ", ".join(failures[:10])
        )
    return reports
