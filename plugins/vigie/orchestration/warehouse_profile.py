"""How Cosmos reaches the warehouse: the Airflow connection, or ``dbt_project/profiles.yml``.

Decided when the DAG file is parsed, from the environment alone (no connection read, no I/O):

- a ``vigie_warehouse`` connection declared (``AIRFLOW_CONN_VIGIE_WAREHOUSE`` in the
  environment, or ``VIGIE_WAREHOUSE_CONN_TYPE`` for one kept in Airflow's database or a secrets
  backend): Cosmos's profile mapping for its type. Cosmos reads the connection when a task runs
  and hands dbt the password through an environment variable of the dbt process: it is in no
  task argument, rendered or serialized.
- none: ``profiles.yml``, whose values come from ``VIGIE_WAREHOUSE_URL`` through environment
  variables set here (the embedded DuckDB file by default).

dbt runs outside Cosmos (``vigie.warehouse.dbt_runner``) reach the same warehouse through
:meth:`vigie.settings.Settings.warehouse_target`, resolved in the task.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from vigie.settings import Settings

if TYPE_CHECKING:
    from cosmos import ProfileConfig
    from cosmos.profiles import PostgresUserPasswordProfileMapping

PROFILE_NAME = "vigie"
POSTGRES_SCHEMA = "public"  # as profiles.yml: the models' own schemas are under it
POSTGRES_THREADS = 2
DUCKDB_THREADS = 1  # one writer


def warehouse_profile_config(
    settings: Settings, environ: os._Environ[str] | dict[str, str] | None = None
) -> ProfileConfig:
    """The ``ProfileConfig`` of the warehouse DAG; sets the variables the models read (and,
    without a connection, those ``profiles.yml`` reads) in ``environ`` where unset."""
    from cosmos import ProfileConfig

    env = os.environ if environ is None else environ
    for key, value in settings.dbt_vars().items():
        env.setdefault(key, value)
    kind = settings.warehouse_conn_type
    if kind == "postgres":
        mapping = postgres_profile_mapping_class()(
            conn_id=settings.warehouse_conn_id,
            profile_args={"schema": POSTGRES_SCHEMA, "threads": POSTGRES_THREADS},
        )
        return ProfileConfig(
            profile_name=PROFILE_NAME, target_name="postgres", profile_mapping=mapping
        )
    if kind == "duckdb":
        from cosmos.profiles import DuckDBUserPasswordProfileMapping

        # Cosmos maps the connection's host to dbt-duckdb's path: an absolute path there.
        duckdb_mapping = DuckDBUserPasswordProfileMapping(
            conn_id=settings.warehouse_conn_id,
            profile_args={
                "schema": "main",
                "threads": DUCKDB_THREADS,
                "settings": {"memory_limit": settings.duckdb_memory_limit},
            },
        )
        return ProfileConfig(
            profile_name=PROFILE_NAME, target_name="duckdb", profile_mapping=duckdb_mapping
        )
    # No connection: profiles.yml reads VIGIE_WAREHOUSE_URL's values from the environment, set
    # here (no I/O) rather than passed as task arguments, which Airflow renders and stores.
    target = settings.url_target()
    for key, value in settings.dbt_env(target).items():
        env.setdefault(key, value)
    return ProfileConfig(
        profile_name=PROFILE_NAME,
        target_name=target.kind,
        profiles_yml_filepath=settings.dbt_project_dir / "profiles.yml",
    )


@cache
def postgres_profile_mapping_class() -> type[PostgresUserPasswordProfileMapping]:
    """Cosmos's PostgreSQL mapping, also for a connection without a password (trust, peer,
    certificate or ``.pgpass`` authentication: `make cluster` on the local server), where
    Cosmos's own refuses to run ("Could not find a value for secret field password")."""
    from cosmos.profiles import PostgresUserPasswordProfileMapping

    class VigiePostgresProfileMapping(PostgresUserPasswordProfileMapping):
        def get_dbt_value(self, name: str) -> Any:
            value = super().get_dbt_value(name)
            return "" if name == "password" and value is None else value

    return VigiePostgresProfileMapping
