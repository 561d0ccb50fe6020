"""Great Expectations on each batch of canonical rows, built from the rules of the row verdicts.

Why both: the row verdicts (:mod:`vigie.contracts.validation`) decide what loads, row by row, with a
reason a prefecture agent understands. Great Expectations re-checks the same batch as a whole
and keeps what a data engineer audits: every run's results in a file context and Data Docs
pages to browse. Both come from one declaration (:class:`~vigie.contracts.validation.Column` and
:class:`~vigie.contracts.validation.Kind` ``checks``), so they cannot drift apart silently:

- each expectation's ``meta.vigie`` names the row-verdict ``reasons`` it mirrors on its
  ``column``; on any batch its unexpected count equals the number of rows rejected on that
  column for those reasons (:func:`agreement` computes both; the loader logs any gap);
- an expectation with no reasons is a guard: it states what the parsers already enforce
  (a percentage in 0..1, a year in range, a SIRET of 14 digits), so it finds nothing;
- left to the row verdicts only: membership of the reference lists (``unknown_*``), the
  file's one département (``departement_differs``), the QPV/ZSP geography fit, and a cell
  that is not a number or a date at all in an optional column (the suite sees a null).

When: once per batch and kind (:func:`vigie.ingest.batches.ingest_landed` batches up to 1,000
files),
on :class:`~vigie.contracts.validation.KindBatch` ``canonical``: every row of the batch's files
*before* the invalid ones are dropped. After the drop every expectation would pass and say
nothing about what was refused; before it, the counts can be checked against the rejects.

The suites live in the repository (``include/expectations/<source>_<kind>.json``) and are
what runs; ``tests/test_expectations.py`` fails when they differ from what the declarations
generate. Regenerate them with::

    uv run python -m vigie.ingest.expectations

Cost: ``import great_expectations`` takes seconds (scipy, altair), so it happens here, lazily,
only when a batch is validated: never at DAG parse time, never in ``vigie check``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from vigie.contracts import prefectures
from vigie.contracts.validation import (
    FILE_INDEX,
    Check,
    Column,
    Kind,
    KindBatch,
    NotAbove,
    RequiredWhen,
    UniqueWithinFile,
)
from vigie.reference.geography import _VALID_COMMUNE, _VALID_DEPARTEMENT, QPV_2015, QPV_2024
from vigie.settings import SOURCE_TREE_ROOT

log = logging.getLogger(__name__)

SUITES_FOLDER = "expectations"  # under include/
DOCS_SITE = "vigie"

# Column types whose unreadable cell is null in the canonical rows: a required one's
# not-null expectation mirrors that reason too.
_NULL_WHEN_UNREADABLE = {"money", "integer", "date", "percentage", "siret", "siren"}
_QPV_CODE = f"(?:{QPV_2015.pattern}|{QPV_2024.pattern})"
_PATTERNS = {
    "departement": (f"^(?:{_VALID_DEPARTEMENT})$", "invalid_departement"),
    "commune": (f"^(?:{_VALID_COMMUNE})$", "invalid_commune"),
    "qpv_list": (rf"^{_QPV_CODE}(?:\|{_QPV_CODE})*$", "invalid_qpv_code"),
    "siret": (r"^\d{14}$", None),
    "siren": (r"^\d{9}$", None),
}


def suite_name(kind: Kind) -> str:
    return f"{kind.source}_{kind.name}"


def suite_path(kind: Kind, include_dir: Path) -> Path:
    """Where the committed suite of ``kind`` lives."""
    return include_dir / SUITES_FOLDER / f"{suite_name(kind)}.json"


def _expectation(type_: str, on: str, reasons: Sequence[str], **kwargs: Any) -> dict:
    """GX's JSON of one expectation; ``meta.vigie`` names the row reasons it mirrors on ``on``."""
    return {
        "type": type_,
        "kwargs": kwargs,
        "meta": {"vigie": {"column": on, "reasons": list(reasons)}},
    }


def _column_expectations(column: Column) -> list[dict]:
    name = column.name
    found: list[tuple[str, list[str], dict[str, Any]]] = []
    if column.required:
        reasons = ["missing_required"]
        if column.type in _NULL_WHEN_UNREADABLE:
            reasons.append(f"invalid_{column.type}")
        found.append(("expect_column_values_to_not_be_null", reasons, {}))
    if column.type == "enum":
        codes = sorted(set((column.labels or {}).values()))
        found.append(("expect_column_values_to_be_in_set", ["invalid_enum"], {"value_set": codes}))
    elif column.type == "money":
        found.append(("expect_column_values_to_be_between", ["negative_amount"], {"min_value": 0}))
    elif column.type == "percentage":
        bounds = {"min_value": 0, "max_value": 1}
        found.append(("expect_column_values_to_be_between", [], bounds))
    elif column.type == "integer":
        bounds = {"min_value": column.low or 0, "max_value": column.high or 10**9}
        found.append(("expect_column_values_to_be_between", [], bounds))
    elif column.type in _PATTERNS:
        regex, reason = _PATTERNS[column.type]
        found.append(
            ("expect_column_values_to_match_regex", [reason] if reason else [], {"regex": regex})
        )
    return [_expectation(type_, name, reasons, column=name, **kw) for type_, reasons, kw in found]


def _check_expectation(check: Check) -> dict:
    reasons = [check.reason]
    if isinstance(check, UniqueWithinFile):
        return _expectation(
            "expect_compound_columns_to_be_unique",
            check.column,
            reasons,
            column_list=[FILE_INDEX, check.column],
            ignore_row_if="any_value_is_missing",
        )
    if isinstance(check, NotAbove):
        return _expectation(
            "expect_column_pair_values_a_to_be_greater_than_b",
            check.column,
            reasons,
            column_A=check.other,
            column_B=check.column,
            or_equal=True,
            ignore_row_if="either_value_is_missing",
        )
    if isinstance(check, RequiredWhen):
        condition = {
            "type": "comparison",
            "column": {"name": check.when},
            "operator": "==",
            "parameter": check.equals,
        }
        return _expectation(
            "expect_column_values_to_not_be_null",
            check.column,
            reasons,
            column=check.column,
            row_condition=condition,
        )
    raise TypeError(f"no expectation for {check!r}")  # pragma: no cover


def build_suite(kind: Kind) -> dict:
    """The suite of ``kind`` as GX's JSON (plain data: building it needs no GX import)."""
    expectations = [e for c in kind.columns for e in _column_expectations(c)]
    expectations += [_check_expectation(check) for check in kind.checks]
    return {
        "name": suite_name(kind),
        "expectations": expectations,
        "meta": {
            "vigie": {
                "generated_by": "vigie.ingest.expectations.build_suite",
                "regenerate": "uv run python -m vigie.ingest.expectations",
                "validates": "every row of a batch of files of this kind, before the invalid "
                "rows are dropped (vigie.contracts.validation.KindBatch.canonical)",
            }
        },
    }


def suite_json(kind: Kind) -> str:
    """The committed file's exact text."""
    return json.dumps(build_suite(kind), indent=2, ensure_ascii=False) + "\n"


def write_suites(kinds: Sequence[Kind], include_dir: Path) -> list[Path]:
    """(Re)write the committed suites of ``kinds``; returns their paths."""
    paths = []
    for kind in kinds:
        path = suite_path(kind, include_dir)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(suite_json(kind), encoding="utf-8")
        paths.append(path)
    return paths


def _suite_kinds() -> tuple[Kind, ...]:
    return prefectures.KINDS


# --- agreement with the row verdicts --------------------------------------------------------


def mirrored_rows(rejects: pd.DataFrame, column: str, reasons: Sequence[str]) -> int:
    """Rows of a batch rejected on ``column`` for one of ``reasons``."""
    if not reasons or rejects.empty:
        return 0
    hit = rejects[(rejects["column_name"] == column) & rejects["reason"].isin(list(reasons))]
    return len(hit[[FILE_INDEX, "source_row"]].drop_duplicates())


@dataclass
class ExpectationOutcome:
    """One expectation of one run: what GX counted, what the row verdicts rejected."""

    expectation: str
    column: str
    reasons: list[str]
    unexpected: int | None  # None: GX raised (see ``error``)
    mirrored: int
    error: str | None = None

    @property
    def agrees(self) -> bool:
        return self.error is None and self.unexpected == self.mirrored


def agreement(suite: dict, results: list[dict], rejects: pd.DataFrame) -> list[ExpectationOutcome]:
    """Pair each expectation result (GX's JSON) with the rows the verdicts rejected for it."""
    outcomes = []
    for expectation, result in zip(suite["expectations"], results, strict=True):
        rule = expectation["meta"]["vigie"]
        error = None
        info = result.get("exception_info") or {}
        if info.get("raised_exception"):
            error = str(info.get("exception_message"))
        unexpected = (result.get("result") or {}).get("unexpected_count")
        outcomes.append(
            ExpectationOutcome(
                expectation=expectation["type"],
                column=rule["column"],
                reasons=rule["reasons"],
                unexpected=None if error else int(unexpected or 0),
                mirrored=mirrored_rows(rejects, rule["column"], rule["reasons"]),
                error=error,
            )
        )
    return outcomes


@dataclass
class SuiteRun:
    """One run of a suite on one batch: logged, returned by the flow, kept by GX."""

    suite: str
    batch: str
    rows: int
    files: int
    success: bool
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    seconds: float = 0.0
    docs_index: str | None = None

    @property
    def disagreements(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.agrees]

    def summary(self) -> str:
        failed = [o for o in self.outcomes if o.unexpected]
        unmet = ", ".join(f"{o.expectation}({o.column})={o.unexpected}" for o in failed)
        met = len(self.outcomes) - len(failed)
        return (
            f"GX {self.suite} on {self.batch}: {met}/{len(self.outcomes)} expectations met "
            f"on {self.rows} rows of {self.files} file(s) in {self.seconds:.2f} s"
            + (f"; unexpected: {unmet}" if unmet else "")
        )

    def as_dict(self) -> dict:
        out = asdict(self)
        out["disagreements"] = len(self.disagreements)
        return out


# --- Data Docs that render offline ----------------------------------------------------------

# Vigie's own stand-ins for the CDN assets GX's pages load (jQuery, Bootstrap, bootstrap-table,
# Font Awesome, Vega): the platform runs offline, where the index page would stay blank (its
# tables are drawn by a script).
OFFLINE_ASSETS = Path(__file__).parent / "gx_offline"
OFFLINE_FOLDER = "static/vigie"
_REMOTE_ASSET = re.compile(
    r'<(?:script\b[^>]*\ssrc|link\b[^>]*\shref)="https?://[^"]*"[^>]*>(?:\s*</script>)?',
    re.IGNORECASE,
)
_REMOTE_LOGO = re.compile(r'(<img\b[^>]*\ssrc=")https?://[^"]*(")', re.IGNORECASE)


def make_docs_offline(docs_dir: Path) -> int:
    """Every page of the Data Docs site loads its styles and scripts from the site itself.

    The CDN ``<script>`` and ``<link>`` tags are replaced by Vigie's two local files (copied
    to ``static/vigie/``), and the remote logo by GX's own copy under ``static/images/``.
    Idempotent; returns the number of pages rewritten (GX re-renders the index on each run).
    """
    docs_dir = Path(docs_dir)
    target = docs_dir / OFFLINE_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    for asset in sorted(OFFLINE_ASSETS.glob("vigie-docs.*")):
        shutil.copyfile(asset, target / asset.name)
    rewritten = 0
    for page in docs_dir.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        first = _REMOTE_ASSET.search(text)
        if first is None and not _REMOTE_LOGO.search(text):
            continue
        root = Path(os.path.relpath(docs_dir, page.parent)).as_posix()
        local = (
            f'<link rel="stylesheet" href="{root}/{OFFLINE_FOLDER}/vigie-docs.css">\n'
            f'<script src="{root}/{OFFLINE_FOLDER}/vigie-docs.js"></script>'
        )
        if first is not None:
            text = text[: first.start()] + local + _REMOTE_ASSET.sub("", text[first.start() :])
        text = _REMOTE_LOGO.sub(rf"\g<1>{root}/static/images/logo-long.png\g<2>", text)
        page.write_text(text, encoding="utf-8")
        rewritten += 1
    return rewritten


# --- running the suites ---------------------------------------------------------------------


def _key(text: str) -> str:
    """GX's result store refuses ``/`` and ``\\`` in a key (the run name is a folder)."""
    return text.replace("/", "_").replace("\\", "_")


# GX's loggers and what they pull in: at INFO they fill a task log with hundreds of lines
# (a registry message per decorated function at import, store and metric chatter at each run).
GX_LOGGERS = ("great_expectations", "altair", "posthog", "backoff", "tzlocal", "marshmallow")


def import_gx() -> Any:
    """``great_expectations``, imported quietly: the first thing any GX import goes through.

    Its loggers at WARNING (a real problem still shows), the deprecation warnings of its own
    imports silenced (Airflow turns warnings into log lines), and its analytics off (the
    platform runs offline; GX would try to reach its servers on every context).
    """
    for name in GX_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        import great_expectations

    return great_expectations


def _for_gx(frame: pd.DataFrame) -> pd.DataFrame:
    """Plain numpy/object columns: GX's pandas metrics expect NaN/None, not ``pd.NA``."""
    out = {}
    for name, column in frame.items():
        if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
            column.dtype
        ):
            out[name] = column.astype("float64")
        else:
            out[name] = column.astype(object).where(column.notna(), None)
    return pd.DataFrame(out, index=frame.index)


class BatchValidator:
    """Runs the committed suites on batches, keeping results and Data Docs under ``gx_dir``.

    One per task run: the GX file context, data source, suites and checkpoints are set up
    on the first batch (that is when GX is imported), then each batch is one checkpoint run
    (results stored under ``<gx_dir>/gx/uncommitted/validations/``; Data Docs updated at
    ``<gx_dir>/data_docs/index.html``).
    """

    def __init__(self, gx_dir: Path, include_dir: Path, run_id: str | None = None) -> None:
        self.gx_dir = Path(gx_dir)
        self.include_dir = Path(include_dir)
        self.run_id = run_id or "manual"
        self.runs: list[SuiteRun] = []
        self._context: Any = None
        self._checkpoints: dict[str, tuple[Any, dict]] = {}

    @property
    def docs_dir(self) -> Path:
        return self.gx_dir / "data_docs"

    @property
    def docs_index(self) -> Path:
        return self.docs_dir / "index.html"

    def _setup(self) -> Any:
        if self._context is not None:
            return self._context
        gx = import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self.gx_dir.mkdir(parents=True, exist_ok=True)
        context = gx.get_context(mode="file", project_root_dir=str(self.gx_dir))
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        sites = context.get_site_names()
        for site in sites:
            if site != DOCS_SITE:  # the default local_site: one set of pages is enough
                context.delete_data_docs_site(site)
        if DOCS_SITE not in sites:
            context.add_data_docs_site(
                site_name=DOCS_SITE,
                site_config={
                    "class_name": "SiteBuilder",
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(self.docs_dir),
                    },
                },
            )
        context.variables.save()
        self._context = context
        return context

    def _checkpoint(self, kind: Kind) -> tuple[Any, dict]:
        name = suite_name(kind)
        if name in self._checkpoints:
            return self._checkpoints[name]
        context = self._setup()
        gx = import_gx()
        from great_expectations.checkpoint import UpdateDataDocsAction

        suite_data = json.loads(suite_path(kind, self.include_dir).read_text(encoding="utf-8"))
        suite = context.suites.add_or_update(gx.ExpectationSuite(**suite_data))
        # One data source per kind: updating one never drops another kind's asset.
        source = context.data_sources.add_or_update_pandas(name=f"vigie_{name}")
        asset = source.add_dataframe_asset(name=name)
        definition = asset.add_batch_definition_whole_dataframe("batch")
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=name, data=definition, suite=suite)
        )
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=name,
                validation_definitions=[validation],
                actions=[UpdateDataDocsAction(name="update_data_docs", site_names=[DOCS_SITE])],
                result_format={"result_format": "SUMMARY"},
            )
        )
        self._checkpoints[name] = (checkpoint, suite_data)
        return self._checkpoints[name]

    def validate(self, batch: KindBatch, label: str, file_names: Sequence[str] = ()) -> SuiteRun:
        """Run the suite of ``batch.kind`` once on every row of the batch."""
        import_gx()  # before any other GX import: quiet from the first one
        from great_expectations.core.run_identifier import RunIdentifier

        started = time.perf_counter()
        checkpoint, suite_data = self._checkpoint(batch.kind)
        result = checkpoint.run(
            batch_parameters={"dataframe": _for_gx(batch.canonical)},
            run_id=RunIdentifier(
                run_name=_key(f"{self.run_id} {label}"), run_time=datetime.now(UTC)
            ),
        )
        (validation,) = result.run_results.values()
        results = validation.to_json_dict()["results"]
        make_docs_offline(self.docs_dir)
        run = SuiteRun(
            suite=suite_name(batch.kind),
            batch=label,
            rows=len(batch.canonical),
            files=len(batch.files),
            success=bool(validation.success),
            outcomes=agreement(suite_data, results, batch.rejects),
            seconds=time.perf_counter() - started,
            docs_index=str(self.docs_index),
        )
        self.runs.append(run)
        log.info("%s", run.summary())
        for outcome in run.disagreements:
            log.warning(
                "GX %s(%s) and the row verdicts disagree on %s: %s unexpected, %d rejected "
                "rows for %s%s",
                outcome.expectation,
                outcome.column,
                label,
                outcome.unexpected,
                outcome.mirrored,
                ", ".join(outcome.reasons) or "(guard)",
                f" ({outcome.error})" if outcome.error else "",
            )
        return run


def main(argv: list[str] | None = None) -> int:
    """``python -m vigie.ingest.expectations [--check]``: regenerate (or compare) the suites."""
    include_dir = SOURCE_TREE_ROOT / "include"
    kinds = _suite_kinds()
    if argv and "--check" in argv:
        stale = [
            str(suite_path(k, include_dir))
            for k in kinds
            if not suite_path(k, include_dir).exists()
            or suite_path(k, include_dir).read_text(encoding="utf-8") != suite_json(k)
        ]
        for path in stale:
            print(f"stale: {path} (run: uv run python -m vigie.ingest.expectations)")
        return 1 if stale else 0
    for written in write_suites(kinds, include_dir):
        print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
