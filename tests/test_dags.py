"""DAG integrity: every DAG file imports cleanly, quickly, and carries what operators need."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT

DAG_FILES = sorted((PROJECT / "dags").glob("*.py"))
PARSE_BUDGET_S = 1.0

_MEASURE = """
import json, sys, time
import airflow.sdk  # the airflow import itself (~4 s) is paid once per process, not per file
# So are the plugins (the Cosmos plugin imports FastAPI: ~1.2 s): every Airflow component
# loads them once, for serialization and lineage, before it parses anything.
from airflow.sdk import plugins_manager
plugins_manager.get_hook_lineage_readers_plugins()
from airflow.dag_processing.dagbag import DagBag
start = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "errors": {k: str(v) for k, v in bag.import_errors.items()},
                  "dags": sorted(bag.dag_ids)}))
"""


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT / "dags"))


def test_every_dag_file_imports_without_error(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == {
        "ingest_prefecture_exports",
        "ingest_police_population",
        "ingest_association_reports",
        "build_warehouse",
        "weekly_pilot_alerts",
    }


def test_each_dag_has_owner_tags_retries_and_doc(dagbag) -> None:
    for dag in dagbag.dags.values():
        assert dag.tags and "vigie" in dag.tags, dag.dag_id
        assert dag.doc_md and len(dag.doc_md) > 80, dag.dag_id
        # The DAG list shows one line per DAG: what it does, in a sentence.
        assert dag.description and 20 < len(dag.description) <= 100, dag.dag_id
        for task in dag.tasks:
            assert task.owner == "vigie-data", (dag.dag_id, task.task_id)
            if dag.dag_id != "build_warehouse":
                assert task.retries >= 1, (dag.dag_id, task.task_id)
    # The warehouse build is one `dbt build`: a retried producer would make every model re-run
    # alone, in no order (Cosmos's fallback), and a model that failed fails the same way alone.
    # A failed build is re-triggered whole (the next load triggers one anyway).
    assert {t.retries for t in dagbag.dags["build_warehouse"].tasks} == {0}


def test_no_cycles_and_the_warehouse_writers_share_the_one_slot_pool(dagbag) -> None:
    for dag in dagbag.dags.values():
        # Every task reachable from roots exactly once: a cycle would make this recurse forever.
        seen: set[str] = set()
        stack = [t for t in dag.tasks if not t.upstream_list]
        assert stack, f"{dag.dag_id} has no root task (a cycle)"
        while stack:
            task = stack.pop()
            seen.add(task.task_id)
            stack.extend(t for t in task.downstream_list if t.task_id not in seen)
        assert seen == {t.task_id for t in dag.tasks}, dag.dag_id
    writers = [
        *dagbag.dags["ingest_prefecture_exports"].tasks,
        *dagbag.dags["ingest_police_population"].tasks,
        *dagbag.dags["ingest_association_reports"].tasks,
        *dagbag.dags["build_warehouse"].tasks,
        *dagbag.dags["weekly_pilot_alerts"].tasks,  # alerts mart and send log
    ]
    assert {task.pool for task in writers} == {"vigie_warehouse"}


def test_warehouse_dag_has_a_task_per_model_from_the_manifest(dagbag) -> None:
    manifest = json.loads((PROJECT / "dbt_project" / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    dag = dagbag.dags["build_warehouse"]
    # One dbt build (the producer, the only task writing the warehouse) and a task per model.
    assert set(dag.task_ids) == {"dbt_producer_watcher"} | {f"{m}_run" for m in models}
    producer = dag.get_task("dbt_producer_watcher")
    assert type(producer).__name__ == "LeanProducerWatcherOperator"
    assert "--resource-type" not in (producer.dbt_cmd_flags or [])  # the build runs the tests
    tests_of = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            for parent in node["depends_on"]["nodes"]:
                tests_of[parent] = tests_of.get(parent, 0) + 1
    for name, node in models.items():
        task = dag.get_task(f"{name}_run")
        # Started and ended by the triggerer; it covers the model and the tests that read it.
        assert task.start_from_trigger, name
        kwargs = task.start_trigger_args.trigger_kwargs
        assert kwargs["model_unique_id"] == node["unique_id"]
        assert kwargs["tests"] == tests_of.get(node["unique_id"], 0), name
        # The lineage stays visible: a model's task is downstream of the models it reads.
        reads = [p.split(".")[-1] for p in node["depends_on"]["nodes"] if p.startswith("model.")]
        parents = {f"{parent}_run" for parent in reads}
        assert parents <= task.upstream_task_ids, name


@pytest.mark.parametrize(
    ("dag_id", "loaders"),
    [
        ("ingest_prefecture_exports", {"load_landed_files"}),
        ("ingest_police_population", {"fetch_api", "load_csv_fallback"}),
        ("ingest_association_reports", {"load_landed_reports"}),
    ],
)
def test_each_ingestion_triggers_the_warehouse_build(dagbag, dag_id: str, loaders: set) -> None:
    """Only ``announce_changes`` produces the asset (it is skipped when the run changed no row),
    once every loader is done, whatever they did (a teardown, which never hides their state)."""
    dag = dagbag.dags[dag_id]
    producers = {task.task_id for task in dag.tasks if task.outlets}
    assert producers == {"announce_changes"}, producers
    announce = dag.get_task("announce_changes")
    assert announce.is_teardown and announce.upstream_task_ids == loaders
    produced = {asset.uri for asset in announce.outlets}
    condition = dagbag.dags["build_warehouse"].timetable.asset_condition
    consumed = {asset.uri for asset in condition.objects}
    assert produced and produced <= consumed, (produced, consumed)


@pytest.mark.parametrize("dag_file", DAG_FILES, ids=lambda p: p.name)
def test_dag_file_parses_fast_with_an_empty_variable_store(dag_file: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_VAR_")}
    env["AIRFLOW_HOME"] = str(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(dag_file)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"{dag_file.name}: parsed in {measured['seconds']:.3f}s")
    assert measured["errors"] == {}
    assert measured["dags"], f"{dag_file.name} defines no DAG"
    assert measured["seconds"] < PARSE_BUDGET_S, measured


def test_the_weekly_alerts_schedule_is_a_setting(tmp_path: Path) -> None:
    code = (
        "import airflow.sdk\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(PROJECT / 'dags' / 'weekly_pilot_alerts.py')!r})\n"
        "t = bag.dags['weekly_pilot_alerts'].timetable\n"
        "print(t.summary, t._timezone.name if hasattr(t._timezone, 'name') else t._timezone)\n"
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "VIGIE_ALERTS_CRON": "30 6 * * 2",
        "VIGIE_ALERTS_TIMEZONE": "America/Cayenne",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "30 6 * * 2 America/Cayenne"
