"""Running dbt in-process with the environment the profile reads, and checking the sources'
freshness with it.

The warehouse is the one the loaders write (:meth:`vigie.settings.Settings.warehouse_target`:
the Airflow connection ``vigie_warehouse``, else ``VIGIE_WAREHOUSE_URL``), resolved once per
dbt run, inside the task; its password reaches dbt as an environment variable of the run only.

dbt is imported when it runs, not with the module: importing it costs seconds.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from vigie.settings import Settings, WarehouseTarget

log = logging.getLogger(__name__)


@contextmanager
def dbt_environment(
    settings: Settings, target: WarehouseTarget | None = None
) -> Iterator[WarehouseTarget]:
    """Expose the settings and the warehouse (``target``, resolved when not given) to dbt's
    ``env_var()`` for the duration of a run; yields the warehouse."""
    target = target or settings.warehouse_target()
    env = settings.dbt_env(target)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield target
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def run_dbt(args: list[str], settings: Settings) -> None:
    """``dbt <args>`` through dbt's programmatic runner; raises if dbt reports a failure."""
    from dbt.cli.main import dbtRunner

    project = str(settings.dbt_project_dir)
    options = ["--project-dir", project, "--profiles-dir", project]
    with dbt_environment(settings) as target:
        log.info("dbt %s on %s", args[0] if args else "", target.display)
        result = dbtRunner().invoke([*args, *options, "--target", target.kind])
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed: {result.exception or 'see the log'}")


# --- Source freshness: the rules of the sources' yml, checked (information, never a failure) ---

FRESHNESS_TABLE = "audit.source_freshness"
_COMPARED = ("loaded_at_field", "warn_after", "error_after", "status")


def _after(rule: Any) -> str | None:
    """A freshness threshold as text (``45 day``), None when the rule has none."""
    count, period = getattr(rule, "count", None), getattr(rule, "period", None)
    if not count or not period:
        return None
    return f"{count} {getattr(period, 'value', period)}"


def source_freshness(settings: Settings) -> list[dict[str, Any]]:
    """``dbt source freshness`` of the source tables present in the warehouse, one dict per
    table that declares a freshness rule (source, table, rule, status).

    A stale source (``warn``, ``error``) or a table whose check failed (``runtime error``) is
    a result, not an exception: freshness is information. Raises only when dbt could not run
    at all (project, profile, connection). Tables not created yet are left out: their ingestion
    DAG has not run.
    """
    from dbt.cli.main import dbtRunner

    from vigie.warehouse.build_selection import source_tables
    from vigie.warehouse.connection import Warehouse

    warehouse = Warehouse(settings)
    with warehouse.transaction() as tx:
        present = set(tx.fetchall("SELECT table_schema, table_name FROM information_schema.tables"))
    selected = [
        f"source:{t.source}.{t.table}"
        for t in source_tables(settings.dbt_project_dir)
        if (t.schema, t.identifier) in present
    ]
    if not selected:
        return []
    project = str(settings.dbt_project_dir)
    args = ["source", "freshness", "--select", *selected, "--project-dir", project]
    args += ["--profiles-dir", project, "--target", warehouse.kind]
    with dbt_environment(settings, warehouse.target):
        result = dbtRunner().invoke(args)
    outcome: Any = result.result  # a FreshnessResult, or None when dbt could not run
    if outcome is None:
        raise RuntimeError(f"dbt source freshness failed: {result.exception or 'see the log'}")
    rows = []
    for item in outcome.results:
        node: Any = item.node
        if str(getattr(node, "resource_type", "")) not in {"source", "NodeType.Source"}:
            continue  # the on-run-end hook's result
        rule = getattr(node, "freshness", None)
        rows.append(
            {
                "source_name": node.source_name,
                "table_name": node.name,
                "loaded_at_field": getattr(node, "loaded_at_field", None),
                "warn_after": _after(getattr(rule, "warn_after", None)),
                "error_after": _after(getattr(rule, "error_after", None)),
                "status": str(getattr(item.status, "value", item.status)),
            }
        )
    return sorted(rows, key=lambda r: (r["source_name"], r["table_name"]))


def record_source_freshness(settings: Settings, rows: list[dict[str, Any]]) -> bool:
    """Keep the check in ``audit.source_freshness``; True when something changed.

    A table keeps its ``status_since`` while its status (and rule) stays the same, and the
    table is rewritten only when one changes: an unchanged check leaves the source's content,
    hence its build fingerprint, as it was, and the next build runs nothing for it.
    """
    import pandas as pd

    from vigie.warehouse.connection import Warehouse
    from vigie.warehouse.migrations import migrate_warehouse

    now = datetime.now(UTC)
    warehouse = Warehouse(settings)
    migrate_warehouse(warehouse)  # the table is the schema's (migration 2)
    with warehouse.transaction() as tx:
        columns = ["source_name", "table_name", *_COMPARED, "status_since"]
        previous = {
            (r[0], r[1]): dict(zip(columns, r, strict=True))
            for r in tx.fetchall(f"SELECT {', '.join(columns)} FROM {FRESHNESS_TABLE}")
        }
        merged, changed = [], len(rows) != len(previous)
        for row in rows:
            old = previous.get((row["source_name"], row["table_name"]))
            same = old is not None and all(old[k] == row[k] for k in _COMPARED)
            changed = changed or not same
            merged.append({**row, "status_since": old["status_since"] if same and old else now})
        if not changed:
            return False
        tx.execute(f"DELETE FROM {FRESHNESS_TABLE}")
        if merged:
            frame = pd.DataFrame(merged, columns=columns)
            frame["status_since"] = pd.to_datetime(frame["status_since"], utc=True)
            tx.insert_frame(FRESHNESS_TABLE, frame)
    return True


def check_source_freshness(settings: Settings) -> dict[str, Any]:
    """Check every source's freshness, keep the result, and show it in ``marts.data_freshness``.

    When a status changed, ``data_freshness`` is rebuilt at once (its source and it, a
    couple of nodes; not before the warehouse's first build): the weekly DAG runs this on
    Mondays, when a source that stopped sending has triggered no build. Stale sources are
    logged as warnings; nothing here fails because of them.
    """
    from vigie.warehouse.connection import Warehouse

    rows = source_freshness(settings)
    changed = record_source_freshness(settings, rows)
    stale = [
        f"{r['source_name']}.{r['table_name']}: {r['status']}"
        for r in rows
        if r["status"] != "pass"
    ]
    if stale:
        log.warning("source freshness: %s", "; ".join(stale))
    rebuilt = False
    if changed:
        with Warehouse(settings).transaction() as tx:
            built = tx.fetchall(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = 'marts' AND table_name = 'data_freshness'"
            )[0][0]
        if built:
            run_dbt(
                [
                    "build",
                    "--select",
                    "source:audit.source_freshness+",
                    "--exclude-resource-type",
                    "unit_test",
                ],
                settings,
            )
            rebuilt = True
    return {
        "checked": len(rows),
        "statuses": dict(Counter(r["status"] for r in rows)),
        "stale": stale,
        "changed": changed,
        "data_freshness_rebuilt": rebuilt,
    }
