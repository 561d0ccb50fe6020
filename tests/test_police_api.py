"""The police-population API client against a real HTTP server on 127.0.0.1 (no mocks).

Each test drives the task function (``police_loader.run_api``, what the DAG's ``fetch_api``
task calls) and asserts both its report and what landed in a DuckDB warehouse.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from vigie.demo.police_api_server import Fault, PoliceApiServer, small_frame
from vigie.ingest import police_loader
from vigie.ingest.police_api import (
    ApiConfig,
    PoliceApiAuthError,
    PoliceApiError,
    PoliceApiShapeError,
    config_from_connection,
    incremental_window,
)
from vigie.warehouse.connection import Warehouse

from tests.conftest import make_settings

TOKEN = "s3cr3t-T0KEN-never-logged"
TODAY = date(2025, 5, 20)
PAGE = 50


@pytest.fixture
def frame() -> pd.DataFrame:
    return small_frame()  # 3 départements x 2 forces x 7 indicators x 4 months = 168 rows


@pytest.fixture
def server(frame: pd.DataFrame) -> Iterator[PoliceApiServer]:
    with PoliceApiServer(frame, token=TOKEN) as running:
        yield running


@pytest.fixture(params=["duckdb", "postgres"])
def settings(tmp_path: Path, request):
    """Both engines: the fetch is staged differently on each (Parquet files, a temp table)."""
    if request.param == "postgres":
        return make_settings(tmp_path, VIGIE_WAREHOUSE_URL=request.getfixturevalue("pg_url"))
    return make_settings(tmp_path)


def _staging_left(settings) -> list[Path]:
    """DuckDB's staging folders left beside the warehouse (PostgreSQL stages in a temp table
    dropped at commit, which no other connection can see)."""
    if settings.warehouse_kind != "duckdb":
        return []
    return list(settings.duckdb_path.parent.glob(".vigie-police-*"))


class Sleeps(list):
    """Records the waits instead of waiting: the tests stay fast, the policy is visible."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _config(server: PoliceApiServer, sleeps: Sleeps, **overrides) -> ApiConfig:
    token = overrides.pop("token", TOKEN)
    values = {"page_size": PAGE, "max_retries": 3, "backoff_base": 0.5, "sleep": sleeps}
    values.update(overrides)
    return ApiConfig(base_url=server.url, token=token, **values)


def _raw(settings) -> pd.DataFrame:
    police_loader.ensure_schema(Warehouse(settings))
    with Warehouse(settings).transaction() as tx:
        return tx.fetch_frame("SELECT * FROM raw.police_population_indicators")


def _fetches(settings) -> pd.DataFrame:
    with Warehouse(settings).transaction() as tx:
        return tx.fetch_frame("SELECT * FROM audit.api_fetches")


def test_multi_page_fetch_loads_every_row_with_lineage(server, frame, settings) -> None:
    report = police_loader.run_api("run-1", settings, _config(server, Sleeps()), today=TODAY)
    assert report["pages"] == 4 and report["rows_received"] == len(frame) == 168
    assert report["rows_inserted"] == 168 and report["unknown_indicators"] == {}
    raw = _raw(settings)
    assert len(raw) == 168
    assert sorted(raw["page"].unique()) == [1, 2, 3, 4]
    assert set(raw["source"]) == {"api"} and set(raw["dag_run_id"]) == {"run-1"}
    assert raw["request_url"].str.startswith(f"{server.url}/v1/indicateurs?").all()
    assert not raw["request_url"].str.contains(TOKEN).any()
    assert raw["fetched_at"].notna().all() and raw["source_file_sha256"].isna().all()
    assert raw["valeur"].isna().sum() == 1  # a null valeur is kept as null
    assert [p for p, _ in server.requests] == [
        f"/v1/indicateurs?jusqua=2025-05&page={n}&taille={PAGE}" for n in (1, 2, 3, 4)
    ]
    fetches = _fetches(settings)
    assert fetches[["pages", "rows_received", "rows_inserted"]].values.tolist() == [[4, 168, 168]]
    assert fetches[["status", "error"]].values.tolist() == [["ok", None]]


def test_a_fetch_is_staged_page_batch_by_batch_and_loaded_once(
    server, frame, settings, monkeypatch
) -> None:
    # Pages are parsed and staged as they arrive (memory holds one batch, not the fetch); the
    # rows only become visible when the last page is in, once each.
    monkeypatch.setattr(police_loader, "PAGES_PER_BATCH", 1)
    report = police_loader.run_api("run-1", settings, _config(server, Sleeps()), today=TODAY)
    assert (report["pages"], report["rows_received"], report["rows_inserted"]) == (4, 168, 168)
    raw = _raw(settings)
    assert len(raw) == 168 and raw.groupby("page").size().tolist() == [50, 50, 50, 18]
    assert _fetches(settings)["rows_inserted"].tolist() == [168]
    # On DuckDB the batches waited as Parquet files beside the warehouse: none is left.
    assert _staging_left(settings) == []


def test_same_fetch_twice_inserts_nothing_new(server, settings) -> None:
    config = _config(server, Sleeps())
    police_loader.run_api("run-1", settings, config, today=TODAY)
    again = police_loader.fetch_and_load(
        Warehouse(settings), config, police_loader._context(settings), today=TODAY, full=True
    )
    assert again["rows_inserted"] == 0 and again["rows_unchanged"] == 168
    assert len(_raw(settings)) == 168


def test_429_waits_retry_after_then_goes_on(server, settings) -> None:
    server.add_fault(Fault(status=429, retry_after="7", page=2))
    sleeps = Sleeps()
    report = police_loader.run_api("run-1", settings, _config(server, sleeps), today=TODAY)
    assert sleeps == [7.0]
    assert report["rows_inserted"] == 168 and len(_raw(settings)) == 168
    assert [s for _, s in server.requests] == [200, 429, 200, 200, 200]


def test_two_503_then_success_backs_off_exponentially(server, settings) -> None:
    server.add_fault(Fault(status=503), times=2)
    sleeps = Sleeps()
    report = police_loader.run_api("run-1", settings, _config(server, sleeps), today=TODAY)
    assert sleeps == [0.5, 1.0]
    assert report["pages"] == 4 and len(_raw(settings)) == 168


def test_retries_are_bounded_and_nothing_is_loaded(server, settings) -> None:
    server.add_fault(Fault(status=503, page=3), times=10)
    sleeps = Sleeps()
    with pytest.raises(PoliceApiError, match=r"HTTP 503, gave up after 4 attempts"):
        police_loader.run_api("run-1", settings, _config(server, sleeps), today=TODAY)
    assert sleeps == [0.5, 1.0, 2.0]
    assert _raw(settings).empty  # pages 1-2 were not half-loaded
    # The failed fetch is recorded: what was asked, how far it got, why it failed.
    (fetch,) = _fetches(settings).to_dict("records")
    assert (fetch["status"], fetch["pages"], fetch["rows_inserted"]) == ("failed", 2, 0)
    assert fetch["error"].startswith("PoliceApiError: ") and "HTTP 503, gave up" in fetch["error"]
    assert fetch["dag_run_id"] == "run-1" and fetch["jusqua"] == "2025-05"


def test_connection_errors_are_retried_then_reported(settings) -> None:
    dead = PoliceApiServer(small_frame())  # bound, then closed: nothing listens on its port
    dead.stop()
    sleeps = Sleeps()
    config = ApiConfig(base_url=dead.url, token=TOKEN, max_retries=2, backoff_base=1, sleep=sleeps)
    with pytest.raises(PoliceApiError, match="connection error"):
        police_loader.run_api("run-1", settings, config, today=TODAY)
    assert sleeps == [1, 2]


def test_401_is_a_clear_credentials_error_and_loads_nothing(server, settings) -> None:
    sleeps = Sleeps()
    config = _config(server, sleeps, token="wrong-token")
    with pytest.raises(PoliceApiAuthError, match=r"HTTP 401.*vigie_police_api"):
        police_loader.run_api("run-1", settings, config, today=TODAY)
    assert sleeps == [] and len(server.requests) == 1  # no retry on credentials
    assert _raw(settings).empty
    (fetch,) = _fetches(settings).to_dict("records")
    assert fetch["status"] == "failed" and "HTTP 401" in fetch["error"]
    assert TOKEN not in fetch["error"] and "wrong-token" not in fetch["error"]


def test_truncated_json_is_a_clear_error_and_nothing_is_half_loaded(server, settings) -> None:
    server.add_fault(Fault(truncate=0.6, page=3))
    with pytest.raises(PoliceApiShapeError, match=r"page=3.*not valid JSON.*truncated"):
        police_loader.run_api("run-1", settings, _config(server, Sleeps()), today=TODAY)
    assert _raw(settings).empty
    assert _fetches(settings)[["status", "rows_inserted"]].values.tolist() == [["failed", 0]]
    assert _staging_left(settings) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"page": 1, "total": 3, "donnees": []}', "lacks pages"),
        (
            b'{"page": 1, "pages": 1, "total": 1, "donnees": [{"mois": "2025-01"}]}',
            "a row lacks code_departement, force, indicateur, valeur, publie_le",
        ),
        (b"[1, 2, 3]", "not a JSON object"),
        (
            b'{"page": 1, "pages": 1, "total": 1, "donnees": [{"code_departement": "93", '
            b'"mois": "2025-01", "force": "PN", "indicateur": "x", "valeur": -3, '
            b'"publie_le": "2025-02-12"}]}',
            "valeur=-3",
        ),
    ],
)
def test_a_body_of_the_wrong_shape_is_a_clear_error(server, settings, body, message) -> None:
    server.add_fault(Fault(body=body))
    with pytest.raises(PoliceApiShapeError, match=message):
        police_loader.run_api("run-1", settings, _config(server, Sleeps()), today=TODAY)
    assert _raw(settings).empty


def test_the_token_never_appears_in_logs_errors_or_reprs(server, settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3's request lines included
    server.add_fault(Fault(status=503))
    server.add_fault(Fault(status=429, retry_after="1"))
    config = _config(server, Sleeps())
    police_loader.run_api("run-1", settings, config, today=TODAY)
    with pytest.raises(PoliceApiAuthError) as refused:
        police_loader.run_api("run-2", settings, _config(server, Sleeps(), token="bad-" + TOKEN))
    assert "retry 1/3" in caplog.text and "urllib3" in caplog.text  # the logs did run
    for text in (caplog.text, str(refused.value), repr(config)):
        assert TOKEN not in text
    raw = _raw(settings)
    assert not raw.astype("string").apply(lambda c: c.str.contains(TOKEN)).any().any()


def test_incremental_window_months_not_complete_plus_three() -> None:
    assert incremental_window(None, date(2026, 11, 26)) == (None, "2026-11")
    assert incremental_window("2026-10", date(2026, 11, 26)) == ("2026-08", "2026-11")
    assert incremental_window("2026-02", date(2026, 11, 3)) == ("2026-02", "2026-11")
    assert incremental_window("2026-01", date(2026, 3, 1)) == ("2025-12", "2026-03")


def test_second_fetch_asks_only_for_recent_months(server, settings) -> None:
    config = _config(server, Sleeps())
    police_loader.run_api("run-1", settings, config, today=TODAY)
    server.requests.clear()
    report = police_loader.run_api("run-2", settings, config, today=TODAY)
    assert report["depuis"] == "2025-02" and report["jusqua"] == "2025-05"
    assert server.requests[0][0].startswith("/v1/indicateurs?depuis=2025-02&jusqua=2025-05&")
    assert report["rows_received"] == 126 and report["rows_inserted"] == 0


def test_the_airflow_connection_gives_base_url_and_token(server, settings, monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_VIGIE_POLICE_API", raising=False)
    assert config_from_connection() is None
    assert police_loader.run_api("run-0", settings, today=TODAY) is None  # CSV fallback only
    monkeypatch.setenv("AIRFLOW_CONN_VIGIE_POLICE_API", f"http://:{TOKEN}@127.0.0.1:{server.port}")
    config = config_from_connection(page_size=PAGE)
    assert config is not None and config.base_url == server.url and config.token == TOKEN
    report = police_loader.run_api("run-1", settings, config, today=TODAY)
    assert report["rows_inserted"] == 168


def test_a_login_in_the_connection_never_replaces_the_bearer_token(server, settings, monkeypatch):
    # The HTTP provider would send login:password as basic auth; the API wants the bearer token.
    monkeypatch.setenv(
        "AIRFLOW_CONN_VIGIE_POLICE_API", f"http://svc-vigie:{TOKEN}@127.0.0.1:{server.port}"
    )
    report = police_loader.run_api(
        "run-1", settings, config_from_connection(page_size=PAGE), today=TODAY
    )
    assert report["rows_inserted"] == 168
    assert {status for _, status in server.requests} == {200}


def test_pages_served_from_a_parquet_file_are_those_of_the_frame(tmp_path) -> None:
    """The benchmarks serve 17 million rows from a file (memory bounded): a client must get
    exactly the pages it would get from the same rows in memory, windows included."""
    from vigie.demo import sample_police
    from vigie.demo.police_api_server import ParquetIndicators
    from vigie.ingest.police_api import PoliceApiClient

    until, start = date(2025, 5, 20), date(2024, 9, 1)
    path = tmp_path / "indicators.parquet"
    rows = sample_police.write_indicators_parquet(path, 7, until, start=start, copies=2)
    frame = sample_police.generate_indicators(7, until, start=start, copies=2)
    assert rows == len(frame) > 5_000
    fetched = []
    for source in (frame, ParquetIndicators(str(path))):
        with PoliceApiServer(source, token=TOKEN) as server:
            config = ApiConfig(base_url=server.url, token=TOKEN, page_size=700)
            with PoliceApiClient(config) as client:
                fetched.append(
                    [
                        [page.rows for page in client.fetch(depuis, "2025-04")]
                        for depuis in (None, "2025-02")
                    ]
                )
    assert fetched[0] == fetched[1]
    assert sum(len(rows) for rows in fetched[1][0]) == len(frame)


def test_the_error_stored_never_holds_the_token(settings) -> None:
    """Whatever the error says, the fetch record stores it without the token."""

    def leaking_pages():
        raise RuntimeError(f"proxy refused Authorization: Bearer {TOKEN}")
        yield  # a generator, as the client's pages are

    warehouse = Warehouse(settings)
    with pytest.raises(RuntimeError):
        police_loader.load_pages(
            warehouse,
            leaking_pages(),
            police_loader._context(settings),
            base_url="http://api.invalid",
            run_id="run-1",
            redact=lambda text: text.replace(TOKEN, "***"),
        )
    (fetch,) = _fetches(settings).to_dict("records")
    assert fetch["error"] == "RuntimeError: proxy refused Authorization: Bearer ***"


def test_a_reader_opens_the_warehouse_while_a_fetch_retries(server, tmp_path) -> None:
    """The fetch stages its pages before it opens the warehouse: while it waits to retry,
    another process opens the DuckDB file (one writer: it could not while a writer held it)."""
    import subprocess
    import sys

    settings = make_settings(tmp_path)
    police_loader.ensure_schema(Warehouse(settings))
    server.add_fault(Fault(status=503, page=2), times=2)
    opened: list[str] = []

    def sleep_and_read(seconds: float) -> None:
        code = (
            "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print(con.execute('SELECT count(*) FROM audit.api_fetches').fetchone()[0])"
        )
        reader = subprocess.run(
            [sys.executable, "-c", code, str(settings.duckdb_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        opened.append(reader.stdout.strip() or reader.stderr.strip().splitlines()[-1])

    config = ApiConfig(
        base_url=server.url, token=TOKEN, page_size=PAGE, max_retries=3, sleep=sleep_and_read
    )
    report = police_loader.run_api("run-1", settings, config, today=TODAY)
    assert opened == ["0", "0"], opened  # no "Conflicting lock is held"
    assert report["rows_inserted"] == 168 and len(_raw(settings)) == 168


def test_the_window_is_the_runs_not_the_machines(server, settings, monkeypatch) -> None:
    """The DAG passes the run's data interval: a re-run asks for the same months, on any day."""
    import pendulum
    from vigie import tasks

    monkeypatch.setenv(
        "AIRFLOW_CONN_VIGIE_POLICE_API",
        f"http://:{TOKEN}@127.0.0.1:{server.port}?page_size={PAGE}",
    )
    context = {
        "data_interval_end": pendulum.datetime(2025, 5, 20, 22, 0, tz="UTC"),  # 21st in Paris
        "logical_date": pendulum.datetime(2025, 5, 19, 22, 0, tz="UTC"),
    }
    day = tasks.run_data_day(context)
    assert day == date(2025, 5, 21)
    assert tasks.run_data_day({"dag_run": type("Run", (), {"run_after": context["logical_date"]})})
    first = tasks.fetch_police_api("run-1", day, settings)
    again = tasks.fetch_police_api("run-1", day, settings)  # a re-run, any later day
    assert (first["depuis"], first["jusqua"]) == (None, "2025-05")
    assert (again["depuis"], again["jusqua"]) == ("2025-02", "2025-05")
    assert {path.split("jusqua=")[1][:7] for path, _ in server.requests} == {"2025-05"}
