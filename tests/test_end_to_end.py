"""The whole thin flow on generated data, checked against figures computed here from the files.

The first test drives the real path an operator uses (`vigie run`: every DAG through Airflow's
``dag.test()``, dbt through Cosmos); the second runs the same steps on PostgreSQL without
Airflow, so both engines are shown to agree with an independent computation.
"""

from __future__ import annotations

import csv
import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
from vigie import cli, tasks
from vigie.alerts import checks
from vigie.demo.local_cluster import AirflowApi, free_port, stop_process_tree
from vigie.demo.sample_prefectures import SampleSummary, shape_of, write_sample
from vigie.warehouse.connection import Warehouse

from tests.conftest import PROJECT, make_settings

YEAR = date.today().year
# Dense and sparse, metropolitan, Corsica and overseas, with known below-target ones.
# Consecutive ranks (01-03, 06-07) make every shape appear whatever the year.
DEPARTEMENTS = ["01", "02", "03", "06", "07", "13", "2A", "45", "48", "59", "75", "93", "974"]


def _amount(text: str) -> float:
    cleaned = text.replace("€", "").replace("\u00a0", "").replace("\u202f", "").replace(" ", "")
    return float(cleaned.replace(",", ".")) if cleaned else 0.0


# Column names, programme D and vidéoprotection as each CSV shape of the sample writes them.
SHAPE_CSV = {
    1: (
        "utf-8",
        ";",
        ("programme", "nature", "montant_attribue", "codes_qpv", "zsp"),
        "D",
        "videoprotection",
    ),
    2: (
        "cp1252",
        ";",
        ("Programme", "Nature", "Montant attribué", "QPV", "ZSP"),
        "Prévention de la délinquance",
        "Vidéo-protection",
    ),
    3: (
        "utf-8-sig",
        ",",
        ("axe", "type_action", "montant", "quartiers", "code_zsp"),
        "D",
        "videoprotection",
    ),
}


def independent_share(path: Path, shape: int) -> float:
    """Located share of a CSV of the sample, computed naively with the csv module."""
    encoding, delimiter, names, prevention, video = SHAPE_CSV[shape]
    programme, nature, amount, qpv, zsp = names
    text = path.read_bytes().decode(encoding)
    scope = located = 0.0
    for row in csv.DictReader(text.splitlines(), delimiter=delimiter):
        if row[programme] != prevention or row[nature] == video:
            continue
        scope += _amount(row[amount])
        if row[qpv].strip() or row[zsp].strip():
            located += _amount(row[amount])
    return located / scope


def _pick_checked(summary: SampleSummary) -> dict[str, tuple[Path, int]]:
    """Two clean départements (no rejected rows) whose files this year have different shapes."""
    picked: dict[str, tuple[Path, int]] = {}
    for dep in DEPARTEMENTS:
        shape = shape_of(dep, YEAR)
        if dep not in summary.clean_departements or shape not in SHAPE_CSV:
            continue
        if shape in {s for _, s in picked.values()}:
            continue
        path = next(f for f in summary.files if f.name.startswith(f"fipd_{dep}_{YEAR}."))
        picked[dep] = (path, shape)
    assert len(picked) >= 2, picked
    return picked


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[SampleSummary, dict[str, float]]:
    out = tmp_path_factory.mktemp("sample") / "landing"
    summary = write_sample(out, current_year=YEAR, departements=DEPARTEMENTS)
    expected = {dep: independent_share(*found) for dep, found in _pick_checked(summary).items()}
    return summary, expected


def _copy_landing(summary: SampleSummary, target: Path) -> None:
    for path in summary.files:
        dest = target / path.relative_to(summary.out_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(path.read_bytes())
        stat = path.stat()
        os.utime(dest, (stat.st_atime, stat.st_mtime))


@contextmanager
def airflow_standalone(env: dict[str, str]) -> Iterator[str]:
    """What `make up` starts, on a free port; stopped the way its children need (group signal)."""
    port = free_port()
    log = open(Path(env["AIRFLOW_HOME"]) / "standalone.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "vigie.cli", "airflow", "standalone"],
        cwd=PROJECT,
        env={**env, "AIRFLOW__API__PORT": str(port)},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=2)
                break
            except OSError:
                assert process.poll() is None, "airflow standalone exited"
                time.sleep(1)
        else:
            pytest.fail("the Airflow API server did not answer within 120 s")
        yield base
    finally:
        # SIGINT: standalone stops its children only then; the whole tree, collected first.
        stop_process_tree(process, signal.SIGINT)
        log.close()


@pytest.mark.slow
def test_vigie_run_through_airflow_reports_the_right_shares(sample, tmp_path: Path) -> None:
    summary, expected = sample
    _copy_landing(summary, tmp_path / "landing")
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIGIE_", "AIRFLOW"))},
        "VIGIE_LANDING_URL": str(tmp_path / "landing"),
        "VIGIE_WAREHOUSE_URL": f"duckdb:///{tmp_path / 'warehouse.duckdb'}",
        "VIGIE_OUTBOX_DIR": str(tmp_path / "outbox"),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "vigie.cli", "run", "--serve-sample-api"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for dag_id in cli.PIPELINE:
        assert f"{dag_id}: " in out and "success" in out.split(f"{dag_id}: ")[1][:40]

    settings = make_settings(tmp_path)
    rows = {
        (r["code_departement"], r["annee"]): r for r in tasks.priority_share_rows([YEAR], settings)
    }
    for dep, share in expected.items():
        assert rows[(dep, YEAR)]["share_located"] == pytest.approx(share, abs=1e-9), dep
    below = sorted(d for (d, _), r in rows.items() if r["status"] == "below_target")
    assert below == sorted(summary.below_target[YEAR])
    for dep in summary.below_target[YEAR]:
        assert f" {dep} " in out, f"the summary names {dep} as below target"
    count = len(summary.below_target[YEAR])
    assert f"FIPD {YEAR}: national share" in out
    assert f"; {count} département(s) below the 75% target" in out

    # The police-population sample went through the real client: every month since 2017.
    with Warehouse(settings).transaction() as tx:
        months = tx.fetchall(
            "SELECT count(DISTINCT mois), count(DISTINCT code_departement), min(mois) "
            "FROM marts.police_population_monthly"
        )[0]
    assert months[0] >= 12 * (YEAR - 2017) and months[1] >= 100 and months[2].year == 2017
    assert "values via the API, 2017-01 to" in out

    # Every file archived, none left behind; the pilots' e-mails are in the outbox.
    assert not any((tmp_path / "landing").rglob("*.*"))
    assert len(list((tmp_path / "archive").rglob("*.*"))) == len(summary.files)
    emails = list((tmp_path / "outbox").rglob("*.eml"))
    assert emails
    for path in emails:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert message["To"] and message.get_body(("plain",)) is not None
    recipients = {email.message_from_bytes(p.read_bytes())["To"] for p in emails}
    assert any("copil" in r for r in recipients)
    assert any(r.endswith("-93@pilotes.example") for r in recipients)

    # What `make up` shows a data engineer: the DAGs and the runs just made.
    with airflow_standalone(env) as base:
        passwords = Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
        api = AirflowApi(base, "admin", json.loads(passwords.read_text())["admin"])
        dags = api.dag_ids()
        runs = api.call("GET", "/api/v2/dags/~/dagRuns")["dag_runs"]
    assert dags == {path.stem for path in (PROJECT / "dags").glob("*.py")}
    assert {(r["dag_id"], r["state"]) for r in runs} == {(d, "success") for d in cli.PIPELINE}


@pytest.mark.postgres
def test_same_flow_on_postgresql_gives_the_same_shares(sample, pg_url: str, tmp_path: Path) -> None:
    summary, expected = sample
    _copy_landing(summary, tmp_path / "landing")
    settings = make_settings(tmp_path, VIGIE_WAREHOUSE_URL=pg_url)
    tasks.refresh_reference(settings)
    reports = tasks.ingest_prefectures("e2e", settings)
    assert {r["status"] for r in reports} <= {"loaded", "loaded_with_rejects"}
    tasks.build_warehouse(settings)
    rows = {
        (r["code_departement"], r["annee"]): r for r in tasks.priority_share_rows([YEAR], settings)
    }
    for dep, share in expected.items():
        assert rows[(dep, YEAR)]["share_located"] == pytest.approx(share, abs=1e-9), dep
    assert sorted(d for (d, _), r in rows.items() if r["status"] == "below_target") == sorted(
        summary.below_target[YEAR]
    )
    assert rows[("48", YEAR)]["status"] == "no_data"  # Lozère: nothing in scope, never "ok"
    alerts = checks.evaluate(date(YEAR, 11, 23), settings)
    fired = alerts[(alerts.check_name == "fipd_share_below_target") & (alerts.status == "alert")]
    assert sorted(fired[fired.period == str(YEAR)].territory_code) == sorted(
        summary.below_target[YEAR]
    )
    report = tasks.send_weekly_emails(date(YEAR, 11, 23), settings)
    assert report["transport"] == "outbox" and report["outbox"]
    assert all(Path(p).exists() for p in report["outbox"])
