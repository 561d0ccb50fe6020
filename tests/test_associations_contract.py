"""The association contract as data: périodes, personal-data labels, neighbours, the template."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from vigie.contracts import associations as contract
from vigie.contracts.association_template import TEMPLATE_PATH, build_workbook, template_bytes
from vigie.ingest import association_loader as al
from vigie.reference.geography import load_reference
from vigie.reference.neighbours import adjacency, neighbours

from tests.association_files import drop, siret
from tests.conftest import make_settings


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("2018", "2018"),
        ("2018.0", "2018"),
        (" 2018-S1 ", "2018-S1"),
        ("2018 s2", "2018-S2"),
        ("S1 2019", "2019-S1"),
        ("1er semestre 2018", "2018-S1"),
        ("2e semestre 2018", "2018-S2"),
        ("2ème semestre 2020", "2020-S2"),
        ("Premier semestre 2021", "2021-S1"),
        ("second semestre 2021", "2021-S2"),
        ("Année 2019", "2019"),
        ("T3 2019", None),
        ("2018-S3", None),
        ("18", None),
        ("semestre", None),
        ("", None),
    ],
)
def test_periode_forms(written: str, canonical: str | None) -> None:
    assert contract.normalise_periode(written) == canonical


@pytest.mark.parametrize(
    ("label", "personal"),
    [
        ("Nom du jeune", True),
        ("prénom", True),
        ("Date de naissance", True),
        ("Téléphone du référent", True),
        ("E-mail", True),
        ("Adresse", True),
        ("NIR", True),
        ("Nombre de jeunes accueillis", False),
        ("Structure", False),
        ("Codes QPV", False),
        ("Nombre d'actions collectives", False),
        ("Hôtel de ville", False),
    ],
)
def test_personal_data_labels(label: str, personal: bool) -> None:
    assert contract.is_personal_label(label) is personal


def test_neighbours_are_symmetric_and_agree_with_the_epci_of_the_reference() -> None:
    table = adjacency()
    assert all(code in table[other] for code, others in table.items() for other in others)
    overseas = {"971", "972", "973", "974", "976"}
    metropolitan = set(load_reference().departements["code_departement"]) - overseas
    assert set(table) == metropolitan
    assert neighbours("974") == frozenset() and neighbours("2A") == {"2B"}
    # Two départements sharing an EPCI share a border; the one exception is the Métropole du
    # Grand Paris, which reaches from Paris's petite couronne into Essonne and Val-d'Oise.
    communes = load_reference().communes
    communes = communes[(communes["type"] == "commune-actuelle") & communes["siren_epci"].notna()]
    spans = (
        communes[communes["siren_epci"] != "200054781"]
        .groupby("siren_epci")["code_departement"]
        .unique()
    )
    for deps in spans:
        for a in deps:
            assert set(deps) - {a} <= neighbours(a), (a, sorted(deps))


def test_the_committed_template_is_the_one_the_contract_generates() -> None:
    assert TEMPLATE_PATH.read_bytes() == template_bytes(), (
        "run `uv run python -m vigie.contracts.association_template` after changing the contract"
    )
    book = build_workbook()
    labels = [book["Identification"].cell(r, 1).value for r in range(4, 9)]
    assert labels == list(contract.IDENTIFICATION_LABELS.values())
    header = [c.value for c in book["Activité"][2]]
    assert header == [contract.ACTIVITE_LABELS[c.name] for c in contract.ACTIVITE_COLUMNS]


def test_a_filled_in_template_loads(tmp_path: Path) -> None:
    """The template as a structure saves it from a spreadsheet (openpyxl: shared strings,
    styles, data validation) goes through the loader untouched."""
    from vigie.contracts.validation import Context
    from vigie.warehouse.connection import Warehouse

    book = build_workbook()
    for r, value in zip(
        range(4, 9), ["ANPAEJ", "PAEJ de Saint-Denis", siret(9), "93", "2019"], strict=True
    ):
        book["Identification"].cell(r, 2, value)
    book["Activité"].append(["93066", "QP093001", 320, 85, 24, 6, 2, 18000])
    book["Activité"].append(["93048", None, 45, 12, 3, None, None, None])
    buffer = io.BytesIO()
    book.save(buffer)
    settings = make_settings(tmp_path)
    drop(Path(settings.landing_url), "rempli.xlsx", buffer.getvalue())
    ctx = Context(load_reference(), settings.qpv_2024_from_year)

    [report] = al.ingest_reports(Warehouse(settings), settings.landing_url, ctx)

    assert (report.status, report.rows_loaded) == ("loaded", 2)
    with Warehouse(settings).transaction() as tx:
        raw = tx.fetch_frame(
            f"""
            SELECT code_commune, nb_jeunes_accueillis, source_row, source_sheet
            FROM {al.RAW_TABLE}
            ORDER BY source_row
            """
        )
    assert raw.astype(object).values.tolist() == [
        ["93066", 320, 203, "Activité"],
        ["93048", 45, 204, "Activité"],
    ]


def test_the_raw_table_holds_the_contract_columns_it_declares() -> None:
    raw_columns = [c.name for c in contract.RAW_TABLE.columns]
    assert raw_columns[: len(contract.KIND.columns)] == [c.name for c in contract.KIND.columns]
    assert set(contract.SENSITIVE_COLUMNS) <= set(raw_columns)
