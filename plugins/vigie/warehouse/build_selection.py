"""What a warehouse build has to run: only the part of the dbt project whose inputs changed.

Why: a week usually brings a few files, yet a plain ``dbt build`` rebuilds and re-tests every
model, which costs more than loading the week (dbt's per-node overhead,
not the data, dominates). Every model here is a pure function of its sources, the project's
code and the settings dbt reads (no model reads the clock), so a node whose upstream sources
are unchanged would produce the same relation and the same test results: it can be skipped.

How: before a build, each source table declared in ``dbt_project/models/**/*.yml`` gets a
content fingerprint (row count and an order-independent sum of row hashes, computed by the
warehouse itself). A successful build records them, with a checksum of the project's files,
the dbt settings and the dbt versions, in ``audit.warehouse_builds``. The next build compares:

- no record, or the project / settings / dbt changed: a full ``dbt build`` (unit tests too);
- some sources changed: ``dbt build --select source:<changed>+`` (their models, everything
  downstream, and every test on those), unit tests left out (they test the code, unchanged);
- nothing changed: no dbt run at all.

Fingerprints are taken *before* the build and recorded only *after* it succeeds, so a row
that lands during a build, or a build that fails half-way, makes the next build run that
part again (never less than needed).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import yaml

from vigie.settings import Settings
from vigie.warehouse.connection import Transaction, Warehouse

log = logging.getLogger(__name__)

STATE_TABLE = "audit.warehouse_builds"
STATE_DDL = (
    "CREATE SCHEMA IF NOT EXISTS audit",
    f"""CREATE TABLE IF NOT EXISTS {STATE_TABLE} (
        built_at TIMESTAMP WITH TIME ZONE NOT NULL, mode VARCHAR NOT NULL,
        project_checksum VARCHAR NOT NULL, fingerprints VARCHAR NOT NULL,
        selected VARCHAR, seconds DOUBLE PRECISION)""",
)
PROJECT_PARTS = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")
DBT_PACKAGES = ("dbt-core", "dbt-duckdb", "dbt-postgres")
# A missing source table reads as empty (the models read it through a relation that may be
# absent): when the migrations create it empty, nothing changed for dbt, nothing is rebuilt.
ABSENT = "0:0"


@dataclass(frozen=True)
class SourceTable:
    """One ``sources:`` table of the dbt project, as dbt's selector and the database name it."""

    source: str
    table: str
    schema: str
    identifier: str

    @property
    def selector(self) -> str:
        return f"source:{self.source}.{self.table}+"

    @property
    def key(self) -> str:
        return f"{self.source}.{self.table}"


@dataclass(frozen=True)
class BuildPlan:
    """What to run: ``mode`` is ``full``, ``changed`` or ``nothing``."""

    mode: str
    reason: str
    project_checksum: str
    fingerprints: dict[str, str]
    changed: tuple[SourceTable, ...] = field(default=())

    @property
    def selectors(self) -> list[str]:
        """dbt's ``--select`` values of a ``changed`` plan: each changed source and downstream."""
        return [s.selector for s in self.changed] if self.mode == "changed" else []

    @property
    def exclude_flags(self) -> list[str]:
        """dbt's flags leaving unit tests out of a ``changed`` plan: they test the code, which
        such a plan knows is unchanged."""
        return ["--exclude-resource-type", "unit_test"] if self.mode == "changed" else []

    def dbt_args(self) -> list[str]:
        """The ``dbt`` arguments of this plan (empty for ``nothing``)."""
        if self.mode == "full":
            return ["build"]
        if self.mode == "changed":
            return ["build", "--select", *self.selectors, *self.exclude_flags]
        return []

    def as_dict(self) -> dict:
        return {"mode": self.mode, "reason": self.reason, "changed": [s.key for s in self.changed]}


def selected_models(plan: BuildPlan, manifest_path: Path) -> frozenset[str] | None:
    """The models a plan's ``dbt build`` runs, by unique id; None for all (a ``full`` plan).

    Why: the warehouse DAG has a task per model, and a task whose model the build leaves out
    must end skipped at once rather than wait for a status dbt will never report. dbt's
    ``source:x+`` is every descendant of the source in the project's graph, which the
    manifest's ``child_map`` holds (``dbt ls`` would cost a parse of the project).
    """
    if plan.mode == "full":
        return None
    if plan.mode == "nothing":
        return frozenset()
    children: dict[str, list[str]] = json.loads(manifest_path.read_text())["child_map"]
    package = _package(children)
    pending = [f"source.{package}.{s.source}.{s.table}" for s in plan.changed]
    seen: set[str] = set()
    while pending:
        node = pending.pop()
        for child in children.get(node, []):
            if child not in seen:
                seen.add(child)
                pending.append(child)
    return frozenset(n for n in seen if n.startswith("model."))


def _package(children: dict[str, list[str]]) -> str:
    """The project's package name, as its sources' unique ids spell it."""
    return next((k.split(".")[1] for k in children if k.startswith("source.")), "vigie")


def source_tables(project_dir: Path) -> list[SourceTable]:
    """Every source table the project's YAML files declare (schema defaults to the source)."""
    found = []
    for path in sorted((project_dir / "models").rglob("*.yml")):
        document = yaml.safe_load(path.read_text()) or {}
        for source in document.get("sources") or []:
            schema = source.get("schema") or source["name"]
            for table in source.get("tables") or []:
                identifier = table.get("identifier") or table["name"]
                found.append(SourceTable(source["name"], table["name"], schema, identifier))
    return found


def project_checksum(settings: Settings) -> str:
    """The project's files, the settings dbt reads and the dbt versions: what a build runs."""
    digest = hashlib.sha256()
    root = settings.dbt_project_dir
    for part in PROJECT_PARTS:
        base = root / part
        paths = sorted(p for p in base.rglob("*") if p.is_file()) if base.is_dir() else [base]
        for path in paths:
            if path.exists():
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    env = {k: v for k, v in settings.dbt_env().items() if "PASSWORD" not in k}
    digest.update(json.dumps(env, sort_keys=True).encode())
    for package in DBT_PACKAGES:
        try:
            digest.update(f"{package}=={version(package)}".encode())
        except Exception:  # an adapter that is not installed changes nothing here
            continue
    return digest.hexdigest()


def _row_hash_sum(kind: str) -> str:
    # Order-independent (a sum, not a running hash) and duplicate-aware (a sum, not a xor).
    if kind == "postgres":
        return "coalesce(sum(hashtextextended(t::text, 0)), 0)::text"
    return "coalesce(sum(hash(t)), 0)::varchar"


def fingerprints(tx: Transaction, tables: list[SourceTable]) -> dict[str, str]:
    """``source.table`` -> ``rows:hashsum`` of its current content (as if empty when missing)."""
    present = {
        (schema, name)
        for schema, name in tx.fetchall(
            "SELECT table_schema, table_name FROM information_schema.tables"
        )
    }
    out = {}
    for table in tables:
        if (table.schema, table.identifier) not in present:
            out[table.key] = ABSENT
            continue
        rows, total = tx.fetchall(
            f"SELECT count(*), {_row_hash_sum(tx.kind)} FROM {table.schema}.{table.identifier} AS t"
        )[0]
        out[table.key] = f"{rows}:{total}"
    return out


def last_build(tx: Transaction) -> tuple[str, dict[str, str]] | None:
    """(project checksum, fingerprints) of the last successful recorded build, if any."""
    rows = tx.fetchall(
        f"SELECT project_checksum, fingerprints FROM {STATE_TABLE} ORDER BY built_at DESC LIMIT 1"
    )
    return (rows[0][0], json.loads(rows[0][1])) if rows else None


def plan_build(settings: Settings, *, full: bool = False) -> BuildPlan:
    """Compare the warehouse's sources and the project with the last recorded build."""
    tables = source_tables(settings.dbt_project_dir)
    checksum = project_checksum(settings)
    with Warehouse(settings).transaction() as tx:
        for statement in STATE_DDL:
            tx.execute(statement)
        current = fingerprints(tx, tables)
        previous = last_build(tx)
    if full:
        return BuildPlan("full", "full refresh asked", checksum, current)
    if previous is None:
        return BuildPlan("full", "no build recorded in this warehouse", checksum, current)
    if previous[0] != checksum:
        return BuildPlan("full", "dbt project, dbt settings or dbt changed", checksum, current)
    changed = tuple(t for t in tables if previous[1].get(t.key) != current[t.key])
    if not changed:
        return BuildPlan("nothing", "no source changed since the last build", checksum, current)
    reason = "changed: " + ", ".join(t.key for t in changed)
    return BuildPlan("changed", reason, checksum, current, changed)


def record_build(settings: Settings, plan: BuildPlan, seconds: float) -> None:
    """Remember the fingerprints the successful build ran on (taken before it started)."""
    selected = " ".join(plan.dbt_args()[1:]) or None
    with Warehouse(settings).transaction() as tx:
        tx.execute(
            f"""
            INSERT INTO {STATE_TABLE}
                (built_at, mode, project_checksum, fingerprints, selected, seconds)
            VALUES (?, ?, ?, ?, ?, ?)
            """,
            [
                datetime.now(UTC),
                plan.mode,
                plan.project_checksum,
                json.dumps(plan.fingerprints, sort_keys=True),
                selected,
                seconds,
            ],
        )
