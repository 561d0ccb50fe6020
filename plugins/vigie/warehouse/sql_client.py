"""`make sql`: the warehouse in a SQL client, read-only, on either engine.

DuckDB: harlequin (a SQL client in the terminal) on the warehouse file, opened read-only.
harlequin reads the file through the installed ``duckdb`` library, so client and warehouse
agree on the storage format (PyPI's DuckDB command line, ``duckdb-cli``, is a major version
behind the library). PostgreSQL: ``psql`` with the settings' URL when it is installed, else
harlequin's postgres adapter; the session is read-only (``default_transaction_read_only``),
whatever the role may do. ``--query SQL`` prints one query's answer instead (scripts, CI).

DuckDB lets no other process open the file while a load or a build writes it: query a copy,
or wait for the DAG to finish.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys

from vigie.settings import Settings, get_settings, use_demo_when_alone

READ_ONLY_OPTIONS = "-c default_transaction_read_only=on"


def postgres_url(settings: Settings) -> str:
    """The warehouse URL as libpq reads it (no SQLAlchemy driver suffix), password included:
    the ``vigie_warehouse`` connection's, else ``VIGIE_WAREHOUSE_URL``'s."""
    return settings.warehouse_target().url(hide_password=False)


def client_command(settings: Settings, psql: str | None = None) -> tuple[list[str], dict[str, str]]:
    """The interactive client's arguments and the environment it needs, read-only."""
    if settings.warehouse_kind == "duckdb":
        return ["harlequin", "--read-only", "--adapter", "duckdb", str(settings.duckdb_path)], {}
    env = {"PGOPTIONS": READ_ONLY_OPTIONS}
    psql = psql if psql is not None else shutil.which("psql")
    if psql:
        return [psql, postgres_url(settings)], env
    return ["harlequin", "--read-only", "--adapter", "postgres", postgres_url(settings)], env


def run_query(settings: Settings, sql: str) -> str:
    """One query's answer as text, on a read-only connection (a write is refused)."""
    if settings.warehouse_kind == "duckdb":
        import duckdb

        con = duckdb.connect(str(settings.duckdb_path), read_only=True)
        try:
            return str(con.sql(sql))
        finally:
            con.close()
    import pandas as pd
    import psycopg2

    con = psycopg2.connect(postgres_url(settings), options=READ_ONLY_OPTIONS)
    try:
        with con.cursor() as cursor:
            cursor.execute(sql)
            if cursor.description is None:
                return ""
            names = [column.name for column in cursor.description]
            return pd.DataFrame(cursor.fetchall(), columns=names).to_string(index=False)
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make sql", description=__doc__.split("\n")[0])
    parser.add_argument("--query", help="print this query's answer instead of opening a client")
    args = parser.parse_args(argv)
    demo = use_demo_when_alone()
    if demo is not None:
        print(f"no warehouse of your own yet: the demo's, in {demo}", file=sys.stderr)
    settings = get_settings()
    if args.query:
        print(run_query(settings, args.query))
        return 0
    if settings.warehouse_kind == "duckdb" and not settings.duckdb_path.exists():
        print(f"no warehouse at {settings.duckdb_path}: run `make demo` or the DAGs first")
        return 1
    command, env = client_command(settings)
    os.execvpe(command[0], command, {**os.environ, **env})  # the client takes the terminal


if __name__ == "__main__":
    sys.exit(main())
