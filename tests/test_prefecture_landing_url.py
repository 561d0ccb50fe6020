"""The landing zone as an fsspec URL (``memory://`` here; ``s3://``, ``sftp://`` in production)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import fsspec
from vigie import tasks
from vigie.warehouse.connection import Warehouse

from tests.conftest import make_settings
from tests.prefecture_files import write_variant


def test_list_load_archive_and_quarantine_through_a_memory_url(rows_93, tmp_path: Path) -> None:
    root = f"memory://vigie-{uuid.uuid4().hex[:8]}"
    settings = make_settings(
        tmp_path,
        VIGIE_LANDING_URL=f"{root}/landing",
        VIGIE_GX_DIR=str(tmp_path / "gx"),
        VIGIE_GX_VALIDATE="false",
    )
    assert settings.landing_url == f"{root}/landing"
    fs = fsspec.filesystem("memory")
    good = write_variant(tmp_path / "good.csv", rows_93, "french_cp1252").read_bytes()
    fs.pipe(f"{root}/landing/prefectures/2019/good.csv", good)
    fs.pipe(f"{root}/landing/prefectures/bad.csv", b"nom;prenom\nDupont;Jean\n")
    fs.pipe(f"{root}/landing/prefectures/.upload.part", b"not yet a delivery")

    tasks.refresh_reference(settings)
    reports = {r["file"]: r for r in tasks.ingest_prefectures("run", settings)}

    assert set(reports) == {"2019/good.csv", "bad.csv"}
    assert reports["2019/good.csv"]["status"] == "loaded"
    assert reports["bad.csv"]["status"] == "quarantined"
    archived = fs.find(f"{root}/archive/prefectures")
    quarantined = fs.find(f"{root}/quarantine/prefectures")
    assert [p.rsplit("__", 1)[1] for p in archived] == ["good.csv"]
    assert fs.cat_file(archived[0]) == good, "moved, not rewritten"
    note = next(p for p in quarantined if p.endswith(".reason.json"))
    assert json.loads(fs.cat_file(note))["reason"] == "unrecognised_header"
    left = fs.find(f"{root}/landing/prefectures")
    assert [p.rsplit("/", 1)[1] for p in left] == [".upload.part"]
    with Warehouse(settings).transaction() as tx:
        loaded = tx.fetch_frame(
            "SELECT source_file_name, count(*) AS n FROM raw.prefecture_fipd_actions GROUP BY 1"
        )
    assert loaded.to_dict("records") == [{"source_file_name": "good.csv", "n": len(rows_93)}]
    fs.rm(root, recursive=True)
