"""Association reports into the warehouse: every shape, whole-report faults, rejects,
personal data, supersession and idempotence (real files, real DuckDB and PostgreSQL)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from vigie.contracts import associations as contract
from vigie.contracts.validation import Context
from vigie.ingest import association_loader as al
from vigie.reference.geography import load_reference
from vigie.warehouse.connection import Warehouse

from tests.association_files import (
    drop,
    ident,
    report_csv,
    report_json,
    report_xlsx,
    row,
    siret,
    with_formula_without_value,
)
from tests.conftest import make_settings

JAN, FEB, MAR = datetime(2020, 1, 10), datetime(2020, 2, 10), datetime(2020, 3, 10)


@pytest.fixture(params=["duckdb", "postgres"])
def settings(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "postgres":
        return make_settings(tmp_path, VIGIE_WAREHOUSE_URL=request.getfixturevalue("pg_url"))
    return make_settings(tmp_path)


@pytest.fixture
def duck(tmp_path: Path):
    return make_settings(tmp_path)


def _ingest(settings) -> dict[str, al.loading.FileReport]:
    ctx = Context(load_reference(settings.reference_dir), settings.qpv_2024_from_year)
    reports = al.ingest_reports(Warehouse(settings), settings.landing_url, ctx, "test-run")
    return {Path(r.file).name: r for r in reports}


def _query(settings, sql: str) -> pd.DataFrame:
    with Warehouse(settings).transaction() as tx:
        return tx.fetch_frame(sql)


def test_every_shape_loads_with_identification_lineage_and_canonical_codes(settings) -> None:
    landing = Path(settings.landing_url)
    # The template: merged titles, numbers typed as numbers, "1er semestre", a neighbour's commune.
    paej = "Point accueil écoute jeunes"
    drop(
        landing,
        "marseille.xlsx",
        report_xlsx(
            ident(1, code_departement=13, periode="1er semestre 2019", reseau=paej),
            [row("13055", 250, 80, codes_qpv="QP013001|QP013002"), row("84007", 12, 3)],
        ),
        JAN,
    )
    # Windows-1252 CSV with human headers, French money, "2a" and a semester written "S2 2019".
    drop(
        landing,
        "ajaccio.csv",
        report_csv(
            ident(2, reseau="Prévention spécialisée", code_departement="2a", periode="S2 2019"),
            [row("2A004", 40, 12, montant_fipd_recu=12500.5)],
            variant=1,
        ),
        JAN,
    )
    # UTF-8 BOM, ',' quoted, Excel's ="01053" protection, département written "1".
    drop(
        landing,
        "bourg.csv",
        report_csv(
            ident(3, reseau="FNEPE", code_departement="1"), [row("01053", 60, 25)], variant=2
        ),
        JAN,
    )
    # The online form's JSON: QPV as a list, La Réunion.
    drop(
        landing,
        "reunion.json",
        report_json(
            ident(4, reseau="CNLAPS", code_departement="974", periode="2019"),
            [row("97411", 90, 20, codes_qpv="QP974001"), row("97415", 15, 4)],
        ),
        JAN,
    )

    reports = _ingest(settings)

    assert {n: r.status for n, r in reports.items()} == dict.fromkeys(
        ["marseille.xlsx", "ajaccio.csv", "bourg.csv", "reunion.json"], "loaded"
    )
    raw = _query(settings, f"SELECT * FROM {al.RAW_TABLE} ORDER BY source_file_name, source_row")
    got = (
        raw[
            [
                "source_file_name",
                "source_row",
                "source_sheet",
                "reseau",
                "siret",
                "code_departement",
                "periode",
                "code_commune",
                "codes_qpv",
                "nb_jeunes_accueillis",
            ]
        ]
        .astype(object)
        .where(raw.notna(), None)
    )
    assert got.values.tolist() == [
        ["ajaccio.csv", 2, None, "CNLAPS", siret(2), "2A", "2019-S2", "2A004", None, 40],
        ["bourg.csv", 2, None, "FNEPE", siret(3), "01", "2019", "01053", None, 60],
        [
            "marseille.xlsx",
            3,
            "Activité",
            "ANPAEJ",
            siret(1),
            "13",
            "2019-S1",
            "13055",
            "QP013001|QP013002",
            250,
        ],
        ["marseille.xlsx", 4, "Activité", "ANPAEJ", siret(1), "13", "2019-S1", "84007", None, 12],
        ["reunion.json", 1, None, "CNLAPS", siret(4), "974", "2019", "97411", "QP974001", 90],
        ["reunion.json", 2, None, "CNLAPS", siret(4), "974", "2019", "97415", None, 15],
    ]
    assert float(raw.loc[raw.source_file_name == "ajaccio.csv", "montant_fipd_recu"].iloc[0]) == (
        12500.5
    )
    audit = _query(
        settings,
        """
        SELECT source_file_name, source, kind, sender, period
        FROM audit.file_loads
        ORDER BY source_file_name
        """,
    )
    assert audit.values.tolist()[2] == [
        "marseille.xlsx",
        "associations",
        "rapport_activite",
        siret(1),
        "2019-S1",
    ]
    archived = Path(settings.landing_url).parent / "archive" / "associations"
    assert len(list(archived.iterdir())) == 4
    assert not list((landing / "associations").iterdir())


WHOLE_REPORT_FAULTS = {
    "invalid_siret": report_xlsx(ident(siret="12345678901234"), [row("13055")]),
    "invalid_periode": report_json(ident(periode="T3 2019"), [row("13055")]),
    "missing_identification": report_xlsx(ident(structure=""), [row("13055")]),
    "inconsistent_identification": report_csv(ident(), [row("13055")], 0)
    + report_csv(ident(periode="2018"), [row("13001")], 0).split(b"\r\n", 1)[1],
    "unrecognised_header": report_csv(ident(), [{"commune": "13055", "jeunes": 3}], 0),
    "invalid_json": b'{"identification": {"siret": ',
    "undecodable": b"\x00\x01\x02 binary \xff\xfe",
    "unreadable_xlsx": b"PK\x03\x04 truncated workbook",
    "formula_without_value": with_formula_without_value(
        report_xlsx(ident(), [row("13055"), row("13001")])
    ),
    "too_many_invalid_rows": report_xlsx(ident(), [row("13055"), row("99999"), row("75056")]),
    "empty": report_xlsx(ident(), []),
}


@pytest.mark.parametrize("reason", WHOLE_REPORT_FAULTS)
def test_whole_report_faults_quarantine_it_with_a_machine_readable_reason(duck, reason) -> None:
    landing = Path(duck.landing_url)
    drop(landing, f"report_{reason}.bin", WHOLE_REPORT_FAULTS[reason])

    report = _ingest(duck)[f"report_{reason}.bin"]

    assert report.status == "quarantined"
    assert report.reason.split(":")[0] == reason, report.reason
    note = json.loads(Path(report.moved_to + ".reason.json").read_text(encoding="utf-8"))
    assert note["reason"] == reason and note["sha256"] == report.sha256
    assert _query(duck, f"SELECT count(*) AS n FROM {al.RAW_TABLE}")["n"].iloc[0] == 0
    assert _query(duck, "SELECT count(*) AS n FROM audit.load_rejects")["n"].iloc[0] == 0


def test_invalid_rows_are_rejected_with_file_row_column_and_reason(duck) -> None:
    good = (
        "13055",
        "13001",
        "13004",
        "13005",
        "13007",
        "13028",
        "13039",
        "13043",
        "13047",
        "13054",
        "13056",
        "13063",
    )
    rows = [row(c) for c in good]
    rows.append(row("69123"))  # Lyon: not in 13 nor a neighbouring département
    rows.append(row("84007", jeunes=-3))  # Avignon (a neighbour: fine), a negative count
    rows.append(row("13071", codes_qpv="QP013001|QN01301E"))  # a 2024 QPV in a 2019 report
    drop(Path(duck.landing_url), "r.xlsx", report_xlsx(ident(), rows))

    report = _ingest(duck)["r.xlsx"]

    assert report.status == "loaded_with_rejects"
    assert (report.rows_read, report.rows_loaded, report.rows_rejected) == (15, 12, 3)
    rejects = _query(
        duck,
        """
        SELECT source_row, column_name, value, reason
        FROM audit.load_rejects
        ORDER BY source_row, column_name
        """,
    )
    assert rejects.values.tolist() == [
        [15, "code_commune", "69123", "commune_outside_departement"],
        [16, "nb_jeunes_accueillis", "-3", "invalid_integer"],
        [17, "codes_qpv", "QP013001|QN01301E", "qpv_wrong_geography"],
    ]
    # 3 of 15 rows is 20 %: one more bad row and the whole report would be quarantined.


SECRET_NAME = "Zébulon-Marchandise"
SECRET_PHONE = "06 98 76 54 32"
SECRET_MAIL = "zebulon.marchandise@example.org"


def test_a_report_about_individuals_is_quarantined_and_its_content_stored_nowhere(
    duck, caplog
) -> None:
    landing = Path(duck.landing_url)
    drop(
        landing,
        "noms.xlsx",
        report_xlsx(ident(1), [row("13055", nom_du_jeune=SECRET_NAME), row("13001")]),
    )
    drop(
        landing,
        "referent.xlsx",
        report_xlsx(ident(2), [row("13055")], {"Téléphone du référent": SECRET_PHONE}),
    )
    form = json.loads(report_json(ident(3), [row("13055")]))
    form["identification"]["email"] = SECRET_MAIL
    drop(landing, "form.json", json.dumps(form).encode())
    drop(
        landing,
        "liste.csv",
        report_csv(ident(4), [row("13055", prenom=SECRET_NAME, date_naissance="01/02/2008")], 0),
    )
    caplog.set_level(logging.DEBUG)

    reports = _ingest(duck)

    assert {n: (r.status, r.reason.split(":")[0]) for n, r in reports.items()} == dict.fromkeys(
        ["noms.xlsx", "referent.xlsx", "form.json", "liste.csv"], ("quarantined", "personal_data")
    )
    assert "nom_du_jeune" in reports["noms.xlsx"].reason  # the label, to tell the sender why
    secrets = (SECRET_NAME, SECRET_PHONE, SECRET_MAIL, "01/02/2008")
    # Nowhere in the warehouse (every table, every column, as the database file holds them)...
    with Warehouse(duck).transaction() as tx:
        tables = tx.fetchall("SELECT table_schema, table_name FROM information_schema.tables")
        for schema, table in tables:
            text = tx.fetch_frame(f"SELECT * FROM {schema}.{table}").to_csv()
            assert not any(s in text for s in secrets), (schema, table)
    assert not any(s.encode() in duck.duckdb_path.read_bytes() for s in secrets)
    # ...nor in any log line, the archive, or the quarantine notes: only in the quarantined file.
    assert not any(s in caplog.text for s in secrets)
    root = Path(duck.landing_url).parent
    assert not (root / "archive").exists()
    for note in (root / "quarantine" / "associations").glob("*.reason.json"):
        assert not any(s in note.read_text(encoding="utf-8") for s in secrets)
    quarantined = [
        p
        for p in (root / "quarantine" / "associations").iterdir()
        if not p.name.endswith(".reason.json")
    ]
    assert len(quarantined) == 4


def _live(settings) -> pd.DataFrame:
    return _query(
        settings,
        f"""
        SELECT r.source_file_name, r.nb_actions_collectives FROM {al.RAW_TABLE} r
        JOIN audit.file_loads f ON f.source_file_sha256 = r.source_file_sha256
        WHERE f.status IN ('loaded', 'loaded_with_rejects') ORDER BY 1""",
    )


def test_a_newer_report_supersedes_the_older_and_the_same_bytes_load_once(settings) -> None:
    landing = Path(settings.landing_url)
    first = report_xlsx(ident(periode="2019-S1"), [row("13055", actions=5)])
    drop(landing, "s1.xlsx", first, JAN)
    drop(landing, "other.xlsx", report_xlsx(ident(periode="2019-S2"), [row("13055")]), JAN)
    assert {r.status for r in _ingest(settings).values()} == {"loaded"}

    # The corrected S1 report, and the first one again under another name.
    drop(
        landing,
        "s1_corrige.csv",
        report_csv(ident(periode="1er semestre 2019"), [row("13055", actions=6)], 0),
        MAR,
    )
    drop(landing, "s1_copie.xlsx", first, MAR)
    second = _ingest(settings)
    assert {n: r.status for n, r in second.items()} == {
        "s1_corrige.csv": "loaded",
        "s1_copie.xlsx": "duplicate",
    }
    # A stale S1 report arriving late (older than the correction) is superseded on arrival.
    stale = report_json(ident(periode="2019-S1"), [row("13055", actions=4)])
    drop(landing, "s1_ancien.json", stale, FEB)
    assert _ingest(settings)["s1_ancien.json"].status == "superseded"

    statuses = dict(
        _query(settings, "SELECT source_file_name, status FROM audit.file_loads").values
    )
    assert statuses == {
        "s1.xlsx": "superseded",
        "other.xlsx": "loaded",
        "s1_corrige.csv": "loaded",
        "s1_copie.xlsx": "duplicate",
        "s1_ancien.json": "superseded",
    }
    # History kept: every loaded report's rows stay; only the newest counts.
    raw = _query(settings, f"SELECT count(*) AS n FROM {al.RAW_TABLE}")
    assert raw["n"].iloc[0] == 4
    assert _live(settings).values.tolist() == [["other.xlsx", 8], ["s1_corrige.csv", 6]]


def test_redelivering_a_whole_batch_changes_nothing(duck) -> None:
    landing = Path(duck.landing_url)
    payloads = {
        f"r{n:02d}.xlsx": report_xlsx(ident(n), [row("13055", n + 11), row("13001")])
        for n in range(40)
    }
    for name, data in payloads.items():
        drop(landing, name, data, JAN)
    assert {r.status for r in _ingest(duck).values()} == {"loaded"}
    before = _query(duck, f"SELECT * FROM {al.RAW_TABLE} ORDER BY source_file_name, source_row")

    for name, data in payloads.items():
        drop(landing, "again/" + name, data, FEB)
    again = _ingest(duck)

    assert len(again) == 40 and {r.status for r in again.values()} == {"duplicate"}
    after = _query(duck, f"SELECT * FROM {al.RAW_TABLE} ORDER BY source_file_name, source_row")
    pd.testing.assert_frame_equal(before, after)


def test_calamine_and_openpyxl_read_a_report_the_same(monkeypatch) -> None:
    from vigie.contracts.association_template import build_workbook
    from vigie.parsing import workbook

    book = build_workbook()
    sheet = book["Identification"]
    for r, value in zip(
        range(4, 9),
        ["CNLAPS", "Club de prévention", siret(7), "2A", "2e semestre 2019"],
        strict=True,
    ):
        sheet.cell(r, 2, value)
    activity = book["Activité"]
    activity.append(["2A004", "QP02A001 QP02A002", 14, 6, 2, None, 1, 1500.5])
    import io

    buffer = io.BytesIO()
    book.save(buffer)
    data = buffer.getvalue()
    if not workbook.calamine_available():
        pytest.skip("python-calamine is not installed: only openpyxl reads workbooks")
    fast = al.read_report(data)
    monkeypatch.setattr(workbook, "calamine_available", lambda: False)
    slow = al.read_report(data)
    assert (fast.header, fast.rows, fast.row_numbers) == (slow.header, slow.rows, slow.row_numbers)
    assert fast.rows == [
        [
            "CNLAPS",
            "Club de prévention",
            siret(7),
            "2A",
            "2019-S2",
            "2A004",
            "QP02A001 QP02A002",
            "14",
            "6",
            "2",
            "",
            "1",
            "1500.5",
        ]
    ]
    assert fast.row_numbers == [203]  # appended under the 200 prepared rows


def test_a_report_the_database_refuses_waits_alone_and_the_batch_loads(duck) -> None:
    """The batch's one transaction fails; each report is retried in its own, so only the one
    the database refuses stays in the landing zone (and the run says so)."""
    from vigie.ingest import batches

    warehouse = Warehouse(duck)
    ddl = contract.RAW_TABLE.create_sql().replace(
        "structure VARCHAR NOT NULL,",
        "structure VARCHAR NOT NULL CHECK (structure <> 'Refusée par la base'),",
    )
    with warehouse.transaction() as tx:  # the table as declared, with one more constraint
        tx.execute("CREATE SCHEMA IF NOT EXISTS raw")
        tx.execute(ddl)
    batches.ensure_schema(warehouse)
    landing = Path(duck.landing_url)
    drop(landing, "a.xlsx", report_xlsx(ident(1), [row("13055")]), JAN)
    drop(
        landing,
        "b.json",
        report_json(ident(2, structure="Refusée par la base"), [row("13055")]),
        JAN,
    )
    drop(landing, "c.csv", report_csv(ident(3), [row("13001")], 0), JAN)

    with pytest.raises(RuntimeError, match=r"1 file.*b\.json"):
        _ingest(duck)

    statuses = dict(_query(duck, "SELECT source_file_name, status FROM audit.file_loads").values)
    assert statuses == {"a.xlsx": "loaded", "c.csv": "loaded"}
    assert [p.name for p in (landing / "associations").iterdir()] == ["b.json"]


def test_a_periode_refused_gives_examples_in_its_own_year(duck) -> None:
    """'T3 2019' is refused with 2019's forms, never another year's (the note and the audit)."""
    drop(Path(duck.landing_url), "t3.json", WHOLE_REPORT_FAULTS["invalid_periode"])
    report = _ingest(duck)["t3.json"]
    assert report.reason == (
        "invalid_periode: période 'T3 2019' is not 2019, 2019-S1, 2019-S2 or '1er semestre 2019'"
    )
    note = json.loads(Path(report.moved_to + ".reason.json").read_text(encoding="utf-8"))
    assert "2018" not in note["detail"]
