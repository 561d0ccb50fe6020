"""The warehouse DAG's per-model tasks: what they report, from real dbt events.

The decision table is pure (:func:`vigie.orchestration.cosmos_watcher_trigger.decide`); the status
board is fed by dbt's own runner on a real warehouse, once with good data and once with a row a test
rejects. The whole DAG under a real scheduler: tests/test_warehouse_watcher.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.triggers.base import TaskFailedEvent, TaskSkippedEvent, TaskSuccessEvent
from vigie.orchestration.cosmos_watcher import NodeStatusBoard, _without_resource_types
from vigie.orchestration.cosmos_watcher_trigger import BuildSnapshot, decide
from vigie.settings import SOURCE_TREE_ROOT

from tests.conftest import make_settings

MODEL = "model.vigie.stg_reference__departements"
OTHER = "model.vigie.dim_departement"


def _snapshot(state: str | None = "running", **nodes: str) -> BuildSnapshot:
    return BuildSnapshot(producer_state=state, nodes=nodes)


@pytest.mark.parametrize(
    ("snapshot", "tests", "expected"),
    [
        (_snapshot(), 0, None),  # dbt has not got there yet
        (BuildSnapshot("running", {MODEL: "success"}), 0, TaskSuccessEvent),
        (BuildSnapshot("running", {MODEL: "success"}), 3, None),  # its tests still running
        (BuildSnapshot("running", {MODEL: "success"}, {MODEL: "pass"}), 3, TaskSuccessEvent),
        (BuildSnapshot("running", {MODEL: "success"}, {MODEL: "fail"}), 3, TaskFailedEvent),
        (BuildSnapshot("running", {MODEL: "error"}), 3, TaskFailedEvent),
        (BuildSnapshot("running", {MODEL: "skipped"}), 3, TaskSkippedEvent),
        # The build ended without reaching the model: it failed elsewhere first, or did not run it.
        (_snapshot("failed"), 0, TaskFailedEvent),
        (_snapshot("success"), 0, TaskSkippedEvent),
    ],
)
def test_a_model_task_ends_as_dbt_reported_its_model_and_tests(
    snapshot: BuildSnapshot, tests: int, expected: type | None
) -> None:
    event = decide(snapshot, MODEL, tests, is_test_sensor=False, try_number=1)
    assert (type(event) if event else None) is expected


def test_a_cleared_task_waits_for_the_producer_then_reruns_its_model_on_a_worker() -> None:
    done = BuildSnapshot("success", {MODEL: "success"}, {MODEL: "pass"})
    assert decide(_snapshot("running"), MODEL, 0, False, try_number=2) is None
    event = decide(done, MODEL, 3, False, try_number=2)
    # A plain event (not a task-end one): the task resumes on a worker, where Cosmos's
    # execute_complete re-runs the model (its documented fallback).
    assert type(event).__name__ == "TriggerEvent"
    assert event.payload == {"status": "failed", "reason": "producer_skipped"}


def test_a_skipped_producer_hands_the_model_to_a_worker() -> None:
    event = decide(_snapshot("skipped"), MODEL, 0, False, try_number=1)
    assert event.payload["reason"] == "producer_skipped"


@pytest.mark.parametrize("state", ["running", "success", "failed"])
def test_a_model_the_build_left_out_is_skipped_at_once_whatever_the_build_does(state) -> None:
    """The producer builds only what changed and publishes the models it selected: the others'
    tasks end skipped, neither waiting for the build nor failing with it."""
    left_out = BuildSnapshot(state, {OTHER: "error"}, selected=frozenset({OTHER}))
    assert isinstance(decide(left_out, MODEL, 3, False, try_number=1), TaskSkippedEvent)
    nothing = BuildSnapshot(state, selected=frozenset())
    assert isinstance(decide(nothing, MODEL, 0, False, try_number=1), TaskSkippedEvent)


def test_a_selected_model_still_waits_for_dbt_and_a_cleared_one_still_reruns() -> None:
    running = BuildSnapshot("running", {MODEL: "success"}, selected=frozenset({MODEL}))
    assert decide(running, MODEL, 3, False, try_number=1) is None  # its tests still running
    failed = BuildSnapshot("failed", {}, selected=frozenset({MODEL}))
    assert isinstance(decide(failed, MODEL, 0, False, try_number=1), TaskFailedEvent)
    cleared = BuildSnapshot("success", selected=frozenset())
    event = decide(cleared, MODEL, 0, False, try_number=2)
    assert event is not None and event.payload["reason"] == "producer_skipped"


def test_the_board_publishes_the_builds_selection_only_when_there_is_one() -> None:
    assert "selected" not in NodeStatusBoard({}).snapshot()
    board = NodeStatusBoard({}, frozenset({OTHER, MODEL}), "changed build: changed: x")
    assert board.snapshot()["selected"] == sorted([MODEL, OTHER])
    assert board.snapshot()["plan"] == "changed build: changed: x"
    assert NodeStatusBoard({}, frozenset()).snapshot()["selected"] == []


def test_a_changed_source_selects_its_models_and_everything_downstream_only() -> None:
    from vigie.warehouse.build_selection import BuildPlan, SourceTable, selected_models

    manifest = SOURCE_TREE_ROOT / "dbt_project" / "target" / "manifest.json"
    reports = SourceTable("associations", "association_reports", "raw", "association_reports")
    plan = BuildPlan("changed", "changed: associations", "x", {}, (reports,))
    selected = selected_models(plan, manifest)
    assert selected is not None
    assert {
        "model.vigie.stg_associations__reports",
        "model.vigie.dim_structure",
        "model.vigie.association_activity",
    } <= selected
    assert "model.vigie.dim_departement" not in selected
    assert all(node.startswith("model.") for node in selected)
    assert selected_models(BuildPlan("full", "", "x", {}), manifest) is None
    assert selected_models(BuildPlan("nothing", "", "x", {}), manifest) == frozenset()


def test_cosmos_test_filters_are_dropped_from_the_producer_so_dbt_build_runs_the_tests() -> None:
    flags = ["--resource-type", "model", "--vars", "{}", "--resource-type", "seed"]
    assert _without_resource_types(flags) == ["--vars", "{}"]


def test_a_failed_unit_test_fails_its_model_instead_of_leaving_it_skipped() -> None:
    share = "model.vigie.fipd_priority_share"
    board = NodeStatusBoard({share: ["test.vigie.not_null_share"]})
    board.record("unit_test.vigie.fipd_priority_share.exactly_75_percent", "fail", "got 0.74")
    board.record(share, "skipped")
    board.record("test.vigie.not_null_share", "skipped")
    snapshot = board.snapshot()
    assert snapshot["nodes"][share] == "error"
    assert "exactly_75_percent failed: got 0.74" in snapshot["messages"][share]
    event = decide(
        BuildSnapshot("failed", snapshot["nodes"], snapshot["tests"], snapshot["messages"]),
        share,
        1,
        False,
        1,
    )
    assert isinstance(event, TaskFailedEvent)


@pytest.fixture(scope="module")
def loaded_warehouse(tmp_path_factory: pytest.TempPathFactory):
    """The tiny sample's reference and association reports in a DuckDB warehouse."""
    from vigie import tasks
    from vigie.demo.sample_associations import write_association_sample
    from vigie.ingest import association_loader

    tmp = tmp_path_factory.mktemp("board")
    settings = make_settings(tmp, VIGIE_GX_VALIDATE="false")
    write_association_sample(Path(settings.landing_url))
    tasks.refresh_reference(settings)
    association_loader.run("board", settings)
    return settings


def _board_after_build(settings, tests_per_model: dict[str, list[str]]) -> dict:
    """``dbt build`` of the association models with the board as dbt's event callback."""
    from dbt.cli.main import dbtRunner
    from vigie.warehouse.dbt_runner import dbt_environment

    board = NodeStatusBoard(tests_per_model)
    project = str(settings.dbt_project_dir)
    args = [
        "build",
        "--select",
        "stg_associations__reports",
        "stg_reference__departements",
        "--indirect-selection",
        "cautious",
        "--project-dir",
        project,
        "--profiles-dir",
        project,
        "--target",
        "duckdb",
        "--quiet",
    ]
    with dbt_environment(settings):
        dbtRunner(callbacks=[board.on_event]).invoke(args)
    return board.snapshot()


def _tests_per_model() -> dict[str, list[str]]:
    """What Cosmos hands the producer: each model's tests, from the project's manifest."""
    import json

    from vigie.settings import get_settings

    manifest = json.loads((get_settings().dbt_project_dir / "target" / "manifest.json").read_text())
    per_model: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test":
            for parent in node["depends_on"]["nodes"]:
                if parent.startswith("model."):
                    per_model.setdefault(parent, []).append(node["unique_id"])
    return per_model


def test_the_board_reports_each_model_and_its_tests_from_dbt_events(loaded_warehouse) -> None:
    reports = "model.vigie.stg_associations__reports"
    tests_per_model = _tests_per_model()
    snapshot = _board_after_build(loaded_warehouse, tests_per_model)
    assert snapshot["nodes"][reports] == "success"
    assert snapshot["tests"][reports] == "pass"
    # Every test dbt ran is on the board, each with its own status.
    assert all(
        snapshot["nodes"][t] == "pass" for t in tests_per_model[reports] if t in snapshot["nodes"]
    )
    assert not snapshot["messages"]


def test_a_rejected_row_fails_its_models_tests_with_dbts_message(loaded_warehouse) -> None:
    from vigie.warehouse.connection import Warehouse

    reports = "model.vigie.stg_associations__reports"
    with Warehouse(loaded_warehouse).transaction() as tx:
        first = "(SELECT min(source_row) FROM raw.association_reports)"
        tx.execute(
            f"UPDATE raw.association_reports SET reseau = 'Inconnu' WHERE source_row = {first}"
        )
    snapshot = _board_after_build(loaded_warehouse, _tests_per_model())
    assert snapshot["nodes"][reports] == "success"  # the view is built; a test rejects a row
    assert snapshot["tests"][reports] == "fail"
    assert "accepted_values" in next(t for t, s in snapshot["nodes"].items() if s == "fail")
    assert "Got 1 result" in snapshot["messages"][reports]
