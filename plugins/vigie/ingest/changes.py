"""What one ingestion run changed in the warehouse, read back from the audit tables.

An ingestion run announces its raw asset (which schedules the warehouse build) only when it
changed rows. The loaders' own records say it, by the run's id, so that what a try committed
counts even when the task failed later or was retried:

- a file counts when its rows went in: ``loaded``, ``loaded_with_rejects``, or ``superseded``
  (a correction that replaces an earlier file's rows is ``loaded``, the earlier one becomes
  ``superseded``); a ``duplicate`` (the same bytes again) or a file ``quarantined`` whole
  loads no row and does not count;
- an API fetch counts when it inserted rows: one whose content equals what is already stored
  (same ``publie_le`` and ``valeur``) inserts none; a failed fetch loads nothing;
- a reference list counts when the run's refresh rewrote it (an unchanged list is
  left as it is, see :func:`vigie.ingest.batches.refresh_reference`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

from vigie.ingest.batches import LIVE_OR_SUPERSEDED
from vigie.warehouse.connection import Warehouse
from vigie.warehouse.migrations import migrate_warehouse


@dataclass
class RunChanges:
    """Counts of what one run changed; :attr:`changed` says whether to announce it."""

    files: int = 0
    file_rows: int = 0
    fetches: int = 0
    fetch_rows: int = 0
    reference_lists: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.files or self.fetches or self.reference_lists)

    def as_dict(self) -> dict[str, int | list[str]]:
        return asdict(self)

    def line(self) -> str:
        """``2 file(s), 40 row(s); 1 API fetch, 12 row(s); reference: qpv`` (or ``nothing``)."""
        parts = []
        if self.files:
            parts.append(f"{self.files} file(s), {self.file_rows} row(s)")
        if self.fetches:
            parts.append(f"{self.fetches} API fetch(es), {self.fetch_rows} row(s)")
        if self.reference_lists:
            parts.append("reference: " + ", ".join(self.reference_lists))
        return "; ".join(parts) or "nothing"


def run_changes(
    warehouse: Warehouse,
    source: str,
    run_id: str,
    *,
    api: bool = False,
    reference_since: datetime | None = None,
) -> RunChanges:
    """What the run ``run_id`` of ``source`` changed: its files; its API fetches when ``api``
    (the police source's); the reference lists rewritten since ``reference_since`` if given.

    Run ids repeat across DAGs (two runs due at the same moment share one), hence the source.
    """
    changes = RunChanges()
    # The audit tables are the schema's (migrations): there whatever the loaders managed to do.
    migrate_warehouse(warehouse)
    with warehouse.transaction() as tx:
        files, rows = tx.fetchall(
            "SELECT count(*), coalesce(sum(rows_loaded), 0) FROM audit.file_loads "
            f"WHERE source = ? AND dag_run_id = ? AND status IN {LIVE_OR_SUPERSEDED}",
            [source, run_id],
        )[0]
        changes.files, changes.file_rows = int(files), int(rows)
        if api:
            fetches, rows = tx.fetchall(
                "SELECT count(*), coalesce(sum(rows_inserted), 0) FROM audit.api_fetches "
                "WHERE dag_run_id = ? AND coalesce(status, 'ok') = 'ok' AND rows_inserted > 0",
                [run_id],
            )[0]
            changes.fetches, changes.fetch_rows = int(fetches), int(rows)
        if reference_since is not None:
            changes.reference_lists = [
                name
                for (name,) in tx.fetchall(
                    "SELECT table_name FROM audit.reference_loads WHERE loaded_at >= ? "
                    "ORDER BY table_name",
                    [reference_since],
                )
            ]
    return changes
