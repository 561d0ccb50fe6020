"""Prefecture exports through the real loader into a real warehouse (DuckDB and PostgreSQL)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from vigie import tasks
from vigie.reference.geography import load_reference
from vigie.warehouse.connection import Transaction

from tests.conftest import query_frame
from tests.prefecture_files import VARIANTS, write_variant

RAW_COLUMNS = [
    "code_departement",
    "annee",
    "numero_dossier",
    "porteur",
    "intitule_action",
    "programme",
    "nature",
    "montant_demande",
    "montant_attribue",
    "date_attribution",
    "code_commune",
    "codes_qpv",
    "zsp",
    "part_qpv",
]


@pytest.fixture
def settings(settings_on_both_engines):
    return settings_on_both_engines


_query = query_frame


def _landing(settings) -> Path:
    return Path(settings.landing_url) / "prefectures"


def _canonical(frame: pd.DataFrame) -> list[tuple]:
    frame = frame[RAW_COLUMNS].sort_values("numero_dossier")

    def plain(value: object) -> object:
        if pd.isna(value):
            return None
        numeric = isinstance(value, int | float) or hasattr(value, "as_tuple")  # Decimal
        return float(value) if numeric else str(value)

    return [tuple(plain(v) for v in row) for row in frame.itertuples(index=False)]


def test_every_shape_loads_to_the_same_canonical_rows(settings, rows_93, tmp_path) -> None:
    tasks.refresh_reference(settings)
    seen = {}
    for variant in VARIANTS:
        suffix = "xlsx" if variant.startswith("xlsx") else "csv"
        # Each variant is its own delivery (other département-years would supersede each other).
        path = write_variant(_landing(settings) / f"{variant}.{suffix}", rows_93, variant)
        reports = tasks.ingest_prefectures("test-run", settings)
        assert [r["status"] for r in reports] == ["loaded"], reports
        digest = reports[0]["sha256"]
        frame = _query(
            settings,
            f"SELECT * FROM raw.prefecture_fipd_actions WHERE source_file_sha256 = '{digest}'",
        )
        seen[variant] = _canonical(frame)
        assert set(frame["source_file_name"]) == {path.name}
        assert sorted(frame["source_row"]) == (
            list(range(4, 8)) if suffix == "xlsx" else [2, 3, 4, 5]
        )
        assert not path.exists(), "a processed file leaves the landing zone"
    reference = seen.pop("clean")
    assert reference[0][RAW_COLUMNS.index("montant_attribue")] == 12500.5
    for variant, rows in seen.items():
        assert rows == reference, variant


def test_same_bytes_twice_load_once(settings, rows_93) -> None:
    tasks.refresh_reference(settings)
    write_variant(_landing(settings) / "a.csv", rows_93, "clean")
    tasks.ingest_prefectures("run-1", settings)
    write_variant(_landing(settings) / "sub" / "copie de a.csv", rows_93, "clean")
    reports = tasks.ingest_prefectures("run-2", settings)
    assert [r["status"] for r in reports] == ["duplicate"]
    count = _query(settings, "SELECT count(*) AS n FROM raw.prefecture_fipd_actions")["n"][0]
    assert count == len(rows_93)


def test_newer_file_for_same_departement_and_year_supersedes(settings, rows_93) -> None:
    tasks.refresh_reference(settings)
    old = write_variant(_landing(settings) / "old.csv", rows_93, "clean")
    os.utime(old, (1_600_000_000, 1_600_000_000))
    corrected = [dict(r) for r in rows_93[:3]]
    corrected[0]["montant_attribue"] = 11000.0
    new = write_variant(_landing(settings) / "new.csv", corrected, "french_cp1252")
    os.utime(new, (1_700_000_000, 1_700_000_000))
    tasks.ingest_prefectures("run", settings)
    loads = _query(settings, "SELECT source_file_name, status FROM audit.file_loads")
    assert dict(zip(loads.source_file_name, loads.status, strict=True)) == {
        "old.csv": "superseded",
        "new.csv": "loaded",
    }
    # History keeps both files' rows.
    assert _query(settings, "SELECT count(*) AS n FROM raw.prefecture_fipd_actions")["n"][0] == 7

    # A file arriving later but older (mtime) than the live one is history, not the winner.
    late = write_variant(_landing(settings) / "late_but_older.csv", rows_93[:1], "clean")
    os.utime(late, (1_650_000_000, 1_650_000_000))
    reports = tasks.ingest_prefectures("run-2", settings)
    assert reports[0]["status"] == "superseded"


def test_invalid_rows_are_rejected_with_row_column_and_reason(settings, rows_93) -> None:
    tasks.refresh_reference(settings)
    rows = [dict(r) for r in rows_93] + [dict(rows_93[0]) for _ in range(16)]
    for i, row in enumerate(rows[4:], start=5):
        row["numero_dossier"] = f"2019-93-1{i:02d}"
    rows[4]["code_commune"] = "93999"
    rows[5]["montant_demande"], rows[5]["montant_attribue"] = 100.0, 200.0
    paris = load_reference().qpv.query("code_departement == '75' and geographie == '2015'")
    rows[6]["codes_qpv"] = [paris.code_qpv.iloc[0]]  # a real QPV, but in Paris
    write_variant(_landing(settings) / "with_errors.csv", rows, "clean")
    report = tasks.ingest_prefectures("run", settings)[0]
    assert report["status"] == "loaded_with_rejects"
    assert (report["rows_read"], report["rows_loaded"], report["rows_rejected"]) == (20, 17, 3)
    rejects = _query(
        settings,
        """
        SELECT source_row, column_name, value, reason, source_file_name
        FROM audit.load_rejects
        ORDER BY source_row
        """,
    )
    got = list(zip(rejects.source_row, rejects.column_name, rejects.reason, strict=True))
    assert got[0] == (6, "code_commune", "unknown_commune")
    assert got[1] == (7, "montant_attribue", "attribue_exceeds_demande")
    assert got[2] == (8, "codes_qpv", "qpv_other_departement")
    assert set(rejects.source_file_name) == {"with_errors.csv"}
    assert rejects.value.iloc[0] == "93999"
    # The load report an analyst queries: one line per file, counts per column and reason.
    line = _query(settings, "SELECT * FROM audit.load_reports").iloc[0]
    assert (line.source_file_name, line.status, line.rows_read, line.rows_loaded) == (
        "with_errors.csv",
        "loaded_with_rejects",
        20,
        17,
    )
    assert line.rejects_by_reason == (
        "code_commune:unknown_commune=1, codes_qpv:qpv_other_departement=1, "
        "montant_attribue:attribue_exceeds_demande=1"
    )


def test_file_mostly_invalid_is_quarantined_with_a_reason_beside_it(settings, rows_93) -> None:
    tasks.refresh_reference(settings)
    rows = [dict(r, montant_attribue=-5.0) for r in rows_93]
    write_variant(_landing(settings) / "negatifs.csv", rows, "clean")
    report = tasks.ingest_prefectures("run", settings)[0]
    assert report["status"] == "quarantined"
    assert report["reason"].startswith("too_many_invalid_rows")
    note = json.loads(Path(report["moved_to"] + ".reason.json").read_text())
    assert note["reason"] == "too_many_invalid_rows" and note["file"] == "negatifs.csv"
    assert _query(settings, "SELECT count(*) AS n FROM raw.prefecture_fipd_actions")["n"][0] == 0
    # Its report still says why, in counts (its values are stored nowhere).
    counts = _query(
        settings, "SELECT column_name, reason, rows_rejected FROM audit.load_reject_counts"
    )
    assert counts.values.tolist() == [["montant_attribue", "negative_amount", 4]]


def test_personal_data_column_quarantines_and_stores_nothing(settings, rows_93) -> None:
    tasks.refresh_reference(settings)
    path = write_variant(_landing(settings) / "perso.csv", rows_93, "clean")
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + ";Date de naissance"] + [line + ";12/05/1987" for line in lines[1:]]
    path.write_text("\n".join(lines), encoding="utf-8")
    report = tasks.ingest_prefectures("run", settings)[0]
    assert report["status"] == "quarantined" and report["reason"].startswith("personal_data")
    for table in ("raw.prefecture_fipd_actions", "audit.load_rejects"):
        assert _query(settings, f"SELECT count(*) AS n FROM {table}")["n"][0] == 0
    everything = _query(settings, "SELECT * FROM audit.file_loads").astype(str).to_string()
    assert "1987" not in everything and "Rebonds" not in everything


def test_interrupted_load_leaves_the_warehouse_as_before(settings, rows_93, monkeypatch) -> None:
    tasks.refresh_reference(settings)
    write_variant(_landing(settings) / "a.csv", rows_93, "clean")
    tasks.ingest_prefectures("run-1", settings)
    before = _query(settings, "SELECT count(*) AS n FROM raw.prefecture_fipd_actions")["n"][0]

    original = Transaction.insert_frame

    def crash_after_raw_rows(self, table, frame):
        inserted = original(self, table, frame)
        if table == "audit.load_rejects" or table.startswith("raw."):
            raise KeyboardInterrupt("worker killed mid-load")  # what a SIGTERM/kill looks like
        return inserted

    monkeypatch.setattr(Transaction, "insert_frame", crash_after_raw_rows)
    other = [dict(r, annee=2020, codes_qpv=[]) for r in rows_93]
    path = write_variant(_landing(settings) / "b.csv", other, "clean")
    with pytest.raises(KeyboardInterrupt):
        tasks.ingest_prefectures("run-2", settings)
    monkeypatch.undo()
    after = _query(settings, "SELECT count(*) AS n FROM raw.prefecture_fipd_actions")["n"][0]
    assert after == before
    assert path.exists(), "the interrupted file stays in the landing zone for the next run"
    loads = _query(settings, "SELECT source_file_name FROM audit.file_loads")
    assert list(loads.source_file_name) == ["a.csv"]
    # The next run loads it normally.
    assert tasks.ingest_prefectures("run-3", settings)[0]["status"] == "loaded"
