"""dbt, Cosmos and matplotlib imported once in a long-lived Airflow process, before it forks.

Every Airflow task runs in a process forked from a worker (a LocalExecutor worker, itself
forked from the scheduler, or a Celery worker). Without this, every task running dbt imports
dbt, its adapters and Cosmos again, and the e-mail task imports matplotlib and loads its fonts
before drawing its first chart: seconds per task, a visible share of a weekly incremental run
(``make bench`` measures both). Imported once in the parent, they are inherited by every fork.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _timed(what: str, load: Callable[[], None]) -> float | None:
    """Run ``load``; seconds it took, or None (logged) when a package is not installed."""
    started = time.perf_counter()
    try:
        load()
    except ImportError as exc:
        log.warning("%s not preloaded in this process: %s", what, exc)
        return None
    seconds = time.perf_counter() - started
    log.info("%s preloaded in %.1f s", what, seconds)
    return seconds


def _import_dbt() -> None:
    import cosmos.operators.local
    import cosmos.operators.watcher  # noqa: F401
    import dbt.adapters.duckdb
    import dbt.adapters.postgres
    import dbt.cli.main  # noqa: F401


def _import_charts() -> None:
    from matplotlib import font_manager
    from matplotlib.backends import backend_agg  # noqa: F401

    import vigie.alerts.render
    import vigie.alerts.sending  # noqa: F401

    font_manager.findfont("DejaVu Sans")  # the font list, read once


def preload_task_imports() -> None:
    """What a Vigie task process would otherwise import itself: dbt, Cosmos, matplotlib.

    Either part is skipped (logged) when its packages are not installed: a worker image without
    dbt still runs the other DAGs.
    """
    _timed("dbt and Cosmos", _import_dbt)
    _timed("matplotlib and the e-mail renderer", _import_charts)
