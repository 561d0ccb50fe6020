"""What ``make bench`` says of the warehouse DAG's week: figures from its runs, the verdict.

Why: the runs behind these rows take minutes under a real scheduler (bench/bench_warehouse.py,
checked by hand at a small scale); the arithmetic and the wording of the report are checked
here, on the shape ``airflow_refresh`` returns, so that a wrong ratio or a missing "dbt did not
run" cannot hide in a bench run nobody reads closely.
"""

from __future__ import annotations

from typing import Any

from bench import run as bench
from bench.bench_warehouse import week_rows


def _run(seconds: float, mode: str, dbt_ran: bool, states: dict[str, int]) -> dict[str, Any]:
    return {
        "state": "success",
        "run_s": seconds,
        "wall_s": seconds + 1,
        "peak_mem_mb": 900,
        "profile": {"tasks": sum(states.values()), "states": states},
        "plan": {"mode": mode, "reason": "why", "changed": [], "dbt_ran": dbt_ran},
    }


def _result() -> dict[str, Any]:
    return {
        "state": "success",
        "run_s": 20.0,  # the full refresh under the scheduler
        "week": {
            "new_week": _run(8.0, "changed", True, {"success": 16, "skipped": 26}),
            "no_new_file": _run(3.0, "nothing", False, {"success": 1, "skipped": 41}),
            "landed": {"prefecture_files": 3, "association_files": 5, "ingest_s": 2.0},
        },
    }


def test_the_weeks_rows_compare_each_run_with_the_full_refresh_and_say_if_dbt_ran() -> None:
    week, nothing = week_rows(_result(), "duckdb", "x10", full_ingest_s=180.0)
    assert week["ratio"] == 0.4 and week["baseline_s"] == 20.0 and week["dbt_ran"] is True
    # The weekly flow through the DAG: its loads and run against the whole loads and a full run.
    assert week["flow_ratio"] == round((2.0 + 8.0) / (180.0 + 20.0), 3)
    assert "new files: 3 prefecture, 5 association" in week["note"]
    assert nothing["time_s"] == 3.0 and nothing["dbt_ran"] is False
    assert nothing["note"].startswith("dbt did not run: nothing")
    assert "flow_ratio" not in week_rows(_result(), "duckdb", "x10", None)[0]


def test_the_summary_judges_the_dag_week_at_x10_and_reports_the_run_without_dbt() -> None:
    rows = [
        {**r, "status": "ok"} for r in week_rows(_result(), "duckdb", "x10", full_ingest_s=180.0)
    ]
    lines = bench._dag_week_lines(rows)
    assert lines[0] == (
        "- warehouse DAG at x10, duckdb, one new week: 8.0 s, 40.0% of a full-refresh run; "
        "with its loads 5.0% of the whole loads + full refresh, target < 10 %: met"
    )
    assert lines[1] == (
        "- warehouse DAG at x10, duckdb, no new file: 3.0 s (dbt did not run; 15.0% of a "
        "full-refresh run)"
    )
    national = [{**r, "scale": "national"} for r in rows]
    assert "target" not in bench._dag_week_lines(national)[0]
