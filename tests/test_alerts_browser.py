"""The HTML e-mails as a browser shows them: headless Chromium renders them to PNG.

The national digest and a département's e-mail (built from the crafted rows of
test_alerts_content) are written as HTML files with their inline chart resolved to a file
next to them, then Chromium takes a screenshot (kept under ``test-artifacts/alerts_browser/``,
git-ignored, for a human to look at) and dumps the DOM it rendered, whose text must carry the
key figures. The screenshot must show the chart (its red bars), which proves the ``cid:``
reference resolved to the picture the message carries.

Skipped when Chromium is missing, unless VIGIE_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from vigie.reference.pilots import read_pilots
from vigie.settings import SOURCE_TREE_ROOT

from tests.test_alerts_content import PILOTS_CSV, build, parts

ARTIFACTS = SOURCE_TREE_ROOT / "test-artifacts" / "alerts_browser"
WIDTH = 800
CHART_RED = (0xCE, 0x05, 0x00)  # chart.BELOW: only the chart's bars use it


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("VIGIE_REQUIRE_BROWSER") == "1":
        pytest.fail("headless Chromium is required (VIGIE_REQUIRE_BROWSER=1) but not found")
    pytest.skip("no Chromium on PATH")


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


def _red_pixels(png: Path) -> int:
    from PIL import Image

    with Image.open(png) as image:
        rgb = image.convert("RGB")
        return sum(
            count
            for count, colour in rgb.getcolors(maxcolors=1 << 20)
            if all(abs(a - b) <= 10 for a, b in zip(colour, CHART_RED, strict=True))
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
        ("national", "copil@pilotes.example", 3200),
        ("departement-93", "spv-93@pilotes.example", 2200),
    )
    for name, recipient, height in pages:
        page = _write_page(messages[recipient], name)
        shot = ARTIFACTS / f"{name}.png"
        shot.unlink(missing_ok=True)
        command = [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
            f"--window-size={WIDTH},{height}",
            f"--screenshot={shot}",
            "--dump-dom",
            page.as_uri(),
        ]
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
        "synthèse hebdomadaire des contrôles",
        "72,3 %",  # France, current year
        "81 480 €",  # Seine-Saint-Denis' gap, the worst
        "10 300 €",
        "Seine-Saint-Denis (93)",
        "Bouches-du-Rhône (13)",
        "Nouvelles alertes (3)",
        "Alertes levées ou à vérifier (4)",
        "Export FIPD 75 : aucun export FIPD 2026 reçu.",
        "délégués à la cohésion police-population 2 → 1",
        "Contrat de ville de Plaine Commune (93)",
    ):
        assert figure in text, figure
    assert text.index("81 480 €") < text.index("10 300 €")  # worst first, on screen too
    _assert_screenshot(shot, 3200)


def test_a_departement_email_renders_with_only_its_figures(rendered):
    text, shot = rendered["departement-93"]
    for figure in (
        "Seine-Saint-Denis (93)",
        "68,4 %",
        "70,4 %",
        "81 480 €",
        "1 234 567 €",
        "D-93-2",
        "Association Horizon 93",
        "90 000 €",
        "signalements à la plateforme IGPN/IGGN 100 → 80",
    ):
        assert figure in text, figure
    for other in ("Bouches-du-Rhône", "Rhône (69)", "Lozère", "72,5 %", "Marseille Nord"):
        assert other not in text, other
    _assert_screenshot(shot, 2200)


def _assert_screenshot(shot: Path, height: int) -> None:
    from PIL import Image

    assert shot.exists(), f"Chromium wrote no screenshot at {shot}"
    with Image.open(shot) as image:
        assert image.format == "PNG" and image.size == (WIDTH, height)
    assert _red_pixels(shot) > 500, "the chart's red bars are not on screen: image not loaded?"
