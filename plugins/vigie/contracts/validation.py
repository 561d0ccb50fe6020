"""Contract-driven validation: typed columns, row verdicts, file verdicts.

A source module declares its kinds as :class:`Kind` data; this module turns
:class:`~vigie.parsing.text.RawTable` s into canonical typed rows plus a rejects table naming
row, column, value and reason. Cross-column rules stay in the source module (``Kind.rules``).

Why batches: a prefecture file holds a few dozen rows, and pandas costs about the same per operation
on a few dozen rows as on tens of thousands. :func:`validate_batch` therefore parses every column
and applies every rule once over the rows of all the files of a kind, each row tagged with its file
(:data:`FILE_INDEX`); only what a file really needs (decoding, header, personal-data check, the > 20
% quarantine) is per file. :func:`read_and_validate` is the same path for one file.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from vigie.parsing import values as v
from vigie.parsing.headers import (
    PERCENT,
    IgnoredColumn,
    header_key,
    map_header,
    match_header,
    synonym_index,
)
from vigie.parsing.table import RawTable

if TYPE_CHECKING:
    from vigie.reference.geography import ReferenceData

MAX_INVALID_SHARE = 0.20

# Header keys that reveal data about an identifiable person (docs/contracts/README.md).
PERSONAL_DATA_KEYS = frozenset(
    header_key(name)
    for name in (
        "nom",
        "prenom",
        "prénom",
        "nom_prenom",
        "date_naissance",
        "date de naissance",
        "ddn",
        "telephone",
        "téléphone",
        "tel",
        "portable",
        "email",
        "e-mail",
        "mail",
        "courriel",
        "adresse",
        "adresse_postale",
        "numero_securite_sociale",
        "nir",
        "num_secu",
        "securite sociale",
    )
)


@dataclass(frozen=True)
class Column:
    """One canonical column: its type drives parsing, ``required`` drives header matching."""

    name: str
    type: str
    required: bool = False
    synonyms: tuple[str, ...] = ()
    labels: dict[str, str] | None = None  # for type "enum": label_key -> code
    low: int | None = None
    high: int | None = None
    default: str | None = None  # what an empty cell means, when the contract says so


# The batch-local file of each row (0, 1, ... in the order the files were given).
FILE_INDEX = "file_index"

Rule = Callable[[pd.DataFrame, "Context"], list[tuple[pd.Series, str, str]]]
"""``rule(typed, ctx) -> [(row mask, column, reason), ...]``.

``typed`` holds the typed rows of *every file of the batch* of one kind, with ``source_row``
and :data:`FILE_INDEX`. A rule about a single row needs nothing more; a rule about "the file"
(its département, a duplicate within it) must group by :data:`FILE_INDEX`, for instance with
:func:`per_file_mode` and :func:`duplicated_within_file`.
"""


def per_file_mode(typed: pd.DataFrame, column: str) -> pd.Series:
    """Per row, the most frequent non-missing value of ``column`` in the row's file.

    Ties go to the smallest value; ``<NA>`` for the rows of a file with no value at all.
    """
    present = typed[[FILE_INDEX, column]].dropna()
    if present.empty:
        return pd.Series(pd.NA, index=typed.index, dtype="object")
    counts = present.groupby([FILE_INDEX, column], sort=True).size().rename("n").reset_index()
    counts = counts.sort_values([FILE_INDEX, "n"], ascending=[True, False], kind="stable")
    main = counts.drop_duplicates(FILE_INDEX).set_index(FILE_INDEX)[column]
    return typed[FILE_INDEX].map(main)


def duplicated_within_file(typed: pd.DataFrame, column: str) -> pd.Series:
    """True where ``column`` is given and another row of the same file has the same value."""
    return typed[column].notna() & typed.duplicated([FILE_INDEX, column], keep=False)


@dataclass(frozen=True)
class UniqueWithinFile:
    """No two rows of one file give the same ``column`` (both rows are invalid)."""

    column: str
    reason: str

    def mask(self, typed: pd.DataFrame) -> pd.Series:
        return duplicated_within_file(typed, self.column)


@dataclass(frozen=True)
class NotAbove:
    """``column`` <= ``other`` when both are given (else the row is invalid on ``column``)."""

    column: str
    other: str
    reason: str

    def mask(self, typed: pd.DataFrame) -> pd.Series:
        return (typed[self.column] > typed[self.other]).fillna(False).astype(bool)


@dataclass(frozen=True)
class RequiredWhen:
    """``column`` must be given on the rows where ``when`` equals ``equals``."""

    column: str
    when: str
    equals: str
    reason: str = "missing_required"

    def mask(self, typed: pd.DataFrame) -> pd.Series:
        applies = (typed[self.when] == self.equals).fillna(False).astype(bool)
        return applies & typed[self.column].isna()


Check = UniqueWithinFile | NotAbove | RequiredWhen
"""A cross-column rule declared as data, so that the row verdicts (:meth:`mask`) and the Great
Expectations suite (:mod:`vigie.ingest.expectations`) are built from the same declaration."""


@dataclass(frozen=True)
class Kind:
    """A file kind of a source (``fipd``, ``contrats``...): columns and cross-column rules.

    ``checks`` are the cross-column rules that can be declared as data (and so also become
    Great Expectations); ``rules`` are the ones that need the reference or a per-file vote.
    """

    source: str
    name: str
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...] = ()
    period_columns: tuple[str, ...] = ()  # the (sender, period) key that supersession uses
    checks: tuple[Check, ...] = ()

    @cached_property
    def index(self) -> dict[str, str]:
        """Header key -> canonical column (computed once: every file's header consults it).

        A percentage column also answers to each of its names with the percent sign
        (``part_qpv``: "Part QPV (%)", "% part QPV"): a title with ``%`` matches nothing else.
        """
        return synonym_index({c.name: _names(c) for c in self.columns})

    def matches(self, header: list[str]) -> bool:
        mapped = set(map_header(header, self.index).values())
        return all(c.name in mapped for c in self.columns if c.required)


def _names(column: Column) -> tuple[str, ...]:
    """A column's synonyms, plus the percent-sign form of every name of a percentage column."""
    if column.type != "percentage":
        return column.synonyms
    names = (column.name, *column.synonyms)
    return (*column.synonyms, *(f"{PERCENT} {n}" for n in names if PERCENT not in n))


@dataclass
class Context:
    """What row rules may consult: the reference data and settings.

    The code sets are built once per batch: membership of a few dozen codes in a Python set
    is far cheaper than pandas' ``isin`` against 35,000 communes for every file.
    """

    reference: ReferenceData
    qpv_2024_from_year: int = 2024
    codes: dict[str, frozenset[str]] = field(init=False)

    def __post_init__(self) -> None:
        ref = self.reference
        self.codes = {
            "departement": frozenset(ref.departements["code_departement"]),
            "commune": frozenset(ref.communes["code_commune"]),
            "qpv": frozenset(ref.qpv["code_qpv"]),
            "zsp": frozenset(ref.zsp["code_zsp"]),
        }

    def known(self, values: pd.Series, kind: str) -> pd.Series:
        """True where the value is a code of the reference list ``kind``."""
        codes = self.codes[kind]
        return pd.Series([v in codes for v in values.tolist()], index=values.index, dtype=bool)


@dataclass
class Verdict:
    """What validation decided for one file."""

    kind: Kind
    rows: pd.DataFrame  # valid canonical rows, with source_row (and source_sheet)
    rejects: pd.DataFrame  # source_row, column_name, value, reason
    rows_read: int
    quarantine_reason: str | None = None
    quarantine_detail: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # Header cells not loaded (unknown, ambiguous, duplicate titles): named in the load report.
    ignored_columns: list[IgnoredColumn] = field(default_factory=list)
    # A quarantined file's sender as its rows name it (None for a file that loads: its sender
    # comes from its valid rows, see vigie.ingest.batches).
    sender: str | None = None

    @property
    def rows_rejected(self) -> int:
        return int(self.rejects["source_row"].nunique()) if len(self.rejects) else 0


REJECT_COLUMNS = ["source_row", "column_name", "value", "reason"]


def recognise(kinds: tuple[Kind, ...], header: list[str]) -> Kind | None:
    """The kind whose required columns the header holds (the first, in declaration order)."""
    return next((k for k in kinds if k.matches(header)), None)


def _no_rejects() -> pd.DataFrame:
    return pd.DataFrame(columns=REJECT_COLUMNS)


def read_file(data: bytes, kinds: tuple[Kind, ...]) -> tuple[RawTable, Kind]:
    """Bytes of one file -> its table and kind; file-level faults raise :class:`FileRejected`.

    Decoding, dialect and header detection are per file by nature: this is the cheap per-file
    part of validation (no pandas).
    """
    from vigie.parsing.text import read_table

    table = read_table(data, lambda cells: recognise(kinds, cells) is not None)
    kind = recognise(kinds, table.header)
    assert kind is not None  # read_table only accepts a recognised header
    return table, kind


@dataclass
class KindBatch:
    """Every row of a batch's files of one kind, before the invalid ones are dropped.

    ``canonical`` holds each column in its canonical type (one row per data row of the files,
    with ``source_row`` and :data:`FILE_INDEX`, the position in ``files``). A cell that could
    not be read as a number or a date is null there; a label or a code that is not a valid
    one is kept as the sender wrote it (stripped), so that a value-set or pattern check sees
    it. ``rejects`` are the row verdicts of those same rows (:data:`FILE_INDEX`,
    ``source_row``, ``column_name``, ``value``, ``reason``). This is what the Great
    Expectations suite validates, once per batch (:mod:`vigie.ingest.expectations`).
    """

    kind: Kind
    canonical: pd.DataFrame
    rejects: pd.DataFrame
    files: list[int]  # positions, in the tables given to check_batch, of FILE_INDEX 0, 1...


@dataclass
class BatchCheck:
    """What :func:`check_batch` found: a verdict per file, and per kind the batch's rows."""

    verdicts: list[Verdict]
    kinds: list[KindBatch]


def validate_batch(tables: Sequence[tuple[RawTable, Kind]], ctx: Context) -> list[Verdict]:
    """One verdict per ``(table, kind)``; see :func:`check_batch`."""
    return check_batch(tables, ctx).verdicts


def check_batch(tables: Sequence[tuple[RawTable, Kind]], ctx: Context) -> BatchCheck:
    """One verdict per ``(table, kind)``, with the pandas work done once per kind.

    Per file: the personal-data check and picking the canonical columns out of the rows
    (plain Python lists). Per kind, once: one frame of every file's rows (plus
    :data:`FILE_INDEX`), every column parser and reference check, the kind's rules (which
    group by :data:`FILE_INDEX` where the contract says "within the file"). Per file again:
    valid rows and rejects split by file, and the > 20 % quarantine decided per file.
    """
    verdicts: list[Verdict | None] = [None] * len(tables)
    groups: dict[int, tuple[Kind, list[int]]] = {}
    ignored = [ignored_columns(table, kind) for table, kind in tables]
    for position, (table, kind) in enumerate(tables):
        personal = personal_columns(table, kind)
        if personal:
            verdicts[position] = Verdict(
                kind,
                pd.DataFrame(),
                _no_rejects(),
                len(table.rows),
                "personal_data",
                f"column(s) about individuals: {', '.join(personal)}",
            )
        elif not table.rows:
            verdicts[position] = Verdict(
                kind, pd.DataFrame(), _no_rejects(), 0, "empty", "no data rows"
            )
        else:
            groups.setdefault(id(kind), (kind, []))[1].append(position)
    batches = []
    for kind, members in groups.values():
        found, batch = _validate_kind(kind, [tables[p][0] for p in members], ctx)
        batch.files = members
        batches.append(batch)
        for position, verdict in zip(members, found, strict=True):
            verdicts[position] = verdict
    for found_verdict, columns, (table, kind) in zip(verdicts, ignored, tables, strict=True):
        if found_verdict is not None:
            found_verdict.ignored_columns = columns
            if found_verdict.quarantine_reason:
                found_verdict.sender = declared_sender(table, kind, ctx)
    return BatchCheck([v for v in verdicts if v is not None], batches)


def _string_series(cells: list[str | None]) -> pd.Series:
    """Strings (or None) -> a pandas string Series, through pyarrow (twice as fast)."""
    return pd.Series(pd.arrays.ArrowStringArray(pa.array(cells, type=pa.large_string())))


def _string_columns(tables: Sequence[RawTable], kind: Kind) -> pd.DataFrame:
    """Canonical columns (strings) of every table, one after the other, with lineage.

    A column the header does not carry is ``<NA>``; a row shorter than the header reads ``""``
    (as the padding of a short CSV line would).
    """
    values: dict[str, list[str | None]] = {c.name: [] for c in kind.columns}
    source_rows: list[int] = []
    files: list[int] = []
    for file_index, table in enumerate(tables):
        position_of = {name: p for p, name in map_header(table.header, kind.index).items()}
        rows = table.rows
        # Rows padded to the header, then transposed by zip in C: a Python loop per cell was
        # a fifth of the validation's time on 470,000 rows.
        width = len(table.header)
        padded = [row if len(row) >= width else row + [""] * (width - len(row)) for row in rows]
        by_position = list(zip(*padded, strict=False)) if padded else []
        for column in kind.columns:
            p = position_of.get(column.name)
            target = values[column.name]
            if p is None:
                target.extend([None] * len(rows))
            elif by_position:
                target.extend(by_position[p])
        source_rows.extend(table.row_numbers)
        files.extend([file_index] * len(rows))
    frame = pd.DataFrame(
        {name: v.unwrap_excel(_string_series(cells)) for name, cells in values.items()}
    )
    frame["source_row"] = pd.Series(source_rows, dtype="int64")
    frame[FILE_INDEX] = pd.Series(files, dtype="int64")
    return frame


def to_frame(table: RawTable, kind: Kind) -> pd.DataFrame:
    """Canonical columns (strings) of the recognised header; unknown columns dropped."""
    return _string_columns([table], kind).drop(columns=FILE_INDEX)


def declared_sender(table: RawTable, kind: Kind, ctx: Context) -> str | None:
    """The sender the file's rows name: the most frequent valid value of the kind's sender
    column (ties: the smallest), None when no row names one.

    For a quarantined file, whose rows do not load: its audit record still says whose it is.
    """
    if not kind.period_columns or not table.rows:
        return None
    name = kind.period_columns[0]
    positions = [p for p, mapped in map_header(table.header, kind.index).items() if mapped == name]
    if not positions:
        return None
    column = next(c for c in kind.columns if c.name == name)
    p = positions[0]
    cells = _string_series([row[p] if p < len(row) else "" for row in table.rows])
    typed, reasons = _parse_column(cells, column, ctx)
    named = typed[reasons.isna() & typed.notna()].astype(str).tolist()
    if not named:
        return None
    counts = Counter(named)
    top = max(counts.values())
    return min(value for value, n in counts.items() if n == top)


def ignored_columns(table: RawTable, kind: Kind) -> list[IgnoredColumn]:
    """The header cells that do not load: unknown, ambiguous or duplicate titles.

    A cell with no title is listed only when some row has a value under it (an empty column
    at the right of a spreadsheet is nothing lost).
    """
    found = []
    for column in match_header(table.header, kind.index).ignored:
        p = column.position
        if column.label.strip() or any(p < len(row) and row[p].strip() for row in table.rows):
            found.append(column)
    return found


def personal_columns(table: RawTable, kind: Kind) -> list[str]:
    """Header cells that are not the kind's columns and name personal data."""
    mapped = map_header(table.header, kind.index)
    return [
        label
        for position, label in enumerate(table.header)
        if position not in mapped and header_key(label) in PERSONAL_DATA_KEYS
    ]


def _parse_column(raw: pd.Series, column: Column, ctx: Context) -> tuple[pd.Series, pd.Series]:
    """(typed values, reason per row or <NA>) for one column."""
    reason = pd.Series(f"invalid_{column.type}", index=raw.index, dtype="string")
    if column.type == "text":
        typed = raw.str.strip().replace("", pd.NA)
        ok = pd.Series(True, index=raw.index)
    elif column.type == "money":
        typed, ok, negative = v.parse_money(raw)
        reason = reason.mask(negative, "negative_amount")
    elif column.type == "percentage":
        typed, ok = v.parse_percentage(raw)
    elif column.type == "date":
        typed, ok = v.parse_date(raw)
    elif column.type == "integer":
        typed, ok = v.parse_integer(raw, column.low or 0, column.high or 10**9)
    elif column.type == "enum":
        typed, ok = v.parse_enum(raw, column.labels or {})
    elif column.type in {"siret", "siren"}:
        width = 14 if column.type == "siret" else 9
        typed = raw.str.replace(f"{v.WHITE_SPACE}+", "", regex=True).replace("", pd.NA)
        well_formed = typed.str.fullmatch(f"[0-9]{{{width}}}").fillna(False)
        ok = v.blank(raw) | (well_formed & v.luhn_ok(typed.fillna("")))
    elif column.type in {"departement", "commune", "qpv_list", "zsp"}:
        typed, ok, reason = _parse_territory(raw, column.type, ctx)
    else:  # pragma: no cover - a programming error in a contract declaration
        raise ValueError(f"unknown column type {column.type!r}")
    return typed, reason.astype("string").where(~ok.astype(bool), pd.NA)


_QPV_SEPARATORS = f"[|,;{v.WHITE_SPACE[1:-1]}]+"  # spelt out, not \s: see values.py
_QPV_SPLIT = re.compile(_QPV_SEPARATORS)


def _parse_territory(
    raw: pd.Series, kind: str, ctx: Context
) -> tuple[pd.Series, pd.Series, pd.Series]:
    from vigie.reference.geography import normalise_commune, normalise_departement

    empty = v.blank(raw)
    if kind == "departement":
        typed = normalise_departement(raw)
        known = ctx.known(typed, "departement")
        reason = pd.Series("unknown_departement", index=raw.index).where(
            typed.notna(), "invalid_departement"
        )
        return typed, empty | known, reason
    if kind == "commune":
        typed = normalise_commune(raw)
        known = ctx.known(typed, "commune")
        reason = pd.Series("unknown_commune", index=raw.index).where(
            typed.notna(), "invalid_commune"
        )
        return typed, empty | known, reason
    if kind == "zsp":
        typed = raw.str.strip().str.upper().replace("", pd.NA)
        known = ctx.known(typed, "zsp")
        return typed, empty | known, pd.Series("unknown_zsp", index=raw.index)
    # qpv_list: syntax and existence here; département/geography fit is a row rule.
    # Most cells hold one code: they are their own canonical list and need no split (pandas
    # splits on a pattern cell by cell, in Python).
    upper = raw.str.upper()
    single = upper.str.fullmatch("[A-Z0-9]+").fillna(False)
    several = raw[~empty & ~single]
    split = upper[several.index].str.split(_QPV_SEPARATORS, regex=True).explode()
    exploded = pd.concat([upper[single], split]).dropna()
    exploded = exploded[exploded != ""]
    pattern_ok = exploded.str.fullmatch(
        r"QP(?:[0-9]{3}|0[12][AB])[0-9]{3}|QN(?:[0-9]{3}|0[12][AB])[0-9]{2}[A-Z]"
    )
    known = ctx.known(exploded, "qpv")
    bad_syntax = (~pattern_ok).groupby(level=0).any().reindex(raw.index, fill_value=False)
    unknown = (~known).groupby(level=0).any().reindex(raw.index, fill_value=False)
    # The canonical list: codes once each, in the sender's order, '|'-joined. A comprehension
    # over the cells holding several: pandas has no vectorised "join a group", and
    # groupby().agg with a Python function costs far more per group than this costs per row.
    joined = [
        "|".join(dict.fromkeys(code for code in _QPV_SPLIT.split(text.upper()) if code)) or None
        for text in several.tolist()
    ]
    typed = upper.where(single).astype("string")
    if joined:
        typed[several.index] = pd.array(joined, dtype="string")
    reason = pd.Series("unknown_qpv", index=raw.index).where(~bad_syntax, "invalid_qpv_code")
    return typed, ~(bad_syntax | unknown), reason


# Column types whose invalid cells the canonical frame keeps as written (see KindBatch).
_KEPT_AS_WRITTEN = {"enum": False, "departement": True, "commune": True}  # type -> upper-case


def _validate_kind(
    kind: Kind, tables: Sequence[RawTable], ctx: Context
) -> tuple[list[Verdict], KindBatch]:
    """Verdicts of several non-empty tables of one kind, validated as one frame."""
    raw = _string_columns(tables, kind)
    files = raw[FILE_INDEX]
    typed = pd.DataFrame({"source_row": raw["source_row"], FILE_INDEX: files})
    canonical: dict[str, pd.Series] = {}
    rejects: list[pd.DataFrame] = []

    def reject(mask: pd.Series, column: str, reason: str) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            rejects.append(
                pd.DataFrame(
                    {
                        FILE_INDEX: files[mask],
                        "source_row": raw.loc[mask, "source_row"],
                        "column_name": column,
                        "value": raw.loc[mask, column] if column in raw else pd.NA,
                        "reason": reason,
                    }
                )
            )

    for column in kind.columns:
        if column.default is not None:
            raw[column.name] = raw[column.name].mask(v.blank(raw[column.name]), column.default)
        values, reasons = _parse_column(raw[column.name], column, ctx)
        typed[column.name] = values
        canonical[column.name] = _canonical_values(raw[column.name], values, reasons, column)
        for reason in reasons.dropna().unique():
            reject(reasons == reason, column.name, str(reason))
        if column.required:
            reject(v.blank(raw[column.name]), column.name, "missing_required")
    for check in kind.checks:
        reject(check.mask(typed), check.column, check.reason)
    for rule in kind.rules:
        for mask, rule_column, reason in rule(typed, ctx):
            reject(mask, rule_column, reason)

    # The frame's index is the row's position in the batch: a rejected position is a bad row.
    all_rejects = (
        pd.concat(rejects) if rejects else pd.DataFrame(columns=[FILE_INDEX, *REJECT_COLUMNS])
    )
    bad = np.zeros(len(typed), dtype=bool)
    bad[all_rejects.index.to_numpy(dtype="int64")] = True
    file_array = files.to_numpy()
    bad_per_file = np.bincount(file_array[bad], minlength=len(tables))
    valid = typed[~bad]
    valid_bounds = np.searchsorted(valid[FILE_INDEX].to_numpy(), np.arange(len(tables) + 1))
    valid = valid.drop(columns=FILE_INDEX)
    all_rejects = all_rejects.sort_values(
        [FILE_INDEX, "source_row", "column_name"], kind="stable"
    ).reset_index(drop=True)
    reject_bounds = np.searchsorted(
        all_rejects[FILE_INDEX].to_numpy(dtype="int64"), np.arange(len(tables) + 1)
    )
    row_bounds = np.searchsorted(file_array, np.arange(len(tables) + 1))

    verdicts = []
    for file_index, table in enumerate(tables):
        rows = valid.iloc[valid_bounds[file_index] : valid_bounds[file_index + 1]]
        rows = rows.reset_index(drop=True)
        if table.sheet is not None:
            rows["source_sheet"] = table.sheet
        found = all_rejects.iloc[reject_bounds[file_index] : reject_bounds[file_index + 1]]
        found = found[REJECT_COLUMNS].reset_index(drop=True) if len(found) else _no_rejects()
        read = int(row_bounds[file_index + 1] - row_bounds[file_index])
        verdict = Verdict(kind, rows, found, read)
        invalid = int(bad_per_file[file_index])
        if invalid > MAX_INVALID_SHARE * read:
            verdict.quarantine_reason = "too_many_invalid_rows"
            verdict.quarantine_detail = (
                f"{invalid} of {read} rows invalid (more than "
                f"{MAX_INVALID_SHARE:.0%}); most common reason: "
                f"{found['reason'].value_counts().idxmax()}"
            )
        verdicts.append(verdict)
    frame = pd.DataFrame({"source_row": raw["source_row"], FILE_INDEX: files, **canonical})
    return verdicts, KindBatch(kind, frame, all_rejects, [])


def _canonical_values(
    raw: pd.Series, typed: pd.Series, reasons: pd.Series, column: Column
) -> pd.Series:
    """The column as the suite sees it: typed, invalid labels and codes kept as written.

    Elsewhere a value that parsed but broke a rule (a negative amount) is kept, and a value
    that did not parse (or a SIRET failing its checksum) is null.
    """
    if column.type in _KEPT_AS_WRITTEN:
        written = raw.str.strip()
        if _KEPT_AS_WRITTEN[column.type]:
            written = written.str.upper()
        return typed.astype("string").mask(typed.isna() & ~v.blank(raw), written)
    if column.type in {"siret", "siren"}:
        return typed.where(reasons.isna())
    return typed


def validate(table: RawTable, kind: Kind, ctx: Context) -> Verdict:
    """Type every column, apply the kind's rules, split valid rows from rejects."""
    return validate_batch([(table, kind)], ctx)[0]


def read_and_validate(data: bytes, kinds: tuple[Kind, ...], ctx: Context) -> Verdict:
    """Bytes of one file -> its verdict; file-level faults raise :class:`FileRejected`.

    The one-file entry point (``vigie check``): the batch path with a batch of one.
    """
    return validate(*read_file(data, kinds), ctx)
