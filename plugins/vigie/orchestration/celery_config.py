"""Celery settings for Vigie's workers: Airflow's own, plus dbt imported once per worker.

Every Airflow task runs in a process forked from its Celery worker. Without this, a warehouse
task (one dbt model, through Cosmos) spends a large part of its time importing dbt and Cosmos
again, in every task process (``bench/bench_warehouse.py`` measures it under a real scheduler).
Importing them once in the worker, before it forks its pool, makes every task process inherit
them.

Used with
``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=vigie.orchestration.celery_config.CELERY_CONFIG`` (the
compose file and ``vigie.demo.local_cluster`` set it). The scheduler and API server import this
module too, to send tasks: they only get Airflow's defaults, the import runs in workers only.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG
from celery.signals import worker_init

CELERY_CONFIG: dict[str, Any] = dict(DEFAULT_CELERY_CONFIG)


@worker_init.connect
def preload_worker(**_: Any) -> None:
    """Import dbt's runner, its adapters, Cosmos and matplotlib in the worker's main process."""
    from vigie.orchestration.preload import preload_task_imports

    preload_task_imports()
