"""Airflow's LocalExecutor, whose worker processes have dbt already imported.

``AIRFLOW__CORE__EXECUTOR=vigie.orchestration.executors.PreloadingLocalExecutor`` (Vigie's default,
see ``vigie.settings.airflow_env_defaults``). The LocalExecutor forks all its workers from the
scheduler when it starts; importing dbt just before makes every task process, forked in turn
from a worker, start with dbt and Cosmos loaded (:mod:`vigie.orchestration.preload`): the
warehouse build's producer task reaches dbt seconds sooner. The cost is paid once, when the
scheduler starts.
"""

from __future__ import annotations

from airflow.executors.local_executor import LocalExecutor

from vigie.orchestration.preload import preload_task_imports


class PreloadingLocalExecutor(LocalExecutor):
    """LocalExecutor that imports dbt and matplotlib before forking its workers (fork method)."""

    def start(self) -> None:
        if self.is_mp_using_fork:
            preload_task_imports()
        super().start()
