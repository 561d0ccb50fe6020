"""A read-only connection to the warehouse, for the pages: they read, they never write.

DuckDB allows one writer process, and a process that has the file open for writing (a
loader, dbt) keeps every other process out, readers included: the page then says the data is
being updated (HTTP 503) instead of failing. The reverse holds too: while a page's queries
run, a writer cannot open the file, so a page holds its connection only for its queries (a few
milliseconds), never between requests; a writer that still collides fails its task, which
Airflow retries.

On PostgreSQL the session is read-only (``SET SESSION CHARACTERISTICS ... READ ONLY``), so
even a bug here could not change a table.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from vigie.settings import Settings


class WarehouseUnavailable(Exception):
    """The warehouse cannot be read right now; ``reason`` says why, for the page."""

    BUSY = "busy"  # a writer holds the DuckDB file
    MISSING = "missing"  # no warehouse file, or the marts are not built yet
    UNREACHABLE = "unreachable"  # the PostgreSQL server does not answer

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


Row = dict[str, Any]


def _plain(value: Any) -> Any:
    """Decimals as floats, NaN as None: what the pages format."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class Reader:
    """Runs SELECTs on one open connection; rows come back as dicts."""

    def __init__(self, connection: Any, kind: str) -> None:
        self._con = connection
        self.kind = kind

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """``?`` placeholders on both engines."""
        try:
            if self.kind == "postgres":
                with self._con.cursor() as cursor:
                    cursor.execute(sql.replace("?", "%s"), tuple(params))
                    names = [d[0] for d in cursor.description]
                    records = cursor.fetchall()
            else:
                cursor = self._con.execute(sql, list(params))
                names = [d[0] for d in cursor.description]
                records = cursor.fetchall()
        except Exception as exc:
            if _missing_table(exc):
                raise WarehouseUnavailable(WarehouseUnavailable.MISSING, str(exc)) from exc
            raise
        return [{n: _plain(v) for n, v in zip(names, r, strict=True)} for r in records]

    def value(self, sql: str, params: Sequence[Any] = ()) -> Any:
        found = self.rows(sql, params)
        return next(iter(found[0].values())) if found else None

    def has_table(self, schema: str, table: str) -> bool:
        count = self.value(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        )
        return bool(count)


def _missing_table(exc: Exception) -> bool:
    name = type(exc).__name__
    return name in {"CatalogException", "UndefinedTable"}


@contextmanager
def read_only(settings: Settings) -> Iterator[Reader]:
    """One read-only connection for the queries of one page."""
    connection = _duckdb(settings) if settings.warehouse_kind == "duckdb" else _postgres(settings)
    try:
        yield Reader(connection, settings.warehouse_kind)
    finally:
        connection.close()


def _duckdb(settings: Settings) -> Any:
    import duckdb

    path = settings.duckdb_path
    if not path.exists():
        raise WarehouseUnavailable(WarehouseUnavailable.MISSING, str(path))
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        # "Could not set lock on file ...: Conflicting lock is held in <process>"
        if "lock" in str(exc).lower():
            raise WarehouseUnavailable(WarehouseUnavailable.BUSY, str(exc)) from exc
        raise


def _postgres(settings: Settings) -> Any:
    import psycopg2

    target = settings.warehouse_target()  # the vigie_warehouse connection, else the URL
    try:
        connection = psycopg2.connect(
            **target.psycopg2_kwargs(), application_name="vigie-ui", connect_timeout=5
        )
    except psycopg2.OperationalError as exc:
        raise WarehouseUnavailable(WarehouseUnavailable.UNREACHABLE, str(exc)) from exc
    connection.set_session(readonly=True, autocommit=True)
    return connection


def as_date(value: Any) -> dt.date | None:
    """A DATE or TIMESTAMP column as a date (both engines, pandas-free)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def as_datetime(value: Any) -> dt.datetime | None:
    """A TIMESTAMP WITH TIME ZONE column, aware (UTC when the driver gave it naive)."""
    if value is None:
        return None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
