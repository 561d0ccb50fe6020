"""The weekly checks on crafted warehouse states: what a pilot would be told, and its lineage.

The marts the checks read are written here by hand (the dbt models that normally build them
are tested on their own), so each state is exactly the one named: just below and just above
the target, no data, an export missing, a 20 % drop, DCPP posts down to zero.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import duckdb
import pandas as pd
import pytest
from vigie import tasks
from vigie.alerts import checks
from vigie.warehouse.connection import Warehouse

from tests.conftest import make_settings

WEEK = date(2026, 11, 23)


def _share(dep: str, annee: int, scope: float, located: float, status: str) -> dict:
    share = located / scope if scope else None
    return {
        "code_departement": dep,
        "annee": annee,
        "montant_scope": scope,
        "montant_located": located,
        "share_located": share,
        "share_beneficiaries": share,
        "target": 0.75,
        "gap_eur": max(0.0, round(0.75 * scope - located, 2)),
        "status": status,
    }


def _action(dep: str, annee: int, dossier: str, amount: float, counted: float, row: int) -> dict:
    return {
        "code_departement": dep,
        "annee": annee,
        "numero_dossier": dossier,
        "porteur": f"Association {dossier}",
        "in_scope": True,
        "montant_attribue": amount,
        "counted_located": counted,
        "source_file_name": f"fipd_{dep}_{annee}.csv",
        "source_file_sha256": "ab" * 32,
        "source_row": row,
    }


def _contrat(dep: str, annee: int, contrat_id: str, plan: str, sha: str) -> dict:
    return {
        "code_departement": dep,
        "annee": annee,
        "contrat_id": contrat_id,
        "nom_contrat": f"Contrat de ville {contrat_id}",
        "plan_radicalisation": plan,
        "date_adoption_plan": date(annee, 3, 1) if plan == "oui" else None,
        "source_file_sha256": sha,
        "source_file_name": f"{sha}.csv",
        "source_row": 2,
    }


def _police(dep, force, indicateur, valeur, previous) -> dict:
    evolution = (valeur - previous) / previous if previous else None
    return {
        "code_departement": dep,
        "force": force,
        "mois": date(2026, 10, 1),
        "indicateur": indicateur,
        "valeur": valeur,
        "valeur_annee_precedente": previous,
        "evolution": evolution,
        "source": "api",
        "request_url": "http://127.0.0.1/v1/indicateurs?page=3",
        "page": 3,
        "source_file_name": None,
        "source_row": None,
    }


@pytest.fixture
def evaluated(tmp_path):
    settings = make_settings(tmp_path)
    tasks.refresh_reference(settings)
    shares = pd.DataFrame(
        [
            _share("93", 2026, 1_000_000.0, 749_900.0, "below_target"),  # just below: 74,99 %
            _share("13", 2026, 1_000_000.0, 750_100.0, "ok"),  # just above
            _share("48", 2026, 0.0, 0.0, "no_data"),
        ]
    )
    actions = pd.DataFrame(
        [
            _action("93", 2026, "D-1", 5_000.0, 0.0, 7),
            _action("93", 2026, "D-2", 90_000.0, 0.0, 3),
            _action("93", 2026, "D-3", 12_000.0, 0.0, 12),
            _action("93", 2026, "D-4", 1_000.0, 0.0, 20),
            _action("93", 2026, "D-5", 749_900.0, 749_900.0, 2),
        ]
    )
    police = pd.DataFrame(
        [
            _police("93", "PN", "signalements_plateforme", 80.0, 100.0),  # -20 %: fires
            _police("93", "PN", "cameras_pietons_dotees", 401.0, 500.0),  # -19,8 %: does not
            _police("13", "PN", "signalements_plateforme", 81.0, 100.0),  # -19 %: ok
            _police("13", "GN", "delegues_cohesion", 0.0, 2.0),  # posts fell to 0
            # Nord: ranked by the size of the fall, never by its percentage alone.
            _police("59", "PN", "signalements_plateforme", 0.0, 1.0),  # -100 %, but 1 -> 0
            _police("59", "PN", "intervenants_sociaux", 30.0, 40.0),  # -25 %: 10 fewer
            _police("59", "PN", "cameras_pietons_enregistrements", 2046.0, 3644.0),  # -43,9 %
            _police("62", "GN", "signalements_plateforme", 1.0, 5.0),  # -80 % of 5: noise
        ]
    )
    now = datetime.combine(WEEK, datetime.min.time(), tzinfo=UTC)
    loads = pd.DataFrame(
        [
            {"sender": "93", "received_at": now - timedelta(days=10), "status": "loaded"},
            {"sender": "13", "received_at": now - timedelta(days=46), "status": "loaded"},
            {"sender": "75", "received_at": now - timedelta(days=3), "status": "quarantined"},
        ]
    )
    # Contrats de ville follow-ups: 93's 2025 file came 13 months ago, 69's 11 months ago.
    contrats = pd.DataFrame(
        [
            _contrat("93", 2025, "CV-93-A", "en_cours", "c93-2025"),
            _contrat("93", 2026, "CV-93-A", "en_cours", "c93-2026"),
            _contrat("93", 2026, "CV-93-B", "non", "c93-2026"),
            _contrat("93", 2025, "CV-93-C", "oui", "c93-2025"),  # not in the latest follow-up
            _contrat("69", 2025, "CV-69-A", "non", "c69-2025"),
            _contrat("69", 2026, "CV-69-A", "en_cours", "c69-2026"),
            _contrat("69", 2026, "CV-69-B", "oui", "c69-2026"),
            # Three years of follow-ups, all "en cours", loaded the same day (a backfill).
            _contrat("59", 2024, "CV-59-A", "en_cours", "c59-backfill"),
            _contrat("59", 2025, "CV-59-A", "en_cours", "c59-backfill"),
            _contrat("59", 2026, "CV-59-A", "en_cours", "c59-backfill"),
        ]
    )
    received = {
        "c93-2025": now - timedelta(days=396),
        "c93-2026": now - timedelta(days=30),
        "c69-2025": now - timedelta(days=700),
        "c69-2026": now - timedelta(days=335),
        "c59-backfill": now - timedelta(days=1),
    }
    with duckdb.connect(str(settings.duckdb_path)) as con:
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        for name, frame in (
            ("fipd_priority_share", shares),
            ("fct_fipd_action", actions),
            ("police_population_monthly", police),
            ("contrats_de_ville", contrats),
        ):
            con.register("frame_view", frame)
            con.execute(f"CREATE TABLE marts.{name} AS SELECT * FROM frame_view")
            con.unregister("frame_view")
    with Warehouse(settings).transaction() as tx:
        for load in loads.to_dict("records"):
            tx.execute(
                """
                INSERT INTO audit.file_loads (
                    source_file_sha256, source_file_name, source, kind, status,
                    rows_read, rows_loaded, rows_rejected, sender, period, received_at
                )
                VALUES (?, ?, 'prefectures', 'fipd', ?, 1, 1, 0, ?, '2026', ?)
                """,
                [
                    load["sender"] * 32,
                    f"{load['sender']}.csv",
                    load["status"],
                    load["sender"],
                    load["received_at"],
                ],
            )
        for sha, when in received.items():
            tx.execute(
                """
                INSERT INTO audit.file_loads (
                    source_file_sha256, source_file_name, source, kind, status,
                    rows_read, rows_loaded, rows_rejected, sender, period, received_at
                )
                VALUES (?, ?, 'prefectures', 'contrats', 'loaded', 1, 1, 0, ?, ?, ?)
                """,
                [sha, f"{sha}.csv", sha[1:3], sha[-4:], when],
            )
    frame = checks.evaluate(WEEK, settings)
    return settings, {(r.check_name, r.territory_code, r.period): r for r in frame.itertuples()}


def test_just_below_the_target_is_an_alert_with_gap_and_uncounted_actions(evaluated) -> None:
    _, rows = evaluated
    alert = rows[("fipd_share_below_target", "93", "2026")]
    assert alert.status == "alert"
    assert (
        "75,0\u202f%" in alert.message or "74,99" in alert.message or "75\u202f%" in alert.message
    )
    figures = json.loads(alert.figures)
    assert figures["gap_eur"] == pytest.approx(100.0)
    assert [a["numero_dossier"] for a in figures["uncounted_top3"]] == ["D-2", "D-3", "D-1"]
    assert "D-2 (Association D-2, 90\u202f000\u00a0€)" in alert.message
    lineage = json.loads(alert.lineage)
    assert lineage["uncounted_rows"][0] == {"file": "fipd_93_2026.csv", "row": 3}
    assert lineage["files"] == [{"name": "fipd_93_2026.csv", "sha256": "ab" * 32, "rows": 5}]


def test_just_above_the_target_passes_and_no_data_is_not_passing(evaluated) -> None:
    _, rows = evaluated
    assert rows[("fipd_share_below_target", "13", "2026")].status == "ok"
    assert rows[("fipd_share_below_target", "48", "2026")].status == "no_data"
    # A département the mart does not mention at all is no_data too, never ok.
    assert rows[("fipd_share_below_target", "01", "2026")].status == "no_data"
    assert rows[("fipd_share_below_target", "93", "2025")].status == "no_data"


def test_a_missing_or_stale_export_is_an_alert(evaluated) -> None:
    _, rows = evaluated
    assert rows[("fipd_export_missing", "93", "2026")].status == "ok"
    stale = rows[("fipd_export_missing", "13", "2026")]
    assert stale.status == "alert" and "08/10/2026" in stale.message
    assert "45 jours" in stale.message
    # A quarantined file is not an export the platform could use.
    never = rows[("fipd_export_missing", "75", "2026")]
    assert never.status == "alert" and "aucun export FIPD 2026" in never.message


def test_a_drop_of_20_percent_or_posts_down_to_zero_fire(evaluated) -> None:
    _, rows = evaluated
    drop = rows[("police_indicator_drop", "93-PN", "2026-10")]
    assert drop.status == "alert" and "100 → 80" in drop.message
    assert "caméras" not in drop.message  # -19.8 % is not a 20 % drop
    assert json.loads(drop.lineage)[0]["page"] == 3
    assert rows[("police_indicator_drop", "13-PN", "2026-10")].status == "ok"
    posts = rows[("police_indicator_drop", "13-GN", "2026-10")]
    assert posts.status == "alert" and "délégués" in posts.message
    assert rows[("police_indicator_drop", "01-PN", "2026-10")].status == "no_data"


def test_police_falls_rank_by_size_above_a_minimum_count(evaluated) -> None:
    from vigie.alerts.alert_rows import parse_alert_rows, worst_first

    settings, rows = evaluated
    assert settings.police_drop_min_count == 20
    nord = rows[("police_indicator_drop", "59-PN", "2026-10")]
    assert nord.status == "alert"
    # The largest fall first (1 598 recordings, then 10 social workers); IGPN 1 -> 0 is noise.
    assert nord.message == (
        "Nord (59), police nationale, octobre 2026 : enregistrements de caméras piétons "
        "3\u202f644 → 2\u202f046 (\u221243,9\u202f%) ; intervenants sociaux en commissariat et "
        "gendarmerie 40 → 30 (\u221225,0\u202f%) sur un an."
    )
    assert "IGPN" not in nord.message
    figures = json.loads(nord.figures)
    assert [i["indicateur"] for i in figures["indicators"]] == [
        "cameras_pietons_enregistrements",
        "intervenants_sociaux",
    ]
    assert figures["largest_fall"] == 1598 and figures["min_count"] == 20
    assert rows[("police_indicator_drop", "62-GN", "2026-10")].status == "ok"  # 5 -> 1
    # Across territories, the largest fall leads: Nord, then 93 (100 -> 80), then 13 (2 -> 0).
    police = parse_alert_rows(
        [r._asdict() for r in rows.values() if r.check_name == "police_indicator_drop"]
    )
    ranked = [r.territory_code for r in worst_first(police) if r.is_alert]
    assert ranked == ["59-PN", "93-PN", "13-GN"]


def test_re_evaluating_a_week_replaces_its_rows(evaluated) -> None:
    settings, rows = evaluated
    checks.evaluate(WEEK, settings)
    with Warehouse(settings).transaction() as tx:
        count = tx.fetchall(
            "SELECT count(*) FROM marts.weekly_alerts WHERE week_start = ?", [WEEK]
        )[0][0]
    assert count == len(rows)


def test_an_annex_missing_or_in_preparation_for_13_months_is_an_alert(evaluated) -> None:
    _, rows = evaluated
    thirteen = rows[("part_annex_missing", "CV-93-A", "2026")]
    assert thirteen.status == "alert"
    assert "en cours\u202f» depuis le suivi 2025, soit 2 suivis annuels" in thirteen.message
    assert json.loads(thirteen.figures)["months"] == 12
    assert [x["annee"] for x in json.loads(thirteen.lineage)] == [2025, 2026]
    assert rows[("part_annex_missing", "CV-93-B", "2026")].status == "alert"  # "non"
    assert not any(key[1] == "CV-93-C" for key in rows)  # gone from the latest follow-up
    # En cours for 11 months (it was "non" before): not yet an alert; adopted: ok.
    assert rows[("part_annex_missing", "CV-69-A", "2026")].status == "ok"
    assert rows[("part_annex_missing", "CV-69-B", "2026")].status == "ok"
    # No follow-up at all: nothing to look at, said as such, never passing.
    unmonitored = rows[("part_annex_missing", "13", "-")]
    assert unmonitored.status == "not_monitored"
    assert "aucun suivi des contrats de ville reçu" in unmonitored.message


def test_en_cours_is_timed_on_the_follow_ups_own_years(evaluated) -> None:
    """Three years of "en cours" received the same day: flagged, by the follow-ups' years."""
    _, rows = evaluated
    backfilled = rows[("part_annex_missing", "CV-59-A", "2026")]
    assert backfilled.status == "alert"
    assert "depuis le suivi 2024, soit 3 suivis annuels consécutifs" in backfilled.message
    figures = json.loads(backfilled.figures)
    assert figures["en_cours_since"] == 2024 and figures["months"] == 24


def test_a_structure_that_stopped_reporting_is_flagged_once_late(tmp_path) -> None:
    from vigie.ingest import association_loader

    settings = make_settings(tmp_path)
    tasks.refresh_reference(settings)
    association_loader.ensure_schema(Warehouse(settings))
    reports = [
        ("11111111111111", "2024"),  # and 2025, on time: ok
        ("11111111111111", "2025"),
        ("22222222222222", "2024"),  # 2025 missing, due 01/03/2026: alert
        ("33333333333333", "2023"),  # stopped long ago: not re-flagged
        ("44444444444444", "2025-S2"),  # 2026-S1 due 29/08/2026: alert
    ]
    with Warehouse(settings).transaction() as tx:
        for number, (siret, periode) in enumerate(reports):
            tx.execute(
                """
                INSERT INTO raw.association_reports (
                    reseau, structure, siret, code_departement, periode, code_commune,
                    nb_jeunes_accueillis, nb_familles_accompagnees, nb_actions_collectives,
                    source_file_sha256, source_file_name, source_row, loaded_at
                )
                VALUES ('centres_sociaux', ?, ?, '93', ?, '93066', 10, 5, 2, ?, ?, 1, ?)
                """,
                [
                    f"Structure {siret[:2]}",
                    siret,
                    periode,
                    f"{number:064d}",
                    f"rapport_{siret}_{periode}.csv",
                    datetime(2026, 1, 5, tzinfo=UTC),
                ],
            )
    frame = checks.evaluate(WEEK, settings)
    found = frame[frame.check_name == "association_report_missing"]
    statuses = {(r.territory_code, r.period): r.status for r in found.itertuples()}
    assert statuses == {
        ("11111111111111", "2025"): "ok",
        ("22222222222222", "2025"): "alert",
        ("44444444444444", "2026-S1"): "alert",
    }
    late = found[found.territory_code == "22222222222222"].message.iloc[0]
    assert "rapport 2025 non reçu" in late and "01/03/2026" in late and "2024" in late
