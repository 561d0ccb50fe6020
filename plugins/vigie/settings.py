"""Every Vigie setting, read once from the environment.

One place so that a data engineer can find what a deployment can change, and so that tasks,
the CLI and dbt all see the same values. Relative paths are resolved against ``VIGIE_HOME``
(the project directory by default), not the current directory: Airflow workers do not run
from the project folder.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import URL, make_url

PACKAGE_DIR = Path(__file__).resolve().parent
SOURCE_TREE_ROOT = PACKAGE_DIR.parent.parent  # plugins/vigie -> project root


def _project_home() -> Path:
    return Path(os.environ.get("VIGIE_HOME", SOURCE_TREE_ROOT)).resolve()


def _path(value: str, home: Path) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (home / path).resolve()


# DuckDB allows one writer process: every task writing the warehouse takes this pool (one slot
# on DuckDB; several on PostgreSQL). Here, not in vigie.orchestration.assets, so code without
# Airflow has it.
WAREHOUSE_POOL = "vigie_warehouse"

# The warehouse as an Airflow connection: used by the loaders, dbt and Cosmos when it exists;
# ``VIGIE_WAREHOUSE_URL`` (a DuckDB file by default) otherwise.
WAREHOUSE_CONN_ID = "vigie_warehouse"
_CONN_KINDS = {"postgres": "postgres", "postgresql": "postgres", "duckdb": "duckdb"}
DEFAULT_WAREHOUSE_URL = "duckdb:///./data/warehouse.duckdb"


@dataclass(frozen=True)
class WarehouseTarget:
    """Where the warehouse is, resolved (:meth:`Settings.warehouse_target`): a DuckDB file or
    a PostgreSQL database. The password never shows in ``repr`` nor in :attr:`display`."""

    kind: str  # duckdb | postgres
    source: str  # where it came from: the Airflow connection, or VIGIE_WAREHOUSE_URL
    duckdb_path: Path | None = None
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    password: str = field(default="", repr=False)
    database: str = "vigie"

    @property
    def display(self) -> str:
        """The warehouse for a log line or a message: no password."""
        if self.kind == "duckdb":
            return f"DuckDB {self.duckdb_path}"
        return f"PostgreSQL {self.user}@{self.host}:{self.port}/{self.database}"

    def psycopg2_kwargs(self) -> dict[str, object]:
        """``psycopg2.connect`` keyword arguments (password included)."""
        if self.kind != "postgres":
            raise ValueError("the warehouse is not a PostgreSQL database")
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password or None,
            "dbname": self.database,
        }

    def url(self, *, hide_password: bool = True) -> str:
        """As a SQLAlchemy/libpq URL; the password only when asked for (``make sql``)."""
        if self.kind == "duckdb":
            return f"duckdb:///{self.duckdb_path}"
        url = URL.create(
            "postgresql",
            username=self.user,
            password=self.password or None,
            host=self.host,
            port=self.port,
            database=self.database,
        )
        return url.render_as_string(hide_password=hide_password)


@dataclass(frozen=True)
class Settings:
    """Resolved settings; build it with :func:`get_settings`."""

    home: Path
    landing_url: str
    warehouse_url: str
    reference_dir: Path | None
    outbox_dir: Path
    fipd_target: float
    fipd_scope_programmes: tuple[str, ...]
    fipd_scope_excluded_natures: tuple[str, ...]
    qpv_2024_from_year: int
    pilots_file: Path
    suppression_threshold: int
    mail_from: str
    engineers_email: tuple[str, ...] = ()
    alerts_cron: str = "0 7 * * 1"  # when the weekly checks and e-mails run (cron)
    alerts_timezone: str = "Europe/Paris"
    gx_dir: Path | None = None  # Great Expectations results and Data Docs (see _gx_dir)
    gx_validate: bool = True
    retry_delay_seconds: int = 60  # between a failed task's tries (a relay or database back)
    # Most memory one DuckDB connection (a loader's or dbt's) may hold before it spills to disk
    # (``<warehouse>.tmp/``). DuckDB's own default is most of the machine, which a large police
    # fetch can reach beside the other tasks of a worker.
    duckdb_memory_limit: str = "4GB"
    # Base URL of Vigie's pages in the Airflow UI (``https://airflow.example.gouv.fr/vigie/``),
    # for links from outside (e-mails): vigie.ui.links. None: no absolute links.
    public_url: str | None = None
    # The pilots' weekly e-mails: the sender's display name, where replies go (the national
    # team's mailbox, named in each e-mail's action block), the days given to answer a
    # request (a missing export), and the smallest last-year count under which a police
    # indicator's fall is not an alert (1 -> 0 is noise, not a trend).
    mail_from_name: str = "Vigie – convention Ville–Intérieur"
    mail_reply_to: str = "pilotage-ville-interieur@example.gouv.fr"
    alerts_response_days: int = 14
    police_drop_min_count: int = 20
    # The Airflow connection holding the warehouse (``VIGIE_WAREHOUSE_CONN_ID``; empty: none,
    # the URL alone), and its type as the DAG files can know it without reading connections:
    # from ``AIRFLOW_CONN_VIGIE_WAREHOUSE`` when the environment holds the connection, else
    # ``VIGIE_WAREHOUSE_CONN_TYPE`` (a connection in Airflow's database or a secrets backend).
    warehouse_conn_id: str = WAREHOUSE_CONN_ID
    warehouse_conn_type: str | None = None

    @property
    def include_dir(self) -> Path:
        return self.home / "include"

    @property
    def dbt_project_dir(self) -> Path:
        return self.home / "dbt_project"

    # --- The warehouse: the Airflow connection, else the URL -----------------------------------

    def url_target(self) -> WarehouseTarget:
        """The warehouse ``VIGIE_WAREHOUSE_URL`` names (no I/O): the fallback, and what the DAG
        files render for when no connection is declared."""
        url = make_url(self.warehouse_url)
        backend = url.get_backend_name()
        source = "VIGIE_WAREHOUSE_URL"
        if backend == "duckdb":
            path = _path(url.database or "data/warehouse.duckdb", self.home)
            return WarehouseTarget("duckdb", source, duckdb_path=path)
        if backend in {"postgresql", "postgres"}:
            return WarehouseTarget(
                "postgres",
                source,
                host=url.host or "127.0.0.1",
                port=url.port or 5432,
                user=url.username or "postgres",
                password=url.password or "",
                database=url.database or "vigie",
            )
        raise ValueError(
            f"VIGIE_WAREHOUSE_URL={url.render_as_string(hide_password=True)!r}: only duckdb:/// "
            "and postgresql:// warehouses are supported"
        )

    def warehouse_target(self) -> WarehouseTarget:
        """The warehouse, resolved when called (inside a task, never at DAG parse time).

        The Airflow connection ``vigie_warehouse`` when Airflow knows it (a task asks the API
        server: environment, secrets backend or database; outside a task, only the environment
        and a configured secrets backend are read), else ``VIGIE_WAREHOUSE_URL``, else the
        embedded DuckDB file. The DAG files choose how Cosmos reaches the warehouse without
        reading connections (:attr:`warehouse_conn_type`): a connection they were not told
        about, or told about and missing in a task, is an error rather than two warehouses.
        """
        conn = _airflow_connection(self.warehouse_conn_id) if self.warehouse_conn_id else None
        if conn is None:
            if self.warehouse_conn_type and _in_task():
                raise ValueError(
                    f"VIGIE_WAREHOUSE_CONN_TYPE={self.warehouse_conn_type} but Airflow has no "
                    f"connection {self.warehouse_conn_id!r}: create it (docs/outputs.md)"
                )
            return self.url_target()
        target = _connection_target(conn, self.warehouse_conn_id, self.home)
        if target.kind != self.warehouse_conn_type:
            raise ValueError(
                f"the Airflow connection {self.warehouse_conn_id!r} is a {target.kind} warehouse "
                f"but the DAGs were told {self.warehouse_conn_type or 'nothing'}: set "
                f"VIGIE_WAREHOUSE_CONN_TYPE={target.kind} where Airflow runs"
            )
        return target

    @property
    def warehouse_kind(self) -> str:
        """``duckdb`` or ``postgres``: the dbt target and the loader's dialect (resolved)."""
        return self.warehouse_target().kind

    @property
    def declared_warehouse_kind(self) -> str:
        """The warehouse's kind as known without reading any connection (DAG parse time): the
        declared connection's type, else the URL's kind."""
        return self.warehouse_conn_type or self.url_target().kind

    @property
    def duckdb_path(self) -> Path:
        path = self.warehouse_target().duckdb_path
        if path is None:
            raise ValueError("the warehouse is not a DuckDB file")
        return path

    def dbt_env(self, target: WarehouseTarget | None = None) -> dict[str, str]:
        """Environment variables that ``dbt_project/profiles.yml`` and the models read: the
        warehouse ``target`` (resolved when not given: call it inside tasks only) and the
        models' variables (:meth:`dbt_vars`)."""
        target = target or self.warehouse_target()
        env = {"VIGIE_DBT_TARGET": target.kind, **self.dbt_vars()}
        if target.kind == "duckdb":
            env["VIGIE_DUCKDB_PATH"] = str(target.duckdb_path)
            env["VIGIE_DUCKDB_MEMORY_LIMIT"] = self.duckdb_memory_limit
        else:
            env.update(
                VIGIE_PG_HOST=target.host,
                VIGIE_PG_PORT=str(target.port),
                VIGIE_PG_USER=target.user,
                VIGIE_PG_PASSWORD=target.password,
                VIGIE_PG_DATABASE=target.database,
            )
        return env

    def dbt_vars(self) -> dict[str, str]:
        """The settings the models read through ``env_var()`` (no warehouse, no I/O)."""
        return {
            "VIGIE_FIPD_TARGET": repr(self.fipd_target),
            "VIGIE_FIPD_SCOPE_PROGRAMMES": ",".join(self.fipd_scope_programmes),
            "VIGIE_FIPD_SCOPE_EXCLUDED_NATURES": ",".join(self.fipd_scope_excluded_natures),
            # dim_indicateur documents the police drop rule the weekly check applies.
            "VIGIE_POLICE_DROP_MIN_COUNT": str(self.police_drop_min_count),
            "VIGIE_QPV_2024_FROM_YEAR": str(self.qpv_2024_from_year),
            "VIGIE_SUPPRESSION_THRESHOLD": str(self.suppression_threshold),
        }


def conn_env_name(conn_id: str) -> str:
    """The environment variable Airflow reads a connection from."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def _conn_type_of(value: str, name: str) -> str:
    """The warehouse kind of a connection given in the environment (URI or JSON), read without
    Airflow: what the DAG files decide on at parse time."""
    value = value.strip()
    if value.startswith("{"):
        conn_type = str(json.loads(value).get("conn_type") or "")
    else:
        conn_type = value.partition("://")[0] if "://" in value else ""
    kind = _CONN_KINDS.get(conn_type.lower().replace("_", "-").split("+")[0])
    if kind is None:
        raise ValueError(f"{name}: conn_type {conn_type!r} is not a warehouse (postgres, duckdb)")
    return kind


def _declared_conn_type(env: os._Environ[str] | dict[str, str], conn_id: str) -> str | None:
    if not conn_id:
        return None
    name = conn_env_name(conn_id)
    if env.get(name, "").strip():
        return _conn_type_of(env[name], name)
    value = env.get("VIGIE_WAREHOUSE_CONN_TYPE", "").strip().lower()
    if not value:
        return None
    if value not in _CONN_KINDS:
        raise ValueError(f"VIGIE_WAREHOUSE_CONN_TYPE={value!r}: expected postgres or duckdb")
    return _CONN_KINDS[value]


def _in_task() -> bool:
    """True inside an Airflow task (its runner talks to the supervisor)."""
    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    return getattr(runner, "SUPERVISOR_COMMS", None) is not None


def _airflow_connection(conn_id: str) -> object | None:
    """Airflow's connection ``conn_id`` through the task SDK, or None when Airflow has none.

    In a task the SDK asks the API server (environment, secrets backend, database); elsewhere
    (the CLI, ``make sql``, tests) it reads the environment and a configured secrets backend.
    Airflow is not imported for this alone when nothing can hold the connection: a process
    that never loaded it, with neither the connection's variable nor a secrets backend.
    """
    if "airflow.sdk" not in sys.modules and not (
        os.environ.get(conn_env_name(conn_id)) or os.environ.get("AIRFLOW__SECRETS__BACKEND")
    ):
        return None
    if "airflow" not in sys.modules:  # Airflow reads its configuration (home) when imported
        os.environ.setdefault("AIRFLOW_HOME", airflow_env_defaults()["AIRFLOW_HOME"])
    from airflow.sdk import Connection
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return Connection.get(conn_id)
    except AirflowNotFoundException:
        return None


def _connection_target(conn: object, conn_id: str, home: Path) -> WarehouseTarget:
    """The warehouse an Airflow connection describes (postgres, or duckdb with the file's path
    in ``extra.path``, ``host`` or ``schema``)."""
    conn_type = str(getattr(conn, "conn_type", "") or "")
    kind = _CONN_KINDS.get(conn_type.lower())
    source = f"Airflow connection {conn_id}"
    extra = getattr(conn, "extra_dejson", None) or {}
    host = getattr(conn, "host", None) or ""
    schema = getattr(conn, "schema", None) or ""
    if kind == "duckdb":
        where = str(extra.get("path") or host or schema or "")
        if not where:
            raise ValueError(f"{source}: a duckdb connection needs the file's path (host)")
        return WarehouseTarget("duckdb", source, duckdb_path=_path(where, home))
    if kind == "postgres":
        return WarehouseTarget(
            "postgres",
            source,
            host=host or "127.0.0.1",
            port=int(getattr(conn, "port", None) or 5432),
            user=getattr(conn, "login", None) or "postgres",
            password=getattr(conn, "password", None) or "",
            database=schema or str(extra.get("dbname") or "vigie"),
        )
    raise ValueError(f"{source}: conn_type {conn_type!r} is not a warehouse (postgres, duckdb)")


def warehouse_conn_json(target: WarehouseTarget) -> str:
    """A warehouse as the JSON form of an Airflow connection (``AIRFLOW_CONN_VIGIE_WAREHOUSE``
    without a password in any URL): what `make cluster` passes its processes."""
    if target.kind == "duckdb":
        return json.dumps({"conn_type": "duckdb", "host": str(target.duckdb_path)})
    return json.dumps(
        {
            "conn_type": "postgres",
            "host": target.host,
            "port": target.port,
            "login": target.user,
            "password": target.password,
            "schema": target.database,
        }
    )


def _csv_tuple(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (``os.environ`` by default), without caching."""
    env = os.environ if environ is None else environ
    home = Path(env.get("VIGIE_HOME", _project_home())).resolve()
    landing = env.get("VIGIE_LANDING_URL", "./data/landing")
    if "://" not in landing:
        landing = str(_path(landing, home))
    warehouse_url = env.get("VIGIE_WAREHOUSE_URL", "").strip() or DEFAULT_WAREHOUSE_URL
    conn_id = env.get("VIGIE_WAREHOUSE_CONN_ID", WAREHOUSE_CONN_ID).strip()
    reference_dir = env.get("VIGIE_REFERENCE_DIR")
    target = float(env.get("VIGIE_FIPD_TARGET", "0.75"))
    if not 0 < target <= 1:
        raise ValueError(f"VIGIE_FIPD_TARGET={target}: must be a fraction in (0, 1]")
    return Settings(
        home=home,
        landing_url=landing,
        warehouse_url=warehouse_url,
        reference_dir=_path(reference_dir, home) if reference_dir else None,
        outbox_dir=_path(env.get("VIGIE_OUTBOX_DIR", "./data/outbox"), home),
        fipd_target=target,
        fipd_scope_programmes=_csv_tuple(env.get("VIGIE_FIPD_SCOPE_PROGRAMMES", "D")),
        fipd_scope_excluded_natures=_csv_tuple(
            env.get("VIGIE_FIPD_SCOPE_EXCLUDED_NATURES", "videoprotection")
        ),
        qpv_2024_from_year=int(env.get("VIGIE_QPV_2024_FROM_YEAR", "2024")),
        pilots_file=_path(env.get("VIGIE_PILOTS_FILE", "include/config/pilots.example.csv"), home),
        suppression_threshold=int(env.get("VIGIE_SUPPRESSION_THRESHOLD", "11")),
        mail_from=env.get("VIGIE_MAIL_FROM", "vigie-noreply@example.gouv.fr"),
        engineers_email=_csv_tuple(env.get("VIGIE_ENGINEERS_EMAIL", "")),
        alerts_cron=env.get("VIGIE_ALERTS_CRON", "0 7 * * 1"),
        alerts_timezone=env.get("VIGIE_ALERTS_TIMEZONE", "Europe/Paris"),
        gx_dir=_gx_dir(env.get("VIGIE_GX_DIR"), landing, home),
        gx_validate=env.get("VIGIE_GX_VALIDATE", "true").strip().lower() not in _FALSE,
        retry_delay_seconds=int(env.get("VIGIE_RETRY_DELAY_SECONDS", "60")),
        duckdb_memory_limit=env.get("VIGIE_DUCKDB_MEMORY_LIMIT", "4GB").strip() or "4GB",
        public_url=_public_url(env.get("VIGIE_PUBLIC_URL", "")),
        mail_from_name=env.get("VIGIE_MAIL_FROM_NAME", "Vigie – convention Ville–Intérieur"),
        mail_reply_to=env.get(
            "VIGIE_MAIL_REPLY_TO", "pilotage-ville-interieur@example.gouv.fr"
        ).strip(),
        alerts_response_days=int(env.get("VIGIE_ALERTS_RESPONSE_DAYS", "14")),
        police_drop_min_count=int(env.get("VIGIE_POLICE_DROP_MIN_COUNT", "20")),
        warehouse_conn_id=conn_id,
        warehouse_conn_type=_declared_conn_type(env, conn_id),
    )


def _public_url(value: str) -> str | None:
    """``VIGIE_PUBLIC_URL``: an absolute http(s) URL, kept with one trailing slash; empty: None."""
    value = value.strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"VIGIE_PUBLIC_URL={value!r}: must be an absolute http(s) URL")
    return value.rstrip("/") + "/"


_FALSE = {"0", "false", "no", "off"}


def _gx_dir(value: str | None, landing: str, home: Path) -> Path:
    """Great Expectations' results and Data Docs: ``VIGIE_GX_DIR``, else beside a local landing
    zone (like ``archive/`` and ``quarantine/``), else ``<home>/data/gx``."""
    if value:
        return _path(value, home)
    if "://" in landing:
        return home / "data" / "gx"
    return Path(landing).parent / "gx"


@cache
def get_settings() -> Settings:
    """The process-wide settings (read once)."""
    return load_settings()


# `vigie demo` works in a folder of its own, marked as written by it.
DEMO_DIR = Path("data") / "demo"
DEMO_MARKER = ".vigie-demo"


def demo_env(folder: Path, *, warehouse_url: str | None = None, gx: bool = False) -> dict[str, str]:
    """The settings that point every path of Vigie at the demo's ``folder``."""
    return {
        "VIGIE_LANDING_URL": str(folder / "landing"),
        "VIGIE_WAREHOUSE_URL": warehouse_url or f"duckdb:///{folder / 'warehouse.duckdb'}",
        "VIGIE_WAREHOUSE_CONN_ID": "",  # the demo's own warehouse, never the connection's
        "VIGIE_OUTBOX_DIR": str(folder / "outbox"),
        "VIGIE_GX_DIR": str(folder / "gx"),
        "VIGIE_GX_VALIDATE": "true" if gx else "false",
    }


def use_demo_when_alone() -> Path | None:
    """After ``make demo`` alone, ``make up`` and ``make sql`` show the demo's warehouse.

    Only when the environment names no warehouse or landing zone, the default DuckDB
    warehouse does not exist and the demo's folder does: the process's settings then point
    at the demo (returned, for the caller to say so). Otherwise nothing changes.
    """
    if {"VIGIE_WAREHOUSE_URL", "VIGIE_LANDING_URL"} & set(os.environ):
        return None
    settings = get_settings()
    folder = settings.home / DEMO_DIR
    if settings.warehouse_conn_type or settings.warehouse_kind != "duckdb":
        return None
    if settings.duckdb_path.exists():
        return None
    if not (folder / DEMO_MARKER).exists() or not (folder / "warehouse.duckdb").exists():
        return None
    # No connection is declared here (above): the demo's URL is enough.
    os.environ.update({k: v for k, v in demo_env(folder).items() if k != "VIGIE_WAREHOUSE_CONN_ID"})
    get_settings.cache_clear()
    return folder


def airflow_env_defaults(home: Path | None = None) -> dict[str, str]:
    """Airflow settings Vigie needs unless the deployment says otherwise.

    A project-local ``AIRFLOW_HOME`` (SQLite metadata, git-ignored), this project's DAG and
    plugin folders, no example DAGs, no telemetry.
    """
    home = home or _project_home()
    return {
        "AIRFLOW_HOME": str(home / ".airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        # LocalExecutor forks this many workers up front; 32 (the default) is waste on 2 cores.
        "AIRFLOW__CORE__PARALLELISM": "4",
        # Its workers start with dbt imported (vigie.orchestration.executors): seconds off every
        # dbt task.
        "AIRFLOW__CORE__EXECUTOR": "vigie.orchestration.executors.PreloadingLocalExecutor",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "vigie",  # Cosmos asks for it on every parse
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        "DO_NOT_TRACK": "1",
        "SCARF_ANALYTICS": "false",
    }


def apply_airflow_env(environ: dict[str, str] | None = None) -> None:
    """Set the defaults above where the environment has no value (before importing airflow)."""
    target = os.environ if environ is None else environ
    for key, value in airflow_env_defaults().items():
        target.setdefault(key, value)
