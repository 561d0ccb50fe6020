"""The production-like compose file: well-formed, health-checked, and free of secrets.

No Docker engine runs here, so this checks the file itself; issue 8 adds validation against
the Compose specification.
"""

from __future__ import annotations

import re

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
