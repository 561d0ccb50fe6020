"""Cosmos's WATCHER mode, with a task per model that costs no worker process.

WATCHER runs the whole project in one ``dbt build`` (the producer task) and gives every model,
and every model's tests, a sensor task that turns green when dbt reports that node. As shipped
it was many times slower than a plain ``dbt build`` of this project (``make bench-warehouse``
measures it; docs/performance.md has the figures), because:

1. the producer pushes several XComs per dbt node, each one also re-writing the whole XCom
   backup to an Airflow Variable (quadratic in the number of nodes), from inside dbt's threads,
   which slows the ``dbt build`` itself;
2. every sensor starts in a worker process to defer, and comes back to one to finish: two
   process starts per task, on a machine of a few cores.

:func:`speed_up_watcher` keeps Cosmos's rendering (tasks, names, lineage, fallbacks) and changes
the transport: the producer (:class:`LeanProducerWatcherOperator`) publishes all terminal
statuses in one XCom, at most every :data:`PUBLISH_INTERVAL_S` and once at the end; sensors start
and end in the triggerer (:mod:`vigie.orchestration.cosmos_watcher_trigger`). Cosmos picks the
producer's class by name from the execution mode, with no hook to supply one: the producer's
class is swapped for a subclass that only overrides how the dbt runner's events are handled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from airflow.triggers.base import StartTriggerArgs
from cosmos.constants import PRODUCER_WATCHER_TASK_ID
from cosmos.operators._watcher.base import BaseConsumerSensor
from cosmos.operators._watcher.state import xcom_set_lock
from cosmos.operators.local import DbtLocalBaseOperator
from cosmos.operators.watcher import DbtProducerWatcherOperator

from vigie.orchestration.cosmos_watcher_trigger import (
    FAILED_STATUSES,
    STATUS_XCOM_KEY,
    TRIGGER_PATH,
)

log = logging.getLogger(__name__)

PUBLISH_INTERVAL_S = 0.5
# How often the triggerer reads the build's statuses (one state read and one XCom read per DAG
# run, whatever the number of models), as often as the producer publishes them: the last model
# tasks end at most this long after dbt does (make bench-warehouse measures that tail).
POKE_INTERVAL_S = PUBLISH_INTERVAL_S
MESSAGE_MAX_CHARS = 2000


class NodeStatusBoard:
    """Terminal statuses of one ``dbt build``, fed by dbt's event callback (any thread)."""

    def __init__(self, tests_per_model: dict[str, list[str]]) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[str, str] = {}
        self._messages: dict[str, str] = {}
        self._tests_per_model = {m: list(t) for m, t in tests_per_model.items() if t}
        self.version = 0

    def on_event(self, event: Any) -> None:
        """dbt runner callback: keep ``NodeFinished`` events; never raise into dbt."""
        try:
            if event.info.name != "NodeFinished":
                return
            node = event.data.node_info
            self.record(node.unique_id, node.node_status, event.data.run_result.message)
        except Exception:
            log.exception("could not record a dbt event")

    def record(self, unique_id: str, status: str, message: str = "") -> None:
        if not unique_id or not status:
            return
        with self._lock:
            self._nodes[unique_id] = status
            if status in FAILED_STATUSES and message:
                self._messages[unique_id] = message[:MESSAGE_MAX_CHARS]
            self.version += 1

    def snapshot(self) -> dict[str, dict[str, str]]:
        """What the triggers read: nodes, each tested model's aggregate, failure messages.

        A model's tests ``fail`` once all have ended and one failed, ``pass`` once all have
        ended and none failed: a relationship test dbt skipped because the *other* model it
        reads failed does not fail this model.
        """
        with self._lock:
            nodes = dict(self._nodes)
            messages = dict(self._messages)
        _blame_failed_unit_tests(nodes, messages)
        tests: dict[str, str] = {}
        for model, test_ids in self._tests_per_model.items():
            statuses = [nodes.get(t) for t in test_ids]
            if all(statuses):
                tests[model] = "fail" if any(s in FAILED_STATUSES for s in statuses) else "pass"
                failed = [t for t in test_ids if t in messages]
                if failed:
                    messages.setdefault(model, "; ".join(messages[t] for t in failed))
        return {"nodes": nodes, "tests": tests, "messages": messages}


def _blame_failed_unit_tests(nodes: dict[str, str], messages: dict[str, str]) -> None:
    """A model dbt skipped because one of its unit tests failed is reported failed, not skipped.

    dbt runs a model's unit tests (``unit_test.<package>.<model>.<name>``) before the model and
    skips the model when one fails: its task should be red with the unit test's message (a
    change broke the logic), not grey like a model skipped after an upstream failure.
    """
    for unique_id, status in list(nodes.items()):
        if not unique_id.startswith("unit_test.") or status not in FAILED_STATUSES:
            continue
        _, package, model_name, *_ = unique_id.split(".")
        model = f"model.{package}.{model_name}"
        if nodes.get(model) in {None, "skipped"}:
            nodes[model] = "error"
            detail = messages.get(unique_id, "")
            messages[model] = f"unit test {unique_id} failed" + (f": {detail}" if detail else "")


class StatusPublisher:
    """Pushes the board's snapshot to XCom when it changed, from a thread of its own.

    One XCom write per interval, not per dbt event, and never from dbt's threads.
    """

    def __init__(self, task_instance: Any, board: NodeStatusBoard, interval: float) -> None:
        self._ti = task_instance
        self._board = board
        self._interval = interval
        self._sent = -1
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vigie-status-publisher")

    def __enter__(self) -> StatusPublisher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.publish()  # the final statuses, before the producer task ends

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.publish()
            except Exception:  # the final push in __exit__ still reports
                log.exception("could not publish the dbt statuses; retrying")

    def publish(self) -> None:
        version = self._board.version
        if version == self._sent:
            return
        snapshot = self._board.snapshot()
        with xcom_set_lock:  # Cosmos's lock around the task's supervisor channel
            self._ti.xcom_push(key=STATUS_XCOM_KEY, value=snapshot)
        self._sent = version


class LeanProducerWatcherOperator(DbtProducerWatcherOperator):
    """Cosmos's producer, publishing statuses through :class:`StatusPublisher` only."""

    _dbt_runner_callbacks: list[Callable[..., Any]] | None  # Cosmos's, set by its __init__

    def run_dbt_runner(
        self, command: list[str], env: dict[str, str], cwd: str, **kwargs: Any
    ) -> Any:  # as Cosmos's: dbt's dbtRunnerResult
        context = kwargs.get("context")
        if context is None or context.get("_check_source_freshness"):
            return super().run_dbt_runner(command, env, cwd, **kwargs)
        board = NodeStatusBoard(self.tests_per_model)
        callbacks = list(self._dbt_runner_callbacks or [])
        self._dbt_runner_callbacks = [*callbacks, board.on_event]
        try:
            with StatusPublisher(context["ti"], board, PUBLISH_INTERVAL_S):
                # dbt's own runner, without Cosmos's per-event XCom callback.
                return DbtLocalBaseOperator.run_dbt_runner(self, command, env, cwd, **kwargs)
        finally:
            self._dbt_runner_callbacks = callbacks


def speed_up_watcher(dag: Any, poke_interval: float = POKE_INTERVAL_S) -> None:
    """Make a Cosmos WATCHER DAG's producer lean and its per-model tasks triggerer-only.

    Rendered with ``TestBehavior.NONE`` (one task per model), each task covers its model and the
    model's tests, as ``dbt build --select model`` would, and the producer runs the tests too
    (Cosmos leaves them out of its ``dbt build`` when tests have no tasks).

    Every task also gets ``trigger_rule="always"``: it waits for its model from the start of the
    run instead of after the tasks upstream (each hop costs a scheduler and a triggerer loop, and
    the project is several models deep). The edges stay, so the graph still shows the
    lineage; dbt itself orders the build and skips what depends on a failure, which the tasks
    then report as skipped.
    """
    producer = dag.get_task(PRODUCER_WATCHER_TASK_ID)
    producer.__class__ = LeanProducerWatcherOperator
    producer.log_format = None  # dbt's readable log in the producer's task log, not JSON
    producer.dbt_cmd_flags = _without_resource_types(producer.dbt_cmd_flags or [])
    tests_per_model = producer.tests_per_model
    for task in dag.tasks:
        if not isinstance(task, BaseConsumerSensor):
            continue
        task.start_from_trigger = True
        task.start_trigger_args = StartTriggerArgs(
            trigger_cls=TRIGGER_PATH,
            trigger_kwargs={
                "model_unique_id": task.model_unique_id,
                "producer_task_id": task.producer_task_id,
                "tests": len(tests_per_model.get(task.model_unique_id, [])),
                "is_test_sensor": task.is_test_sensor,
                "poke_interval": poke_interval,
            },
            next_method="execute_complete",
            next_kwargs=None,
            timeout=None,
        )
        task.trigger_rule = "always"


def _without_resource_types(flags: list[str]) -> list[str]:
    """``flags`` without ``--resource-type X`` pairs: the producer builds everything, tests too."""
    kept: list[str] = []
    skip = False
    for flag in flags:
        if skip:
            skip = False
        elif flag == "--resource-type":
            skip = True
        else:
            kept.append(flag)
    return kept
