"""Several prefecture files validated and loaded as one batch keep per-file semantics.

The loader validates every file of a run together (one pandas pass per kind) and writes them in
one transaction; these tests pin what must still hold file by file (DuckDB and PostgreSQL).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from vigie import tasks
from vigie.contracts.prefectures import KINDS
from vigie.contracts.validation import Context, read_and_validate, read_file, validate_batch
from vigie.reference.geography import load_reference

from tests.conftest import query_frame
from tests.prefecture_files import write_variant


@pytest.fixture
def settings(settings_on_both_engines):
    return settings_on_both_engines


_query = query_frame


def _landing(settings) -> Path:
    return Path(settings.landing_url) / "prefectures"


def _write(settings, name: str, rows: list[dict], mtime: int, variant: str = "clean") -> Path:
    path = write_variant(_landing(settings) / name, rows, variant)
    os.utime(path, (mtime, mtime))
    return path


def _by_file(reports: list[dict]) -> dict[str, dict]:
    return {r["file"]: r for r in reports}


def test_one_quarantined_file_does_not_stop_the_other(settings, rows_93) -> None:
    tasks.refresh_reference(settings)
    good = [dict(r) for r in rows_93]
    bad = [dict(r, montant_attribue=-5.0) for r in rows_93[:3]] + [dict(rows_93[3])]
    bad_path = _write(settings, "a_negatifs.csv", bad, 1_600_000_000)
    good_path = _write(settings, "b_bon.csv", good, 1_600_000_100)
    reports = _by_file(tasks.ingest_prefectures("run", settings))
    assert reports["a_negatifs.csv"]["status"] == "quarantined"
    assert reports["a_negatifs.csv"]["reason"].startswith(
        "too_many_invalid_rows: 3 of 4 rows invalid"
    )
    assert reports["a_negatifs.csv"]["rows_loaded"] == 0
    assert reports["b_bon.csv"]["status"] == "loaded"
    assert reports["b_bon.csv"]["rows_loaded"] == len(good)
    assert not bad_path.exists() and not good_path.exists()
    assert Path(reports["a_negatifs.csv"]["moved_to"] + ".reason.json").exists()
    raw = _query(settings, "SELECT DISTINCT source_file_name FROM raw.prefecture_fipd_actions")
    assert list(raw.source_file_name) == ["b_bon.csv"]
    # A quarantined file's rows are not stored anywhere, not even as rejects.
    assert _query(settings, "SELECT count(*) AS n FROM audit.load_rejects")["n"][0] == 0
    loads = _query(settings, "SELECT source_file_name, status, sender FROM audit.file_loads")
    statuses = dict(zip(loads.source_file_name, loads.status, strict=True))
    assert statuses == {"a_negatifs.csv": "quarantined", "b_bon.csv": "loaded"}
    # Supersession ignores the quarantined file of the same département and year.
    assert loads.set_index("source_file_name").sender["b_bon.csv"] == "93"


def test_same_dossier_number_in_two_files_is_not_a_duplicate(settings, rows_93) -> None:
    tasks.refresh_reference(settings)
    _write(settings, "a_2019.csv", rows_93, 1_600_000_000)
    # Same dossier numbers, another year: another file, another (département, year).
    _write(settings, "b_2020.csv", [dict(r, annee=2020) for r in rows_93], 1_600_000_100)
    # And within one file the same number twice is invalid for both rows.
    twice = [dict(r, annee=2021) for r in rows_93]
    twice += [dict(twice[0], porteur="Autre porteur")]
    twice += [dict(r, numero_dossier=f"2021-93-1{i:02d}") for i, r in enumerate(twice * 2)]
    _write(settings, "c_2021.csv", twice, 1_600_000_200)
    reports = _by_file(tasks.ingest_prefectures("run", settings))
    assert reports["a_2019.csv"]["status"] == "loaded"
    assert reports["b_2020.csv"]["status"] == "loaded"
    assert reports["c_2021.csv"]["status"] == "loaded_with_rejects"
    assert reports["c_2021.csv"]["rejects_by_reason"] == {"duplicate_dossier": 2}
    rejects = _query(
        settings,
        """
        SELECT source_file_name, source_row, value
        FROM audit.load_rejects
        WHERE reason = 'duplicate_dossier'
        ORDER BY source_row
        """,
    )
    assert list(rejects.source_file_name) == ["c_2021.csv", "c_2021.csv"]
    assert list(rejects.source_row) == [2, 6]
    assert set(rejects.value) == {rows_93[0]["numero_dossier"]}
    loaded = _query(
        settings,
        """
        SELECT source_file_name, count(*) AS n
        FROM raw.prefecture_fipd_actions
        GROUP BY source_file_name
        ORDER BY source_file_name
        """,
    )
    assert list(loaded.n) == [4, 4, 13]


def test_same_bytes_twice_in_one_batch_load_once(settings, rows_93) -> None:
    tasks.refresh_reference(settings)
    first = _write(settings, "a.csv", rows_93, 1_600_000_000)
    copy = _landing(settings) / "sub" / "copie de a.csv"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(first.read_bytes())
    os.utime(copy, (1_600_000_100, 1_600_000_100))
    reports = tasks.ingest_prefectures("run", settings)
    assert [(r["file"], r["status"]) for r in reports] == [
        ("a.csv", "loaded"),
        ("sub/copie de a.csv", "duplicate"),
    ]
    assert reports[0]["sha256"] == reports[1]["sha256"]
    count = _query(settings, "SELECT count(*) AS n FROM raw.prefecture_fipd_actions")["n"][0]
    assert count == len(rows_93)
    loads = _query(settings, "SELECT source_file_name, status FROM audit.file_loads")
    assert sorted(zip(loads.source_file_name, loads.status, strict=True)) == [
        ("a.csv", "loaded"),
        ("copie de a.csv", "duplicate"),
    ]
    assert not first.exists() and not copy.exists()


def test_a_file_the_database_refuses_does_not_block_the_batch(settings, rows_93) -> None:
    """The batch transaction fails on one file's value: the others still load, one by one."""
    tasks.refresh_reference(settings)
    _write(settings, "a_bon.csv", rows_93, 1_600_000_000)
    huge = [dict(r, annee=2020, montant_demande=None) for r in rows_93]
    huge[0]["montant_attribue"] = 1e15  # beyond NUMERIC(14, 2)
    huge_path = _write(settings, "b_enorme.csv", huge, 1_600_000_100)
    _write(settings, "c_bon.csv", [dict(r, annee=2021) for r in rows_93], 1_600_000_200)
    with pytest.raises(RuntimeError, match=r"b_enorme\.csv"):
        tasks.ingest_prefectures("run", settings)
    assert huge_path.exists(), "the refused file stays in the landing zone"
    loads = _query(settings, "SELECT source_file_name, status FROM audit.file_loads")
    assert sorted(zip(loads.source_file_name, loads.status, strict=True)) == [
        ("a_bon.csv", "loaded"),
        ("c_bon.csv", "loaded"),
    ]
    assert _query(settings, "SELECT count(*) AS n FROM raw.prefecture_fipd_actions")["n"][0] == 8


def test_batch_verdicts_equal_one_file_verdicts(rows_93, tmp_path) -> None:
    """Validating files together gives each the verdict it gets alone (the `vigie check` path)."""
    ctx = Context(load_reference(), 2024)
    other = [dict(r, annee=2020) for r in rows_93]
    other[1]["code_departement"] = "75"  # differs from the rest of *its* file only
    other[2]["numero_dossier"] = other[3]["numero_dossier"]
    paths = [
        write_variant(tmp_path / "a.csv", rows_93, "french_cp1252"),
        write_variant(tmp_path / "b.xlsx", other, "xlsx_title"),
        write_variant(tmp_path / "c.csv", rows_93[:2], "tab_latin1"),
    ]
    alone = [read_and_validate(p.read_bytes(), KINDS, ctx) for p in paths]
    together = validate_batch([read_file(p.read_bytes(), KINDS) for p in paths], ctx)
    for one, batch in zip(alone, together, strict=True):
        assert batch.kind is one.kind
        assert (batch.rows_read, batch.rows_rejected) == (one.rows_read, one.rows_rejected)
        assert batch.quarantine_reason == one.quarantine_reason
        pd.testing.assert_frame_equal(batch.rows, one.rows)
        pd.testing.assert_frame_equal(batch.rejects, one.rejects)
    reasons = sorted(together[1].rejects.reason)
    assert reasons == ["departement_differs", "duplicate_dossier", "duplicate_dossier"]
    assert list(together[1].rows.source_sheet.unique()) == ["Programme FIPD"]
    assert together[0].rejects.empty and together[2].rejects.empty
