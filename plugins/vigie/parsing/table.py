"""What every reader returns: a table of strings with the physical row of each row.

The lowest rung of parsing: the CSV reader (:mod:`vigie.parsing.text`) and the XLSX reader
(:mod:`vigie.parsing.workbook`) both build a :class:`RawTable` and refuse a whole file with
:class:`FileRejected`, so the contract layer never cares which shape a file had.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time


class FileRejected(Exception):
    """A file-level fault: the whole file goes to quarantine with ``reason``."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass
class RawTable:
    """Header and rows as strings, with where each row came from."""

    header: list[str]
    rows: list[list[str]]
    row_numbers: list[int]
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None


def cell_to_text(value: object) -> str:
    """An XLSX cell -> the string a CSV would have carried (dates ISO, floats with '.')."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def trim(cells: list[str]) -> list[str]:
    """Drop the empty cells at the end of a row (spreadsheets pad rows to the widest)."""
    while cells and not cells[-1].strip():
        cells.pop()
    return cells
