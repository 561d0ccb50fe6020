"""Each raw table is declared once, in its source's contract: the warehouse and dbt agree with it.

The loaders create the tables from the declarations (:mod:`vigie.contracts.raw_tables`); dbt's
sources list the same columns with the same types, so a column added to a contract and not to
the dbt sources (or the reverse) fails here rather than in a model months later.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from vigie.contracts.catalog import RAW_TABLES
from vigie.contracts.raw_tables import RawTableSpec
from vigie.ingest.batches import ensure_schema
from vigie.settings import SOURCE_TREE_ROOT, Settings
from vigie.warehouse.connection import Warehouse

from tests.conftest import make_settings

SPECS = list(RAW_TABLES.values())
IDS = [spec.name for spec in SPECS]


def _dbt_source_columns(schema: str, table: str) -> list[tuple[str, str]]:
    """(name, data_type) of the dbt source table ``schema.table``, from its sources yml."""
    found = []
    for path in (SOURCE_TREE_ROOT / "dbt_project" / "models").rglob("_*__sources.yml"):
        for source in yaml.safe_load(Path(path).read_text())["sources"]:
            if source.get("schema", source["name"]) != schema:
                continue
            for declared in source.get("tables", []):
                if declared["name"] == table:
                    found.append(
                        [(c["name"], str(c.get("data_type"))) for c in declared.get("columns", [])]
                    )
    assert len(found) == 1, f"{schema}.{table}: declared {len(found)} times in the dbt sources"
    return found[0]


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_dbt_sources_declare_the_contract_columns_and_types(spec: RawTableSpec) -> None:
    schema, table = spec.name.split(".")
    expected = [(c.name, c.sql_type.lower()) for c in spec.columns]
    assert _dbt_source_columns(schema, table) == expected


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_a_required_contract_column_is_not_null_in_the_warehouse(
    spec: RawTableSpec, settings_on_both_engines: Settings
) -> None:
    warehouse = Warehouse(settings_on_both_engines)
    ensure_schema(warehouse)
    schema, table = spec.name.split(".")
    with warehouse.transaction() as tx:
        rows = tx.fetchall(
            "SELECT column_name, is_nullable FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            [schema, table],
        )
    assert [name for name, _ in rows] == [c.name for c in spec.columns]
    not_null = {name for name, nullable in rows if nullable == "NO"}
    assert not_null == {c.name for c in spec.columns if c.not_null}
    required = {c.name for c in spec.kind.columns if c.required}
    assert required <= not_null  # the contract's required columns, refused NULL by the database


def test_creating_the_tables_again_keeps_their_rows(tmp_path: Path) -> None:
    """Raw tables hold years of history: a second start never drops or empties them."""
    warehouse = Warehouse(make_settings(tmp_path))
    ensure_schema(warehouse)
    with warehouse.transaction() as tx:
        tx.execute(
            "INSERT INTO raw.prefecture_contrats_de_ville (code_departement, annee, contrat_id, "
            "nom_contrat, plan_radicalisation, source_file_sha256, source_file_name, "
            "source_row, loaded_at) VALUES ('93', 2025, 'CV-93-01', 'Contrat', 'oui', 'x', "
            "'f.csv', 2, CURRENT_TIMESTAMP)"
        )
    ensure_schema(warehouse)
    with warehouse.transaction() as tx:
        assert tx.fetchall("SELECT count(*) FROM raw.prefecture_contrats_de_ville") == [(1,)]
