"""Every source's raw tables, by (source, kind): what the shared file loader writes into."""

from __future__ import annotations

from vigie.contracts import associations, police_population, prefectures
from vigie.contracts.raw_tables import RawTableSpec
from vigie.contracts.validation import Kind

RAW_TABLES: dict[tuple[str, str], RawTableSpec] = {
    (spec.kind.source, spec.kind.name): spec
    for module in (prefectures, police_population, associations)
    for spec in module.RAW_TABLES
}


def raw_table(kind: Kind | tuple[str, str]) -> RawTableSpec:
    """The raw table a kind's valid rows go to."""
    key = (kind.source, kind.name) if isinstance(kind, Kind) else kind
    return RAW_TABLES[key]
