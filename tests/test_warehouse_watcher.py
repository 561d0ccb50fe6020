"""The warehouse DAG under a real scheduler, as `make up` runs it: LocalExecutor, DuckDB.

Airflow's scheduler, DAG processor, triggerer and API server (metadata on the local PostgreSQL,
``vigie.demo.local_cluster``), the executor that preloads dbt, the one-slot warehouse pool. The DAG
is driven through the REST API as an operator would. A good build: every model's task green,
none of them ever sent to a worker (they start and end in the triggerer). Then the build only
does what changed: a run with nothing new runs no dbt and skips every model's task; new files of
one source build that source's models (the others' tasks skipped) and leave the marts as a full
rebuild would. Then a row a dbt test rejects: that model's task fails, the marts built from it
are skipped, the rest is green (full refresh) or skipped (left out of the next build).
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from vigie import tasks
from vigie.demo.local_cluster import AirflowApi, LocalCluster
from vigie.demo.sample_associations import write_association_sample
from vigie.demo.sample_police import generate_indicators, write_police_csv
from vigie.demo.sample_prefectures import write_sample
from vigie.ingest import association_loader, police_loader
from vigie.settings import SOURCE_TREE_ROOT, Settings
from vigie.warehouse.connection import Warehouse

from tests.conftest import fresh_postgres_database, make_settings
from tests.test_incremental_build import _marts

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

DAG_ID = "build_warehouse"
PRODUCER = "dbt_producer_watcher"


@dataclass
class Scheduler:
    api: AirflowApi
    settings: Settings
    held_back: list[Path]  # association reports that arrive later (the "new files" test)
    sample_root: Path


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scheduler]:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tmp_path_factory.mktemp("watcher")
    settings = make_settings(tmp, VIGIE_GX_VALIDATE="false")
    landing = Path(settings.landing_url)
    write_sample(landing, current_year=date.today().year, departements=["2A", "75", "93"])
    sample_root = tmp / "association_sample"
    reports = sorted(write_association_sample(sample_root).files)
    held_back = [f for f in reports if "_corrige" not in f.name][-3:]
    _land([f for f in reports if f not in held_back], sample_root, landing)
    write_police_csv(landing, generate_indicators(7, date.today(), start=date(2024, 1, 1)))
    tasks.refresh_reference(settings)
    tasks.ingest_prefectures("watcher", settings)
    police_loader.run_csv("watcher", settings)
    association_loader.run("watcher", settings)
    with fresh_postgres_database("vigie_watcher_meta") as metadata:
        cluster = LocalCluster(
            home=tmp / "processes",
            metadata_url=metadata.replace("postgresql://", "postgresql+psycopg2://"),
            executor="vigie.orchestration.executors.PreloadingLocalExecutor",
            workers=0,
            warehouse_pool_slots=1,  # DuckDB: a single writer
            env={
                "VIGIE_LANDING_URL": settings.landing_url,
                "VIGIE_WAREHOUSE_URL": settings.warehouse_url,
                "VIGIE_OUTBOX_DIR": str(tmp / "outbox"),
            },
        )
        with cluster:
            cluster.api.unpause(DAG_ID)
            yield Scheduler(cluster.api, settings, held_back, sample_root)


def _land(files: list[Path], root: Path, landing: Path) -> None:
    for path in files:
        target = landing / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _manifest_models() -> set[str]:
    manifest = json.loads(
        (SOURCE_TREE_ROOT / "dbt_project" / "target" / "manifest.json").read_text()
    )
    return {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def _build(scheduler: Scheduler, **conf: object) -> tuple[str, dict[str, dict]]:
    state, by_task, _ = _build_run(scheduler, **conf)
    return state, by_task


def _build_run(scheduler: Scheduler, **conf: object) -> tuple[str, dict[str, dict], str]:
    """Trigger a run (``conf`` as the trigger form's), wait; its state, task instances, id."""
    run_id = scheduler.api.trigger(DAG_ID, conf=dict(conf))
    run = scheduler.api.wait_for_run(DAG_ID, run_id, 600)
    instances = scheduler.api.task_instances(DAG_ID, run_id)
    return run["state"], {t["task_id"]: t for t in instances}, run_id


def _producer_path(run_id: str) -> str:
    run = urllib.parse.quote(run_id, safe="")
    return f"/api/v2/dags/{DAG_ID}/dagRuns/{run}/taskInstances/{PRODUCER}"


def _producer(scheduler: Scheduler, run_id: str) -> tuple[dict, str]:
    """What the producer returned (its plan) and its log, as the UI shows them."""
    base = _producer_path(run_id)
    plan = scheduler.api.call("GET", f"{base}/xcomEntries/return_value")["value"]
    log = scheduler.api.call("GET", f"{base}/logs/1?full_content=true")["content"]
    text = "\n".join(
        str(line.get("event", line)) if isinstance(line, dict) else str(line) for line in log
    )
    return (json.loads(plan) if isinstance(plan, str) else plan), text


def _builds_recorded(settings: Settings) -> int:
    with Warehouse(settings).transaction() as tx:
        return tx.fetchall("SELECT count(*) FROM audit.warehouse_builds")[0][0]


def _model_ids() -> dict[str, str]:
    """Each model's task id -> the model's dbt unique id."""
    manifest = json.loads(
        (SOURCE_TREE_ROOT / "dbt_project" / "target" / "manifest.json").read_text()
    )
    return {
        f"{n['name']}_run": n["unique_id"]
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model"
    }


def test_a_good_build_turns_every_models_task_green_without_a_worker(scheduler) -> None:
    state, by_task = _build(scheduler)
    assert state == "success"
    assert {t["state"] for t in by_task.values()} == {"success"}
    models = {task_id for task_id in by_task if task_id != PRODUCER}
    assert models == {f"{name}_run" for name in _manifest_models()}
    # Only the producer went through the executor; every model's task was started and ended
    # by the triggerer, with the model's own duration.
    assert by_task[PRODUCER]["queued_when"] is not None
    assert all(by_task[m]["queued_when"] is None for m in models)
    assert all(by_task[m]["try_number"] == 1 for m in models)
    with Warehouse(scheduler.settings).transaction() as tx:
        assert tx.fetchall("SELECT count(*) FROM marts.fipd_priority_share")[0][0] > 0


def test_a_run_with_nothing_new_runs_no_dbt_and_skips_every_models_task(scheduler) -> None:
    recorded = _builds_recorded(scheduler.settings)
    state, by_task, run_id = _build_run(scheduler)
    assert state == "success"
    assert by_task[PRODUCER]["state"] == "success"
    models = {task_id for task_id in by_task if task_id != PRODUCER}
    assert {by_task[m]["state"] for m in models} == {"skipped"}
    assert all(by_task[m]["queued_when"] is None for m in models)  # ended in the triggerer
    plan, log = _producer(scheduler, run_id)
    assert plan["mode"] == "nothing" and plan["dbt_ran"] is False
    assert "no dbt run: no source changed since the last build" in log
    assert "Running with dbt=" not in log  # dbt never started
    assert _builds_recorded(scheduler.settings) == recorded  # nothing built, nothing recorded


def test_new_files_of_one_source_build_its_models_only_and_equal_a_full_rebuild(
    scheduler,
) -> None:
    from vigie.ingest import association_loader

    _land(scheduler.held_back, scheduler.sample_root, Path(scheduler.settings.landing_url))
    association_loader.run("watcher-week", scheduler.settings)
    state, by_task, run_id = _build_run(scheduler)
    assert state == "success"
    plan, log = _producer(scheduler, run_id)
    assert plan["mode"] == "changed" and plan["dbt_ran"] is True
    assert "associations.association_reports" in plan["changed"]
    assert not any(name.startswith("reference.") for name in plan["changed"])
    assert "dbt build --select source:associations.association_reports+" in log
    # The new reports' models are built and tested; the models of the other sources are left
    # out of the build, their tasks skipped at once.
    built = {t for t, s in by_task.items() if s["state"] == "success"} - {PRODUCER}
    skipped = {t for t, s in by_task.items() if s["state"] == "skipped"}
    assert built | skipped == set(by_task) - {PRODUCER}
    for model in ("stg_associations__reports_run", "dim_structure_run", "association_activity_run"):
        assert model in built, model
    for model in ("dim_departement_run", "stg_reference__departements_run", "dim_qpv_run"):
        assert model in skipped, model
    selected = set(_statuses(scheduler, run_id)["selected"])
    assert built == {task for task, unique_id in _model_ids().items() if unique_id in selected}
    assert "Running with dbt=" in log
    selective = _marts(scheduler.settings)

    # The same warehouse rebuilt whole (the trigger form's full refresh) reads the same.
    state, by_task, run_id = _build_run(scheduler, full_refresh=True)
    assert state == "success"
    assert {t["state"] for t in by_task.values()} == {"success"}
    assert _producer(scheduler, run_id)[0]["mode"] == "full"
    rebuilt = _marts(scheduler.settings)
    assert sorted(selective) == sorted(rebuilt)
    for name, frame in rebuilt.items():
        pd.testing.assert_frame_equal(selective[name], frame, obj=f"marts.{name}")
    assert len(rebuilt["association_activity"]) > 0


def test_a_row_a_test_rejects_fails_its_model_and_skips_the_marts_built_from_it(
    scheduler,
) -> None:
    first = "(SELECT min(source_row) FROM raw.association_reports)"
    with Warehouse(scheduler.settings).transaction() as tx:
        tx.execute(
            f"UPDATE raw.association_reports SET reseau = 'Inconnu' WHERE source_row = {first}"
        )
    # A full refresh: every model is built, so the unrelated ones show green beside the failure.
    state, by_task = _build(scheduler, full_refresh=True)
    assert state == "failed"
    assert by_task[PRODUCER]["state"] == "failed"  # dbt build exits non-zero: engineers hear of it
    assert by_task["stg_associations__reports_run"]["state"] == "failed"
    for mart in ("dim_structure_run", "association_activity_run"):
        assert by_task[mart]["state"] == "skipped", mart  # dbt did not rebuild them
    for unrelated in ("fct_fipd_action_run", "fipd_priority_share_run", "dim_departement_run"):
        assert by_task[unrelated]["state"] == "success", unrelated


def test_a_failed_build_is_built_again_by_the_next_run_the_rest_left_out(scheduler) -> None:
    """The failed build was not recorded: the next run builds the changed source again (and
    fails the same way, the row still there), the other sources' models skipped."""
    state, by_task, run_id = _build_run(scheduler)
    assert state == "failed"
    assert by_task[PRODUCER]["state"] == "failed"
    assert _producer_plan_mode(scheduler, run_id) == "changed"
    assert by_task["stg_associations__reports_run"]["state"] == "failed"
    for task_id in ("dim_structure_run", "association_activity_run"):
        assert by_task[task_id]["state"] == "skipped", task_id  # dbt skipped them
    for task_id in ("fct_fipd_action_run", "fipd_priority_share_run", "dim_departement_run"):
        assert by_task[task_id]["state"] == "skipped", task_id  # left out of the build


def _producer_plan_mode(scheduler: Scheduler, run_id: str) -> str:
    """The plan's mode as the producer published it (a failed producer returns nothing)."""
    return str(_statuses(scheduler, run_id).get("plan", "?")).split(" ", 1)[0]


def _statuses(scheduler: Scheduler, run_id: str) -> dict:
    """The producer's published statuses and selection (the XCom the model tasks read)."""
    base = _producer_path(run_id)
    value = scheduler.api.call("GET", f"{base}/xcomEntries/vigie_dbt_node_statuses")["value"]
    return json.loads(value) if isinstance(value, str) else value
