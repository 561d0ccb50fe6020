"""French-tolerant value parsers, vectorised over pandas Series of strings.

Each parser returns ``(values, ok)``: the typed values (``<NA>`` where missing or invalid)
and a boolean mask that is False only where a non-empty input could not be read, so callers
can tell "absent" from "invalid" and name the reason in the rejects table.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

# Patterns are written for pyarrow's RE2, which runs them over the whole column at once: pandas
# falls back to Python's ``re`` cell by cell (far slower) for ``\s``, for ``\d`` on
# non-ASCII text (amounts carry "€" and U+00A0), for ``\u`` escapes and for compiled patterns
# with flags. Hence ``[0-9]``, and white space spelt out, as literal characters.
_SP = "[ \u00a0\u202f]"  # the thousands separators French senders use
WHITE_SPACE = "[ \t\r\n\f\v\u00a0\u2007\u2009\u202f]"  # what \s would match in an amount
_CURRENCY = f"(?i)^(?:€|eur){WHITE_SPACE}*|{WHITE_SPACE}*(?:€|eur)$"
_MONEY_PATTERNS = {
    # pattern -> thousands separator to drop
    r"[0-9]+": None,
    r"[0-9]+[.,][0-9]+": None,
    rf"[0-9]{{1,3}}(?:{_SP}[0-9]{{3}})+(?:[.,][0-9]+)?": _SP,
    r"[0-9]{1,3}(?:\.[0-9]{3})+,[0-9]+": r"\.",
    r"[0-9]{1,3}(?:,[0-9]{3})+\.[0-9]+": ",",
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
    body = text.str.replace(f"^[-+]{WHITE_SPACE}*", "", regex=True)
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
    is_number = body.str.fullmatch(r"[0-9]+(?:\.[0-9]+)?").fillna(False)
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
    french = text.str.fullmatch(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}").fillna(False)
    iso = text.str.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T00:00:00)?").fillna(False)
    serial = text.str.fullmatch(r"[0-9]{5}(?:\.0)?").fillna(False)
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
    is_int = text.str.fullmatch(r"[0-9]+").fillna(False)
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
    text = values.astype("string").str.strip()
    # Few cells are wrapped: test the cheap prefix first, rewrite only those.
    wrapped = (text.str.startswith('="') & text.str.endswith('"')).fillna(False)
    if not wrapped.any():
        return text
    return text.mask(wrapped, text[wrapped].str.slice(2, -1))


def luhn_ok(values: pd.Series) -> pd.Series:
    """SIRET/SIREN Luhn check over a Series of digit strings (white space ignored).

    The digits go to one numpy matrix per length, one vectorised pass for every SIRET of a
    batch; pandas' per-position string slicing made this check a large share of the
    prefecture validation.
    """
    digits = values.astype("string").str.replace(f"{WHITE_SPACE}+", "", regex=True)
    well_formed = digits.str.fullmatch("[0-9]+").fillna(False).to_numpy(dtype=bool)
    ok = np.zeros(len(values), dtype=bool)
    if well_formed.any():
        text = digits.to_numpy(dtype=object)[well_formed]
        lengths = np.fromiter(map(len, text), dtype=np.int64, count=len(text))
        positions = np.flatnonzero(well_formed)
        for width in np.unique(lengths):
            same = lengths == width
            ascii_ = np.frombuffer("".join(text[same]).encode("ascii"), dtype=np.uint8)
            matrix = ascii_.reshape(-1, int(width))[:, ::-1].astype(np.int64) - 48
            doubled = matrix[:, 1::2] * 2
            matrix[:, 1::2] = doubled - 9 * (doubled > 9)
            ok[positions[same]] = matrix.sum(axis=1) % 10 == 0
    return pd.Series(ok, index=values.index)
