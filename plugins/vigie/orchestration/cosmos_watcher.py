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

:func:`speed_up_watcher` keeps Cosmos's rendering (tasks, names, lineage, fallbacks), makes the
producer build only what changed since the last successful build (a ``nothing`` plan runs no
dbt; the tasks of the models left out end skipped) and changes the transport: the producer
(:class:`LeanProducerWatcherOperator`) publishes all terminal statuses in one XCom, at most
every :data:`PUBLISH_INTERVAL_S` and once at the end; sensors start and end in the triggerer
(:mod:`vigie.orchestration.cosmos_watcher_trigger`). Cosmos picks the producer's class by name
from the execution mode, with no hook to supply one: the producer's class is swapped for a
subclass that plans the build and overrides how the dbt runner's events are handled.
"""

from __future__ import annotations

import logging
import threading
import time
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

    def __init__(
        self,
        tests_per_model: dict[str, list[str]],
        selected: frozenset[str] | None = None,
        plan: str = "",
    ) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[str, str] = {}
        self._messages: dict[str, str] = {}
        self._tests_per_model = {m: list(t) for m, t in tests_per_model.items() if t}
        # The models this build runs (None: all) and why, published with the statuses so the
        # tasks of the models left out end skipped at once.
        self._selected = None if selected is None else sorted(selected)
        self._plan = plan
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

    def snapshot(self) -> dict[str, Any]:
        """What the triggers read: nodes, each tested model's aggregate, failure messages, and
        the build's selection (``selected``: model ids, absent for a whole build; ``plan``).

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
        out: dict[str, Any] = {"nodes": nodes, "tests": tests, "messages": messages}
        if self._selected is not None:
            out["selected"] = self._selected
        if self._plan:
            out["plan"] = self._plan
        return out


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
        self.publish()  # the selection first: the tasks of the models left out end at once
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
        """Push the board's snapshot if it changed since the last push."""
        version = self._board.version
        if version == self._sent:
            return
        snapshot = self._board.snapshot()
        with xcom_set_lock:  # Cosmos's lock around the task's supervisor channel
            self._ti.xcom_push(key=STATUS_XCOM_KEY, value=snapshot)
        self._sent = version


class LeanProducerWatcherOperator(DbtProducerWatcherOperator):
    """Cosmos's producer, building only what changed and publishing statuses through
    :class:`StatusPublisher` only.

    Before dbt runs it plans the build (:func:`vigie.warehouse.build_selection.plan_build`):
    ``full`` runs the whole ``dbt build`` (no build recorded, the project or dbt changed, or a
    full refresh asked with the run's ``full_refresh`` param), ``changed`` the changed sources
    and everything downstream, ``nothing`` no dbt at all. The models it selected go out with
    the statuses, so the others' tasks end skipped; the build is recorded only once dbt
    succeeded, so a failed build is run again by the next one.
    """

    _dbt_runner_callbacks: list[Callable[..., Any]] | None  # Cosmos's, set by its __init__
    # Set by execute() for run_dbt_runner(): the models this build runs (None: all) and why.
    _selected_models: frozenset[str] | None = None
    _plan_reason: str = ""

    def execute(self, context: Any, **kwargs: Any) -> Any:  # Airflow's Context
        """Plan, then Cosmos's ``dbt build`` of the plan's selection (or none), then record."""
        from vigie.settings import get_settings
        from vigie.warehouse import build_selection

        if getattr(context["ti"], "try_number", 1) > 1:
            return super().execute(context, **kwargs)  # Cosmos skips a retried producer
        settings = get_settings()
        full = full_refresh_asked(context)
        plan = build_selection.plan_build(settings, full=full)
        manifest = settings.dbt_project_dir / "target" / "manifest.json"
        self._selected_models = build_selection.selected_models(plan, manifest)
        self._plan_reason = f"{plan.mode} build: {plan.reason}"
        log.info("warehouse build: %s (%s)", plan.mode, plan.reason)
        if plan.mode == "nothing":
            log.info(
                "no dbt run: no source changed since the last build; every model's task ends "
                "skipped (trigger with full_refresh to rebuild everything)"
            )
            board = NodeStatusBoard({}, self._selected_models, self._plan_reason)
            StatusPublisher(context["ti"], board, PUBLISH_INTERVAL_S).publish()
            return {**plan.as_dict(), "dbt_ran": False}
        if plan.mode == "changed":
            self.select = plan.selectors
            flags: list[str] = list(getattr(self, "dbt_cmd_flags", None) or [])
            self.dbt_cmd_flags = [*flags, *plan.exclude_flags]
            log.info(
                "dbt build --select %s: %d of the project's models",
                " ".join(plan.selectors),
                len(self._selected_models or ()),
            )
        started = time.perf_counter()
        super().execute(context, **kwargs)  # raises if dbt failed: nothing recorded then
        build_selection.record_build(settings, plan, time.perf_counter() - started)
        return {**plan.as_dict(), "dbt_ran": True}

    def run_dbt_runner(
        self, command: list[str], env: dict[str, str], cwd: str, **kwargs: Any
    ) -> Any:  # as Cosmos's: dbt's dbtRunnerResult
        context = kwargs.get("context")
        if context is None or context.get("_check_source_freshness"):
            return super().run_dbt_runner(command, env, cwd, **kwargs)
        board = NodeStatusBoard(self.tests_per_model, self._selected_models, self._plan_reason)
        callbacks = list(self._dbt_runner_callbacks or [])
        self._dbt_runner_callbacks = [*callbacks, board.on_event]
        try:
            with StatusPublisher(context["ti"], board, PUBLISH_INTERVAL_S):
                # dbt's own runner, without Cosmos's per-event XCom callback.
                return DbtLocalBaseOperator.run_dbt_runner(self, command, env, cwd, **kwargs)
        finally:
            self._dbt_runner_callbacks = callbacks


def full_refresh_asked(context: Any) -> bool:
    """Whether the run asks for a whole build: the DAG's ``full_refresh`` param, which a
    trigger's conf sets (``{"full_refresh": true}``)."""
    params = context.get("params") or {}
    value = params.get("full_refresh")
    if value is None:
        dag_run = context.get("dag_run")
        value = (getattr(dag_run, "conf", None) or {}).get("full_refresh")
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


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
