"""Association activity reports into ``raw.association_reports``, in batches.

Why a loader of its own: a report comes in three shapes (the XLSX template with its
``Identification`` and ``Activité`` sheets, a flat CSV, the online form's JSON) and is one
structure's figures for one période, so some faults condemn the whole report (an invalid
SIRET, an unreadable période, identification fields that differ between rows, any column about
individuals). :func:`read_report` turns every shape into the one table the contract module
describes (:data:`vigie.contracts.associations.KIND`) and decides those file-level faults; from
there the shared machinery of :mod:`vigie.ingest.batches` does the rest exactly as for prefecture
files: batch validation, rejects, quarantine with a ``.reason.json``, archive, lineage,
idempotence by SHA-256, and supersession of a report by a newer one for the same
(SIRET, période), the earlier rows kept as history.

Why batches: thousands of small workbooks a year; per file only the cheap part (bytes, hash,
workbook, identification), per batch of up to :data:`vigie.ingest.batches.BATCH_FILES` files one
validation and one transaction (with a per-file fallback when the batch transaction fails).

A report quarantined for personal data leaves nothing behind but its audit record (reason and
the offending column *labels*): no row, no reject, no value in any log line.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from vigie.contracts import associations as contract
from vigie.contracts.validation import Context
from vigie.ingest import batches
from vigie.ingest.batches import Timings
from vigie.parsing.headers import header_key, map_header
from vigie.parsing.table import FileRejected, RawTable
from vigie.parsing.text import decode, read_csv_text
from vigie.parsing.values import label_key
from vigie.settings import Settings, get_settings
from vigie.warehouse.connection import Warehouse

log = logging.getLogger(__name__)

RAW_TABLE = contract.RAW_TABLE.name  # declared with the contract (vigie.contracts.associations)
_ACTIVITE_REQUIRED = frozenset(c.name for c in contract.ACTIVITE_COLUMNS if c.required)
_IDENTIFICATION_SHEETS = {"identification"}
_ACTIVITE_SHEETS = {"activite", "activites"}


def ensure_schema(warehouse: Warehouse) -> None:
    """The raw and audit tables, created if missing (this source's raw table among them)."""
    batches.ensure_schema(warehouse)


# --- reading one report ---------------------------------------------------------------------


@dataclass
class _Report:
    """A report's table before the file-level checks; ``identification`` as declared."""

    header: list[str]
    rows: list[list[str]]
    numbers: list[int]
    identification: dict[str, str] = field(default_factory=dict)
    personal: list[str] = field(default_factory=list)  # labels outside the table's header
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None


def read_report(data: bytes, timings: Timings | None = None) -> RawTable:
    """Bytes of one report, any shape -> the contract's table; whole-report faults raise
    :class:`~vigie.parsing.text.FileRejected` with a machine-readable reason.

    The table's columns are the five identification fields followed by the activity columns;
    each activity row carries the identification values, with ``periode`` normalised
    (``1er semestre 2018`` -> ``2018-S1``).
    """
    timings = timings or Timings()
    started = time.perf_counter()
    if not data.strip():
        raise FileRejected("empty", "the file is empty")
    if data[:4] == b"PK\x03\x04":
        from vigie.parsing.workbook import open_workbook

        sheets = open_workbook(data)
        opened = time.perf_counter()
        timings.open += opened - started
        report = _from_workbook(data, sheets)
    else:
        text, encoding = decode(data)
        opened = time.perf_counter()
        timings.open += opened - started
        stripped = text.lstrip()
        report = _from_json(text) if stripped[:1] in "{[" else _from_csv(text)
        report.encoding = encoding
    table = _checked(report)
    timings.parse += time.perf_counter() - opened
    return table


def _from_workbook(data: bytes, values: list[tuple[str, list[list[object]]]]) -> _Report:
    from vigie.parsing.workbook import refuse_uncached_formulas, to_text

    sheets = to_text(values)
    by_key = {label_key(s.name): s for s in sheets}
    ident = next((by_key[k] for k in _IDENTIFICATION_SHEETS if k in by_key), None)
    activity = next((by_key[k] for k in _ACTIVITE_SHEETS if k in by_key), None)
    if ident is None or activity is None:
        return _flat_workbook(data, sheets)  # a CSV-like table saved as XLSX
    identification, personal = _identification_sheet(ident.rows)
    position = next(
        (i for i, cells in enumerate(activity.rows) if _is_activity_header(cells)), None
    )
    if position is None:
        raise FileRejected(
            "unrecognised_header",
            f"sheet {activity.name!r} holds no header with the columns "
            + ", ".join(sorted(_ACTIVITE_REQUIRED)),
        )
    for sheet in (ident, activity):
        refuse_uncached_formulas(data, sheet)
    values_ = [identification.get(name, "") for name in contract.IDENTIFICATION]
    return _Report(
        header=[*contract.IDENTIFICATION, *activity.rows[position]],
        rows=[[*values_, *cells] for cells in activity.rows[position + 1 :]],
        numbers=activity.numbers[position + 1 :],
        identification=identification,
        personal=personal,
        sheet=activity.name,
    )


def _flat_workbook(data: bytes, sheets: list) -> _Report:
    from vigie.parsing.workbook import refuse_uncached_formulas

    for sheet in sheets:
        for i, cells in enumerate(sheet.rows):
            if contract.KIND.matches(cells):
                refuse_uncached_formulas(data, sheet)
                return _Report(cells, sheet.rows[i + 1 :], sheet.numbers[i + 1 :], sheet=sheet.name)
    raise FileRejected(
        "unrecognised_header",
        "neither the template's Identification and Activité sheets nor a sheet with the "
        "report's columns",
    )


def _is_activity_header(cells: list[str]) -> bool:
    return set(map_header(cells, contract.KIND.index).values()) >= _ACTIVITE_REQUIRED


def _identification_sheet(rows: list[list[str]]) -> tuple[dict[str, str], list[str]]:
    """Label in column A, value in column B (or the next non-empty cell: merged labels).

    Rows whose label is not an identification field are ignored (titles, notes), except a
    labelled value about an individual (``Nom du responsable``, ``Téléphone``...).
    """
    found: dict[str, str] = {}
    personal: list[str] = []
    for cells in rows:
        filled = [c for c in cells if c.strip()]
        if not filled:
            continue
        label, value = filled[0], (filled[1] if len(filled) > 1 else "")
        name = contract.KIND.index.get(header_key(label))
        if name in contract.IDENTIFICATION:
            found.setdefault(name, value)
        elif len(filled) > 1 and contract.is_personal_label(label):
            personal.append(label)
    return found, personal


def _json_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, list):
        return "|".join(_json_cell(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _from_json(text: str) -> _Report:
    """``{"identification": {...}, "activite": [{...}, ...]}`` (keys matched like headers)."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileRejected("invalid_json", f"not a JSON document (line {exc.lineno})") from exc
    parts = (
        {label_key(str(k)): v for k, v in document.items()} if isinstance(document, dict) else {}
    )
    ident = parts.get("identification")
    activity = next((parts[k] for k in ("activite", "activites") if k in parts), None)
    if not isinstance(ident, dict) or not isinstance(activity, list):
        raise FileRejected(
            "unrecognised_header",
            'expected {"identification": {...}, "activite": [{...}, ...]}',
        )
    identification: dict[str, str] = {}
    personal: list[str] = []
    for key, value in ident.items():
        name = contract.KIND.index.get(header_key(str(key)))
        if name in contract.IDENTIFICATION:
            identification.setdefault(name, _json_cell(value))
        elif contract.is_personal_label(str(key)):
            personal.append(str(key))
    keys: dict[str, None] = {}
    for item in activity:
        if not isinstance(item, dict):
            raise FileRejected("unrecognised_header", "each activite entry must be an object")
        keys.update(dict.fromkeys(str(k) for k in item))
    header = list(keys)
    values_ = [identification.get(name, "") for name in contract.IDENTIFICATION]
    rows = [[*values_, *(_json_cell(item.get(k)) for k in header)] for item in activity]
    if activity and not _is_activity_header(header):
        raise FileRejected(
            "unrecognised_header",
            "activite entries lack " + ", ".join(sorted(_ACTIVITE_REQUIRED)),
        )
    return _Report(
        [*contract.IDENTIFICATION, *header],
        rows,
        list(range(1, len(rows) + 1)),
        identification,
        personal,
    )


def _from_csv(text: str) -> _Report:
    table = read_csv_text(text, contract.KIND.matches)
    positions = {name: p for p, name in map_header(table.header, contract.KIND.index).items()}
    identification: dict[str, str] = {}
    for name in contract.IDENTIFICATION:
        p = positions[name]
        seen = {_unwrap(row[p]) for row in table.rows if p < len(row) and row[p].strip()}
        if len(seen) > 1:
            label = table.header[p]
            raise FileRejected(
                "inconsistent_identification",
                f"column {label!r} holds {len(seen)} different values: a report is one "
                "structure and one période",
            )
        identification[name] = seen.pop() if seen else ""
    return _Report(
        table.header, table.rows, table.row_numbers, identification, delimiter=table.delimiter
    )


def _unwrap(cell: str) -> str:
    cell = cell.strip()
    return cell[2:-1] if cell.startswith('="') and cell.endswith('"') else cell


def _checked(report: _Report) -> RawTable:
    """The whole-report rules of the contract, in the order a sender should fix them."""
    mapped = map_header(report.header, contract.KIND.index)
    personal = report.personal + [
        label
        for p, label in enumerate(report.header)
        if p not in mapped and contract.is_personal_label(label)
    ]
    if personal:
        raise FileRejected(
            "personal_data",
            f"column(s) about individuals: {', '.join(personal)} (docs/contracts/associations.md: "
            "reports carry counts only)",
        )
    ident = report.identification
    missing = [
        contract.IDENTIFICATION_LABELS[n]
        for n in contract.IDENTIFICATION
        if not ident.get(n, "").strip()
    ]
    if missing:
        raise FileRejected("missing_identification", "no value for " + ", ".join(missing))
    if not contract.siret_ok(ident["siret"]):
        raise FileRejected(
            "invalid_siret",
            f"SIRET {ident['siret']!r} is not 14 digits with a valid check digit",
        )
    periode = contract.normalise_periode(ident["periode"])
    if periode is None:
        raise FileRejected(
            "invalid_periode",
            f"période {ident['periode']!r} is not {_periode_examples(ident['periode'])}",
        )
    column = next(p for p, name in mapped.items() if name == "periode")
    for row in report.rows:
        while len(row) <= column:
            row.append("")
        row[column] = periode
    return RawTable(
        report.header,
        report.rows,
        report.numbers,
        sheet=report.sheet,
        encoding=report.encoding,
        delimiter=report.delimiter,
    )


def _periode_examples(written: str) -> str:
    """The accepted forms, in the year the sender wrote (``AAAA`` when none is legible)."""
    found = re.search(r"(?<!\d)(?:19|20)\d{2}(?!\d)", written)
    year = found.group(0) if found else "AAAA"
    return f"{year}, {year}-S1, {year}-S2 or '1er semestre {year}'"


def ingest_reports(
    warehouse: Warehouse,
    landing_url: str,
    ctx: Context,
    run_id: str | None = None,
    timings: Timings | None = None,
) -> list[batches.FileReport]:
    """Every report waiting under ``<landing>/associations/``, oldest first, in batches.

    :func:`vigie.ingest.batches.ingest_landed` with this source's reader: the same batches, one
    transaction per batch with per-file fallback, moves after commit and supersession.
    """
    timings = timings or Timings()
    ensure_schema(warehouse)
    return batches.ingest_landed(
        warehouse,
        landing_url,
        (contract.KIND,),
        ctx,
        run_id,
        reader=lambda data: (read_report(data, timings), contract.KIND),
        timings=timings,
    )


def run(run_id: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """The DAG's task: load every waiting report; counts by status, rows, rejects by reason,
    and each file's report (``files``)."""
    from vigie.reference.geography import load_reference

    settings = settings or get_settings()
    ctx = Context(load_reference(settings.reference_dir), settings.qpv_2024_from_year)
    reports = ingest_reports(Warehouse(settings), settings.landing_url, ctx, run_id)
    quarantined = Counter(
        (r.reason or "").partition(":")[0] for r in reports if r.status == "quarantined"
    )
    return {
        "statuses": dict(Counter(r.status for r in reports)),
        "rows_loaded": sum(r.rows_loaded for r in reports),
        "rows_rejected": sum(r.rows_rejected for r in reports),
        "quarantined_by_reason": dict(quarantined),
        "files": [r.as_dict() for r in reports],
    }
