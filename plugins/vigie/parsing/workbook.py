"""Every sheet of an XLSX workbook as rows of strings, fast.

Why a second XLSX reader beside :func:`read_xlsx`: association reports are
thousands of two-sheet workbooks of a few rows, where opening the file is most of the cost.
python-calamine (Rust) opens such a workbook an order of magnitude faster than openpyxl
(``bench/bench_associations.py`` measures both). It is called directly rather than through
``pandas.read_excel(engine="calamine")``: for sheets of a few rows, pandas' own per-call work
(a DataFrame per sheet) costs more than reading the sheet. openpyxl stays the fallback when
calamine is not installed. Cells come out as
:func:`~vigie.parsing.table.cell_to_text` renders them, so every reader agrees.

Both readers are imported when a workbook is read, not with the module: calamine may be
absent, and openpyxl costs a few hundred milliseconds to import.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

from vigie.parsing.table import FileRejected, RawTable, cell_to_text, trim


def calamine_available() -> bool:
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Sheet:
    """A sheet's non-empty rows: ``numbers[i]`` is the 1-based row number of ``rows[i]``."""

    name: str
    rows: list[list[str]]
    numbers: list[int]


def _calamine_iter(data: bytes) -> Generator[tuple[str, Sequence[Sequence[object]]], None, None]:
    from python_calamine import CalamineWorkbook, SheetTypeEnum

    book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    try:
        for meta in book.sheets_metadata:
            if meta.typ != SheetTypeEnum.WorkSheet:  # chart sheets hold no cells (as openpyxl)
                continue
            yield meta.name, book.get_sheet_by_name(meta.name).to_python(skip_empty_area=False)
    finally:
        book.close()


def _openpyxl_iter(data: bytes) -> Generator[tuple[str, Sequence[Sequence[object]]], None, None]:
    import openpyxl

    book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        for sheet in book.worksheets:
            yield sheet.title, sheet.iter_rows(values_only=True)
    finally:
        book.close()


def iter_workbook(data: bytes) -> Generator[tuple[str, Sequence[Sequence[object]]], None, None]:
    """Raw cell values a sheet at a time, from A1, in workbook order; worksheets only.

    For the prefecture reader, which stops at the first sheet holding its header: a
    prefecture export's sheet can hold 100,000 rows, so later sheets are not read for nothing.
    A workbook that cannot be opened or read raises :class:`FileRejected`.
    """
    sheets = _calamine_iter(data) if calamine_available() else _openpyxl_iter(data)
    while True:
        try:
            yield next(sheets)
        except StopIteration:
            return
        except Exception as exc:  # zipfile.BadZipFile, CalamineError, XmlError, KeyError...
            sheets.close()
            raise FileRejected("unreadable_xlsx", f"not a readable XLSX workbook ({exc})") from exc


def open_workbook(data: bytes) -> list[tuple[str, list[list[object]]]]:
    """Raw cell values of every sheet, in workbook order; unreadable -> :class:`FileRejected`."""
    return [(name, [list(row) for row in rows]) for name, rows in iter_workbook(data)]


def to_text(sheets: list[tuple[str, list[list[object]]]]) -> list[Sheet]:
    """Cell values -> trimmed strings, empty rows dropped, row numbers kept."""
    out = []
    for name, values in sheets:
        rows: list[list[str]] = []
        numbers: list[int] = []
        for number, row in enumerate(values, start=1):
            cells = trim([cell_to_text(v) for v in row])
            if cells:
                rows.append(cells)
                numbers.append(number)
        out.append(Sheet(name, rows, numbers))
    return out


def refuse_uncached_formulas(data: bytes, sheet: Sheet) -> None:
    """A formula cell without a cached value is invalid (docs/contracts/README.md): refuse it.

    Calamine and openpyxl's ``data_only`` both read such a cell as empty; the raw sheet XML is
    probed (cheaply) and only a workbook holding formulas is re-read to find one.
    """
    refuse_uncached_sheet_formulas(data, sheet.name, sheet.numbers, sheet.rows)


def read_xlsx(data: bytes, is_header: Callable[[list[str]], bool]) -> RawTable:
    """First sheet holding the expected header; title rows and merged cells above it skipped.

    Read with python-calamine (:func:`iter_workbook`), openpyxl when it is missing: calamine reads a
    prefecture export's sheet many times faster, and with openpyxl XLSX exports were most of the
    prefecture ingestion's time (profile in docs/performance.md). Formulas are read as cached
    values; a formula with no cached value reads as an empty cell in both, so it is caught by a
    probe of the sheet XML below and refused rather than read as empty.
    """
    sheets = iter_workbook(data)
    try:
        for name, values in sheets:
            header: list[str] | None = None
            rows: list[list[str]] = []
            numbers: list[int] = []
            for number, row in enumerate(values, start=1):
                cells = trim([cell_to_text(v) for v in row])
                if not cells:
                    continue
                if header is None:
                    if is_header(cells):
                        header = cells
                    continue
                rows.append(cells)
                numbers.append(number)
            if header is not None:
                refuse_uncached_sheet_formulas(data, name, numbers, rows)
                return RawTable(header, rows, numbers, sheet=name)
    finally:
        sheets.close()
    raise FileRejected("unrecognised_header", "no sheet holds the expected columns")


def refuse_uncached_sheet_formulas(
    data: bytes, sheet_name: str, numbers: list[int], rows: list[list[str]]
) -> None:
    import openpyxl

    if b"<f>" not in data and b"<f " not in data:
        # Formulas are stored compressed; a cheap probe of the raw sheet XML follows.
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
