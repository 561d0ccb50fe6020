"""The weekly checks of docs/alerts.md, evaluated on the warehouse as it stands.

Why in Python rather than a dbt model: an alert is a snapshot of one week (what the pilots were
told that Monday), kept as history in ``marts.weekly_alerts`` even when later loads change the
figures; dbt would recompute the past. Each check returns one row per territory it covers with
a status (``alert``, ``ok``, ``no_data``, ``not_monitored``: a territory without data, or
one the check has nothing to look at, is never reported as passing), a French message a
pilot can read, the figures as JSON and the lineage (source files and rows, or API
requests) behind them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd

from vigie.alerts.formatting import (
    format_change,
    format_count,
    format_eur,
    format_month,
    format_share,
    format_target,
    quoted,
)
from vigie.alerts.indicators import INDICATOR_LABELS
from vigie.settings import Settings
from vigie.warehouse.connection import Transaction, Warehouse
from vigie.warehouse.migrations import migrate_warehouse

log = logging.getLogger(__name__)

ALERTS_TABLE = "marts.weekly_alerts"
COLUMNS = [
    "week_start",
    "check_name",
    "territory_kind",
    "territory_code",
    "period",
    "code_departement",
    "status",
    "message",
    "figures",
    "lineage",
]
EXPORT_MAX_AGE_DAYS = 45
DROP_THRESHOLD = -0.20
ALERT, OK, NO_DATA, NOT_MONITORED = "alert", "ok", "no_data", "not_monitored"
STATUSES = (ALERT, OK, NO_DATA, NOT_MONITORED)
POSTS = ("delegues_cohesion", "intervenants_sociaux")  # "fell to 0" applies to these
RECEIVED = ("loaded", "loaded_with_rejects", "duplicate", "superseded")
# The checks' queries. `?` is the only placeholder (Transaction turns it into psycopg2's `%s`
# on PostgreSQL), so the SQL holds no other question mark and no percent sign.
TABLE_EXISTS = """
    SELECT count(*)
    FROM information_schema.tables
    WHERE table_schema = ? AND table_name = ?
"""
DEPARTEMENTS = """
    SELECT code_departement, nom_departement
    FROM reference.departements
    ORDER BY code_departement
"""
# Every département for both years (current, last closed), with its share when there is one.
FIPD_SHARES = """
    SELECT
        d.code_departement, d.nom_departement, y.annee,
        s.montant_scope, s.montant_located, s.share_located, s.share_beneficiaries,
        s.target, s.gap_eur, s.status
    FROM reference.departements d
    CROSS JOIN (SELECT ? AS annee UNION ALL SELECT ?) y
    LEFT JOIN marts.fipd_priority_share s
        ON s.code_departement = d.code_departement AND s.annee = y.annee
    ORDER BY 1, 3
"""
# Only the three largest per département and year leave the database (at x10 the uncounted
# actions are tens of thousands, and each became a Python dict).
FIPD_UNCOUNTED_TOP3 = """
    SELECT *
    FROM (
        SELECT
            code_departement, annee, numero_dossier, porteur, montant_attribue,
            source_file_name, source_file_sha256, source_row,
            row_number() OVER (
                PARTITION BY code_departement, annee
                ORDER BY montant_attribue DESC, numero_dossier
            ) AS rang
        FROM marts.fct_fipd_action
        WHERE in_scope AND counted_located = 0 AND annee IN (?, ?)
    ) AS ranked
    WHERE rang <= 3
    ORDER BY code_departement, annee, rang
"""
FIPD_SOURCE_FILES = """
    SELECT code_departement, annee, source_file_name, source_file_sha256, count(*) AS rows
    FROM marts.fct_fipd_action
    WHERE annee IN (?, ?)
    GROUP BY 1, 2, 3, 4
"""
FIPD_LAST_EXPORTS = f"""
    SELECT sender, max(received_at) AS last_received, count(*) AS files
    FROM audit.file_loads
    WHERE source = 'prefectures' AND kind = 'fipd' AND period = ?
        AND status IN ({", ".join("?" for _ in RECEIVED)})
    GROUP BY sender
"""
POLICE_LATEST_MONTH = """
    SELECT max(mois)
    FROM marts.police_population_monthly
    WHERE mois < ?
"""
POLICE_MONTH_VALUES = """
    SELECT
        code_departement, force, indicateur, valeur, valeur_annee_precedente, evolution,
        source, request_url, page, source_file_name, source_row
    FROM marts.police_population_monthly
    WHERE mois = ?
"""
# Each follow-up with the first time its file was received.
CONTRATS_DE_VILLE = """
    SELECT
        c.code_departement, c.annee, c.contrat_id, c.nom_contrat, c.plan_radicalisation,
        c.date_adoption_plan, c.source_file_name, c.source_row, f.received_at
    FROM marts.contrats_de_ville c
    LEFT JOIN (
        SELECT source_file_sha256, min(received_at) AS received_at
        FROM audit.file_loads
        GROUP BY source_file_sha256
    ) f ON f.source_file_sha256 = c.source_file_sha256
    ORDER BY c.code_departement, c.contrat_id, c.annee
"""
ASSOCIATION_REPORTS = """
    SELECT
        siret,
        min(structure) AS structure,
        min(reseau) AS reseau,
        min(code_departement) AS code_departement,
        periode,
        min(source_file_name) AS file,
        max(loaded_at) AS loaded_at
    FROM raw.association_reports
    GROUP BY siret, periode
"""


def _exists(tx: Transaction, schema: str, table: str) -> bool:
    rows = tx.fetchall(TABLE_EXISTS, [schema, table])
    return bool(rows[0][0])


def _departements(tx: Transaction) -> list[tuple[str, str]]:
    """(code, name) of every département of the reference, in code order."""
    return tx.fetchall(DEPARTEMENTS)


def alert_row(
    week: date,
    check: str,
    kind: str,
    code: str,
    period: str,
    dep: str | None,
    status: str,
    message: str,
    figures: dict,
    lineage: Any,
) -> dict:
    return {
        "week_start": week,
        "check_name": check,
        "territory_kind": kind,
        "territory_code": code,
        "period": period,
        "code_departement": dep,
        "status": status,
        "message": message,
        "figures": json.dumps(figures, ensure_ascii=False, default=str),
        "lineage": json.dumps(lineage, ensure_ascii=False, default=str),
    }


def _records(frame: pd.DataFrame) -> list[dict]:
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    for record in records:
        for key, value in record.items():
            if hasattr(value, "as_tuple"):  # Decimal
                record[key] = float(value)
    return records


def fipd_share_below_target(tx: Transaction, week: date, settings: Settings) -> list[dict]:
    """Per département, the current year to date and the last closed year."""
    years = [week.year, week.year - 1]
    if not (
        _exists(tx, "marts", "fipd_priority_share") and _exists(tx, "marts", "fct_fipd_action")
    ):
        # Before the first warehouse build: every département is without data, not passing.
        deps = _departements(tx)
        return [
            alert_row(
                week,
                "fipd_share_below_target",
                "departement",
                dep,
                str(annee),
                dep,
                "no_data",
                f"{nom} ({dep}), {annee} : aucune donnée FIPD dans l'entrepôt.",
                {},
                {},
            )
            for dep, nom in deps
            for annee in years
        ]
    shares = _records(tx.fetch_frame(FIPD_SHARES, years))
    uncounted = _records(tx.fetch_frame(FIPD_UNCOUNTED_TOP3, years))
    top_by_key: dict[tuple[str, int], list[dict]] = {}
    for u in uncounted:
        top_by_key.setdefault((u["code_departement"], int(u["annee"])), []).append(u)
    files = _records(tx.fetch_frame(FIPD_SOURCE_FILES, years))
    rows = []
    for share in shares:
        dep, annee = share["code_departement"], int(share["annee"])
        key = (dep, annee)
        top = top_by_key.get(key, [])
        target = share["target"] if share["target"] is not None else settings.fipd_target
        period = "année en cours" if annee == week.year else "dernière année close"
        status = {"below_target": "alert", "ok": "ok"}.get(share["status"] or "", "no_data")
        figures = {
            k: share[k]
            for k in (
                "montant_scope",
                "montant_located",
                "share_located",
                "share_beneficiaries",
                "gap_eur",
            )
        }
        figures.update(
            target=target,
            annee=annee,
            uncounted_top3=[
                {
                    "numero_dossier": u["numero_dossier"],
                    "porteur": u["porteur"],
                    "montant_attribue": u["montant_attribue"],
                }
                for u in top
            ],
        )
        name = f"{share['nom_departement']} ({dep})"
        if status == "no_data":
            message = f"{name}, {annee} ({period}) : aucune action FIPD dans le périmètre."
        else:
            message = (
                f"{name}, {annee} ({period}) : part prioritaire localisée "
                f"{format_share(share['share_located'])} (bénéficiaires "
                f"{format_share(share['share_beneficiaries'])}) pour une cible de "
                f"{format_target(target)}, sur {format_eur(share['montant_scope'])}."
            )
            if status == "alert":
                message += f" Il manque {format_eur(share['gap_eur'])} pour l'atteindre."
                if top:
                    message += (
                        " Plus grosses actions non comptées : "
                        + "; ".join(
                            f"{u['numero_dossier']} ({u['porteur']}, "
                            f"{format_eur(u['montant_attribue'])})"
                            for u in top
                        )
                        + "."
                    )
        lineage = {
            "files": [
                {
                    "name": f["source_file_name"],
                    "sha256": f["source_file_sha256"],
                    "rows": f["rows"],
                }
                for f in files
                if (f["code_departement"], int(f["annee"])) == key
            ],
            "uncounted_rows": [
                {"file": u["source_file_name"], "row": u["source_row"]} for u in top
            ],
        }
        rows.append(
            alert_row(
                week,
                "fipd_share_below_target",
                "departement",
                dep,
                str(annee),
                dep,
                status,
                message,
                figures,
                lineage,
            )
        )
    return rows


def fipd_export_missing(tx: Transaction, week: date, settings: Settings) -> list[dict]:
    """Per département: a FIPD export for the current year received in the last 45 days?"""
    exports = tx.fetch_frame(FIPD_LAST_EXPORTS, [str(week.year), *RECEIVED])
    last = {r["sender"]: r for r in _records(exports)}
    deps = _departements(tx)
    cutoff = datetime.combine(
        week - timedelta(days=EXPORT_MAX_AGE_DAYS), datetime.min.time(), tzinfo=UTC
    )
    rows = []
    for dep, nom in deps:
        found = last.get(dep)
        received = pd.Timestamp(found["last_received"]).to_pydatetime() if found else None
        if received is not None and received.tzinfo is None:
            received = received.replace(tzinfo=UTC)
        if received is None:
            status = "alert"
            message = f"{nom} ({dep}) : aucun export FIPD {week.year} reçu."
        else:
            status = "alert" if received < cutoff else "ok"
            message = (
                f"{nom} ({dep}) : dernier export FIPD {week.year} reçu le {received:%d/%m/%Y}."
            )
            if status == "alert":
                message += f" Rien depuis plus de {EXPORT_MAX_AGE_DAYS} jours."
        figures = {"last_received_at": received, "max_age_days": EXPORT_MAX_AGE_DAYS}
        lineage = {"audit.file_loads": {"sender": dep, "period": str(week.year)}}
        rows.append(
            alert_row(
                week,
                "fipd_export_missing",
                "departement",
                dep,
                str(week.year),
                dep,
                status,
                message,
                figures,
                lineage,
            )
        )
    return rows


def police_indicator_drop(tx: Transaction, week: date, settings: Settings) -> list[dict]:
    """Per département × force, the latest month published before the week."""
    if not _exists(tx, "marts", "police_population_monthly"):
        return []
    latest = tx.fetchall(POLICE_LATEST_MONTH, [week])[0][0]
    deps = _departements(tx)
    values = _records(tx.fetch_frame(POLICE_MONTH_VALUES, [latest])) if latest else []
    by_territory: dict[tuple[str, str], list[dict]] = {}
    for value in values:
        by_territory.setdefault((value["code_departement"], value["force"]), []).append(value)
    month = f"{pd.Timestamp(latest):%Y-%m}" if latest else "-"
    month_label = format_month(month) if latest else "le dernier mois"
    minimum = settings.police_drop_min_count
    rows = []
    for dep, nom in deps:
        for force in ("PN", "GN"):
            found = by_territory.get((dep, force), [])
            present = [v for v in found if v["valeur"] is not None]
            fired = sorted(
                (v for v in present if _dropped(v, minimum)),
                key=lambda v: (-_fall(v), v["indicateur"]),
            )
            label = f"{nom} ({dep}), {'police' if force == 'PN' else 'gendarmerie'} nationale"
            if not present:
                status = NO_DATA
                message = f"{label} : aucun indicateur publié pour {month_label}."
            elif not fired:
                status = OK
                message = (
                    f"{label}, {month_label} : pas de baisse de 20\u202f% ou plus "
                    f"(sur un an, à partir de {minimum} unités l'an dernier)."
                )
            else:
                status = ALERT
                message = (
                    f"{label}, {month_label} : "
                    + " ; ".join(
                        f"{INDICATOR_LABELS.get(v['indicateur'], v['indicateur'])} "
                        f"{format_count(v['valeur_annee_precedente'])} → "
                        f"{format_count(v['valeur'])} ("
                        + (
                            f"{format_change(v['evolution'])}"
                            if v["evolution"] is not None
                            else format_change(-1.0)
                        )
                        + ")"
                        for v in fired
                    )
                    + " sur un an."
                )
            figures = {
                "mois": month,
                "min_count": minimum,
                "largest_fall": max((_fall(v) for v in fired), default=0.0),
                "indicators": [
                    {
                        "indicateur": v["indicateur"],
                        "valeur": v["valeur"],
                        "valeur_annee_precedente": v["valeur_annee_precedente"],
                        "evolution": v["evolution"],
                        "fall": _fall(v),
                    }
                    for v in fired
                ],
            }
            lineage = [
                {
                    "indicateur": v["indicateur"],
                    "source": v["source"],
                    "request_url": v["request_url"],
                    "page": v["page"],
                    "file": v["source_file_name"],
                    "row": v["source_row"],
                }
                for v in fired
            ]  # the request URL stays here (engineers); the pilots' CSV shows the page only
            territory = f"{dep}-{force}"
            rows.append(
                alert_row(
                    week,
                    "police_indicator_drop",
                    "departement_force",
                    territory,
                    month,
                    dep,
                    status,
                    message,
                    figures,
                    lineage,
                )
            )
    return rows


def part_annex_missing(tx: Transaction, week: date, settings: Settings) -> list[dict]:
    """Per contrat de ville of each département's latest follow-up: an annex, or soon one?

    ``en_cours`` is timed on the follow-ups' own years, the data's time, never on when the
    platform received the files: a contract reported ``en_cours`` in the follow-ups of two
    successive years or more has been in preparation for more than 12 months, even if those
    follow-ups arrived the same day (a first load, a backfill). A département without any
    follow-up is ``not_monitored``: the check has nothing to look at there.
    """
    if not _exists(tx, "marts", "contrats_de_ville"):
        return []
    contrats = _records(tx.fetch_frame(CONTRATS_DE_VILLE))
    history: dict[tuple[str, str], list[dict]] = {}
    latest_year: dict[str, int] = {}
    for c in contrats:
        history.setdefault((c["code_departement"], c["contrat_id"]), []).append(c)
        latest_year[c["code_departement"]] = max(
            latest_year.get(c["code_departement"], 0), int(c["annee"])
        )
    rows = []
    for (dep, contrat_id), years in sorted(history.items()):
        last = years[-1]
        if int(last["annee"]) != latest_year[dep]:
            continue  # not in the latest follow-up any more (merged, ended)
        status_plan = last["plan_radicalisation"]
        since: int | None = None
        if status_plan == "en_cours":
            since = int(last["annee"])
            for c in reversed(years[:-1]):  # the unbroken run of en_cours follow-up years
                if c["plan_radicalisation"] != "en_cours" or int(c["annee"]) != since - 1:
                    break
                since = int(c["annee"])
        months = 12 * (int(last["annee"]) - since) if since is not None else None
        name = f"{last['nom_contrat']} ({dep})"
        if status_plan == "non":
            status = "alert"
            message = (
                f"{name} : pas d'annexe de prévention de la "
                f"radicalisation au suivi {last['annee']}."
            )
        elif status_plan == "en_cours" and since is not None and since < int(last["annee"]):
            status = "alert"
            count = int(last["annee"]) - since + 1
            message = (
                f"{name} : annexe de prévention de la radicalisation {quoted('en cours')} "
                f"depuis le suivi {since}, soit {count} suivis annuels consécutifs "
                "(plus de 12 mois)."
            )
        elif status_plan == "en_cours":
            status = "ok"
            message = f"{name} : annexe en cours de préparation (suivi {last['annee']})."
        else:
            status = "ok"
            message = f"{name} : annexe adoptée" + (
                f" le {pd.Timestamp(last['date_adoption_plan']):%d/%m/%Y}."
                if last["date_adoption_plan"]
                else "."
            )
        figures = {
            "plan_radicalisation": status_plan,
            "annee": int(last["annee"]),
            "en_cours_since": since,
            "months": months,
        }
        lineage = [
            {"file": c["source_file_name"], "row": c["source_row"], "annee": c["annee"]}
            for c in years
        ]
        rows.append(
            alert_row(
                week,
                "part_annex_missing",
                "contrat_de_ville",
                contrat_id,
                str(last["annee"]),
                dep,
                status,
                message,
                figures,
                lineage,
            )
        )
    deps = _departements(tx)
    for dep, nom in deps:
        if dep not in latest_year:
            message = (
                f"{nom} ({dep}) : aucun suivi des contrats de ville reçu ; les annexes de "
                "prévention de la radicalisation ne sont pas suivies."
            )
            rows.append(
                alert_row(
                    week,
                    "part_annex_missing",
                    "departement",
                    dep,
                    "-",
                    dep,
                    NOT_MONITORED,
                    message,
                    {},
                    [],
                )
            )
    return rows


REPORT_GRACE_DAYS = 60


def _period_end(periode: str) -> date:
    year = int(periode[:4])
    if periode.endswith("-S1"):
        return date(year, 6, 30)
    return date(year, 12, 31)


def _previous_period(periode: str) -> str:
    year = int(periode[:4])
    if periode.endswith("-S2"):
        return f"{year}-S1"
    if periode.endswith("-S1"):
        return f"{year - 1}-S2"
    return str(year - 1)


def due_periods(week: date) -> list[str]:
    """The latest year and the latest semester whose report was due (end + 60 days) by ``week``."""
    due = []
    year = week.year
    while _period_end(str(year)) + timedelta(days=REPORT_GRACE_DAYS) > week:
        year -= 1
    due.append(str(year))
    semester = f"{week.year}-S2"
    while _period_end(semester) + timedelta(days=REPORT_GRACE_DAYS) > week:
        semester = _previous_period(semester)
    due.append(semester)
    return due


def association_report_missing(tx: Transaction, week: date, settings: Settings) -> list[dict]:
    """A structure that reported for the period before the one now due, but not for it.

    Only the structures expected this week are listed (those that reported the previous
    period of the same kind, year or semester): one that stopped years ago is not re-flagged
    every Monday. Reads who reported what from the raw reports' identification columns only.
    """
    if not _exists(tx, "raw", "association_reports"):
        return []
    reports = _records(tx.fetch_frame(ASSOCIATION_REPORTS))
    reported = {(r["siret"], r["periode"]) for r in reports}
    rows = []
    for due in due_periods(week):
        previous = _previous_period(due)
        deadline = _period_end(due) + timedelta(days=REPORT_GRACE_DAYS)
        for r in sorted(
            (r for r in reports if r["periode"] == previous),
            key=lambda r: (r["code_departement"] or "", r["siret"]),
        ):
            late = (r["siret"], due) not in reported
            label = f"{r['structure']} ({r['reseau']}, SIRET {r['siret']})"
            if late:
                status = "alert"
                message = (
                    f"{label} : rapport {due} non reçu, attendu au plus tard le "
                    f"{deadline:%d/%m/%Y} ; dernier rapport reçu : {previous}."
                )
            else:
                status, message = "ok", f"{label} : rapport {due} reçu."
            figures = {
                "reseau": r["reseau"],
                "periode_attendue": due,
                "dernier_periode": previous,
                "deadline": deadline,
            }
            lineage = {"last_report_file": r["file"], "loaded_at": r["loaded_at"]}
            rows.append(
                alert_row(
                    week,
                    "association_report_missing",
                    "structure",
                    r["siret"],
                    due,
                    r["code_departement"],
                    status,
                    message,
                    figures,
                    lineage,
                )
            )
    return rows


def _dropped(value: dict, minimum: int) -> bool:
    """A fall of 20 % or more from at least ``minimum`` a year earlier, or posts down to 0.

    Below ``minimum`` a fall is noise (IGPN reports 1 -> 0 is -100 %, and means nothing); a
    post count falling to 0 (the département's only delegate gone) always counts.
    """
    previous = value["valeur_annee_precedente"]
    if value["indicateur"] in POSTS and value["valeur"] == 0 and bool(previous):
        return True
    evolution = value["evolution"]
    if previous is None or float(previous) < minimum:
        return False
    return evolution is not None and evolution <= DROP_THRESHOLD


def _fall(value: dict) -> float:
    """The size of a fall, in units of the indicator (what ranks the alerts)."""
    previous, current = value["valeur_annee_precedente"], value["valeur"]
    if previous is None or current is None:
        return 0.0
    return max(0.0, float(previous) - float(current))


CHECKS: dict[str, Callable[[Transaction, date, Settings], list[dict]]] = {
    "fipd_share_below_target": fipd_share_below_target,
    "fipd_export_missing": fipd_export_missing,
    "police_indicator_drop": police_indicator_drop,
    "part_annex_missing": part_annex_missing,
    "association_report_missing": association_report_missing,
}


def evaluate(week: date, settings: Settings) -> pd.DataFrame:
    """Run every check for the week and replace that week's rows in ``marts.weekly_alerts``.

    Replacing (not appending) makes a re-run of the same week idempotent; earlier weeks stay
    as they were told.
    """
    warehouse = Warehouse(settings)
    migrate_warehouse(warehouse)  # the table is the schema's (migration 2), never made here
    with warehouse.transaction() as tx:
        rows = [row for check in CHECKS.values() for row in check(tx, week, settings)]
        frame = pd.DataFrame(rows, columns=COLUMNS)
        frame["evaluated_at"] = datetime.now(UTC)
        tx.execute(f"DELETE FROM {ALERTS_TABLE} WHERE week_start = ?", [week])
        if not frame.empty:
            tx.insert_frame(ALERTS_TABLE, frame)
    counts = frame.groupby(["check_name", "status"]).size().to_dict() if len(frame) else {}
    log.info("week %s: %s", week, ", ".join(f"{c} {s}: {n}" for (c, s), n in counts.items()))
    return frame
