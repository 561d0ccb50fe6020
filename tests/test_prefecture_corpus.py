"""The corpus: every tolerated shape reads to the same canonical rows, every fault has its reason.

Validation only (what `vigie check` and the loader share): loading these verdicts is covered by
tests/test_prefecture_loading.py on DuckDB and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from vigie.contracts.prefectures import KINDS
from vigie.contracts.validation import Context, read_and_validate
from vigie.parsing.table import FileRejected
from vigie.reference.geography import load_reference

from tests.prefecture_files import CANONICAL, VARIANTS, _plain_row, write_variant


@pytest.fixture(scope="module")
def ctx() -> Context:
    return Context(load_reference(), 2024)


def _rows(departement: str) -> list[dict]:
    """Three actions of ``departement`` in 2019 with its real communes and QPV codes."""
    ref = load_reference()
    qpv = ref.qpv[(ref.qpv.code_departement == departement) & (ref.qpv.geographie == "2015")]
    commune = qpv["codes_communes"].str.split("|").explode().iloc[0]
    base = {
        "code_departement": departement,
        "annee": 2019,
        "zsp": "",
        "programme": "D",
        "nature": "prevention_jeunes",
        "code_commune": commune,
    }
    return [
        {
            **base,
            "numero_dossier": f"2019-{departement}-1",
            "porteur": "Association A",
            "intitule_action": "Médiation",
            "montant_demande": 12000.0,
            "montant_attribue": 10500.5,
            "date_attribution": date(2019, 3, 14),
            "codes_qpv": list(qpv["code_qpv"].iloc[:2]),
            "part_qpv": 0.4,
        },
        {
            **base,
            "numero_dossier": f"2019-{departement}-2",
            "porteur": "Commune B",
            "intitule_action": "Chantier éducatif",
            "montant_demande": None,
            "montant_attribue": 3000.0,
            "date_attribution": None,
            "codes_qpv": [],
            "part_qpv": None,
        },
        {
            **base,
            "numero_dossier": f"2019-{departement}-3",
            "porteur": "Centre social C",
            "intitule_action": "Accueil de loisirs",
            "montant_demande": 1234567.89,
            "montant_attribue": 1234567.89,
            "date_attribution": date(2019, 12, 2),
            "codes_qpv": list(qpv["code_qpv"].iloc[:1]),
            "part_qpv": 0.75,
        },
    ]


@pytest.mark.parametrize("departement", ["01", "2A"])
def test_every_shape_reads_to_the_same_canonical_rows(departement, ctx, tmp_path: Path) -> None:
    """`1` for `01`, `2a` for `2A`, 4-digit communes, `="..."`, U+00A0/U+202F, serials..."""
    rows = _rows(departement)
    seen = {}
    for variant in VARIANTS:
        suffix = "xlsx" if variant.startswith("xlsx") else "csv"
        path = write_variant(tmp_path / f"{variant}.{suffix}", rows, variant)
        verdict = read_and_validate(path.read_bytes(), KINDS, ctx)
        assert verdict.rejects.empty, (variant, verdict.rejects.to_dict("records"))
        seen[variant] = (
            verdict.rows[CANONICAL].astype(object).where(verdict.rows[CANONICAL].notna())
        )
    clean = seen.pop("clean")
    assert list(clean.code_departement) == [departement] * 3
    assert clean.montant_attribue.tolist() == [10500.5, 3000.0, 1234567.89]
    for variant, frame in seen.items():
        pd.testing.assert_frame_equal(frame, clean, check_dtype=False, obj=variant)


XLSX_SHAPES = [v for v in VARIANTS if v.startswith("xlsx")] + ["notes_first"]


@pytest.mark.parametrize("variant", XLSX_SHAPES)
def test_calamine_and_openpyxl_read_an_export_the_same(variant, tmp_path, monkeypatch) -> None:
    """The prefecture reader goes through calamine (10 times faster); openpyxl, its fallback
    when calamine is missing, must read the same cells: titles, merged cells, serials, floats,
    and the first sheet that holds the header (here after a notes sheet) with its row numbers."""
    from vigie.parsing import workbook
    from vigie.parsing.text import read_table

    if not workbook.calamine_available():
        pytest.skip("python-calamine is not installed: only openpyxl reads workbooks")
    rows = _rows("93")
    shape = "xlsx_title" if variant == "notes_first" else variant
    path = write_variant(tmp_path / "export.xlsx", rows, shape)
    if variant == "notes_first":
        book = openpyxl.load_workbook(path)
        notes = book.create_sheet("Notes", 0)
        notes.append(["Export du 2 janvier", None, 2020])
        book.save(path)
    data = path.read_bytes()
    is_header = KINDS[0].matches
    fast = read_table(data, is_header)
    monkeypatch.setattr(workbook, "calamine_available", lambda: False)
    slow = read_table(data, is_header)
    assert (fast.sheet, fast.header, fast.rows, fast.row_numbers) == (
        slow.sheet,
        slow.header,
        slow.rows,
        slow.row_numbers,
    )
    assert len(fast.rows) == 3 and fast.row_numbers[0] > 1
    if variant == "notes_first":
        assert fast.sheet == "Programme FIPD" and fast.row_numbers == [4, 5, 6]


def _csv(rows: list[dict], overrides: dict[tuple[int, str], str], extra: tuple = ()) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    header = CANONICAL + list(extra)
    writer.writerow(header)
    for i, row in enumerate(rows):
        cells = {
            **{c: str(_plain_row(row)[c] or "") for c in CANONICAL},
            **dict.fromkeys(extra, ""),
        }
        cells.update({c: v for (n, c), v in overrides.items() if n == i})
        writer.writerow([cells[c] for c in header])
    return buffer.getvalue().encode("utf-8")


ROW_FAULTS = [  # (column, cell as written, reason): each invalid case of the contract
    ("code_departement", "20", "invalid_departement"),  # abolished in 1976
    ("code_departement", "96", "invalid_departement"),
    ("code_departement", "75", "departement_differs"),
    ("code_commune", "93999", "unknown_commune"),
    ("code_commune", "ABCDE", "invalid_commune"),
    ("codes_qpv", "QP093999", "unknown_qpv"),
    ("codes_qpv", "QP93", "invalid_qpv_code"),
    ("zsp", "ZSP-NOWHERE", "unknown_zsp"),
    ("montant_attribue", "-500", "negative_amount"),
    ("montant_attribue", "12,5,0", "invalid_money"),
    ("montant_attribue", "douze mille", "invalid_money"),
    ("montant_demande", "N/A", "invalid_money"),
    ("montant_attribue", "99999", "attribue_exceeds_demande"),
    ("part_qpv", "150 %", "invalid_percentage"),
    ("date_attribution", "31/02/2019", "invalid_date"),
    ("annee", "1999", "invalid_integer"),
    ("programme", "Z", "invalid_enum"),
    ("porteur", "", "missing_required"),
    ("siret", "12345678901234", "invalid_siret"),  # fails the Luhn check
    ("type_porteur", "Particulier", "invalid_enum"),
]


@pytest.mark.parametrize(("column", "cell", "reason"), ROW_FAULTS, ids=lambda x: str(x))
def test_each_row_fault_is_rejected_with_its_reason(column, cell, reason, rows_93, ctx) -> None:
    rows = [dict(r) for r in rows_93] + [
        dict(rows_93[3], numero_dossier=f"2019-93-9{i}") for i in range(6)
    ]
    data = _csv(rows, {(3, column): cell}, extra=("siret", "type_porteur"))
    verdict = read_and_validate(data, KINDS, ctx)
    assert verdict.quarantine_reason is None
    assert verdict.rejects[["source_row", "column_name", "reason"]].values.tolist() == [
        [5, column, reason]
    ]
    assert len(verdict.rows) == len(rows) - 1


def test_duplicate_dossier_rejects_both_rows(rows_93, ctx) -> None:
    data = _csv(rows_93 * 2 + rows_93[:1], {})  # 9 rows; the first number 3 times
    verdict = read_and_validate(data, KINDS, ctx)
    assert verdict.quarantine_reason == "too_many_invalid_rows"
    assert set(verdict.rejects.reason) == {"duplicate_dossier"}


def _formula_book() -> bytes:
    book = openpyxl.Workbook()
    book.active.append(CANONICAL)
    book.active.append(["93", 2019, "X-1", "A", "B", "D", "", "", "=1000+500", "", "", "", "", ""])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FILE_FAULTS = [
    ("undecodable", "Département;Année\n93;2019\n".encode("utf-16")),
    ("empty", b""),
    ("unrecognised_header", b"nom;prenom\nDupont;Jean\n"),
    ("unreadable_xlsx", b"PK\x03\x04 not really a workbook"),
    ("formula_without_value", _formula_book()),
]


@pytest.mark.parametrize(("reason", "data"), FILE_FAULTS, ids=[f[0] for f in FILE_FAULTS])
def test_each_file_fault_is_refused_with_its_reason(reason, data, ctx) -> None:
    with pytest.raises(FileRejected) as refused:
        read_and_validate(data, KINDS, ctx)
    assert refused.value.reason == reason
