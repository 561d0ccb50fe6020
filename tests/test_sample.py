"""The sample landing zone: deterministic, in every shape, realistic, with known answers."""

from __future__ import annotations

import collections
import csv
import io
import os
import re
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from vigie.contracts.prefectures import FIPD, KINDS, NATURES, PROGRAMMES
from vigie.contracts.validation import Context, read_and_validate
from vigie.demo.sample_prefectures import CANONICAL, HUMAN, SYNONYMS, shape_of, write_sample
from vigie.parsing import values as v
from vigie.parsing.headers import map_header
from vigie.parsing.text import read_table
from vigie.reference.geography import load_reference, normalise_commune, normalise_departement

CURRENT = 2025
YEARS = [2017, 2018, 2019, 2020, CURRENT]
SUBSET = ["01", "13", "2A", "48", "75", "93", "971", "976"]
ORGANISATION = re.compile(
    r"Association|Centre|Maison|Club|Régie|Point accueil|Commune|Communauté|Habitat|Office"
    r"|Collège|Lycée"
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("landing"), current_year=CURRENT)


@pytest.fixture(scope="module")
def ref():
    return load_reference()


@pytest.fixture(scope="module")
def rows(sample) -> pd.DataFrame:
    """Every row of every file, under canonical column names (raw strings, ="..." unwrapped)."""
    frames = []
    for path in sample.files:
        table = read_table(path.read_bytes(), FIPD.matches)
        mapped = map_header(table.header, FIPD.index)
        records = [
            {name: (cells[pos] if pos < len(cells) else "") for pos, name in mapped.items()}
            for cells in table.rows
        ]
        frame = pd.DataFrame(records, dtype="string")
        _, dep, year = path.stem.split("_")
        frames.append(frame.assign(file=path.name, dep=dep, year=int(year), line=range(len(frame))))
    out = pd.concat(frames, ignore_index=True)
    for column in ("code_commune", "code_departement"):
        out[column] = v.unwrap_excel(out[column])
    out["amount"] = v.parse_money(out["montant_attribue"])[0]
    out["demande"] = v.parse_money(out["montant_demande"])[0]
    out["programme_code"] = v.parse_enum(out["programme"], PROGRAMMES)[0]
    out["nature_code"] = v.parse_enum(out["nature"], NATURES)[0]
    return out


def _shape_from_bytes(data: bytes) -> int:
    if data.startswith(b"PK\x03\x04"):
        return 4
    if data.startswith(b"\xef\xbb\xbf"):
        return 3
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return 2
    return 1


# --- layout and determinism ---------------------------------------------------------------


def test_one_file_per_departement_and_year(sample) -> None:
    assert sample.years == YEARS
    assert len(sample.files) == 101 * len(YEARS)
    for path in sample.files:
        year = path.stem.split("_")[2]
        assert path.parent == sample.out_dir / "prefectures" / year
        assert path.suffix in {".csv", ".xlsx"}
    assert {p.stem.split("_")[1] for p in sample.files} >= {"01", "2A", "2B", "971", "976"}


def test_same_seed_gives_the_same_bytes_and_mtimes(sample, tmp_path: Path) -> None:
    again = write_sample(tmp_path / "again", current_year=CURRENT, departements=SUBSET)
    first = {p.name: p for p in sample.files}
    assert len(again.files) == len(SUBSET) * len(YEARS)
    for path in again.files:
        assert path.read_bytes() == first[path.name].read_bytes(), path.name
        assert os.stat(path).st_mtime == os.stat(first[path.name]).st_mtime
    other = write_sample(tmp_path / "other", seed=1, current_year=CURRENT, departements=SUBSET)
    for path in other.files:
        assert path.read_bytes() != first[path.name].read_bytes(), path.name


def test_mtimes_are_fixed_per_year(sample) -> None:
    for path in sample.files:
        year = int(path.stem.split("_")[2])
        stamp = datetime.fromtimestamp(os.stat(path).st_mtime).astimezone()
        assert stamp.year == (year if year == CURRENT else year + 1)


def test_current_year_defaults_to_today(tmp_path: Path) -> None:
    summary = write_sample(tmp_path, departements=["1"])
    assert summary.years[-1] == max(2020, date.today().year)
    assert all(p.stem.split("_")[1] == "01" for p in summary.files)
    with pytest.raises(ValueError, match="975"):
        write_sample(tmp_path, departements=["975"])


# --- shapes -------------------------------------------------------------------------------


def test_every_shape_appears_many_times_and_decodes(sample) -> None:
    seen = collections.Counter()
    for path in sample.files:
        data = path.read_bytes()
        shape = _shape_from_bytes(data)
        _, dep, year = path.stem.split("_")
        assert shape == shape_of(dep, int(year)), path.name
        seen[shape] += 1
        if shape == 1:
            text = data.decode("utf-8")
            assert text.splitlines()[0].split(";") == CANONICAL
        elif shape == 2:
            text = data.decode("cp1252")
            assert text.splitlines()[0].split(";") == HUMAN
        elif shape == 3:
            text = data.decode("utf-8-sig")
            assert next(csv.reader(io.StringIO(text))) == SYNONYMS
            assert '"=""' in text  # Excel-protected commune codes
    assert min(seen.values()) >= 100, seen


def test_messy_french_csv_has_the_expected_habits(sample) -> None:
    texts = [
        p.read_bytes().decode("cp1252")
        for p in sample.files
        if p.suffix == ".csv" and _shape_from_bytes(p.read_bytes()) == 2
    ]
    joined = "\n".join(texts)
    assert re.search(r";\d{1,3}\u00a0\d{3},\d{2} €;", joined)  # 12 500,50 € with U+00A0
    assert re.search(r";\d{1,3} \d{3},\d{2} €;", joined)  # ... or a plain space
    assert re.search(r";\d{2}/\d{2}/20\d{2};", joined)
    assert "Prévention de la délinquance" in joined and "Vidéo-protection" in joined
    assert re.search(r"QP\d{3}\d{3}, QP", joined)  # QPV lists separated by ", "
    assert re.search(r"^[1-9];20\d\d;", joined, re.M)  # département 1 for 01
    assert re.search(r";\d{2} %", joined)


def test_comma_csv_uses_narrow_spaces_and_both_percent_forms(sample) -> None:
    text = "\n".join(
        p.read_bytes().decode("utf-8-sig")
        for p in sample.files
        if p.suffix == ".csv" and p.read_bytes().startswith(b"\xef\xbb\xbf")
    )
    assert re.search(r'"\d{1,3}\u202f\d{3},\d{2}"', text)
    assert re.search(r'"\d{1,3} %"', text) and re.search(r'"0,\d\d"', text)


def test_xlsx_has_a_merged_title_a_blank_row_and_typed_cells(sample) -> None:
    path = next(p for p in sample.files if p.suffix == ".xlsx")
    sheet = openpyxl.load_workbook(path).active
    assert str(sheet.cell(1, 1).value).startswith("FIPD ")
    assert [str(r) for r in sheet.merged_cells.ranges] == ["A1:P1"]
    assert all(c.value is None for c in sheet[2])
    header = [c.value for c in sheet[3]]
    assert header in (CANONICAL, HUMAN)
    amounts = [sheet.cell(r, 11).value for r in range(4, sheet.max_row + 1)]
    assert all(isinstance(a, float) for a in amounts)
    decided = [sheet.cell(r, 12).value for r in range(4, sheet.max_row + 1)]
    assert any(isinstance(d, datetime) for d in decided)


def test_each_shape_loads_through_the_fipd_contract(sample, ref) -> None:
    """One file per shape, in a clean département, validates with no reject."""
    ctx = Context(ref, 2024)
    picked = {}
    for path in sample.files:
        dep = path.stem.split("_")[1]
        if dep in sample.clean_departements:
            picked.setdefault(_shape_from_bytes(path.read_bytes()), path)
    assert sorted(picked) == [1, 2, 3, 4]
    for path in picked.values():
        verdict = read_and_validate(path.read_bytes(), KINDS, ctx)
        assert verdict.kind is FIPD
        assert verdict.quarantine_reason is None
        assert verdict.rejects.empty, (path.name, verdict.rejects.head())
        assert len(verdict.rows) == verdict.rows_read


# --- content ------------------------------------------------------------------------------


def test_codes_are_real_and_in_the_files_departement(rows, ref, sample) -> None:
    deps = normalise_departement(rows["code_departement"])
    assert (deps == rows["dep"]).all()
    communes = normalise_commune(rows["code_commune"])
    known = communes.isin(ref.communes["code_commune"]) | rows["code_commune"].eq("")
    unknown = rows[~known]
    assert set(unknown["dep"]) <= set(rows["dep"]) - set(sample.clean_departements)
    assert unknown.groupby("file").size().max() <= 3
    assert {"75101", "13201"} & set(communes.dropna())  # arrondissements are used
    assert "2A004" in set(communes.dropna())
    qpv = ref.qpv.set_index("code_qpv")
    exploded = rows.assign(q=rows["codes_qpv"].str.split(r"[|,;\s]+")).explode("q")
    exploded = exploded[exploded["q"].notna() & (exploded["q"] != "")]
    assert exploded["q"].isin(qpv.index).all()
    assert (qpv.loc[exploded["q"], "code_departement"].to_numpy() == exploded["dep"]).all()
    geography = qpv.loc[exploded["q"], "geographie"].to_numpy()
    assert (geography == exploded["year"].map(lambda y: "2015" if y < 2024 else "2024")).all()
    zsp = rows.loc[rows["zsp"].fillna("") != "", ["zsp", "dep"]]
    zsp_dep = ref.zsp.set_index("code_zsp")["code_departement"]
    assert (zsp_dep[zsp["zsp"]].to_numpy() == zsp["dep"].to_numpy()).all()


def test_sirets_pass_luhn_and_porteurs_are_organisations(rows) -> None:
    siret = rows["siret"].str.replace(" ", "", regex=False)
    given = siret[siret != ""]
    assert len(given) > 10_000
    assert given.str.fullmatch(r"\d{14}").all()
    assert v.luhn_ok(given).all()
    assert rows["porteur"].str.contains(ORGANISATION).all()


def test_magnitudes_follow_the_domain(rows) -> None:
    valid = rows[rows["amount"] >= 0]
    per_year = valid.groupby("year")["amount"].sum() / 1e6
    assert per_year.between(45, 110).all(), per_year
    shares = valid.groupby("programme_code")["amount"].sum() / valid["amount"].sum()
    assert 0.42 <= shares["D"] <= 0.56
    assert 0.18 <= shares["R"] <= 0.30 and 0.18 <= shares["S"] <= 0.30
    assert shares.get("K", 0) < 0.03
    per_file = rows.groupby("file").size()
    assert per_file.min() >= 5 and per_file.max() <= 310
    assert valid["amount"].between(800, 200_000).mean() > 0.99
    assert rows["part_qpv"].fillna("").ne("").mean() > 0.1


def test_invalid_rows_only_in_a_minority_and_well_under_20_percent(rows, sample) -> None:
    dup = rows.duplicated(["file", "numero_dossier"], keep=False)
    communes = normalise_commune(rows["code_commune"])
    unknown = communes.notna() & ~communes.isin(load_reference().communes["code_commune"])
    negative = rows["montant_attribue"].str.contains("-", regex=False)
    exceeds = (rows["amount"] > rows["demande"]).fillna(False)
    bad = dup | unknown | negative | exceeds
    assert bad.any()
    share = bad.groupby(rows["file"]).mean()
    assert share.max() < 0.2
    dirty = set(rows.loc[bad, "dep"])
    assert not dirty & set(sample.clean_departements)
    assert 5 <= len(dirty) <= 40  # a minority of prefectures


def _located_shares(rows: pd.DataFrame) -> pd.Series:
    scope = rows[(rows["programme_code"] == "D") & (rows["nature_code"] != "videoprotection")]
    located = (scope["codes_qpv"].fillna("") != "") | (scope["zsp"].fillna("") != "")
    counted = scope["amount"].where(located, 0)
    sums = pd.DataFrame({"counted": counted, "total": scope["amount"]})
    grouped = sums.groupby([scope["year"], scope["dep"]]).sum()
    return grouped["counted"] / grouped["total"]


def test_below_target_departements_are_the_announced_ones(rows, sample) -> None:
    assert sorted(sample.below_target) == [2019, CURRENT]
    current, other = sample.below_target[CURRENT], sample.below_target[2019]
    assert 3 <= len(current) <= 6 and 3 <= len(other) <= 6
    assert not set(current) & set(other)
    assert any(len(d) == 3 for d in current) and {"2A", "2B"} & set(current)
    shares = _located_shares(rows)
    for (year, dep), share in shares.items():
        if dep in sample.below_target.get(year, []):
            assert share < 0.75, (year, dep, share)
        else:
            assert share >= 0.75, (year, dep, share)
    assert shares.between(0.8, 0.9).mean() > 0.6  # "80-90 % in most départements"
    # Rural départements without any QPV nor ZSP have no action within the check's scope.
    assert not {d for _, d in shares.index} & {"09", "23", "48"}
