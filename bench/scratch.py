"""Scratch warehouses for the benches: a bench never writes into a database someone uses."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """A fresh database on the server of ``server_url``, dropped afterwards; yields its URL."""
    import psycopg2

    url = make_url(server_url)
    name = f"vigie_bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password,
        dbname=url.database or "postgres",
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
