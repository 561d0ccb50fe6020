"""The weekly build that runs only what changed gives the same marts as a full rebuild.

Why: ``build_warehouse(changed_only=True)`` skips every dbt node whose sources did not change
(vigie.warehouse.build_selection). If a mart depended on something the fingerprints miss, an analyst
would read stale figures with nothing to tell them; this compares every mart, row by row,
after a week of resends, corrections and a first police load, with a full build of the same
data, on both engines.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from vigie import tasks
from vigie.demo import sample_police
from vigie.demo.police_api_server import small_frame
from vigie.demo.sample_associations import write_association_sample
from vigie.demo.sample_prefectures import write_sample
from vigie.ingest import police_loader
from vigie.settings import Settings
from vigie.warehouse.connection import Warehouse

from tests.conftest import make_settings

YEAR = date.today().year
DEPARTEMENTS = ["93", "2A"]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> tuple[list[Path], list[Path], Path]:
    """A year of association reports: some for the first week, some (a correction) later."""
    root = tmp_path_factory.mktemp("associations")
    files = sorted(write_association_sample(root, year=YEAR).files)
    corrected = next(f for f in files if "_corrige" in f.name)
    original = next(f for f in files if f.name == corrected.name.replace("_corrige", ""))
    first = [f for f in files if "_corrige" not in f.name][:6]
    first = [*first, original] if original not in first else first
    later = [f for f in files if "_corrige" not in f.name and f not in first][:2]
    return first, [*later, corrected], root


def _copy(files: list[Path], root: Path, landing: Path) -> None:
    for path in files:
        target = landing / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)


def _ingest(settings: Settings, run_id: str) -> None:
    from vigie.contracts.validation import Context
    from vigie.ingest import association_loader as al
    from vigie.reference.geography import load_reference

    tasks.refresh_reference(settings)
    tasks.ingest_prefectures(run_id, settings)
    ctx = Context(load_reference(settings.reference_dir), settings.qpv_2024_from_year)
    al.ensure_schema(Warehouse(settings))
    al.ingest_reports(Warehouse(settings), settings.landing_url, ctx, run_id)


def _marts(settings: Settings) -> dict[str, pd.DataFrame]:
    """Every dbt mart, its rows as text in a canonical order."""
    with Warehouse(settings).transaction() as tx:
        tables = tx.fetchall(
            """
            SELECT table_name
            FROM information_schema.tables
            WHERE table_schema = 'marts' AND table_name <> 'weekly_alerts'
            ORDER BY table_name
            """
        )
        names = [n for (n,) in tables]
        frames = {name: tx.fetch_frame(f"SELECT * FROM marts.{name}") for name in names}
    out = {}
    for name, frame in frames.items():
        text = frame.astype(str)
        out[name] = text.sort_values(list(text.columns)).reset_index(drop=True)
    return out


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_a_week_built_incrementally_equals_a_full_rebuild(
    engine, reports, tmp_path, request, monkeypatch
) -> None:
    env = {"VIGIE_GX_VALIDATE": "false"}
    if engine == "postgres":
        env["VIGIE_WAREHOUSE_URL"] = request.getfixturevalue("pg_url")
    settings = make_settings(tmp_path, **env)
    monkeypatch.setenv("DBT_TARGET_PATH", str(tmp_path / "dbt_target"))
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path / "dbt_logs"))
    landing = Path(settings.landing_url)
    first, later, root = reports

    write_sample(landing, departements=DEPARTEMENTS, years=[YEAR - 1, YEAR])
    _copy(first, root, landing)
    _ingest(settings, "week-0")
    assert tasks.build_warehouse(settings)["mode"] == "full"
    assert tasks.build_warehouse(settings, changed_only=True)["mode"] == "nothing"

    # A week: one département resends this year's export, two reports and a correction
    # arrive, and the police indicators land for the first time (their raw table appears).
    resend = write_sample(landing, seed=99, departements=DEPARTEMENTS[:1], years=[YEAR])
    for path in resend.files:
        os.utime(path)  # arrived now: it supersedes the first export
    _copy(later, root, landing)
    _ingest(settings, "week-1")
    sample_police.write_police_csv(landing, small_frame())
    police_loader.run_csv("week-1", settings)

    plan = tasks.build_warehouse(settings, changed_only=True)
    assert plan["mode"] == "changed"
    assert not any(name.startswith("reference.") for name in plan["changed"])
    assert "police.police_population_indicators" in plan["changed"]
    incremental = _marts(settings)

    assert tasks.build_warehouse(settings)["mode"] == "full"
    rebuilt = _marts(settings)
    assert sorted(incremental) == sorted(rebuilt)
    for name, frame in rebuilt.items():
        pd.testing.assert_frame_equal(incremental[name], frame, obj=f"marts.{name}")
    assert len(rebuilt["police_population_monthly"]) > 0
    superseded = rebuilt["fct_fipd_action"]
    assert set(superseded["source_file_name"]) >= {p.name for p in resend.files}
