"""The ingestion DAGs as an operator sees them in the grid: each DAG run through Airflow
(``dag.test()`` in a process of its own, on a scratch Airflow home), its task states and run
state read back from Airflow's database.

- a quarantined prefecture file: the load task succeeds (the good file loads, the asset event
  goes out), ``report_quarantine`` fails and names the file, the run is red, and the data
  engineers have one notice;
- the police API down: the fetch fails (recorded in ``audit.api_fetches``), the CSV fallback
  still loads the files dropped during the outage, and the run is red.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vigie.alerts.engineers import ENGINEERS_DIR
from vigie.demo import sample_police
from vigie.demo.police_api_server import PoliceApiServer, small_frame

from tests.conftest import PROJECT, make_settings, query_frame
from tests.prefecture_files import write_variant

RUN = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session

bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
dag = bag.get_dag(sys.argv[2])
run = dag.test()
with create_session() as session:
    tis = session.query(TaskInstance).filter(
        TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run.run_id
    ).all()
    states = {ti.task_id: str(ti.state) for ti in tis}
print("RESULT " + json.dumps({"run": str(run.state), "tasks": states}))
"""


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A migrated Airflow home for the module's runs (migrating costs tens of seconds)."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIGIE_", "AIRFLOW"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    }
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return env


def _run_dag(env: dict[str, str], dag_id: str, settings_env: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", RUN, str(PROJECT / "dags" / f"{dag_id}.py"), dag_id],
        env={**env, **settings_env, "VIGIE_RETRY_DELAY_SECONDS": "0"},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


def _settings_env(tmp_path: Path) -> dict[str, str]:
    return {
        "VIGIE_HOME": str(PROJECT),
        "VIGIE_LANDING_URL": str(tmp_path / "landing"),
        "VIGIE_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "VIGIE_OUTBOX_DIR": str(tmp_path / "outbox"),
        "VIGIE_GX_VALIDATE": "false",
    }


def test_a_quarantined_file_turns_the_run_red_and_the_good_file_loads(
    airflow_home, rows_93, tmp_path
) -> None:
    landing = tmp_path / "landing" / "prefectures"
    write_variant(landing / "bon.csv", rows_93, "clean")
    write_variant(
        landing / "negatifs.csv",
        [dict(r, montant_attribue=-5.0, annee=2020) for r in rows_93],
        "clean",
    )
    outcome = _run_dag(airflow_home, "ingest_prefecture_exports", _settings_env(tmp_path))
    assert outcome["tasks"] == {
        "refresh_reference": "success",
        "load_landed_files": "success",  # the good file loaded, its asset event emitted
        "report_quarantine": "failed",
    }
    assert outcome["run"] == "failed"
    notices = list((tmp_path / "outbox" / ENGINEERS_DIR).glob("*.eml"))
    assert len(notices) == 1 and "negatifs.csv" in notices[0].read_text(encoding="utf-8")
    settings = make_settings(tmp_path)
    loads = query_frame(settings, "SELECT source_file_name, status FROM audit.file_loads")
    assert sorted(loads.values.tolist()) == [["bon.csv", "loaded"], ["negatifs.csv", "quarantined"]]


def test_the_csv_fallback_loads_while_the_api_is_down(airflow_home, tmp_path) -> None:
    dead = PoliceApiServer(small_frame())  # bound, then closed: nothing listens on its port
    dead.stop()
    sample_police.write_police_csv(str(tmp_path / "landing"), small_frame())
    env = {
        **_settings_env(tmp_path),
        # No retry inside a try: the task's own retries (2) are the ones that show.
        "AIRFLOW_CONN_VIGIE_POLICE_API": f"http://:token@127.0.0.1:{dead.port}?max_retries=0",
    }
    outcome = _run_dag(airflow_home, "ingest_police_population", env)
    assert outcome["tasks"] == {
        "fetch_api": "failed",
        "load_csv_fallback": "success",
        "report_quarantine": "success",
    }
    assert outcome["run"] == "failed", "the API failure still shows"
    settings = make_settings(tmp_path)
    raw = query_frame(
        settings,
        "SELECT source, count(*) AS n FROM raw.police_population_indicators GROUP BY source",
    )
    assert raw.values.tolist() == [["csv", len(small_frame())]]
    fetches = query_frame(settings, "SELECT status, error FROM audit.api_fetches")
    assert len(fetches) == 3 and set(fetches["status"]) == {"failed"}  # every try recorded
    assert fetches["error"].str.contains("connection error").all()
    assert not fetches["error"].str.contains("token").any()
