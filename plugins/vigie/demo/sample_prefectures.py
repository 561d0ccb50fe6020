"""A deterministic sample landing zone of prefecture FIPD exports (docs/contracts/prefectures.md).

Why: the platform must be demonstrable and testable without real prefecture exports, and the
exports it will receive are messy in known ways. This generator writes one FIPD programme file
per département and year, in four shapes that rotate across départements (clean CSV, messy
French Windows-1252 CSV, comma CSV with BOM and synonym headers, XLSX with a title row), with
realistic magnitudes (docs/domain.md) and a known answer: which départements fall below the 75 %
priority share, which files carry deliberately invalid rows. Same seed, same bytes (file
modification times included), so tests can rely on it.

Territories come from the reference in force (``load_reference(settings.reference_dir)``): real
communes, and QPV of the geography the year is measured against (2015 list before
``VIGIE_QPV_2024_FROM_YEAR``, 2024 list from then on).
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import os
import random
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal
from xml.sax.saxutils import escape as xml_escape

import pandas as pd

from vigie.reference.geography import ReferenceData, load_reference, normalise_departement
from vigie.settings import get_settings

FIXED_YEARS = (2017, 2018, 2019, 2020)
SECOND_CHECK_YEAR = 2019  # the other year with a known set of départements below target
TARGET = 0.75
# National FIPD, M€ (docs/domain.md); later years repeat the last known figure.
NATIONAL_FUND = {
    2016: 69.4,
    2017: 102.0,
    2018: 72.9,
    2019: 67.3,
    2020: 66.1,
    2021: 69.0,
    2022: 75.0,
    2023: 82.0,
    2024: 87.4,
}
DELEGATED = 0.9  # share of the fund delegated to prefects
FLOOR_SHARE = 0.10  # share of the delegated fund split evenly (every prefecture gets some)
PROGRAMME_SHARE = {"D": 0.48, "R": 0.24, "S": 0.23, "K": 0.05}
# Lognormal amounts per programme: (median €, sigma, min, max)
AMOUNTS = {
    "D": (9_000, 0.7, 1_500, 60_000),
    "R": (12_000, 0.6, 2_000, 70_000),
    "S": (25_000, 0.7, 3_000, 150_000),
    "K": (40_000, 0.5, 8_000, 150_000),
}
MIN_ACTIONS, MAX_ACTIONS = 5, 300
DIRTY_SHARE = 0.2  # share of départements whose files carry invalid rows
MAX_BAD_SHARE = 0.15  # invalid rows per file stay well under the 20 % quarantine threshold

SHAPES = {
    1: "clean CSV: UTF-8 without BOM, ';', canonical headers, 12500.50, yyyy-mm-dd",
    2: "messy French CSV: Windows-1252, ';', human headers, labels, 12 500,50 €, dd/mm/yyyy",
    3: "CSV with BOM: UTF-8, ',' and quoted fields, synonym headers, =\"01053\", 62 % / 0,62",
    4: "XLSX: merged title row and a blank row above the header, numbers and date cells",
}
# Each column of an export: canonical name, the header a person types, a synonym header.
_HEADERS = [
    ("code_departement", "Département", "dep"),
    ("annee", "Année", "exercice"),
    ("numero_dossier", "N° dossier", "num_dossier"),
    ("porteur", "Porteur du projet", "beneficiaire"),
    ("siret", "SIRET", "siret"),
    ("type_porteur", "Type de porteur", "type_porteur"),
    ("intitule_action", "Intitulé de l'action", "libelle"),
    ("programme", "Programme", "axe"),
    ("nature", "Nature", "type_action"),
    ("montant_demande", "Montant demandé", "montant_sollicite"),
    ("montant_attribue", "Montant attribué", "montant"),
    ("date_attribution", "Date de décision", "date_decision"),
    ("code_commune", "Commune", "code_commune"),
    ("codes_qpv", "QPV", "quartiers"),
    ("zsp", "ZSP", "code_zsp"),
    ("part_qpv", "Part bénéficiaires QPV", "part_beneficiaires_qpv"),
]
CANONICAL = [canonical for canonical, _, _ in _HEADERS]
HUMAN = [human for _, human, _ in _HEADERS]
SYNONYMS = [synonym for _, _, synonym in _HEADERS]
PROGRAMME_LABELS = {
    "D": "Prévention de la délinquance",
    "R": "Radicalisation",
    "S": "Sécurisation",
    "K": "Sites sensibles",
}
NATURE_LABELS = {
    "videoprotection": "Vidéo-protection",
    "securisation_etablissements": "Sécurisation des établissements",
    "equipement_police_municipale": "Équipement police municipale",
    "prevention_jeunes": "Prévention jeunes",
    "aide_aux_victimes": "Aide aux victimes",
    "violences_intrafamiliales": "Violences intrafamiliales",
    "relation_population_forces_securite": "Relation police-population",
    "prevention_radicalisation": "Prévention de la radicalisation",
    "autre": "Autre",
}
TYPE_LABELS = {
    "association": "Association",
    "commune": "Collectivité",
    "epci": "Intercommunalité",
    "bailleur_social": "Bailleur",
    "etablissement_public": "Établissement public",
}
NATURES = {  # programme -> [(nature, weight)]
    "D": [
        ("prevention_jeunes", 45),
        ("aide_aux_victimes", 15),
        ("violences_intrafamiliales", 15),
        ("relation_population_forces_securite", 12),
        ("autre", 5),
        ("videoprotection", 8),
    ],
    "R": [("prevention_radicalisation", 90), ("autre", 10)],
    "S": [
        ("videoprotection", 60),
        ("securisation_etablissements", 25),
        ("equipement_police_municipale", 15),
    ],
    "K": [("securisation_etablissements", 80), ("autre", 20)],
}
ACTIONS = {
    "prevention_jeunes": [
        "Chantiers éducatifs d'été",
        "Médiation sociale de nuit",
        "Prévention spécialisée : travail de rue",
        "Accompagnement des collégiens exclus temporairement",
        "Ateliers citoyenneté et usages du numérique",
        "Séjours de rupture pour jeunes en difficulté",
    ],
    "aide_aux_victimes": [
        "Permanence d'aide aux victimes au commissariat",
        "Accompagnement juridique des victimes",
        "Accueil de jour des victimes",
    ],
    "violences_intrafamiliales": [
        "Intervenant social en commissariat et gendarmerie",
        "Hébergement d'urgence des victimes de violences conjugales",
        "Groupes de parole pour auteurs de violences",
    ],
    "relation_population_forces_securite": [
        "Rencontres jeunes et policiers",
        "Tournoi sportif police-population",
        "Délégué à la cohésion police-population",
    ],
    "prevention_radicalisation": [
        "Accompagnement des familles (cellule de suivi)",
        "Formation des acteurs aux valeurs de la République",
        "Prise en charge psychologique de jeunes signalés",
        "Ateliers esprit critique et théories du complot",
    ],
    "videoprotection": [
        "Extension du système de vidéoprotection",
        "Création d'un centre de supervision urbain",
        "Caméras aux entrées de ville",
    ],
    "securisation_etablissements": [
        "Sécurisation des accès d'un établissement scolaire",
        "Clôtures et contrôle d'accès",
        "Sécurisation d'un lieu de culte",
    ],
    "equipement_police_municipale": [
        "Caméras-piétons pour la police municipale",
        "Gilets pare-balles de la police municipale",
        "Radios de la police municipale",
    ],
    "autre": ["Diagnostic local de sécurité", "Coordination du CLSPD", "Action de prévention"],
}
ASSOCIATIONS = [
    "Association de prévention spécialisée {c}",
    "Centre social {c}",
    "Maison des jeunes et de la culture de {c}",
    "Association Médiation et Citoyenneté {c}",
    "Club de prévention de {c}",
    "Association Sport et Citoyenneté {c}",
    "Régie de quartier de {c}",
    "Association Parents et Écoles {c}",
    "Association d'aide aux victimes ({d})",
    "Centre d'information sur les droits des femmes ({d})",
    "Association Théâtre-Forum {c}",
    "Point accueil écoute jeunes {c}",
]
FRENCH_SEPARATORS = ("\u00a0", " ")  # Windows-1252 has no U+202F: it goes to shape 3
MONTHS_CURRENT = (2, 6)  # decisions of the current year: February to June


@dataclass
class SampleSummary:
    """What was written, and the answers a test or a demo can check against."""

    out_dir: Path
    files: list[Path]
    years: list[int]
    below_target: dict[int, list[str]]  # year -> départements generated below the 75 % share
    clean_departements: list[str]  # départements whose files have no invalid row


@dataclass
class _Action:
    programme: str
    nature: str
    amount: float
    porteur: tuple[str, str, str | None]  # name, type, siret
    intitule: str = ""
    demande: float | None = None
    decided: date | None = None
    commune: str | None = None
    qpv: list[str] = field(default_factory=list)
    zsp: str | None = None
    part: float | None = None
    numero: str = ""


def shape_of(departement: str, year: int) -> int:
    """The shape (1-4, see :data:`SHAPES`) of a département-year's file.

    ``1 + (rank + year) % 4``, where ``rank`` is the département's position in the reference
    list (``01`` = 0 ... ``976`` = 100): every year holds all four shapes, about 25 files each,
    and a département's shape changes from one year to the next.
    """
    order = list(load_reference().departements["code_departement"])
    return _shape(order.index(departement), year)


def _shape(rank: int, year: int) -> int:
    return 1 + (rank + year) % 4


def luhn_complete(digits: str) -> str:
    """Append the check digit that makes ``digits`` pass the Luhn check (SIREN/SIRET)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        d = int(char)
        if position % 2 == 0:  # these are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return digits + str((10 - total % 10) % 10)


def _siret(rng: random.Random) -> str:
    siren = luhn_complete(str(rng.randint(10_000_000, 99_999_999)))
    return luhn_complete(siren + f"{rng.randint(1, 9):04d}")


class _Territory:
    """One département's communes, QPV per geography, ZSP and organisations."""

    def __init__(
        self, dep: str, nom: str, frames: dict[str, pd.DataFrame], known: set[str], seed: int
    ) -> None:
        rng = random.Random(f"{seed}:{dep}:porteurs")
        self.dep = dep
        self.nom = nom
        communes, qpv, zsp = frames["communes"], frames["qpv"], frames["zsp"]
        actual = communes[communes["type"] == "commune-actuelle"].sort_values(
            ["population", "code_commune"], ascending=[False, True]
        )
        top = actual.head(40)
        self.top_codes = [str(c) for c in top["code_commune"]]
        self.top_names = [str(n) for n in top["nom_commune"]]
        self.cum_weights = list(
            itertools.accumulate(math.sqrt(max(int(p), 1)) for p in top["population"])
        )
        # Paris, Lyon, Marseille: an action may name an arrondissement instead of the city.
        self.arrondissements: dict[str, list[str]] = {}
        for code in communes.loc[communes["type"] == "arrondissement-municipal", "code_commune"]:
            city = {"75": "75056", "69": "69123", "13": "13055"}[code[:2]]
            self.arrondissements.setdefault(city, []).append(str(code))
        self.qpv = {
            str(g): list(zip(f["code_qpv"], f["codes_communes"].str.split("|").str[0], strict=True))
            for g, f in qpv.groupby("geographie")
        }
        self.zsp = list(
            zip(zsp["code_zsp"], zsp["codes_communes"].str.split("|").str[0], strict=True)
        )
        self.unknown_commune = self._unknown_commune(known)
        self.porteurs = self._porteurs(rng)

    def _unknown_commune(self, known: set[str]) -> str:
        for tail in ("999", "998", "997", "99", "98"):
            code = (self.dep + tail)[:5]
            if len(code) == 5 and code not in known:
                return code
        raise RuntimeError(f"no free commune code in {self.dep}")

    def _porteurs(self, rng: random.Random) -> dict[str, list[tuple[str, str, str | None]]]:
        towns = self.top_names[:8] or [self.nom]
        pool: dict[str, list[tuple[str, str, str | None]]] = {}
        names = rng.sample(ASSOCIATIONS, 8)
        pool["association"] = [
            (n.format(c=rng.choice(towns), d=self.nom), "association", _siret(rng)) for n in names
        ]
        pool["commune"] = [(f"Commune de {t}", "commune", _siret(rng)) for t in towns[:4]]
        pool["epci"] = [(f"Communauté d'agglomération de {towns[0]}", "epci", _siret(rng))]
        pool["bailleur_social"] = [
            (f"{self.nom} Habitat", "bailleur_social", _siret(rng)),
            (f"Office public de l'habitat de {towns[0]}", "bailleur_social", _siret(rng)),
        ]
        pool["etablissement_public"] = [
            (f"Collège du centre de {towns[0]}", "etablissement_public", _siret(rng)),
            (f"Lycée professionnel de {towns[-1]}", "etablissement_public", _siret(rng)),
        ]
        return pool

    def porteur_for(self, nature: str, rng: random.Random) -> tuple[str, str, str | None]:
        if nature in {"videoprotection", "equipement_police_municipale"}:
            kind = rng.choices(["commune", "epci"], [85, 15])[0]
        elif nature == "securisation_etablissements":
            kind = rng.choice(["etablissement_public", "commune", "bailleur_social"])
        else:
            kind = rng.choices(["association", "commune", "bailleur_social"], [85, 10, 5])[0]
        return rng.choice(self.porteurs[kind])

    def some_commune(self, rng: random.Random) -> str:
        return rng.choices(self.top_codes, cum_weights=self.cum_weights)[0]

    def maybe_arrondissement(self, commune: str, rng: random.Random) -> str:
        if commune in self.arrondissements and rng.random() < 0.4:
            return rng.choice(self.arrondissements[commune])
        return commune


def _budgets(ref: ReferenceData, year: int) -> dict[str, float]:
    """The delegated fund of ``year`` split across départements by QPV count and population."""
    fund = NATIONAL_FUND.get(year, NATIONAL_FUND[max(NATIONAL_FUND)]) * 1e6 * DELEGATED
    deps = list(ref.departements["code_departement"])
    qpv = ref.qpv[ref.qpv["geographie"] == "2015"].groupby("code_departement").size()
    pop = (
        ref.communes[ref.communes["type"] == "commune-actuelle"]
        .groupby("code_departement")["population"]
        .sum()
    )
    q_total, p_total = float(qpv.sum()), float(pop.sum())
    out = {}
    for dep in deps:
        weight = 0.6 * float(qpv.get(dep, 0)) / q_total + 0.4 * float(pop.get(dep, 0)) / p_total
        out[dep] = fund * (FLOOR_SHARE / len(deps) + (1 - FLOOR_SHARE) * weight)
    return out


def _round_amount(value: float, rng: random.Random) -> float:
    rounded = round(value / 50) * 50
    if rng.random() < 0.15:
        return rounded + rng.choice([0.5, 0.25, 0.8, 0.4])
    return float(rounded)


def _actions(
    territory: _Territory, year: int, budget: float, geography: str, rng: random.Random
) -> list[_Action]:
    """The funded actions of one département-year (before locating them)."""
    has_priority = bool(territory.qpv.get(geography) or territory.zsp)
    shares = dict(PROGRAMME_SHARE)
    if rng.random() > 0.12:  # K is managed centrally: rare in prefecture files
        shares["K"] = 0.0
    counts = {}
    for programme, share in shares.items():
        median, sigma = AMOUNTS[programme][:2]
        mean = median * math.exp(sigma**2 / 2)
        counts[programme] = round(budget * share / mean) if share else 0
        if share and programme != "K":
            counts[programme] = max(counts[programme], 1)
    total = sum(counts.values())
    if total > MAX_ACTIONS:
        counts = {p: max(1, n * MAX_ACTIONS // total) if n else 0 for p, n in counts.items()}
    while sum(counts.values()) < MIN_ACTIONS:
        counts["D"] += 1
    actions: list[_Action] = []
    for programme, n in counts.items():
        if not n:
            continue
        median, sigma, low, high = AMOUNTS[programme]
        drawn = [min(high, max(low, rng.lognormvariate(math.log(median), sigma))) for _ in range(n)]
        scale = budget * shares[programme] / sum(drawn) if shares[programme] else 1.0
        natures, weights = zip(*NATURES[programme], strict=True)
        for value in drawn:
            nature = rng.choices(natures, weights)[0]
            if programme == "D" and not has_priority:
                # No QPV nor ZSP: nothing of the prevention envelope to locate; its money goes
                # to vidéoprotection, outside the 75 % check's scope.
                nature = "videoprotection"
            actions.append(
                _Action(
                    programme,
                    nature,
                    _round_amount(max(800.0, value * scale), rng),
                    territory.porteur_for(nature, rng),
                )
            )
    rng.shuffle(actions)
    return actions


def _locate(
    actions: list[_Action],
    territory: _Territory,
    geography: str,
    share: float,
    below: bool,
    rng: random.Random,
) -> None:
    """Name QPV/ZSP on in-scope actions so that the located share hits ``share``.

    Above target: add actions until the share reaches it. Below: add only while it stays
    under it, so the classification is exact whatever the draw.
    """
    qpvs = territory.qpv.get(geography, [])
    scope = [a for a in actions if a.programme == "D" and a.nature != "videoprotection"]
    total = sum(a.amount for a in scope)
    located = 0.0
    for action in scope:
        fits = (located + action.amount) / total <= share if below else located / total < share
        if fits and (qpvs or territory.zsp):
            _place_in_priority(action, qpvs, territory, rng)
            located += action.amount
        else:
            action.commune = territory.some_commune(rng) if rng.random() < 0.9 else None
    in_scope = {id(a) for a in scope}
    for action in actions:
        if id(action) in in_scope:
            continue
        if (qpvs or territory.zsp) and rng.random() < 0.35:
            _place_in_priority(action, qpvs, territory, rng)
        else:
            action.commune = territory.some_commune(rng) if rng.random() < 0.85 else None
    for action in actions:
        if action.programme in {"D", "R"} and rng.random() < 0.3:
            in_priority = bool(action.qpv or action.zsp)
            low, high = (0.5, 1.0) if in_priority else (0.05, 0.45)
            action.part = round(rng.uniform(low, high), 2)


def _place_in_priority(
    action: _Action, qpvs: list[tuple[str, str]], territory: _Territory, rng: random.Random
) -> None:
    use_zsp = territory.zsp and (not qpvs or rng.random() < 0.2)
    if use_zsp:
        action.zsp, commune = rng.choice(territory.zsp)
        if qpvs and rng.random() < 0.5:
            action.qpv = [rng.choice(qpvs)[0]]
    else:
        picked = rng.sample(qpvs, min(len(qpvs), 1 if rng.random() < 0.8 else 2))
        action.qpv = [code for code, _ in picked]
        commune = picked[0][1]
        if territory.zsp and rng.random() < 0.1:
            action.zsp = rng.choice(territory.zsp)[0]
    action.commune = territory.maybe_arrondissement(commune, rng)


def _finish(
    actions: list[_Action], dep: str, year: int, current: bool, rng: random.Random, numbering: str
) -> None:
    first, last = MONTHS_CURRENT if current else (3, 12)
    start = date(year, first, 1)
    days = (date(year, last, 28) - start).days
    for number, action in enumerate(actions, start=1):
        action.numero = numbering.format(dep=dep.rjust(3, "0"), year=year, n=number)
        action.intitule = rng.choice(ACTIONS[action.nature])
        if action.qpv and rng.random() < 0.3:
            action.intitule += " (quartier prioritaire)"
        if rng.random() < 0.9:
            action.demande = _round_amount(action.amount * rng.uniform(1.0, 1.5), rng)
            action.demande = max(action.demande, action.amount)
        if rng.random() < 0.95:
            action.decided = start + timedelta(days=rng.randint(0, days))


def _add_invalid(actions: list[_Action], territory: _Territory, rng: random.Random) -> int:
    """Insert 1-3 deliberately invalid rows, outside the 75 % check's scope.

    Out of scope so that the known below/above-target answer does not depend on them; a
    duplicated dossier number invalidates both rows, hence it is copied from an out-of-scope
    action. Returns the number of rows that a validator will reject.
    """
    allowed = math.floor(MAX_BAD_SHARE * (len(actions) + 3))
    wanted = rng.randint(1, 3)
    bad = 0
    kinds = ["unknown_commune", "negative_amount", "exceeds_demande", "duplicate_dossier"]
    rng.shuffle(kinds)
    outside = [a for a in actions if a.programme in {"R", "S"}]
    next_number = len(actions) + 1
    for kind in kinds:
        cost = 2 if kind == "duplicate_dossier" else 1
        if bad + cost > min(wanted, allowed) or (kind == "duplicate_dossier" and not outside):
            continue
        nature = "videoprotection"
        row = _Action(
            "S",
            nature,
            _round_amount(rng.uniform(5_000, 30_000), rng),
            territory.porteur_for(nature, rng),
        )
        row.intitule = rng.choice(ACTIONS[nature])
        row.commune = territory.some_commune(rng)
        row.decided = outside[0].decided if outside else None
        row.numero = actions[-1].numero[:-4] + f"{next_number:04d}"
        next_number += 1
        if kind == "unknown_commune":
            row.commune = territory.unknown_commune
        elif kind == "negative_amount":
            row.amount = -row.amount
        elif kind == "exceeds_demande":
            row.demande = round(row.amount * 0.6, -2)
        else:
            row.numero = rng.choice(outside).numero
        actions.insert(rng.randint(1, len(actions)), row)
        bad += cost
    return bad


# --- formatting ---------------------------------------------------------------------------


def _french_number(value: float, thousands: str) -> str:
    """``12500.5`` -> ``12 500,50`` with the given thousands separator."""
    sign = "-" if value < 0 else ""
    whole, cents = divmod(round(abs(value) * 100), 100)
    grouped = f"{whole:,}".replace(",", thousands)
    return f"{sign}{grouped},{cents:02d}"


def _row_clean(a: _Action, dep: str, year: int) -> list[str]:
    return [
        dep,
        str(year),
        a.numero,
        a.porteur[0],
        a.porteur[2] or "",
        a.porteur[1],
        a.intitule,
        a.programme,
        a.nature,
        f"{a.demande:.2f}" if a.demande is not None else "",
        f"{a.amount:.2f}",
        a.decided.isoformat() if a.decided else "",
        a.commune or "",
        "|".join(a.qpv),
        a.zsp or "",
        f"{a.part:.2f}" if a.part is not None else "",
    ]


def _row_messy(a: _Action, dep: str, year: int, sep: str) -> list[str]:
    siret = a.porteur[2] or ""
    if siret and int(siret[-1]) % 2:
        siret = f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"

    def money(value: float) -> str:
        return f"{_french_number(value, sep)} €"

    return [
        dep.lstrip("0") if dep.isdigit() and len(dep) == 2 else dep,
        str(year),
        a.numero,
        a.porteur[0],
        siret,
        TYPE_LABELS[a.porteur[1]],
        a.intitule,
        PROGRAMME_LABELS[a.programme],
        NATURE_LABELS[a.nature],
        money(a.demande) if a.demande is not None else "",
        money(a.amount),
        a.decided.strftime("%d/%m/%Y") if a.decided else "",
        a.commune or "",
        ", ".join(a.qpv),
        a.zsp or "",
        f"{round(a.part * 100)} %" if a.part is not None else "",
    ]


def _row_synonyms(a: _Action, dep: str, year: int, index: int) -> list[str]:
    def money(value: float) -> str:
        return _french_number(value, "\u202f")

    part = ""
    if a.part is not None:
        part = f"{round(a.part * 100)} %" if index % 2 else f"{a.part:.2f}".replace(".", ",")
    return [
        dep,
        str(year),
        a.numero,
        a.porteur[0],
        a.porteur[2] or "",
        TYPE_LABELS[a.porteur[1]],
        a.intitule,
        a.programme,
        a.nature,
        money(a.demande) if a.demande is not None else "",
        money(a.amount),
        a.decided.strftime("%d/%m/%Y") if a.decided else "",
        f'="{a.commune}"' if a.commune else "",
        ";".join(a.qpv),
        a.zsp or "",
        part,
    ]


def _csv_bytes(
    header: list[str],
    rows: list[list[str]],
    delimiter: str,
    encoding: str,
    terminator: str,
    quoting: Literal[0, 1, 2, 3] = csv.QUOTE_MINIMAL,  # csv.QUOTE_*
) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=terminator, quoting=quoting)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STATIC_PARTS = {
    "[Content_Types].xml": (
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" '
        'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.worksheet+xml"/>'
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/'
        'relationships/metadata/core-properties" Target="docProps/core.xml"/>'
        "</Relationships>"
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_REL}/styles" Target="styles.xml"/>'
        "</Relationships>"
    ),
    # Cell styles: 0 default, 1 bold (title, header), 2 money, 3 date, 4 percentage.
    "xl/styles.xml": (
        f'<styleSheet xmlns="{_NS}">'
        '<numFmts count="2"><numFmt numFmtId="164" formatCode="#,##0.00\\ &quot;€&quot;"/>'
        '<numFmt numFmtId="165" formatCode="dd/mm/yyyy"/></numFmts>'
        '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
        '</cellStyleXfs><cellXfs count="5">'
        '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
        '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '<xf numFmtId="9" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/>'
        "</cellStyles></styleSheet>"
    ),
}
_EXCEL_EPOCH = date(1899, 12, 30)
_COLUMN_STYLES = {9: 2, 10: 2, 11: 3, 15: 4}  # 0-based column -> style (money, date, %)


def _column_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _xml_cell(ref: str, value: object, style: int = 0) -> str:
    s = f' s="{style}"' if style else ""
    if value is None or value == "":
        return ""
    if isinstance(value, date):
        return f'<c r="{ref}"{s}><v>{(value - _EXCEL_EPOCH).days}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
    return f'<c r="{ref}"{s} t="inlineStr"><is><t>{xml_escape(str(value))}</t></is></c>'


def _xlsx_bytes(actions: list[_Action], territory: _Territory, year: int, human: bool) -> bytes:
    """A one-sheet XLSX as a prefecture's spreadsheet holds it: merged title, blank row,
    header, numeric amounts, real date cells.

    Written by hand (a few static parts and one sheet) rather than with openpyxl: it is much
    faster for the workbooks of a sample, and byte-deterministic, since nothing stamps the
    current time.
    """
    header = HUMAN if human else CANONICAL
    dep = territory.dep
    letters = [_column_letter(i) for i in range(len(header))]
    title = f"FIPD {year} — Programme départemental — {territory.nom} ({dep})"
    rows = [f'<row r="1">{_xml_cell("A1", title, 1)}</row>']
    rows.append(
        '<row r="3">'
        + "".join(_xml_cell(f"{letters[i]}3", label, 1) for i, label in enumerate(header))
        + "</row>"
    )
    sep = ", " if human else "|"
    for number, a in enumerate(actions, start=4):
        values: list[object] = [
            int(dep) if human and dep.isdigit() and len(dep) == 2 else dep,
            year,
            a.numero,
            a.porteur[0],
            a.porteur[2],
            TYPE_LABELS[a.porteur[1]] if human else a.porteur[1],
            a.intitule,
            PROGRAMME_LABELS[a.programme] if human else a.programme,
            NATURE_LABELS[a.nature] if human else a.nature,
            a.demande,
            a.amount,
            a.decided,
            a.commune,
            sep.join(a.qpv),
            a.zsp,
            a.part,
        ]
        cells = "".join(
            _xml_cell(f"{letters[i]}{number}", value, _COLUMN_STYLES.get(i, 0))
            for i, value in enumerate(values)
        )
        rows.append(f'<row r="{number}">{cells}</row>')
    sheet = (
        f'<worksheet xmlns="{_NS}"><sheetData>{"".join(rows)}</sheetData>'
        f'<mergeCells count="1"><mergeCell ref="A1:{letters[-1]}1"/></mergeCells></worksheet>'
    )
    workbook = (
        f'<workbook xmlns="{_NS}" xmlns:r="{_REL}"><sheets>'
        f'<sheet name="FIPD {year}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    stamp = f"{year}-01-01T00:00:00Z"
    core = (
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
        'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{xml_escape(title)}</dc:title><dc:creator>Vigie sample generator"
        f'</dc:creator><dcterms:created xsi:type="dcterms:W3CDTF">{stamp}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{stamp}</dcterms:modified>'
        "</cp:coreProperties>"
    )
    parts = {
        **_STATIC_PARTS,
        "docProps/core.xml": core,
        "xl/workbook.xml": workbook,
        "xl/worksheets/sheet1.xml": sheet,
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, xml in parts.items():
            info = zipfile.ZipInfo(name, date_time=(year, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, _XML + xml)
    return out.getvalue()


def _encode_cp1252(text_rows: list[list[str]]) -> list[list[str]]:
    """Keep every cell encodable in Windows-1252 (a stray character would break the file)."""
    return [[c.encode("cp1252", "replace").decode("cp1252") for c in row] for row in text_rows]


# --- orchestration ------------------------------------------------------------------------


def _below_sets(
    ref: ReferenceData, seed: int, years: list[int], current_year: int, qpv_from: int
) -> dict[int, list[str]]:
    """The known départements below target: 4 in 2019, 5 others in the current year.

    The current year's set includes one overseas département and 2A or 2B, so that code paths
    for 3-character and Corsican codes are exercised by an alert.
    """
    sets: dict[int, list[str]] = {}
    taken: set[str] = set()
    # 2019 first, so that its set does not depend on the date the sample is generated.
    for year, size in ((SECOND_CHECK_YEAR, 4), (current_year, 5)):
        if year not in years or year in sets:
            continue
        rng = random.Random(f"{seed}:below:{year}")
        geography = "2015" if year < qpv_from else "2024"
        with_qpv = set(ref.qpv.loc[ref.qpv["geographie"] == geography, "code_departement"])
        candidates = sorted(with_qpv - taken)
        overseas = [d for d in candidates if len(d) == 3]
        corsica = [d for d in candidates if d in {"2A", "2B"}]
        others = [d for d in candidates if len(d) == 2 and d not in {"2A", "2B"}]
        picked = [rng.choice(overseas)] if overseas else []
        if year == current_year and corsica:
            picked.append(rng.choice(corsica))
        picked += rng.sample(others, size - len(picked))
        sets[year] = sorted(picked)
        taken.update(picked)
    return sets


def write_sample(
    out_dir: Path,
    seed: int = 20170410,
    current_year: int | None = None,
    departements: Iterable[str] | None = None,
    years: Iterable[int] | None = None,
    scale: int = 1,
) -> SampleSummary:
    """Write ``out_dir/prefectures/<year>/fipd_<dep>_<year>.(csv|xlsx)`` for 2017-2020 and
    the current year, and return what was written with the known answers.

    Each file depends only on (seed, département, year), so a subset of départements gives
    the same bytes for those as the full sample. Modification times are fixed per year (the
    supersession rule reads them): 15 January of the next year for past years, 1 January of
    the current year for the current one, a minute apart per département.

    For benchmarks: ``years`` replaces the default years (2017-2020 and the current one), and
    ``scale`` multiplies the actions of each file (same shape, distinct ``numero_dossier``).
    The file count stays one per département and year: more files for the same (sender,
    period) would only supersede each other. The defaults give the same bytes as before.
    """
    settings = get_settings()
    ref = load_reference(settings.reference_dir)
    current = current_year or date.today().year
    years = sorted({*FIXED_YEARS, current} if years is None else set(years))
    if scale < 1:
        raise ValueError(f"scale must be >= 1, got {scale}")
    order = list(ref.departements["code_departement"])
    if departements is None:
        wanted = order
    else:
        asked = list(departements)
        normalised = normalise_departement(pd.Series(asked, dtype="string"))
        unknown = [a for a, n in zip(asked, normalised, strict=True) if n not in set(order)]
        if unknown:
            raise ValueError(f"unknown département(s): {unknown}")
        wanted = [d for d in order if d in set(normalised)]
    below = _below_sets(ref, seed, years, current, settings.qpv_2024_from_year)
    dirty_rng = random.Random(f"{seed}:dirty")
    dirty = set(dirty_rng.sample(order, round(DIRTY_SHARE * len(order))))
    out_dir = Path(out_dir)
    files: list[Path] = []
    budgets = {year: _budgets(ref, year) for year in years}
    grouped = {
        name: dict(tuple(getattr(ref, name).groupby("code_departement")))
        for name in ("communes", "qpv", "zsp")
    }
    empty = {name: getattr(ref, name).head(0) for name in grouped}
    names = dict(
        zip(ref.departements["code_departement"], ref.departements["nom_departement"], strict=True)
    )
    known = set(ref.communes["code_commune"])
    for dep in wanted:
        frames = {name: grouped[name].get(dep, empty[name]) for name in grouped}
        territory = _Territory(dep, str(names[dep]), frames, known, seed)
        for year in years:
            files.append(
                _write_file(
                    out_dir,
                    territory,
                    year,
                    current,
                    seed,
                    budgets[year][dep],
                    dep in below.get(year, []),
                    dep in dirty,
                    order,
                    settings.qpv_2024_from_year,
                    scale,
                )
            )
    chosen = set(wanted)
    return SampleSummary(
        out_dir=out_dir,
        files=files,
        years=years,
        below_target={y: [d for d in below[y] if d in chosen] for y in sorted(below)},
        clean_departements=[d for d in wanted if d not in dirty],
    )


def _write_file(
    out_dir: Path,
    territory: _Territory,
    year: int,
    current_year: int,
    seed: int,
    budget: float,
    below: bool,
    dirty: bool,
    order: list[str],
    qpv_from: int,
    scale: int = 1,
) -> Path:
    dep = territory.dep
    rng = random.Random(f"{seed}:{dep}:{year}")
    geography = "2015" if year < qpv_from else "2024"
    actions = _actions(territory, year, budget, geography, rng)
    for copy in range(1, scale):  # benchmarks: more actions of the same shape
        extra = random.Random(f"{seed}:{dep}:{year}:{copy}")
        actions += _actions(territory, year, budget, geography, extra)
    share = rng.uniform(0.45, 0.68) if below else rng.uniform(0.80, 0.90)
    _locate(actions, territory, geography, share, below, rng)
    shape = _shape(order.index(dep), year)
    numbering = {
        1: "FIPD-{dep}-{year}-{n:04d}",
        2: "{year}/{dep}/{n:04d}",
        3: "{dep}-{year}-{n:04d}",
        4: "D{year}-{dep}-{n:04d}",
    }[shape]
    _finish(actions, dep, year, year == current_year, rng, numbering)
    if dirty:
        _add_invalid(actions, territory, rng)
    folder = out_dir / "prefectures" / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"fipd_{dep}_{year}.{'xlsx' if shape == 4 else 'csv'}"
    if shape == 1:
        rows = [_row_clean(a, dep, year) for a in actions]
        data = _csv_bytes(CANONICAL, rows, ";", "utf-8", "\n")
    elif shape == 2:
        sep = FRENCH_SEPARATORS[order.index(dep) % 2]
        rows = _encode_cp1252([_row_messy(a, dep, year, sep) for a in actions])
        data = _csv_bytes(HUMAN, rows, ";", "cp1252", "\r\n")
    elif shape == 3:
        rows = [_row_synonyms(a, dep, year, i) for i, a in enumerate(actions)]
        data = b"\xef\xbb\xbf" + _csv_bytes(SYNONYMS, rows, ",", "utf-8", "\r\n", csv.QUOTE_ALL)
    else:
        data = _xlsx_bytes(actions, territory, year, human=bool(order.index(dep) % 2))
    path.write_bytes(data)
    if year == current_year:
        stamp = datetime(year, 1, 1, 6, tzinfo=UTC)
    else:
        stamp = datetime(year + 1, 1, 15, 9, tzinfo=UTC)
    stamp += timedelta(minutes=order.index(dep))
    os.utime(path, (stamp.timestamp(), stamp.timestamp()))
    return path
