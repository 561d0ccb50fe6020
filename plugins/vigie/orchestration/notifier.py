"""The DAGs' failure callback: a task that failed for good is told to the data engineers.

An Airflow notifier, so it lives with the orchestration; the message itself is composed and
sent by :mod:`vigie.alerts.engineers`, the one place that writes to the engineers.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk.bases.notifier import BaseNotifier

from vigie.alerts.engineers import send_to_engineers

log = logging.getLogger(__name__)


class EngineersNotifier(BaseNotifier):
    """``on_failure_callback`` telling the data engineers which task failed and where its log is.

    Cheap to build at DAG parse time (it holds no connection); everything happens in
    :meth:`notify`, on the worker, after the failure.
    """

    template_fields = ()

    def notify(self, context: Any) -> None:
        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", "?")
        task_id = getattr(ti, "task_id", "(DAG)")
        run_id = context.get("run_id") or getattr(context.get("dag_run"), "run_id", "?")
        error = context.get("exception")
        lines = [
            "Bonjour,",
            "",
            f"La tâche {task_id} du DAG {dag_id} a échoué (run {run_id}, "
            f"tentative {getattr(ti, 'try_number', '?')}).",
            f"Erreur : {type(error).__name__}: {str(error)[:500]}" if error else "",
            f"Journal : {getattr(ti, 'log_url', '') or 'voir l’interface Airflow'}",
            "",
            "Message automatique de Vigie pour l’équipe data (les pilotes ne le reçoivent pas).",
        ]
        where = send_to_engineers(
            f"[Vigie] échec : {dag_id}.{task_id}",
            "\n".join(lines),
        )
        log.warning("data engineers notified of the failure of %s.%s: %s", dag_id, task_id, where)
