"""Contract-driven validation: typed columns, row verdicts, file verdicts.

A source module declares its kinds as :class:`Kind` data; this module turns a
:class:`~vigie.parsing.text.RawTable` into canonical typed rows plus a rejects table naming
row, column, value and reason. Cross-column rules stay in the source module (``Kind.rules``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from vigie.parsing import values as v
from vigie.parsing.headers import header_key, map_header, synonym_index
from vigie.parsing.text import RawTable

MAX_INVALID_SHARE = 0.20

# Header keys that reveal data about an identifiable person (contracts/README.md).
PERSONAL_DATA_KEYS = frozenset(
    header_key(name)
    for name in (
        "nom", "prenom", "prénom", "nom_prenom", "date_naissance", "date de naissance",
        "ddn", "telephone", "téléphone", "tel", "portable", "email", "e-mail", "mail",
        "courriel", "adresse", "adresse_postale", "numero_securite_sociale", "nir",
        "num_secu", "securite sociale",
    )
)  # fmt: skip


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


Rule = Callable[[pd.DataFrame, "Context"], list[tuple[pd.Series, str, str]]]


@dataclass(frozen=True)
class Kind:
    """A file kind of a source (``fipd``, ``contrats``...): columns and cross-column rules."""

    source: str
    name: str
    columns: tuple[Column, ...]
    rules: tuple[Rule, ...] = ()
    period_columns: tuple[str, ...] = ()  # the (sender, period) key that supersession uses

    @property
    def index(self) -> dict[str, str]:
        return synonym_index({c.name: c.synonyms for c in self.columns})

    def matches(self, header: list[str]) -> bool:
        mapped = set(map_header(header, self.index).values())
        return all(c.name in mapped for c in self.columns if c.required)


@dataclass
class Context:
    """What row rules may consult: the reference data and settings.

    The code sets are built once per batch: membership of a few dozen codes in a Python set
    is far cheaper than pandas' ``isin`` against 35,000 communes for every file.
    """

    reference: object
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

    @property
    def rows_rejected(self) -> int:
        return int(self.rejects["source_row"].nunique()) if len(self.rejects) else 0


REJECT_COLUMNS = ["source_row", "column_name", "value", "reason"]


def recognise(kinds: tuple[Kind, ...], header: list[str]) -> Kind | None:
    """The kind whose required columns the header holds (the first, in declaration order)."""
    return next((k for k in kinds if k.matches(header)), None)


def to_frame(table: RawTable, kind: Kind) -> pd.DataFrame:
    """Canonical columns (strings) of the recognised header; unknown columns dropped."""
    mapped = map_header(table.header, kind.index)
    width = max(len(table.header), *(len(r) for r in table.rows)) if table.rows else 0
    padded = [r + [""] * (width - len(r)) for r in table.rows]
    frame = pd.DataFrame(padded, dtype="string") if padded else pd.DataFrame()
    out = pd.DataFrame(index=range(len(table.rows)))
    for column in kind.columns:
        position = next((p for p, name in mapped.items() if name == column.name), None)
        if position is None or position >= frame.shape[1]:
            out[column.name] = pd.Series(pd.NA, index=out.index, dtype="string")
        else:
            out[column.name] = v.unwrap_excel(frame[position])
    out["source_row"] = pd.Series(table.row_numbers, dtype="int64")
    return out


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
        typed = raw.str.replace(r"[\s\u00a0\u202f]+", "", regex=True).replace("", pd.NA)
        well_formed = typed.str.fullmatch(rf"\d{{{width}}}").fillna(False)
        ok = v.blank(raw) | (well_formed & v.luhn_ok(typed.fillna("")))
    elif column.type in {"departement", "commune", "qpv_list", "zsp"}:
        typed, ok, reason = _parse_territory(raw, column.type, ctx)
    else:  # pragma: no cover - a programming error in a contract declaration
        raise ValueError(f"unknown column type {column.type!r}")
    return typed, reason.astype("string").where(~ok.astype(bool), pd.NA)


def _parse_territory(
    raw: pd.Series, kind: str, ctx: Context
) -> tuple[pd.Series, pd.Series, pd.Series]:
    from vigie.reference import normalise_commune, normalise_departement

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
    codes = raw.str.upper().str.split(r"[|,;\s]+", regex=True)
    exploded = codes.explode().dropna()
    exploded = exploded[exploded != ""]
    pattern_ok = exploded.str.fullmatch(
        r"QP(?:\d{3}|0[12][AB])\d{3}|QN(?:\d{3}|0[12][AB])\d{2}[A-Z]"
    )
    known = ctx.known(exploded, "qpv")
    bad_syntax = (~pattern_ok).groupby(level=0).any().reindex(raw.index, fill_value=False)
    unknown = (~known).groupby(level=0).any().reindex(raw.index, fill_value=False)
    joined = exploded.groupby(level=0).agg(lambda s: "|".join(dict.fromkeys(s)))
    typed = joined.reindex(raw.index).astype("string")
    reason = pd.Series("unknown_qpv", index=raw.index).where(~bad_syntax, "invalid_qpv_code")
    return typed, ~(bad_syntax | unknown), reason


def validate(table: RawTable, kind: Kind, ctx: Context) -> Verdict:
    """Type every column, apply the kind's rules, split valid rows from rejects."""
    personal = personal_columns(table, kind)
    if personal:
        return Verdict(
            kind,
            pd.DataFrame(),
            pd.DataFrame(columns=REJECT_COLUMNS),
            len(table.rows),
            "personal_data",
            f"column(s) about individuals: {', '.join(personal)}",
        )
    raw = to_frame(table, kind)
    if raw.empty:
        return Verdict(kind, raw, pd.DataFrame(columns=REJECT_COLUMNS), 0, "empty", "no data rows")
    typed = pd.DataFrame({"source_row": raw["source_row"]})
    rejects: list[pd.DataFrame] = []

    def reject(mask: pd.Series, column: str, reason: str) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            rejects.append(
                pd.DataFrame(
                    {
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
        for reason in reasons.dropna().unique():
            reject(reasons == reason, column.name, str(reason))
        if column.required:
            reject(v.blank(raw[column.name]), column.name, "missing_required")
    for rule in kind.rules:
        for mask, column, reason in rule(typed, ctx):
            reject(mask, column, reason)
    all_rejects = (
        pd.concat(rejects, ignore_index=True).sort_values(["source_row", "column_name"])
        if rejects
        else pd.DataFrame(columns=REJECT_COLUMNS)
    )
    bad_rows = set(all_rejects["source_row"])
    valid = typed[~typed["source_row"].isin(bad_rows)].reset_index(drop=True)
    if table.sheet is not None:
        valid["source_sheet"] = table.sheet
    verdict = Verdict(kind, valid, all_rejects.reset_index(drop=True), len(typed))
    if len(bad_rows) > MAX_INVALID_SHARE * len(typed):
        verdict.quarantine_reason = "too_many_invalid_rows"
        verdict.quarantine_detail = (
            f"{len(bad_rows)} of {len(typed)} rows invalid (more than "
            f"{MAX_INVALID_SHARE:.0%}); most common reason: "
            f"{all_rejects['reason'].value_counts().idxmax()}"
        )
    return verdict


def read_and_validate(data: bytes, kinds: tuple[Kind, ...], ctx: Context) -> Verdict:
    """Bytes of one file -> its verdict; file-level faults raise :class:`FileRejected`."""
    from vigie.parsing.text import read_table

    table = read_table(data, lambda cells: recognise(kinds, cells) is not None)
    kind = recognise(kinds, table.header)
    assert kind is not None  # read_table only accepts a recognised header
    return validate(table, kind, ctx)
