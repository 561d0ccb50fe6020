"""Decoding and tabular reading of the files senders produce (CSV in three dialects, XLSX).

Every reader returns the same thing, a :class:`RawTable` of strings plus the physical row
number of each row, so the contract layer never cares which shape a file had.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable

from vigie.parsing.table import FileRejected, RawTable, trim
from vigie.parsing.workbook import read_xlsx

ENCODINGS = ("utf-8", "cp1252", "latin-1")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
DELIMITERS = (";", ",", "\t")


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
        cells = trim([c.strip() for c in cells])
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
