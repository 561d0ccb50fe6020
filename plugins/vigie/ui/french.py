"""Dates, months and labels as the pages write them, in French.

Numbers (euros, shares, counts) come from :mod:`vigie.alerts.formatting`, as in the e-mails;
this module adds what only pages need: dates and times in Paris time, month names, the
suppressed counts of the association mart, the labels of codes stored in English.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from vigie.alerts.formatting import MONTHS, NBSP, NNBSP, format_count

SHORT_MONTHS = (
    "janv.",
    "févr.",
    "mars",
    "avr.",
    "mai",
    "juin",
    "juil.",
    "août",
    "sept.",
    "oct.",
    "nov.",
    "déc.",
)
PARIS = ZoneInfo("Europe/Paris")


def format_date(value: date | datetime | None) -> str:
    """``05/12/2026`` (a time is first put in Paris time), or ``—``."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(PARIS) if value.tzinfo else value
    return value.strftime("%d/%m/%Y")


def format_datetime(value: datetime | None) -> str:
    """``05/12/2026 à 16 h 01`` in Paris time, or ``—``."""
    if value is None:
        return "—"
    local = value.astimezone(PARIS) if value.tzinfo else value
    return f"{local:%d/%m/%Y} à {local.hour}{NBSP}h{NBSP}{local:%M}"


def format_month(value: date | None, short: bool = False) -> str:
    """``octobre 2026`` (``oct. 2026`` when short), or ``—``."""
    if value is None:
        return "—"
    names = SHORT_MONTHS if short else MONTHS
    return f"{names[value.month - 1]}{NBSP}{value.year}"


def format_week(value: date) -> str:
    """``semaine du 30/11/2026``: the e-mails' wording."""
    return f"semaine du {value:%d/%m/%Y}"


_SUPPRESSED = re.compile(r"^\s*<\s*(\d+)\s*$")


def format_people(value: str | None) -> str:
    """A count about people as the association mart stores it (text): ``1234`` -> ``1 234``,
    ``< 11`` stays suppressed (``< 11``, with a no-break space), null -> ``—``.

    The value is never recomputed or un-suppressed: what the mart masks stays masked.
    """
    if value is None:
        return "—"
    text = str(value).strip()
    suppressed = _SUPPRESSED.match(text)
    if suppressed:
        return f"<{NBSP}{suppressed.group(1)}"
    if text.isdigit():
        return format_count(int(text))
    return text


def format_number(value: float | None) -> str:
    """An indicator's value: whole numbers as counts, others with a decimal comma."""
    if value is None:
        return "—"
    if float(value).is_integer():
        return format_count(int(value))
    return f"{value:,.1f}".replace(",", NNBSP).replace(".", ",")


def format_evolution(value: float | None) -> str:
    """``-0.2531`` -> ``−25,3 %`` (signed, one decimal), or ``—``."""
    if value is None:
        return "—"
    percent = value * 100
    sign = "+" if percent > 0 else ("−" if percent < 0 else "")
    return f"{sign}{abs(percent):.1f}".replace(".", ",") + NNBSP + "%"


PLAN_LABELS = {"oui": "annexe adoptée", "non": "pas d'annexe", "en_cours": "en préparation"}
STATUS_LABELS = {
    "loaded": "chargé",
    "loaded_with_rejects": "chargé avec rejets",
    "duplicate": "doublon",
    "superseded": "remplacé",
    "quarantined": "en quarantaine",
}
SOURCE_LABELS = {
    "prefectures": "Exports des préfectures",
    "police_population": "Indicateurs police-population",
    "associations": "Rapports des associations",
    "reference": "Référentiels",
}
KIND_LABELS = {
    "fipd": "export FIPD",
    "contrats": "suivi des contrats de ville",
    "rapport_activite": "rapport d'activité",
    "indicateurs": "indicateurs",
}
FORCE_LABELS = {"PN": "Police nationale", "GN": "Gendarmerie nationale"}
NATURE_LABELS = {
    "videoprotection": "vidéoprotection",
    "securisation_etablissements": "sécurisation d'établissements",
    "equipement_police_municipale": "équipement de police municipale",
    "prevention_jeunes": "prévention auprès des jeunes",
    "aide_aux_victimes": "aide aux victimes",
    "violences_intrafamiliales": "violences intrafamiliales",
    "relation_population_forces_securite": "relation population – forces de sécurité",
    "prevention_radicalisation": "prévention de la radicalisation",
    "autre": "autre",
}


def label(labels: dict[str, str], value: str | None) -> str:
    """A code's French label; an unknown code as it is (never hidden), ``—`` for none."""
    if value is None or value == "":
        return "—"
    return labels.get(value, value)
