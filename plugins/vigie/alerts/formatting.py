"""Every number, month and quotation shown to a person, in French typography.

One module so that the e-mails (subject, text, HTML), their CSV attachment, the chart's and
the map's labels and any page show a figure the same way: thousands separated by U+202F, a
no-break space before € and a narrow one before %, decimal comma, a real minus sign (U+2212),
months in words (``octobre 2026``), « guillemets » held to their word by narrow no-break
spaces. Every rounding is half up, to the precision shown: ``50,28 %`` reads ``50,3 %``, a
fall from 3 to 2 reads ``−33,3 %``. No Airflow, no warehouse, no pandas.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

NBSP = "\u00a0"  # before € (French typography, as CLDR)
NNBSP = "\u202f"  # thousands separator, before % ; : ! ? and inside « »
MINUS = "\u2212"
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MONTHS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def _half_up(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _decimal(value: Decimal, places: int) -> str:
    return f"{_half_up(value, places):.{places}f}".replace(".", ",")


def format_eur(amount: float | None) -> str:
    """``1234567.4`` -> ``1 234 567 €`` (whole euros, half up; U+202F between thousands)."""
    if amount is None:
        return "—"
    euros = int(_half_up(Decimal(str(amount)), 0))
    sign = MINUS if euros < 0 else ""
    return sign + f"{abs(euros):,}".replace(",", NNBSP) + NBSP + "€"


def percent_value(fraction: float) -> Decimal:
    """The percentage as shown: one decimal, half up (``0.50275`` -> ``50.3``)."""
    return _half_up(Decimal(str(fraction)) * 100, 1)


def format_share(fraction: float | None) -> str:
    """``0.5028`` -> ``50,3 %``: one decimal, rounded half up like every figure shown."""
    if fraction is None:
        return "—"
    return _decimal(Decimal(str(fraction)) * 100, 1) + NNBSP + "%"


def format_change(fraction: float | None) -> str:
    """A signed change: ``-0.33333`` -> ``−33,3 %`` (U+2212), ``0.05`` -> ``+5,0 %``."""
    if fraction is None:
        return "—"
    value = _half_up(Decimal(str(fraction)) * 100, 1)
    sign = MINUS if value < 0 else ("+" if value > 0 else "")
    return sign + f"{abs(value):.1f}".replace(".", ",") + NNBSP + "%"


def format_target(fraction: float) -> str:
    """``0.75`` -> ``75 %``, ``0.675`` -> ``67,5 %``: a target is a round figure, shown as one."""
    percent = _half_up(Decimal(str(fraction)) * 100, 1)
    text = f"{percent:.1f}".removesuffix(".0")
    return text.replace(".", ",") + NNBSP + "%"


def format_count(value: float | None) -> str:
    """``1234`` -> ``1 234``; a negative count with a real minus sign."""
    if value is None:
        return "—"
    number = int(_half_up(Decimal(str(value)), 0))
    sign = MINUS if number < 0 else ""
    return sign + f"{abs(number):,}".replace(",", NNBSP)


def format_month(value: date | datetime | str | None) -> str:
    """``2026-10`` (or a date) -> ``octobre 2026``."""
    if value is None:
        return "—"
    if isinstance(value, str):
        match = re.fullmatch(r"(\d{4})-(\d{2})(?:-\d{2}.*)?", value.strip())
        if not match:
            return value
        year, month = int(match[1]), int(match[2])
    else:
        year, month = value.year, value.month
    return f"{MONTHS[month - 1]} {year}"


def format_date(value: date | datetime) -> str:
    """``2026-10-08`` -> ``8 octobre 2026`` (``1er`` for the first of a month)."""
    day = "1er" if value.day == 1 else str(value.day)
    return f"{day} {MONTHS[value.month - 1]} {value.year}"


def format_period(period: str) -> str:
    """A period as people say it: ``2026`` -> ``année 2026``, ``2026-S1`` -> ``1er semestre
    2026``, ``2026-10`` -> ``octobre 2026``; anything else as it is."""
    text = period.strip()
    if re.fullmatch(r"\d{4}", text):
        return f"année {text}"
    match = re.fullmatch(r"(\d{4})-S([12])", text)
    if match:
        return f"{'1er' if match[2] == '1' else '2e'} semestre {match[1]}"
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return format_month(text)
    return text


def quoted(text: str) -> str:
    """« text », the guillemets held to it by narrow no-break spaces."""
    return f"«{NNBSP}{text}{NNBSP}»"


def french_spacing(text: str) -> str:
    """Ordinary spaces inside « » and before ; : ! ? % become no-break (they never wrap away)."""
    text = re.sub(r"« ", "«" + NNBSP, text)
    text = re.sub(r" »", NNBSP + "»", text)
    text = re.sub(r" ([;!?%])", NNBSP + r"\1", text)
    return re.sub(r" :", NBSP + ":", text)


def plural(count: int, singular: str, plural: str) -> str:
    """French: 0 and 1 take the singular."""
    return singular if count <= 1 else plural


def csv_decimal(value: float | None, places: int, rounding: str = ROUND_HALF_UP) -> str:
    """Decimal comma and no thousands separator: what a French Excel reads as a number."""
    if value is None:
        return ""
    quantum = Decimal(1).scaleb(-places)
    return f"{Decimal(str(value)).quantize(quantum, rounding=rounding)}".replace(".", ",")


def csv_percent(fraction: float | None) -> str:
    """A share in the CSV: the same figure as the body (one decimal, half up), as a number."""
    if fraction is None:
        return ""
    return f"{percent_value(fraction):.1f}".replace(".", ",")


def csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas: a cell starting with ``= + - @``, tab or CR gets a ``'``.

    Names come from prefecture exports; a ``=HYPERLINK(...)`` in one must stay text when a
    pilot opens the attachment.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_FORMULA_START) else text


_LITERAL_TEXT = re.compile(r"[0-9A-Za-zÀ-ÿ' -]{1,40}")


def csv_text(value: str) -> str:
    """A code or period Excel must keep as typed (``01`` not ``1``, ``2026-10`` not a date).

    ``="01"`` is what a French Excel shows as ``01``: a constant, built here from a short
    alphabet of letters, digits, spaces and dashes only (never from a quote or ``(``), so no
    formula a file could smuggle in. Anything outside that alphabet goes through
    :func:`csv_safe` instead.
    """
    if not value:
        return ""
    if _LITERAL_TEXT.fullmatch(value):
        return f'="{value}"'
    return csv_safe(value)
