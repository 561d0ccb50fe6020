"""The pilots' weekly e-mails (docs/alerts.md), built from rows, as ``EmailMessage``s.

Inputs: the rows of ``marts.fipd_priority_share`` for the current year and the last closed
year, and the rows of ``marts.weekly_alerts`` for the week and the week before (every check).
One message per recipient address:

- national pilots get a digest: what changed since last week (new alerts, alerts resolved), the
  national totals, every département below the FIPD target worst first, the départements
  without data listed apart (never counted as passing), then every other check's alerts worst
  first (missing exports, police indicators, and any check added later, through its message);
- a département's pilots get their own département's figures and alerts and nothing else: the
  message, its chart and its attachment are built from rows filtered on their département
  (``code_departement``), so another département's figures cannot leak into it.

Each message: plain text, HTML with the chart inline (``multipart/related``, ``cid:``), and
the figures and alert rows as a CSV attachment safe against spreadsheet formulas.

Worst first, for the FIPD share, means the largest gap in euros (``gap_eur``) first, then the
lowest located share. The gap is what the national committee can act on: it is the money to
re-orient, and the national share moves with euros, not with percentages, so a large
département at 70 % weighs more than a small one at 40 % whose whole programme is a few
actions. Sorting by share alone would put at the top the départements where one action swings
the figure. The other checks' order is in :mod:`vigie.alerts.alert_rows`.

The body never contains the time it was generated: the same figures give the same bytes
(chart included), the same checksum and the same ``Message-ID``, which is how a re-run and the
send log recognise a message already produced. Only the ``Date`` header changes.

No Airflow and no warehouse here: ``vigie.tasks.weekly_emails`` reads the rows.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache, lru_cache
from pathlib import Path
from typing import cast

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
from vigie.alerts.alert_rows import OK as ALERT_OK
from vigie.alerts.chart import (
    ChartData,
    alt_text,
    departement_chart_data,
    national_chart_data,
    render_png,
)
from vigie.alerts.figures import (
    BELOW_TARGET,
    NO_DATA,
    OK,
    Territory,
    YearFigures,
    code_order,
    collect_territories,
)
from vigie.alerts.formatting import (
    NNBSP,
    csv_decimal,
    csv_safe,
    format_count,
    format_eur,
    format_share,
    format_target,
    plural,
)
from vigie.reference.pilots import DEPARTEMENTS, NATIONAL, Pilot
from vigie.settings import get_settings

CHECK_NAME = FIPD_SHARE  # the check whose figures the messages detail
MESSAGE_KIND = "weekly_alerts"


CSV_COLUMNS = (
    "controle",
    "code_departement",
    "nom_departement",
    "territoire",
    "periode",
    "annee",
    "situation",
    "evolution_semaine",
    "nb_actions",
    "montant_perimetre_eur",
    "montant_localise_eur",
    "part_localisee_pct",
    "montant_beneficiaires_eur",
    "part_beneficiaires_pct",
    "cible_pct",
    "ecart_cible_eur",
    "message",
    "sources",
)


# --- Attachment --------------------------------------------------------------------------------


def _csv_percent(fraction: float | None) -> str:
    if fraction is None:
        return ""
    return csv_decimal(float(Decimal(str(fraction)) * 100), 2, ROUND_FLOOR)


def _fipd_key(code: str, annee: int | str) -> str:
    return f"{code}:{annee}"


def figures_csv(
    territories: Iterable[Territory],
    alerts: Iterable[AlertRow] = (),
    fipd_rows: Mapping[str, AlertRow] | None = None,
) -> bytes:
    """The figures as a CSV a French Excel opens as is: ``;``, UTF-8 with BOM, decimal comma.

    One line per (check, territory, period), like ``marts.weekly_alerts``: first the FIPD share
    of each territory and year with its figures (cents and two decimals of percentage, so the
    body's rounded figures can be checked against it), then the other checks' rows with their
    message. Each line says what changed since last week and where its figures come from
    (``sources``: files and rows). Every cell goes through :func:`csv_safe`: names and
    messages quote prefecture files.
    """
    fipd_rows = fipd_rows or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for territory in territories:
        for year in territory.years:
            alert = fipd_rows.get(_fipd_key(territory.code, year.annee))
            cells: tuple[object, ...] = (
                FIPD_SHARE,
                territory.code,
                territory.nom,
                territory.code,
                year.period,
                year.annee,
                year.status_label,
                alert.change_label if alert else "",
                "" if year.nb_actions is None else year.nb_actions,
                csv_decimal(year.montant_scope, 2),
                csv_decimal(year.montant_located, 2),
                _csv_percent(year.share_located),
                csv_decimal(year.montant_beneficiaries, 2),
                _csv_percent(year.share_beneficiaries),
                format_target(year.target).removesuffix(NNBSP + "%"),
                csv_decimal(year.gap_eur, 2),
                alert.message if alert else "",
                alert.sources() if alert else "",
            )
            writer.writerow([csv_safe(cell) for cell in cells])
    for row in alerts:
        if row.check_name == FIPD_SHARE and row.change != GONE:
            continue  # already on its territory's line above
        code = row.code_departement or ""
        cells = (
            row.check_name,
            code,
            DEPARTEMENTS.get(code, ""),
            row.territory_code,
            row.period,
            "",
            "" if row.change == GONE else row.status_label,
            row.change_label,
            *([""] * 8),
            row.message,
            row.sources(),
        )
        writer.writerow([csv_safe(cell) for cell in cells])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


# --- Other checks -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckSection:
    """One check's rows for a message: its alerts worst first, its territories without data."""

    check_name: str
    alerts: tuple[AlertRow, ...]
    no_data: tuple[AlertRow, ...]
    ok_count: int

    @property
    def label(self) -> str:
        return check_label(self.check_name)

    @property
    def new_count(self) -> int:
        return sum(1 for r in self.alerts if r.is_new)

    @property
    def summary(self) -> str:
        """``3 départements en alerte, dont 1 nouvelle alerte ; 12 sans données``."""
        if self.alerts:
            text = f"{count_label(self.check_name, len(self.alerts))} en alerte"
            if self.new_count:
                text += f", dont {self.new_count} " + plural(
                    self.new_count, "nouvelle alerte", "nouvelles alertes"
                )
        else:
            text = "aucune alerte"
        if self.no_data:
            text += f" ; {count_label(self.check_name, len(self.no_data))} sans données"
        return text


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
        )
        for name in sorted(grouped, key=check_order)
    ]


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
        plural=plural,
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
    """The inline chart of one message: its PNG and what it shows."""

    png: bytes
    data: ChartData
    alt: str

    @property
    def cid(self) -> str:
        """From the PNG's hash: stable for the same picture, distinct for different ones."""
        return f"fipd-chart.{hashlib.sha256(self.png).hexdigest()[:24]}@vigie"


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


def _subject_changes(changes: WeekChanges) -> str:
    if not changes.compared:
        return ""
    new, resolved = len(changes.new), len(changes.resolved)
    parts = []
    if new:
        parts.append(f"{new} {plural(new, 'nouvelle alerte', 'nouvelles alertes')}")
    if resolved:
        parts.append(f"{resolved} {plural(resolved, 'levée', 'levées')}")
    return (" ; " + ", ".join(parts)) if parts else ""


def _national_content(env: Environment, week: _Week, common: dict, chart: Chart) -> _Content:
    national, departements = week.national, week.departements
    alerts = sorted(
        (t for t in departements.values() if t.category == BELOW_TARGET),
        key=Territory.worst_first_key,
    )
    missing = [t for t in departements.values() if t.category == NO_DATA]
    ok_count = sum(1 for t in departements.values() if t.category == OK)
    current = national.years[0]
    counts = (
        f"{len(alerts)} {plural(len(alerts), 'département', 'départements')} sous la cible"
        if alerts
        else "aucun département sous la cible"
    )
    if missing:
        counts += f", {len(missing)} sans données"
    sections = _sections(week.changes.rows)
    others = sum(len(s.alerts) for s in sections)
    if others:
        counts += f" ; {others} {plural(others, 'autre alerte', 'autres alertes')}"
    france = (
        f"France : pas de données pour {current.annee}"
        if current.no_data
        else f"France {format_share(current.share_located)} en {current.annee}"
    )
    subject = (
        f"[Vigie] Synthèse nationale : FIPD {counts}{_subject_changes(week.changes)} ; {france} "
        f"(cible {format_target(current.target)}) — semaine du {common['week_label']}"
    )
    fipd_rows = week.fipd_rows()
    context = dict(
        common,
        subject=subject,
        target=current.target,
        national=national,
        alerts=alerts,
        missing=missing,
        ok_count=ok_count,
        sections=sections,
        changes=week.changes,
        fipd=fipd_rows,
        new_fipd={r.territory_code for r in fipd_rows.values() if r.is_new},
        chart=chart,
    )
    text = env.get_template("national_digest.txt.j2").render(context)
    html = env.get_template("national_digest.html.j2").render(context)
    table = [national, *departements.values()]
    rows = [*week.changes.rows, *(r for r in week.changes.resolved if r.change == GONE)]
    attachment = figures_csv(table, worst_first(rows), fipd_rows)
    return _Content(subject, text, html, common["csv_name"], attachment, NATIONAL, chart)


def _departement_subject(
    territories: list[Territory], others: int, changes: WeekChanges, week_label: str
) -> str:
    names = ", ".join(t.label for t in territories)
    if len(territories) == 1:
        (territory,) = territories
        year = territory.headline
        if year.no_data:
            state = f"pas de données FIPD pour {_year_phrase(territory.no_data_years)}"
        elif year.below:
            state = (
                f"part prioritaire FIPD {format_share(year.share_located)} en {year.annee} "
                f"(cible {format_target(year.target)})"
            )
        else:
            state = (
                f"part prioritaire FIPD {format_share(year.share_located)} en {year.annee}, "
                f"cible atteinte ({format_target(year.target)})"
            )
    else:
        below = sum(1 for t in territories if t.category == BELOW_TARGET)
        missing = sum(1 for t in territories if t.category == NO_DATA)
        parts = []
        if below:
            parts.append(
                f"{below} {plural(below, 'département', 'départements')} sous la cible FIPD"
            )
        if missing:
            parts.append(f"{missing} sans données FIPD")
        state = ", ".join(parts) or "cible FIPD atteinte"
    if others:
        state += f" ; {others} {plural(others, 'autre alerte', 'autres alertes')}"
    return f"[Vigie] {names} : {state}{_subject_changes(changes)} — semaine du {week_label}"


def _departement_content(
    env: Environment,
    territories: list[Territory],
    week: _Week,
    common: dict,
    perimetre: str,
    chart: Chart,
) -> _Content:
    codes = [t.code for t in territories]
    changes = week.changes.scoped(codes)
    per_territory = {
        t.code: _sections(r for r in changes.rows if r.code_departement == t.code)
        for t in territories
    }
    others = sum(len(s.alerts) for sections in per_territory.values() for s in sections)
    subject = _departement_subject(territories, others, changes, common["week_label"])
    fipd_rows = week.fipd_rows(codes)
    context = dict(
        common,
        subject=subject,
        territories=territories,
        target=territories[0].years[0].target,
        sections=per_territory,
        changes=changes,
        fipd=fipd_rows,
        new_fipd={r.territory_code for r in fipd_rows.values() if r.is_new},
        chart=chart,
    )
    text = env.get_template("departement.txt.j2").render(context)
    html = env.get_template("departement.html.j2").render(context)
    rows = [*changes.rows, *(r for r in changes.resolved if r.change == GONE)]
    attachment = figures_csv(territories, worst_first(rows), fipd_rows)
    return _Content(subject, text, html, common["csv_name"], attachment, perimetre, chart)


def _message(
    content: _Content,
    recipient: str,
    sender: str,
    week_start: date,
    generated_at: datetime,
) -> EmailMessage:
    week = week_start.isoformat()
    digest = hashlib.sha256()
    for part in (week, sender, recipient, content.subject, content.text, content.html):
        digest.update(part.encode("utf-8") + b"\0")
    digest.update(content.csv + b"\0")
    digest.update(content.chart.png)
    checksum = digest.hexdigest()
    who = hashlib.sha256(recipient.encode("utf-8")).hexdigest()[:12]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "vigie.invalid"

    message = EmailMessage()
    message["Subject"] = content.subject
    message["From"] = sender
    message["To"] = recipient
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
    html_part.add_related(
        content.chart.png,
        maintype="image",
        subtype="png",
        cid=f"<{content.chart.cid}>",
        disposition="inline",
        filename=f"vigie-part-prioritaire-{week}-{content.perimetre.replace(',', '-')}.png",
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


def build_weekly_emails(
    week_start: date,
    share_rows: list[dict],
    pilots: list[Pilot],
    sender: str,
    *,
    alert_rows: list[dict] | None = None,
    previous_alert_rows: list[dict] | None = None,
    generated_at: datetime | None = None,
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

    ``generated_at`` (default: now; naive means UTC) only sets the ``Date`` header, so that
    re-running a week with unchanged figures yields the same bodies and ``Message-ID`` values.
    """
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
    charts: dict[tuple[str, ...], Chart] = {}  # one chart per perimeter, not per address
    messages = []
    for recipient in _recipients(pilots):
        scope = "national" if recipient.national else "-".join(recipient.perimetres)
        common = {
            "week_start": week_start,
            "week_label": week_label,
            "previous_week_label": week.previous_label,
            "has_alert_rows": week.has_alert_rows,
            "current_year": week_start.year,
            "closed_year": week_start.year - 1,
            "roles": recipient.roles,
            "csv_name": f"vigie-alertes-{week_start.isoformat()}-{scope}.csv",
        }
        if recipient.national:
            key: tuple[str, ...] = (NATIONAL,)
            if key not in charts:
                charts[key] = _chart(national_chart_data(national, departements.values(), target))
            content = _national_content(env, week, common, charts[key])
        else:
            own = [departements[code] for code in recipient.perimetres]
            key = recipient.perimetres
            if key not in charts:
                charts[key] = _chart(departement_chart_data(own, national, target))
            content = _departement_content(
                env, own, week, common, ",".join(recipient.perimetres), charts[key]
            )
        messages.append(_message(content, recipient.email, sender, week_start, moment))
    return messages
