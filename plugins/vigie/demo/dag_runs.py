"""Run a DAG in-process (``dag.test()``) as the scheduler would: same graph, logs in the UI.

Why: ``vigie run`` and the demo run every DAG once with ``dag.test()``, and the Airflow UI
(``make up``) then shows those runs. Two gaps of ``dag.test()`` made them unlike a scheduled
run:

- it has no triggerer and runs one task at a time, in no set order: a per-model task of the
  warehouse DAG (Cosmos WATCHER, :mod:`vigie.orchestration.cosmos_watcher`), which waits in a
  trigger for the producer's ``dbt build``, could run before the producer and wait forever.
  :func:`producer_first` runs the producer as soon as any task of its run is picked, then the
  per-model tasks resolve at once from its published statuses: the DAG the UI draws, run
  as-is, in about the time of a plain ``dbt build``.
- it writes no task log file (logs go to the console), so the UI said "Log file not found on
  worker". :func:`task_log_files` writes each task try's log where the UI's log reader
  (``FileTaskHandler``) looks: ``<base_log_folder>/<log_filename_template>``, as JSON lines.

Both patch ``airflow.sdk.definitions.dag._run_task`` (the one function ``dag.test()`` calls per
task) for the duration of a ``with`` block.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PRODUCER_TASK_ID = "dbt_producer_watcher"
FINISHED = {"success", "failed", "skipped", "upstream_failed", "removed"}
QUIET_LOGGERS = ("cosmos",)  # below ERROR, in the task log files only
# In the task log files only: Cosmos's per-model tasks look for XComs the lean producer does
# not push (vigie.orchestration.cosmos_watcher), and the API client logs each miss as an error.
QUIET_EVENTS = frozenset({"XCom not found"})


class _JsonLines(logging.Handler):
    """Log records as the task log reader parses them: one JSON object per line."""

    def __init__(self, path: Path, quiet: bool = False) -> None:
        super().__init__(logging.INFO)
        self.quiet = quiet  # nothing of this task on the console (an expected failure)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def emit(self, record: logging.LogRecord) -> None:
        try:
            event = record.getMessage()
            if record.exc_info:
                event += "\n" + logging.Formatter().formatException(record.exc_info)
            self.write(record.created, record.levelname, record.name, event)
        except Exception:
            self.handleError(record)

    def write(self, created: float, level: str, logger: str, event: str, **extra: Any) -> None:
        line = {
            "timestamp": datetime.fromtimestamp(created, UTC).isoformat(),
            "level": level.lower(),
            "logger": logger,
            "event": event,
            **extra,
        }
        self._file.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        super().close()


_current: list[_JsonLines] = []  # the running task's log file, if any
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "exception": 40}


def _tee(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Mapping[str, Any]:
    """structlog processor: the event into the running task's file; the console keeps
    warnings and errors only (Airflow's own task messages are structlog's, not stdlib's)."""
    import structlog

    level = _LEVELS.get(method, 20)
    if _current:
        extra = {k: v for k, v in event_dict.items() if k not in {"event", "logger_name"}}
        exc = extra.pop("exc_info", None)
        event = str(event_dict.get("event", ""))
        if exc:
            import traceback

            info = exc if isinstance(exc, tuple) else None
            event += "\n" + "".join(
                traceback.format_exception(*info) if info else traceback.format_exc()
            )
        name = str(event_dict.get("logger_name") or getattr(logger, "name", "") or "task")
        _current[-1].write(datetime.now().timestamp(), method, name, event, **extra)
    quiet = bool(_current) and _current[-1].quiet
    if quiet or level < logging.WARNING or event_dict.get("event") in QUIET_EVENTS:
        raise structlog.DropEvent
    return event_dict


class _ConsoleFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _current and _current[-1].quiet:  # an expected failure: its log file has it all
            return False
        if record.name.startswith(QUIET_LOGGERS):
            return record.levelno >= logging.ERROR
        return True


def _log_path(ti: Any) -> Path:
    """Where the UI's log reader looks for this try of ``ti``."""
    from airflow.configuration import conf
    from airflow.utils.log.file_task_handler import FileTaskHandler

    base = conf.get("logging", "base_log_folder")
    handler = FileTaskHandler(base_log_folder=base)
    return Path(base) / handler._render_filename(ti, ti.try_number)


def _state_of(ti: Any) -> str | None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        state = (
            session.query(TaskInstance.state)
            .filter_by(dag_id=ti.dag_id, run_id=ti.run_id, task_id=ti.task_id, map_index=-1)
            .scalar()
        )
    return None if state is None else str(getattr(state, "value", state))


def _producer_of(ti: Any) -> Any | None:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        producer = (
            session.query(TaskInstance)
            .filter_by(dag_id=ti.dag_id, run_id=ti.run_id, task_id=PRODUCER_TASK_ID, map_index=-1)
            .one_or_none()
        )
        if producer is not None:
            session.expunge(producer)
    return producer


@contextmanager
def _patched(wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Iterator[None]:
    from airflow.sdk.definitions import dag as dag_module

    original = dag_module._run_task
    dag_module._run_task = wrap(original)
    try:
        yield
    finally:
        dag_module._run_task = original


@contextmanager
def task_log_files(
    console_level: int = logging.WARNING, quiet_tasks: frozenset[str] = frozenset()
) -> Iterator[None]:
    """Each task try's log (INFO and up) into its file; the console keeps ``console_level``,
    and nothing of Airflow's own messages for the tasks in ``quiet_tasks`` (whose failure the
    caller reports itself)."""
    import structlog

    root = logging.getLogger()
    saved_level = root.level
    saved_handlers = {h: h.level for h in root.handlers}
    console_filter = _ConsoleFilter()
    for handler in root.handlers:
        handler.setLevel(max(handler.level, console_level))
        handler.addFilter(console_filter)
    root.setLevel(logging.INFO)
    processors = list(structlog.get_config()["processors"])
    structlog.configure(processors=[_tee, *processors])

    def wrap(run_task: Callable[..., Any]) -> Callable[..., Any]:
        def logged(*, ti: Any, task: Any, **kwargs: Any) -> Any:
            handler = _JsonLines(_log_path(ti), quiet=ti.task_id in quiet_tasks)
            root.addHandler(handler)
            _current.append(handler)
            try:
                logging.getLogger("airflow.task").info(
                    "vigie run: task %s of %s, try %s, in-process (dag.test)",
                    ti.task_id,
                    ti.run_id,
                    ti.try_number,
                )
                return run_task(ti=ti, task=task, **kwargs)
            finally:
                _current.remove(handler)
                root.removeHandler(handler)
                handler.close()

        return logged

    try:
        with _patched(wrap):
            yield
    finally:
        structlog.configure(processors=processors)
        root.setLevel(saved_level)
        for handler, level in saved_handlers.items():
            handler.setLevel(level)
            handler.removeFilter(console_filter)


@contextmanager
def producer_first() -> Iterator[None]:
    """In a Cosmos WATCHER run, the producer's ``dbt build`` runs before any per-model task."""

    def wrap(run_task: Callable[..., Any]) -> Callable[..., Any]:
        def ordered(*, ti: Any, task: Any, **kwargs: Any) -> Any:
            dag = task.dag
            if dag is None or PRODUCER_TASK_ID not in dag.task_dict:
                return run_task(ti=ti, task=task, **kwargs)
            if ti.task_id == PRODUCER_TASK_ID:
                if _state_of(ti) in FINISHED:
                    return None  # already run, ahead of the task that was picked first
                return run_task(ti=ti, task=task, **kwargs)
            producer = _producer_of(ti)
            if producer is not None and _state_of(producer) == "scheduled":
                run_task(ti=producer, task=dag.task_dict[PRODUCER_TASK_ID], **kwargs)
            return run_task(ti=ti, task=task, **kwargs)

        return ordered

    with _patched(wrap):
        yield
