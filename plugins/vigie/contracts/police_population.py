"""Police-population indicators (docs/contracts/police_population.md) as data.

Why a module of data: the API client, the CSV fallback, the sample generator, the test server
and the dbt models must agree on one list of indicators and forces. The CSV fallback is
described with the shared :class:`~vigie.contracts.validation.Kind` machinery so it gets the common
file rules (encodings, dialects, header synonyms, rejects, quarantine) for free.
"""

from __future__ import annotations

import re

import pandas as pd

from vigie.contracts.raw_tables import RawTableSpec, SqlColumn
from vigie.contracts.validation import Column, Context, Kind

SOURCE = "police_population"
KIND_NAME = "indicateurs"

FORCES: tuple[str, ...] = ("PN", "GN")
INDICATORS: tuple[str, ...] = (
    "cameras_pietons_dotees",
    "cameras_pietons_enregistrements",
    "delegues_cohesion",
    "intervenants_sociaux",
    "signalements_plateforme",
    "actions_rapprochement_jeunes",
    "plan_local_communication",  # 0 or 1
)
# The columns of one row, in the order of the API's objects and of the CSV fallback.
FIELDS: tuple[str, ...] = (
    "code_departement",
    "mois",
    "force",
    "indicateur",
    "valeur",
    "publie_le",
)

MOIS_PATTERN = re.compile(r"(19|20)\d{2}-(0[1-9]|1[0-2])")
# ISO 8601 timestamps as the API writes them (offset or Z), or a plain date.
PUBLIE_LE_PATTERN = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
)
INDICATOR_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,62}")


def _mois_and_publication(typed: pd.DataFrame, ctx: Context) -> list[tuple[pd.Series, str, str]]:
    """Month ``YYYY-MM``, publication timestamp ISO 8601, indicator a snake_case name.

    An unknown indicator name is *not* invalid (the contract says to store and report it);
    only a name that could not be an indicator at all (spaces, capitals) is.
    """
    found = []
    mois = typed["mois"]
    bad_mois = mois.notna() & ~mois.str.fullmatch(MOIS_PATTERN.pattern).fillna(False)
    found.append((bad_mois, "mois", "invalid_mois"))
    published = typed["publie_le"]
    bad_pub = published.notna() & ~published.str.fullmatch(PUBLIE_LE_PATTERN.pattern).fillna(False)
    found.append((bad_pub, "publie_le", "invalid_publie_le"))
    name = typed["indicateur"]
    bad_name = name.notna() & ~name.str.fullmatch(INDICATOR_PATTERN.pattern).fillna(False)
    found.append((bad_name, "indicateur", "invalid_indicateur"))
    return found


KIND = Kind(
    source=SOURCE,
    name=KIND_NAME,
    columns=(
        Column("code_departement", "departement", True, ("dep", "departement", "code_dep")),
        Column("mois", "text", True, ("periode", "mois_reference")),
        Column(
            "force",
            "enum",
            True,
            ("force_securite",),
            labels={
                "pn": "PN",
                "policenationale": "PN",
                "police": "PN",
                "gn": "GN",
                "gendarmerienationale": "GN",
                "gendarmerie": "GN",
            },
        ),
        Column("indicateur", "text", True, ("indicator", "code_indicateur")),
        # "a number >= 0, or null when not yet available": the tolerant number parser.
        Column("valeur", "money", synonyms=("value",)),
        Column("publie_le", "text", True, ("date_publication", "publication")),
    ),
    rules=(_mois_and_publication,),
    # No supersession by (sender, period): revisions are rows with a later publie_le.
    period_columns=(),
)
KINDS: tuple[Kind, ...] = (KIND,)

# The CSV fallback's rows and the API's share one table: an API row carries its request
# (``source`` 'api', URL, page, fetch) and no file lineage, a CSV row the reverse.
RAW_TABLE = RawTableSpec(
    "raw.police_population_indicators",
    KIND,
    sql_types={"valeur": "DOUBLE PRECISION", "publie_le": "TIMESTAMP WITH TIME ZONE"},
    extra=(
        SqlColumn("source", "VARCHAR", True, default="'csv'"),
        SqlColumn("request_url", "VARCHAR"),
        SqlColumn("page", "INTEGER"),
        SqlColumn("fetched_at", "TIMESTAMP WITH TIME ZONE"),
        SqlColumn("fetch_id", "VARCHAR"),
    ),
    lineage=(
        SqlColumn("source_file_sha256", "VARCHAR"),
        SqlColumn("source_file_name", "VARCHAR"),
        SqlColumn("source_row", "INTEGER"),
        SqlColumn("source_sheet", "VARCHAR"),
        SqlColumn("loaded_at", "TIMESTAMP WITH TIME ZONE", True),
        SqlColumn("dag_run_id", "VARCHAR"),
    ),
)
RAW_TABLES = (RAW_TABLE,)
