"""The association sample: a realistic, deterministic year that the loader reads as intended."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

from vigie.contracts.validation import Context
from vigie.demo.sample_associations import write_association_sample
from vigie.ingest import association_loader as al
from vigie.reference.geography import load_reference
from vigie.warehouse.connection import Warehouse

from tests.conftest import make_settings


def _digest(paths: list[Path]) -> list[tuple[str, str, int]]:
    return [
        (p.name, hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in paths
    ]


def test_the_sample_is_a_realistic_year_and_loads_as_intended(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    sample = write_association_sample(Path(settings.landing_url), seed=7)
    again = write_association_sample(tmp_path / "again", seed=7)
    assert _digest(sample.files) == _digest(again.files)

    networks = Counter(s.reseau for s in sample.structures)
    assert sum(networks.values()) >= 300 and set(networks) == {"FNEPE", "ANPAEJ", "CNLAPS", "Autre"}
    communes = set(load_reference().communes["code_commune"])
    assert all(c in communes for s in sample.structures for c in s.communes)
    assert {p.suffix for p in sample.files} == {".xlsx", ".csv", ".json"}
    assert len(sample.late) >= 20 and len(sample.corrected) >= 10

    ctx = Context(load_reference(), settings.qpv_2024_from_year)
    reports = al.ingest_reports(Warehouse(settings), settings.landing_url, ctx)
    with Warehouse(settings).transaction() as tx:
        statuses = dict(tx.fetchall("SELECT status, count(*) FROM audit.file_loads GROUP BY 1"))
        quarantined = {
            r[0]
            for r in tx.fetchall(
                "SELECT source_file_name FROM audit.file_loads WHERE status = 'quarantined'"
            )
        }
    assert len(reports) == len(sample.files)
    assert statuses["superseded"] == len(sample.corrected)
    whole = {k: v for k, v in sample.invalid.items() if not k.startswith("row_")}
    assert quarantined == {p.name for paths in whole.values() for p in paths}
    assert statuses["loaded_with_rejects"] >= 2
