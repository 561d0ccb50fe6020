"""The weekly e-mails built from every check's rows, week on week, with their chart.

Hand-made rows of ``marts.weekly_alerts`` for this week and the week before (every check,
including ones the e-mails have no special wording for) next to the FIPD share rows of
test_alerts_render, then: what is new and what is resolved, worst first in every section, the
MIME structure with the chart inline, the same bytes for the same data, and above all that a
département's pilots never see another département's figures, whether in the text, the HTML,
the attachment or the chart.
"""

from __future__ import annotations

import csv
import email
import email.policy
import html
import io
import json
from datetime import UTC, date, datetime
from email.message import EmailMessage

import pytest
from vigie.alerts import chart
from vigie.alerts.alert_rows import compare_weeks, parse_alert_rows, worst_first
from vigie.alerts.chart import chart_data_from_png
from vigie.alerts.france_map import map_data_from_png
from vigie.alerts.render import build_weekly_emails
from vigie.reference.pilots import DEPARTEMENTS, read_pilots

from tests.test_alerts_render import MARKERS, PILOTS_CSV, RAW_AMOUNTS, ROWS, SENDER, unwrap

WEEK = date(2026, 11, 23)
PREVIOUS = date(2026, 11, 16)
AT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
NNBSP, NBSP = "\u202f", "\u00a0"
EVIL = '=HYPERLINK("http://evil.example","<b>clic</b>")'


def alert(
    check,
    code,
    period,
    status,
    message,
    figures=None,
    lineage=None,
    *,
    dep=None,
    kind="departement",
    week=WEEK,
) -> dict:
    """A row as ``tasks.weekly_emails`` reads it (figures and lineage as JSON text)."""
    return {
        "week_start": week,
        "check_name": check,
        "territory_kind": kind,
        "territory_code": code,
        "period": period,
        "code_departement": code.split("-")[0] if dep is None else dep,
        "status": status,
        "message": message,
        "figures": json.dumps(figures or {}),
        "lineage": json.dumps(lineage or []),
    }


def fipd(code, annee, status, gap=0.0, share=None, top=(), week=WEEK) -> dict:
    message = f"FIPD {code} {annee} : part localisée {share}."
    if top:
        message += " Plus grosses actions non comptées : " + "; ".join(d for d, _, _ in top)
    figures = {
        "annee": annee,
        "gap_eur": gap,
        "share_located": share,
        "target": 0.75,
        "uncounted_top3": [
            {"numero_dossier": d, "porteur": p, "montant_attribue": a} for d, p, a in top
        ],
    }
    lineage = {
        "files": [{"name": f"fipd_{code}_{annee}.csv", "sha256": "ab" * 32, "rows": 9}],
        "uncounted_rows": [{"file": f"fipd_{code}_{annee}.csv", "row": 3}],
    }
    return alert(
        "fipd_share_below_target", code, str(annee), status, message, figures, lineage, week=week
    )


def police(
    code, period, status, evolution=None, message="", week=WEEK, before=100.0, after=80.0
) -> dict:
    indicators = (
        [
            {
                "indicateur": "signalements_plateforme",
                "valeur": after,
                "valeur_annee_precedente": before,
                "evolution": evolution,
            }
        ]
        if evolution is not None
        else []
    )
    lineage = [
        {
            "indicateur": "signalements_plateforme",
            "source": "api",
            "request_url": "http://api.interne.example/v1/indicateurs?page=3",
            "page": 3,
        }
    ]
    return alert(
        "police_indicator_drop",
        code,
        period,
        status,
        message or f"Police {code} {period} {status}.",
        {"mois": period, "indicators": indicators},
        lineage,
        kind="departement_force",
        week=week,
    )


def export(code, status, last=None, week=WEEK) -> dict:
    message = (
        f"Export FIPD {code} : dernier reçu le {last}."
        if last
        else f"Export FIPD {code} : aucun export FIPD 2026 reçu."
    )
    return alert(
        "fipd_export_missing",
        code,
        "2026",
        status,
        message,
        {"last_received_at": last, "max_age_days": 45},
        {"audit.file_loads": {"sender": code, "period": "2026"}},
        week=week,
    )


TOP_93 = [
    ("D-93-2", "Association Horizon 93", 90_000.0),
    ("D-93-3", EVIL, 12_000.0),
    ("D-93-1", "Ville de Saint-Denis", 5_000.0),
]
TOP_13 = [("D-13-7", "Maison des jeunes du Panier", 40_000.0)]

CURRENT = [
    # FIPD: 93 becomes below target this week; 13 stays below; 69 goes back above.
    fipd("93", 2026, "alert", 81_480.25, 0.684, TOP_93),
    fipd("93", 2025, "ok", share=0.8),
    fipd("13", 2026, "alert", 10_300.0, 0.725, TOP_13),
    fipd("13", 2025, "alert", 7_000.0, 0.74),
    fipd("69", 2026, "ok", share=0.849),
    fipd("69", 2025, "ok", share=0.84),
    fipd("48", 2026, "no_data"),
    fipd("48", 2025, "no_data"),
    # Exports: 75 never sent one (the worst), 13 stale since 08/10 (new), 69 fine again.
    export("13", "alert", "2026-10-08 09:00:00+00:00"),
    export("75", "alert"),
    export("93", "ok", "2026-11-13 09:00:00+00:00"),
    export("69", "ok", "2026-11-20 08:00:00"),
    # Police: the month moved on (2026-09 -> 2026-10): 93-PN is still the same alert.
    police(
        "93-PN",
        "2026-10",
        "alert",
        -0.2,
        "Seine-Saint-Denis (93), police nationale : "
        "signalements à la plateforme IGPN/IGGN 100 → 80 (-20,0 %).",
    ),
    police(
        "13-GN",
        "2026-10",
        "alert",
        -0.5,
        "Bouches-du-Rhône (13), gendarmerie nationale : "
        "délégués à la cohésion police-population 2 → 1 (-50,0 %).",
        before=2.0,
        after=1.0,
    ),
    police("13-PN", "2026-10", "no_data"),
    police("69-PN", "2026-10", "ok"),
    # Checks the e-mails only know through their message (no row at all last week).
    alert(
        "part_annex_missing",
        "CV-93-PLAINE",
        "2026",
        "alert",
        "Contrat de ville de Plaine Commune (93) : pas d'annexe de prévention de la "
        "radicalisation au suivi 2026.",
        {"plan_radicalisation": "non", "months": None},
        [{"file": "contrats_93_2026.csv", "row": 4}],
        dep="93",
        kind="contrat_de_ville",
    ),
    alert(
        "part_annex_missing",
        "CV-93-EVIL",
        "2026",
        "ok",
        EVIL + " (93) : annexe adoptée le 12/03/2024.",
        {"plan_radicalisation": "oui"},
        dep="93",
        kind="contrat_de_ville",
    ),
    alert(
        "part_annex_missing",
        "CV-13-NORD",
        "2026",
        "alert",
        "Contrat de ville Marseille Nord (13) : annexe en cours depuis le 02/10/2025 (13 mois).",
        {"plan_radicalisation": "en_cours", "months": 13},
        dep="13",
        kind="contrat_de_ville",
    ),
    # Rhône: no contrat de ville follow-up at all: the PART check has nothing to look at.
    alert(
        "part_annex_missing",
        "69",
        "-",
        "not_monitored",
        "Rhône (69) : aucun suivi des contrats de ville reçu ; les annexes de prévention de "
        "la radicalisation ne sont pas suivies.",
        dep="69",
    ),
    alert(
        "association_report_missing",
        "W-SUD-042",
        "2026-S1",
        "alert",
        "Réseau Sud, structure Les Calanques (13) : pas de bilan pour 2026-S1, 60 jours "
        "après la fin de la période (dernier bilan : 2025-S2).",
        {"days_late": 83},
        dep="13",
        kind="structure",
    ),
    alert(
        "association_report_missing",
        "W-NAT-001",
        "2026-S1",
        "alert",
        "Réseau national Trait d'union, structure nationale : pas de bilan pour 2026-S1.",
        {"days_late": 12},
        dep="",
        kind="structure",
    ),
]

PREVIOUS_ROWS = [
    fipd("93", 2026, "ok", share=0.76, week=PREVIOUS),
    fipd("93", 2025, "ok", share=0.8, week=PREVIOUS),
    fipd("13", 2026, "alert", 9_000.0, 0.73, TOP_13, week=PREVIOUS),
    fipd("13", 2025, "alert", 7_000.0, 0.74, week=PREVIOUS),
    fipd("69", 2026, "alert", 3_000.0, 0.745, week=PREVIOUS),
    fipd("69", 2025, "ok", share=0.84, week=PREVIOUS),
    fipd("48", 2026, "no_data", week=PREVIOUS),
    fipd("48", 2025, "no_data", week=PREVIOUS),
    export("13", "ok", "2026-10-08 09:00:00+00:00", week=PREVIOUS),
    export("75", "alert", week=PREVIOUS),
    export("69", "alert", "2026-09-01", week=PREVIOUS),
    export("93", "ok", "2026-11-13 09:00:00+00:00", week=PREVIOUS),
    police("93-PN", "2026-09", "alert", -0.25, week=PREVIOUS),
    police(
        "13-PN",
        "2026-09",
        "alert",
        -0.3,
        "Bouches-du-Rhône (13), police nationale : baisse la semaine dernière.",
        week=PREVIOUS,
    ),
    police(
        "69-GN",
        "2026-09",
        "alert",
        -0.4,
        "Rhône (69), gendarmerie nationale : baisse la semaine dernière.",
        week=PREVIOUS,
    ),
    police("13-GN", "2026-09", "ok", week=PREVIOUS),
    police("69-PN", "2026-09", "ok", week=PREVIOUS),
]

# What identifies each département's alerts (on top of test_alerts_render's FIPD markers).
ALERT_MARKERS = {
    "93": ["Horizon 93", "D-93-2", "Plaine Commune", "100 → 80", "fipd_93_2026.csv"],
    "13": [
        "Maison des jeunes du Panier",
        "D-13-7",
        "Marseille Nord",
        "Les Calanques",
        "2 → 1",
        "08/10",
        "2026-10-08",
        "CV-13-NORD",
        "13-GN",
    ],
    "69": ["Rhône (69), gendarmerie", "69-PN", "2026-11-20"],
    "75": ["Export FIPD 75", "aucun export FIPD 2026"],
}


@pytest.fixture(scope="module")
def pilots(tmp_path_factory):
    path = tmp_path_factory.mktemp("config") / "pilots.csv"
    path.write_text(PILOTS_CSV + "75;préfet de police;pp-75@pilotes.example\n", encoding="utf-8")
    return read_pilots(path)


def build(pilots, current=CURRENT, previous=PREVIOUS_ROWS, share_rows=ROWS):
    return build_weekly_emails(
        WEEK,
        share_rows,
        pilots,
        SENDER,
        alert_rows=current,
        previous_alert_rows=previous,
        generated_at=AT,
    )


@pytest.fixture(scope="module")
def messages(pilots) -> dict[str, EmailMessage]:
    return {str(m["To"]): m for m in build(pilots)}


def parsed(message: EmailMessage) -> EmailMessage:
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def parts(message: EmailMessage) -> dict:
    """What a mail client shows: subject, text, HTML, CSV, and the inline chart's bytes."""
    p = parsed(message)
    (attachment,) = list(p.iter_attachments())
    html_part = p.get_body(("html",))
    (image,) = [part for part in p.walk() if part.get_content_type() == "image/png"]
    return {
        "subject": str(p["Subject"]),
        "text": p.get_body(("plain",)).get_content(),
        "html": html_part.get_content(),
        "csv": attachment.get_payload(decode=True).decode("utf-8-sig"),
        "png": image.get_payload(decode=True),
        "cid": str(image["Content-ID"]).strip("<>"),
    }


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def section(text: str, start: str, end: str | None = None) -> str:
    body = text.split(start, 1)[1]
    return body.split(end, 1)[0] if end else body


# --- MIME -------------------------------------------------------------------------------------


def test_mime_structure_text_html_with_inline_chart_and_csv(messages):
    for recipient in ("copil@pilotes.example", "spv-93@pilotes.example"):
        p = parsed(messages[recipient])
        assert p.get_content_type() == "multipart/mixed"
        alternative, attachment = p.get_payload()
        assert alternative.get_content_type() == "multipart/alternative"
        plain, related = alternative.get_payload()
        assert plain.get_content_type() == "text/plain"
        assert related.get_content_type() == "multipart/related"
        html, image = related.get_payload()
        assert html.get_content_type() == "text/html"
        assert image.get_content_type() == "image/png"
        assert image.get_content_disposition() == "inline"
        cid = str(image["Content-ID"])
        assert cid.startswith("<") and cid.endswith(">")
        assert f'src="cid:{cid[1:-1]}"' in html.get_content()  # the HTML shows this picture
        assert image.get_payload(decode=True).startswith(b"\x89PNG\r\n\x1a\n")
        assert attachment.get_content_type() == "text/csv"
        assert attachment.get_content_disposition() == "attachment"
        assert attachment.get_payload(decode=True).startswith(b"\xef\xbb\xbf")
    assert parsed(messages["spv-93@pilotes.example"]).get_body(("plain",)) is not None
    (csv_part,) = list(parsed(messages["spv-93@pilotes.example"]).iter_attachments())
    assert csv_part.get_filename() == "vigie-alertes-2026-11-23-93.csv"


# --- Week on week -----------------------------------------------------------------------------


def test_digest_says_what_is_new_and_what_is_resolved(messages):
    p = parts(messages["copil@pilotes.example"])
    changes = section(p["text"], "ÉVOLUTION DEPUIS LA SEMAINE DU 16/11/2026", "PART PRIORITAIRE")
    new = section(changes, "Nouvelles alertes (3)", "Alertes levées")
    assert "FIPD 93 2026" in new  # was at 76 % last week
    assert "Export FIPD 13 : dernier reçu" in new  # was fresh enough last week
    assert "Bouches-du-Rhône (13), gendarmerie nationale" in new  # was ok
    # The police month moved on (2026-09 -> 2026-10): the same alert, not a new one.
    assert "Seine-Saint-Denis (93), police nationale" not in new
    assert "FIPD 13 2026" not in new and "Export FIPD 75" not in new  # still in alert
    resolved = section(changes, "Alertes levées ou à vérifier (4)")
    assert "alerte levée : FIPD 69 2026" in resolved
    assert "alerte levée : Export FIPD 69" in resolved
    assert "plus de données : Police 13-PN 2026-10 no_data." in resolved
    assert "ne figure plus dans les contrôles : Rhône (69), gendarmerie nationale" in resolved
    # Checks with no row last week are not compared: their alerts are not called new.
    assert "Plaine Commune" not in changes and "Les Calanques" not in changes
    assert "évalués pour la première fois cette semaine" in changes
    assert "Contrat de ville sans annexe de prévention de la radicalisation" in changes
    assert p["subject"].startswith("[Vigie] Synthèse nationale : France 72,4")
    # The HTML says the same, and marks the new FIPD alert in the table.
    assert "Nouvelles alertes (3)" in p["html"] and "Alertes levées ou à vérifier (4)" in p["html"]
    assert "1. Seine-Saint-Denis (93) — nouvelle alerte cette semaine" in p["text"]
    assert "2. Bouches-du-Rhône (13)\n" in p["text"]
    rows = {
        (r["Contrôle"], unwrap(r["Territoire"]), unwrap(r["Période"])): r
        for r in csv_rows(p["csv"])
    }
    change = "Évolution depuis la semaine précédente"
    fipd_label = "Part prioritaire FIPD sous la cible"
    assert rows[(fipd_label, "93", "2026 (année en cours)")][change] == "nouvelle alerte"
    police_label = "Baisse d'un indicateur police-population"
    assert rows[(police_label, "93-PN", "octobre 2026")][change] == "alerte maintenue"
    gone = rows[(police_label, "69-GN", "septembre 2026")]
    assert gone[change] == "ne figure plus dans les contrôles"


def test_departement_sees_its_own_changes_only(messages):
    text = parts(messages["pdec-69@pilotes.example"])["text"]
    changes = section(text, "ÉVOLUTION DEPUIS", "RHÔNE (69)")
    assert "Aucune nouvelle alerte." in changes
    assert "alerte levée : FIPD 69 2026" in changes and "Export FIPD 69" in changes
    assert "Rhône (69), gendarmerie nationale" in changes
    assert "93" not in changes and "13" not in changes.replace("2026", "")


def only(pilots, *addresses):
    """A directory cut down to some recipients: fewer charts to draw, a faster test."""
    return [p for p in pilots if p.email in addresses]


def test_first_week_without_previous_rows_makes_no_comparison(pilots):
    chosen = only(pilots, "copil@pilotes.example", "pdec-13@pilotes.example")
    built = {str(m["To"]): m for m in build(chosen, previous=[])}
    for recipient in ("copil@pilotes.example", "pdec-13@pilotes.example"):
        p = parts(built[recipient])
        assert "Première semaine de suivi" in p["text"]
        assert "Nouvelles alertes" not in p["text"] and "nouvelle alerte" not in p["text"]
        assert "levée" not in p["subject"]


def test_without_alert_rows_the_fipd_share_is_still_reported(pilots):
    chosen = only(pilots, "spv-93@pilotes.example")
    built = {str(m["To"]): m for m in build(chosen, current=None, previous=None)}
    p = parts(built["spv-93@pilotes.example"])
    assert "n'ont pas encore été évalués" in p["text"]
    assert f"réorienter 81{NNBSP}480{NBSP}€ vers des actions" in p["text"]
    assert chart_data_from_png(p["png"])["bars"][0]["code"] == "93"


# --- Worst first ------------------------------------------------------------------------------


def test_every_section_of_the_digest_is_worst_first(messages):
    text = parts(messages["copil@pilotes.example"])["text"]
    fipd_part = section(text, "DÉPARTEMENTS SOUS LA CIBLE", "DÉPARTEMENTS SANS DONNÉES")
    assert fipd_part.index("Seine-Saint-Denis (93)") < fipd_part.index("Bouches-du-Rhône (13)")
    exports = section(text, "RÉCEPTION DE L'EXPORT FIPD", "BAISSE D'UN INDICATEUR")
    assert "1. Export FIPD 75 : aucun export" in exports  # never received: worst
    assert "2. Export FIPD 13 : dernier reçu" in exports
    assert "Export FIPD 93" not in exports  # ok rows are not listed
    drops = section(text, "BAISSE D'UN INDICATEUR POLICE-POPULATION", "CONTRAT DE VILLE")
    # By size: 100 -> 80 (20 fewer) before 2 -> 1 (one fewer), whatever the percentages.
    assert "1. Seine-Saint-Denis (93), police" in drops
    assert "2. Bouches-du-Rhône (13), gendarmerie" in drops
    assert "1 territoire sans données" in drops
    annexes = section(text, "CONTRAT DE VILLE SANS ANNEXE", "BILAN D'ASSOCIATION")
    assert "1. Contrat de ville de Plaine Commune" in annexes  # no annex at all
    assert "2. Contrat de ville Marseille Nord" in annexes  # en cours for 13 months
    assert "HYPERLINK" not in annexes  # adopted: not an alert
    reports = section(text, "BILAN D'ASSOCIATION NON TRANSMIS", "Le détail des chiffres")
    assert reports.index("Les Calanques") < reports.index("Trait d'union")  # 83 days late first
    # In the HTML too.
    html = parts(messages["copil@pilotes.example"])["html"]
    exports = section(html, "Réception de l&#39;export FIPD</h2>", "Baisse d&#39;un indicateur")
    # (in the HTML, the space before ":" is a no-break space, as French typography wants)
    assert exports.index("Export FIPD 75") < exports.index(f"Export FIPD 13{NBSP}: dernier")


def test_rows_rank_by_their_own_figures():
    rows = parse_alert_rows(
        [
            alert("some_future_check", "A", "p", "alert", "a", {"days_late": 3}),
            alert("some_future_check", "B", "p", "alert", "b", {"days_late": 30}),
            alert("some_future_check", "C", "p", "ok", "c", {"days_late": 300}),
        ]
    )
    assert [r.territory_code for r in worst_first(rows)] == ["B", "A", "C"]
    changes = compare_weeks(rows, [])
    assert not changes.compared and changes.new == [] and changes.resolved == ()


# --- Each département its own -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("recipient", "own"),
    [
        ("spv-93@pilotes.example", {"93"}),
        ("pdec-13@pilotes.example", {"13"}),
        ("pdec-69@pilotes.example", {"69"}),
        ("pp-75@pilotes.example", {"75"}),
        ("sud@pilotes.example", {"48", "2A"}),
    ],
)
def test_a_departement_never_sees_another_departements_figures(messages, recipient, own):
    p = parts(messages[recipient])
    everything = {**{k: list(v) for k, v in MARKERS.items()}}
    for code, markers in ALERT_MARKERS.items():
        everything.setdefault(code, []).extend(markers)
    for code in own & ALERT_MARKERS.keys():  # the markers do find the recipient's own alerts
        assert any(marker in p["text"] for marker in ALERT_MARKERS[code])
    for code, markers in everything.items():
        if code in own:
            continue
        for kind in ("subject", "text", "html", "csv"):
            for marker in markers:
                assert marker not in p[kind], f"{recipient}: {marker!r} of {code} in {kind}"
        if code in RAW_AMOUNTS:
            assert RAW_AMOUNTS[code] not in p["csv"]
    # The national association's row has no département: only the national digest has it.
    assert "Trait d'union" not in p["text"] + p["html"] + p["csv"]
    assert {unwrap(r["Code département"]) for r in csv_rows(p["csv"])} == own
    # No other département's code or name anywhere: text, HTML, subject, attachment (a
    # département is always named "Nom (code)", and its code is a cell ="code" in the CSV).
    for code, name in DEPARTEMENTS.items():
        if code in own:
            continue
        for kind in ("subject", "text", "html", "csv"):
            assert f"({code})" not in p[kind], f"{recipient}: ({code}) in {kind}"
            assert f"{name} ({code})" not in p[kind], f"{recipient}: {name} in {kind}"
            assert f'="{code}"' not in p[kind], f"{recipient}: {code} in {kind}"
    # The chart: drawn from the recipient's départements only (France as the reference).
    data = chart_data_from_png(p["png"])
    assert data["kind"] == "departement"
    assert {b["code"] for b in data["bars"]} == own
    assert {m["code"] for m in data["markers"]} == {"FR"}
    shares = {b["share"] for b in data["bars"]} - {None}
    others = {r["share_located"] for r in ROWS if r["code_departement"] not in own | {"FR"}}
    assert not shares & others


def test_departement_message_details_its_alerts(messages):
    p = parts(messages["spv-93@pilotes.example"])
    text = p["text"]
    assert "Part prioritaire des crédits FIPD de prévention — nouvelle alerte cette semaine" in (
        text
    )
    assert f"D-93-2 — Association Horizon 93 — 90{NNBSP}000{NBSP}€" in text
    assert "Baisse d'un indicateur police-population : 1 alerte" in text
    assert "IGPN/IGGN 100 → 80" in text
    # The export check says when the last export arrived, not just "rien à signaler".
    assert (
        "Réception de l'export FIPD : rien à signaler. Export FIPD 93 : dernier reçu le "
        "2026-11-13" in text
    )
    assert "Contrat de ville de Plaine Commune (93)" in text
    # The police fall in its box, with why the indicator matters and what to do.
    police_part = section(text, "Baisse d'un indicateur police-population : 1 alerte", "Contrat")
    assert "Pourquoi ces indicateurs comptent" in police_part and "Conseil" in police_part
    assert "Signalements à la plateforme IGPN/IGGN : la plateforme" in police_part
    # The subject names the most serious item; the preview says there are two more.
    assert p["subject"].startswith("[Vigie] Seine-Saint-Denis (93) : FIPD 68,4")
    preheader = html.unescape(p["html"].split("</div>", 1)[0])
    assert preheader.endswith("Et 2 autres points. Réponse attendue d'ici le 7 décembre 2026.")
    data = chart_data_from_png(p["png"])
    assert [(b["annee"], b["share"], b["below"]) for b in data["bars"]] == [
        (2026, pytest.approx(844_445 / 1_234_567), True),
        (2025, pytest.approx(0.8), False),
    ]
    assert data["target"] == 0.75
    assert [m["share"] for m in data["markers"]] == [
        pytest.approx(44_321_000 / 61_234_000),
        pytest.approx(50_236_000 / 66_100_000),
    ]


def test_national_map_colours_every_departement_against_the_target(messages):
    p = parts(messages["copil@pilotes.example"])
    data = map_data_from_png(p["png"])
    assert data["kind"] == "national" and data["target"] == 0.75 and data["annee"] == 2026
    states = {e["code"]: e["state"] for e in data["entries"]}
    assert set(states) == set(read_codes())  # the 101, overseas included
    assert states["93"] == states["13"] == "below"
    assert states["69"] == "reached"
    assert states["48"] == "not_monitored"  # nothing received for either year: never blue
    assert data["france"] == pytest.approx(44_321_000 / 61_234_000)
    # The alt text says what the picture shows, the HTML key matches what is drawn.
    assert 'alt="Carte de France des départements' in p["html"]
    assert f"Seine-Saint-Denis (93) 68,4{NNBSP}%" in p["html"]
    assert f"sous la cible de 75{NNBSP}% : 2" in p["html"]
    assert "cible atteinte ou dépassée : 1" in p["html"]
    assert "non suivi (aucune donnée reçue) : 98" in p["html"]
    assert "pas encore de données" not in p["html"]  # no such département: not in the key


def test_the_map_is_the_same_bytes_for_the_same_data(messages):
    from vigie.alerts import france_map

    png = parts(messages["copil@pilotes.example"])["png"]
    data = france_map.map_data_from_png(png)
    again = france_map.MapData(
        data["kind"],
        data["annee"],
        data["target"],
        data["france"],
        tuple(france_map.MapEntry(**e) for e in data["entries"]),
    )
    assert france_map.render_map_png(again) == png


def test_not_monitored_is_said_plainly_never_green(messages):
    p = parts(messages["pdec-69@pilotes.example"])
    annex = section(p["text"], "\nContrat de ville sans annexe", "\n\n")
    assert annex.startswith(" de prévention de la radicalisation : non suivi")
    assert "rien à signaler" not in annex
    html = section(
        p["html"], "Contrat de ville sans annexe de prévention de la radicalisation</h3>"
    )
    state = html.split("</p>", 1)[0]
    assert "Non suivi" in state and "#18753c" not in state and "Rien à signaler" not in state
    rows = {r["Contrôle"]: r for r in csv_rows(p["csv"])}
    assert (
        rows["Contrat de ville sans annexe de prévention de la radicalisation"]["Situation"]
        == "non suivi"
    )
    digest = parts(messages["copil@pilotes.example"])["text"]
    assert "non suivi pour 1 département" in section(digest, "EN BREF", "ÉVOLUTION")


def test_no_internal_url_table_or_hash_in_any_attachment(messages):
    for recipient, message in messages.items():
        attachment = parts(message)["csv"]
        for leak in ("api.interne.example", "127.0.0.1", "audit.", "marts.", "sha256", "ab" * 32):
            assert leak not in attachment, f"{recipient}: {leak!r} in the attachment"
        assert "http://evil.example" not in attachment or recipient in (
            "copil@pilotes.example",
            "pdec-93@pilotes.example",
            "spv-93@pilotes.example",
        )  # quoted from a prefecture's own file (formula-safe), not the platform's


def read_codes():
    from vigie.reference.pilots import DEPARTEMENTS

    return list(DEPARTEMENTS)


# --- Attachment, escaping, determinism ---------------------------------------------------------


def test_alert_rows_in_the_csv_are_formula_safe_and_the_html_escaped(messages):
    p = parts(messages["spv-93@pilotes.example"])
    rows = {(r["Contrôle"], unwrap(r["Territoire"]), r["Année"]): r for r in csv_rows(p["csv"])}
    evil = rows[
        ("Contrat de ville sans annexe de prévention de la radicalisation", "CV-93-EVIL", "")
    ]
    assert evil["Constat"].startswith("'=HYPERLINK(")  # text, not a formula, in Excel
    assert evil["Situation"] == "rien à signaler"
    fipd_row = rows[("Part prioritaire FIPD sous la cible", "93", "2026")]
    assert fipd_row["Sources (fichier et ligne)"] == "fipd_93_2026.csv (ligne 3)"
    assert fipd_row["Code département"] == '="93"'  # shown as 93 by a French Excel
    assert "<b>clic</b>" not in p["html"] and "&lt;b&gt;clic&lt;/b&gt;" in p["html"]


def test_same_rows_same_bytes_and_the_checksum_follows_the_chart(pilots, messages):
    from vigie.alerts import render

    render._chart.cache_clear()  # draw every chart again: the bytes must not move
    chart._frame_canvas.cache_clear()
    again = {str(m["To"]): m for m in build(pilots)}
    for recipient, message in messages.items():
        assert again[recipient].as_bytes() == message.as_bytes()
    # Only 69's FIPD share changes (and so its chart): 69 and the digest change, nobody else.
    changed = [dict(r) for r in ROWS]
    for r in changed:
        if r["code_departement"] == "69" and r["annee"] == 2025:
            r["montant_located"] -= 1_000.0
            r["share_located"] = r["montant_located"] / r["montant_scope"]
    after = {str(m["To"]): m for m in build(pilots, share_rows=changed)}
    differs = {
        to for to in messages if after[to]["X-Vigie-Checksum"] != messages[to]["X-Vigie-Checksum"]
    }
    assert differs == {"copil@pilotes.example", "pdec-69@pilotes.example"}
    assert (
        parts(after["pdec-69@pilotes.example"])["png"]
        != parts(messages["pdec-69@pilotes.example"])["png"]
    )
    # A new alert of another check changes its département's message and the digest only.
    more = [*CURRENT, police("13-PN", "2026-10", "alert", -0.9)]
    more.remove(next(r for r in CURRENT if r["territory_code"] == "13-PN"))
    after = {str(m["To"]): m for m in build(pilots, current=more)}
    differs = {
        to for to in messages if after[to]["X-Vigie-Checksum"] != messages[to]["X-Vigie-Checksum"]
    }
    assert differs == {"copil@pilotes.example", "pdec-13@pilotes.example"}


# --- Read from the warehouse ------------------------------------------------------------------

SHARE_DDL = """CREATE TABLE marts.fipd_priority_share (
    code_departement VARCHAR, nom_departement VARCHAR, annee INTEGER, nb_actions_scope INTEGER,
    montant_scope FLOAT8, montant_located FLOAT8, montant_beneficiaries FLOAT8,
    share_located FLOAT8, share_beneficiaries FLOAT8, target FLOAT8, gap_eur FLOAT8,
    status VARCHAR)"""


def _warehouse_settings(tmp_path, backend, request):
    from tests.conftest import make_settings

    pilots_file = tmp_path / "pilots.csv"
    pilots_file.write_text(
        "perimetre;role;email\nnational;copil;copil@pilotes.example\n"
        "93;pdec;pdec-93@pilotes.example\n",
        encoding="utf-8",
    )
    env = {"VIGIE_PILOTS_FILE": str(pilots_file), "VIGIE_MAIL_FROM": SENDER}
    if backend == "postgres":
        env["VIGIE_WAREHOUSE_URL"] = request.getfixturevalue("pg_url")
    return make_settings(tmp_path, **env)


@pytest.mark.parametrize("backend", ["duckdb", "postgres"])
def test_weekly_emails_read_this_and_last_weeks_alerts(tmp_path, backend, request):
    import pandas as pd
    from vigie import tasks
    from vigie.alerts import checks
    from vigie.warehouse.connection import Warehouse
    from vigie.warehouse.migrations import migrate_warehouse

    settings = _warehouse_settings(tmp_path, backend, request)
    with Warehouse(settings).transaction() as tx:
        tx.execute("CREATE SCHEMA IF NOT EXISTS marts")
        tx.execute(SHARE_DDL)
        tx.insert_frame("marts.fipd_priority_share", pd.DataFrame(ROWS))
    # No alerts table yet (the checks never ran): the FIPD share alone, no failure.
    (digest, own) = tasks.weekly_emails(date(2026, 11, 25), settings)
    assert "n'ont pas encore été évalués" in parts(own)["text"]

    older = [dict(r, week_start=date(2026, 11, 9), status="alert") for r in PREVIOUS_ROWS]
    frame = pd.DataFrame([*CURRENT, *PREVIOUS_ROWS, *older])
    frame["evaluated_at"] = datetime(2026, 11, 23, 6, tzinfo=UTC)
    migrate_warehouse(Warehouse(settings))
    with Warehouse(settings).transaction() as tx:
        tx.insert_frame(checks.ALERTS_TABLE, frame)
    (digest, own) = tasks.weekly_emails(date(2026, 11, 25), settings)  # a Wednesday
    assert digest["X-Vigie-Week"] == "2026-11-23"
    text = parts(digest)["text"]
    assert "ÉVOLUTION DEPUIS LA SEMAINE DU 16/11/2026" in text
    assert "Nouvelles alertes (3)" in text and "Alertes levées ou à vérifier (4)" in text
    assert "1. Export FIPD 75 : aucun export FIPD 2026 reçu." in text
    p = parts(own)
    assert str(own["To"]) == "pdec-93@pilotes.example"
    assert "Contrat de ville de Plaine Commune (93)" in p["text"]
    assert "Marseille Nord" not in p["text"] + p["html"] + p["csv"]
    assert f"D-93-2 — Association Horizon 93 — 90{NNBSP}000{NBSP}€" in p["text"]
    # Same as rendering the rows directly: the reading loses nothing.
    direct = build(only(read_pilots(settings.pilots_file), "pdec-93@pilotes.example"))
    assert direct[0]["X-Vigie-Checksum"] == own["X-Vigie-Checksum"]


def test_a_chart_is_the_same_bytes_in_another_process(messages):
    """A retry of the DAG task renders in a new process: the checksum must not move."""
    import subprocess
    import sys

    png = parts(messages["pdec-13@pilotes.example"])["png"]
    data = chart_data_from_png(png)
    script = (
        "import json, sys\n"
        "from vigie.alerts.chart import Bar, ChartData, Marker, render_png\n"
        "d = json.loads(sys.stdin.read())\n"
        "data = ChartData(d['kind'], d['title'], d['target'],\n"
        "    tuple(Bar(**b) for b in d['bars']), tuple(Marker(**m) for m in d['markers']),\n"
        "    d['marker_label'], tuple(d['reference']) if d['reference'] else None)\n"
        "sys.stdout.buffer.write(render_png(data))\n"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(data).encode(),
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    assert other == png
