"""The HTML e-mails as a browser shows them: headless Chromium, on a phone and on a desktop.

Three things are checked in a real browser:

- the national digest and a département's e-mail (built from the crafted rows of
  test_alerts_content) render with their key figures, and their picture (map, chart) is on
  screen: the ``cid:`` reference resolved to the picture the message carries; screenshots are
  kept under ``test-artifacts/alerts_browser/`` (git-ignored) for a human to look at;
- every e-mail of a sample week (the bench's generator: France and 101 départements, every
  check, the shipped pilots directory: 121 e-mails) fits the screen at 390 px (a phone) and at
  1200 px (a desktop): ``document.documentElement.scrollWidth`` never exceeds the viewport, so
  nobody scrolls sideways. Each e-mail is laid out in an iframe of that width, all in one
  Chromium run per width (a run per e-mail would take minutes);
- the same week's HTML, parsed: every table header has a ``scope``, every data table a
  caption, every picture an alt text that says what it shows.

Skipped when Chromium is missing, unless VIGIE_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import os
import random
import shutil
import subprocess
from datetime import UTC, date, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest
from vigie.reference.pilots import DEPARTEMENTS, read_pilots
from vigie.settings import SOURCE_TREE_ROOT

from tests.test_alerts_content import PILOTS_CSV, build, parts

ARTIFACTS = SOURCE_TREE_ROOT / "test-artifacts" / "alerts_browser"
WIDTH = 1200
WIDTHS = (390, 1200)
PICTURE_VERMILLION = (0xD5, 0x5E, 0x00)  # below target, on the chart and the map only
SAMPLE_WEEK = date(2026, 11, 23)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("VIGIE_REQUIRE_BROWSER") == "1":
        pytest.fail("headless Chromium is required (VIGIE_REQUIRE_BROWSER=1) but not found")
    pytest.skip("no Chromium on PATH")


def _headless(browser: str, profile: Path, *args: str) -> list[str]:
    return [
        browser,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]


class _Text(HTMLParser):
    """The text a reader sees: every text node, entities decoded, scripts and styles aside."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style", "title")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style", "title")

    def handle_data(self, data):
        if not self._skip:
            self.chunks.append(data)

    def text(self) -> str:
        joined = " ".join(self.chunks).replace("\u202f", " ").replace("\u00a0", " ")
        return " ".join(joined.split())


def page_with_pictures(message: EmailMessage) -> str:
    """The HTML part with its ``cid:`` picture inlined as a data URI (one self-contained page)."""
    p = parts(message)
    uri = "data:image/png;base64," + base64.b64encode(p["png"]).decode("ascii")
    assert f"cid:{p['cid']}" in p["html"]
    return p["html"].replace(f"cid:{p['cid']}", uri)


def _write_page(message, name: str) -> Path:
    """The HTML part as a file, its ``cid:`` image resolved to the PNG written beside it."""
    p = parts(message)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chart = ARTIFACTS / f"{name}-chart.png"
    chart.write_bytes(p["png"])
    assert f"cid:{p['cid']}" in p["html"]
    page = ARTIFACTS / f"{name}.html"
    page.write_text(p["html"].replace(f"cid:{p['cid']}", chart.name), encoding="utf-8")
    return page


def _picture_pixels(png: Path) -> int:
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        return sum(
            count
            for count, colour in rgb.getcolors(maxcolors=1 << 22)
            if all(abs(a - b) <= 10 for a, b in zip(colour, PICTURE_VERMILLION, strict=True))
        )


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, tuple[str, Path]]:
    """Both pages through Chromium at once (two processes): (page text, screenshot) each."""
    browser = _chromium()
    path = tmp_path_factory.mktemp("config") / "pilots.csv"
    path.write_text(PILOTS_CSV, encoding="utf-8")
    pilots = [
        p
        for p in read_pilots(path)
        if p.email in ("copil@pilotes.example", "spv-93@pilotes.example")
    ]
    messages = {str(m["To"]): m for m in build(pilots)}
    jobs = {}
    pages = (
        ("national", "copil@pilotes.example", 4200),
        ("departement-93", "spv-93@pilotes.example", 3000),
    )
    for name, recipient, height in pages:
        page = _write_page(messages[recipient], name)
        shot = ARTIFACTS / f"{name}.png"
        shot.unlink(missing_ok=True)
        command = _headless(
            browser,
            tmp_path_factory.mktemp("chromium"),
            f"--window-size={WIDTH},{height}",
            f"--screenshot={shot}",
            "--dump-dom",
            page.as_uri(),
        )
        jobs[name] = (
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
            shot,
        )
    out = {}
    for name, (process, shot) in jobs.items():
        dom, errors = process.communicate(timeout=90)
        assert process.returncode == 0, errors[-2000:]
        parser = _Text()
        parser.feed(dom)
        out[name] = (parser.text(), shot)
        print(f"\nChromium screenshot of the {name} e-mail: {shot}")
    return out


def test_the_national_digest_renders_with_its_key_figures(rendered):
    text, shot = rendered["national"]
    for figure in (
        "À retenir cette semaine",
        "Ce qui est attendu",
        "synthèse hebdomadaire des contrôles",
        "72,4 %",  # France, current year, rounded half up
        "81 480 €",  # Seine-Saint-Denis' gap, the worst
        "10 300 €",
        "Seine-Saint-Denis (93)",
        "Bouches-du-Rhône (13)",
        "Nouvelles alertes (3)",
        "Alertes levées ou à vérifier (4)",
        "Export FIPD 75 : aucun export FIPD 2026 reçu.",
        "délégués à la cohésion police-population 2 → 1",
        "Contrat de ville de Plaine Commune (93)",
        "sous la cible de 75 % : 2",  # the map's key, in words
    ):
        assert figure in text, figure
    assert text.index("81 480 €") < text.index("10 300 €")  # worst first, on screen too
    assert text.index("À retenir") < text.index("Ce qui est attendu") < text.index("En bref")
    _assert_screenshot(shot, 4200)


def test_a_departement_email_renders_with_only_its_figures(rendered):
    text, shot = rendered["departement-93"]
    for figure in (
        "Seine-Saint-Denis (93)",
        "68,4 %",
        "70,5 %",
        "81 480 €",
        "1 234 567 €",
        "D-93-2",
        "Association Horizon 93",
        "90 000 €",
        "signalements à la plateforme IGPN/IGGN 100 → 80",
        "Pourquoi ces indicateurs comptent",
        "Légende : sous la cible",  # the key names what the chart draws
    ):
        assert figure in text, figure
    for other in ("Bouches-du-Rhône", "Rhône (69)", "Lozère", "72,5 %", "Marseille Nord"):
        assert other not in text, other
    _assert_screenshot(shot, 3000)


def _assert_screenshot(shot: Path, height: int) -> None:
    from PIL import Image

    assert shot.exists(), f"Chromium wrote no screenshot at {shot}"
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (WIDTH, height)
    assert _picture_pixels(shot) > 1000, "the picture's vermillion is not on screen: not loaded?"


# --- Every e-mail of a sample week, on a phone and on a desktop --------------------------------


def _bench_module():
    path = SOURCE_TREE_ROOT / "bench" / "bench_alerts.py"
    spec = importlib.util.spec_from_file_location("bench_alerts_sample", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def sample_week_messages(seed: int = 7) -> list[EmailMessage]:
    """The bench's realistic week, to the shipped pilots directory (121 e-mails)."""
    from vigie.alerts.render import build_weekly_emails

    bench = _bench_module()
    rng = random.Random(seed)
    shares = bench._share_rows(rng, DEPARTEMENTS)
    current = bench._alert_rows(rng, SAMPLE_WEEK, shares, DEPARTEMENTS)
    previous = bench._alert_rows(rng, SAMPLE_WEEK.replace(day=16), shares, DEPARTEMENTS)
    pilots = read_pilots(SOURCE_TREE_ROOT / "include" / "config" / "pilots.example.csv")
    return build_weekly_emails(
        SAMPLE_WEEK,
        shares,
        pilots,
        "vigie-noreply@example.gouv.fr",
        alert_rows=current,
        previous_alert_rows=previous,
        generated_at=datetime(2026, 11, 23, 6, tzinfo=UTC),
    )


@pytest.fixture(scope="module")
def sample_week() -> list[EmailMessage]:
    return sample_week_messages()


_HARNESS_SCRIPT = """
window.addEventListener('load', function () {
  var out = [];
  document.querySelectorAll('iframe').forEach(function (frame) {
    var root = frame.contentDocument.documentElement;
    out.push({to: frame.dataset.to, scroll: root.scrollWidth, client: root.clientWidth});
  });
  document.getElementById('widths').textContent = JSON.stringify(out);
});
"""


def _widths_in_browser(messages: list[EmailMessage], width: int, folder: Path) -> list[dict]:
    """Each message laid out in an iframe ``width`` px wide; its document's widths, measured."""
    browser = _chromium()
    frames = [
        f'<iframe data-to="{html.escape(str(m["To"]))}" scrolling="no" '
        f'style="display:block;width:{width}px;height:2000px;border:0" '
        f'srcdoc="{html.escape(page_with_pictures(m), quote=True)}"></iframe>'
        for m in messages
    ]
    harness = folder / f"harness-{width}.html"
    harness.write_text(
        "<!DOCTYPE html><html><body style='margin:0'>"
        + "".join(frames)
        + f"<pre id='widths'></pre><script>{_HARNESS_SCRIPT}</script></body></html>",
        encoding="utf-8",
    )
    command = _headless(
        browser,
        folder / f"profile-{width}",
        "--virtual-time-budget=20000",
        "--dump-dom",
        harness.as_uri(),
    )
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    start = done.stdout.index('<pre id="widths">') + len('<pre id="widths">')
    return json.loads(html.unescape(done.stdout[start : done.stdout.index("</pre>", start)]))


@pytest.mark.parametrize("width", WIDTHS)
def test_every_email_of_a_sample_week_fits_the_screen(sample_week, width, tmp_path):
    assert len(sample_week) == 121  # 2 national digests, 119 département e-mails
    measured = _widths_in_browser(sample_week, width, tmp_path)
    assert len(measured) == len(sample_week)
    assert all(m["client"] == width for m in measured)
    too_wide = {m["to"]: m["scroll"] for m in measured if m["scroll"] > width}
    assert not too_wide, f"wider than {width} px: {too_wide}"


class _Structure(HTMLParser):
    """Table headers without scope, data tables without caption, pictures and their alt."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.th_without_scope = 0
        self.tables = 0
        self.captions = 0
        self.alts: list[str] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if tag == "th" and found.get("scope") not in ("col", "row"):
            self.th_without_scope += 1
        if tag == "table" and "vg-data" in (found.get("class") or ""):
            self.tables += 1
        if tag == "caption":
            self.captions += 1
        if tag == "img":
            self.alts.append(found.get("alt") or "")


def test_headers_captions_and_alt_texts(sample_week):
    for message in sample_week:
        structure = _Structure()
        structure.feed(parts(message)["html"])
        recipient = str(message["To"])
        assert structure.th_without_scope == 0, recipient
        assert structure.tables and structure.captions == structure.tables, recipient
        (alt,) = structure.alts
        if message["X-Vigie-Perimetre"] == "national":
            assert alt.startswith("Carte de France des départements colorés selon leur part")
            assert "sous la cible" in alt
        else:
            assert alt.startswith("Graphique en barres de la part prioritaire FIPD")
            assert "cible de 75" in alt
