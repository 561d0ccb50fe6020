"""What each page shows, built from rows: pure functions, typed, tested without a server.

The templates (``include/templates/ui/``) only lay these objects out; every figure is
formatted by :mod:`vigie.alerts.formatting` (as in the e-mails) or :mod:`vigie.ui.french`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from vigie.alerts.alert_rows import (
    ALERT,
    NO_DATA,
    OK,
    AlertRow,
    check_label,
    check_order,
    compare_weeks,
    count_label,
    parse_alert_rows,
    worst_first,
)
from vigie.alerts.checks import EXPORT_MAX_AGE_DAYS, REPORT_GRACE_DAYS
from vigie.alerts.figures import code_order
from vigie.alerts.formatting import format_eur, format_share, format_target, plural
from vigie.alerts.indicators import INDICATOR_LABELS
from vigie.reference.pilots import DEPARTEMENTS
from vigie.ui import french, links
from vigie.ui.maps import FranceShapes, band_of, bands
from vigie.ui.readonly import Row, as_date, as_datetime

NATIONAL = "FR"
NOT_MONITORED = "not_monitored"  # a check had nothing to look at there ("non suivi")
BELOW, OK_STATUS, NO_DATA_STATUS = "below_target", "ok", "no_data"


@dataclass(frozen=True)
class Measure:
    key: str  # in the URL
    label: str  # "part localisée"
    share_column: str
    amount_column: str
    description: str


MEASURES = {
    "localisee": Measure(
        "localisee",
        "part localisée",
        "share_located",
        "montant_located",
        "crédits des actions menées dans au moins un QPV ou une ZSP (mesure de référence)",
    ),
    "beneficiaires": Measure(
        "beneficiaires",
        "part bénéficiaires",
        "share_beneficiaries",
        "montant_beneficiaries",
        "chaque action compte à proportion de ses bénéficiaires résidant en QPV ou en ZSP, "
        "lorsque la préfecture l'indique",
    ),
}
DEFAULT_MEASURE = "localisee"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def measured(row: Mapping[str, Any], measure: Measure) -> tuple[float | None, float | None, str]:
    """(share, gap in euros, status) of a row of ``marts.fipd_priority_share`` for a measure.

    The located measure is the mart's own (its ``gap_eur`` and ``status``); the beneficiaries
    one follows the same rule on its amount: ``no_data`` when nothing is in scope, below the
    target when the amount is short of target × scope (exactly the target passes).
    """
    if measure.key == "localisee":
        return row.get("share_located"), row.get("gap_eur"), str(row["status"])
    scope = Decimal(str(row.get("montant_scope") or 0))
    if scope <= 0:
        return None, None, NO_DATA_STATUS
    amount = Decimal(str(row.get(measure.amount_column) or 0))
    needed = _cents(Decimal(str(row["target"])) * scope)
    gap = max(Decimal(0), needed - amount)
    return row.get(measure.share_column), float(gap), BELOW if gap > 0 else OK_STATUS


# --- France: the map ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Territory:
    """A département (or France) for one year and one measure."""

    code: str
    nom: str
    annee: int
    share: float | None
    amount: float | None
    scope: float | None
    gap: float | None
    status: str
    nb_actions: int | None
    target: float
    css: str
    href: str

    @property
    def label(self) -> str:
        return self.nom if self.code == NATIONAL else f"{self.nom} ({self.code})"

    @property
    def below(self) -> bool:
        return self.status == BELOW

    @property
    def no_data(self) -> bool:
        return self.status == NO_DATA_STATUS

    @property
    def status_label(self) -> str:
        return {BELOW: "sous la cible", OK_STATUS: "cible atteinte"}.get(
            self.status, "pas de données"
        )

    def lines(self, measure: Measure) -> list[str]:
        """What a tooltip says, line by line."""
        if self.no_data:
            return [self.label, f"{self.annee} : pas de données (rien dans le périmètre)"]
        lines = [
            self.label,
            f"{measure.label.capitalize()} {self.annee} : {format_share(self.share)}"
            f" (cible {format_target(self.target)})",
            f"{format_eur(self.amount)} sur {format_eur(self.scope)}",
        ]
        if self.below:
            lines.append(f"Écart à la cible : {format_eur(self.gap)}")
        else:
            lines.append("Cible atteinte")
        return lines

    def sentence(self, measure: Measure) -> str:
        """The same, in one sentence: the shape's accessible name and hover title."""
        return " ; ".join(self.lines(measure)) + "."


@dataclass(frozen=True)
class Tooltip:
    code: str
    x: float
    y: float
    width: float
    height: float
    lines: tuple[str, ...]


@dataclass(frozen=True)
class DrawnShape:
    territory: Territory
    path: str
    focusable: bool  # the petite couronne is focusable in its inset, not on the mainland


@dataclass(frozen=True)
class DrawnTile:
    territory: Territory
    x: float
    y: float
    width: float
    height: float
    short_label: str
    dark: bool  # white text on this fill


@dataclass(frozen=True)
class DrawnInset:
    id: str
    label: str
    frame: tuple[float, float, float, float]
    source_box: tuple[float, float, float, float]
    transform: str
    shapes: tuple[DrawnShape, ...]


@dataclass(frozen=True)
class FranceMap:
    view_box: str
    width: float
    height: float
    shapes: tuple[DrawnShape, ...]
    insets: tuple[DrawnInset, ...]
    tiles: tuple[DrawnTile, ...]
    tiles_label: str
    tiles_label_at: tuple[float, float]
    tooltips: tuple[Tooltip, ...]
    attribution: str

    @property
    def codes(self) -> list[str]:
        found = {s.territory.code for s in self.shapes} | {t.territory.code for t in self.tiles}
        return sorted(found, key=code_order)


@dataclass(frozen=True)
class FrancePage:
    annee: int
    years: list[int]
    measure: Measure
    measures: list[Measure]
    national: Territory
    departements: list[Territory]  # official order
    below: list[Territory]  # worst first: largest gap in euros, then lowest share
    no_data: list[Territory]
    reached: int
    target: float
    map: FranceMap
    legend: list[tuple[str, str]]  # (css class, label)


DARK_BANDS = {"c-0", "c-4"}
_CHAR_WIDTH = 6.1  # px per character at the tooltip's 11 px font (estimate, no JS to measure)


def _tooltip(code: str, anchor: tuple[float, float], lines: list[str], box: tuple) -> Tooltip:
    width = max(len(line) for line in lines) * _CHAR_WIDTH + 16
    height = len(lines) * 15 + 10
    vx, vy, vw, vh = box
    x = anchor[0] + 12
    if x + width > vx + vw - 2:
        x = max(vx + 2, anchor[0] - 12 - width)
    y = min(max(vy + 2, anchor[1] - height / 2), vy + vh - height - 2)
    return Tooltip(code, round(x, 1), round(y, 1), round(width, 1), height, tuple(lines))


def france_page(
    rows: Iterable[Row],
    years: list[int],
    annee: int,
    measure: Measure,
    shapes: FranceShapes,
    names: Mapping[str, str],
    target: float,
) -> FrancePage:
    """The map and lists of one year for one measure, from that year's rows of the mart."""
    by_code = {str(r["code_departement"]): r for r in rows}
    national_row = by_code.get(NATIONAL)
    if national_row is not None:
        target = float(national_row["target"])

    def territory(code: str) -> Territory:
        row = by_code.get(code)
        nom = names.get(code) or DEPARTEMENTS.get(code) or ("France" if code == NATIONAL else code)
        href = links.departement_path(code) if code != NATIONAL else ""
        if row is None:
            return Territory(
                code, nom, annee, None, None, None, None, NO_DATA_STATUS, None, target,
                band_of(None, target), href,
            )  # fmt: skip
        share, gap, status = measured(row, measure)
        return Territory(
            code=code,
            nom=nom,
            annee=annee,
            share=share if status != NO_DATA_STATUS else None,
            amount=row.get(measure.amount_column),
            scope=row.get("montant_scope"),
            gap=gap,
            status=status,
            nb_actions=row.get("nb_actions_scope"),
            target=float(row.get("target") or target),
            css=band_of(share if status != NO_DATA_STATUS else None, target),
            href=href,
        )

    codes = sorted(set(DEPARTEMENTS) | shapes.codes | (set(by_code) - {NATIONAL}), key=code_order)
    territories = {code: territory(code) for code in codes}
    national = territory(NATIONAL)
    below = sorted(
        (t for t in territories.values() if t.below),
        key=lambda t: (
            -(t.gap or 0.0),
            t.share if t.share is not None else 1.0,
            code_order(t.code),
        ),
    )
    return FrancePage(
        annee=annee,
        years=years,
        measure=measure,
        measures=list(MEASURES.values()),
        national=national,
        departements=list(territories.values()),
        below=below,
        no_data=[t for t in territories.values() if t.no_data],
        reached=sum(1 for t in territories.values() if t.status == OK_STATUS),
        target=target,
        map=_france_map(shapes, territories, measure),
        legend=[(b.css, b.label) for b in bands(target)]
        + [("c-nd", "pas de données (ne vaut pas atteinte de la cible)")],
    )


def _france_map(
    shapes: FranceShapes, territories: Mapping[str, Territory], measure: Measure
) -> FranceMap:
    inset_codes = shapes.inset_codes
    box = shapes.view_box
    drawn = tuple(
        DrawnShape(territories[code], shape.path, focusable=code not in inset_codes)
        for code, shape in sorted(shapes.shapes.items(), key=lambda item: code_order(item[0]))
        if code in territories
    )
    anchors: dict[str, tuple[float, float]] = {
        code: shape.centre for code, shape in shapes.shapes.items() if code not in inset_codes
    }
    insets = []
    for inset in shapes.insets:
        insets.append(
            DrawnInset(
                id=inset.id,
                label=inset.label,
                frame=inset.frame,
                source_box=inset.source_box,
                transform=inset.transform,
                shapes=tuple(
                    DrawnShape(territories[code], shapes.shapes[code].path, focusable=True)
                    for code in inset.codes
                    if code in territories and code in shapes.shapes
                ),
            )
        )
        for code in inset.codes:
            if code in shapes.shapes:
                anchors[code] = inset.to_frame(shapes.shapes[code].centre)
    tiles = []
    for code, tile in sorted(shapes.tiles.items(), key=lambda item: code_order(item[0])):
        if code not in territories:
            continue
        x, y, w, h = tile.frame
        tiles.append(
            DrawnTile(
                territories[code], x, y, w, h, tile.label, territories[code].css in DARK_BANDS
            )
        )
        anchors[code] = (x + w / 2, y + h / 2)
    tooltips = tuple(
        _tooltip(code, anchors[code], territories[code].lines(measure), box)
        for code in sorted(anchors, key=code_order)
        if code in territories
    )
    return FranceMap(
        view_box=" ".join(f"{v:g}" for v in box),
        width=box[2],
        height=box[3],
        shapes=drawn,
        insets=tuple(insets),
        tiles=tuple(tiles),
        tiles_label=shapes.tiles_label,
        tiles_label_at=shapes.tiles_label_at,
        tooltips=tooltips,
        attribution=shapes.attribution,
    )


# --- Lineage -----------------------------------------------------------------------------------

LINEAGE_LABELS = {
    "files": "Fichiers sources",
    "name": "Fichier",
    "file": "Fichier",
    "sha256": "Empreinte SHA-256",
    "rows": "Lignes",
    "row": "Ligne",
    "uncounted_rows": "Lignes des plus grosses actions non comptées",
    "indicateur": "Indicateur",
    "source": "Canal",
    "request_url": "Requête à l'API",
    "page": "Page",
    "annee": "Année du suivi",
    "last_report_file": "Dernier rapport reçu",
    "loaded_at": "Chargé le",
    "audit.file_loads": "Journal des fichiers reçus",
    "sender": "Émetteur",
    "period": "Période",
}


@dataclass(frozen=True)
class Cell:
    text: str
    href: str | None = None


@dataclass(frozen=True)
class LineageTable:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


@dataclass(frozen=True)
class Lineage:
    items: tuple[tuple[str, Cell], ...] = ()
    tables: tuple[LineageTable, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.items and not self.tables


def _lineage_label(key: str) -> str:
    return LINEAGE_LABELS.get(key, key.replace("_", " "))


def _lineage_text(key: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if key == "indicateur":
        return INDICATOR_LABELS.get(str(value), str(value))
    if key == "source":
        return {"api": "API", "csv": "fichier CSV"}.get(str(value), str(value))
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, (int, float)):
        return french.format_number(float(value))
    if key.endswith("_at"):
        parsed = as_datetime(value)
        return french.format_datetime(parsed)
    return str(value)


def lineage(value: Any) -> Lineage:
    """The JSON ``lineage`` of an alert as labelled values and tables, linking files to their
    page when the lineage gives their SHA-256 (directly, or by name in its file list)."""
    if value in (None, "", [], {}):
        return Lineage()
    shas: dict[str, str] = {}

    def collect(node: Any) -> None:
        if isinstance(node, Mapping):
            if node.get("sha256") and (node.get("name") or node.get("file")):
                shas[str(node.get("name") or node.get("file"))] = str(node["sha256"])
            for child in node.values():
                collect(child)
        elif isinstance(node, list):
            for child in node:
                collect(child)

    collect(value)

    def cell(key: str, item: Any) -> Cell:
        text = _lineage_text(key, item)
        if key == "sha256" and item:
            return Cell(text, f"fichier/{item}")
        if key in {"name", "file", "last_report_file"} and str(item) in shas:
            return Cell(text, f"fichier/{shas[str(item)]}")
        return Cell(text)

    def table(caption: str, records: list[Mapping[str, Any]]) -> LineageTable:
        keys: list[str] = []
        for record in records:
            keys.extend(k for k in record if k not in keys)
        return LineageTable(
            caption=caption,
            columns=tuple(_lineage_label(k) for k in keys),
            rows=tuple(tuple(cell(k, r.get(k)) for k in keys) for r in records),
        )

    items: list[tuple[str, Cell]] = []
    tables: list[LineageTable] = []

    def walk(node: Mapping[str, Any], prefix: str = "") -> None:
        for key, child in node.items():
            title = f"{prefix}{_lineage_label(key)}"
            if isinstance(child, list) and child and all(isinstance(c, Mapping) for c in child):
                tables.append(table(title, child))
            elif isinstance(child, Mapping):
                walk(child, f"{title} › ")
            elif isinstance(child, list):
                text = ", ".join(_lineage_text(key, c) for c in child) or "aucune"
                items.append((title, Cell(text)))
            else:
                items.append((title, cell(key, child)))

    if isinstance(value, Mapping):
        walk(value)
    elif isinstance(value, list) and all(isinstance(c, Mapping) for c in value):
        tables.append(table("Sources", value))
    else:
        items.append(("Sources", Cell(json.dumps(value, ensure_ascii=False, default=str))))
    return Lineage(tuple(items), tuple(tables))


# --- The week's alerts -------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertItem:
    row: AlertRow
    territory: str
    departement_href: str | None
    lineage: Lineage


@dataclass(frozen=True)
class CheckBlock:
    check_name: str
    label: str
    alerts: tuple[AlertItem, ...]
    no_data: tuple[AlertItem, ...]
    ok_count: int
    not_monitored: tuple[AlertItem, ...] = ()

    @property
    def anchor(self) -> str:
        return self.check_name.replace("_", "-")

    @property
    def new_count(self) -> int:
        return sum(1 for a in self.alerts if a.row.is_new)

    @property
    def summary(self) -> str:
        if self.alerts:
            text = f"{count_label(self.check_name, len(self.alerts))} en alerte"
            if self.new_count:
                text += f", dont {self.new_count} " + plural(
                    self.new_count, "nouvelle alerte", "nouvelles alertes"
                )
        else:
            text = "aucune alerte"
        if self.no_data:
            text += f" ; {count_label(self.check_name, len(self.no_data))} sans données"
        if self.not_monitored:
            text += f" ; {len(self.not_monitored)} non suivis"
        if self.ok_count:
            text += f" ; {self.ok_count} sans anomalie"
        return text


@dataclass(frozen=True)
class AlertsPage:
    week: date | None
    weeks: list[date]
    previous_week: date | None
    compared: bool
    checks: list[CheckBlock]
    resolved: list[AlertItem]
    evaluated_at: datetime | None

    @property
    def alert_count(self) -> int:
        return sum(len(c.alerts) for c in self.checks)


def territory_label(row: AlertRow, names: Mapping[str, str]) -> str:
    """Who an alert is about, in French: ``Seine-Saint-Denis (93), police nationale``."""
    dep = row.code_departement
    dep_label = f"{names.get(dep) or DEPARTEMENTS.get(dep, dep)} ({dep})" if dep else ""
    kind, code = row.territory_kind, row.territory_code
    if kind == "departement":
        return dep_label or code
    if kind == "departement_force":
        force = code.rsplit("-", 1)[-1]
        return f"{dep_label}, {french.label(french.FORCE_LABELS, force).lower()}"
    if kind == "contrat_de_ville":
        return f"contrat de ville {code}" + (f", {dep_label}" if dep_label else "")
    if kind == "structure":
        return f"structure SIRET {code}" + (f", {dep_label}" if dep_label else "")
    return f"{kind} {code}" + (f", {dep_label}" if dep_label else "")


def _item(row: AlertRow, names: Mapping[str, str], prefix: str = "") -> AlertItem:
    href = None
    if row.code_departement and row.code_departement in DEPARTEMENTS:
        href = prefix + links.departement_path(row.code_departement)
    return AlertItem(row, territory_label(row, names), href, lineage(row.lineage))


def alert_blocks(
    rows: Sequence[AlertRow], names: Mapping[str, str], prefix: str = ""
) -> list[CheckBlock]:
    """Each check (in the e-mails' order) with its alerts worst first and its no-data rows."""
    grouped: dict[str, list[AlertRow]] = {}
    for row in rows:
        grouped.setdefault(row.check_name, []).append(row)
    return [
        CheckBlock(
            check_name=name,
            label=check_label(name),
            alerts=tuple(
                _item(r, names, prefix) for r in worst_first(r for r in grouped[name] if r.is_alert)
            ),
            no_data=tuple(
                _item(r, names, prefix)
                for r in worst_first(r for r in grouped[name] if r.status == NO_DATA)
            ),
            ok_count=sum(1 for r in grouped[name] if r.status == OK),
            not_monitored=tuple(
                _item(r, names, prefix)
                for r in worst_first(r for r in grouped[name] if r.status == NOT_MONITORED)
            ),
        )
        for name in sorted(grouped, key=check_order)
    ]


def alerts_page(
    week: date | None,
    weeks: list[date],
    rows: Iterable[Row],
    previous_rows: Iterable[Row],
    names: Mapping[str, str],
) -> AlertsPage:
    current = list(rows)
    parsed = parse_alert_rows(current)
    previous = parse_alert_rows(previous_rows)
    changes = compare_weeks(parsed, previous)
    older = [w for w in weeks if week is not None and w < week]
    evaluated = [as_datetime(r.get("evaluated_at")) for r in current]
    return AlertsPage(
        week=week,
        weeks=weeks,
        previous_week=older[0] if older else None,
        compared=changes.compared,
        checks=alert_blocks(changes.rows, names),
        resolved=[_item(r, names) for r in changes.resolved],
        evaluated_at=max((e for e in evaluated if e is not None), default=None),
    )


# --- Who has sent what -------------------------------------------------------------------------


@dataclass(frozen=True)
class FileRef:
    name: str
    sha256: str | None
    status: str
    received_at: datetime | None
    run_href: str | None
    period: str | None = None

    @property
    def status_label(self) -> str:
        return french.label(french.STATUS_LABELS, self.status)


@dataclass(frozen=True)
class PrefectureLine:
    code: str
    nom: str
    fipd: FileRef | None
    fipd_due: date | None
    fipd_late: bool
    contrats: FileRef | None
    files: int
    quarantined: int
    rows_loaded: int | None
    rows_rejected: int | None


@dataclass(frozen=True)
class AssociationLine:
    code: str
    nom: str
    structures: int
    last_periode: str | None
    last_received_at: datetime | None
    last_file: FileRef | None


@dataclass(frozen=True)
class QuarantinedFile:
    source: str
    kind: str | None
    name: str
    path: str | None
    sha256: str
    reason: str | None
    received_at: datetime | None
    run_href: str | None


@dataclass(frozen=True)
class FreshnessLine:
    source: str
    sender: str
    channel: str
    deliveries: int | None
    quarantined: int | None
    last_file_at: datetime | None
    last_load_at: datetime | None
    rows_loaded: int | None
    rows_rejected: int | None


@dataclass(frozen=True)
class SourcesPage:
    today: date
    since: datetime
    quarantined: list[QuarantinedFile]
    prefectures: list[PrefectureLine]
    associations: list[AssociationLine]
    association_due: list[tuple[str, date]]  # (période, deadline) of the next reports due
    police: list[FreshnessLine]
    police_latest_month: date | None
    police_next_month: date | None
    api_fetches: list[Row]
    references: list[FreshnessLine]
    unknown_senders: list[FreshnessLine]
    export_max_age_days: int = EXPORT_MAX_AGE_DAYS
    report_grace_days: int = REPORT_GRACE_DAYS


def run_href(airflow_root: str, source: str, run_id: str | None) -> str | None:
    """The Airflow page of the DAG run that handled a file (its source's DAG), or None."""
    dag_id = links.SOURCE_DAGS.get(source)
    if not run_id or dag_id is None:
        return None
    return airflow_root + links.dag_run_path(dag_id, run_id)


def _file_ref(row: Row | None, airflow_root: str, source: str) -> FileRef | None:
    if row is None:
        return None
    return FileRef(
        name=str(row["source_file_name"]),
        sha256=row.get("source_file_sha256"),
        status=str(row["status"]),
        received_at=as_datetime(row.get("received_at")),
        run_href=run_href(airflow_root, source, row.get("dag_run_id")),
        period=row.get("period"),
    )


def week_start(today: date) -> datetime:
    """Monday 00:00 of ``today``'s week, Paris time."""
    monday = today - timedelta(days=today.weekday())
    return datetime(monday.year, monday.month, monday.day, tzinfo=french.PARIS)


def _period_end(periode: str) -> date:
    year = int(periode[:4])
    return date(year, 6, 30) if periode.endswith("-S1") else date(year, 12, 31)


def next_reports_due(today: date) -> list[tuple[str, date]]:
    """The next association reports due after ``today`` (end of period + 60 days), soonest
    first: the rule of the weekly check ``association_report_missing``."""
    candidates = []
    for year in (today.year - 1, today.year, today.year + 1):
        for periode in (str(year), f"{year}-S1", f"{year}-S2"):
            deadline = _period_end(periode) + timedelta(days=REPORT_GRACE_DAYS)
            if deadline >= today:
                candidates.append((periode, deadline))
    candidates.sort(key=lambda c: (c[1], c[0]))
    if not candidates:
        return []
    first = candidates[0][1]
    return [c for c in candidates if c[1] == first]


def _freshness_line(row: Row) -> FreshnessLine:
    return FreshnessLine(
        source=str(row["source"]),
        sender=str(row["sender"]),
        channel=str(row["channel"]),
        deliveries=row.get("nb_deliveries"),
        quarantined=row.get("nb_quarantined"),
        last_file_at=as_datetime(row.get("last_file_at")),
        last_load_at=as_datetime(row.get("last_load_at")),
        rows_loaded=row.get("rows_loaded"),
        rows_rejected=row.get("rows_rejected"),
    )


def _next_month(month: date | None) -> date | None:
    if month is None:
        return None
    return date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def sources_page(
    *,
    today: date,
    names: Mapping[str, str],
    prefecture_files: Iterable[Row],
    freshness: Iterable[Row],
    quarantined: Iterable[Row],
    structures: Mapping[str, Row],
    association_files: Mapping[str, Row],
    api_fetches: list[Row],
    police_latest_month: Any,
    airflow_root: str,
) -> SourcesPage:
    last: dict[tuple[str, str], Row] = {}
    for row in prefecture_files:
        last[(str(row["sender"]), str(row["kind"]))] = row
    fresh = list(freshness)
    by_sender = {r["sender"]: r for r in fresh if r["source"] == "prefectures"}
    prefectures = []
    for code in sorted(set(DEPARTEMENTS) | {s for s, _ in last}, key=code_order):
        fipd = last.get((code, "fipd"))
        # The weekly check wants an export of the current year every 45 days.
        received = as_datetime(fipd.get("last_of_year")) if fipd else None
        due = (
            received.astimezone(french.PARIS).date() + timedelta(days=EXPORT_MAX_AGE_DAYS)
            if received
            else None
        )
        counts = by_sender.get(code, {})
        files = sum(int(r.get("files") or 0) for (s, _), r in last.items() if s == code)
        quarantined_count = sum(
            int(r.get("quarantined") or 0) for (s, _), r in last.items() if s == code
        )
        prefectures.append(
            PrefectureLine(
                code=code,
                nom=names.get(code) or DEPARTEMENTS.get(code, code),
                fipd=_file_ref(fipd, airflow_root, "prefectures"),
                fipd_due=due,
                fipd_late=due is None or due < today,
                contrats=_file_ref(last.get((code, "contrats")), airflow_root, "prefectures"),
                files=files,
                quarantined=quarantined_count,
                rows_loaded=counts.get("rows_loaded"),
                rows_rejected=counts.get("rows_rejected"),
            )
        )
    associations = [
        AssociationLine(
            code=code,
            nom=names.get(code) or DEPARTEMENTS.get(code, code),
            structures=int(structures[code]["nb_structures"]),
            last_periode=structures[code].get("last_periode"),
            last_received_at=as_datetime(structures[code].get("last_received_at")),
            last_file=_file_ref(association_files.get(code), airflow_root, "associations"),
        )
        for code in sorted(structures, key=code_order)
    ]
    quarantine = [
        QuarantinedFile(
            source=str(r["source"]),
            kind=r.get("kind"),
            name=str(r["source_file_name"]),
            path=r.get("source_file_path"),
            sha256=str(r["source_file_sha256"]),
            reason=r.get("reason"),
            received_at=as_datetime(r.get("received_at")),
            run_href=run_href(airflow_root, str(r["source"]), r.get("dag_run_id")),
        )
        for r in quarantined
    ]
    latest = as_date(police_latest_month)
    return SourcesPage(
        today=today,
        since=week_start(today),
        quarantined=quarantine,
        prefectures=prefectures,
        associations=associations,
        association_due=next_reports_due(today),
        police=[_freshness_line(r) for r in fresh if r["source"] == "police_population"],
        police_latest_month=latest,
        police_next_month=_next_month(latest),
        api_fetches=api_fetches,
        references=[_freshness_line(r) for r in fresh if r["source"] == "reference"],
        unknown_senders=[
            _freshness_line(r)
            for r in fresh
            if r["sender"] == "unknown" and r["source"] not in {"reference"}
        ],
    )


# --- A département -----------------------------------------------------------------------------


@dataclass(frozen=True)
class YearLine:
    annee: int
    nb_actions: int | None
    scope: float | None
    located: float | None
    share_located: float | None
    beneficiaries: float | None
    share_beneficiaries: float | None
    target: float
    gap: float | None
    status: str
    national_share: float | None

    @property
    def status_label(self) -> str:
        return {BELOW: "sous la cible", OK_STATUS: "cible atteinte"}.get(
            self.status, "pas de données"
        )


@dataclass(frozen=True)
class Bar:
    annee: int
    x: float
    y: float
    width: float
    height: float
    label: str
    below: bool
    national_y: float | None

    @property
    def label_y(self) -> float:
        """Above the bar and above France's marker, so that neither hides the figure."""
        top = min(self.y, self.national_y if self.national_y is not None else self.y)
        return max(top - 7, 10.0)


@dataclass(frozen=True)
class ShareChart:
    width: float
    height: float
    bars: tuple[Bar, ...]
    target_y: float
    target_label: str
    base_y: float
    description: str


@dataclass(frozen=True)
class IndicatorSeries:
    force: str
    indicateur: str
    label: str
    known: bool
    values: tuple[tuple[date, float | None], ...]
    latest_month: date | None
    latest: float | None
    previous_year: float | None
    evolution: float | None
    points: str  # sparkline polyline
    description: str


@dataclass(frozen=True)
class PoliceBlock:
    force: str
    label: str
    series: tuple[IndicatorSeries, ...]
    months: tuple[date, ...]

    def value(self, series: IndicatorSeries, month: date) -> float | None:
        return dict(series.values).get(month)


@dataclass(frozen=True)
class ContratLine:
    row: Row
    plan_label: str
    history: tuple[Row, ...]


@dataclass(frozen=True)
class AssociationPeriod:
    periode: str
    total: Row | None
    networks: tuple[Row, ...]

    @property
    def suppressed(self) -> int:
        rows = ([self.total] if self.total else []) + list(self.networks)
        return sum(int(r.get("nb_cells_suppressed") or 0) for r in rows)


@dataclass(frozen=True)
class DepartementPage:
    code: str
    nom: str
    facts: Row
    years: list[YearLine]
    chart: ShareChart | None
    annee: int | None
    uncounted: list[Row]
    uncounted_count: int
    uncounted_amount: float
    uncounted_limit: int
    police: list[PoliceBlock]
    police_last: date | None
    police_first: date | None
    contrats: list[ContratLine]
    associations: list[AssociationPeriod]
    suppression_threshold: int
    alerts: list[CheckBlock]
    alerts_week: date | None

    @property
    def label(self) -> str:
        return f"{self.nom} ({self.code})"


def year_lines(history: Iterable[Row], code: str) -> list[YearLine]:
    national = {int(r["annee"]): r for r in history if r["code_departement"] == NATIONAL}
    lines = []
    for row in history:
        if row["code_departement"] != code:
            continue
        annee = int(row["annee"])
        status = str(row["status"])
        lines.append(
            YearLine(
                annee=annee,
                nb_actions=row.get("nb_actions_scope"),
                scope=row.get("montant_scope"),
                located=row.get("montant_located"),
                share_located=row.get("share_located") if status != NO_DATA_STATUS else None,
                beneficiaries=row.get("montant_beneficiaries"),
                share_beneficiaries=(
                    row.get("share_beneficiaries") if status != NO_DATA_STATUS else None
                ),
                target=float(row["target"]),
                gap=row.get("gap_eur"),
                status=status,
                national_share=(national.get(annee) or {}).get("share_located"),
            )
        )
    return sorted(lines, key=lambda y: y.annee, reverse=True)


def share_chart(years: list[YearLine]) -> ShareChart | None:
    """Located share per year as bars (red below the target), the target as a line."""
    if not years:
        return None
    ordered = sorted(years, key=lambda y: y.annee)
    width, height, left, top, bottom = 560.0, 210.0, 64.0, 22.0, 28.0
    plot = height - top - bottom
    slot = (width - left - 8) / len(ordered)
    bar_width = min(48.0, slot * 0.6)

    def y_of(share: float) -> float:
        return top + plot * (1 - max(0.0, min(1.0, share)))

    bars = []
    for index, year in enumerate(ordered):
        share = year.share_located
        x = left + slot * index + (slot - bar_width) / 2
        y = y_of(share) if share is not None else top + plot
        bars.append(
            Bar(
                annee=year.annee,
                x=round(x, 1),
                y=round(y, 1),
                width=round(bar_width, 1),
                height=round(top + plot - y, 1),
                label=format_share(share) if share is not None else "pas de données",
                below=year.status == BELOW,
                national_y=(
                    round(y_of(year.national_share), 1) if year.national_share is not None else None
                ),
            )
        )
    target = ordered[-1].target
    description = "Part localisée par année : " + " ; ".join(f"{b.annee} : {b.label}" for b in bars)
    return ShareChart(
        width=width,
        height=height,
        bars=tuple(bars),
        target_y=round(y_of(target), 1),
        target_label=f"cible {format_target(target)}",
        base_y=top + plot,
        description=description + f" ; cible {format_target(target)}.",
    )


def _month(value: Any) -> date:
    found = as_date(value)
    assert found is not None
    return found.replace(day=1)


def police_blocks(rows: Iterable[Row], last: date | None, months: int) -> list[PoliceBlock]:
    """Per force, each indicator over the months up to ``last`` (its latest published)."""
    if last is None:
        return []
    total = last.year * 12 + last.month - 1
    span = tuple(
        date((total - k) // 12, (total - k) % 12 + 1, 1) for k in range(months - 1, -1, -1)
    )
    grouped: dict[tuple[str, str], dict[date, Row]] = {}
    for row in rows:
        grouped.setdefault((str(row["force"]), str(row["indicateur"])), {})[_month(row["mois"])] = (
            row
        )
    blocks = []
    for force in ("PN", "GN"):
        series = []
        indicators = sorted(
            (i for f, i in grouped if f == force),
            key=lambda i: (list(INDICATOR_LABELS).index(i) if i in INDICATOR_LABELS else 99, i),
        )
        for indicateur in indicators:
            by_month = grouped[(force, indicateur)]
            values = tuple((m, by_month[m]["valeur"] if m in by_month else None) for m in span)
            present = [(m, v) for m, v in values if v is not None]
            latest_month = present[-1][0] if present else None
            latest_row = by_month.get(latest_month) if latest_month else None
            label = INDICATOR_LABELS.get(indicateur, indicateur)
            series.append(
                IndicatorSeries(
                    force=force,
                    indicateur=indicateur,
                    label=label,
                    known=bool(latest_row.get("indicateur_connu", True)) if latest_row else True,
                    values=values,
                    latest_month=latest_month,
                    latest=latest_row["valeur"] if latest_row else None,
                    previous_year=latest_row.get("valeur_annee_precedente") if latest_row else None,
                    evolution=latest_row.get("evolution") if latest_row else None,
                    points=_sparkline(values),
                    description=_series_description(label, present),
                )
            )
        if series:
            blocks.append(
                PoliceBlock(force, french.label(french.FORCE_LABELS, force), tuple(series), span)
            )
    return blocks


SPARK_WIDTH, SPARK_HEIGHT = 160.0, 32.0


def _sparkline(values: Sequence[tuple[date, float | None]]) -> str:
    numbers = [v for _, v in values if v is not None]
    if not numbers:
        return ""
    low, high = min(numbers), max(numbers)
    step = SPARK_WIDTH / max(1, len(values) - 1)
    points = []
    for index, (_, value) in enumerate(values):
        if value is None:
            continue
        if high == low:  # a flat series, drawn flat in the middle
            y = SPARK_HEIGHT / 2
        else:
            y = SPARK_HEIGHT - 3 - (value - low) / (high - low) * (SPARK_HEIGHT - 6)
        points.append(f"{index * step:.1f},{y:.1f}")
    return " ".join(points)


def _series_description(label: str, present: list[tuple[date, float]]) -> str:
    if not present:
        return f"{label} : aucune valeur publiée sur la période."
    (first_month, first), (last_month, last_value) = present[0], present[-1]
    low = min(v for _, v in present)
    high = max(v for _, v in present)
    return (
        f"{label} : {french.format_number(first)} en {french.format_month(first_month)}, "
        f"{french.format_number(last_value)} en {french.format_month(last_month)} "
        f"(minimum {french.format_number(low)}, maximum {french.format_number(high)})."
    )


def contrat_lines(rows: Iterable[Row], history: Mapping[str, list[Row]]) -> list[ContratLine]:
    return [
        ContratLine(
            row=row,
            plan_label=french.label(french.PLAN_LABELS, row.get("plan_radicalisation")),
            history=tuple(history.get(str(row["contrat_id"]), [])),
        )
        for row in rows
    ]


NETWORK_ORDER = ("FNEPE", "ANPAEJ", "CNLAPS", "Autre")


def association_periods(rows: Iterable[Row]) -> list[AssociationPeriod]:
    grouped: dict[str, list[Row]] = {}
    for row in rows:
        grouped.setdefault(str(row["periode"]), []).append(row)

    def order(periode: str) -> tuple[int, int]:
        # Latest year first; in a year, the annual report, then S2, then S1.
        return (-int(periode[:4]), {"": 0, "-S2": 1, "-S1": 2}.get(periode[4:], 3))

    periods = []
    for periode in sorted(grouped, key=order):
        members = grouped[periode]
        total = next((r for r in members if r["reseau"] == "TOUS"), None)
        networks = sorted(
            (r for r in members if r["reseau"] != "TOUS"),
            key=lambda r: (
                NETWORK_ORDER.index(r["reseau"]) if r["reseau"] in NETWORK_ORDER else 9,
                str(r["reseau"]),
            ),
        )
        periods.append(AssociationPeriod(periode, total, tuple(networks)))
    return periods


@dataclass(frozen=True)
class FilePage:
    sha256: str
    records: list[Row]
    senders: list[Row]
    runs: list[tuple[str, str | None]]  # (run id, href)

    @property
    def first(self) -> Row:
        return self.records[0]


def file_page(sha256: str, records: list[Row], senders: list[Row], airflow_root: str) -> FilePage:
    runs: list[tuple[str, str | None]] = []
    for record in records:
        run_id = record.get("dag_run_id")
        if run_id and run_id not in [r for r, _ in runs]:
            runs.append((run_id, run_href(airflow_root, str(record["source"]), run_id)))
    return FilePage(sha256, records, senders, runs)


def today_in_paris(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(french.PARIS).date()


def status_label(status: str) -> str:
    labels = {ALERT: "alerte", OK: "rien à signaler", NO_DATA: "pas de données"}
    return labels.get(status, "non suivi" if status == NOT_MONITORED else status)
