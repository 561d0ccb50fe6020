"""How Cosmos runs dbt in the warehouse DAG: one execution mode chosen by a setting.

``VIGIE_COSMOS_EXECUTION_MODE`` (read when the DAG file is parsed) picks one of:

- ``watcher`` (default): Cosmos's WATCHER mode made cheap (:mod:`vigie.orchestration.
  cosmos_watcher`): one ``dbt build`` in the producer task (the only task in the
  ``vigie_warehouse`` pool) of what changed since the last build (whole on a first build, a
  project change or the run's ``full_refresh`` param; none when no source changed:
  :mod:`vigie.warehouse.build_selection`) and one task per model, covering the model and its
  tests, that starts and ends in the triggerer as dbt reports them: no worker process per
  model. A model whose build or tests failed fails with dbt's message, what dbt skipped after
  it is skipped, a model the build left out is skipped; clearing a task re-runs its model
  alone (Cosmos's fallback, in the pool). Needs a scheduler and a triggerer. The other modes
  build the whole project every run.
- ``watcher_stock``: Cosmos's WATCHER mode as shipped (one XCom per dbt event, sensors that
  start on workers); kept to measure against.
- ``watcher_batched``: ``watcher_stock`` with the sensors starting once the producer has
  finished; works under ``dag.test()``.
- ``local``: one ``dbt build --select <model>`` per task through dbt's in-process runner, tests
  inline, relationship tests in tasks of their own; works under ``dag.test()``.
- ``local_after_all``: one ``dbt run --select <model>`` per task, then one task for every test.

``bench/bench_warehouse.py`` measures them against a plain ``dbt build``; production uses the
default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vigie.settings import WAREHOUSE_POOL

if TYPE_CHECKING:
    from cosmos import DbtDag, ExecutionConfig
    from cosmos.constants import TestBehavior

MODES = ("watcher", "watcher_stock", "watcher_batched", "local", "local_after_all")
DEFAULT_MODE = "watcher"
PRODUCER_TASK_ID = "dbt_producer_watcher"


@dataclass(frozen=True)
class CosmosMode:
    """What the DAG hands Cosmos for one mode."""

    name: str
    execution_config: ExecutionConfig
    test_behavior: TestBehavior
    operator_args: dict[str, Any]

    @property
    def detach_multi_parent_tests(self) -> bool:
        """LOCAL runs a relationship test after both its models, in a task of its own; WATCHER
        reports it with the tests of each model it reads."""
        return self.name.startswith("local")


def mode_name(environ: os._Environ[str] | dict[str, str] | None = None) -> str:
    """The configured mode, checked: an unknown name fails the DAG's import with the list."""
    env = os.environ if environ is None else environ
    name = env.get("VIGIE_COSMOS_EXECUTION_MODE", DEFAULT_MODE).strip().lower()
    if name not in MODES:
        raise ValueError(
            f"VIGIE_COSMOS_EXECUTION_MODE={name!r}: expected one of {', '.join(MODES)}"
        )
    return name


def cosmos_mode(name: str) -> CosmosMode:
    """The execution config, test behaviour and operator arguments of mode ``name``."""
    from cosmos import ExecutionConfig
    from cosmos.constants import ExecutionMode, InvocationMode, TestBehavior

    if name.startswith("watcher"):
        execution_config = ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER,
            invocation_mode=InvocationMode.DBT_RUNNER,
            # Only the producer writes the warehouse: it alone takes the one-slot pool. Sensors
            # in that pool would wait for the producer to finish, then run one by one. Cosmos
            # skips a retried producer (sensors then rerun their model): no retry, a failure is
            # reported.
            setup_operator_args={"pool": WAREHOUSE_POOL, "retries": 0},
        )
        # Cosmos has no BUILD operator in WATCHER mode: a sensor per model and one for its
        # tests, or (`watcher`) one task per model that also reports its tests.
        test_behavior = TestBehavior.NONE if name == "watcher" else TestBehavior.AFTER_EACH
        operator_args: dict[str, Any] = {"poke_interval": 2}
        if name == "watcher":
            # In the pool: a task that falls back to running its model on a worker (a clear, a
            # retry) writes the warehouse like any dbt run. Waiting in the triggerer takes no
            # slot. No retry: a node that failed in the build fails the same way alone.
            operator_args |= {"pool": WAREHOUSE_POOL, "retries": 0}
        return CosmosMode(name, execution_config, test_behavior, operator_args)
    execution_config = ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER
    )
    # One task per model runs the model and its own tests (`dbt build --select`): half the
    # tasks of run + test, and each task pays Cosmos's start-up once. A test that spans two
    # models (a relationship) gets its own task after both.
    test_behavior = TestBehavior.BUILD if name == "local" else TestBehavior.AFTER_ALL
    return CosmosMode(name, execution_config, test_behavior, {"pool": WAREHOUSE_POOL})


def finish_dag(dag: DbtDag, name: str) -> None:
    """What a mode changes once Cosmos has rendered the DAG's tasks."""
    if name == "watcher":
        from vigie.orchestration.cosmos_watcher import speed_up_watcher

        speed_up_watcher(dag)
        _producer_as_leaf(dag)
    elif name == "watcher_batched":
        # Sensors start once the producer has finished instead of beside it: on a small machine
        # dozens of sensor processes (start, defer, resume) starve the producer's `dbt build`.
        # Cosmos means to put the producer upstream of the root models but finds none here
        # (their sources count as parents); `all_done` keeps its fallback (a sensor reruns its
        # model) when the producer fails.
        producer = dag.get_task(PRODUCER_TASK_ID)
        for root in [t for t in dag.roots if t is not producer]:
            producer >> root
            root.trigger_rule = "all_done"


def _producer_as_leaf(dag: DbtDag) -> None:
    """The producer's failure fails the run: nothing runs after it.

    Cosmos puts the producer upstream of the models that read no source (a dimension written
    in SQL alone); the producer is then no leaf, and a failed ``dbt build`` whose failing
    model's tasks are not leaves either would leave the run green. The model tasks do not wait
    for it anyway: each starts in the triggerer from the run's start (``trigger_rule``
    ``always``) and reports what dbt did.
    """
    producer = dag.get_task(PRODUCER_TASK_ID)
    for task_id in list(producer.downstream_task_ids):
        producer.downstream_task_ids.discard(task_id)
        dag.get_task(task_id).upstream_task_ids.discard(PRODUCER_TASK_ID)
