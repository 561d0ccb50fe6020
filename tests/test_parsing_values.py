"""The French-tolerant parsers: every accepted spelling, every refused one."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from vigie.parsing.headers import header_key, map_header, synonym_index
from vigie.parsing.values import (
    luhn_ok,
    parse_date,
    parse_enum,
    parse_integer,
    parse_money,
    parse_percentage,
    unwrap_excel,
)

NBSP, NNBSP = "\u00a0", "\u202f"


@pytest.mark.parametrize(
    "text",
    [
        "12500.50",
        "12 500,50",
        f"12{NBSP}500,50 €",
        f"12{NNBSP}500,50",
        "12.500,50",
        "12,500.50",
        "EUR 12500,50",
        "12500,50EUR",
        " 12500.5 ",
    ],
)
def test_money_spellings_of_the_contract_read_the_same(text: str) -> None:
    values, ok, negative = parse_money(pd.Series([text]))
    assert ok.iloc[0] and not negative.iloc[0]
    assert values.iloc[0] == pytest.approx(12500.50)


@pytest.mark.parametrize("text", ["12,5,0", "douze mille", "N/A", "1.234.567", "12 50,00"])
def test_money_garbage_is_invalid_not_guessed(text: str) -> None:
    values, ok, _ = parse_money(pd.Series([text]))
    assert not ok.iloc[0]
    assert pd.isna(values.iloc[0])


def test_money_negative_is_flagged_and_invalid() -> None:
    _, ok, negative = parse_money(pd.Series(["-1 200,00 €"]))
    assert negative.iloc[0] and not ok.iloc[0]


def test_money_empty_is_absent_not_invalid() -> None:
    values, ok, _ = parse_money(pd.Series(["", None, "  "]))
    assert ok.all() and values.isna().all()


@given(st.integers(min_value=0, max_value=999_999_999), st.integers(min_value=0, max_value=99))
def test_money_property_french_and_english_groupings_round_trip(euros: int, cents: int) -> None:
    expected = euros + cents / 100
    grouped = f"{euros:,}"
    spellings = [
        f"{euros}.{cents:02d}",
        f"{euros},{cents:02d}",
        grouped.replace(",", NNBSP) + f",{cents:02d} €",
        grouped.replace(",", NBSP) + f",{cents:02d}",
        grouped.replace(",", " ") + f".{cents:02d}",
        (grouped.replace(",", ".") + f",{cents:02d}") if euros >= 1000 else f"{euros},{cents:02d}",
        (grouped + f".{cents:02d}") if euros >= 1000 else f"{euros}.{cents:02d}",
    ]
    values, ok, _ = parse_money(pd.Series(spellings))
    assert ok.all(), spellings
    assert values.tolist() == pytest.approx([expected] * len(spellings))


@pytest.mark.parametrize(
    ("text", "fraction"),
    [
        ("75", 0.75),
        ("75 %", 0.75),
        ("75,5%", 0.755),
        ("0.755", 0.755),
        ("0,755", 0.755),
        ("1", 0.01),
        ("1.0", 1.0),
        ("100", 1.0),
        ("0", 0.0),
        ("0,5 %", 0.005),
    ],
)
def test_percentage_fraction_or_percent_rule(text: str, fraction: float) -> None:
    values, ok = parse_percentage(pd.Series([text]))
    assert ok.iloc[0]
    assert values.iloc[0] == pytest.approx(fraction)


@pytest.mark.parametrize("text", ["150", "101 %", "-5", "beaucoup", "1,2,3"])
def test_percentage_outside_range_or_garbage_is_invalid(text: str) -> None:
    _, ok = parse_percentage(pd.Series([text]))
    assert not ok.iloc[0]


@given(st.integers(min_value=0, max_value=1000))
def test_percentage_property_permille_written_both_ways(permille: int) -> None:
    as_percent = f"{permille / 10:.1f}".replace(".", ",") + " %"
    as_fraction = f"{permille / 1000:.3f}"
    values, ok = parse_percentage(pd.Series([as_percent, as_fraction]))
    assert ok.all()
    assert values.tolist() == pytest.approx([permille / 1000] * 2)


@given(
    st.dates(
        min_value=pd.Timestamp("1960-01-01").date(), max_value=pd.Timestamp("2099-12-31").date()
    )
)
def test_date_property_three_spellings_agree(day) -> None:
    serial = (pd.Timestamp(day) - pd.Timestamp("1899-12-30")).days
    values, ok = parse_date(pd.Series([day.strftime("%d/%m/%Y"), day.isoformat(), str(serial)]))
    assert ok.all()
    assert values.tolist() == [day, day, day]


@pytest.mark.parametrize("text", ["31/02/2020", "2020-13-01", "hier", "12/2020"])
def test_date_impossible_or_unreadable_is_invalid(text: str) -> None:
    _, ok = parse_date(pd.Series([text]))
    assert not ok.iloc[0]


def test_year_range_and_spreadsheet_floats() -> None:
    values, ok = parse_integer(pd.Series(["2019", "2019.0", "1999", "20x9", ""]), 2015, 2035)
    assert ok.tolist() == [True, True, False, False, True]
    assert values.iloc[1] == 2019


def test_enum_labels_ignore_case_accents_and_punctuation() -> None:
    labels = {"videoprotection": "videoprotection", "preventionjeunes": "prevention_jeunes"}
    values, ok = parse_enum(pd.Series(["Vidéo-protection", "PRÉVENTION JEUNES", "autre"]), labels)
    assert values.tolist()[:2] == ["videoprotection", "prevention_jeunes"]
    assert ok.tolist() == [True, True, False]


def test_excel_leading_zero_protection_is_unwrapped() -> None:
    assert unwrap_excel(pd.Series(['="01053"', "01053", '="2A004"'])).tolist() == [
        "01053",
        "01053",
        "2A004",
    ]


def test_luhn_accepts_real_siret_and_refuses_a_typo() -> None:
    # 732 829 320 00074 is a published SIRET (INSEE's own establishment numbers pass Luhn).
    assert luhn_ok(pd.Series(["73282932000074", "73282932000075"])).tolist() == [True, False]


def _luhn(digits: str) -> bool:
    """The textbook check, one string at a time: what the vectorised one must agree with."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if position % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


@given(st.lists(st.text(alphabet="0123456789", min_size=1, max_size=16), max_size=40))
def test_luhn_property_agrees_with_the_textbook_check_whatever_the_lengths(codes) -> None:
    """SIRENs (9) and SIRETs (14) side by side in one column, and any other length."""
    assert luhn_ok(pd.Series(codes, dtype="string")).tolist() == [_luhn(c) for c in codes]


def test_luhn_ignores_spaces_and_refuses_blanks_and_non_digits() -> None:
    cells = [f"732 829 320{NBSP}00074", "7328293200007A", "", None, "٧٣٢٨٢٩٣٢٠٠٠٠٧٤"]
    assert luhn_ok(pd.Series(cells, dtype="string")).tolist() == [True, False, False, False, False]


@pytest.mark.parametrize(
    ("label", "canonical"),
    [
        ("Montant attribué", "montant_attribue"),
        ("MONTANT_ATTRIBUE", "montant_attribue"),
        ("montant-attribue", "montant_attribue"),
        ("Intitulé de l'action", "intitule_action"),
        ("Porteur du projet", "porteur"),
        ("N° dossier", "numero_dossier"),
        ("Département", "code_departement"),
    ],
)
def test_header_synonyms_with_the_contract_tolerance(label: str, canonical: str) -> None:
    index = synonym_index(
        {
            "montant_attribue": ["montant"],
            "intitule_action": ["action"],
            "porteur": ["porteur_projet"],
            "numero_dossier": ["n_dossier"],
            "code_departement": ["departement"],
        }
    )
    assert map_header([label], index) == {0: canonical}
    assert header_key(label) == header_key(label.upper())
