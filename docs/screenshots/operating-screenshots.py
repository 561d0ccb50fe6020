"""The README's pictures of an operator's bad day: a quarantined prefecture file and the police
API down, as the Airflow UI shows the runs (headless Chromium).

    uv run python docs/screenshots/operating-screenshots.py [OUT_DIR]

Runs ``ingest_prefecture_exports`` on the demo's sample plus a file whose amounts are all
negative, then ``ingest_police_population`` with nothing listening where the API should be and a
CSV in the fallback folder, each through ``airflow dags test`` in a scratch Airflow home and
warehouse; then serves that home's UI (every visitor an admin, local only) and photographs each
run's grid and the red task's log.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
OUT = Path(sys.argv[1]) if len(sys.argv) > 1 else PROJECT / "docs" / "screenshots"


RUN_DAGS = """
import json, sys
from vigie.settings import apply_airflow_env
apply_airflow_env()
from airflow.dag_processing.dagbag import DagBag
from vigie.demo.dag_runs import task_log_files

runs = {}
with task_log_files():
    bag = DagBag(dag_folder=sys.argv[1])
    for dag_id in ("ingest_prefecture_exports", "ingest_police_population"):
        runs[dag_id] = bag.get_dag(dag_id).test().run_id
print("RUNS " + json.dumps(runs))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    raise SystemExit("no Chromium: apt-get install chromium")


def write_landing(landing: Path) -> None:
    from vigie.demo import sample_police
    from vigie.demo.police_api_server import small_frame
    from vigie.demo.sample_prefectures import write_sample

    write_sample(landing, current_year=2026, departements=["93", "13"])
    # A copy of one of the sample's CSV files in the contract's own titles, every amount negative.
    good = next(
        path
        for path in sorted((landing / "prefectures").rglob("fipd_*.csv"))
        if "montant_attribue" in path.read_bytes().split(b"\n", 1)[0].decode("utf-8", "replace")
    )
    lines = good.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(";")
    amount = header.index("montant_attribue")
    broken = [lines[0]]
    for line in lines[1:]:
        cells = line.split(";")
        cells[amount] = "-" + cells[amount]
        broken.append(";".join(cells))
    good.with_name(good.stem + "_bis.csv").write_text("\n".join(broken) + "\n", encoding="utf-8")
    sample_police.write_police_csv(str(landing), small_frame())


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="vigie-operating-"))
    home = work / "airflow"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("VIGIE_", "AIRFLOW"))},
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "VIGIE_LANDING_URL": str(work / "landing"),
        "VIGIE_WAREHOUSE_URL": f"duckdb:///{work / 'warehouse.duckdb'}",
        "VIGIE_OUTBOX_DIR": str(work / "outbox"),
        "VIGIE_RETRY_DELAY_SECONDS": "0",
        # Nothing listens there: the API is down.
        "AIRFLOW_CONN_VIGIE_POLICE_API": f"http://:token@127.0.0.1:{free_port()}?max_retries=0",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
    }
    write_landing(work / "landing")
    vigie = [sys.executable, "-m", "vigie.cli", "airflow"]
    subprocess.run([*vigie, "db", "migrate"], env=env, cwd=PROJECT, check=True)
    # dag.test() with each task's log in its file, where the UI reads it (as `vigie run` does).
    listed = subprocess.run(
        [sys.executable, "-c", RUN_DAGS, str(PROJECT / "dags")],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )
    (line,) = [x for x in listed.stdout.splitlines() if x.startswith("RUNS ")]
    runs = json.loads(line.removeprefix("RUNS "))
    port = free_port()
    server = subprocess.Popen(
        [*vigie, "api-server", "--port", str(port)],
        env=env,
        cwd=PROJECT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=2)
                break
            except OSError:
                time.sleep(1)
        pages = {
            "operating-quarantine-run": f"/dags/ingest_prefecture_exports/runs/"
            f"{runs['ingest_prefecture_exports']}",
            "operating-quarantine-task": f"/dags/ingest_prefecture_exports/runs/"
            f"{runs['ingest_prefecture_exports']}/tasks/report_quarantine",
            "operating-api-down-run": f"/dags/ingest_police_population/runs/"
            f"{runs['ingest_police_population']}",
            "operating-api-down-task": f"/dags/ingest_police_population/runs/"
            f"{runs['ingest_police_population']}/tasks/fetch_api",
        }
        profile = work / "chromium"
        for name, path in pages.items():
            url = base + urllib.request.quote(path, safe="/:+")
            subprocess.run(
                [
                    chromium(),
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    f"--user-data-dir={profile}",
                    # Task pages taller: the log's lines above Airflow's traceback show too.
                    "--window-size=1400," + ("1500" if name.endswith("-task") else "900"),
                    "--virtual-time-budget=20000",
                    f"--screenshot={OUT / (name + '.png')}",
                    url,
                ],
                check=True,
                capture_output=True,
                timeout=120,
            )
            print(OUT / (name + ".png"))
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=60)
    notices = sorted((work / "outbox").rglob("*.eml"))
    print("engineers' notices:", *notices, sep="\n  ")
    print("work folder:", work)


if __name__ == "__main__":
    main()
