"""Regenerate the README's pictures of the weekly e-mails (``make screenshots``).

    uv run --frozen python docs/screenshots/email-screenshots.py

Builds the bench's sample week (France and 101 départements, every check, the shipped pilots
directory: ``bench/bench_alerts.py``), takes the national digest and the e-mail of the
département with the largest gap to the target, and has headless Chromium photograph each
page (its first 3 200 px) at 1200 px (a desktop) and 390 px (a phone) into
``docs/screenshots/email-*.png``.
Needs ``chromium`` on the PATH; writes nothing else.
"""

from __future__ import annotations

import base64
import email
import email.policy
import html
import importlib.util
import random
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
WEEK = date(2026, 11, 23)
WIDTHS = (1200, 390)
MAX_H = 3200


def _messages() -> list[EmailMessage]:
    from vigie.alerts.render import build_weekly_emails
    from vigie.reference.pilots import DEPARTEMENTS, read_pilots

    path = ROOT / "bench" / "bench_alerts.py"
    spec = importlib.util.spec_from_file_location("bench_alerts", path)
    assert spec and spec.loader
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rng = random.Random(7)
    shares = bench._share_rows(rng, DEPARTEMENTS)
    current = bench._alert_rows(rng, WEEK, shares, DEPARTEMENTS)
    previous = bench._alert_rows(rng, WEEK.replace(day=16), shares, DEPARTEMENTS)
    pilots = read_pilots(ROOT / "include" / "config" / "pilots.example.csv")
    return build_weekly_emails(
        WEEK,
        shares,
        pilots,
        "vigie-noreply@example.gouv.fr",
        alert_rows=current,
        previous_alert_rows=previous,
        generated_at=datetime(2026, 11, 23, 6, tzinfo=UTC),
    )


def _page(message: EmailMessage) -> str:
    """The HTML part, its ``cid:`` picture inlined (a data URI)."""
    parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    body = parsed.get_body(("html",))
    assert body is not None
    page = body.get_content()
    for part in parsed.walk():
        if part.get_content_type() == "image/png":
            cid = str(part["Content-ID"]).strip("<>")
            data = base64.b64encode(part.get_payload(decode=True)).decode("ascii")
            page = page.replace(f"cid:{cid}", f"data:image/png;base64,{data}")
    return page


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("headless Chromium is needed (chromium on the PATH)")


def _run(browser: str, profile: Path, *args: str) -> str:
    command = [
        browser,
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--hide-scrollbars",
        "--no-first-run",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, check=True, timeout=120).stdout


def _height(browser: str, profile: Path, page: str, width: int, folder: Path) -> int:
    """The page's height at ``width``: laid out in an iframe of that width, measured."""
    harness = folder / f"measure-{width}.html"
    harness.write_text(
        f'<iframe id="f" scrolling="no" style="width:{width}px;height:100px;border:0" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe><pre id="h"></pre><script>'
        "addEventListener('load',function(){document.getElementById('h').textContent="
        "document.getElementById('f').contentDocument.documentElement.scrollHeight;});"
        "</script>",
        encoding="utf-8",
    )
    dom = _run(browser, profile, "--virtual-time-budget=5000", "--dump-dom", harness.as_uri())
    match = re.search(r'<pre id="h">(\d+)</pre>', dom)
    assert match, "could not measure the page"
    return int(match[1])


def _shrink(png: Path) -> None:
    """256 colours are plenty for a screenshot of an e-mail: a third of the bytes in git."""
    from PIL import Image

    with Image.open(png) as image:
        palette = image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    palette.save(png, format="PNG", optimize=True)


def main() -> int:
    sys.path.insert(0, str(ROOT))
    messages = _messages()
    national = next(m for m in messages if m["X-Vigie-Perimetre"] == "national")
    below = [
        m for m in messages if m["X-Vigie-Perimetre"] != "national" and "cible" in m["Subject"]
    ]
    departement = below[0] if below else messages[-1]
    browser = _chromium()
    with tempfile.TemporaryDirectory(prefix="vigie-screenshots-") as tmp:
        folder = Path(tmp)
        for name, message in (("national", national), ("departement", departement)):
            page = _page(message)
            source = folder / f"{name}.html"
            source.write_text(page, encoding="utf-8")
            for width in WIDTHS:
                # The whole page, or its first screens (a digest lists many alerts).
                height = min(_height(browser, folder / "profile", page, width, folder), MAX_H)
                shot = HERE / f"email-{name}-{width}.png"
                _run(
                    browser,
                    folder / "profile",
                    f"--window-size={width},{height}",
                    f"--screenshot={shot}",
                    source.as_uri(),
                )
                _shrink(shot)
                print(f"{shot.relative_to(ROOT)}: {message['Subject']} ({width}x{height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
