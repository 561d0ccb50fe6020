"""Decoding and tabular reading of the files senders produce (CSV in three dialects, XLSX).

Every reader returns the same thing, a :class:`RawTable` of strings plus the physical row
number of each row, so the contract layer never cares which shape a file had.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

ENCODINGS = ("utf-8", "cp1252", "latin-1")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
DELIMITERS = (";", ",", "\t")


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


def decode(data: bytes) -> tuple[str, str]:
    """Decode with the first legal encoding that fits; a binary-looking result is refused.

    UTF-8 is tried first because it fails loudly on cp1252 bytes; cp1252 before latin-1
    because French senders' "é" and "€" are cp1252, and latin-1 accepts any byte.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        candidates: Iterable[str] = ("utf-8-sig",)
    else:
        candidates = ENCODINGS
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _CONTROL.search(text):
            continue
        return text, encoding
    raise FileRejected("undecodable", "not UTF-8, Windows-1252 nor ISO-8859-1 text")


def _delimiter_of(first_line: str) -> str:
    """The candidate delimiter occurring most in the header line, outside quotes."""
    unquoted = re.sub(r'"[^"]*"', "", first_line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.__getitem__)
    return best if counts[best] else ";"


def _trim(cells: list[str]) -> list[str]:
    while cells and not cells[-1].strip():
        cells.pop()
    return cells


def read_csv_text(text: str, is_header: Callable[[list[str]], bool] | None = None) -> RawTable:
    """Read delimited text; the header is the first non-empty line (or the first accepted one)."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    delimiter = _delimiter_of(first)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    for cells in reader:
        cells = _trim([c.strip() for c in cells])
        if not cells:
            continue
        if header is None:
            if is_header is None or is_header(cells):
                header = cells
            continue
        rows.append(cells)
        numbers.append(reader.line_num)
    if header is None:
        raise FileRejected("unrecognised_header", "no line holds the expected columns")
    return RawTable(header, rows, numbers, delimiter=delimiter)


def cell_to_text(value: object) -> str:
    """XLSX cell -> the string a CSV would have carried (dates ISO, floats with '.')."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(int(value)) if value.is_integer() else repr(value)
    return str(value).strip()


def read_xlsx(data: bytes, is_header: Callable[[list[str]], bool]) -> RawTable:
    """First sheet holding the expected header; title rows and merged cells above it skipped.

    Read with python-calamine (:func:`vigie.parsing.workbook.iter_workbook`), openpyxl when it
    is missing: on a 1,800-row export calamine reads the sheet ~10 times faster, and XLSX
    exports were two thirds of the prefecture ingestion's time with openpyxl (profile in the
    README's Performance). Formulas are read as cached values; a formula with no cached value
    reads as an empty cell in both, so it is caught by a probe of the sheet XML below and
    refused rather than read as empty.
    """
    from vigie.parsing.workbook import iter_workbook

    sheets = iter_workbook(data)
    try:
        for name, values in sheets:
            header: list[str] | None = None
            rows: list[list[str]] = []
            numbers: list[int] = []
            for number, row in enumerate(values, start=1):
                cells = _trim([cell_to_text(v) for v in row])
                if not cells:
                    continue
                if header is None:
                    if is_header(cells):
                        header = cells
                    continue
                rows.append(cells)
                numbers.append(number)
            if header is not None:
                _refuse_uncached_formulas(data, name, numbers, rows)
                return RawTable(header, rows, numbers, sheet=name)
    finally:
        sheets.close()
    raise FileRejected("unrecognised_header", "no sheet holds the expected columns")


def _refuse_uncached_formulas(
    data: bytes, sheet_name: str, numbers: list[int], rows: list[list[str]]
) -> None:
    import openpyxl

    if b"<f>" not in data and b"<f " not in data:
        # Formulas are stored compressed; a cheap probe of the raw sheet XML follows.
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if not any(
                b"<f" in archive.read(name)
                for name in archive.namelist()
                if name.startswith("xl/worksheets/")
            ):
                return
    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    try:
        sheet = book[sheet_name]
        wanted = dict(zip(numbers, rows, strict=True))
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            if number not in wanted:
                continue
            cached = wanted[number]
            for col, value in enumerate(values):
                is_formula = isinstance(value, str) and value.startswith("=")
                if is_formula and (col >= len(cached) or not cached[col]):
                    raise FileRejected(
                        "formula_without_value",
                        f"sheet {sheet_name!r} row {number} column {col + 1}: formula {value!r}"
                        " has no cached value (open and save the file in a spreadsheet)",
                    )
    finally:
        book.close()


def read_table(data: bytes, is_header: Callable[[list[str]], bool]) -> RawTable:
    """Any legal file shape -> :class:`RawTable`; XLSX recognised by its ZIP signature."""
    if not data.strip():
        raise FileRejected("empty", "the file is empty")
    if data[:4] == b"PK\x03\x04":
        return read_xlsx(data, is_header)
    text, encoding = decode(data)
    table = read_csv_text(text, is_header)
    table.encoding = encoding
    return table
