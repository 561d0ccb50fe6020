"""Reference data: official geography, QPV and ZSP lists, and code normalisation.

Why this module: every source names territories with codes that senders mangle (Excel drops
leading zeros, protects them with ``="..."``, lower-cases ``2a``). Validation must compare
them with one reference, of a known vintage, that an operator can replace by the real lists
without touching code. Pure functions over pandas; no Airflow import, so the CLI, the tests and
the DAG tasks share it.

Layout (``include/reference/``): ``geo/`` is the real geography snapshot (always used);
``synthetic/qpv.csv`` and ``synthetic/zsp.csv`` are the clearly labelled synthetic lists used
unless a reference directory (``VIGIE_REFERENCE_DIR``) provides real ones.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from vigie.settings import SOURCE_TREE_ROOT, get_settings

SHIPPED_DIR: Path = Path(SOURCE_TREE_ROOT) / "include" / "reference"

QPV_2015 = re.compile(r"QP(?:\d{3}|0[12][AB])\d{3}")
QPV_2024 = re.compile(r"QN(?:\d{3}|0[12][AB])\d{2}[A-Z]")
_DEP_PART = r"(?:0[1-9]|1\d|2[1-9]|[3-8]\d|9[0-5])"  # 01-95 without 20
_VALID_DEPARTEMENT = rf"{_DEP_PART}|2[AB]|97[1-46]"
_VALID_COMMUNE = rf"{_DEP_PART}\d{{3}}|2[AB]\d{{3}}|97[1-46]\d{{2}}"
_LIST_SPLIT = r"[;,|\s]+"
ANCT_COLUMNS = ("code_qp", "lib_qp", "insee_dep", "insee_com")
ZSP_FORCES = {
    "pn": "PN",
    "police": "PN",
    "policenationale": "PN",
    "gn": "GN",
    "gendarmerie": "GN",
    "gendarmerienationale": "GN",
    "mixte": "mixte",
    "mixed": "mixte",
    "pngn": "mixte",
}


@dataclass(frozen=True)
class ReferenceData:
    """The lists in force. Frames are shared by a cache: copy before mutating."""

    departements: pd.DataFrame  # code_departement, nom_departement, code_region
    communes: pd.DataFrame  # code_commune, nom_commune, code_departement, type, population,
    # siren_epci
    qpv: pd.DataFrame  # code_qpv, nom_qpv, geographie ('2015'|'2024'), code_departement,
    # codes_communes ('|'-joined 5-character codes)
    zsp: pd.DataFrame  # code_zsp, nom_zsp, code_departement, codes_communes, force,
    # date_creation (ISO text)
    epci: pd.DataFrame  # siren_epci, nom_epci (the EPCI à fiscalité propre with a member here)


# --- code normalisation -------------------------------------------------------------------


def _clean_codes(values: pd.Series) -> pd.Series:
    """Strip, upper-case, unwrap Excel's ``="..."`` and a spreadsheet's ``.0``."""
    text = values.astype("string").str.strip().str.upper()
    text = text.str.replace(r'^="(.*)"$', r"\1", regex=True).str.strip()
    return text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)


def normalise_departement(values: pd.Series) -> pd.Series:
    """Département codes as senders write them -> canonical code, or ``<NA>`` if malformed.

    ``1`` -> ``01`` (Excel dropped the zero), ``2a`` -> ``2A``, `` 93 `` -> ``93``, ``093`` /
    ``02A`` (the 3-character form inside QPV codes) -> ``93`` / ``2A``, ``971`` stays. ``20``
    (abolished in 1976), ``975`` and other collectivités d'outre-mer, empty or non-codes give
    ``<NA>``. Pure syntax: whether the code is in the reference is the caller's question.
    """
    text = _clean_codes(values)
    short = text.str.fullmatch(r"\d{1,2}").fillna(False)
    text = text.mask(short, text.str.zfill(2))
    three = text.str.fullmatch(r"0(?:\d{2}|2[AB])").fillna(False)
    text = text.mask(three, text.str.slice(1))
    valid = text.str.fullmatch(_VALID_DEPARTEMENT).fillna(False)
    return text.where(valid, pd.NA).astype("string")


def normalise_commune(values: pd.Series) -> pd.Series:
    """Commune codes -> 5-character INSEE code, or ``<NA>`` if malformed.

    Strips blanks, unwraps ``="01053"``, restores the zero Excel dropped (``1053`` ->
    ``01053``) and upper-cases Corsica (``2a004`` -> ``2A004``). Codes of abolished ``20``,
    of collectivités d'outre-mer (``975..``, ``98...``) or of any other shape give ``<NA>``.
    """
    text = _clean_codes(values)
    four = text.str.fullmatch(r"\d{4}").fillna(False)
    text = text.mask(four, text.str.zfill(5))
    valid = text.str.fullmatch(_VALID_COMMUNE).fillna(False)
    return text.where(valid, pd.NA).astype("string")


def qpv_geographie(codes: pd.Series) -> pd.Series:
    """``QP...`` -> ``'2015'``, ``QN...`` -> ``'2024'``, anything else -> ``<NA>``."""
    text = codes.astype("string")
    out = pd.Series(pd.NA, index=codes.index, dtype="string")
    out = out.mask(text.str.fullmatch(QPV_2015.pattern).fillna(False), "2015")
    return out.mask(text.str.fullmatch(QPV_2024.pattern).fillna(False), "2024")


# --- file readers -------------------------------------------------------------------------


def _decode(path: Path) -> str:
    """UTF-8 (BOM or not) as published; cp1252 if someone re-saved it in Excel."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def _read_rows(path: Path, required: tuple[str, ...]) -> tuple[dict[str, int], list[tuple]]:
    """Header positions (lower-cased names) and ``(line number, cells)`` of non-empty rows."""
    text = _decode(path)
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = max((";", ",", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: dict[str, int] | None = None
    rows: list[tuple[int, list[str]]] = []
    for cells in reader:
        cells = [c.strip() for c in cells]
        while cells and not cells[-1]:
            cells.pop()
        if not cells:
            continue
        if header is None:
            header = {}
            for position, name in enumerate(cells):
                header.setdefault(name.strip().strip('"').lower(), position)
            missing = [c for c in required if c not in header]
            if missing:
                raise ValueError(f"{path}: row {reader.line_num}: header lacks {missing}")
            continue
        rows.append((reader.line_num, cells))
    if header is None:
        raise ValueError(f"{path}: empty file")
    return header, rows


def _column(header: dict[str, int], rows: list[tuple], *names: str) -> pd.Series:
    position = next((header[n] for n in names if n in header), None)
    values = [
        cells[position] if position is not None and position < len(cells) else ""
        for _, cells in rows
    ]
    return pd.Series(values, index=[number for number, _ in rows], dtype="string")


def commune_departement(codes: pd.Series) -> pd.Series:
    """``93066`` -> ``93``, ``2A004`` -> ``2A``, ``97411`` -> ``974`` (5-character codes)."""
    return codes.str.slice(0, 2).where(~codes.str.startswith("97"), codes.str.slice(0, 3))


def _split_communes(path: Path, cells: pd.Series, deps: pd.Series, what: str) -> pd.Series:
    """Multi-commune cells (``"02571; 02691"``, ``="13055;13070"``) -> ``02571|02691``.

    Each commune must lie in the row's département: a code restored to the wrong one (a
    mangled ``9306``) is refused rather than attached to another département's commune.
    """
    unwrapped = cells.str.strip().str.replace(r'^="(.*)"$', r"\1", regex=True)
    parts = unwrapped.str.split(_LIST_SPLIT, regex=True).explode()
    parts = parts[parts.notna() & (parts != "")]
    codes = normalise_commune(parts)
    bad = codes.isna()
    if bad.any():
        row = bad[bad].index[0]
        raise ValueError(f"{path}: row {row}: {what} {parts[bad].iloc[0]!r} is not a commune code")
    elsewhere = commune_departement(codes) != deps.reindex(codes.index)
    if elsewhere.any():
        row = elsewhere[elsewhere].index[0]
        raise ValueError(
            f"{path}: row {row}: {what} {parts[elsewhere].iloc[0]!r} is not a commune of "
            f"département {deps[row]}"
        )
    joined = codes.groupby(level=0, sort=False).agg(lambda s: "|".join(dict.fromkeys(s)))
    missing = cells.index.difference(joined.index)
    if len(missing):
        raise ValueError(f"{path}: row {missing[0]}: {what} is empty")
    return joined.reindex(cells.index).astype("string")


def read_anct_qpv(path: Path) -> pd.DataFrame:
    """Read the ANCT QPV list exactly as downloaded (both geographies may share one file).

    Tolerates what the real download does: a BOM, leading zeros lost (``1``, ``1053``), a QPV
    spanning communes listed in one cell (split on ``;``, ``,``, ``|`` or blanks),
    Excel-protected cells (``="13055;13070"``), trailing empty columns and empty rows. A QPV
    listed on several rows (one per commune) is merged. The geography comes from the code:
    ``QP`` -> ``'2015'``, ``QN`` -> ``'2024'``. Anything else is refused loudly (``ValueError``
    naming the file, the row and the reason): a silently wrong priority list would skew every
    share computed on it.
    """
    path = Path(path)
    header, rows = _read_rows(path, ANCT_COLUMNS)
    codes = _clean_codes(_column(header, rows, "code_qp"))
    geographie = qpv_geographie(codes)
    bad = geographie.isna()
    if bad.any():
        row = bad[bad].index[0]
        raise ValueError(
            f"{path}: row {row}: code_qp {codes[row]!r} matches neither the 2015 pattern "
            "(QP + 3-character département + 3 digits) nor the 2024 one "
            "(QN + 3-character département + 2 digits + a letter)"
        )
    from_code = normalise_departement(codes.str.slice(2, 5))
    written = _column(header, rows, "insee_dep")
    dep = normalise_departement(written)
    wrong = (written.str.strip() != "") & (dep.isna() | (dep != from_code)).fillna(True)
    if wrong.any():
        row = wrong[wrong].index[0]
        raise ValueError(
            f"{path}: row {row}: insee_dep {written[row]!r} does not match the département "
            f"of {codes[row]} ({from_code[row]})"
        )
    communes = _split_communes(path, _column(header, rows, "insee_com"), from_code, "insee_com")
    frame = pd.DataFrame(
        {
            "code_qpv": codes,
            "nom_qpv": _column(header, rows, "lib_qp").str.strip(),
            "geographie": geographie,
            "code_departement": from_code,
            "codes_communes": communes,
        }
    )
    merged = frame.groupby("code_qpv", sort=False).agg(
        nom_qpv=("nom_qpv", "first"),
        geographie=("geographie", "first"),
        code_departement=("code_departement", "first"),
        codes_communes=(
            "codes_communes",
            lambda s: "|".join(dict.fromkeys("|".join(s).split("|"))),
        ),
    )
    return merged.reset_index().astype("string")


def read_zsp(path: Path) -> pd.DataFrame:
    """Read a ZSP list (``code_zsp;nom;code_departement;communes;force;date_creation``).

    Same tolerance as the QPV reader for codes and commune lists; ``force`` accepts ``PN``,
    ``GN``, ``mixte`` (and ``police``, ``gendarmerie``); dates ``yyyy-mm-dd`` or
    ``dd/mm/yyyy``. Errors name the file and row.
    """
    path = Path(path)
    header, rows = _read_rows(path, ("code_zsp", "code_departement", "force"))
    codes = _clean_codes(_column(header, rows, "code_zsp"))
    empty = codes.isna() | (codes == "")
    if empty.any():
        raise ValueError(f"{path}: row {empty[empty].index[0]}: code_zsp is empty")
    written = _column(header, rows, "code_departement")
    dep = normalise_departement(written)
    if dep.isna().any():
        row = dep[dep.isna()].index[0]
        raise ValueError(f"{path}: row {row}: code_departement {written[row]!r} is not valid")
    raw_force = _column(header, rows, "force")
    force = raw_force.str.lower().str.replace(r"[^a-z]", "", regex=True).map(ZSP_FORCES)
    if force.isna().any():
        row = force[force.isna()].index[0]
        raise ValueError(f"{path}: row {row}: force {raw_force[row]!r} is not PN, GN or mixte")
    raw_date = _column(header, rows, "date_creation").str.strip()
    iso = pd.to_datetime(raw_date, format="%Y-%m-%d", errors="coerce")
    french = pd.to_datetime(raw_date, format="%d/%m/%Y", errors="coerce")
    created = iso.fillna(french)
    bad_date = created.isna() & (raw_date != "")
    if bad_date.any():
        row = bad_date[bad_date].index[0]
        raise ValueError(f"{path}: row {row}: date_creation {raw_date[row]!r} is not a date")
    frame = pd.DataFrame(
        {
            "code_zsp": codes,
            "nom_zsp": _column(header, rows, "nom", "nom_zsp").str.strip(),
            "code_departement": dep,
            "codes_communes": _split_communes(
                path, _column(header, rows, "communes", "codes_communes"), dep, "communes"
            ),
            "force": force,
            "date_creation": created.dt.strftime("%Y-%m-%d"),
        }
    )
    duplicated = frame["code_zsp"].duplicated()
    if duplicated.any():
        row = duplicated[duplicated].index[0]
        raise ValueError(f"{path}: row {row}: code_zsp {codes[row]!r} appears twice")
    return frame.reset_index(drop=True).astype("string")


# --- loading ------------------------------------------------------------------------------


def shipped_dir() -> Path:
    """``include/reference`` of the deployment (``VIGIE_HOME``), else of the source tree.

    A deployment may set ``VIGIE_HOME`` to a directory that does not carry ``include/``; the
    shipped snapshot in the source tree is then the one to use.
    """
    candidate = get_settings().include_dir / "reference"
    return candidate if (candidate / "geo" / "departements.csv").is_file() else SHIPPED_DIR


def _read_geo(geo_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(geo_dir / f"{name}.csv", dtype="string", keep_default_na=False)

    deps = read("departements").rename(
        columns={"code": "code_departement", "nom": "nom_departement", "region": "code_region"}
    )
    communes = read("communes").rename(
        columns={
            "code": "code_commune",
            "nom": "nom_commune",
            "departement": "code_departement",
            "epci": "siren_epci",
        }
    )
    communes["population"] = pd.to_numeric(communes["population"].replace("", pd.NA)).astype(
        "Int64"
    )
    communes["siren_epci"] = communes["siren_epci"].replace("", pd.NA)
    epci = read("epci").rename(columns={"code": "siren_epci", "nom": "nom_epci"})
    return deps, communes, epci


def _pick(name: str, reference_dir: Path | None, shipped: Path) -> Path:
    if reference_dir is not None and (reference_dir / name).is_file():
        return reference_dir / name
    return shipped / "synthetic" / name


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


@lru_cache(maxsize=8)
def _load(shipped: Path, qpv: tuple[str, int, int], zsp: tuple[str, int, int]) -> ReferenceData:
    departements, communes, epci = _read_geo(shipped / "geo")
    return ReferenceData(
        departements=departements,
        communes=communes,
        qpv=read_anct_qpv(Path(qpv[0])),
        zsp=read_zsp(Path(zsp[0])),
        epci=epci,
    )


def load_reference(reference_dir: Path | None = None) -> ReferenceData:
    """The reference in force: shipped geography, QPV/ZSP from ``reference_dir`` if given.

    Each of ``qpv.csv`` (ANCT format) and ``zsp.csv`` is taken from ``reference_dir`` when it is
    there and from the shipped synthetic lists otherwise, so an operator can replace one list
    alone. Callers pass ``get_settings().reference_dir`` (``VIGIE_REFERENCE_DIR``). The result
    is cached per directory and file version (path, mtime, size): a replaced file is re-read.
    """
    shipped = shipped_dir()
    directory = Path(reference_dir).expanduser().resolve() if reference_dir else None
    return _load(
        shipped,
        _stamp(_pick("qpv.csv", directory, shipped)),
        _stamp(_pick("zsp.csv", directory, shipped)),
    )
