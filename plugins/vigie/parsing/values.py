"""French-tolerant value parsers, vectorised over pandas Series of strings.

Each parser returns ``(values, ok)``: the typed values (``<NA>`` where missing or invalid)
and a boolean mask that is False only where a non-empty input could not be read, so callers
can tell "absent" from "invalid" and name the reason in the rejects table.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

_SP = "[ \u00a0\u202f]"
_CURRENCY = re.compile(r"^(?:€|eur)\s*|\s*(?:€|eur)$", re.IGNORECASE)
_MONEY_PATTERNS = {
    # pattern -> thousands separator to drop
    r"\d+": None,
    r"\d+[.,]\d+": None,
    rf"\d{{1,3}}(?:{_SP}\d{{3}})+(?:[.,]\d+)?": _SP,
    r"\d{1,3}(?:\.\d{3})+,\d+": r"\.",
    r"\d{1,3}(?:,\d{3})+\.\d+": ",",
}


def blank(values: pd.Series) -> pd.Series:
    """True where the cell is empty or missing."""
    return values.isna() | (values.astype("string").str.strip() == "")


def parse_money(values: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """``12 500,50 €``-style amounts -> float euros; also returns the ``negative`` mask.

    Negative amounts are read (so the reason can say "negative") but are not ``ok``.
    """
    text = values.astype("string").str.strip()
    text = text.str.replace(_CURRENCY, "", regex=True).str.strip()
    negative = text.str.startswith("-").fillna(False)
    body = text.str.replace(r"^[-+]\s*", "", regex=True)
    out = pd.Series(pd.NA, index=values.index, dtype="Float64")
    for pattern, thousands in _MONEY_PATTERNS.items():
        match = body.str.fullmatch(pattern).fillna(False) & out.isna()
        if not match.any():
            continue
        cleaned = body[match]
        if thousands:
            cleaned = cleaned.str.replace(thousands, "", regex=True)
        cleaned = cleaned.str.replace(",", ".", regex=False)
        out[match] = pd.to_numeric(cleaned).astype("Float64")
    out = out.where(~negative, -out)
    empty = blank(values)
    ok = empty | (out.notna() & ~negative)
    return out.where(~empty), ok, negative & out.notna()


def parse_percentage(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``75``, ``75 %``, ``75,5%``, ``0.755``, ``0,755`` -> fraction in [0, 1].

    A value <= 1 written with a decimal mark and no ``%`` is already a fraction;
    anything else is a percentage.
    """
    text = values.astype("string").str.strip()
    has_percent = text.str.endswith("%").fillna(False)
    body = text.str.rstrip("%").str.strip().str.replace(",", ".", regex=False)
    is_number = body.str.fullmatch(r"\d+(?:\.\d+)?").fillna(False)
    number = pd.to_numeric(body.where(is_number), errors="coerce").astype("Float64")
    fraction_form = ~has_percent & body.str.contains(".", regex=False).fillna(False) & (number <= 1)
    result = number.where(fraction_form.fillna(False), number / 100)
    empty = blank(values)
    ok = empty | (result.notna() & (result >= 0) & (result <= 1)).fillna(False)
    return result.where(ok & ~empty), ok


_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def parse_date(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """``dd/mm/yyyy``, ``yyyy-mm-dd`` (XLSX date cells arrive as ISO) and Excel serials."""
    text = values.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[s]")
    french = text.str.fullmatch(r"\d{1,2}/\d{1,2}/\d{4}").fillna(False)
    iso = text.str.fullmatch(r"\d{4}-\d{2}-\d{2}(?:T00:00:00)?").fillna(False)
    serial = text.str.fullmatch(r"\d{5}(?:\.0)?").fillna(False)
    if french.any():
        out[french] = pd.to_datetime(text[french], format="%d/%m/%Y", errors="coerce")
    if iso.any():
        out[iso] = pd.to_datetime(text[iso].str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    if serial.any():
        days = pd.to_numeric(text[serial]).astype("int64")
        out[serial] = _EXCEL_EPOCH + pd.to_timedelta(days, unit="D")
    empty = blank(values)
    ok = empty | out.notna()
    return out.dt.date.where(out.notna(), None), ok


def parse_integer(values: pd.Series, low: int, high: int) -> tuple[pd.Series, pd.Series]:
    """Whole numbers within ``[low, high]`` (``2019.0`` from a spreadsheet is fine)."""
    text = values.astype("string").str.strip().str.replace(r"\.0$", "", regex=True)
    is_int = text.str.fullmatch(r"\d+").fillna(False)
    number = pd.to_numeric(text.where(is_int), errors="coerce").astype("Int64")
    in_range = ((number >= low) & (number <= high)).fillna(False)
    empty = blank(values)
    return number.where(in_range), empty | in_range


def label_key(value: str) -> str:
    """Accent-, case- and punctuation-insensitive key for enum labels (``Vidéo-protection``)."""
    text = unicodedata.normalize("NFKD", value)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return re.sub(r"[^a-z0-9]+", "", text)


def parse_enum(values: pd.Series, labels: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Map labels onto canonical codes; ``labels`` keys are already :func:`label_key`-ed."""
    text = values.astype("string").fillna("")
    # A column holds a handful of distinct labels: key each once, not once per row.
    codes = {label: labels.get(label_key(label)) for label in text.unique()}
    result = text.map(codes).astype("string")
    empty = blank(values)
    return result, empty | result.notna()


def unwrap_excel(values: pd.Series) -> pd.Series:
    """Excel's ``="01053"`` protection of leading zeros -> ``01053``."""
    return values.astype("string").str.strip().str.replace(r'^="(.*)"$', r"\1", regex=True)


def luhn_ok(values: pd.Series) -> pd.Series:
    """SIRET/SIREN Luhn check, vectorised over a Series of digit strings."""
    digits = values.astype("string").str.replace(r"\s+", "", regex=True)
    width = digits.str.len().max()
    if pd.isna(width) or width == 0:
        return pd.Series(False, index=values.index)
    padded = digits.fillna("").str.zfill(int(width))
    total = pd.Series(0, index=values.index)
    for position in range(int(width)):
        digit = pd.to_numeric(padded.str.get(int(width) - 1 - position), errors="coerce")
        digit = digit.fillna(0).astype(int)
        if position % 2 == 1:
            digit = digit * 2
            digit = digit - 9 * (digit > 9)
        total += digit
    return (total % 10 == 0) & digits.str.fullmatch(r"\d+").fillna(False)
