"""Each raw table declared once, from its source's contract: the DDL derives from the columns.

A raw table holds a source's rows as received (typed and validated) with their lineage. Its
columns are the contract's columns in the contract's order (SQL type from the column's kind,
``required`` as ``NOT NULL``), then any columns the loader adds (the police API's request
metadata), then the lineage. The same declaration drives the validation, the Great
Expectations suites and the XLSX template; ``tests/test_raw_tables.py`` checks that dbt's
sources declare the same columns.

Tables are created ``IF NOT EXISTS``: raw tables hold years of history nothing can rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass

from vigie.contracts.validation import Column, Kind

# The SQL type of each column kind, the same on DuckDB and PostgreSQL.
SQL_TYPES: dict[str, str] = {
    "text": "VARCHAR",
    "enum": "VARCHAR",
    "departement": "VARCHAR",
    "commune": "VARCHAR",
    "siret": "VARCHAR",
    "siren": "VARCHAR",
    "qpv_list": "VARCHAR",
    "zsp": "VARCHAR",
    "integer": "INTEGER",
    "money": "NUMERIC(14, 2)",
    "percentage": "DOUBLE PRECISION",
    "date": "DATE",
}


@dataclass(frozen=True)
class SqlColumn:
    """One column of a raw table as the database holds it."""

    name: str
    sql_type: str
    not_null: bool = False
    default: str | None = None  # an SQL literal

    def ddl(self) -> str:
        parts = [self.name, self.sql_type]
        if self.not_null:
            parts.append("NOT NULL")
        if self.default is not None:
            parts.append(f"DEFAULT {self.default}")
        return " ".join(parts)


def sql_column(column: Column, sql_type: str | None = None) -> SqlColumn:
    """A contract column as stored: its kind's SQL type (or ``sql_type``), required → NOT NULL."""
    return SqlColumn(column.name, sql_type or SQL_TYPES[column.type], column.required)


# Where each row of a file came from, and which run loaded it.
FILE_LINEAGE: tuple[SqlColumn, ...] = (
    SqlColumn("source_file_sha256", "VARCHAR", True),
    SqlColumn("source_file_name", "VARCHAR", True),
    SqlColumn("source_row", "INTEGER", True),
    SqlColumn("source_sheet", "VARCHAR"),
    SqlColumn("loaded_at", "TIMESTAMP WITH TIME ZONE", True),
    SqlColumn("dag_run_id", "VARCHAR"),
)


@dataclass(frozen=True)
class RawTableSpec:
    """A source kind's raw table: ``schema.name``, the contract's kind, what the loader adds."""

    name: str
    kind: Kind
    sql_types: dict[str, str] | None = None  # column name -> SQL type, where the kind's differs
    extra: tuple[SqlColumn, ...] = ()
    lineage: tuple[SqlColumn, ...] = FILE_LINEAGE

    @property
    def columns(self) -> tuple[SqlColumn, ...]:
        """Every column, in the table's order: the contract's, the loader's, the lineage."""
        types = self.sql_types or {}
        declared = tuple(sql_column(c, types.get(c.name)) for c in self.kind.columns)
        return (*declared, *self.extra, *self.lineage)

    def create_sql(self) -> str:
        """``CREATE TABLE IF NOT EXISTS`` with every column, one a line."""
        body = ",\n    ".join(column.ddl() for column in self.columns)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {body}\n)"
