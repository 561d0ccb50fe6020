"""The ingestion DAGs as an operator sees them in the grid: each DAG run through Airflow
(``dag.test()`` in a process of its own, on a scratch Airflow home), its task states and run
state read back from Airflow's database.

- a quarantined prefecture file: the load task succeeds (the good file loads, the asset event
  goes out), ``report_quarantine`` fails and names the file, the run is red, and the data
  engineers have one notice;
- the police API down: the fetch fails (recorded in ``audit.api_fetches``), the CSV fallback
  still loads the files dropped during the outage and is announced once, and the run is red;
- the asset event that schedules the warehouse build goes out once for a run that changed
  rows, and never for a run that loaded nothing (no file, a file already received, a file
  quarantined whole, an API fetch of figures already stored).
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from vigie.alerts.engineers import ENGINEERS_DIR
from vigie.demo import sample_police
from vigie.demo.police_api_server import PoliceApiServer, small_frame

from tests.association_files import ident, report_csv, row
from tests.conftest import PROJECT, make_settings, query_frame
from tests.prefecture_files import write_variant

RUN = """
import json, os, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.models.asset import AssetEvent, AssetModel
from airflow.models.taskinstance import TaskInstance
from airflow.utils.session import create_session

bag = DagBag(dag_folder=sys.argv[1])
assert not bag.import_errors, bag.import_errors
dag = bag.get_dag(sys.argv[2])
# One run per step; before each, its files move into the landing zone (a sender's drop).
for drops in json.loads(sys.argv[3]):
    for source, target in drops:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(source, target)
    run = dag.test()
    with create_session() as session:
        tis = session.query(TaskInstance).filter(
            TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run.run_id
        ).all()
        states = {ti.task_id: str(ti.state) for ti in tis}
        events = [
            {"asset": name, "task": task_id, "extra": extra}
            for name, task_id, extra in session.query(
                AssetModel.name, AssetEvent.source_task_id, AssetEvent.extra
            )
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetEvent.source_dag_id == dag.dag_id, AssetEvent.source_run_id == run.run_id)
        ]
    print("RESULT " + json.dumps({"run": str(run.state), "tasks": states, "events": events}))
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
    (outcome,) = _run_dag_runs(env, dag_id, settings_env, [[]])
    return outcome


def _run_dag_runs(
    env: dict[str, str],
    dag_id: str,
    settings_env: dict[str, str],
    drops: list[list[tuple[Path, Path]]],
) -> list[dict]:
    """One run of the DAG per item of ``drops`` (in one process), each after moving its
    (written aside, landing zone) files into the landing zone; each run's outcome."""
    plan = json.dumps([[[str(a), str(b)] for a, b in files] for files in drops])
    result = subprocess.run(
        [sys.executable, "-c", RUN, str(PROJECT / "dags" / f"{dag_id}.py"), dag_id, plan],
        env={**env, **settings_env, "VIGIE_RETRY_DELAY_SECONDS": "0"},
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("RESULT ")]
    assert len(lines) == len(drops), result.stdout[-3000:] + result.stderr[-3000:]
    return [json.loads(line.removeprefix("RESULT ")) for line in lines]


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
        "load_landed_files": "success",  # the good file loaded
        "report_quarantine": "failed",
        "announce_changes": "success",  # and announced: one asset event
    }
    assert outcome["run"] == "failed"
    assert [e["asset"] for e in outcome["events"]] == ["vigie_raw_prefectures"]
    assert outcome["events"][0]["extra"]["files"] == 1
    assert outcome["events"][0]["extra"]["file_rows"] == len(rows_93)
    notices = list((tmp_path / "outbox" / ENGINEERS_DIR).glob("*.eml"))
    assert len(notices) == 1
    notice = email.message_from_bytes(notices[0].read_bytes(), policy=email.policy.default)
    assert "negatifs.csv" in notice.get_body(("plain",)).get_content()
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
        "announce_changes": "success",
    }
    assert outcome["run"] == "failed", "the API failure still shows"
    # The files loaded during the outage are announced, once, by the CSV fallback's rows.
    (event,) = outcome["events"]
    assert event["asset"] == "vigie_raw_police_population"
    assert event["task"] == "announce_changes"
    assert (event["extra"]["files"], event["extra"]["fetches"]) == (1, 0)
    assert event["extra"]["file_rows"] == len(small_frame())
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


def _announced(outcome: dict) -> list[str]:
    """The assets the run announced (one name per event)."""
    return [event["asset"] for event in outcome["events"]]


def test_a_prefecture_run_announces_its_asset_only_when_rows_changed(
    airflow_home, rows_93, tmp_path
) -> None:
    aside, landing = tmp_path / "aside", tmp_path / "landing" / "prefectures"
    good = write_variant(aside / "bon.csv", rows_93, "clean")
    again = aside / "bon_renvoye.csv"
    again.write_bytes(good.read_bytes())  # the same bytes under another name
    invalid = [dict(r, montant_attribue=-5.0, annee=2020) for r in rows_93]
    bad = write_variant(aside / "negatifs.csv", invalid, "clean")
    fixed = [dict(r, montant_attribue=r["montant_attribue"] - 100) for r in rows_93]
    correction = write_variant(aside / "bon_corrige.csv", fixed, "clean")
    later = good.stat().st_mtime + 60  # sent after bon.csv: it replaces it
    os.utime(correction, (later, later))
    runs = _run_dag_runs(
        airflow_home,
        "ingest_prefecture_exports",
        _settings_env(tmp_path),
        [
            [],  # a new warehouse: the reference lists are written
            [],  # nothing waiting, the reference unchanged
            [(good, landing / "bon.csv")],
            [(again, landing / "bon_renvoye.csv"), (bad, landing / "negatifs.csv")],
            [(correction, landing / "bon_corrige.csv")],
        ],
    )
    first, idle, loaded, nothing_new, corrected = runs
    assert _announced(first) == ["vigie_raw_prefectures"]
    assert first["events"][0]["extra"]["reference_lists"] == [
        "communes",
        "departements",
        "epci",
        "qpv",
        "zsp",
    ]
    assert first["events"][0]["extra"]["files"] == 0
    # Nothing waiting: green, announce_changes skipped, no event (no warehouse build).
    assert idle["run"] == "success" and idle["tasks"]["announce_changes"] == "skipped"
    assert _announced(idle) == []
    assert _announced(loaded) == ["vigie_raw_prefectures"]
    extra = loaded["events"][0]["extra"]
    assert (extra["files"], extra["file_rows"], extra["reference_lists"]) == (1, 4, [])
    # A file already received and a file quarantined whole: red for the quarantine, no event.
    assert nothing_new["tasks"]["report_quarantine"] == "failed"
    assert nothing_new["run"] == "failed"
    assert nothing_new["tasks"]["announce_changes"] == "skipped"
    assert _announced(nothing_new) == []
    # A correction replaces the file's rows: announced.
    assert corrected["run"] == "success", corrected
    assert _announced(corrected) == ["vigie_raw_prefectures"]
    assert corrected["events"][0]["extra"]["files"] == 1
    loads = query_frame(
        make_settings(tmp_path), "SELECT source_file_name, status FROM audit.file_loads"
    )
    assert sorted(loads.values.tolist()) == [
        ["bon.csv", "superseded"],
        ["bon_corrige.csv", "loaded"],
        ["bon_renvoye.csv", "duplicate"],
        ["negatifs.csv", "quarantined"],
    ]


def test_a_police_run_announces_new_figures_once_and_a_repeated_fetch_not_at_all(
    airflow_home, tmp_path
) -> None:
    aside = tmp_path / "aside"
    (csv_file,) = sample_police.write_police_csv(str(aside), small_frame(months=("2026-01",)))
    landing = tmp_path / "landing" / "police_population" / csv_file.name
    with PoliceApiServer(small_frame(), token="tok") as api:
        env = {
            **_settings_env(tmp_path),
            "AIRFLOW_CONN_VIGIE_POLICE_API": f"http://:tok@127.0.0.1:{api.port}?max_retries=0",
        }
        fetched, repeated, with_csv = _run_dag_runs(
            airflow_home,
            "ingest_police_population",
            env,
            [[], [], [(csv_file, landing)]],
        )
    for outcome in (fetched, repeated, with_csv):
        assert outcome["run"] == "success", outcome
    (event,) = fetched["events"]
    assert event["asset"] == "vigie_raw_police_population"
    assert (event["extra"]["fetches"], event["extra"]["fetch_rows"]) == (1, len(small_frame()))
    # The same figures again (same publie_le, same valeur): nothing inserted, nothing announced.
    assert repeated["tasks"]["fetch_api"] == "success"
    assert repeated["tasks"]["announce_changes"] == "skipped"
    assert _announced(repeated) == []
    # The API still has nothing new, a CSV file brings a month: one event, from the file.
    (event,) = with_csv["events"]
    assert (event["extra"]["fetches"], event["extra"]["files"]) == (0, 1)
    settings = make_settings(tmp_path)
    fetches = query_frame(settings, "SELECT rows_inserted FROM audit.api_fetches ORDER BY 1")
    assert fetches["rows_inserted"].tolist() == [0, 0, len(small_frame())]


def test_an_association_run_announces_a_loaded_report_and_nothing_otherwise(
    airflow_home, tmp_path
) -> None:
    aside = tmp_path / "aside"
    aside.mkdir()
    report = aside / "paej.csv"
    report.write_bytes(report_csv(ident(1), [row("13055"), row("84007", 12, 3)], variant=0))
    landing = tmp_path / "landing" / "associations" / "paej.csv"
    idle, loaded = _run_dag_runs(
        airflow_home,
        "ingest_association_reports",
        _settings_env(tmp_path),
        [[], [(report, landing)]],
    )
    assert idle["run"] == "success" and idle["tasks"]["announce_changes"] == "skipped"
    assert _announced(idle) == []
    assert loaded["run"] == "success", loaded
    assert _announced(loaded) == ["vigie_raw_associations"]
    assert loaded["events"][0]["extra"]["files"] == 1
