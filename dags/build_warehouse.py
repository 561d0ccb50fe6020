"""
### Warehouse build (dbt via Cosmos)

Runs the dbt project (`dbt_project/`: staging → intermediate → marts) whenever a raw
source changes (prefecture files, police-population indicators, association reports), one
Airflow task per model and its tests, rendered from the manifest built ahead (`make install`
runs `dbt parse`). Every task takes the one-slot `vigie_warehouse` pool: DuckDB allows a
single writer.
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

build_warehouse = DbtDag(
    dag_id="build_warehouse",
    project_config=ProjectConfig(
        dbt_project_path=DBT_DIR,
        manifest_path=DBT_DIR / "target" / "manifest.json",
        project_name="vigie",
    ),
    profile_config=ProfileConfig(
        profile_name="vigie",
        target_name=settings.warehouse_kind,
        profiles_yml_filepath=DBT_DIR / "profiles.yml",
    ),
    execution_config=ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER
    ),
    # Per-model assets are not consumed by any DAG: the weekly alerts run on a calendar.
    render_config=RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        emit_datasets=False,
        # One task per model runs the model and its own tests (`dbt build --select`): half the
        # tasks of run + test, and each task pays Cosmos's start-up once. A test that spans two
        # models (a relationship) gets its own task after both, instead of failing before the
        # second exists.
        test_behavior=TestBehavior.BUILD,
        should_detach_multiple_parents_tests=True,
    ),
    operator_args={"pool": WAREHOUSE_POOL, "install_deps": False},
    schedule=RAW_PREFECTURES | RAW_POLICE_POPULATION | RAW_ASSOCIATIONS,  # any source changing
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Paris"),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vigie", "warehouse", "dbt"],
    doc_md=__doc__,
)
