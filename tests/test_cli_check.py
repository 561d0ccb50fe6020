"""`vigie check FILE`: what a prefecture agent is told about their file, without any loading."""

from __future__ import annotations

from pathlib import Path

import pytest
from vigie.cli import main

from tests.prefecture_files import write_variant


def test_clean_file_passes_and_says_how_many_rows_would_load(
    rows_93, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_variant(tmp_path / "fipd.csv", rows_93, "french_cp1252")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "kind fipd" in out and "4 row(s) would load, 0 would be rejected" in out


def test_bad_rows_are_listed_with_row_column_reason_and_value(
    rows_93, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [dict(r) for r in rows_93] + [dict(rows_93[0], numero_dossier="X-9")]
    rows[4]["montant_attribue"] = -300.0
    path = write_variant(tmp_path / "fipd.csv", rows, "clean")
    before = path.read_bytes()
    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "row 6, column montant_attribue: negative_amount (value '-300.00')" in out
    assert "4 row(s) would load, 1 would be rejected" in out
    assert path.read_bytes() == before, "check never touches the file"


def test_refused_file_says_why(rows_93, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "liste.csv"
    path.write_text("nom;prenom;telephone\nDupont;Jean;0600000000\n", encoding="utf-8")
    assert main(["check", str(path)]) == 2
    assert "REFUSED (unrecognised_header)" in capsys.readouterr().out

    with_person = write_variant(tmp_path / "perso.csv", rows_93, "clean")
    lines = with_person.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ";email"] + [line + ";jean.dupont@example.org" for line in lines[1:]]
    with_person.write_text("\n".join(lines), encoding="utf-8")
    assert main(["check", str(with_person)]) == 2
    out = capsys.readouterr().out
    assert "REFUSED (personal_data)" in out and "email" in out
    assert "jean.dupont" not in out, "the personal data itself is never echoed"


def test_columns_that_would_not_load_are_named(
    rows_93, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_variant(tmp_path / "fipd.csv", rows_93, "clean")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [lines[0].replace("part_qpv", "% QPV") + ";Observations;Montant"]
    lines += [line + ";RAS;10" for line in path.read_text(encoding="utf-8").splitlines()[1:]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "column not loaded: unknown_column 'Observations' (column 15)" in out
    assert (
        "column not loaded: ambiguous_column 'Montant' (column 16, already read as "
        "montant_attribue)" in out
    )
    assert "% QPV" not in out, "the share's column is recognised: nothing to say about it"
    assert "4 row(s) would load" in out
