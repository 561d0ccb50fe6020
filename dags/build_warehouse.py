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

**Only what changed is built** (the default `watcher` mode). The producer first compares each
dbt source's content and the project with the last successful build (`audit.warehouse_builds`):
a source that changed gets `dbt build --select source:<it>+` (its models, everything
downstream, their tests); with no source changed, no dbt runs at all (the producer's log says
so). The tasks of the models left out end **skipped**. A first build, or a change to the dbt
project, the dbt settings or dbt itself, builds everything.

**Full refresh.** To rebuild everything anyway, trigger the DAG with the `full_refresh` param
on ("Trigger DAG w/ config" form, or the conf `{"full_refresh": true}`).

`VIGIE_COSMOS_EXECUTION_MODE` picks another of Cosmos's modes (`vigie.orchestration.cosmos_modes`).
"""

from __future__ import annotations

from airflow.sdk import Param  # (airflow before cosmos: docs/architecture.md)
from cosmos import DbtDag, ProjectConfig, RenderConfig
from cosmos.constants import LoadMode
from vigie.orchestration.assets import RAW_ASSOCIATIONS, RAW_POLICE_POPULATION, RAW_PREFECTURES
from vigie.orchestration.cosmos_modes import cosmos_mode, finish_dag, mode_name
from vigie.orchestration.defaults import DAG_DEFAULTS
from vigie.orchestration.warehouse_profile import warehouse_profile_config
from vigie.settings import get_settings

settings = get_settings()
# The `vigie_warehouse` connection through Cosmos's profile mapping, else profiles.yml on
# VIGIE_WAREHOUSE_URL: decided from the environment (no I/O); no password in task arguments.
profile_config = warehouse_profile_config(settings)
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
    profile_config=profile_config,
    execution_config=mode.execution_config,
    # Per-model assets are not consumed by any DAG: the weekly alerts run on a calendar.
    render_config=RenderConfig(
        load_method=LoadMode.DBT_MANIFEST,
        emit_datasets=False,
        test_behavior=mode.test_behavior,
        should_detach_multiple_parents_tests=mode.detach_multi_parent_tests,
    ),
    operator_args=mode.operator_args,
    # Read by the producer (vigie.orchestration.cosmos_watcher): a whole build, changed or not.
    params={
        "full_refresh": Param(
            False,
            type="boolean",
            title="Full refresh",
            description="Rebuild every model and run every test, even if no source changed.",
        )
    },
    schedule=RAW_PREFECTURES | RAW_POLICE_POPULATION | RAW_ASSOCIATIONS,  # any source changing
    tags=["vigie", "warehouse", "dbt"],
    doc_md=__doc__,
    **DAG_DEFAULTS,
)
finish_dag(build_warehouse, mode.name)
