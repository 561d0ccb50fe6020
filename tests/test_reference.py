"""Reference data: the shipped snapshot, the ANCT reader, code normalisation, overrides."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vigie.reference.geography import (
    SHIPPED_DIR,
    load_reference,
    normalise_commune,
    normalise_departement,
    read_anct_qpv,
    read_zsp,
)

ANCT_HEADER = (
    "code_qp;lib_qp;insee_reg;lib_reg;insee_dep;lib_dep;insee_com;lib_com;siren_epci;lib_epci"
)
EXPECTED_DEPARTEMENTS = (
    {f"{n:02d}" for n in range(1, 96) if n != 20}
    | {"2A", "2B"}
    | {"971", "972", "973", "974", "976"}
)


@pytest.fixture(scope="module")
def ref():
    return load_reference()


# --- the shipped snapshot -----------------------------------------------------------------


def test_snapshot_has_the_101_departements_and_real_communes(ref) -> None:
    assert set(ref.departements["code_departement"]) == EXPECTED_DEPARTEMENTS
    assert len(ref.departements) == 101
    codes = set(ref.communes["code_commune"])
    assert len(codes) == len(ref.communes) >= 34_900
    # Corsica, overseas, Paris, Marseille and Lyon with their arrondissements municipaux.
    assert {
        "2A004",
        "2B033",
        "97411",
        "97608",
        "75056",
        "75101",
        "13055",
        "13201",
        "69123",
    } <= codes
    arrondissements = ref.communes[ref.communes["type"] == "arrondissement-municipal"]
    assert len(arrondissements) == 45
    assert set(ref.communes["code_departement"]) == EXPECTED_DEPARTEMENTS
    assert not any(c.startswith(("975", "977", "978", "98")) for c in codes)
    paris = ref.communes.set_index("code_commune").loc["75056"]
    assert paris["nom_commune"] == "Paris" and paris["population"] > 2_000_000
    assert paris["siren_epci"] == "200054781"  # Métropole du Grand Paris


def test_source_md_records_version_licence_rebuild_and_synthetic() -> None:
    text = (SHIPPED_DIR / "SOURCE.md").read_text(encoding="utf-8")
    assert "@etalab/decoupage-administratif" in text and "6.0.0" in text
    assert "Licence Ouverte" in text
    assert "build_reference.py" in text and "npm pack" in text
    assert "SYNTHETIC" in text and "`48` Lozère" in text


def test_synthetic_qpv_lists_look_like_the_real_ones(ref) -> None:
    qpv = ref.qpv
    counts = qpv["geographie"].value_counts()
    assert 1_400 <= counts["2015"] <= 1_600
    metro_2024 = qpv[(qpv["geographie"] == "2024") & (qpv["code_departement"].str.len() == 2)]
    assert len(metro_2024) == 1_362
    assert qpv["code_qpv"].is_unique
    per_dep = qpv[qpv["geographie"] == "2015"].groupby("code_departement").size()
    top10 = set(per_dep.sort_values(ascending=False).index[:12])
    assert {"93", "13", "59", "69"} <= top10
    assert "48" not in per_dep.index  # a rural département without QPV
    assert {"2A", "2B", "971", "976"} <= set(per_dep.index)
    communes = ref.communes.set_index("code_commune")["code_departement"]
    exploded = qpv.assign(c=qpv["codes_communes"].str.split("|")).explode("c")
    assert exploded["c"].isin(communes.index).all()
    assert (communes[exploded["c"]].to_numpy() == exploded["code_departement"].to_numpy()).all()
    assert (qpv["codes_communes"].str.contains("|", regex=False)).sum() >= 10


def test_synthetic_zsp_list(ref) -> None:
    zsp = ref.zsp
    assert len(zsp) == 80
    assert (zsp["date_creation"].str[:4].value_counts().to_dict()) == {"2012": 64, "2013": 16}
    assert set(zsp["force"]) <= {"PN", "GN", "mixte"}
    assert zsp["code_zsp"].str.fullmatch(r"ZSP(?:\d{3}|0[12][AB])\d{2}").all()
    assert zsp["codes_communes"].str.split("|").explode().isin(ref.communes["code_commune"]).all()


def test_synthetic_lists_are_reproducible(tmp_path: Path) -> None:
    """The shipped synthetic files are exactly what the script generates."""
    shutil.copytree(SHIPPED_DIR / "geo", tmp_path / "geo")
    script = SHIPPED_DIR / "build_synthetic_lists.py"
    subprocess.run(
        [sys.executable, str(script), "--reference-dir", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("qpv.csv", "zsp.csv"):
        shipped = (SHIPPED_DIR / "synthetic" / name).read_bytes()
        assert (tmp_path / "synthetic" / name).read_bytes() == shipped, name


# --- the ANCT reader ----------------------------------------------------------------------


def _write(path: Path, lines: list[str], bom: bool = True) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + "\r\n".join(lines).encode("utf-8"))
    return path


def test_read_anct_qpv_reads_the_official_format_as_is(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "listeqp2024-cog2024.csv",
        [
            ANCT_HEADER,
            "QP001001;Quartier de la Reyssouze;84;Auvergne-Rhône-Alpes;1;Ain;1053;"
            "Bourg-en-Bresse;200071751;CA du Bassin de Bourg-en-Bresse;",  # trailing empty col
            'QN00201M;Europe;32;Hauts-de-France;02;Aisne;"02571; 02691";'
            '"Rouvroy; Saint-Quentin";200071983;CA du Saint-Quentinois',
            'QP013055;Centre Nord;93;PACA;13;Bouches-du-Rhône;"=""13055;13070""";'
            '"Marseille;Penne";200054807;Métropole',
            "QN02A01M;Les Salines;94;Corse;2A;Corse-du-Sud;2a004;Ajaccio;200066793;CA",
            "QP974012;Le Chaudron;4;La Réunion;974;La Réunion;97411;Saint-Denis;249740119;CINOR",
            ";;;;;;;;;",
            "",
        ],
    )
    frame = read_anct_qpv(path).set_index("code_qpv")
    assert list(frame.index) == ["QP001001", "QN00201M", "QP013055", "QN02A01M", "QP974012"]
    assert frame.loc["QP001001", "code_departement"] == "01"
    assert frame.loc["QP001001", "codes_communes"] == "01053"
    assert frame.loc["QN00201M", "codes_communes"] == "02571|02691"
    assert frame.loc["QP013055", "codes_communes"] == "13055|13070"
    assert frame.loc["QN02A01M", "code_departement"] == "2A"
    assert frame.loc["QN02A01M", "codes_communes"] == "2A004"
    assert frame.loc["QP974012", "code_departement"] == "974"
    assert frame["geographie"].to_dict() == {
        "QP001001": "2015",
        "QN00201M": "2024",
        "QP013055": "2015",
        "QN02A01M": "2024",
        "QP974012": "2015",
    }
    assert frame.loc["QP001001", "nom_qpv"] == "Quartier de la Reyssouze"


def test_read_anct_qpv_merges_a_quartier_listed_once_per_commune(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "qpv.csv",
        [
            ANCT_HEADER,
            "QP059001;Les Trois Ponts;32;HdF;59;Nord;59512;Roubaix;200093201;MEL",
            "QP059001;Les Trois Ponts;32;HdF;59;Nord;59599;Tourcoing;200093201;MEL",
        ],
        bom=False,
    )
    frame = read_anct_qpv(path)
    assert frame["codes_communes"].tolist() == ["59512|59599"]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("XX093006;Bad;11;IDF;93;SSD;93066;Saint-Denis;1;x", "code_qp 'XX093006'"),
        ("QP93006;Short;11;IDF;93;SSD;93066;Saint-Denis;1;x", "matches neither"),
        ("QP093006;Wrong dep;11;IDF;94;VdM;93066;Saint-Denis;1;x", "insee_dep '94'"),
        ("QP093006;Bad commune;11;IDF;93;SSD;9306;Saint-Denis;1;x", "insee_com"),
    ],
)
def test_read_anct_qpv_names_file_row_and_reason(tmp_path: Path, row: str, reason: str) -> None:
    ok = "QP093001;Fine;11;Île-de-France;93;Seine-Saint-Denis;93066;Saint-Denis;1;x"
    path = _write(tmp_path / "qpv.csv", [ANCT_HEADER, ok, row])
    with pytest.raises(ValueError, match="row 3") as error:
        read_anct_qpv(path)
    assert str(path) in str(error.value)
    assert reason in str(error.value)


def test_read_zsp_tolerates_zeros_lists_and_french_dates(tmp_path: Path) -> None:
    path = tmp_path / "zsp.csv"
    path.write_text(
        "code_zsp;nom;code_departement;communes;force;date_creation\n"
        "ZSP00101;ZSP Bourg;1;1053;police;15/09/2012\n"
        'ZSP01301;ZSP Marseille nord;13;"13055, 13201";PN;2012-09-15\n',
        encoding="utf-8",
    )
    frame = read_zsp(path)
    assert frame["code_departement"].tolist() == ["01", "13"]
    assert frame["codes_communes"].tolist() == ["01053", "13055|13201"]
    assert frame["force"].tolist() == ["PN", "PN"]
    assert frame["date_creation"].tolist() == ["2012-09-15", "2012-09-15"]
    path.write_text(
        "code_zsp;nom;code_departement;communes;force;date_creation\n"
        "ZSP00101;ZSP Bourg;01;01053;CRS;2012-09-15\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"row 2: force 'CRS'"):
        read_zsp(path)


# --- normalisation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", "01"),
        ("01", "01"),
        ("2a", "2A"),
        (" 93 ", "93"),
        ("971", "971"),
        ("976", "976"),
        ("093", "93"),
        ("02B", "2B"),
        ('="05"', "05"),
        ("9.0", "09"),
        ("20", None),
        ("", None),
        ("abc", None),
        ("975", None),
        ("96", None),
        ("00", None),
        ("2C", None),
        (None, None),
    ],
)
def test_normalise_departement(raw: str | None, expected: str | None) -> None:
    result = normalise_departement(pd.Series([raw], dtype="string")).iloc[0]
    assert (None if pd.isna(result) else result) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1053", "01053"),
        ("01053", "01053"),
        (" 93066 ", "93066"),
        ('="01053"', "01053"),
        ("2a004", "2A004"),
        ("2B033", "2B033"),
        ("97411", "97411"),
        ("75101", "75101"),
        ("1053.0", "01053"),
        ("20004", None),  # pre-1976 Corsica
        ("97501", None),  # Saint-Pierre-et-Miquelon, not a département
        ("98735", None),
        ("123", None),
        ("abcde", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_commune(raw: str | None, expected: str | None) -> None:
    result = normalise_commune(pd.Series([raw], dtype="string")).iloc[0]
    assert (None if pd.isna(result) else result) == expected


def _mangle(draw, code: str) -> str:
    """What a spreadsheet or a sender does to a code without changing its meaning."""
    text = code
    if text.isdigit() and text.startswith("0") and draw(st.booleans()):
        text = text[1:]  # Excel dropped the leading zero
    if draw(st.booleans()):
        text = text.lower()
    if draw(st.booleans()):
        text = f'="{text}"'
    pad = draw(st.sampled_from(["", " ", "\t", "\u00a0"]))
    return f"{pad}{text}{pad}"


@st.composite
def _mangled_departements(draw):
    code = draw(st.sampled_from(sorted(EXPECTED_DEPARTEMENTS)))
    return code, _mangle(draw, code)


_COMMUNES = sorted(load_reference().communes["code_commune"].sample(2_000, random_state=1))


@st.composite
def _mangled_communes(draw):
    code = draw(st.sampled_from([*_COMMUNES, "01053", "2A004", "97411", "75101"]))
    return code, _mangle(draw, code)


@settings(max_examples=300, deadline=None)
@given(st.lists(_mangled_departements(), min_size=1, max_size=20))
def test_valid_departement_codes_round_trip(pairs) -> None:
    codes, mangled = zip(*pairs, strict=True)
    assert normalise_departement(pd.Series(mangled)).tolist() == list(codes)


@settings(max_examples=300, deadline=None)
@given(st.lists(_mangled_communes(), min_size=1, max_size=20))
def test_valid_commune_codes_round_trip(pairs) -> None:
    codes, mangled = zip(*pairs, strict=True)
    assert normalise_commune(pd.Series(mangled)).tolist() == list(codes)


# --- load_reference -----------------------------------------------------------------------


def test_reference_dir_overrides_qpv_and_falls_back_for_zsp(tmp_path: Path) -> None:
    _write(
        tmp_path / "qpv.csv",
        [ANCT_HEADER, "QN09301M;Francs-Moisins;11;IDF;93;SSD;93066;Saint-Denis;200054781;MGP"],
    )
    reference = load_reference(tmp_path)
    assert reference.qpv["code_qpv"].tolist() == ["QN09301M"]
    assert len(reference.zsp) == 80  # no zsp.csv there: the shipped synthetic list
    assert len(reference.departements) == 101
    assert load_reference(tmp_path) is reference  # cached
    _write(
        tmp_path / "qpv.csv",
        [ANCT_HEADER, "QN09302A;Floréal;11;IDF;93;SSD;93066;Saint-Denis;200054781;MGP;"],
    )
    assert load_reference(tmp_path).qpv["code_qpv"].tolist() == ["QN09302A"]
    assert len(load_reference().qpv) > 2_000  # the default is untouched


def test_reference_refresh_keeps_the_views_that_read_it(settings_on_both_engines) -> None:
    """Every ingestion refreshes the reference lists; after a warehouse build, views read them.

    On PostgreSQL a table with dependent views cannot be dropped: the refresh must replace the
    rows in place, or every ingestion after the first build fails.
    """
    from vigie.ingest.batches import ensure_schema, refresh_reference
    from vigie.reference.geography import load_reference
    from vigie.warehouse.connection import Warehouse

    warehouse = Warehouse(settings_on_both_engines)
    reference = load_reference()
    ensure_schema(warehouse)
    first = refresh_reference(warehouse, reference)
    with warehouse.transaction() as tx:
        tx.execute("CREATE SCHEMA IF NOT EXISTS staging")
        tx.execute("CREATE VIEW staging.departements_seen AS SELECT * FROM reference.departements")
    again = refresh_reference(warehouse, reference)
    assert again == first
    with warehouse.transaction() as tx:
        assert tx.fetchall("SELECT count(*) FROM staging.departements_seen")[0][0] == 101


def test_an_unchanged_reference_is_left_alone_and_a_new_one_replaces_it_in_place(
    settings_on_both_engines,
) -> None:
    """Every ingestion run refreshes the reference; rewriting identical rows would make the
    next warehouse build rebuild every dimension for nothing (vigie.warehouse.build_selection), so
    an unchanged list is skipped, and a changed one still replaces the rows under the views."""
    from dataclasses import replace

    from vigie.ingest.batches import ensure_schema, refresh_reference
    from vigie.reference.geography import load_reference
    from vigie.warehouse.connection import Warehouse

    warehouse = Warehouse(settings_on_both_engines)
    reference = load_reference()
    ensure_schema(warehouse)
    refresh_reference(warehouse, reference)
    loads = "SELECT table_name, loaded_at FROM audit.reference_loads ORDER BY table_name"
    with warehouse.transaction() as tx:
        before = tx.fetchall(loads)
        tx.execute("CREATE SCHEMA IF NOT EXISTS staging")
        tx.execute("CREATE VIEW staging.departements_seen AS SELECT * FROM reference.departements")
    assert [name for name, _ in before] == ["communes", "departements", "epci", "qpv", "zsp"]
    assert refresh_reference(warehouse, reference)["departements"] == 101
    with warehouse.transaction() as tx:
        assert tx.fetchall(loads) == before  # nothing rewritten

    fewer = replace(reference, departements=reference.departements.iloc[:100].copy())
    assert refresh_reference(warehouse, fewer)["departements"] == 100
    with warehouse.transaction() as tx:
        after = dict(tx.fetchall(loads))
        assert tx.fetchall("SELECT count(*) FROM staging.departements_seen")[0][0] == 100
    assert after["departements"] > dict(before)["departements"]
    assert after["communes"] == dict(before)["communes"]
