"""The warehouse DAG under a real scheduler, as `make up` runs it: LocalExecutor, DuckDB.

Airflow's scheduler, DAG processor, triggerer and API server (metadata on the local PostgreSQL,
``vigie.demo.local_cluster``), the executor that preloads dbt, the one-slot warehouse pool. The DAG
is driven through the REST API as an operator would. A good build: every model's task green,
none of them ever sent to a worker (they start and end in the triggerer). Then a row a dbt test
rejects: that model's task fails, the marts built from it are skipped, the rest is green.
"""

from __future__ import annotations

import json
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from vigie import tasks
from vigie.demo.local_cluster import AirflowApi, LocalCluster
from vigie.demo.sample_associations import write_association_sample
from vigie.demo.sample_police import generate_indicators, write_police_csv
from vigie.demo.sample_prefectures import write_sample
from vigie.ingest import association_loader, police_loader
from vigie.settings import SOURCE_TREE_ROOT
from vigie.warehouse.connection import Warehouse

from tests.conftest import fresh_postgres_database, make_settings

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(900)]

DAG_ID = "build_warehouse"
PRODUCER = "dbt_producer_watcher"


@dataclass
class Scheduler:
    api: AirflowApi
    settings: object


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scheduler]:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = tmp_path_factory.mktemp("watcher")
    settings = make_settings(tmp, VIGIE_GX_VALIDATE="false")
    landing = Path(settings.landing_url)
    write_sample(landing, current_year=date.today().year, departements=["2A", "75", "93"])
    write_association_sample(landing)
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
            yield Scheduler(cluster.api, settings)


def _manifest_models() -> set[str]:
    manifest = json.loads(
        (SOURCE_TREE_ROOT / "dbt_project" / "target" / "manifest.json").read_text()
    )
    return {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}


def _build(scheduler: Scheduler) -> tuple[str, dict[str, dict]]:
    run = scheduler.api.wait_for_run(DAG_ID, scheduler.api.trigger(DAG_ID), 600)
    instances = scheduler.api.task_instances(DAG_ID, run["dag_run_id"])
    return run["state"], {t["task_id"]: t for t in instances}


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


def test_a_row_a_test_rejects_fails_its_model_and_skips_the_marts_built_from_it(
    scheduler,
) -> None:
    first = "(SELECT min(source_row) FROM raw.association_reports)"
    with Warehouse(scheduler.settings).transaction() as tx:
        tx.execute(
            f"UPDATE raw.association_reports SET reseau = 'Inconnu' WHERE source_row = {first}"
        )
    state, by_task = _build(scheduler)
    assert state == "failed"
    assert by_task[PRODUCER]["state"] == "failed"  # dbt build exits non-zero: engineers hear of it
    assert by_task["stg_associations__reports_run"]["state"] == "failed"
    for mart in ("dim_structure_run", "association_activity_run"):
        assert by_task[mart]["state"] == "skipped", mart  # dbt did not rebuild them
    for unrelated in ("fct_fipd_action_run", "fipd_priority_share_run", "dim_departement_run"):
        assert by_task[unrelated]["state"] == "success", unrelated
