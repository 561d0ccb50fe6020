"""Every number shown to a person, in French typography: euros, shares, targets, counts.

One module so that the e-mails, their CSV attachment, the chart's labels and any page format a
figure the same way (thousands separated by U+202F, a no-break space before € and %, decimal
comma). No Airflow, no warehouse, no pandas: it is imported by every renderer.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal

NBSP = "\u00a0"  # before € (French typography, as CLDR)
NNBSP = "\u202f"  # thousands separator and before %
_CSV_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def format_eur(amount: float | None) -> str:
    """``1234567.4`` -> ``1 234 567 €`` (whole euros, half up; U+202F between thousands)."""
    if amount is None:
        return "—"
    euros = int(Decimal(str(amount)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return f"{euros:,}".replace(",", NNBSP) + NBSP + "€"


def format_share(fraction: float | None) -> str:
    """``0.6843`` -> ``68,4 %``, rounded *down*: a share below a 75 % target never reads 75,0 %."""
    if fraction is None:
        return "—"
    percent = (Decimal(str(fraction)) * 100).quantize(Decimal("0.1"), rounding=ROUND_FLOOR)
    return f"{percent:.1f}".replace(".", ",") + NNBSP + "%"


def format_target(fraction: float) -> str:
    """``0.75`` -> ``75 %``, ``0.675`` -> ``67,5 %``: a target is a round figure, shown as one."""
    percent = (Decimal(str(fraction)) * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    text = f"{percent:.1f}".removesuffix(".0")
    return text.replace(".", ",") + NNBSP + "%"


def format_count(value: int | None) -> str:
    """``1234`` -> ``1 234``."""
    return "—" if value is None else f"{value:,}".replace(",", NNBSP)


def plural(count: int, singular: str, plural: str) -> str:
    """French: 0 and 1 take the singular."""
    return singular if count <= 1 else plural


def csv_decimal(value: float | None, places: int, rounding: str = ROUND_HALF_UP) -> str:
    """Decimal comma and no thousands separator: what a French Excel reads as a number."""
    if value is None:
        return ""
    quantum = Decimal(1).scaleb(-places)
    return f"{Decimal(str(value)).quantize(quantum, rounding=rounding)}".replace(".", ",")


def csv_safe(value: object) -> str:
    """Neutralise spreadsheet formulas: a cell starting with ``= + - @``, tab or CR gets a ``'``.

    Names come from prefecture exports; a ``=HYPERLINK(...)`` in one must stay text when a
    pilot opens the attachment.
    """
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_CSV_FORMULA_START) else text
