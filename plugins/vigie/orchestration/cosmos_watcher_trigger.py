"""The trigger behind every per-model task of the warehouse DAG (Cosmos WATCHER mode).

Why not Cosmos's own ``WatcherTrigger``: it polls three XComs per model every interval and
hands every outcome back to a worker process, so each per-model task costs a worker start-up
(fork, DAG re-parse, Cosmos imports) once to defer and once to finish; on a small machine that
made the Airflow run many times a plain ``dbt build``. Here:

- the producer publishes every node's terminal status in ONE XCom
  (:data:`STATUS_XCOM_KEY`, see :mod:`vigie.orchestration.cosmos_watcher`);
- all triggers of one DAG run share one poller (one XCom read and one producer-state read per
  interval, whatever the number of models) in the triggerer's event loop;
- the tasks start in the triggerer (``start_from_trigger``) and end there
  (``TaskSuccessEvent`` / ``TaskSkippedEvent`` / ``TaskFailedEvent``): no worker at all for a
  model dbt built, skipped or failed, nor for one the build left out (the producer builds only
  what changed and publishes the models it selected: the others end skipped at once). Only a
  retry or a manual clear (``try_number > 1``) goes to a worker, where Cosmos's fallback
  re-runs the model on its own.

Importing this module must stay cheap: the triggerer imports it to load the trigger.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from airflow.triggers.base import (
    BaseTrigger,
    TaskFailedEvent,
    TaskSkippedEvent,
    TaskSuccessEvent,
    TriggerEvent,
)

log = logging.getLogger(__name__)

STATUS_XCOM_KEY = "vigie_dbt_node_statuses"
TRIGGER_PATH = f"{__name__}.DbtNodeStatusTrigger"

# dbt's terminal node statuses (models: success/error/skipped; tests: pass/warn/fail/error).
SUCCESS_STATUSES = frozenset({"success", "pass", "warn"})
FAILED_STATUSES = frozenset({"error", "fail", "failed", "runtime error"})
SKIPPED_STATUSES = frozenset({"skipped"})
PRODUCER_DONE_STATES = frozenset({"success", "failed", "skipped", "upstream_failed", "removed"})

# Reasons understood by Cosmos's ``BaseConsumerSensor.execute_complete`` (worker side).
_FALLBACK_EVENT = {"status": "failed", "reason": "producer_skipped"}


@dataclass
class BuildSnapshot:
    """What the poller last read: the producer's task state and its published statuses."""

    producer_state: str | None = None
    nodes: dict[str, str] = field(default_factory=dict)
    tests: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    # The models this build runs (None: all, or not published yet) and why: the producer
    # builds only what changed since the last recorded build (vigie.warehouse.build_selection).
    selected: frozenset[str] | None = None
    plan: str = ""


def node_status(
    snapshot: BuildSnapshot, unique_id: str, tests: int, is_test_sensor: bool
) -> str | None:
    """The status a task reports, None while dbt has not got there.

    A model's task (``tests`` = how many tests read the model) covers the model and its tests,
    as ``dbt build --select model`` would: it succeeds once the model is built and all its
    tests have run with none failing, fails if either failed, is skipped if dbt skipped the
    model. A tests-only task (``is_test_sensor``, Cosmos's other renderings) reports the
    tests' aggregate alone.
    """
    tested = snapshot.tests.get(unique_id)
    if is_test_sensor:
        return tested if tests else snapshot.nodes.get(unique_id)
    model = snapshot.nodes.get(unique_id)
    if model not in SUCCESS_STATUSES or not tests:
        return model
    return None if tested is None else ("success" if tested == "pass" else "fail")


def decide(
    snapshot: BuildSnapshot, unique_id: str, tests: int, is_test_sensor: bool, try_number: int
) -> TriggerEvent | None:
    """The event that ends a task given what the build has published, or None to keep waiting.

    Pure, so the decision table is tested without a triggerer.
    """
    state = snapshot.producer_state
    if try_number > 1:
        # A retry or a manual clear: once the producer is done, re-run this model on a worker
        # (Cosmos's fallback, through the warehouse pool like any dbt run).
        return TriggerEvent(_FALLBACK_EVENT) if state in PRODUCER_DONE_STATES else None
    label = f"tests of {unique_id}" if is_test_sensor else unique_id
    if snapshot.selected is not None and unique_id not in snapshot.selected:
        # Left out of this build (its sources did not change): skipped at once, whatever the
        # build of the others does.
        log.info("%s is not in this build (%s): skipped", label, snapshot.plan or "not selected")
        return TaskSkippedEvent()
    status = node_status(snapshot, unique_id, tests, is_test_sensor)
    if status in SUCCESS_STATUSES:
        log.info("dbt built %s%s", label, f" and ran its {tests} tests" if tests else "")
        return TaskSuccessEvent()
    if status in SKIPPED_STATUSES:
        log.info("dbt skipped %s: something it reads failed", label)
        return TaskSkippedEvent()
    if status in FAILED_STATUSES:
        message = snapshot.messages.get(unique_id) or "see the dbt_producer_watcher task's log"
        log.error("dbt failed on %s: %s", label, message)
        return TaskFailedEvent()
    if state == "skipped":  # the producer was retried: Cosmos runs the model here instead
        return TriggerEvent(_FALLBACK_EVENT)
    if state in PRODUCER_DONE_STATES:
        # The published statuses are final once the producer has ended (its last push comes
        # before it finishes): no status means dbt never got to this node.
        if state == "success":
            log.info("dbt did not run %s (not selected, or ephemeral)", label)
            return TaskSkippedEvent()
        log.error("the dbt build ended (%s) before it reached %s", state, label)
        return TaskFailedEvent()
    return None


class _BuildPoller:
    """One poll loop per DAG run, shared by every trigger of that run in this triggerer."""

    _running: ClassVar[dict[tuple[str, str, str], _BuildPoller]] = {}

    def __init__(self, dag_id: str, run_id: str, producer_task_id: str, interval: float) -> None:
        self.key = (dag_id, run_id, producer_task_id)
        self.interval = interval
        self.snapshot = BuildSnapshot()
        self.version = 0
        self.users = 0
        self.changed = asyncio.Condition()
        self.task: asyncio.Task | None = None

    @classmethod
    def join(cls, dag_id: str, run_id: str, producer_task_id: str, interval: float) -> _BuildPoller:
        key = (dag_id, run_id, producer_task_id)
        poller = cls._running.get(key)
        if poller is None:
            poller = cls._running[key] = cls(dag_id, run_id, producer_task_id, interval)
        poller.interval = min(poller.interval, interval)
        poller.users += 1
        if poller.task is None or poller.task.done():
            poller.task = asyncio.get_running_loop().create_task(poller._loop())
        return poller

    def leave(self) -> None:
        self.users -= 1
        if self.users <= 0:
            self._running.pop(self.key, None)
            if self.task is not None:
                self.task.cancel()

    async def updates(self) -> AsyncIterator[BuildSnapshot]:
        """Each new snapshot, starting with the latest one already read."""
        seen = 0
        while True:
            async with self.changed:
                while self.version <= seen:
                    await self.changed.wait()
                seen = self.version
                snapshot = self.snapshot
            yield snapshot

    async def _loop(self) -> None:
        while self.users > 0:
            try:
                snapshot = await asyncio.to_thread(self._read)
            except Exception:  # a transient API error: try again next interval
                log.exception("could not read the dbt build's statuses; retrying")
            else:
                async with self.changed:
                    self.snapshot = snapshot
                    self.version += 1
                    self.changed.notify_all()
            await asyncio.sleep(self.interval)

    def _read(self) -> BuildSnapshot:
        """The producer's state first: if it has ended, the statuses read after are final."""
        from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance
        from airflow.sdk.execution_time.xcom import XCom

        dag_id, run_id, producer = self.key
        states = RuntimeTaskInstance.get_task_states(
            dag_id=dag_id, task_ids=[producer], run_ids=[run_id]
        )
        state = states.get(run_id, {}).get(producer)
        value = XCom.get_one(
            run_id=run_id, key=STATUS_XCOM_KEY, task_id=producer, dag_id=dag_id, map_index=-1
        )
        value = value or {}
        selected = value.get("selected")
        return BuildSnapshot(
            producer_state=str(state) if state is not None else None,
            nodes=dict(value.get("nodes") or {}),
            tests=dict(value.get("tests") or {}),
            messages=dict(value.get("messages") or {}),
            selected=frozenset(selected) if selected is not None else None,
            plan=str(value.get("plan") or ""),
        )


class DbtNodeStatusTrigger(BaseTrigger):
    """Waits for one dbt node (or one model's tests) in the build the producer task runs."""

    def __init__(
        self,
        model_unique_id: str,
        producer_task_id: str,
        tests: int = 0,
        is_test_sensor: bool = False,
        poke_interval: float = 1.0,
    ) -> None:
        super().__init__()
        self.model_unique_id = model_unique_id
        self.producer_task_id = producer_task_id
        self.tests = int(tests)
        self.is_test_sensor = is_test_sensor
        self.poke_interval = float(poke_interval)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            TRIGGER_PATH,
            {
                "model_unique_id": self.model_unique_id,
                "producer_task_id": self.producer_task_id,
                "tests": self.tests,
                "is_test_sensor": self.is_test_sensor,
                "poke_interval": self.poke_interval,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        ti = self.task_instance
        assert ti is not None  # the triggerer sets it before running the trigger
        poller = _BuildPoller.join(ti.dag_id, ti.run_id, self.producer_task_id, self.poke_interval)
        try:
            async for snapshot in poller.updates():
                event = decide(
                    snapshot, self.model_unique_id, self.tests, self.is_test_sensor, ti.try_number
                )
                if event is not None:
                    yield event
                    return
        finally:
            poller.leave()
