"""Association activity reports (docs/contracts/associations.md) as data.

Why a module of data: the loader, the XLSX template, the sample generator and the tests must
agree on one list of columns, labels, synonyms and rules. Every shape (the XLSX template with
its ``Identification`` and ``Activité`` sheets, the flat CSV, the JSON of the online form) is
turned into one table whose columns are the identification fields followed by the activity
columns, so the shared :class:`~vigie.contracts.validation.Kind` machinery types, rejects and
quarantines them all the same way.

A report is one file: one structure (SIRET), one période. What makes the *whole* report
unusable (an invalid SIRET, an unreadable période, identification fields that differ between
rows, any column about individuals) is decided per file by the loader with the helpers below,
before the row-level validation.
"""

from __future__ import annotations

import re
import unicodedata

import pandas as pd

from vigie.contracts.prefectures import qpv_departement
from vigie.contracts.raw_tables import RawTableSpec
from vigie.contracts.validation import PERSONAL_DATA_KEYS, Column, Context, Kind
from vigie.parsing.headers import header_key
from vigie.parsing.values import label_key
from vigie.reference.neighbours import neighbours

SOURCE = "associations"
KIND_NAME = "rapport_activite"

RESEAUX = {
    "FNEPE": (
        "Fédération nationale des écoles des parents et des éducateurs",
        "École des parents et des éducateurs",
        "École des parents",
        "EPE",
    ),
    "ANPAEJ": (
        "Association nationale des points accueil-écoute jeunes",
        "Point accueil écoute jeunes",
        "Points accueil-écoute jeunes",
        "PAEJ",
    ),
    "CNLAPS": (
        "Comité national de liaison des associations de prévention spécialisée",
        "Prévention spécialisée",
        "Club de prévention",
    ),
    "Autre": ("Autres", "Autre réseau", "Aucun"),
}
RESEAU_LABELS = {label_key(x): code for code, xs in RESEAUX.items() for x in (code, *xs)}

# The Identification sheet: canonical field -> the label the template writes in column A.
IDENTIFICATION_LABELS = {
    "reseau": "Réseau",
    "structure": "Structure",
    "siret": "SIRET",
    "code_departement": "Département",
    "periode": "Période",
}
IDENTIFICATION = tuple(IDENTIFICATION_LABELS)

COUNT_HIGH = 10_000_000  # a structure reports hundreds; this only refuses absurd figures
ACTIVITE_COLUMNS = (
    Column("code_commune", "commune", True, ("commune", "code_insee", "insee", "insee_commune")),
    Column("codes_qpv", "qpv_list", synonyms=("qpv", "quartiers", "quartiers_prioritaires")),
    Column(
        "nb_jeunes_accueillis",
        "integer",
        True,
        ("jeunes_accueillis", "nombre_jeunes_accueillis", "nb_jeunes"),
        low=0,
        high=COUNT_HIGH,
    ),
    Column(
        "nb_familles_accompagnees",
        "integer",
        True,
        ("familles_accompagnees", "nombre_familles_accompagnees", "nb_familles"),
        low=0,
        high=COUNT_HIGH,
    ),
    Column(
        "nb_actions_collectives",
        "integer",
        True,
        ("actions_collectives", "nombre_actions_collectives", "nb_actions"),
        low=0,
        high=COUNT_HIGH,
    ),
    Column(
        "nb_professionnels_formes",
        "integer",
        False,
        ("professionnels_formes", "nombre_professionnels_formes"),
        low=0,
        high=COUNT_HIGH,
    ),
    # Sensitive (docs/domain.md, GDPR art. 9/10): kept in the raw layer only, never downstream.
    Column(
        "nb_situations_radicalisation_orientees",
        "integer",
        False,
        (
            "situations_radicalisation_orientees",
            "nombre_situations_radicalisation_orientees",
            "orientations_radicalisation",
        ),
        low=0,
        high=COUNT_HIGH,
    ),
    Column("montant_fipd_recu", "money", synonyms=("montant_fipd", "fipd_recu", "subvention_fipd")),
)
IDENTIFICATION_COLUMNS = (
    Column("reseau", "enum", True, ("reseau_associatif", "federation"), labels=RESEAU_LABELS),
    Column(
        "structure",
        "text",
        True,
        ("nom_structure", "structure_nom", "association", "raison_sociale", "organisme"),
    ),
    Column("siret", "siret", True, ("numero_siret", "n_siret", "siret_structure")),
    Column("code_departement", "departement", True, ("departement", "dep", "code_dep")),
    Column("periode", "text", True, ("periode_rapport", "periode_concernee")),
)
SENSITIVE_COLUMNS = ("nb_situations_radicalisation_orientees",)
COUNT_COLUMNS = tuple(c.name for c in ACTIVITE_COLUMNS if c.type == "integer")

# What the template writes as the Activité header (all recognised by the synonyms above).
ACTIVITE_LABELS = {
    "code_commune": "Code commune",
    "codes_qpv": "Codes QPV",
    "nb_jeunes_accueillis": "Nombre de jeunes accueillis",
    "nb_familles_accompagnees": "Nombre de familles accompagnées",
    "nb_actions_collectives": "Nombre d'actions collectives",
    "nb_professionnels_formes": "Nombre de professionnels formés",
    "nb_situations_radicalisation_orientees": "Nombre de situations de radicalisation orientées",
    "montant_fipd_recu": "Montant FIPD reçu",
}
SHEET_IDENTIFICATION = "Identification"
SHEET_ACTIVITE = "Activité"

# --- période --------------------------------------------------------------------------------

PERIODE_PATTERN = re.compile(r"(20[1-3]\d)(?:-S[12])?")
_YEAR = r"(20[1-3]\d)"
_PERIODE_FORMS = (
    (re.compile(rf"{_YEAR}"), "{y}"),
    (re.compile(rf"{_YEAR}\s*[-_/ ]?\s*s\s*([12])"), "{y}-S{s}"),
    (re.compile(rf"s\s*([12])\s*[-_/ ]?\s*{_YEAR}"), "{y}-S{s}"),
    (
        re.compile(rf"([12])\s*(?:er|ere|e|eme|nd|nde)?\s*semestre\s*(?:de\s*|d\s*)?{_YEAR}"),
        "{y}-S{s}",
    ),
    (re.compile(rf"(premier|second|deuxieme)\s*semestre\s*(?:de\s*)?{_YEAR}"), "{y}-S{s}"),
    (re.compile(rf"(?:annee|exercice)\s*{_YEAR}"), "{y}"),
)
_SEMESTER_WORDS = {"premier": "1", "second": "2", "deuxieme": "2", "1": "1", "2": "2"}


def normalise_periode(text: str | None) -> str | None:
    """``2018``, ``2018-S1``, ``S2 2018``, ``1er semestre 2018`` -> ``2018`` / ``2018-S1``.

    None when the text is no période the contract accepts (the report is then quarantined).
    """
    if text is None:
        return None
    folded = unicodedata.normalize("NFKD", str(text).strip().lower())
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = re.sub(r"\s+", " ", folded.replace("\u00a0", " ")).strip()
    folded = re.sub(r"\.0$", "", folded)  # 2018.0 from a spreadsheet's number cell
    for pattern, form in _PERIODE_FORMS:
        match = pattern.fullmatch(folded)
        if not match:
            continue
        groups = match.groups()
        if len(groups) == 1:
            return form.format(y=groups[0])
        first, second = groups
        year, semester = (first, second) if first.startswith("20") else (second, first)
        return form.format(y=year, s=_SEMESTER_WORDS[semester])
    return None


def periode_year(periode: pd.Series) -> pd.Series:
    """``2018-S1`` -> 2018 (Int64)."""
    return pd.to_numeric(periode.str.slice(0, 4), errors="coerce").astype("Int64")


# --- personal data --------------------------------------------------------------------------

# Words that, in a column or label that is not one of the contract's, reveal data about a
# person: stricter than the shared list, because association reports are about young people.
PERSONAL_TOKENS = frozenset(
    {
        "nom",
        "noms",
        "prenom",
        "prenoms",
        "naissance",
        "ddn",
        "telephone",
        "tel",
        "portable",
        "email",
        "mail",
        "courriel",
        "adresse",
        "nir",
        "secu",
        "nationalite",
        "religion",
    }
)


def is_personal_label(label: str) -> bool:
    """True for a header or Identification label naming data about an individual."""
    if header_key(label) in PERSONAL_DATA_KEYS:
        return True
    folded = unicodedata.normalize("NFKD", label)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).lower()
    return any(token in PERSONAL_TOKENS for token in re.split(r"[^a-z0-9]+", folded))


# --- SIRET ----------------------------------------------------------------------------------


def siret_ok(text: str | None) -> bool:
    """14 digits passing the Luhn check (the contract's "SIRET invalid" is anything else)."""
    digits = re.sub(r"[\s\u00a0\u202f.]+", "", text or "")
    if not re.fullmatch(r"\d{14}", digits):
        return False
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        if position % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# --- row rules ------------------------------------------------------------------------------


def _territory_rules(typed: pd.DataFrame, ctx: Context) -> list[tuple[pd.Series, str, str]]:
    """A commune, and each QPV, lies in the declared département or a neighbouring one; the
    QPV belongs to the geography of the report's year."""
    found: list[tuple[pd.Series, str, str]] = []
    declared = typed["code_departement"]
    allowed = declared.map(lambda d: neighbours(d) | {d} if isinstance(d, str) else set())
    commune_dep = typed["code_commune"].map(_commune_departements(ctx), na_action="ignore")
    outside = [
        isinstance(dep, str) and dep not in ok
        for dep, ok in zip(commune_dep.tolist(), allowed.tolist(), strict=True)
    ]
    found.append(
        (pd.Series(outside, index=typed.index), "code_commune", "commune_outside_departement")
    )
    codes = typed["codes_qpv"].str.split("|").explode().dropna()
    if not codes.empty:
        qpv_dep = qpv_departement(codes)
        far = pd.Series(
            [q not in allowed[i] for i, q in zip(codes.index, qpv_dep.tolist(), strict=True)],
            index=codes.index,
        )
        year = periode_year(typed.loc[codes.index, "periode"])
        expected = pd.Series("QP", index=codes.index).where(year < ctx.qpv_2024_from_year, "QN")
        wrong_geo = (codes.str.slice(0, 2) != expected).fillna(False)
        found.append(
            (
                far.groupby(level=0).any().reindex(typed.index, fill_value=False),
                "codes_qpv",
                "qpv_outside_departement",
            )
        )
        found.append(
            (
                wrong_geo.groupby(level=0).any().reindex(typed.index, fill_value=False),
                "codes_qpv",
                "qpv_wrong_geography",
            )
        )
    return found


_COMMUNE_DEPS: list[tuple[pd.DataFrame, dict[str, str]]] = []


def _commune_departements(ctx: Context) -> dict[str, str]:
    """Commune code -> département code of the reference (built once per reference frame; the
    frame is held with its map, so a new reference is never mistaken for the old one)."""
    communes = ctx.reference.communes
    if not _COMMUNE_DEPS or _COMMUNE_DEPS[0][0] is not communes:
        mapping = dict(
            zip(
                communes["code_commune"].tolist(),
                communes["code_departement"].tolist(),
                strict=True,
            )
        )
        _COMMUNE_DEPS[:] = [(communes, mapping)]
    return _COMMUNE_DEPS[0][1]


KIND = Kind(
    source=SOURCE,
    name=KIND_NAME,
    columns=(*IDENTIFICATION_COLUMNS, *ACTIVITE_COLUMNS),
    rules=(_territory_rules,),
    # A newer report for the same structure and période supersedes the earlier one.
    period_columns=("siret", "periode"),
)
KINDS: tuple[Kind, ...] = (KIND,)

RAW_TABLE = RawTableSpec("raw.association_reports", KIND)
RAW_TABLES = (RAW_TABLE,)
