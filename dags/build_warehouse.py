"""
### Warehouse build (dbt via Cosmos)

Runs the dbt project (`dbt_project/`: staging → intermediate → marts) whenever a raw
source changes (prefecture files, police-population indicators, association reports), one
Airflow task per model and its tests, rendered from the manifest built ahead (`make install`
runs `dbt parse`). Every task running dbt takes the one-slot `vigie_warehouse` pool: DuckDB
allows a single writer.

How Cosmos runs dbt is chosen by `VIGIE_COSMOS_EXECUTION_MODE` (read when the file is parsed):

- `watcher` (default): Cosmos's WATCHER mode made cheap (`vigie.cosmos_watcher`): one `dbt build`
  of the whole project in the producer task (the only task in the `vigie_warehouse` pool) and
  one task per model (31 tasks in all), covering the model and its tests, that starts and ends
  in the triggerer as dbt reports them: no worker process per model. A model whose build or
  tests failed fails with dbt's message, what dbt skipped after it is skipped; clearing a task
  re-runs its model alone (Cosmos's fallback, in the pool). Needs a scheduler and a triggerer.
- `watcher_stock`: Cosmos's WATCHER mode as shipped (one XCom per dbt event, sensors that start
  on workers); 87 tasks; kept to measure against.
- `watcher_batched`: `watcher_stock` with the sensors starting once the producer has finished;
  works under `dag.test()`.
- `local`: one `dbt build --select <model>` per task through dbt's in-process runner, tests
  inline, relationship tests in tasks of their own (54 tasks); works under `dag.test()` (what
  `vigie run` uses).
- `local_after_all`: one `dbt run --select <model>` per task, then one task for every test.

`bench/bench_warehouse.py` measures them against a plain `dbt build`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import Asset  # noqa: F401  (airflow is imported before cosmos: see stack facts)
from cosmos import DbtDag, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior
from vigie.assets import (
    DEFAULT_ARGS,
    RAW_ASSOCIATIONS,
    RAW_POLICE_POPULATION,
    RAW_PREFECTURES,
    WAREHOUSE_POOL,
)
from vigie.settings import get_settings

settings = get_settings()
# The profile reads its connection from these variables; setting them here (no I/O) keeps the
# warehouse credentials out of the serialized DAG and its rendered task arguments.
os.environ.update({k: v for k, v in settings.dbt_env().items() if k not in os.environ})
DBT_DIR: Path = settings.dbt_project_dir

# Documented in the module docstring; `bench/bench_warehouse.py` switches it per run.
EXECUTION_MODE = os.environ.get("VIGIE_COSMOS_EXECUTION_MODE", "watcher").strip().lower()
WATCHER_MODES = {"watcher", "watcher_stock", "watcher_batched"}
if EXECUTION_MODE in WATCHER_MODES:
    execution_config = ExecutionConfig(
        execution_mode=ExecutionMode.WATCHER,
        invocation_mode=InvocationMode.DBT_RUNNER,
        # Only the producer writes the warehouse: it alone takes the one-slot pool. Sensors in
        # that pool would wait for the producer to finish, then run one by one. Cosmos skips a
        # retried producer (sensors then rerun their model): no retry, a failure is reported.
        setup_operator_args={"pool": WAREHOUSE_POOL, "retries": 0},
    )
    # Cosmos has no BUILD operator in WATCHER mode: a sensor per model and one for its tests,
    # or (`watcher`) one task per model that also reports its tests (vigie.cosmos_watcher).
    test_behavior = TestBehavior.NONE if EXECUTION_MODE == "watcher" else TestBehavior.AFTER_EACH
    operator_args: dict = {"poke_interval": 2}
    if EXECUTION_MODE == "watcher":
        # In the pool: a task that falls back to running its model on a worker (a clear, a
        # retry) writes the warehouse like any dbt run. Waiting in the triggerer takes no slot.
        # No retry: a node that failed in the build fails the same way alone; fix, re-trigger.
        operator_args |= {"pool": WAREHOUSE_POOL, "retries": 0}
elif EXECUTION_MODE in {"local", "local_after_all"}:
    execution_config = ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER
    )
    # One task per model runs the model and its own tests (`dbt build --select`): half the
    # tasks of run + test, and each task pays Cosmos's start-up once. A test that spans two
    # models (a relationship) gets its own task after both, instead of failing before the
    # second exists.
    test_behavior = TestBehavior.BUILD if EXECUTION_MODE == "local" else TestBehavior.AFTER_ALL
    operator_args = {"pool": WAREHOUSE_POOL}
else:
    raise ValueError(
        f"VIGIE_COSMOS_EXECUTION_MODE={EXECUTION_MODE!r}: expected watcher, watcher_stock, "
        "watcher_batched, local or local_after_all"
    )

build_warehouse = DbtDag(
    dag_id="build_warehouse",
    project_config=ProjectConfig(
        dbt_project_path=DBT_DIR,
        manifest_path=DBT_DIR / "target" / "manifest.json",
        project_name="vigie",
        install_dbt_deps=False,  # the project has no packages: no `dbt deps` in every task
    ),
    profile_config=ProfileConfig(
        profile_name="vigie",
        target_name=settings.warehouse_kind,
        profiles_yml_filepath=DBT_DIR / "profiles.yml",
    ),
    execution_config=execution_config,
    # Per-model assets are not consumed by any DAG: the weekly alerts run on a calendar.
    render_config=RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        emit_datasets=False,
        test_behavior=test_behavior,
        # LOCAL runs a relationship test after both its models, in a task of its own; WATCHER
        # reports it with the tests of each model it reads.
        should_detach_multiple_parents_tests=EXECUTION_MODE.startswith("local"),
    ),
    operator_args=operator_args,
    schedule=RAW_PREFECTURES | RAW_POLICE_POPULATION | RAW_ASSOCIATIONS,  # any source changing
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vigie", "warehouse", "dbt"],
    doc_md=__doc__,
)

if EXECUTION_MODE == "watcher":
    from vigie.cosmos_watcher import speed_up_watcher

    speed_up_watcher(build_warehouse)

if EXECUTION_MODE == "watcher_batched":
    # Sensors start once the producer has finished instead of beside it: on a small machine
    # 80-odd sensor processes (start, defer, resume) starve the producer's `dbt build`.
    # Cosmos means to put the producer upstream of the root models but finds none here (their
    # sources count as parents); `all_done` keeps its fallback (a sensor reruns its model)
    # when the producer fails.
    producer = build_warehouse.get_task("dbt_producer_watcher")
    for root in [t for t in build_warehouse.roots if t is not producer]:
        producer >> root
        root.trigger_rule = "all_done"
