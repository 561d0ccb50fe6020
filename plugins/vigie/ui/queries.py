"""What the pages read: the marts, and for the data engineers the ``audit`` views. SELECTs only.

Every query here is plain SQL both engines run (``?`` placeholders, no other question mark
and no percent sign). A département's page reads rows filtered on its code and nothing else,
so another département's figures cannot reach it; the national rows (``code_departement =
'FR'``) are the only other figures it shows.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from vigie.ui.readonly import Reader, Row

# --- Départements ------------------------------------------------------------------------------

DEPARTEMENTS = """
    SELECT code_departement, nom_departement, is_overseas, nb_communes, population,
        nb_qpv_2015, nb_qpv_2024, nb_zsp
    FROM marts.dim_departement
"""


def departement_names(reader: Reader) -> dict[str, str]:
    return {r["code_departement"]: r["nom_departement"] for r in reader.rows(DEPARTEMENTS)}


def departement(reader: Reader, code: str) -> Row | None:
    found = reader.rows(DEPARTEMENTS + " WHERE code_departement = ?", [code])
    return found[0] if found else None


# --- FIPD priority share -----------------------------------------------------------------------

FIPD_YEARS = "SELECT DISTINCT annee FROM marts.fipd_priority_share ORDER BY annee DESC"
FIPD_COLUMNS = """
    code_departement, nom_departement, annee, nb_actions_scope, montant_scope,
    montant_located, montant_beneficiaries, share_located, share_beneficiaries, target,
    gap_eur, status
"""


def fipd_years(reader: Reader) -> list[int]:
    return [int(r["annee"]) for r in reader.rows(FIPD_YEARS)]


def fipd_shares(reader: Reader, annee: int) -> list[Row]:
    """Every département's row of the year, and the national one (``FR``)."""
    return reader.rows(
        f"SELECT {FIPD_COLUMNS} FROM marts.fipd_priority_share WHERE annee = ?", [annee]
    )


def fipd_history(reader: Reader, code: str) -> list[Row]:
    """The département's rows and the national ones, every year, oldest first."""
    return reader.rows(
        f"SELECT {FIPD_COLUMNS} FROM marts.fipd_priority_share "
        "WHERE code_departement IN (?, 'FR') ORDER BY annee, code_departement",
        [code],
    )


UNCOUNTED = """
    SELECT numero_dossier, porteur, intitule_action, programme, nature, code_commune,
        montant_attribue, part_qpv, counted_beneficiaries, source_file_name,
        source_file_sha256, source_row
    FROM marts.fct_fipd_action
    WHERE code_departement = ? AND annee = ? AND in_scope AND counted_located = 0
    ORDER BY montant_attribue DESC, numero_dossier
    LIMIT ?
"""
UNCOUNTED_TOTAL = """
    SELECT count(*) AS nb, sum(montant_attribue) AS montant
    FROM marts.fct_fipd_action
    WHERE code_departement = ? AND annee = ? AND in_scope AND counted_located = 0
"""


def uncounted_actions(
    reader: Reader, code: str, annee: int, limit: int
) -> tuple[list[Row], int, float]:
    """In-scope actions that count for nothing in the located share (no QPV, no ZSP named):
    the ``limit`` largest, and how many there are and for how much in all."""
    rows = reader.rows(UNCOUNTED, [code, annee, limit])
    total = reader.rows(UNCOUNTED_TOTAL, [code, annee])[0]
    return rows, int(total["nb"] or 0), float(total["montant"] or 0.0)


# --- Police-population indicators --------------------------------------------------------------

POLICE_LATEST = """
    SELECT max(mois) FROM marts.police_population_monthly
    WHERE code_departement = ? AND valeur IS NOT NULL
"""
POLICE_SINCE = """
    SELECT force, mois, indicateur, valeur, valeur_annee_precedente, evolution,
        indicateur_connu, source, publie_le
    FROM marts.police_population_monthly
    WHERE code_departement = ? AND mois >= ? AND mois <= ?
    ORDER BY force, indicateur, mois
"""


def police_months(reader: Reader, code: str, months: int) -> tuple[list[Row], date | None]:
    """The département's values over the ``months`` months up to its latest month published."""
    latest = reader.value(POLICE_LATEST, [code])
    if latest is None:
        return [], None
    last = latest.date() if isinstance(latest, datetime) else latest
    total = last.year * 12 + last.month - 1 - (months - 1)
    first = date(total // 12, total % 12 + 1, 1)
    return reader.rows(POLICE_SINCE, [code, first, last]), last


# --- Contrats de ville -------------------------------------------------------------------------

CONTRATS = """
    SELECT contrat_id, nom_contrat, siren_epci, nb_qpv, plan_radicalisation,
        date_adoption_plan, premiere_annee_plan_adopte, premiere_annee, derniere_annee,
        nb_suivis
    FROM marts.dim_contrat_de_ville
    WHERE code_departement = ?
    ORDER BY nom_contrat, contrat_id
"""
CONTRATS_SUIVIS = """
    SELECT contrat_id, annee, plan_radicalisation, date_adoption_plan, nb_qpv,
        source_file_name, source_row
    FROM marts.contrats_de_ville
    WHERE code_departement = ?
    ORDER BY contrat_id, annee
"""


def contrats(reader: Reader, code: str) -> tuple[list[Row], dict[str, list[Row]]]:
    """The département's contrats de ville (latest follow-up) and each one's follow-ups."""
    history: dict[str, list[Row]] = {}
    for row in reader.rows(CONTRATS_SUIVIS, [code]):
        history.setdefault(row["contrat_id"], []).append(row)
    return reader.rows(CONTRATS, [code]), history


# --- Association activity ----------------------------------------------------------------------

ASSOCIATIONS = """
    SELECT periode, annee, reseau, nb_structures, nb_jeunes_accueillis,
        nb_familles_accompagnees, nb_professionnels_formes, nb_actions_collectives,
        montant_fipd_recu, nb_cells_suppressed
    FROM marts.association_activity
    WHERE code_departement = ?
    ORDER BY annee DESC, periode DESC, reseau
"""


def associations(reader: Reader, code: str) -> list[Row]:
    return reader.rows(ASSOCIATIONS, [code])


# --- Weekly alerts -----------------------------------------------------------------------------

ALERT_WEEKS = "SELECT DISTINCT week_start FROM marts.weekly_alerts ORDER BY week_start DESC"
ALERTS = """
    SELECT week_start, check_name, territory_kind, territory_code, period, code_departement,
        status, message, figures, lineage, evaluated_at
    FROM marts.weekly_alerts
    WHERE week_start = ?
"""


def alert_weeks(reader: Reader) -> list[date]:
    if not reader.has_table("marts", "weekly_alerts"):
        return []
    weeks = [r["week_start"] for r in reader.rows(ALERT_WEEKS)]
    return [w.date() if isinstance(w, datetime) else w for w in weeks]


def alerts(reader: Reader, week: date, code: str | None = None) -> list[Row]:
    """The week's rows of every check; only one département's when ``code`` is given."""
    if code is None:
        return reader.rows(ALERTS, [week])
    return reader.rows(ALERTS + " AND code_departement = ?", [week, code])


# --- Who has sent what (data engineers) --------------------------------------------------------

LAST_FILES = """
    SELECT source, kind, sender, source_file_name, source_file_sha256, status, period,
        received_at, dag_run_id, files, quarantined, last_of_year
    FROM (
        SELECT source, kind, sender, source_file_name, source_file_sha256, status, period,
            received_at, dag_run_id,
            count(*) OVER (PARTITION BY source, kind, sender) AS files,
            max(CASE WHEN period = ? AND status <> 'quarantined' THEN received_at END)
                OVER (PARTITION BY source, kind, sender) AS last_of_year,
            sum(CASE WHEN status = 'quarantined' THEN 1 ELSE 0 END)
                OVER (PARTITION BY source, kind, sender) AS quarantined,
            row_number() OVER (
                PARTITION BY source, kind, sender
                ORDER BY received_at DESC, source_file_name DESC
            ) AS rang
        FROM audit.file_loads
        WHERE source = ? AND sender IS NOT NULL
    ) AS ranked
    WHERE rang = 1
"""
FRESHNESS = """
    SELECT source, sender, channel, nb_deliveries, nb_quarantined, last_file_at,
        last_load_at, rows_loaded, rows_rejected
    FROM marts.data_freshness
    ORDER BY source, sender
"""
QUARANTINED_SINCE = """
    SELECT source, kind, source_file_name, source_file_path, source_file_sha256, reason,
        received_at, dag_run_id
    FROM audit.file_loads
    WHERE status = 'quarantined' AND received_at >= ?
    ORDER BY received_at DESC, source_file_name
"""
STRUCTURES = """
    SELECT code_departement, count(*) AS nb_structures, max(last_periode) AS last_periode,
        max(last_received_at) AS last_received_at
    FROM marts.dim_structure
    GROUP BY code_departement
"""
# The latest association file of each département (through its structures' SIRET).
ASSOCIATION_LAST_FILES = """
    SELECT code_departement, source_file_name, source_file_sha256, status, received_at,
        dag_run_id
    FROM (
        SELECT s.code_departement, f.source_file_name, f.source_file_sha256, f.status,
            f.received_at, f.dag_run_id,
            row_number() OVER (
                PARTITION BY s.code_departement
                ORDER BY f.received_at DESC, f.source_file_name DESC
            ) AS rang
        FROM audit.file_loads f
        JOIN marts.dim_structure s ON s.siret = f.sender
        WHERE f.source = 'associations'
    ) AS ranked
    WHERE rang = 1
"""
API_FETCHES = """
    SELECT base_url, depuis, jusqua, pages, rows_received, rows_inserted, rows_rejected,
        unknown_indicators, finished_at, dag_run_id
    FROM audit.api_fetches
    ORDER BY finished_at DESC
    LIMIT ?
"""
POLICE_LATEST_MONTH = "SELECT max(mois) FROM marts.police_population_monthly"
FILE_REPORT = """
    SELECT source_file_sha256, source_file_name, source_file_path, source, kind, status,
        reason, rows_read, rows_loaded, rows_rejected, rejects_by_reason, received_at,
        dag_run_id
    FROM audit.load_reports
    WHERE source_file_sha256 = ?
    ORDER BY received_at
"""
FILE_SENDER = """
    SELECT sender, period FROM audit.file_loads
    WHERE source_file_sha256 = ? AND sender IS NOT NULL
"""


def last_files(reader: Reader, source: str, year: int) -> list[Row]:
    """Per (kind, sender) of a source: the latest file received, with counts, and when the
    latest file for ``year`` arrived (``last_of_year``: what the export check looks at)."""
    return reader.rows(LAST_FILES, [str(year), source])


def freshness(reader: Reader) -> list[Row]:
    return reader.rows(FRESHNESS)


def quarantined_since(reader: Reader, since: datetime) -> list[Row]:
    return reader.rows(QUARANTINED_SINCE, [since])


def structures_by_departement(reader: Reader) -> dict[str, Row]:
    return {r["code_departement"]: r for r in reader.rows(STRUCTURES)}


def association_last_files(reader: Reader) -> dict[str, Row]:
    return {r["code_departement"]: r for r in reader.rows(ASSOCIATION_LAST_FILES)}


def api_fetches(reader: Reader, limit: int = 5) -> list[Row]:
    if not reader.has_table("audit", "api_fetches"):
        return []
    return reader.rows(API_FETCHES, [limit])


def police_latest_month(reader: Reader) -> Any:
    return reader.value(POLICE_LATEST_MONTH)


def file_report(reader: Reader, sha256: str) -> tuple[list[Row], list[Row]]:
    """Every record of one file's bytes (a re-delivery is a ``duplicate`` record) and who
    sent it for which period."""
    return reader.rows(FILE_REPORT, [sha256]), reader.rows(FILE_SENDER, [sha256])
