"""Weekly FIPD e-mails, checked the way a pilot would read them.

Hand-made rows of ``marts.fipd_priority_share`` for a few départements (two below target, one
at target, one without data) and France, a small pilots directory, and then: who gets what, in
which order, formatted how, and above all that a département's pilots never see another
département's figures, in the text, the HTML or the attachment.
"""

from __future__ import annotations

import csv
import email
import email.policy
import importlib.util
import io
import re
from datetime import UTC, date, datetime
from email.message import EmailMessage

import pytest
from vigie.alerts.formatting import (
    csv_safe,
    csv_text,
    format_change,
    format_count,
    format_eur,
    format_month,
    format_period,
    format_share,
    format_target,
)
from vigie.alerts.mime import fold_subject
from vigie.alerts.outbox import write_outbox
from vigie.alerts.render import build_weekly_emails
from vigie.reference.pilots import DEPARTEMENTS, Pilot, read_pilots
from vigie.settings import get_settings

WEEK = date(2026, 11, 23)
SENDER = "Vigie <vigie-noreply@pilotes.example>"
AT = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
NNBSP, NBSP = "\u202f", "\u00a0"


def row(code, nom, annee, status, scope=0.0, located=0.0, benef=0.0, nb=0, target=0.75):
    share = located / scope if scope else None
    return {
        "code_departement": code,
        "nom_departement": nom,
        "annee": annee,
        "nb_actions_scope": nb,
        "montant_scope": scope,
        "montant_located": located,
        "montant_beneficiaries": benef,
        "share_located": share,
        "share_beneficiaries": benef / scope if scope else None,
        "target": target,
        "gap_eur": max(0.0, round(target * scope - located, 2)) if scope else 0.0,
        "status": status,
    }


ROWS = [
    # 93: below target this year, gap 81 480,25 EUR -> the worst.
    row("93", "Seine-Saint-Denis", 2026, "below_target", 1_234_567.0, 844_445.0, 870_000.0, 45),
    row("93", "Seine-Saint-Denis", 2025, "ok", 2_000_000.0, 1_600_000.0, 1_640_000.0, 80),
    # 13: below target both years, smaller gaps (10 300 and 7 000 EUR).
    row("13", "Bouches-du-Rhône", 2026, "below_target", 412_000.0, 298_700.0, 301_000.0, 17),
    row("13", "Bouches-du-Rhône", 2025, "below_target", 700_000.0, 518_000.0, 530_000.0, 29),
    # 69: at target both years.
    row("69", "Rhône", 2026, "ok", 876_543.0, 745_000.0, 752_000.0, 33),
    row("69", "Rhône", 2025, "ok", 905_000.0, 760_200.0, 771_000.0, 36),
    # 48: nothing received.
    row("48", "Lozère", 2026, "no_data"),
    row("48", "Lozère", 2025, "no_data"),
    # France.
    row("FR", "France", 2026, "below_target", 61_234_000.0, 44_321_000.0, 45_000_000.0, 2345),
    row("FR", "France", 2025, "ok", 66_100_000.0, 50_236_000.0, 51_000_000.0, 2510),
    # A year the weekly check does not look at.
    row("93", "Seine-Saint-Denis", 2019, "below_target", 999_999.0, 1.0, 1.0, 9),
]

PILOTS_CSV = """\
perimetre;role;email
national;comité de pilotage Intérieur/Ville;copil@pilotes.example
93;préfet délégué pour l'égalité des chances;pdec-93@pilotes.example
93;sous-préfet chargé de la politique de la ville;spv-93@pilotes.example
93;comité de pilotage Intérieur/Ville;COPIL@pilotes.example
13;préfet délégué pour l'égalité des chances;pdec-13@pilotes.example
69;préfet délégué pour l'égalité des chances;pdec-69@pilotes.example
48;sous-préfet chargé de la politique de la ville;sud@pilotes.example
2A;sous-préfet chargé de la politique de la ville;sud@pilotes.example
"""

# What identifies each département in a message: its name, its code as shown, its figures.
MARKERS = {
    "93": ["Seine-Saint-Denis", "(93)", "1\u202f234\u202f567", "81\u202f480", "68,4"],
    "13": ["Bouches-du-Rhône", "(13)", "412\u202f000", "700\u202f000", "10\u202f300", "72,5"],
    "69": ["Rhône (69)", "(69)", "876\u202f543", "905\u202f000", "85,0"],
    "48": ["Lozère", "(48)"],
    # France's share is the reference every département is shown against (its chart, its
    # alt text, its key); France's amounts are not a département's business.
    "FR": ["61\u202f234\u202f000", "66\u202f100\u202f000"],
}
RAW_AMOUNTS = {"93": "1234567", "13": "412000", "69": "876543", "FR": "61234000"}


@pytest.fixture(scope="module")
def pilots(tmp_path_factory) -> list[Pilot]:
    path = tmp_path_factory.mktemp("config") / "pilots.csv"
    path.write_text(PILOTS_CSV, encoding="utf-8")
    return read_pilots(path)


@pytest.fixture(scope="module")
def messages(pilots) -> dict[str, EmailMessage]:
    built = build_weekly_emails(WEEK, ROWS, pilots, SENDER, generated_at=AT)
    return {str(m["To"]): m for m in built}


def parts(message: EmailMessage) -> dict[str, str]:
    """Subject, text, HTML and CSV as a mail client would show them, after a round trip."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    (attachment,) = list(parsed.iter_attachments())
    return {
        "subject": str(parsed["Subject"]),
        "text": parsed.get_body(("plain",)).get_content(),
        "html": parsed.get_body(("html",)).get_content(),
        "csv": attachment.get_payload(decode=True).decode("utf-8-sig"),
    }


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text), delimiter=";"))


def unwrap(cell: str) -> str:
    """``="01"`` (a code kept as text for Excel) -> ``01``."""
    match = re.fullmatch(r'="(.*)"', cell)
    return match[1] if match else cell


def codes_in(text: str) -> set[str]:
    return {unwrap(r["Code département"]) for r in csv_rows(text)}


# --- Recipients -------------------------------------------------------------------------------


def test_one_message_per_recipient_address(messages):
    assert sorted(messages) == [
        "copil@pilotes.example",
        "pdec-13@pilotes.example",
        "pdec-69@pilotes.example",
        "pdec-93@pilotes.example",
        "spv-93@pilotes.example",
        "sud@pilotes.example",
    ]
    # Listed twice (national and 93, in two spellings): one message, the national digest.
    assert messages["copil@pilotes.example"]["X-Vigie-Perimetre"] == "national"
    # Pilot of two départements: one message covering both, and only them.
    assert messages["sud@pilotes.example"]["X-Vigie-Perimetre"] == "2A,48"
    assert messages["spv-93@pilotes.example"]["X-Vigie-Perimetre"] == "93"


def test_headers(messages):
    message = messages["spv-93@pilotes.example"]
    assert message["From"] == SENDER  # a sender with its own display name keeps it
    assert message["Reply-To"] == get_settings().mail_reply_to  # the national team's mailbox
    assert message["To"] == "spv-93@pilotes.example"
    assert message["X-Vigie-Week"] == "2026-11-23"
    assert email.utils.parsedate_to_datetime(message["Date"]) == AT
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith(">")
    # The most serious item first (the current year below target), within 60 characters.
    assert message["Subject"] == (
        f"[Vigie] Seine-Saint-Denis (93) : FIPD 68,4{NNBSP}%, cible 75{NNBSP}% "
        "— semaine du 23/11/2026"
    )


def test_a_bare_sender_gets_the_display_name(pilots):
    (message, *_) = build_weekly_emails(
        WEEK, ROWS, pilots, "vigie-noreply@pilotes.example", generated_at=AT
    )
    sender = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)["From"]
    assert sender.addresses[0].display_name == get_settings().mail_from_name
    assert sender.addresses[0].addr_spec == "vigie-noreply@pilotes.example"


def test_subjects_lead_within_60_characters(messages):
    for message in messages.values():
        head, _, week = str(message["Subject"]).partition(" — semaine du ")
        assert week == "23/11/2026"
        assert len(head) <= 60, head


def _rfc2047_join(raw_header: str) -> str:
    """Decode as RFC 2047 (6.2) says: unfold, drop whitespace *between* encoded words only."""
    import quopri

    value = re.sub(r"\r?\n[ \t]", " ", raw_header)
    word = r"=\?utf-8\?q\?([^?]*)\?="
    value = re.sub(rf"(?<=\?=)[ \t]+(?={word})", "", value, flags=re.IGNORECASE)

    def decode(match: re.Match) -> str:
        return quopri.decodestring(match[1].replace("_", " ").encode(), header=True).decode()

    return re.sub(word, decode, value, flags=re.IGNORECASE)


@pytest.mark.parametrize(
    "subject",
    [
        "[Vigie] Pyrénées-Orientales (66) : pas de données FIPD — semaine du 30/11/2026",
        "[Vigie] Seine-Saint-Denis (93) : FIPD 68,4\u202f%, cible 75\u202f% — semaine du "
        "23/11/2026",
        "[Vigie] Synthèse nationale : 5 départements sous la cible FIPD 2026 — semaine du "
        "30/11/2026",
        "[Vigie] Ain (01) : rien à signaler cette semaine — semaine du 30/11/2026",
    ],
)
def test_a_subject_survives_folding_word_for_word(subject):
    """Python's parser and a strict RFC 2047 decoder read the same subject, spaces included."""
    from vigie.alerts.mime import POLICY

    message = EmailMessage(policy=POLICY)
    message["Subject"] = subject
    message["To"] = "x@pilotes.example"
    message.set_content("x")
    raw = message.as_bytes(policy=POLICY.clone(linesep="\r\n"))  # as on the wire
    header = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    folded = re.search(r"^Subject: (.*?)\r\n(?![ \t])", header, re.MULTILINE | re.DOTALL)[1]
    assert all(len(line) <= 78 for line in header.split("\r\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == subject
    assert _rfc2047_join(folded) == subject
    assert fold_subject(subject).startswith("Subject: ")


def test_every_built_subject_decodes_the_same_both_ways(messages):
    for message in messages.values():
        raw = message.as_bytes().split(b"\n\n", 1)[0].decode("ascii")
        folded = re.search(r"^Subject: (.*?)\n(?![ \t])", raw, re.MULTILINE | re.DOTALL)[1]
        parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
        assert _rfc2047_join(folded) == str(parsed["Subject"]) == str(message["Subject"])


# --- National digest --------------------------------------------------------------------------


def test_national_digest_lists_worst_first_with_gap_in_euros(messages):
    p = parts(messages["copil@pilotes.example"])
    text = p["text"]
    alerts = text.split("DÉPARTEMENTS SOUS LA CIBLE")[1].split("DÉPARTEMENTS SANS DONNÉES")[0]
    assert alerts.index("1. Seine-Saint-Denis (93)") < alerts.index("2. Bouches-du-Rhône (13)")
    assert f"écart à la cible 81{NNBSP}480{NBSP}€" in alerts  # 81 480,25 EUR rounded
    assert f"écart à la cible 10{NNBSP}300{NBSP}€" in alerts
    assert f"écart à la cible 7{NNBSP}000{NBSP}€" in alerts  # 13 is below in 2025 too
    assert "Rhône (69)" not in alerts and "Lozère" not in alerts
    # No data is listed apart, never as passing; the 2019 row is not looked at.
    missing = text.split("DÉPARTEMENTS SANS DONNÉES FIPD 2026 : ")[1]
    assert missing.startswith("98\n")  # every département the mart does not mention
    assert "Corse-du-Sud (2A)" in missing and "Lozère (48)" in missing.split("\n\n")[1]
    assert "999" not in text
    # National totals, both measures (rounded half up), the target.
    national = text.split("NIVEAU NATIONAL")[1].split("DÉPARTEMENTS SOUS LA CIBLE")[0]
    assert f"mesure «{NNBSP}localisée{NNBSP}» : 72,4{NNBSP}% (cible 75{NNBSP}%)" in national
    assert f"mesure «{NNBSP}bénéficiaires{NNBSP}» : 73,5{NNBSP}%" in national
    assert f"crédits de prévention concernés : 61{NNBSP}234{NNBSP}000{NBSP}€" in national
    assert "part des crédits FIPD de prévention consacrée aux quartiers prioritaires (QPV)" in text
    # Same order and figures in the HTML part.
    html = p["html"]
    assert html.index("Seine-Saint-Denis (93)") < html.index("Bouches-du-Rhône (13)")
    assert f"81{NNBSP}480{NBSP}€" in html
    # France below the target is the most serious national item: it leads the subject.
    assert p["subject"].startswith(f"[Vigie] Synthèse nationale : France 72,4{NNBSP}%, cible")
    assert "2 départements sous la cible en 2026" in text.split("CE QUI EST ATTENDU")[0]
    # The national attachment has every département and France.
    codes = codes_in(p["csv"])
    assert {"FR", "93", "13", "69", "48"} <= codes
    assert set(DEPARTEMENTS) <= codes


# --- Département messages ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recipient", "own"),
    [
        ("spv-93@pilotes.example", {"93"}),
        ("pdec-13@pilotes.example", {"13"}),
        ("pdec-69@pilotes.example", {"69"}),
        ("sud@pilotes.example", {"48", "2A"}),
    ],
)
def test_departement_message_shows_only_its_departement(messages, recipient, own):
    p = parts(messages[recipient])
    for code in own & MARKERS.keys():  # the markers do identify the recipient's own figures
        assert all(MARKERS[code][0] in p[kind] for kind in ("subject", "text", "html"))
    for code, markers in MARKERS.items():
        for kind in ("subject", "text", "html", "csv"):
            for marker in markers:
                if code in own:
                    continue
                assert marker not in p[kind], f"{recipient}: {marker!r} of {code} in {kind}"
    for code, raw in RAW_AMOUNTS.items():
        if code not in own:
            assert raw not in p["csv"]
    assert codes_in(p["csv"]) == own


def test_below_target_departement_message(messages):
    p = parts(messages["spv-93@pilotes.example"])
    text = p["text"]
    first_screen = text.split("ÉVOLUTION DEPUIS")[0]
    assert f"Part prioritaire FIPD 2026 : 68,4{NNBSP}% pour une cible de 75{NNBSP}%" in (
        first_screen
    )
    assert f"{NNBSP}localisée{NNBSP}» de cette part est de 68,4{NNBSP}%, inférieure" in text
    assert f"réorienter 81{NNBSP}480{NBSP}€ vers des actions menées en QPV" in text
    assert f"mesure «{NNBSP}bénéficiaires{NNBSP}» : 70,5{NNBSP}%" in text  # 70,47 half up
    assert "Madame, Monsieur," in text and "Madame, Monsieur," in p["html"]
    # What is asked, by when, whom to contact; the basis of the target.
    asked = text.split("CE QUI EST ATTENDU")[1].split("ÉVOLUTION DEPUIS")[0]
    assert "Réexaminer la programmation FIPD 2026" in asked
    assert "Échéance : d'ici le 7 décembre 2026." in asked  # the Monday plus 14 days
    assert get_settings().mail_reply_to in asked
    assert "trois quarts des crédits du FIPD" in text and "trois quarts" in p["html"]
    rows = csv_rows(p["csv"])
    assert [(r["Année"], r["Situation"]) for r in rows] == [
        ("2026", "sous la cible"),
        ("2025", "cible atteinte"),
    ]
    assert rows[0]["Écart à la cible (€)"] == "81480"  # as the body: whole euros, half up
    assert rows[0]["Part localisée (%)"] == "68,4"  # as the body: one decimal, half up
    assert rows[0]["Période"] == "2026 (année en cours)"


def test_ok_departement_gets_a_reassuring_message(messages):
    p = parts(messages["pdec-69@pilotes.example"])
    assert (
        p["subject"] == "[Vigie] Rhône (69) : rien à signaler cette semaine — semaine du 23/11/2026"
    )
    assert f"la cible de 75{NNBSP}% est atteinte" in p["text"]
    assert "Aucune démarche n'est attendue de votre part" in p["text"]
    assert "Aucune démarche n'est attendue de votre part" in p["html"]
    assert "inférieure à la cible" not in p["text"]


def test_no_data_is_never_reported_as_passing(messages):
    p = parts(messages["sud@pilotes.example"])
    # 2A has no row at all in the mart, 48 has no_data rows: both are "pas de données".
    assert p["subject"].startswith(
        "[Vigie] Corse-du-Sud (2A), Lozère (48) : pas de données FIPD — semaine"
    )
    assert "Vigie ne dispose d'aucune donnée pour 2026 (année en cours)" in p["text"]
    assert "cible atteinte" not in p["text"].split("Comment lire")[0]
    assert "atteinte" not in p["subject"]
    # The closed year without an export: a dated request in the action block, said once.
    asked = p["text"].split("CE QUI EST ATTENDU")[1].split("Contact")[0]
    assert "Transmettre l'export FIPD 2025 (exercice clos) (Lozère (48))" in asked
    assert "Échéance : d'ici le 7 décembre 2026." in asked
    assert p["text"].count("Transmettre l'export FIPD 2025") == 2  # once per département
    assert "2025" not in p["subject"]


# --- MIME, attachment, idempotence ------------------------------------------------------------


def test_mime_structure_parses_back(messages):
    raw = messages["spv-93@pilotes.example"].as_bytes()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/mixed"
    alternative, attachment = parsed.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    plain, related = alternative.get_payload()
    assert plain.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"  # the HTML and its chart
    assert [p.get_content_type() for p in related.get_payload()] == ["text/html", "image/png"]
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "vigie-alertes-2026-11-23-93.csv"
    data = attachment.get_payload(decode=True)
    assert data.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    assert (
        data.decode("utf-8-sig")
        .splitlines()[0]
        .startswith("Contrôle;Code département;Département;")
    )


def test_csv_neutralises_formulas_and_html_escapes(pilots):
    evil = '=HYPERLINK("http://evil.example","<b>Corse</b>")'
    rows = [*ROWS, row("2A", evil, 2026, "below_target", 100_000.0, 10_000.0, 10_000.0, 2)]
    built = build_weekly_emails(WEEK, rows, pilots, SENDER, generated_at=AT)
    (message,) = [m for m in built if m["To"] == "sud@pilotes.example"]
    p = parts(message)
    names = {unwrap(r["Code département"]): r["Département"] for r in csv_rows(p["csv"])}
    assert names["2A"] == "'" + evil
    assert "<b>Corse</b>" not in p["html"] and "&lt;b&gt;Corse&lt;/b&gt;" in p["html"]
    for dangerous in ("=1+1", "+33", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert csv_safe(dangerous) == "'" + dangerous
    assert csv_safe("Lozère") == "Lozère"


def test_same_figures_same_message_id_whatever_the_run_time(pilots):
    first = build_weekly_emails(WEEK, ROWS, pilots, SENDER, generated_at=AT)
    later = build_weekly_emails(WEEK, ROWS, pilots, SENDER, generated_at=datetime(2026, 11, 24))
    assert [m["Message-ID"] for m in first] == [m["Message-ID"] for m in later]
    assert len({m["Message-ID"] for m in first}) == len(first)
    changed = [dict(r) for r in ROWS]
    changed[0]["montant_scope"] = 1_234_568.0
    again = build_weekly_emails(WEEK, changed, pilots, SENDER, generated_at=AT)
    ids = {str(m["To"]): m["Message-ID"] for m in again}
    before = {str(m["To"]): m["Message-ID"] for m in first}
    assert ids["spv-93@pilotes.example"] != before["spv-93@pilotes.example"]
    assert ids["pdec-69@pilotes.example"] == before["pdec-69@pilotes.example"]


def test_write_outbox_twice_gives_one_file_per_recipient(messages, pilots, tmp_path):
    first, skipped = write_outbox(list(messages.values()), tmp_path)
    assert skipped == []
    before = {p: p.read_bytes() for p in first}
    # A re-run of the week (later: another Date header) with the same figures writes nothing.
    rebuilt = build_weekly_emails(WEEK, ROWS, pilots, SENDER, generated_at=datetime(2026, 11, 24))
    written, second = write_outbox(rebuilt, tmp_path)
    assert written == [] and sorted(first) == sorted(second)
    assert {p: p.read_bytes() for p in second} == before  # left as they were
    # Changed figures: only the messages that show them are written again.
    changed = [dict(r) for r in ROWS]
    changed[0]["montant_scope"] = 1_234_568.0  # Seine-Saint-Denis, 2026
    written, unchanged = write_outbox(
        build_weekly_emails(WEEK, changed, pilots, SENDER, generated_at=AT), tmp_path
    )
    assert sorted(p.name for p in written) == [
        "copil@pilotes.example.eml",
        "pdec-93@pilotes.example.eml",
        "spv-93@pilotes.example.eml",
    ]
    assert len(unchanged) == len(first) - 3
    forced, _ = write_outbox(list(messages.values()), tmp_path, force=True)
    assert sorted(forced) == sorted(first)
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert files == sorted(f"2026-11-23/{to}.eml" for to in messages)
    eml = (tmp_path / "2026-11-23" / "spv-93@pilotes.example.eml").read_bytes()
    parsed = email.message_from_bytes(eml, policy=email.policy.default)
    assert parsed["Message-ID"] == messages["spv-93@pilotes.example"]["Message-ID"]


# --- Formatting -------------------------------------------------------------------------------


def test_french_formatting():
    assert format_eur(1_234_567.4) == f"1{NNBSP}234{NNBSP}567{NBSP}€"
    assert format_eur(0.5) == f"1{NBSP}€"
    assert format_share(0.684) == f"68,4{NNBSP}%"
    # Half up to the precision shown, never truncated.
    assert format_share(0.5028) == f"50,3{NNBSP}%"
    assert format_share(0.4755) == f"47,6{NNBSP}%"
    assert format_share(0.50249) == f"50,2{NNBSP}%"
    assert format_target(0.75) == f"75{NNBSP}%"
    assert format_target(0.675) == f"67,5{NNBSP}%"
    # Police: 3 -> 2 is -33,3 % (not -33,4 %), with a real minus sign.
    assert format_change((2 - 3) / 3) == f"\u221233,3{NNBSP}%"
    assert format_change(0.05) == f"+5,0{NNBSP}%"
    assert format_count(-1598) == f"\u22121{NNBSP}598"
    assert format_month("2026-10") == "octobre 2026"
    assert format_month(date(2026, 2, 1)) == "février 2026"
    assert format_period("2026-S1") == "1er semestre 2026"
    # Codes and periods kept as text in a French Excel; anything odd is formula-safe instead.
    assert csv_text("01") == '="01"'
    assert csv_text("octobre 2026") == '="octobre 2026"'
    assert csv_text('=HYPERLINK("x")') == '\'=HYPERLINK("x")'


# --- Pilots directory -------------------------------------------------------------------------

EXAMPLE = get_settings().home / "include" / "config" / "pilots.example.csv"


def test_shipped_pilots_example_covers_all_101_departements():
    pilots = read_pilots(EXAMPLE)
    departements = {p.perimetre for p in pilots} - {"national"}
    assert len(departements) == 101 == len(DEPARTEMENTS)
    assert {"01", "2A", "2B", "95", "971", "976"} <= departements
    assert "20" not in departements and "975" not in departements
    assert sum(p.perimetre == "national" for p in pilots) == 2
    assert all(p.email.endswith("@pilotes.example") for p in pilots)
    roles = {(p.perimetre, p.role) for p in pilots}
    assert ("93", "préfet délégué pour l'égalité des chances") in roles
    assert ("48", "sous-préfet chargé de la politique de la ville") in roles
    assert ("971", "sous-préfet à la cohésion sociale et à la jeunesse") in roles


def test_shipped_pilots_example_is_what_the_script_builds(tmp_path):
    script = EXAMPLE.with_name("build_pilots_example.py")
    spec = importlib.util.spec_from_file_location("build_pilots_example", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.build(tmp_path / "p.csv").read_bytes() == EXAMPLE.read_bytes()


def test_read_pilots_is_tolerant(tmp_path):
    path = tmp_path / "pilots.csv"
    text = (
        "Périmètre,Rôle,E-mail\n"
        "National,copil,Copil@Pilotes.example\n"
        "1,spv,spv-01@pilotes.example\n"
        "2a,spv,spv-2a@pilotes.example\n"
        '="093",pdec,pdec-93@pilotes.example\n'
        ",,\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    assert read_pilots(path) == [
        Pilot("national", "copil", "copil@pilotes.example"),
        Pilot("01", "spv", "spv-01@pilotes.example"),
        Pilot("2A", "spv", "spv-2a@pilotes.example"),
        Pilot("93", "pdec", "pdec-93@pilotes.example"),
    ]


def test_read_pilots_names_file_row_and_reason(tmp_path):
    path = tmp_path / "pilots.csv"
    path.write_text(
        "perimetre;role;email\n"
        "93;spv;spv-93@pilotes.example\n"
        "93;spv;spv-93@pilotes\n"
        "20;spv;spv-20@pilotes.example\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError) as caught:
        read_pilots(path)
    message = str(caught.value)
    assert str(path) in message
    assert "row 3: invalid e-mail address 'spv-93@pilotes'" in message
    assert "row 4: unknown perimetre '20'" in message


def test_a_departement_message_links_to_its_own_page_when_the_pages_have_an_address(
    pilots, monkeypatch
):
    """With VIGIE_PUBLIC_URL, a pilot goes from the e-mail to the département's page in one
    click, and to no other département's page; without it, no link (never a wrong one)."""
    from vigie.settings import get_settings

    assert (
        "/vigie/departement/"
        not in parts(
            {
                str(m["To"]): m
                for m in build_weekly_emails(WEEK, ROWS, pilots, SENDER, generated_at=AT)
            }["sud@pilotes.example"]
        )["html"]
    )
    monkeypatch.setenv("VIGIE_PUBLIC_URL", "https://airflow.example.gouv.fr/vigie")
    get_settings.cache_clear()
    try:
        built = build_weekly_emails(WEEK, ROWS, pilots, SENDER, generated_at=AT)
    finally:
        monkeypatch.delenv("VIGIE_PUBLIC_URL")
        get_settings.cache_clear()
    p = parts({str(m["To"]): m for m in built}["sud@pilotes.example"])
    base = "https://airflow.example.gouv.fr/vigie/departement/"
    for kind in ("text", "html"):
        linked = set(re.findall(re.escape(base) + r"(\w+)", p[kind]))
        assert linked == {"48", "2A"}, kind
