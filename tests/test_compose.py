"""The production-like compose file: well-formed, health-checked, and free of secrets.

No Docker engine runs here, so this checks the file itself, and has Debian's `docker-compose`
(1.29, which `.ci/run` installs) validate it against its Compose schema with a `.env` made from
`.env.example`, as an operator would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import PROJECT

COMPOSE = PROJECT / "docker-compose.yaml"
AIRFLOW_SERVICES = {
    "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
    "airflow-worker", "airflow-init",
}  # fmt: skip


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def test_every_service_has_a_health_check() -> None:
    services = _compose()["services"]
    assert AIRFLOW_SERVICES | {"postgres", "redis", "mailpit"} <= set(services)
    for name, service in services.items():
        assert "healthcheck" in service, name


def test_airflow_services_share_one_configuration_on_celery_and_postgres() -> None:
    services = _compose()["services"]
    for name in AIRFLOW_SERVICES:
        env = services[name]["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor", name
        assert env["VIGIE_WAREHOUSE_URL"].startswith("postgresql://"), name
        assert "postgres" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
        # Workers' task tokens are checked by the API server: one secret for every component.
        assert (
            env["AIRFLOW__API_AUTH__JWT_SECRET"]
            == "${AIRFLOW_JWT_SECRET:?set AIRFLOW_JWT_SECRET in .env}"
        )


def test_no_secret_is_written_in_the_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    keys = re.compile(r"^\s*([A-Z_]*(?:PASSWORD|SECRET|TOKEN|FERNET)[A-Z_]*):\s*(\S+)", re.M)
    found = keys.findall(text)
    assert found, "the file names its secrets as ${VARIABLES}"
    for key, value in found:
        assert value.startswith("${"), key
    for url in re.findall(r"\w+://[^\s\"']+", text):
        credentials = re.match(r"\w+://([^@/]*)@", url)
        if credentials and ":" in credentials.group(1):
            assert "${" in credentials.group(1), url


def _compose_project(tmp_path: Path, secrets: dict[str, str]) -> Path:
    """The compose file beside a `.env` made the README's way: `.env.example` plus secrets."""
    shutil.copy(COMPOSE, tmp_path / "docker-compose.yaml")
    env = (PROJECT / ".env.example").read_text(encoding="utf-8")
    env += "".join(f"{key}={value}\n" for key, value in secrets.items())
    (tmp_path / ".env").write_text(env, encoding="utf-8")
    return tmp_path


def _docker_compose() -> str:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("docker-compose (Debian package) is required in CI: .ci/run installs it")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    return binary


SECRETS = {"POSTGRES_PASSWORD": "pg-secret", "VIGIE_WAREHOUSE_PASSWORD": "wh-secret",
           "AIRFLOW_JWT_SECRET": "jwt-secret"}  # fmt: skip


def test_docker_compose_validates_the_file_with_the_env_the_readme_describes(
    tmp_path: Path,
) -> None:
    project = _compose_project(tmp_path, SECRETS)
    result = subprocess.run([_docker_compose(), "config"], cwd=project, capture_output=True,
                            text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    worker = config["services"]["airflow-worker"]["environment"]
    assert worker["AIRFLOW__API_AUTH__JWT_SECRET"] == "jwt-secret"
    assert worker["VIGIE_WAREHOUSE_URL"] == "postgresql://vigie:wh-secret@postgres/vigie"


def test_docker_compose_refuses_to_run_without_the_secrets(tmp_path: Path) -> None:
    project = _compose_project(tmp_path, {})
    result = subprocess.run([_docker_compose(), "config", "-q"], cwd=project,
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in result.stderr
