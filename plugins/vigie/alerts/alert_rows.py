"""Rows of ``marts.weekly_alerts`` as the e-mails use them: typed, compared week on week, ranked.

Pure (rows in, objects out) so that the e-mails can be tested on crafted rows.

Week on week: a row of this week is matched with last week's row of the same check and
territory. The period is part of the match only for a check that has several rows per territory
in a week (``fipd_share_below_target`` has one per year); otherwise a period that moves on by
itself (the police indicators' latest month, ``2026-10`` then ``2026-11``) would turn every
ongoing alert into a "new" one each month. A check with no row at all last week (first week,
or a check just added) is not compared: its alerts are not called new, since nobody could have
been told about them before.

Worst first, per check, is what a pilot acts on first: the largest gap in euros for the FIPD
share, the export never received then the oldest one, the largest fall (in units) for the police
indicators; a check the e-mails do not know is ranked by the usual figure names when it has
them, else in the official order of départements.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from vigie.reference.pilots import DEPARTEMENTS

ALERT, OK, NO_DATA, NOT_MONITORED = "alert", "ok", "no_data", "not_monitored"
FIPD_SHARE = "fipd_share_below_target"

# Known checks, in the order the e-mails present them; any other check_name follows, by name.
CHECK_LABELS = {
    FIPD_SHARE: "Part prioritaire FIPD sous la cible",
    "fipd_export_missing": "Réception de l'export FIPD",
    "police_indicator_drop": "Baisse d'un indicateur police-population",
    "part_annex_missing": "Contrat de ville sans annexe de prévention de la radicalisation",
    "association_report_missing": "Bilan d'association non transmis",
}
# What one alert of each check is, counted: "3 départements", "2 contrats de ville".
_UNITS = {
    FIPD_SHARE: ("département", "départements"),
    "fipd_export_missing": ("département", "départements"),
    "police_indicator_drop": ("territoire", "territoires"),
    "part_annex_missing": ("contrat de ville", "contrats de ville"),
    "association_report_missing": ("structure", "structures"),
}

# Week-on-week change of a row.
NEW, ONGOING, RESOLVED = "new", "ongoing", "resolved"
NO_LONGER_MEASURED, GONE = "no_longer_measured", "gone"
CHANGE_LABELS = {
    NEW: "nouvelle alerte",
    ONGOING: "alerte maintenue",
    RESOLVED: "alerte levée",
    NO_LONGER_MEASURED: "plus de données",
    GONE: "ne figure plus dans les contrôles",
}
_STATUS_LABELS = {
    ALERT: "alerte",
    OK: "rien à signaler",
    NO_DATA: "pas de données",
    NOT_MONITORED: "non suivi",
}

# Generic ranking for checks this module does not know: bigger is worse / smaller is worse.
_WORSE_IF_BIGGER = (
    "gap_eur",
    "days_late",
    "days_overdue",
    "jours_retard",
    "months_en_cours",
    "mois_en_cours",
    "months",
)
_WORSE_IF_SMALLER = ("evolution",)
_WORSE_IF_OLDER = ("since", "depuis", "en_cours_since", "last_period_end", "last_received_at")


def check_label(check_name: str) -> str:
    return CHECK_LABELS.get(check_name, check_name.replace("_", " "))


def check_order(check_name: str) -> tuple[int, str]:
    order = list(CHECK_LABELS)
    return (order.index(check_name), "") if check_name in order else (len(order), check_name)


def count_label(check_name: str, count: int) -> str:
    """``3 départements``, ``1 contrat de ville``, ``2 alertes`` (French: 0 and 1 singular)."""
    singular, plural = _UNITS.get(check_name, ("alerte", "alertes"))
    return f"{count} {singular if count <= 1 else plural}"


_ORDER = {code: index for index, code in enumerate(DEPARTEMENTS)}


def _code_order(code: str | None) -> tuple[int, str]:
    return (_ORDER.get(code or "", len(_ORDER)), code or "")


def _json(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        text = value.strip()
        return json.loads(text) if text else None
    return value


def _text(value: Any) -> str | None:
    if value is None or type(value).__name__ in {"NAType", "NaTType"}:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    text = str(value).strip()
    return text or None


@dataclass(frozen=True)
class AlertRow:
    """One (week, check, territory, period) row; ``change`` is its week-on-week change."""

    check_name: str
    territory_kind: str
    territory_code: str
    period: str
    code_departement: str | None
    status: str
    message: str
    figures: Mapping[str, Any] = field(default_factory=dict)
    lineage: Any = None
    change: str | None = None  # None: not compared (no row of this check last week)

    @property
    def label(self) -> str:
        return check_label(self.check_name)

    @property
    def is_alert(self) -> bool:
        return self.status == ALERT

    @property
    def status_label(self) -> str:
        return _STATUS_LABELS.get(self.status, self.status)

    @property
    def not_monitored(self) -> bool:
        return self.status == NOT_MONITORED

    @property
    def change_label(self) -> str:
        return CHANGE_LABELS.get(self.change or "", "")

    @property
    def is_new(self) -> bool:
        return self.change == NEW

    @property
    def uncounted_top3(self) -> list[Mapping[str, Any]]:
        """The 3 largest actions in scope that count for nothing (FIPD share alerts)."""
        return list(self.figures.get("uncounted_top3") or [])

    def sources(self) -> str:
        """The lineage as compact JSON (engineers: hashes, request URLs, tables included)."""
        if self.lineage in (None, "", [], {}):
            return ""
        return json.dumps(self.lineage, ensure_ascii=False, sort_keys=True, default=str)

    def pilot_sources(self) -> str:
        """What a prefecture can check: ``fipd_93_2026.csv (lignes 3, 7)``, the API's page.

        Source file names and rows only (the prefecture knows them); never a hash, a URL or a
        table of the platform.
        """
        return pilot_sources(self.lineage)

    def worst_first_key(self) -> tuple:
        """Check by check (their severities do not compare), then worst first."""
        return (
            check_order(self.check_name),
            _severity(self),
            _code_order(self.code_departement),
            self.territory_code,
            self.period,
        )


def _lineage_items(value: Any) -> Iterable[Mapping[str, Any]]:
    if isinstance(value, Mapping):
        yield value
        for item in value.values():
            yield from _lineage_items(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _lineage_items(item)


def pilot_sources(lineage: Any) -> str:
    """Source files with their rows, and API pages, from a row's lineage; nothing internal."""
    files: dict[str, set[int]] = {}
    pages: set[int] = set()
    for item in _lineage_items(lineage):
        name = item.get("file") or item.get("name") or item.get("last_report_file")
        if isinstance(name, str) and name and "://" not in name:
            rows = files.setdefault(name, set())
            if isinstance(item.get("row"), int | float) and not isinstance(item["row"], bool):
                rows.add(int(item["row"]))
        elif item.get("source") == "api" and isinstance(item.get("page"), int | float):
            pages.add(int(item["page"]))
    parts = []
    for name in sorted(files):
        numbers = sorted(files[name])
        if numbers:
            word = "ligne" if len(numbers) == 1 else "lignes"
            parts.append(f"{name} ({word} {', '.join(str(r) for r in numbers)})")
        else:
            parts.append(name)
    if pages:
        word = "page" if len(pages) == 1 else "pages"
        listed = ", ".join(str(p) for p in sorted(pages))
        parts.append(f"API des indicateurs police-population ({word} {listed})")
    return " ; ".join(parts)


def parse_alert_rows(rows: Iterable[Mapping[str, Any]]) -> list[AlertRow]:
    """Rows as read from the warehouse (figures and lineage as JSON text or already decoded)."""
    parsed = []
    for row in rows:
        figures = _json(row.get("figures"))
        parsed.append(
            AlertRow(
                check_name=str(row["check_name"]),
                territory_kind=str(row.get("territory_kind") or ""),
                territory_code=str(row["territory_code"]),
                period=str(_text(row.get("period")) or ""),
                code_departement=_text(row.get("code_departement")),
                status=str(row["status"]),
                message=str(row.get("message") or ""),
                figures=figures if isinstance(figures, Mapping) else {},
                lineage=_json(row.get("lineage")),
            )
        )
    return parsed


def _severity(row: AlertRow) -> tuple:
    """Smaller is worse. Rows that are not alerts come after every alert."""
    if not row.is_alert:
        return (1,)
    figures = row.figures
    if row.check_name == FIPD_SHARE:
        return (0, -float(figures.get("gap_eur") or 0.0), float(figures.get("share_located") or 1))
    if row.check_name == "fipd_export_missing":
        last = figures.get("last_received_at")
        return (0, 0, "") if not last else (0, 1, str(last))  # never received, then oldest
    if row.check_name == "police_indicator_drop":  # the largest fall in units first
        falls = [
            float(i.get("fall") or 0.0)
            if i.get("fall") is not None
            else max(
                0.0,
                float(i.get("valeur_annee_precedente") or 0.0) - float(i.get("valeur") or 0.0),
            )
            for i in figures.get("indicators") or []
        ]
        return (0, -max(falls, default=0.0))
    if row.check_name == "part_annex_missing":  # no annex at all, then the longest "en cours"
        if figures.get("plan_radicalisation") == "non":
            return (0, 0, 0.0)
        return (0, 1, -float(figures.get("months") or 0))
    for key in _WORSE_IF_BIGGER:  # a check the e-mails do not know yet
        if isinstance(figures.get(key), int | float):
            return (0, 0, -float(figures[key]))
    for key in _WORSE_IF_SMALLER:
        if isinstance(figures.get(key), int | float):
            return (0, 1, float(figures[key]))
    for key in _WORSE_IF_OLDER:
        if figures.get(key):
            return (0, 2, str(figures[key]))
    return (0, 3)


def worst_first(rows: Iterable[AlertRow]) -> list[AlertRow]:
    return sorted(rows, key=AlertRow.worst_first_key)


@dataclass(frozen=True)
class WeekChanges:
    """This week's rows with their change, and last week's alerts that are no longer alerts."""

    rows: tuple[AlertRow, ...]
    resolved: tuple[AlertRow, ...]  # change RESOLVED / NO_LONGER_MEASURED / GONE
    compared: bool  # False when there are no rows for the previous week at all
    uncompared_checks: tuple[str, ...] = ()

    @property
    def new(self) -> list[AlertRow]:
        return [r for r in self.rows if r.change == NEW]

    def scoped(self, codes: Iterable[str]) -> WeekChanges:
        """Only the rows of these départements (by ``code_departement``)."""
        keep = set(codes)
        return replace(
            self,
            rows=tuple(r for r in self.rows if r.code_departement in keep),
            resolved=tuple(r for r in self.resolved if r.code_departement in keep),
        )


def _by_period(*weeks: list[AlertRow]) -> set[str]:
    """Checks with several rows for one territory in a week: the period tells them apart."""
    checks = set()
    for rows in weeks:
        seen: set[tuple[str, str]] = set()
        for row in rows:
            key = (row.check_name, row.territory_code)
            if key in seen:
                checks.add(row.check_name)
            seen.add(key)
    return checks


def compare_weeks(current: list[AlertRow], previous: list[AlertRow]) -> WeekChanges:
    """Label each of this week's rows new / ongoing / resolved against last week's rows."""
    by_period = _by_period(current, previous)

    def key(row: AlertRow) -> tuple[str, str, str]:
        return (
            row.check_name,
            row.territory_code,
            row.period if row.check_name in by_period else "",
        )

    before = {key(r): r for r in previous}
    compared_checks = {r.check_name for r in previous}
    rows, resolved = [], []
    for row in current:
        if row.check_name not in compared_checks:
            rows.append(row)
            continue
        old = before.get(key(row))
        was_alert = old is not None and old.is_alert
        if row.is_alert:
            change = ONGOING if was_alert else NEW
        elif was_alert:
            change = RESOLVED if row.status == OK else NO_LONGER_MEASURED
        else:
            change = None
        labelled = replace(row, change=change)
        rows.append(labelled)
        if change in (RESOLVED, NO_LONGER_MEASURED):
            resolved.append(labelled)
    now = {key(r) for r in current}
    current_checks = {r.check_name for r in current}
    for old in previous:  # alerts of last week with no row at all this week
        if old.is_alert and key(old) not in now and old.check_name in current_checks:
            resolved.append(replace(old, change=GONE))
    uncompared = sorted({r.check_name for r in current} - compared_checks, key=check_order)
    return WeekChanges(
        rows=tuple(rows),
        resolved=tuple(
            sorted(
                resolved,
                key=lambda r: (
                    check_order(r.check_name),
                    _code_order(r.code_departement),
                    r.territory_code,
                    r.period,
                ),
            )
        ),
        compared=bool(previous),
        uncompared_checks=tuple(uncompared),
    )
