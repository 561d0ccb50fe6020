"""The pilots' weekly e-mails (docs/alerts.md), built from rows, as ``EmailMessage``s.

Inputs: the rows of ``marts.fipd_priority_share`` for the current year and the last closed
year, and the rows of ``marts.weekly_alerts`` for the week and the week before (every check).
One message per recipient address:

- national pilots get a digest: the most serious items first, what is asked of them, what
  changed since last week, the national totals and the map of France, every département below
  the FIPD target worst first, the départements without data listed apart (never counted as
  passing), then every other check's alerts worst first;
- a département's pilots get their own département's figures and alerts and nothing else: the
  message, its chart and its attachment are built from rows filtered on their département
  (``code_departement``), so another département's figures cannot leak into it.

What a reader sees first (subject, preheader, first screen) is the recipient's most serious
item: the current year's FIPD share below the target, then no FIPD data at all for the current
year, then the other checks' alerts, then the closed year; "rien à signaler cette semaine" when
there is none. A closed year without an export is a dated request in the action block, said
once, never the subject. A check with nothing to look at is "non suivi", never "rien à
signaler".

Each message: plain text, HTML with the chart (or map) inline (``multipart/related``,
``cid:``), and the figures and alert rows as a CSV attachment a French Excel opens as is.

Worst first, for the FIPD share, means the largest gap in euros (``gap_eur``) first, then the
lowest located share: the gap is the money to re-orient, and the national share moves with
euros, not with percentages. The other checks' order is in :mod:`vigie.alerts.alert_rows`.

The body never contains the time it was generated: the same figures give the same bytes
(pictures included), the same checksum and the same ``Message-ID``, which is how a re-run and
the send log recognise a message already produced. Only the ``Date`` header changes.

No Airflow and no warehouse here: ``vigie.tasks.weekly_emails`` reads the rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from vigie.alerts.alert_rows import (
    FIPD_SHARE,
    GONE,
    AlertRow,
    WeekChanges,
    check_label,
    check_order,
    compare_weeks,
    count_label,
    parse_alert_rows,
    worst_first,
)
from vigie.alerts.alert_rows import NO_DATA as ALERT_NO_DATA
from vigie.alerts.alert_rows import NOT_MONITORED as ALERT_NOT_MONITORED
from vigie.alerts.alert_rows import OK as ALERT_OK
from vigie.alerts.chart import ChartData, alt_text, departement_chart_data, render_png
from vigie.alerts.figures import (
    BELOW_TARGET,
    OK,
    Territory,
    YearFigures,
    code_order,
    collect_territories,
)
from vigie.alerts.formatting import (
    csv_decimal,
    csv_percent,
    csv_safe,
    csv_text,
    format_count,
    format_date,
    format_eur,
    format_month,
    format_period,
    format_share,
    format_target,
    french_spacing,
    plural,
    quoted,
)
from vigie.alerts.france_map import MapData, map_alt_text, national_map_data, render_map_png
from vigie.alerts.indicators import INDICATOR_LABELS, INDICATOR_WHY
from vigie.alerts.links import departement_url
from vigie.alerts.mime import POLICY
from vigie.reference.pilots import DEPARTEMENTS, NATIONAL, Pilot
from vigie.settings import Settings, get_settings

CHECK_NAME = FIPD_SHARE  # the check whose figures the messages detail
MESSAGE_KIND = "weekly_alerts"
DIGEST_TOP = 10  # alerts of a check listed in the digest's body; all of them in the CSV
SUBJECT_HEAD_MAX = 60  # characters before " — semaine du ...": what a phone's inbox shows
EXPORT_CHECK, POLICE_CHECK = "fipd_export_missing", "police_indicator_drop"
PART_CHECK, REPORT_CHECK = "part_annex_missing", "association_report_missing"

# One line on the basis of the target, in every message.
TARGET_BASIS = (
    "La cible de {target} vient de la convention d'objectifs Ville–Intérieur : les quartiers "
    "prioritaires ont vocation à bénéficier des trois quarts des crédits du FIPD, appliqués "
    "par les circulaires annuelles à l'enveloppe de prévention, hors vidéoprotection."
)

CSV_COLUMNS = (
    "Contrôle",
    "Code département",
    "Département",
    "Territoire",
    "Période",
    "Année",
    "Situation",
    "Évolution depuis la semaine précédente",
    "Nombre d'actions",
    "Crédits de prévention concernés (€)",
    "Crédits des actions en QPV ou ZSP (€)",
    "Part localisée (%)",
    "Crédits au prorata des bénéficiaires (€)",
    "Part bénéficiaires (%)",
    "Cible (%)",
    "Écart à la cible (€)",
    "Constat",
    "Sources (fichier et ligne)",
)


# --- Attachment --------------------------------------------------------------------------------


def _fipd_key(code: str, annee: int | str) -> str:
    return f"{code}:{annee}"


def _csv_euros(value: float | None) -> str:
    """Whole euros, half up, as the body shows them (a number in a French Excel)."""
    return csv_decimal(value, 0)


def _code_cell(code: str) -> str:
    return csv_text(code) if code else ""


def figures_csv(
    territories: Iterable[Territory],
    alerts: Iterable[AlertRow] = (),
    fipd_rows: Mapping[str, AlertRow] | None = None,
) -> bytes:
    """The figures as a CSV a French Excel opens as is: ``;``, UTF-8 with BOM, decimal comma.

    One line per (check, territory, period), like ``marts.weekly_alerts``: first the FIPD share
    of each territory and year, then the other checks' rows with their finding. Figures are the
    body's (whole euros, shares to one decimal, half up). Codes and periods are written
    ``="01"``, ``="octobre 2026"``, which Excel shows as typed (not ``1``, not a date); every
    other cell goes through :func:`csv_safe` (names and messages quote prefecture files).
    Sources name the prefecture's file and row, never a hash, a URL or a table of the platform.
    """
    fipd_rows = fipd_rows or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for territory in territories:
        for year in territory.years:
            alert = fipd_rows.get(_fipd_key(territory.code, year.annee))
            cells: list[str] = [
                csv_safe(check_label(FIPD_SHARE)),
                _code_cell(territory.code),
                csv_safe(territory.nom),
                _code_cell(territory.code),
                csv_safe(f"{year.annee} ({year.period})"),
                str(year.annee),
                csv_safe(year.status_label),
                csv_safe(alert.change_label if alert else ""),
                "" if year.nb_actions is None else str(year.nb_actions),
                _csv_euros(year.montant_scope),
                _csv_euros(year.montant_located),
                csv_percent(year.share_located),
                _csv_euros(year.montant_beneficiaries),
                csv_percent(year.share_beneficiaries),
                format_target(year.target).removesuffix("\u202f%"),
                _csv_euros(year.gap_eur if year.below else None),
                csv_safe(alert.message if alert else ""),
                csv_safe(alert.pilot_sources() if alert else ""),
            ]
            writer.writerow(cells)
    for row in alerts:
        if row.check_name == FIPD_SHARE and row.change != GONE:
            continue  # already on its territory's line above
        code = row.code_departement or ""
        where = row.territory_code
        cells = [
            csv_safe(check_label(row.check_name)),
            _code_cell(code),
            csv_safe(DEPARTEMENTS.get(code, "")),
            csv_text(where) if where else "",
            csv_text(format_period(row.period)) if row.period not in ("", "-") else "",
            "",
            csv_safe("" if row.change == GONE else row.status_label),
            csv_safe(row.change_label),
            *([""] * 8),
            csv_safe(row.message),
            csv_safe(row.pilot_sources()),
        ]
        writer.writerow(cells)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- Other checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckSection:
    """One check's rows for a message: alerts worst first, then the rows it could not judge."""

    check_name: str
    alerts: tuple[AlertRow, ...]
    no_data: tuple[AlertRow, ...]
    ok_count: int
    not_monitored: tuple[AlertRow, ...] = ()
    ok_rows: tuple[AlertRow, ...] = ()

    @property
    def label(self) -> str:
        return check_label(self.check_name)

    @property
    def new_count(self) -> int:
        return sum(1 for r in self.alerts if r.is_new)

    @property
    def state(self) -> str:
        """``alert``, ``ok``, ``no_data`` or ``not_monitored`` (nothing at all to look at)."""
        if self.alerts:
            return "alert"
        if self.ok_count:
            return "ok"
        return "no_data" if self.no_data else "not_monitored"

    @property
    def summary(self) -> str:
        """``3 départements en alerte, dont 1 nouvelle alerte ; 12 sans données``."""
        if self.alerts:
            text = f"{count_label(self.check_name, len(self.alerts))} en alerte"
            if self.new_count:
                text += f", dont {self.new_count} " + plural(
                    self.new_count, "nouvelle alerte", "nouvelles alertes"
                )
        elif self.state == "not_monitored":
            return "non suivi : " + self._unmonitored_phrase()
        elif self.state == "no_data":
            text = "aucune donnée à contrôler"
        else:
            text = "aucune alerte"
        if self.no_data:
            text += f" ; {_territories(self.no_data)} sans données"
        if self.not_monitored:
            text += " ; non suivi pour " + _territories(self.not_monitored)
        return text

    def _unmonitored_phrase(self) -> str:
        if self.not_monitored:
            return f"aucune donnée reçue ({_territories(self.not_monitored)})"
        return "aucune donnée reçue"

    @property
    def ok_messages(self) -> tuple[str, ...]:
        """What a passing row says when it carries a fact (the date of the last export)."""
        if self.check_name == EXPORT_CHECK:
            return tuple(r.message for r in self.ok_rows)
        return ()


def _territories(rows: Sequence[AlertRow]) -> str:
    kinds = {r.territory_kind for r in rows}
    if kinds == {"departement"}:
        return f"{len(rows)} {plural(len(rows), 'département', 'départements')}"
    return count_label(rows[0].check_name, len(rows)) if rows else "0"


def _sections(rows: Iterable[AlertRow], skip: Iterable[str] = (FIPD_SHARE,)) -> list[CheckSection]:
    """Every check present in ``rows`` (except ``skip``), in the e-mails' order."""
    skipped = set(skip)
    grouped: dict[str, list[AlertRow]] = {}
    for row in rows:
        if row.check_name not in skipped:
            grouped.setdefault(row.check_name, []).append(row)
    return [
        CheckSection(
            check_name=name,
            alerts=tuple(worst_first(r for r in grouped[name] if r.is_alert)),
            no_data=tuple(worst_first(r for r in grouped[name] if r.status == ALERT_NO_DATA)),
            ok_count=sum(1 for r in grouped[name] if r.status == ALERT_OK),
            not_monitored=tuple(
                worst_first(r for r in grouped[name] if r.status == ALERT_NOT_MONITORED)
            ),
            ok_rows=tuple(worst_first(r for r in grouped[name] if r.status == ALERT_OK)),
        )
        for name in sorted(grouped, key=check_order)
    ]


# --- What comes first: items, asks ------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One thing a reader should know this week; ``rank``: smaller is more serious."""

    rank: int
    headlines: tuple[str, ...]  # for the subject, longest first (the shortest must fit)
    sentence: str  # for the first screen and the preheader


@dataclass(frozen=True)
class Ask:
    """One thing asked of the reader in the action block."""

    text: str


def _lower_first(text: str) -> str:
    """``Réception de l'export FIPD`` -> ``réception de l'export FIPD`` (acronyms kept)."""
    return text[:1].lower() + text[1:]


_CHECK_RANK = {EXPORT_CHECK: 3, POLICE_CHECK: 4, PART_CHECK: 5, REPORT_CHECK: 6}


def _check_item(section: CheckSection) -> Item | None:
    if not section.alerts:
        return None
    count = len(section.alerts)
    first = section.alerts[0]
    rank = _CHECK_RANK.get(section.check_name, 7)
    if section.check_name == EXPORT_CHECK:
        heads: tuple[str, ...] = ("export FIPD en retard", "export FIPD")
    elif section.check_name == POLICE_CHECK:
        heads = ("indicateur police-population en baisse", "baisse police-population")
    elif section.check_name == PART_CHECK:
        heads = (
            f"{count_label(PART_CHECK, count)} sans annexe PART",
            "annexe PART manquante",
        )
    elif section.check_name == REPORT_CHECK:
        heads = (f"{count_label(REPORT_CHECK, count)} sans bilan", "bilan non reçu")
    else:
        heads = (_lower_first(section.label),)
    return Item(rank, heads, f"{section.label} : {first.message}")


def _departement_items(territory: Territory, sections: Sequence[CheckSection]) -> list[Item]:
    current, closed = territory.years[0], territory.years[1]
    items = []
    if current.below:
        share, target = format_share(current.share_located), format_target(current.target)
        items.append(
            Item(
                0,
                (
                    f"FIPD {share} en {current.annee}, cible {target}",
                    f"FIPD {share}, cible {target}",
                    f"FIPD {share}",
                ),
                f"Part prioritaire FIPD {current.annee} : {share} pour une cible de {target} ; "
                f"{format_eur(current.gap_eur)} à réorienter vers les QPV et ZSP.",
            )
        )
    elif current.no_data:
        items.append(
            Item(
                1,
                (f"aucune donnée FIPD {current.annee}", "pas de données FIPD"),
                f"Aucune action FIPD {current.annee} n'a été reçue : l'export de l'année est "
                "attendu.",
            )
        )
    for section in sections:
        item = _check_item(section)
        if item and not (section.check_name == EXPORT_CHECK and current.no_data):
            items.append(item)
    if closed.below:
        share = format_share(closed.share_located)
        items.append(
            Item(
                8,
                (f"FIPD {closed.annee} sous la cible ({share})", f"FIPD {closed.annee} {share}"),
                f"Exercice clos {closed.annee} : part prioritaire {share}, sous la cible de "
                f"{format_target(closed.target)}.",
            )
        )
    return sorted(items, key=lambda i: i.rank)


def _national_items(
    national: Territory, departements: Sequence[Territory], sections: Sequence[CheckSection]
) -> list[Item]:
    current = national.years[0]
    items = []
    below = [t for t in departements if t.years[0].below]
    missing = [t for t in departements if t.years[0].no_data]
    if current.below:
        share, target = format_share(current.share_located), format_target(current.target)
        items.append(
            Item(
                0,
                (
                    f"France {share} en {current.annee}, cible {target}",
                    f"France {share}, cible {target}",
                    f"France {share}",
                ),
                f"France : part prioritaire FIPD {current.annee} de {share}, sous la cible de "
                f"{target}.",
            )
        )
    if below:
        n = len(below)
        dep = plural(n, "département", "départements")
        items.append(
            Item(
                1,
                (
                    f"{n} {dep} sous la cible FIPD {current.annee}",
                    f"{n} {dep} sous la cible",
                    f"{n} dép. sous la cible",
                ),
                f"{n} {dep} sous la cible en {current.annee}, pour un écart total de "
                f"{format_eur(sum(t.years[0].gap_eur or 0.0 for t in below))}.",
            )
        )
    if missing:
        n = len(missing)
        dep = plural(n, "département", "départements")
        items.append(
            Item(
                2,
                (f"{n} {dep} sans données FIPD {current.annee}", f"{n} sans données FIPD"),
                f"{n} {dep} sans aucune donnée FIPD pour {current.annee} : non comptés comme "
                "atteignant la cible.",
            )
        )
    for section in sections:
        if section.alerts:
            n = len(section.alerts)
            items.append(
                Item(
                    _CHECK_RANK.get(section.check_name, 7),
                    (f"{_lower_first(section.label)} : {n}",),
                    f"{section.label} : {section.summary}.",
                )
            )
    return sorted(items, key=lambda i: i.rank)


def _subject(names: Sequence[str], items: Sequence[Item], week_label: str) -> str:
    """``[Vigie] <who> : <most serious item>`` within 60 characters, then the week."""
    tail = f" — semaine du {week_label}"
    headlines = items[0].headlines if items else ("rien à signaler cette semaine",)
    # The name as the reader knows it first (with its code), the most telling headline first.
    candidates = [(name, headline) for name in names for headline in headlines]
    for name, headline in candidates:
        head = f"[Vigie] {name} : {headline}"
        if len(head) <= SUBJECT_HEAD_MAX:
            return head + tail
    name, headline = candidates[-1]
    head = f"[Vigie] {name} : {headline}"
    return head[: SUBJECT_HEAD_MAX - 1].rstrip() + "…" + tail


def _preheader(items: Sequence[Item], deadline: str, asks: Sequence[Ask]) -> str:
    """The inbox preview: the most serious item, how many others, and by when."""
    if not items:
        text = "Rien à signaler cette semaine."
    else:
        text = items[0].sentence
        if len(items) > 1:
            text += f" Et {len(items) - 1} autre{'s' if len(items) > 2 else ''} point"
            text += "s." if len(items) > 2 else "."
    if asks:
        text += f" Réponse attendue d'ici le {deadline}."
    return text


def _departement_asks(
    territories: Sequence[Territory], sections: Mapping[str, Sequence[CheckSection]]
) -> list[Ask]:
    asks = []
    for t in territories:
        current, closed = t.years[0], t.years[1]
        where = f" ({t.label})" if len(territories) > 1 else ""
        if current.below:
            asks.append(
                Ask(
                    f"Réexaminer la programmation FIPD {current.annee}{where} : "
                    f"{format_eur(current.gap_eur)} sont à réorienter vers des actions menées en "
                    "QPV ou en ZSP pour atteindre la cible ; si des actions menées en QPV "
                    "n'indiquent pas le code du quartier, transmettre un export complété."
                )
            )
        export_late = any(s.check_name == EXPORT_CHECK and s.alerts for s in sections[t.code])
        if current.no_data:
            asks.append(
                Ask(
                    f"Transmettre l'export FIPD {current.annee}{where} : aucune action de "
                    "l'année n'a été reçue, et l'absence de données ne vaut pas atteinte de la "
                    "cible."
                )
            )
        elif export_late:
            asks.append(Ask(f"Transmettre un export FIPD {current.annee} à jour{where}."))
        if closed.no_data:
            asks.append(
                Ask(
                    f"Transmettre l'export FIPD {closed.annee} (exercice clos){where} : aucune "
                    "action de cet exercice n'a été reçue."
                )
            )
        for s in sections[t.code]:
            if not s.alerts:
                continue
            n = len(s.alerts)
            if s.check_name == POLICE_CHECK:
                asks.append(
                    Ask(
                        "Examiner avec la direction départementale de la police nationale ou le "
                        "groupement de gendarmerie la baisse signalée ci-dessous "
                        f"({n} {plural(n, 'territoire', 'territoires')})."
                    )
                )
            elif s.check_name == PART_CHECK:
                asks.append(
                    Ask(
                        "Faire adopter l'annexe de prévention de la radicalisation de "
                        f"{plural(n, 'ce contrat de ville', f'ces {n} contrats de ville')} "
                        "(voir ci-dessous)."
                    )
                )
            elif s.check_name == REPORT_CHECK:
                asks.append(
                    Ask(
                        f"Relancer {plural(n, 'la structure', f'les {n} structures')} dont le "
                        "bilan d'activité n'est pas parvenu (voir ci-dessous)."
                    )
                )
            elif s.check_name != EXPORT_CHECK:
                asks.append(Ask(f"{s.label} : voir les {n} constats ci-dessous."))
    return asks


def _national_asks(
    current_year: int,
    below: Sequence[Territory],
    missing: Sequence[Territory],
    closed_missing: Sequence[Territory],
    sections: Sequence[CheckSection],
    deadline: str,
) -> list[Ask]:
    asks = []
    if below:
        n = len(below)
        asks.append(
            Ask(
                f"Examiner avec les préfectures concernées la programmation FIPD {current_year} "
                f"des {n} {plural(n, 'département', 'départements')} sous la cible (écart "
                f"total : {format_eur(sum(t.years[0].gap_eur or 0.0 for t in below))})."
                if n > 1
                else f"Examiner avec la préfecture la programmation FIPD {current_year} du "
                f"département sous la cible ({below[0].label})."
            )
        )
    if missing:
        n = len(missing)
        asks.append(
            Ask(
                f"Relancer {plural(n, 'la préfecture', f'les {n} préfectures')} sans aucun "
                f"export FIPD {current_year}."
            )
        )
    if closed_missing:
        n = len(closed_missing)
        asks.append(
            Ask(
                f"{n} {plural(n, 'département n’a', 'départements n’ont')} pas transmis "
                f"l'export FIPD {current_year - 1} (exercice clos) : la demande leur est faite "
                f"dans leur message de cette semaine, pour le {deadline}."
            )
        )
    for s in sections:
        if s.alerts:
            asks.append(Ask(f"{s.label} : {s.summary} (détail ci-dessous)."))
    return asks


# --- Rendering ---------------------------------------------------------------------------------


def templates_dir() -> Path:
    """``<include>/templates/email``: operators may restyle the messages without touching code."""
    return get_settings().include_dir / "templates" / "email"


@cache
def _environment(directory: str) -> Environment:
    """HTML templates autoescaped (names, roles and messages come from files others write)."""
    env = Environment(
        loader=FileSystemLoader(directory),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        eur=format_eur,
        share=format_share,
        target=format_target,
        count=format_count,
        month=format_month,
        period=format_period,
        plural=plural,
        quoted=quoted,
        fr=french_spacing,
        sentence=lambda text: text[:1].upper() + text[1:],
        check_label=check_label,
    )
    return env


@dataclass(frozen=True)
class _Recipient:
    email: str
    perimetres: tuple[str, ...]  # "national" and/or département codes, in official order
    roles: tuple[str, ...]  # "role — territory", why this person gets this message

    @property
    def national(self) -> bool:
        return NATIONAL in self.perimetres


@dataclass(frozen=True)
class Chart:
    """The inline picture of one message (chart or map): its PNG and what it shows."""

    png: bytes
    data: ChartData | MapData
    alt: str

    @property
    def cid(self) -> str:
        """From the PNG's hash: stable for the same picture, distinct for different ones."""
        return f"fipd-chart.{hashlib.sha256(self.png).hexdigest()[:24]}@vigie"

    @property
    def legend(self) -> tuple[tuple[str, str], ...]:
        return self.data.legend()


@dataclass(frozen=True)
class _Content:
    subject: str
    text: str
    html: str
    csv_name: str
    csv: bytes
    perimetre: str
    chart: Chart


def _recipients(pilots: Iterable[Pilot]) -> list[_Recipient]:
    """One entry per address (compared case-insensitively), national pilots first."""
    grouped: dict[str, list[Pilot]] = {}
    for pilot in pilots:
        grouped.setdefault(pilot.email.strip().lower(), []).append(pilot)
    out = []
    for email, rows in grouped.items():
        codes = sorted(
            {p.perimetre for p in rows},
            key=lambda c: (-1, c) if c == NATIONAL else code_order(c),
        )
        roles = []
        for pilot in sorted(rows, key=lambda p: codes.index(p.perimetre)):
            where = "" if pilot.perimetre == NATIONAL else f" — {_label(pilot.perimetre)}"
            roles.append(pilot.role + where)
        out.append(_Recipient(email, tuple(codes), tuple(dict.fromkeys(roles))))
    return sorted(out, key=lambda r: (not r.national, _order_of(r.perimetres), r.email))


def _order_of(perimetres: tuple[str, ...]) -> tuple[int, str]:
    first = next((c for c in perimetres if c != NATIONAL), "")
    return code_order(first)


def _label(code: str) -> str:
    return f"{DEPARTEMENTS.get(code, code)} ({code})"


def _year_phrase(years: Iterable[YearFigures]) -> str:
    return " et ".join(str(y.annee) for y in years)


@dataclass(frozen=True)
class _Week:
    """What every message of the week is built from (each message takes its own share)."""

    national: Territory
    departements: Mapping[str, Territory]
    changes: WeekChanges
    has_alert_rows: bool
    previous_label: str

    def fipd_rows(self, codes: Iterable[str] | None = None) -> dict[str, AlertRow]:
        keep = None if codes is None else set(codes)
        return {
            _fipd_key(r.territory_code, r.period): r
            for r in self.changes.rows
            if r.check_name == FIPD_SHARE and (keep is None or r.code_departement in keep)
        }


def _national_content(
    env: Environment, week: _Week, common: dict[str, Any], chart: Chart
) -> _Content:
    national, departements = week.national, week.departements
    alerts = sorted(
        (t for t in departements.values() if t.category == BELOW_TARGET),
        key=Territory.worst_first_key,
    )
    current_year = national.years[0].annee
    missing = [t for t in departements.values() if t.years[0].no_data]
    closed_missing = [t for t in departements.values() if t.years[1].no_data]
    ok_count = sum(1 for t in departements.values() if t.category == OK)
    current_ok = sum(1 for t in departements.values() if t.years[0].status == OK)
    sections = _sections(week.changes.rows)
    items = _national_items(national, list(departements.values()), sections)
    below_current = [t for t in departements.values() if t.years[0].below]
    asks = _national_asks(
        current_year, below_current, missing, closed_missing, sections, common["deadline"]
    )
    subject = _subject(("Synthèse nationale", "National"), items, common["week_label"])
    fipd_rows = week.fipd_rows()
    context = dict(
        common,
        subject=subject,
        preheader=_preheader(items, common["deadline"], asks),
        items=items[:4],
        more_items=max(0, len(items) - 4),
        asks=asks,
        target=national.years[0].target,
        national=national,
        alerts=alerts,
        missing=missing,
        closed_missing=closed_missing,
        ok_count=ok_count,
        current_ok=current_ok,
        sections=sections,
        changes=week.changes,
        fipd=fipd_rows,
        new_fipd={r.territory_code for r in fipd_rows.values() if r.is_new},
        chart=chart,
        top=DIGEST_TOP,
    )
    text = env.get_template("national_digest.txt.j2").render(context)
    html = env.get_template("national_digest.html.j2").render(context)
    table = [national, *departements.values()]
    rows = [*week.changes.rows, *(r for r in week.changes.resolved if r.change == GONE)]
    attachment = figures_csv(table, worst_first(rows), fipd_rows)
    return _Content(subject, text, html, common["csv_name"], attachment, NATIONAL, chart)


def _departement_content(
    env: Environment,
    territories: list[Territory],
    week: _Week,
    common: dict[str, Any],
    perimetre: str,
    chart: Chart,
    settings: Settings,
) -> _Content:
    codes = [t.code for t in territories]
    changes = week.changes.scoped(codes)
    per_territory = {
        t.code: _sections(r for r in changes.rows if r.code_departement == t.code)
        for t in territories
    }
    items = sorted(
        (item for t in territories for item in _departement_items(t, per_territory[t.code])),
        key=lambda i: i.rank,
    )
    asks = _departement_asks(territories, per_territory)
    names = (
        ", ".join(t.label for t in territories),
        ", ".join(t.nom for t in territories),
        ", ".join(codes),
    )
    subject = _subject(names, items, common["week_label"])
    fipd_rows = week.fipd_rows(codes)
    pages = [(t.label, departement_url(t.code, settings)) for t in territories]
    context = dict(
        common,
        subject=subject,
        preheader=_preheader(items, common["deadline"], asks),
        items=items[:4],
        more_items=max(0, len(items) - 4),
        asks=asks,
        pages=[(label, url) for label, url in pages if url],
        territories=territories,
        target=territories[0].years[0].target,
        sections=per_territory,
        changes=changes,
        fipd=fipd_rows,
        new_fipd={r.territory_code for r in fipd_rows.values() if r.is_new},
        chart=chart,
        indicator_why=_indicators_why(per_territory),
    )
    text = env.get_template("departement.txt.j2").render(context)
    html = env.get_template("departement.html.j2").render(context)
    rows = [*changes.rows, *(r for r in changes.resolved if r.change == GONE)]
    attachment = figures_csv(territories, worst_first(rows), fipd_rows)
    return _Content(subject, text, html, common["csv_name"], attachment, perimetre, chart)


def _indicators_why(sections: Mapping[str, Sequence[CheckSection]]) -> list[tuple[str, str]]:
    """(label, why it matters) of each police indicator that fell, in the order first seen."""
    seen: dict[str, str] = {}
    for section_list in sections.values():
        for section in section_list:
            if section.check_name != POLICE_CHECK:
                continue
            for row in section.alerts:
                for indicator in row.figures.get("indicators") or []:
                    code = str(indicator.get("indicateur") or "")
                    if code in INDICATOR_WHY and code not in seen:
                        seen[code] = INDICATOR_WHY[code]
    return [(INDICATOR_LABELS.get(code, code), why) for code, why in seen.items()]


def _sender(sender: str, name: str | None) -> str:
    """``Name <address>``: the configured display name unless the sender already has one."""
    display, address = parseaddr(sender)
    if display or not name:
        return sender
    return str(Address(display_name=name, addr_spec=address))


def _message(
    content: _Content,
    recipient: str,
    sender: str,
    reply_to: str | None,
    week_start: date,
    generated_at: datetime,
) -> EmailMessage:
    week = week_start.isoformat()
    digest = hashlib.sha256()
    for part in (week, sender, recipient, content.subject, content.text, content.html):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update((reply_to or "").encode("utf-8") + b"\0")
    digest.update(content.csv + b"\0")
    digest.update(content.chart.png)
    checksum = digest.hexdigest()
    who = hashlib.sha256(recipient.encode("utf-8")).hexdigest()[:12]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "vigie.invalid"

    message = EmailMessage(policy=POLICY)
    message["Subject"] = content.subject
    message["From"] = sender
    message["To"] = recipient
    if reply_to:
        message["Reply-To"] = reply_to
    message["Date"] = format_datetime(generated_at)
    message["Message-ID"] = f"<vigie.{MESSAGE_KIND}.{week}.{who}.{checksum[:20]}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no out-of-office replies
    message["X-Vigie-Week"] = week
    message["X-Vigie-Check"] = MESSAGE_KIND
    message["X-Vigie-Perimetre"] = content.perimetre
    message["X-Vigie-Checksum"] = checksum
    message.set_content(content.text, subtype="plain", charset="utf-8")
    message.add_alternative(content.html, subtype="html", charset="utf-8")
    # The parts add_alternative made are EmailMessages, like the message (type(self)).
    html_part = cast(EmailMessage, message.get_payload(1))
    kind = "carte" if isinstance(content.chart.data, MapData) else "graphique"
    html_part.add_related(
        content.chart.png,
        maintype="image",
        subtype="png",
        cid=f"<{content.chart.cid}>",
        disposition="inline",
        filename=f"vigie-{kind}-part-prioritaire-{week}-{content.perimetre.replace(',', '-')}.png",
    )
    message.add_attachment(
        content.csv,
        maintype="text",
        subtype="csv",
        filename=content.csv_name,
        params={"charset": "utf-8"},
    )
    # Boundaries from the checksum, not random: the same content gives the same bytes.
    message.set_boundary(f"vigie-mixed-{checksum[:32]}")
    alternative = cast(EmailMessage, message.get_payload(0))
    alternative.set_boundary(f"vigie-alternative-{checksum[:32]}")
    cast(EmailMessage, alternative.get_payload(1)).set_boundary(f"vigie-related-{checksum[:32]}")
    message["Content-Language"] = "fr"  # after the parts, or it would move into the first one
    return message


@lru_cache(maxsize=128)
def _chart(data: ChartData) -> Chart:
    """Drawn once per process for the same data: a retry or a re-run of the week redraws
    nothing (drawing is deterministic, so this changes no byte)."""
    return Chart(render_png(data), data, alt_text(data))


@lru_cache(maxsize=8)
def _map(data: MapData) -> Chart:
    return Chart(render_map_png(data), data, map_alt_text(data))


def build_weekly_emails(
    week_start: date,
    share_rows: list[dict],
    pilots: list[Pilot],
    sender: str,
    *,
    alert_rows: list[dict] | None = None,
    previous_alert_rows: list[dict] | None = None,
    generated_at: datetime | None = None,
    sender_name: str | None = None,
    reply_to: str | None = None,
    response_days: int | None = None,
) -> list[EmailMessage]:
    """One message per recipient address for the week starting ``week_start``.

    ``share_rows`` are rows of ``marts.fipd_priority_share``; only the year of ``week_start``
    (to date) and the year before (the last closed one) are used, and a département or year the
    rows do not mention is reported as without data. ``alert_rows`` are the week's rows of
    ``marts.weekly_alerts`` (every check), ``previous_alert_rows`` the week before's, which say
    what is new and what is resolved; without them the messages speak of the FIPD share only,
    and without last week's rows they say no comparison is possible.

    A recipient listed for ``national`` gets the digest (which covers everything); otherwise
    one message covering all the départements the address is listed for, built from those
    départements' rows only (``code_departement``), chart included.

    ``sender_name``, ``reply_to`` and ``response_days`` (the days given to answer, from the
    week's Monday) default to the settings (``VIGIE_MAIL_FROM_NAME``, ``VIGIE_MAIL_REPLY_TO``,
    ``VIGIE_ALERTS_RESPONSE_DAYS``). ``generated_at`` (default: now; naive means UTC) only sets
    the ``Date`` header, so that re-running a week with unchanged figures yields the same
    bodies and ``Message-ID`` values.
    """
    settings = get_settings()
    name = settings.mail_from_name if sender_name is None else sender_name
    reply = settings.mail_reply_to if reply_to is None else reply_to
    days = settings.alerts_response_days if response_days is None else response_days
    from_header = _sender(sender, name)
    moment = generated_at or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    national, departements = collect_territories(share_rows, week_start.year)
    current_rows = parse_alert_rows(alert_rows or [])
    changes = compare_weeks(current_rows, parse_alert_rows(previous_alert_rows or []))
    week = _Week(
        national,
        departements,
        changes,
        bool(current_rows),
        (week_start - timedelta(days=7)).strftime("%d/%m/%Y"),
    )
    env = _environment(str(templates_dir()))
    week_label = week_start.strftime("%d/%m/%Y")
    target = national.years[0].target
    contact = parseaddr(reply)[1] if reply else parseaddr(from_header)[1]
    charts: dict[tuple[str, ...], Chart] = {}  # one chart per perimeter, not per address
    messages = []
    for recipient in _recipients(pilots):
        scope = "national" if recipient.national else "-".join(recipient.perimetres)
        common: dict[str, Any] = {
            "week_start": week_start,
            "week_label": week_label,
            "previous_week_label": week.previous_label,
            "has_alert_rows": week.has_alert_rows,
            "current_year": week_start.year,
            "closed_year": week_start.year - 1,
            "roles": recipient.roles,
            "csv_name": f"vigie-alertes-{week_start.isoformat()}-{scope}.csv",
            "deadline": format_date(week_start + timedelta(days=days)),
            "contact": contact,
            "pages": [],  # links to Vigie's pages, when VIGIE_PUBLIC_URL says where they are
            "target_basis": TARGET_BASIS.format(target=format_target(target)),
        }
        if recipient.national:
            key: tuple[str, ...] = (NATIONAL,)
            if key not in charts:
                charts[key] = _map(national_map_data(national, departements.values(), target))
            content = _national_content(env, week, common, charts[key])
        else:
            own = [departements[code] for code in recipient.perimetres]
            key = recipient.perimetres
            if key not in charts:
                charts[key] = _chart(departement_chart_data(own, national, target))
            content = _departement_content(
                env, own, week, common, ",".join(recipient.perimetres), charts[key], settings
            )
        messages.append(_message(content, recipient.email, from_header, reply, week_start, moment))
    return messages
