"""What an operator sees of a prefecture file the same hour: quarantine notices and states,
columns the matcher could not place, whose a quarantined file is, whether the run announces
its asset (DuckDB and PostgreSQL)."""

from __future__ import annotations

import email
import email.policy
import logging
from datetime import UTC, datetime
from pathlib import Path

import pytest
from vigie import tasks
from vigie.alerts.engineers import ENGINEERS_DIR
from vigie.contracts.prefectures import FIPD
from vigie.ingest.batches import ensure_schema
from vigie.ingest.changes import run_changes
from vigie.parsing.headers import header_key, match_header
from vigie.warehouse.connection import Warehouse

from tests.conftest import query_frame
from tests.prefecture_files import write_variant


@pytest.fixture
def settings(settings_on_both_engines):
    return settings_on_both_engines


class _Lines(logging.Handler):
    """The records of the ``vigie`` loggers, whatever Airflow did to the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def __enter__(self) -> _Lines:
        logger = logging.getLogger("vigie")
        self._level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc: object) -> None:
        logger = logging.getLogger("vigie")
        logger.removeHandler(self)
        logger.setLevel(self._level)

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == logging.WARNING]


def _landing(settings) -> Path:
    return Path(settings.landing_url) / "prefectures"


def _retitle(path: Path, titles: dict[str, str], extra: list[tuple[str, str]] = ()) -> Path:
    """The file with some header cells renamed and extra columns (title, value) appended."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header = [titles.get(cell, cell) for cell in lines[0].split(";")]
    body = lines[1:]
    for title, value in extra:
        header.append(title)
        body = [f"{line};{value}" for line in body]
    path.write_text("\n".join([";".join(header), *body]) + "\n", encoding="utf-8")
    return path


def test_the_percent_sign_is_significant_in_titles() -> None:
    assert header_key("% QPV") == header_key("QPV (%)") == "%qpv" != header_key("QPV")
    placed = match_header(["% QPV", "QPV"], FIPD.index).mapped
    assert placed == {0: "part_qpv", 1: "codes_qpv"}
    assert match_header(["Part QPV (%)"], FIPD.index).mapped == {0: "part_qpv"}
    assert match_header(["% bénéficiaires QPV"], FIPD.index).mapped == {0: "part_qpv"}
    # A sign on a title that is not a share is no column at all (and is reported).
    ignored = match_header(["Montant (%)"], FIPD.index).ignored
    assert [(c.label, c.reason) for c in ignored] == [("Montant (%)", "unknown_column")]


def test_a_percent_column_loads_and_every_column_left_out_is_named(settings, rows_93) -> None:
    tasks.refresh_reference(settings)
    path = write_variant(_landing(settings) / "fipd_93.csv", rows_93, "clean")
    _retitle(
        path,
        {"part_qpv": "% QPV"},
        [("Commentaire", "à revoir"), ("Subvention", "1"), ("porteur", "Autre")],
    )
    with _Lines() as log:
        (report,) = tasks.ingest_prefectures("run-cols", settings)
    assert report["status"] == "loaded"
    described = [
        "unknown_column 'Commentaire' (column 15)",
        "ambiguous_column 'Subvention' (column 16, already read as montant_attribue)",
        "duplicate_column 'porteur' (column 17, already read as porteur)",
    ]
    assert report["ignored_columns"] == described
    raw = query_frame(
        settings, "SELECT numero_dossier, part_qpv, codes_qpv FROM raw.prefecture_fipd_actions"
    )
    shares = dict(zip(raw["numero_dossier"], raw["part_qpv"], strict=True))
    assert float(shares["2019-93-004"]) == pytest.approx(0.4)  # "% QPV" is the share
    assert raw["codes_qpv"].notna().sum() == 1  # and the QPV list is still the list
    # In the load report (audit), the task log (a WARNING) and the per-file view.
    recorded = query_frame(settings, "SELECT ignored_columns FROM audit.file_loads")
    assert recorded["ignored_columns"].tolist() == ["; ".join(described)]
    view = query_frame(settings, "SELECT ignored_columns, sender FROM audit.load_reports")
    assert view.values.tolist() == [["; ".join(described), "93"]]
    assert any("column(s) not loaded: unknown_column 'Commentaire'" in w for w in log.warnings())


def test_the_column_is_added_to_a_warehouse_that_predates_it(settings) -> None:
    """Existing audit rows stay: the new column is added, null on them."""
    warehouse = Warehouse(settings)
    with warehouse.transaction() as tx:
        tx.execute("CREATE SCHEMA IF NOT EXISTS audit")
        tx.execute(
            """CREATE TABLE audit.file_loads (
            source_file_sha256 VARCHAR NOT NULL, source_file_name VARCHAR NOT NULL,
            source_file_path VARCHAR, source VARCHAR NOT NULL, kind VARCHAR,
            status VARCHAR NOT NULL, reason VARCHAR, rows_read INTEGER NOT NULL,
            rows_loaded INTEGER NOT NULL, rows_rejected INTEGER NOT NULL,
            sender VARCHAR, period VARCHAR, file_modified_at TIMESTAMP WITH TIME ZONE,
            received_at TIMESTAMP WITH TIME ZONE NOT NULL, dag_run_id VARCHAR)"""
        )
        tx.execute(
            "INSERT INTO audit.file_loads (source_file_sha256, source_file_name, source, "
            "status, rows_read, rows_loaded, rows_rejected, received_at) "
            "VALUES ('abc', 'old.csv', 'prefectures', 'loaded', 3, 3, 0, '2026-01-05 10:00:00+00')"
        )
    ensure_schema(warehouse)
    ensure_schema(warehouse)  # twice: nothing to add the second time
    rows = query_frame(settings, "SELECT source_file_name, ignored_columns FROM audit.file_loads")
    assert rows["source_file_name"].tolist() == ["old.csv"]
    assert rows["ignored_columns"].isna().all()


def test_a_quarantined_file_names_its_sender(settings, rows_93) -> None:
    tasks.refresh_reference(settings)
    rows = [dict(r, montant_attribue=-5.0) for r in rows_93]  # every row invalid
    write_variant(_landing(settings) / "negatifs.csv", rows, "clean")
    path = write_variant(_landing(settings) / "perso.csv", rows_93, "clean")
    _retitle(path, {}, [("Date de naissance", "12/05/1987")])
    reports = tasks.ingest_prefectures("run-q", settings)
    assert [r["status"] for r in reports] == ["quarantined", "quarantined"]
    loads = query_frame(
        settings, "SELECT source_file_name, sender FROM audit.file_loads ORDER BY 1"
    )
    assert loads.values.tolist() == [["negatifs.csv", "93"], ["perso.csv", "93"]]


def test_a_quarantined_file_reaches_the_engineers_within_the_run(settings, rows_93) -> None:
    """One notice for the run (not one per file), a WARNING per file, and the report task
    that turns the run red while the good file is loaded."""
    from airflow.sdk.exceptions import AirflowFailException

    tasks.refresh_reference(settings)
    write_variant(_landing(settings) / "bon.csv", rows_93, "clean")
    for year, name in ((2020, "negatifs_1.csv"), (2021, "negatifs_2.csv")):
        rows = [dict(r, montant_attribue=-5.0, annee=year) for r in rows_93]
        write_variant(_landing(settings) / name, rows, "clean")
    with _Lines() as log:
        loaded = tasks.load_prefecture_files("run-notice", settings)
    assert loaded["loaded"] == 1 and loaded["quarantined"] != []
    assert [f["file"] for f in loaded["quarantined"]] == ["negatifs_1.csv", "negatifs_2.csv"]
    notices = list((settings.outbox_dir / ENGINEERS_DIR).glob("*.eml"))
    assert len(notices) == 1
    notice = email.message_from_bytes(notices[0].read_bytes(), policy=email.policy.default)
    assert notice["Subject"] == "[Vigie] 2 fichiers des préfectures en quarantaine"
    body = notice.get_body(("plain",)).get_content()
    assert body.splitlines()[2].startswith("2 fichiers des préfectures mis en quarantaine")
    assert "negatifs_1.csv" in body and "negatifs_2.csv" in body and "bon.csv" not in body
    assert "too_many_invalid_rows" in body and ".reason.json" in body and "run-notice" in body
    assert sum("quarantined (fipd)" in w for w in log.warnings()) == 2
    loaded_rows = query_frame(settings, "SELECT count(*) AS n FROM raw.prefecture_fipd_actions")
    assert loaded_rows["n"][0] == len(rows_93)
    with (
        _Lines() as log,
        pytest.raises(
            AirflowFailException, match=r"^quarantined: negatifs_1\.csv .*\(2 prefectures file\(s\)"
        ),
    ):
        tasks.report_quarantine("prefectures", loaded)
    # Each file's whole reason is a line of its own, before the failure's traceback.
    errors = [r.getMessage() for r in log.records if r.levelno == logging.ERROR]
    assert [line.split(": ")[1] for line in errors[:2]] == ["negatifs_1.csv", "negatifs_2.csv"]
    assert errors[2].startswith("what to do: ")
    assert all("too_many_invalid_rows" in line for line in errors[:2])
    # A run with nothing quarantined sends nothing and ends green.
    assert tasks.load_prefecture_files("run-clean", settings)["quarantined"] == []
    assert len(list((settings.outbox_dir / ENGINEERS_DIR).glob("*.eml"))) == 1
    assert tasks.report_quarantine("prefectures", {"quarantined": []}).endswith("quarantined")


def test_the_run_announces_only_the_rows_it_changed(settings, rows_93) -> None:
    """``announce_changes`` reads the run's own records: skipped (no asset event) for a run
    that loaded nothing, the counts (the event's extra) for one that did, by run id."""
    from airflow.sdk.exceptions import AirflowSkipException

    def announce(run_id: str) -> dict:
        return tasks.announce_changes("prefectures", {"run_id": run_id}, settings=settings)

    with pytest.raises(AirflowSkipException, match="changed no row"):
        announce("run-empty")  # a warehouse that has no audit table yet
    before = datetime.now(UTC)
    tasks.refresh_reference(settings)
    # The reference lists written since the run started count (the prefecture run's refresh).
    written = run_changes(Warehouse(settings), "prefectures", "run-0", reference_since=before)
    assert written.reference_lists == ["communes", "departements", "epci", "qpv", "zsp"]
    before = datetime.now(UTC)
    tasks.refresh_reference(settings)  # unchanged: left as it is
    again = run_changes(Warehouse(settings), "prefectures", "run-0", reference_since=before)
    assert not again.changed
    good = write_variant(_landing(settings) / "bon.csv", rows_93, "clean")
    data = good.read_bytes()
    tasks.load_prefecture_files("run-1", settings)
    assert announce("run-1") == {
        "files": 1,
        "file_rows": len(rows_93),
        "fetches": 0,
        "fetch_rows": 0,
        "reference_lists": [],
    }
    (_landing(settings) / "encore.csv").write_bytes(data)  # the same bytes: a duplicate
    rows = [dict(r, montant_attribue=-5.0, annee=2020) for r in rows_93]
    write_variant(_landing(settings) / "negatifs.csv", rows, "clean")  # quarantined whole
    loaded = tasks.load_prefecture_files("run-2", settings)
    assert loaded["duplicate"] == 1 and len(loaded["quarantined"]) == 1
    with pytest.raises(AirflowSkipException):
        announce("run-2")
    with pytest.raises(AirflowSkipException):
        tasks.announce_changes("associations", {"run_id": "run-1"}, settings=settings)
    assert announce("run-1")["files"] == 1  # a cleared or retried run still sees its rows
