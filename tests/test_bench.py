"""``make bench``'s orchestrator end to end at the ``tiny`` scale, on two cheap stages.

Why: the benchmark runs for minutes and only on demand, so nothing else would notice it broke;
this runs the same code path (generation, one process per step, baselines, outputs) in seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

from tests.conftest import PROJECT


def test_bench_tiny_writes_json_markdown_and_plot(tmp_path) -> None:
    out = tmp_path / "results"
    result = subprocess.run(
        [
            sys.executable,
            str(PROJECT / "bench" / "run.py"),
            "--scales",
            "tiny",
            "--stages",
            "prefectures,police",
            "--out",
            str(out),
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=PROJECT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    stem = out / date.today().isoformat()
    found = json.loads(stem.with_suffix(".json").read_text())
    assert found["info"]["machine"]["cpu_count"] >= 1
    rows = {(r["stage"], r["variant"]): r for r in found["rows"]}
    for key in (("prefecture ingestion", "full"), ("police API fetch+load", "full")):
        measured = rows[key]
        assert measured["status"] == "ok", measured
        assert measured["scale"] == "tiny"
        assert measured["time_s"] > 0 and measured["baseline_s"] > 0
        assert measured["ratio"] > 0 and measured["rows_per_s"] > 0
        assert measured["rows"] > 0 and measured["peak_mem_mb"] > 0
    markdown = stem.with_suffix(".md").read_text()
    assert "| prefecture ingestion | full | duckdb | tiny |" in markdown
    assert "## Performance" in markdown
    assert stem.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_summary_judges_the_targets_where_the_issue_sets_them() -> None:
    """The incremental target is for x10 and the 20-minute one for the national+x10 run: a
    verdict elsewhere (a week at national is mostly fixed costs) would read as a failure."""
    from bench import run as bench

    def week(scale: str, ratio: float) -> dict:
        steps = {"dbt_build": {"time_s": 3.2}}
        return {
            "stage": "weekly flow",
            "variant": "incremental (one new week)",
            "scale": scale,
            "ratio": ratio,
            "status": "ok",
            "steps": steps,
        }

    machine = {"cpu_count": 2, "ram_gb": 23.5, "python": "3.11.7"}
    info = {
        "growth": {},
        "wall_s": 700,
        "scales": ["national", "x10"],
        "machine": machine,
        "date": "2026-12-01",
    }
    rows = [week("national", 0.33), week("x10", 0.089)]
    text = bench.summary(rows, info)
    lines = text.splitlines()
    assert (
        "- incremental weekly flow at national: 33.0% of the full refresh (largest step: "
        "dbt_build 3.2 s)" in lines
    )
    assert any(
        line.startswith(
            "- incremental weekly flow at x10: 8.9% of the full refresh, target < 10 %: met"
        )
        for line in lines
    )
    assert "- whole run: 11.7 min for scales national, x10 (target < 20 min: met)" in lines
    rows = [week("x10", 0.12)]
    text = bench.summary(rows, {**info, "wall_s": 1300, "scales": ["x100"]})
    assert "target < 10 %: MISSED" in text and "target < 20 min" not in text
