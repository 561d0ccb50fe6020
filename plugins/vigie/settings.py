"""Every Vigie setting, read once from the environment.

One place so that a data engineer can find what a deployment can change, and so that tasks,
the CLI and dbt all see the same values. Relative paths are resolved against ``VIGIE_HOME``
(the project directory by default), not the current directory: Airflow workers do not run
from the project folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

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

    @property
    def include_dir(self) -> Path:
        return self.home / "include"

    @property
    def dbt_project_dir(self) -> Path:
        return self.home / "dbt_project"

    @property
    def warehouse_kind(self) -> str:
        """``duckdb`` or ``postgres``: the dbt target and the loader's dialect."""
        backend = make_url(self.warehouse_url).get_backend_name()
        if backend == "duckdb":
            return "duckdb"
        if backend in {"postgresql", "postgres"}:
            return "postgres"
        raise ValueError(
            f"VIGIE_WAREHOUSE_URL={self.warehouse_url!r}: only duckdb:/// and postgresql:// "
            "warehouses are supported"
        )

    @property
    def duckdb_path(self) -> Path:
        url = make_url(self.warehouse_url)
        if url.get_backend_name() != "duckdb":
            raise ValueError("the warehouse is not a DuckDB file")
        return _path(url.database or "data/warehouse.duckdb", self.home)

    def dbt_env(self) -> dict[str, str]:
        """Environment variables that ``dbt_project/profiles.yml`` and the models read."""
        env = {
            "VIGIE_DBT_TARGET": self.warehouse_kind,
            "VIGIE_FIPD_TARGET": repr(self.fipd_target),
            "VIGIE_FIPD_SCOPE_PROGRAMMES": ",".join(self.fipd_scope_programmes),
            "VIGIE_FIPD_SCOPE_EXCLUDED_NATURES": ",".join(self.fipd_scope_excluded_natures),
            # dim_indicateur documents the police drop rule the weekly check applies.
            "VIGIE_POLICE_DROP_MIN_COUNT": str(self.police_drop_min_count),
            "VIGIE_QPV_2024_FROM_YEAR": str(self.qpv_2024_from_year),
            "VIGIE_SUPPRESSION_THRESHOLD": str(self.suppression_threshold),
        }
        if self.warehouse_kind == "duckdb":
            env["VIGIE_DUCKDB_PATH"] = str(self.duckdb_path)
            env["VIGIE_DUCKDB_MEMORY_LIMIT"] = self.duckdb_memory_limit
        else:
            url = make_url(self.warehouse_url)
            env.update(
                VIGIE_PG_HOST=url.host or "127.0.0.1",
                VIGIE_PG_PORT=str(url.port or 5432),
                VIGIE_PG_USER=url.username or "postgres",
                VIGIE_PG_PASSWORD=url.password or "",
                VIGIE_PG_DATABASE=url.database or "vigie",
            )
        return env


def _csv_tuple(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Build settings from ``environ`` (``os.environ`` by default), without caching."""
    env = os.environ if environ is None else environ
    home = Path(env.get("VIGIE_HOME", _project_home())).resolve()
    landing = env.get("VIGIE_LANDING_URL", "./data/landing")
    if "://" not in landing:
        landing = str(_path(landing, home))
    warehouse_url = env.get("VIGIE_WAREHOUSE_URL", "duckdb:///./data/warehouse.duckdb")
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
    if settings.warehouse_kind != "duckdb" or settings.duckdb_path.exists():
        return None
    if not (folder / DEMO_MARKER).exists() or not (folder / "warehouse.duckdb").exists():
        return None
    os.environ.update(demo_env(folder))
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
