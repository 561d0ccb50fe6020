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
        [sys.executable, str(PROJECT / "bench" / "run.py"), "--scales", "tiny",
         "--stages", "prefectures,police", "--out", str(out), "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=240, cwd=PROJECT,
    )  # fmt: skip
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
