"""Prefecture exports (docs/contracts/prefectures.md): FIPD programmes and contrats de ville."""

from __future__ import annotations

import pandas as pd

from vigie.contracts.raw_tables import RawTableSpec
from vigie.contracts.validation import (
    Column,
    Context,
    Kind,
    NotAbove,
    RequiredWhen,
    UniqueWithinFile,
    per_file_mode,
)
from vigie.parsing.values import label_key

SOURCE = "prefectures"


def _labels(mapping: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """``{code: (labels...)}`` -> ``{label_key: code}``; each code matches itself too."""
    out: dict[str, str] = {}
    for code, labels in mapping.items():
        for label in (code, *labels):
            out[label_key(label)] = code
    return out


PROGRAMMES = _labels(
    {
        "D": ("Prévention de la délinquance", "Prévention délinquance", "Délinquance"),
        "R": (
            "Radicalisation",
            "Prévention de la radicalisation",
            "Prévention de la radicalisation et du séparatisme",
        ),
        "S": ("Sécurisation", "Sécurisation des sites", "Vidéoprotection et sécurisation"),
        "K": ("Sites sensibles", "Sécurisation des sites sensibles", "Sites sensibles et cultuels"),
    }
)
NATURES = _labels(
    {
        "videoprotection": ("Vidéo-protection", "Vidéoprotection", "Vidéo protection"),
        "securisation_etablissements": (
            "Sécurisation des établissements",
            "Sécurisation établissements",
            "Sécurisation des établissements scolaires",
        ),
        "equipement_police_municipale": (
            "Équipement police municipale",
            "Équipement de la police municipale",
            "Équipement des polices municipales",
        ),
        "prevention_jeunes": ("Prévention jeunes", "Prévention des jeunes", "Jeunesse"),
        "aide_aux_victimes": ("Aide aux victimes",),
        "violences_intrafamiliales": ("Violences intrafamiliales", "VIF"),
        "relation_population_forces_securite": (
            "Relation population forces de sécurité",
            "Relation police-population",
            "Lien police-population",
        ),
        "prevention_radicalisation": ("Prévention de la radicalisation", "Radicalisation"),
        "autre": ("Autre", "Autres"),
    }
)
TYPES_PORTEUR = _labels(
    {
        "association": ("Association", "Asso"),
        "commune": ("Commune", "Collectivité", "Collectivité territoriale", "Mairie"),
        "epci": ("EPCI", "Intercommunalité", "Communauté de communes", "Métropole"),
        "bailleur_social": ("Bailleur", "Bailleur social", "Office HLM"),
        "etablissement_public": ("Établissement public", "EPLE", "Collège", "Lycée"),
        "etat": ("État", "Service de l'État"),
        "autre": ("Autre",),
    }
)
PLAN_RADICALISATION = _labels(
    {
        "oui": ("Oui", "O", "X", "Adopté", "Adoptée"),
        "non": ("Non", "N"),
        "en_cours": ("En cours", "En préparation"),
    }
)

DEPARTEMENT = Column("code_departement", "departement", True, ("dep", "departement", "code_dep"))

FIPD_COLUMNS = (
    DEPARTEMENT,
    Column("annee", "integer", True, ("exercice", "annee_budgetaire"), low=2015, high=2035),
    Column("numero_dossier", "text", True, ("n_dossier", "numero", "num_dossier", "n° dossier")),
    Column("porteur", "text", True, ("beneficiaire", "structure", "porteur_projet")),
    Column("siret", "siret"),
    Column("type_porteur", "enum", labels=TYPES_PORTEUR),
    Column("intitule_action", "text", True, ("action", "libelle", "intitule")),
    Column("programme", "enum", True, ("axe", "programme_fipd"), labels=PROGRAMMES),
    Column("nature", "enum", synonyms=("type_action",), labels=NATURES),
    Column("montant_demande", "money", synonyms=("montant_sollicite",)),
    Column(
        "montant_attribue",
        "money",
        True,
        ("montant", "subvention", "montant_accorde"),
    ),
    Column("date_attribution", "date", synonyms=("date_decision",)),
    Column("code_commune", "commune", synonyms=("commune", "code_insee", "insee_commune")),
    Column("codes_qpv", "qpv_list", synonyms=("qpv", "quartiers", "quartiers_prioritaires")),
    Column("zsp", "zsp", synonyms=("code_zsp", "zone_securite_prioritaire")),
    # "% QPV" is the share (the sign is significant: vigie.parsing.headers), never codes_qpv.
    Column(
        "part_qpv",
        "percentage",
        synonyms=("part_beneficiaires_qpv", "% qpv", "% beneficiaires qpv"),
    ),
)

CONTRATS_COLUMNS = (
    DEPARTEMENT,
    Column("annee", "integer", True, low=2014, high=2035),
    Column("contrat_id", "text", True, ("id_contrat", "contrat")),
    Column("nom_contrat", "text", True, ("intitule", "nom")),
    Column("siren_epci", "siren"),
    Column(
        "plan_radicalisation",
        "enum",
        True,
        ("annexe_part", "plan_local_radicalisation"),
        labels=PLAN_RADICALISATION,
        default="non",
    ),
    Column("date_adoption_plan", "date"),
    Column("nb_qpv", "integer", low=0, high=500),
)


def _file_departement(typed: pd.DataFrame) -> list[tuple[pd.Series, str, str]]:
    """A file is one prefecture's: a row naming another département than the file's is invalid.

    The file's département is the most frequent one among its rows (ties: the smallest code).
    """
    main = per_file_mode(typed, "code_departement")
    differs = typed["code_departement"].notna() & (typed["code_departement"] != main)
    return [(differs, "code_departement", "departement_differs")]


# Rules receive the typed rows of a whole batch of files of their kind, tagged with
# FILE_INDEX: "within the file" below means grouped by it (see vigie.contracts.validation.Rule).


def _fipd_rules(typed: pd.DataFrame, ctx: Context) -> list[tuple[pd.Series, str, str]]:
    found = _file_departement(typed)
    found.extend(_qpv_fit(typed, ctx))
    zsp_dep = typed["zsp"].map(
        ctx.reference.zsp.set_index("code_zsp")["code_departement"], na_action="ignore"
    )
    found.append(
        (zsp_dep.notna() & (zsp_dep != typed["code_departement"]), "zsp", "zsp_other_departement")
    )
    return found


def qpv_departement(codes: pd.Series) -> pd.Series:
    """``QP093006`` -> ``93``; ``QN02A01M`` -> ``2A``; ``QP971001`` -> ``971``."""
    part = codes.str.slice(2, 5)
    return part.where(~part.str.startswith("0"), part.str.slice(1, 3))


def _qpv_fit(typed: pd.DataFrame, ctx: Context) -> list[tuple[pd.Series, str, str]]:
    """Each QPV must lie in the row's département and belong to the year's geography."""
    lists = typed["codes_qpv"].dropna()
    several = lists.str.contains("|", regex=False)  # split (in Python) only real lists
    codes = pd.concat([lists[~several], lists[several].str.split("|").explode()])
    if codes.empty:
        return []
    rows = typed.loc[codes.index]
    other_dep = (qpv_departement(codes) != rows["code_departement"]).fillna(False)
    expected_prefix = pd.Series("QP", index=codes.index).where(
        rows["annee"] < ctx.qpv_2024_from_year, "QN"
    )
    wrong_geo = (codes.str.slice(0, 2) != expected_prefix).fillna(False)
    return [
        (
            other_dep.groupby(level=0).any().reindex(typed.index, fill_value=False),
            "codes_qpv",
            "qpv_other_departement",
        ),
        (
            wrong_geo.groupby(level=0).any().reindex(typed.index, fill_value=False),
            "codes_qpv",
            "qpv_wrong_geography",
        ),
    ]


def _contrats_rules(typed: pd.DataFrame, ctx: Context) -> list[tuple[pd.Series, str, str]]:
    return _file_departement(typed)


# Cross-column rules declared as data: the row verdicts and the Great Expectations suite
# (vigie.ingest.expectations, include/expectations/) are both built from these.
FIPD_CHECKS = (
    NotAbove("montant_attribue", "montant_demande", "attribue_exceeds_demande"),
    UniqueWithinFile("numero_dossier", "duplicate_dossier"),
)
CONTRATS_CHECKS = (
    RequiredWhen("date_adoption_plan", "plan_radicalisation", "oui"),
    UniqueWithinFile("contrat_id", "duplicate_contrat"),
)
PERIOD = ("code_departement", "annee")
FIPD = Kind(SOURCE, "fipd", FIPD_COLUMNS, (_fipd_rules,), PERIOD, FIPD_CHECKS)
CONTRATS = Kind(SOURCE, "contrats", CONTRATS_COLUMNS, (_contrats_rules,), PERIOD, CONTRATS_CHECKS)
KINDS = (FIPD, CONTRATS)

RAW_TABLES = (
    RawTableSpec("raw.prefecture_fipd_actions", FIPD),
    RawTableSpec("raw.prefecture_contrats_de_ville", CONTRATS),
)
