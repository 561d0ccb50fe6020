"""Police-population indicators into ``raw.police_population_indicators``, from the API or CSV.

Why one long table for both paths: analysts and the mart must not care how a figure arrived,
but every row must say it (``source`` = ``api`` or ``csv``, with the request URL and page, or
the file's SHA-256, name and row). Revisions are rows: a (département, mois, force, indicateur)
published again with a later ``publie_le`` is a new row, earlier ones stay as history and the
mart keeps the latest. Receiving the same publication again (same ``publie_le`` and ``valeur``)
inserts nothing, so re-running a fetch is harmless. An indicator the platform does not know yet
is stored, logged as a WARNING and listed in the task's report: never dropped, never fatal.
"""

from __future__ import annotations

import logging
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from vigie.contracts import police_population as contract
from vigie.contracts.validation import Context
from vigie.ingest import batches
from vigie.ingest.police_api import ApiConfig, Page, PoliceApiClient, incremental_window
from vigie.settings import Settings, get_settings
from vigie.warehouse.connection import Transaction, Warehouse

if TYPE_CHECKING:  # pyarrow is imported when a fetch is staged
    import pyarrow as pa

log = logging.getLogger(__name__)

# API and CSV rows share the contract's raw table (declared in vigie.contracts.police_population).
RAW_TABLE = contract.RAW_TABLE.name

# Every fetch of the API is recorded in audit.api_fetches (vigie.warehouse.migrations).
ROW_COLUMNS = [*contract.FIELDS, "request_url", "page", "fetched_at"]
INCOMING_COLUMNS = [*ROW_COLUMNS, "source", "fetch_id", "loaded_at", "dag_run_id"]
PAGES_PER_BATCH = 50  # 50,000 rows a batch with the API's pages of 1,000
KEY = ("code_departement", "mois", "force", "indicateur")


def ensure_schema(warehouse: Warehouse) -> None:
    """The raw and audit tables, the API's fetch log among them, at the latest schema version."""
    batches.ensure_schema(warehouse)


def latest_month(warehouse: Warehouse) -> str | None:
    """The latest ``mois`` the raw table holds (either path), None when empty."""
    ensure_schema(warehouse)
    with warehouse.transaction() as tx:
        rows = tx.fetchall(f"SELECT max(mois) FROM {RAW_TABLE}")
    return rows[0][0] if rows and rows[0][0] else None


def unknown_indicators(names: pd.Series) -> dict[str, int]:
    """Counts of indicator names outside the contract's list."""
    known = set(contract.INDICATORS)
    counts = Counter(name for name in names.tolist() if name not in known)
    return dict(sorted(counts.items()))


def _warn_unknown(unknown: dict[str, int], where: str) -> None:
    if unknown:
        log.warning(
            "%s: %d unknown indicator(s) stored, to add to the contract and the mart: %s",
            where,
            len(unknown),
            ", ".join(f"{k} ({n} rows)" for k, n in unknown.items()),
        )


def pages_to_frame(pages: list[Page]) -> pd.DataFrame:
    """Pages -> one long frame with the API lineage columns (``valeur`` float, nulls kept)."""
    records = [
        (*(row[name] for name in contract.FIELDS), page.url, page.number, page.fetched_at)
        for page in pages
        for row in page.rows
    ]
    frame = pd.DataFrame.from_records(records, columns=ROW_COLUMNS)
    frame = frame.astype(
        {name: "string" for name in ("code_departement", "mois", "force", "indicateur")}
    )
    frame["valeur"] = pd.to_numeric(frame["valeur"], errors="coerce").astype("float64")
    frame["publie_le"] = pd.to_datetime(frame["publie_le"], utc=True, format="ISO8601")
    frame["page"] = frame["page"].astype("int64")
    frame["fetched_at"] = pd.to_datetime(frame["fetched_at"], utc=True)
    return frame


def _split_departements(frame: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rows with a known département code, normalised; rejects in audit.load_rejects shape)."""
    from vigie.reference.geography import normalise_departement

    codes = normalise_departement(frame["code_departement"])
    known = ctx.known(codes, "departement")
    good = frame[known].assign(code_departement=codes[known])
    bad = frame[~known]
    rejects = pd.DataFrame(
        {
            "source_file_sha256": "api:" + bad["request_url"].astype("string"),
            "source_file_name": bad["request_url"].astype("string"),
            "source_row": bad.index.to_numpy() + 1,
            "column_name": "code_departement",
            "value": bad["code_departement"].astype("string"),
            "reason": "unknown_departement",
        }
    )
    return good, rejects


def _incoming_schema() -> pa.Schema:  # the raw table's types for INCOMING_COLUMNS
    import pyarrow as pa

    text, moment = pa.string(), pa.timestamp("us", tz="UTC")
    types = {
        "valeur": pa.float64(),
        "publie_le": moment,
        "page": pa.int32(),
        "fetched_at": moment,
        "loaded_at": moment,
    }
    return pa.schema([(name, types.get(name, text)) for name in INCOMING_COLUMNS])


class _Stage:
    """A fetch's rows as Parquet files in a temporary folder, written as the pages arrive.

    Why before any connection: a fetch may retry HTTP for minutes, and a DuckDB warehouse
    has one writer; staged outside it, the fetch holds the warehouse only for the one
    transaction that writes what arrived (readers and the other loads wait seconds, not
    minutes). Why Parquet: memory holds a batch of pages, not the fetch, and DuckDB's
    INSERT reads the files back within its memory limit, spilling past it. The folder goes
    when the load ends, written or not.
    """

    def __init__(self, near: Path | None) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix=".vigie-police-", dir=near)
        self._schema = _incoming_schema()
        self.files: list[Path] = []
        self.rejects: list[pd.DataFrame] = []
        self.received = self.staged = self.rejected = self.pages = 0
        self.unknown: Counter[str] = Counter()

    def add(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False, safe=False)
        path = Path(self._folder.name) / f"{len(self.files) + 1:06d}.parquet"
        pq.write_table(table, path)
        self.files.append(path)

    def close(self) -> None:
        self._folder.cleanup()


def _stage_pages(
    pages: Iterable[Page],
    ctx: Context,
    stage: _Stage,
    fetch_id: str,
    now: datetime,
    run_id: str | None,
) -> None:
    """Every page of the fetch parsed, checked and staged, :data:`PAGES_PER_BATCH` at a time."""

    def counted(pages: Iterable[Page]) -> Iterator[Page]:
        for page in pages:  # as they arrive: a failed fetch's record says how far it got
            stage.pages += 1
            yield page

    for batch in _batches(counted(pages), PAGES_PER_BATCH):
        frame = pages_to_frame(batch)
        frame.index += stage.received  # a reject's row is its position in the whole fetch
        good, rejects = _split_departements(frame, ctx)
        good = good.assign(source="api", fetch_id=fetch_id, loaded_at=now, dag_run_id=run_id)
        stage.unknown.update(unknown_indicators(good["indicateur"]))
        stage.add(good[INCOMING_COLUMNS])
        if len(rejects):
            stage.rejects.append(rejects.assign(rejected_at=now))
        stage.received += len(frame)
        stage.staged += len(good)
        stage.rejected += len(rejects)


def _incoming_relation(tx: Transaction, stage: _Stage) -> str | None:
    """What the INSERT reads the staged rows from, in the writing transaction; None if empty.

    DuckDB reads the Parquet files themselves; PostgreSQL gets them through COPY into a
    temporary table with the raw table's column types, dropped at commit.
    """
    if not stage.files:
        return None
    if tx.kind == "duckdb":
        pattern = str(stage.files[0].parent / "*.parquet").replace("'", "''")
        return f"read_parquet('{pattern}')"
    import pyarrow.parquet as pq

    tx.execute("DROP TABLE IF EXISTS police_incoming")
    tx.execute(
        "CREATE TEMP TABLE police_incoming ON COMMIT DROP AS SELECT "
        f"{', '.join(INCOMING_COLUMNS)} FROM {RAW_TABLE} WITH NO DATA"
    )
    for path in stage.files:
        tx.insert_frame("police_incoming", pq.read_table(path).to_pandas())
    return "police_incoming"


def _insert_new(tx: Transaction, relation: str | None) -> int:
    """Insert the staged rows not already held with the same ``publie_le`` and ``valeur``."""
    if relation is None:
        return 0
    columns = ", ".join(INCOMING_COLUMNS)
    before = tx.fetchall(f"SELECT count(*) FROM {RAW_TABLE}")[0][0]
    # Several identical rows within one fetch (a page served twice) count once.
    tx.execute(
        f"""INSERT INTO {RAW_TABLE} ({columns})
        SELECT {columns} FROM (
            SELECT i.*, row_number() OVER (
                PARTITION BY code_departement, mois, force, indicateur, publie_le,
                    coalesce(valeur, -1)
                ORDER BY page) AS rn
            FROM {relation} i) AS i
        WHERE rn = 1 AND NOT EXISTS (
            SELECT 1 FROM {RAW_TABLE} r
            WHERE r.code_departement = i.code_departement AND r.mois = i.mois
              AND r.force = i.force AND r.indicateur = i.indicateur
              AND r.publie_le = i.publie_le
              AND coalesce(r.valeur, -1) = coalesce(i.valeur, -1))"""
    )
    after = tx.fetchall(f"SELECT count(*) FROM {RAW_TABLE}")[0][0]
    return int(after - before)


def _batches(pages: Iterable[Page], size: int) -> Iterator[list[Page]]:
    batch: list[Page] = []
    for page in pages:
        batch.append(page)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


_FETCH_COLUMNS = """fetch_id, source, base_url, depuis, jusqua, pages, rows_received,
    rows_inserted, rows_rejected, unknown_indicators, started_at, finished_at, dag_run_id,
    status, error"""


def _record_fetch(tx: Transaction, values: list[Any]) -> None:
    tx.execute(
        f"INSERT INTO audit.api_fetches ({_FETCH_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        values,
    )


def _record_failure(
    warehouse: Warehouse, values: list[Any], error: BaseException, redact: Callable[[str], str]
) -> None:
    """The failed fetch's record, in a transaction of its own: what was asked, how far it got,
    and the error (its type and message, the token removed); best effort, never masking it."""
    message = redact(f"{type(error).__name__}: {error}")[:2000]
    try:
        with warehouse.transaction() as tx:
            _record_fetch(tx, [*values, "failed", message])
    except Exception:
        log.exception("the failed fetch could not be recorded in audit.api_fetches")


def load_pages(
    warehouse: Warehouse,
    pages: Iterable[Page],
    ctx: Context,
    *,
    base_url: str,
    depuis: str | None = None,
    jusqua: str | None = None,
    run_id: str | None = None,
    started_at: datetime | None = None,
    redact: Callable[[str], str] = str,
) -> dict[str, Any]:
    """Load one whole fetch; returns the task's report.

    ``pages`` may be the API client's page iterator: every page is parsed and staged
    (:class:`_Stage`) before the warehouse is opened, then the fetch is written in **one
    transaction**: all of it or nothing, and the warehouse is held only while writing.

    Every fetch is recorded in ``audit.api_fetches``, a failed one too (``status =
    'failed'``, the error in ``error``, nothing loaded): the error still propagates.
    ``redact`` removes what must not be stored from the error's text (the token).
    """
    ensure_schema(warehouse)
    now = datetime.now(UTC)
    fetch_id = uuid.uuid4().hex
    near = warehouse.settings.duckdb_path.parent if warehouse.kind == "duckdb" else None
    stage = _Stage(near)

    def values(inserted: int, finished: datetime) -> list[Any]:
        return [
            fetch_id,
            "api",
            base_url,
            depuis,
            jusqua,
            stage.pages,
            stage.received,
            inserted,
            stage.rejected,
            ",".join(sorted(stage.unknown)) or None,
            started_at or now,
            finished,
            run_id,
        ]

    try:
        try:
            _stage_pages(pages, ctx, stage, fetch_id, now, run_id)
            with warehouse.transaction() as tx:
                inserted = _insert_new(tx, _incoming_relation(tx, stage))
                for rejects in stage.rejects:
                    tx.insert_frame("audit.load_rejects", rejects)
                _record_fetch(tx, [*values(inserted, datetime.now(UTC)), "ok", None])
        except Exception as exc:
            _record_failure(warehouse, values(0, datetime.now(UTC)), exc, redact)
            raise
    finally:
        stage.close()
    report: dict[str, Any] = {
        "source": "api",
        "fetch_id": fetch_id,
        "depuis": depuis,
        "jusqua": jusqua,
        "pages": stage.pages,
        "rows_received": stage.received,
        "rows_inserted": inserted,
        "rows_unchanged": stage.staged - inserted,
        "rows_rejected": stage.rejected,
        "unknown_indicators": dict(sorted(stage.unknown.items())),
    }
    _warn_unknown(report["unknown_indicators"], f"police API fetch {fetch_id}")
    log.info("police API: %s", report)
    return report


def fetch_and_load(
    warehouse: Warehouse,
    config: ApiConfig,
    ctx: Context,
    *,
    run_id: str | None = None,
    today: date | None = None,
    full: bool = False,
) -> dict[str, Any]:
    """Incremental fetch (see :func:`~vigie.ingest.police_api.incremental_window`), staged as it
    comes, then loaded in one transaction.

    ``today`` is the day the run stands for (the DAG passes its data interval, so a re-run or
    a backfill asks for the same window); the machine's date only when none is given (CLI).
    Any API error propagates, is recorded as a failed fetch and loads nothing.
    """
    started = datetime.now(UTC)
    latest = None if full else latest_month(warehouse)
    depuis, jusqua = incremental_window(latest, today or date.today())

    def redact(text: str) -> str:
        return text.replace(config.token, "***") if config.token else text

    with PoliceApiClient(config) as client:
        return load_pages(
            warehouse,
            client.iter_pages(depuis, jusqua),
            ctx,
            base_url=config.base_url,
            depuis=depuis,
            jusqua=jusqua,
            run_id=run_id,
            started_at=started,
            redact=redact,
        )


def ingest_csv(
    warehouse: Warehouse, landing_url: str, ctx: Context, run_id: str | None = None
) -> dict[str, Any]:
    """The CSV fallback: every file under ``<landing>/police_population/``, shared file rules.

    Each file goes through :func:`vigie.ingest.batches.ingest_landed` (validation, rejects,
    quarantine, archive, ``audit.file_loads``); the report adds the unknown indicators found
    in the rows just loaded.
    """
    ensure_schema(warehouse)
    reports = batches.ingest_landed(warehouse, landing_url, contract.KINDS, ctx, run_id)
    digests = [r.sha256 for r in reports if r.status in batches.LIVE_STATUSES]
    unknown: dict[str, int] = {}
    if digests:
        marks = ", ".join("?" for _ in digests)
        with warehouse.transaction() as tx:
            names = tx.fetch_frame(
                f"SELECT indicateur FROM {RAW_TABLE} WHERE source_file_sha256 IN ({marks})",
                digests,
            )["indicateur"]
        unknown = unknown_indicators(names)
        _warn_unknown(unknown, "police CSV fallback")
    return {
        "source": "csv",
        "files": [r.as_dict() for r in reports],
        "statuses": dict(Counter(r.status for r in reports)),
        "rows_loaded": sum(r.rows_loaded for r in reports),
        "rows_rejected": sum(r.rows_rejected for r in reports),
        "unknown_indicators": unknown,
    }


def _context(settings: Settings) -> Context:
    from vigie.reference.geography import load_reference

    return Context(load_reference(settings.reference_dir), settings.qpv_2024_from_year)


def run_api(
    run_id: str | None = None,
    settings: Settings | None = None,
    config: ApiConfig | None = None,
    today: date | None = None,
) -> dict[str, Any] | None:
    """The DAG's API task: None when the ``vigie_police_api`` connection is not defined."""
    from vigie.ingest.police_api import config_from_connection

    settings = settings or get_settings()
    config = config or config_from_connection()
    if config is None:
        log.info("no connection %r: the police-population API is skipped", "vigie_police_api")
        return None
    return fetch_and_load(
        Warehouse(settings), config, _context(settings), run_id=run_id, today=today
    )


def run_csv(run_id: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """The DAG's CSV fallback task."""
    settings = settings or get_settings()
    return ingest_csv(Warehouse(settings), settings.landing_url, _context(settings), run_id)
