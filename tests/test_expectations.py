"""The Great Expectations suites: committed as generated, and in agreement with the row verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vigie.contracts.prefectures import CONTRATS, FIPD, KINDS
from vigie.contracts.validation import Context, check_batch, read_file
from vigie.ingest import expectations
from vigie.ingest.expectations import BatchValidator, suite_json, suite_path
from vigie.reference.geography import load_reference
from vigie.settings import SOURCE_TREE_ROOT

from tests.prefecture_files import write_variant
from tests.test_prefecture_contrats import CONTRATS as CONTRATS_CSV

INCLUDE = SOURCE_TREE_ROOT / "include"


def test_committed_suites_are_what_the_declarations_generate() -> None:
    """If this fails, run `uv run python -m vigie.ingest.expectations` and commit the diff."""
    for kind in KINDS:
        path = suite_path(kind, INCLUDE)
        assert path.read_text(encoding="utf-8") == suite_json(kind), path
    assert expectations.main(["--check"]) == 0
    fipd = json.loads(suite_path(FIPD, INCLUDE).read_text(encoding="utf-8"))
    rules = {(e["type"], e["meta"]["vigie"]["column"]) for e in fipd["expectations"]}
    # The contract's rules, each from the declarations the row verdicts use.
    assert ("expect_column_values_to_not_be_null", "montant_attribue") in rules
    assert ("expect_column_values_to_be_in_set", "programme") in rules
    assert ("expect_column_values_to_be_between", "part_qpv") in rules
    assert ("expect_column_values_to_match_regex", "codes_qpv") in rules
    assert ("expect_compound_columns_to_be_unique", "numero_dossier") in rules
    assert ("expect_column_pair_values_a_to_be_greater_than_b", "montant_attribue") in rules


def _bad_fipd_rows(rows_93: list[dict]) -> list[dict]:
    """Twelve rows, eight of them breaking one rule each (the file is then quarantined: its
    rows are still validated, and counted, with the batch)."""
    rows = [dict(r) for r in rows_93] + [
        dict(rows_93[0], numero_dossier=f"2019-93-2{i:02d}") for i in range(8)
    ]
    rows[4]["montant_attribue"] = -10.0  # negative_amount
    rows[5]["montant_demande"], rows[5]["montant_attribue"] = 100.0, 250.0  # exceeds
    rows[6]["numero_dossier"] = rows[7]["numero_dossier"]  # duplicate_dossier (both rows)
    rows[8]["programme"] = "Z"  # invalid_enum
    rows[9]["code_commune"] = "123"  # invalid_commune
    rows[10]["codes_qpv"] = ["QX093001"]  # invalid_qpv_code
    rows[11]["porteur"] = ""  # missing_required
    return rows


def test_suite_counts_agree_with_row_verdicts_on_a_batch(rows_93, tmp_path: Path) -> None:
    paths = [
        write_variant(tmp_path / "bad.csv", _bad_fipd_rows(rows_93), "clean"),
        write_variant(tmp_path / "good.xlsx", [dict(r, annee=2020) for r in rows_93], "xlsx_title"),
        tmp_path / "contrats.csv",
    ]
    paths[2].write_text(CONTRATS_CSV + CONTRATS_CSV.splitlines()[-1] + "\n", encoding="utf-8")
    check = check_batch(
        [read_file(p.read_bytes(), KINDS) for p in paths], Context(load_reference(), 2024)
    )
    validator = BatchValidator(tmp_path / "gx", INCLUDE, run_id="test-run")
    runs = {b.kind.name: validator.validate(b, "batch 1") for b in check.kinds}

    fipd = runs["fipd"]
    assert (fipd.rows, fipd.files) == (12 + 4, 2)
    unexpected = {(o.expectation, o.column): o.unexpected for o in fipd.outcomes}
    assert unexpected == {
        **{k: 0 for k in unexpected},
        **{
            ("expect_column_values_to_be_between", "montant_attribue"): 1,
            ("expect_column_pair_values_a_to_be_greater_than_b", "montant_attribue"): 1,
            ("expect_compound_columns_to_be_unique", "numero_dossier"): 2,
            ("expect_column_values_to_be_in_set", "programme"): 1,
            ("expect_column_values_to_match_regex", "code_commune"): 1,
            ("expect_column_values_to_match_regex", "codes_qpv"): 1,
            ("expect_column_values_to_not_be_null", "porteur"): 1,
        },
    }
    assert not fipd.success
    contrats = runs["contrats"]
    found = {(o.expectation, o.column): o.unexpected for o in contrats.outcomes if o.unexpected}
    assert found == {
        ("expect_column_values_to_not_be_null", "date_adoption_plan"): 2,  # "Adopté", no date
        ("expect_compound_columns_to_be_unique", "contrat_id"): 2,
    }
    # Every expectation counts exactly the rows the row verdicts reject for its reasons.
    for run in runs.values():
        assert run.disagreements == [], run.disagreements
        assert sum(o.mirrored for o in run.outcomes) == sum(o.unexpected for o in run.outcomes)

    # A later batch of the first kind still finds its data: one kind's set-up never drops
    # another's (both kinds arrive in the same run in every prefecture's folder).
    (fipd_again,) = [b for b in check.kinds if b.kind.name == "fipd"]
    assert validator.validate(fipd_again, "batch 2").rows == fipd.rows

    # Each run's results are kept, and the Data Docs list them.
    kept = list((tmp_path / "gx" / "gx" / "uncommitted" / "validations").rglob("*.json"))
    assert len(kept) == 3
    index = validator.docs_index.read_text(encoding="utf-8")
    assert "prefectures_fipd" in index and "prefectures_contrats" in index


def test_the_flow_runs_the_suite_once_per_batch(rows_93, tmp_path: Path, caplog) -> None:
    from vigie import tasks

    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    tasks.refresh_reference(settings)
    landing = Path(settings.landing_url) / "prefectures"
    for year in (2019, 2020, 2021):
        write_variant(landing / f"fipd_{year}.csv", [dict(r, annee=year) for r in rows_93], "clean")
    with caplog.at_level("INFO"):
        reports = tasks.ingest_prefectures("run-gx", settings)
    assert [r["status"] for r in reports] == ["loaded"] * 3
    gx_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("GX ")]
    assert len(gx_lines) == 1 and "on 12 rows of 3 file(s)" in gx_lines[0], gx_lines
    docs = settings.gx_dir / "data_docs" / "index.html"
    assert docs.exists() and any(str(docs) in r.getMessage() for r in caplog.records)
    assert settings.gx_dir == tmp_path / "gx", "beside the landing zone, like archive/"


@pytest.mark.parametrize("kind", [FIPD, CONTRATS], ids=lambda k: k.name)
def test_every_expectation_names_the_rule_it_mirrors(kind) -> None:
    suite = expectations.build_suite(kind)
    columns = {c.name for c in kind.columns}
    for expectation in suite["expectations"]:
        rule = expectation["meta"]["vigie"]
        assert rule["column"] in columns
        assert all(reason.islower() for reason in rule["reasons"])


def test_a_batch_run_logs_only_vigies_lines_at_info(rows_93, tmp_path: Path, caplog, capfd) -> None:
    """GX's own messages (loggers, progress bars) stay out of the task log: the lines left
    are Vigie's, the file lines, the summary, the GX summary and the Data Docs path."""
    import logging

    from vigie import tasks

    from tests.conftest import make_settings

    settings = make_settings(tmp_path)
    tasks.refresh_reference(settings)
    landing = Path(settings.landing_url) / "prefectures"
    for year in (2019, 2020):
        write_variant(landing / f"fipd_{year}.csv", [dict(r, annee=year) for r in rows_93], "clean")
    capfd.readouterr()
    with caplog.at_level(logging.INFO):
        tasks.ingest_prefectures("run-quiet", settings)
    foreign = sorted({r.name for r in caplog.records if not r.name.startswith("vigie")})
    assert foreign == [], foreign
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) <= 8, lines
    assert any(line.startswith("GX prefectures_fipd") for line in lines)
    printed = capfd.readouterr()
    assert "it/s" not in printed.err and "Calculating Metrics" not in printed.err, printed.err
    assert printed.out == "", printed.out


def test_the_data_docs_render_offline_in_chromium(rows_93, tmp_path: Path) -> None:
    """The index page lists the validation results with no network: its scripts and styles
    are the site's own files (GX's point to CDNs, and its tables are drawn by a script)."""
    import re
    import shutil
    import subprocess

    from tests.test_alerts_browser import _chromium, _Text

    browser = _chromium()
    path = write_variant(tmp_path / "bad.csv", _bad_fipd_rows(rows_93), "clean")
    check = check_batch([read_file(path.read_bytes(), KINDS)], Context(load_reference(), 2024))
    validator = BatchValidator(tmp_path / "gx", INCLUDE, run_id="offline-run")
    validator.validate(check.kinds[0], "batch 1")
    docs = validator.docs_dir
    for page in docs.rglob("*.html"):
        remote = re.findall(
            r'<(?:script[^>]*\ssrc|link[^>]*\shref|img[^>]*\ssrc)="https?://', page.read_text()
        )
        assert remote == [], (page, remote)
    assert (docs / "static" / "vigie" / "vigie-docs.js").exists()

    profile = tmp_path / "chromium-profile"
    result = subprocess.run(
        [
            browser,
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            f"--user-data-dir={profile}",
            # No network at all: every name resolves nowhere, every proxy is refused.
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--proxy-server=127.0.0.1:9",
            "--virtual-time-budget=3000",
            "--dump-dom",
            validator.docs_index.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    dom = result.stdout
    reader = _Text()
    reader.feed(dom)
    text = reader.text()
    # The validation results table, drawn offline: the suite, its run, and its failure icon.
    assert "prefectures_fipd" in text and "offline-run" in text, text[:2000]
    assert dom.count('class="clickable-row"') >= 2, "a row per validation and per suite"
    assert "ge-failed-icon" in dom
    shutil.rmtree(profile, ignore_errors=True)
