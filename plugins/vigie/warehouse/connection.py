"""The warehouse connection: one DuckDB file by default, PostgreSQL when the Airflow
connection ``vigie_warehouse`` (or ``VIGIE_WAREHOUSE_URL``) says so.

Loading code talks to this small interface (transactions, statements, DataFrame inserts) so
the same loader runs on both engines; dbt talks to the same database through its profile.
Each engine's driver (duckdb, psycopg2) is imported when a connection to that engine opens: a
deployment uses only one of them.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pandas as pd

from vigie.settings import Settings, WarehouseTarget


class Transaction:
    """Statements and bulk inserts inside one open transaction."""

    def __init__(self, connection: Any, kind: str) -> None:
        self._con = connection
        self.kind = kind

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.kind == "postgres" else sql

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        if self.kind == "postgres":
            with self._con.cursor() as cursor:
                cursor.execute(self._sql(sql), tuple(params))
        else:
            self._con.execute(sql, list(params))

    def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        if self.kind == "postgres":
            with self._con.cursor() as cursor:
                cursor.execute(self._sql(sql), tuple(params))
                return list(cursor.fetchall())
        return self._con.execute(sql, list(params)).fetchall()

    def fetch_frame(self, sql: str, params: Sequence[Any] = ()) -> pd.DataFrame:
        if self.kind == "postgres":
            with self._con.cursor() as cursor:
                cursor.execute(self._sql(sql), tuple(params))
                names = [d[0] for d in cursor.description]
                return pd.DataFrame(cursor.fetchall(), columns=names)
        return self._con.execute(sql, list(params)).df()

    def insert_frame(self, table: str, frame: pd.DataFrame) -> int:
        """Bulk insert ``frame``'s columns into ``table`` (columns matched by name)."""
        if frame.empty:
            return 0
        columns = ", ".join(frame.columns)
        if self.kind == "postgres":
            buffer = io.StringIO()
            frame.to_csv(buffer, index=False, header=False, na_rep="\\N")
            buffer.seek(0)
            with self._con.cursor() as cursor:
                cursor.copy_expert(
                    f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buffer
                )
        else:
            self._con.register("_vigie_frame", frame)
            try:
                self._con.execute(
                    f"INSERT INTO {table} ({columns}) SELECT {columns} FROM _vigie_frame"
                )
            finally:
                self._con.unregister("_vigie_frame")
        return len(frame)


class Warehouse:
    """Opens short-lived connections: DuckDB allows one writer process at a time.

    Where the warehouse is gets resolved once, here (:meth:`Settings.warehouse_target`): the
    Airflow connection ``vigie_warehouse`` when it exists. Build one inside a task, never at
    DAG parse time.
    """

    def __init__(self, settings: Settings, target: WarehouseTarget | None = None) -> None:
        self.settings = settings
        self.target = target or settings.warehouse_target()
        self.kind = self.target.kind
        self._held: Any = None

    @contextmanager
    def session(self) -> Iterator[Warehouse]:
        """Keep one connection open for a batch of transactions (opening one is not free)."""
        if self._held is not None:
            yield self
            return
        self._held = self._connect()
        try:
            yield self
        finally:
            self._held.close()
            self._held = None

    def _connect(self) -> Any:
        if self.kind == "duckdb":
            import duckdb

            path = self.target.duckdb_path
            assert path is not None
            path.parent.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(str(path))
            # SET, not connect(config=...): a process holding the file open with one
            # configuration cannot open it with another, and dbt-duckdb connects without one
            # (it SETs its profile's settings too).
            con.execute("SET memory_limit = ?", [self.settings.duckdb_memory_limit])
            return con
        import psycopg2

        return psycopg2.connect(**self.target.psycopg2_kwargs(), application_name="vigie")

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """Everything inside commits together or not at all."""
        con = self._held if self._held is not None else self._connect()
        try:
            if self.kind == "duckdb":
                con.begin()
            tx = Transaction(con, self.kind)
            try:
                yield tx
            except BaseException:
                con.rollback()
                raise
            con.commit()
        finally:
            if con is not self._held:
                con.close()
