"""The production topology on this machine's own services, without Docker.

What ``docker-compose.yaml`` runs, as plain processes: Airflow's metadata on the local
PostgreSQL, the CeleryExecutor with the local Redis as broker, an API server, a scheduler, a
DAG processor, a triggerer and Celery workers (two by default), the warehouse on
PostgreSQL, and whatever SMTP relay ``AIRFLOW_CONN_SMTP_DEFAULT`` names. As in production,
users log in through the FAB auth manager (users and roles in the metadata database): the
``admin`` user is created at start with the password of ``AIRFLOW_ADMIN_PASSWORD``, or one
generated and kept in ``<home>/airflow/admin_password`` (mode 0600). The tests start
it to run the weekly flow the way an operator does (REST API) and to break it (kill a
worker, drop connections, stop the relay); an engineer can start it by hand to try a change
on the distributed executor (``make cluster``)::

    VIGIE_WAREHOUSE_URL=postgresql://postgres@127.0.0.1:5432/vigie \\
        uv run python -m vigie.demo.local_cluster --metadata-db vigie_airflow

The warehouse reaches the processes as the Airflow connection ``vigie_warehouse`` (its
``AIRFLOW_CONN_VIGIE_WAREHOUSE``, or one made from a PostgreSQL ``VIGIE_WAREHOUSE_URL``), as in
the compose file: never as a URL holding its password.

Every process runs in a session of its own and is stopped with its whole tree, so a test
that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg2

from vigie.settings import (
    SOURCE_TREE_ROOT,
    WAREHOUSE_CONN_ID,
    WAREHOUSE_POOL,
    airflow_env_defaults,
    conn_env_name,
    load_settings,
    warehouse_conn_json,
)

# dbt imported once per worker, not once per task.
CELERY_CONFIG_PATH = "vigie.orchestration.celery_config.CELERY_CONFIG"
FINISHED = {"success", "failed"}
# The production auth manager (README "Running in production"); SimpleAuthManager, Airflow's
# default, is for development only and stays in `make up`.
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
ADMIN_PASSWORD_ENV = "AIRFLOW_ADMIN_PASSWORD"  # AIRFLOW_*: never passed on to the processes


def free_port() -> int:
    """A TCP port nobody listens on right now (bound then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_tree(
    process: subprocess.Popen | int, sig: int = signal.SIGTERM, timeout: float = 30
) -> None:
    """Signal a process and every descendant, then kill what is still alive after ``timeout``.

    The tree is collected before signalling: once a parent is gone its children are
    re-parented and could no longer be found.
    """
    pid = process if isinstance(process, int) else process.pid
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    for proc in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.send_signal(sig)
    _, alive = psutil.wait_procs(tree, timeout=timeout)
    for proc in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    psutil.wait_procs(alive, timeout=10)
    if isinstance(process, subprocess.Popen):
        process.wait(timeout=10)


class AirflowApi:
    """Airflow's public REST API (v2) as an operator uses it: token, unpause, trigger, wait."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url
        self._credentials = {"username": username, "password": password}
        self._token: str | None = None

    def call(self, method: str, path: str, body: dict | None = None) -> Any:
        if self._token is None:
            self._token = self._request("POST", "/auth/token", self._credentials)["access_token"]
        return self._request(method, path, body, self._token)

    def _request(
        self, method: str, path: str, body: dict | None = None, token: str | None = None
    ) -> Any:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(
            self.base_url + path,
            method=method,
            headers=headers,
            data=json.dumps(body).encode() if body is not None else None,
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            raise RuntimeError(f"{method} {path}: HTTP {exc.code}: {detail}") from exc

    def dag_ids(self) -> set[str]:
        return {d["dag_id"] for d in self.call("GET", "/api/v2/dags?limit=100")["dags"]}

    def unpause(self, dag_id: str) -> None:
        self.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def trigger(
        self, dag_id: str, logical_date: str | None = None, conf: dict | None = None
    ) -> str:
        run = self.call(
            "POST",
            f"/api/v2/dags/{dag_id}/dagRuns",
            {"logical_date": logical_date, "conf": conf or {}},
        )
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{_quote(run_id)}/taskInstances?limit=500"
        return self.call("GET", path)["task_instances"]

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> dict:
        """Poll until the run finishes; its final record (state ``success`` or ``failed``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.run(dag_id, run_id)
            if run["state"] in FINISHED:
                return run
            time.sleep(1)
        states = {t["task_id"]: t["state"] for t in self.task_instances(dag_id, run_id)}
        raise TimeoutError(f"{dag_id} {run_id} not finished after {timeout:.0f} s: {states}")


def _quote(run_id: str) -> str:
    return urllib.parse.quote(run_id, safe="")


@dataclass
class LocalCluster:
    """Airflow on CeleryExecutor with PostgreSQL and Redis, as processes of this machine.

    ``metadata_url`` is a SQLAlchemy URL of an existing, empty (or already migrated)
    database; ``broker_url`` a Redis database of its own (Celery leaves keys behind).
    ``env`` carries Vigie's settings (``VIGIE_*``), connections (``AIRFLOW_CONN_*``) and any
    Airflow option for every process.
    """

    home: Path
    metadata_url: str
    broker_url: str = "redis://127.0.0.1:6379/1"
    env: dict[str, str] = field(default_factory=dict)
    workers: int = 2
    worker_concurrency: int = 2
    executor: str = "CeleryExecutor"  # LocalExecutor (workers=0): the one-machine baseline
    warehouse_pool_slots: int = 4
    port: int = 0
    admin_password: str = field(default="", repr=False)  # empty: kept file, else generated
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home = Path(self.home)
        self.port = self.port or free_port()
        self._password = self.admin_password or self._kept_password() or secrets.token_urlsafe(16)
        self._jwt_secret = secrets.token_urlsafe(64)  # shared by every process, as it must be
        self._secret_key = secrets.token_urlsafe(32)  # FAB's session cookies, idem
        # A queue of its own: workers left over by another cluster on the same broker (a
        # test run killed half-way) must not take this cluster's tasks.
        self.queue = f"vigie-{secrets.token_hex(4)}"
        self.api = AirflowApi(self.base_url, "admin", self._password)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    def process_env(self) -> dict[str, str]:
        """Every process's environment: one configuration, as in the compose file."""
        metadata = self.metadata_url
        result_backend = "db+" + metadata.replace("postgresql+psycopg2://", "postgresql://")
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "VIGIE_"))},
            **airflow_env_defaults(SOURCE_TREE_ROOT),
            "AIRFLOW_HOME": str(self.airflow_home),
            "AIRFLOW__CORE__EXECUTOR": self.executor,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": result_backend,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": self.queue,
            # dbt imported once per worker, not once per task (vigie.orchestration.celery_config).
            "AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS": CELERY_CONFIG_PATH,
            "AIRFLOW__CORE__PARALLELISM": str(max(self.workers, 1) * self.worker_concurrency),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self._jwt_secret,
            "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
            "AIRFLOW__API__SECRET_KEY": self._secret_key,
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        }
        env.pop("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", None)  # `make up`'s, not used here
        env.update(self.env)
        _warehouse_as_connection(env)
        return env

    @property
    def admin_password_file(self) -> Path:
        """The ``admin`` user's password, readable by this machine's user only."""
        return self.airflow_home / "admin_password"

    def _kept_password(self) -> str:
        """The password a previous start wrote (the metadata database keeps the user)."""
        with contextlib.suppress(OSError):
            return self.admin_password_file.read_text(encoding="utf-8").strip()
        return ""

    def _write_admin_password(self) -> None:
        path = self.admin_password_file
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(descriptor, 0o600)  # also when the file existed with other bits
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(self._password + "\n")

    def create_user(self, username: str, role: str, password: str) -> None:
        """Create a FAB user with ``role`` (``Admin``, ``Op``, ``User``, ``Viewer``), or set
        the password of the existing one: ``airflow users create``, as the README documents.

        The password never reaches a log or an error message (Airflow masks it in its own
        ``log`` table).
        """
        names = ["--email", f"{username}@vigie.invalid", "--firstname", username]
        names += ["--lastname", "Vigie"]
        secret = ("--password", password)
        created = self._airflow(
            "users", "create", "--role", role, "--username", username, *names, secret=secret
        )
        if "already exists" in created:
            self._airflow("users", "reset-password", "--username", username, secret=secret)

    def _airflow(self, *args: str, secret: tuple[str, str] | None = None) -> str:
        """Run an ``airflow`` command; its output. ``secret`` (an option and its value) is
        passed on as one ``--option=value`` word (a value may start with ``-``) but left out
        of the error message."""
        hidden = [f"{secret[0]}={secret[1]}"] if secret else []
        result = subprocess.run(
            [sys.executable, "-m", "airflow", *args, *hidden],
            env=self.process_env(),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            shown = " ".join([*args, *([f"{secret[0]}=***"] if secret else [])])
            raise RuntimeError(f"airflow {shown} failed:\n{result.stderr[-3000:]}")
        return result.stdout

    def _spawn(self, name: str, *args: str) -> None:
        log = open(self.home / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *args],
            cwd=SOURCE_TREE_ROOT,
            env=self.process_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start(self, timeout: float = 180) -> LocalCluster:
        """Migrate, create the pool, start every process, wait until the DAGs are parsed."""
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        self._write_admin_password()
        self._airflow("db", "migrate")  # FAB's tables too (its DB manager runs with Airflow's)
        self.create_user("admin", "Admin", self._password)
        pool_description = "tasks writing the warehouse (1 slot on DuckDB, more on PostgreSQL)"
        self._airflow(
            "pools", "set", WAREHOUSE_POOL, str(self.warehouse_pool_slots), pool_description
        )
        self._spawn("api-server", "api-server")
        self._spawn("scheduler", "scheduler")
        self._spawn("dag-processor", "dag-processor")
        self._spawn("triggerer", "triggerer")  # deferred tasks (sensors), as in the compose file
        for number in range(1, self.workers + 1):
            self.start_worker(number)
        try:
            self.wait_until_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def start_worker(self, number: int) -> None:
        """Celery worker ``worker<number>`` (also to bring back one a test has killed)."""
        self._spawn(
            f"worker{number}",
            "celery",
            "worker",
            "--celery-hostname",
            f"worker{number}-{self.queue}@%h",
            "--queues",
            self.queue,
            "--skip-serve-logs",
        )

    def wait_until_ready(self, timeout: float = 180) -> None:
        """API up, scheduler and DAG processor healthy, the project's DAGs parsed, workers up."""
        expected = {p.stem for p in (SOURCE_TREE_ROOT / "dags").glob("*.py")}
        deadline = time.monotonic() + timeout
        problem = "nothing answered yet"
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited ({process.returncode}); see {self.home / (name + '.log')}"
                    )
            try:
                health = self.api._request("GET", "/api/v2/monitor/health")
                unhealthy = [
                    k
                    for k in ("metadatabase", "scheduler", "dag_processor", "triggerer")
                    if health.get(k, {}).get("status") != "healthy"
                ]
                missing = expected - self.api.dag_ids()
                idle = [
                    n
                    for n in self.processes
                    if n.startswith("worker")
                    and b" ready." not in (self.home / f"{n}.log").read_bytes()
                ]
                problem = (
                    f"unhealthy {unhealthy}, DAGs missing {sorted(missing)}, "
                    f"workers not ready {idle}"
                )
                if not unhealthy and not missing and not idle:
                    return
            except (OSError, RuntimeError) as exc:
                problem = str(exc)
            time.sleep(1)
        raise TimeoutError(f"the local cluster was not ready after {timeout:.0f} s: {problem}")

    def worker_running(self, ti_id: str) -> str | None:
        """Which worker runs the task instance ``ti_id`` (its process title names the id)."""
        for name, process in self.processes.items():
            if not name.startswith("worker") or process.poll() is not None:
                continue
            for child in psutil.Process(process.pid).children(recursive=True):
                try:
                    if ti_id in " ".join(child.cmdline()):
                        return name
                except psutil.NoSuchProcess:
                    continue
        return None

    def kill(self, name: str) -> None:
        """SIGKILL a process and its children, as when its machine or container dies."""
        process = self.processes.pop(name)
        stop_process_tree(process, signal.SIGKILL, timeout=5)

    def stop(self) -> None:
        """Stop workers first (they finish nothing new), then the rest; nothing survives."""
        names = sorted(self.processes, key=lambda n: (not n.startswith("worker"), n))
        for name in names:
            stop_process_tree(self.processes.pop(name))

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> int:
    """Start the topology in the foreground for a person to use; Ctrl-C stops everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=str(SOURCE_TREE_ROOT / ".cluster"))
    parser.add_argument(
        "--metadata-db",
        default="vigie_airflow",
        help="PostgreSQL database for Airflow's metadata (created if missing)",
    )
    parser.add_argument(
        "--postgres", default="postgresql://postgres@127.0.0.1:5432", help="the PostgreSQL server"
    )
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/1")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args(argv)
    if load_settings().declared_warehouse_kind != "postgres":
        parser.error(
            "set AIRFLOW_CONN_VIGIE_WAREHOUSE (or VIGIE_WAREHOUSE_URL) to a PostgreSQL database: "
            "DuckDB has one writer"
        )
    _create_database(args.postgres, args.metadata_db)
    cluster = LocalCluster(
        home=Path(args.home),
        broker_url=args.broker,
        workers=args.workers,
        port=args.port,
        metadata_url=f"{args.postgres.replace('postgresql://', 'postgresql+psycopg2://')}"
        f"/{args.metadata_db}",
        env={k: v for k, v in os.environ.items() if k.startswith(("VIGIE_", "AIRFLOW_CONN_"))},
        admin_password=os.environ.get(ADMIN_PASSWORD_ENV, ""),
    )
    with cluster:
        print(
            f"Airflow on {cluster.base_url} (user admin, password in "
            f"{cluster.admin_password_file}); logs in {cluster.home}; Ctrl-C stops it"
        )
        try:
            while all(p.poll() is None for p in cluster.processes.values()):
                time.sleep(2)
            print("a process exited; stopping the others")
            return 1
        except KeyboardInterrupt:
            return 0


def _warehouse_as_connection(env: dict[str, str]) -> None:
    """A PostgreSQL ``VIGIE_WAREHOUSE_URL`` in ``env`` becomes the ``vigie_warehouse``
    connection (JSON, the password in no URL) unless the connection is already there."""
    url = env.get("VIGIE_WAREHOUSE_URL", "")
    if not url.startswith("postgres"):
        return
    del env["VIGIE_WAREHOUSE_URL"]
    target = load_settings({"VIGIE_WAREHOUSE_URL": url}).url_target()
    env.setdefault(conn_env_name(WAREHOUSE_CONN_ID), warehouse_conn_json(target))


def _create_database(server_url: str, name: str) -> None:
    connection = psycopg2.connect(f"{server_url}/postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()


if __name__ == "__main__":
    sys.exit(main())
