"""Alias kept for deferred tasks saved before the package was regrouped.

A deferred task stores its trigger's class path in Airflow's database; tasks deferred by an
earlier release name ``vigie.cosmos_watcher_trigger.DbtNodeStatusTrigger``. The trigger lives
in :mod:`vigie.orchestration.cosmos_watcher_trigger`; this module only points there.
"""

from vigie.orchestration.cosmos_watcher_trigger import DbtNodeStatusTrigger

__all__ = ["DbtNodeStatusTrigger"]
