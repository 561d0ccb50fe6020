"""
### Warehouse build (dbt via Cosmos)

Runs the dbt project (`dbt_project/`: staging → intermediate → marts) whenever a raw
source changes (prefecture files, police-population indicators, association reports), a task
per model and its tests, rendered from the manifest built ahead (`make install` runs
`dbt parse`). Only the task running dbt takes the one-slot `vigie_warehouse` pool: DuckDB
allows a single writer.

By default one `dbt build` runs in the producer task and each model's task starts and ends in
the triggerer as dbt reports it: a model whose build or tests failed fails with dbt's message,
what dbt skipped after it is skipped, clearing a task re-runs its model alone.
`VIGIE_COSMOS_EXECUTION_MODE` picks another of Cosmos's modes (`vigie.orchestration.cosmos_modes`).
"""

from __future__ import annotations

import os

from airflow.sdk import Asset  # noqa: F401  (airflow before cosmos: docs/architecture.md)
from cosmos import DbtDag, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import LoadMode
from vigie.orchestration.assets import RAW_ASSOCIATIONS, RAW_POLICE_POPULATION, RAW_PREFECTURES
from vigie.orchestration.cosmos_modes import cosmos_mode, finish_dag, mode_name
from vigie.orchestration.defaults import DAG_DEFAULTS
from vigie.settings import get_settings

settings = get_settings()
# The profile reads its connection from these variables; setting them here (no I/O) keeps the
# warehouse credentials out of the serialized DAG and its rendered task arguments.
os.environ.update({k: v for k, v in settings.dbt_env().items() if k not in os.environ})
mode = cosmos_mode(mode_name())

build_warehouse = DbtDag(
    dag_id="build_warehouse",
    description="dbt build of the warehouse when a raw source changes",
    project_config=ProjectConfig(
        dbt_project_path=settings.dbt_project_dir,
        manifest_path=settings.dbt_project_dir / "target" / "manifest.json",
        project_name="vigie",
        install_dbt_deps=False,  # the project has no packages: no `dbt deps` in every task
    ),
    profile_config=ProfileConfig(
        profile_name="vigie",
        target_name=settings.warehouse_kind,
        profiles_yml_filepath=settings.dbt_project_dir / "profiles.yml",
    ),
    execution_config=mode.execution_config,
    # Per-model assets are not consumed by any DAG: the weekly alerts run on a calendar.
    render_config=RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        emit_datasets=False,
        test_behavior=mode.test_behavior,
        should_detach_multiple_parents_tests=mode.detach_multi_parent_tests,
    ),
    operator_args=mode.operator_args,
    schedule=RAW_PREFECTURES | RAW_POLICE_POPULATION | RAW_ASSOCIATIONS,  # any source changing
    tags=["vigie", "warehouse", "dbt"],
    doc_md=__doc__,
    **DAG_DEFAULTS,
)
finish_dag(build_warehouse, mode.name)
