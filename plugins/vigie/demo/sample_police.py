"""Deterministic sample of the police-population indicators (docs/contracts/police_population.md).

Why: the demo and the tests need monthly indicators for every département and both forces,
2017 to the last complete month, with magnitudes an analyst would find plausible (docs/domain.md)
and a known answer for the ``police_indicator_drop`` alert: a few clear drops (>= 20 % year on
year, or DCPP / ISCG posts falling to 0) in known départements, returned by
:func:`drops`. National figures are split per département by population and per force by a
fixed share; stocks (posts, cameras) grow along piecewise-linear national paths, flows
(recordings, reports, actions) are monthly counts. ``publie_le`` is around the 12th of the
following month, 09:00 Paris time; about 1 % of months are published again a month later with
a revised value (a revision: both rows are in the frame, the later one wins).

Same seed and ``until``, same frame: ``random.Random(seed)`` drives everything.
"""

from __future__ import annotations

import csv
import itertools
import random
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vigie.contracts.police_population import FIELDS, FORCES, INDICATORS, SOURCE
from vigie.reference.geography import load_reference

PARIS = ZoneInfo("Europe/Paris")
START = date(2017, 1, 1)
REVISION_SHARE = 0.01
# The order the demo API serves rows in, and so the order of the Parquet files it reads.
SERVING_ORDER = ["mois", "code_departement", "force", "indicateur", "publie_le"]

# National paths: (year, month) -> value, linear in between, flat outside (docs/domain.md).
NATIONAL_STOCKS: dict[str, list[tuple[tuple[int, int], float]]] = {
    # ISCG posts: ~240 end 2014, 357 end 2020, towards the 450 target.
    "intervenants_sociaux": [((2014, 12), 240), ((2020, 12), 357), ((2026, 12), 440)],
    # DCPP: 111 in 2015, slowly growing.
    "delegues_cohesion": [((2015, 6), 111), ((2020, 12), 150), ((2026, 12), 190)],
    # Body cameras: a few thousand in trials, ~21,000 in 2021, 106,000 planned mid-2022.
    "cameras_pietons_dotees": [
        ((2017, 1), 2_600),
        ((2020, 12), 10_000),
        ((2021, 6), 21_000),
        ((2022, 7), 106_000),
        ((2026, 12), 112_000),
    ],
}
# National monthly flows: IGPN/IGGN platform reports 9,565 in 2019 and 6,843 in 2022 (a year).
NATIONAL_FLOWS: dict[str, list[tuple[tuple[int, int], float]]] = {
    "signalements_plateforme": [
        ((2017, 1), 9_000 / 12),
        ((2019, 6), 9_565 / 12),
        ((2022, 6), 6_843 / 12),
        ((2026, 12), 6_500 / 12),
    ],
    "actions_rapprochement_jeunes": [((2017, 1), 900), ((2026, 12), 1_600)],
}
RECORDINGS_PER_CAMERA = 2.5  # cameras_pietons_enregistrements per camera and month
# Share of the national figure per force.
FORCE_SHARE = {
    "intervenants_sociaux": {"PN": 0.55, "GN": 0.45},
    "delegues_cohesion": {"PN": 0.75, "GN": 0.25},
    "cameras_pietons_dotees": {"PN": 0.6, "GN": 0.4},
    "cameras_pietons_enregistrements": {"PN": 0.6, "GN": 0.4},
    "signalements_plateforme": {"PN": 0.8, "GN": 0.2},
    "actions_rapprochement_jeunes": {"PN": 0.5, "GN": 0.5},
}
# Local communication plans: share of (département, force) with one, by year.
PLAN_ADOPTION = {2017: 0.3, 2020: 0.6, 2023: 0.85, 2026: 0.95}


@dataclass(frozen=True)
class Drop:
    """A planted clear drop: from ``from_mois`` on, the value is ``factor`` x what it was."""

    code_departement: str
    force: str
    indicateur: str
    from_mois: str
    factor: float


def _months(start: date, end: date) -> list[tuple[int, int]]:
    out, (year, month) = [], (start.year, start.month)
    while (year, month) <= (end.year, end.month):
        out.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def _last_complete_month(until: date) -> date:
    return (until.replace(day=1) - timedelta(days=1)).replace(day=1)


def _interpolate(path: list[tuple[tuple[int, int], float]], ym: tuple[int, int]) -> float:
    index = ym[0] * 12 + ym[1]
    points = [(y * 12 + m, v) for (y, m), v in path]
    if index <= points[0][0]:
        return points[0][1]
    for (i0, v0), (i1, v1) in itertools.pairwise(points):
        if index <= i1:
            return v0 + (v1 - v0) * (index - i0) / (i1 - i0)
    return points[-1][1]


def _adoption(year: int) -> float:
    years = sorted(PLAN_ADOPTION)
    return _interpolate([((y, 1), PLAN_ADOPTION[y]) for y in years], (year, 1))


def _population_shares() -> dict[str, float]:
    ref = load_reference()
    population = ref.communes.groupby("code_departement")["population"].sum()
    codes = list(ref.departements["code_departement"])
    total = float(sum(population.get(code, 0) for code in codes))
    # Overseas départements have communes in the snapshot; a floor keeps every share > 0.
    return {code: max(float(population.get(code, 0)), 50_000.0) / total for code in codes}


def drops(seed: int, until: date) -> list[Drop]:
    """The planted drops for ``seed`` and ``until``: the alert's known answer."""
    rng = random.Random(f"{seed}-drops")
    shares = _population_shares()
    large = sorted(shares, key=lambda c: -shares[c])[:30]
    chosen = rng.sample(large, 4)
    last = _last_complete_month(until)
    start = _months(START, last)[-4]
    mois = f"{start[0]:04d}-{start[1]:02d}"
    plan = [
        ("cameras_pietons_enregistrements", "PN", 0.55),
        ("actions_rapprochement_jeunes", "GN", 0.6),
        ("signalements_plateforme", "PN", 0.5),
        ("delegues_cohesion", "PN", 0.0),  # posts fell to 0
    ]
    return [
        Drop(code, force, indicator, mois, factor)
        for code, (indicator, force, factor) in zip(chosen, plan, strict=True)
    ]


def _published(rng: random.Random, year: int, month: int, lag_months: int) -> datetime:
    index = year * 12 + month - 1 + lag_months
    day = 12 + rng.choice((-2, -1, 0, 0, 0, 1, 2))
    moment = datetime(index // 12, index % 12 + 1, day, 9, 0, tzinfo=PARIS)
    return moment


def generate_indicators(
    seed: int, until: date, start: date = START, copies: int = 1
) -> pd.DataFrame:
    """Long frame of :data:`~vigie.contracts.police_population.FIELDS`, revisions included.

    Months from ``start`` to the last complete month before ``until``; rows published after
    ``until`` are left out (they do not exist yet). ``valeur`` is a whole number (``Int64``),
    ``publie_le`` an ISO 8601 string with the Paris offset, as the API writes it.

    ``copies`` (benchmarks) multiplies the rows: each row is republished ``copies - 1`` more
    times, one hour apart, with a value off by one (distinct revisions: the loader keeps them
    all). The default gives the same frame as before.
    """
    rng = random.Random(seed)
    shares = _population_shares()
    months = _months(start, _last_complete_month(until))
    planted = {(d.code_departement, d.force, d.indicateur): d for d in drops(seed, until)}
    records: list[tuple] = []
    for code in sorted(shares):
        share = shares[code]
        for force in FORCES:
            local = rng.uniform(0.85, 1.15)  # a département's own level, stable over time
            plan_from = None
            for year, month in months:
                mois = f"{year:04d}-{month:02d}"
                if plan_from is None and rng.random() < _adoption(year) / 24:
                    plan_from = mois
                values: dict[str, float] = {}
                for indicator, path in NATIONAL_STOCKS.items():
                    national = _interpolate(path, (year, month))
                    values[indicator] = national * share * FORCE_SHARE[indicator][force] * local
                cameras = values["cameras_pietons_dotees"]
                values["cameras_pietons_enregistrements"] = (
                    cameras * RECORDINGS_PER_CAMERA * rng.uniform(0.9, 1.1)
                )
                for indicator, path in NATIONAL_FLOWS.items():
                    national = _interpolate(path, (year, month))
                    values[indicator] = (
                        national * share * FORCE_SHARE[indicator][force] * rng.uniform(0.9, 1.1)
                    )
                values["plan_local_communication"] = float(plan_from is not None)
                published = _published(rng, year, month, 1)
                for indicator in INDICATORS:
                    value = values[indicator]
                    drop = planted.get((code, force, indicator))
                    if drop is not None and mois >= drop.from_mois:
                        value *= drop.factor
                    whole = round(value)
                    records.append((code, mois, force, indicator, whole, published.isoformat()))
                    if rng.random() < REVISION_SHARE and drop is None:
                        revised = max(0, round(value * rng.uniform(0.9, 1.1)) + rng.choice((-1, 1)))
                        later = _published(rng, year, month, 2)
                        records.append((code, mois, force, indicator, revised, later.isoformat()))
    frame = pd.DataFrame.from_records(records, columns=list(FIELDS))
    frame["valeur"] = frame["valeur"].astype("Int64")
    if copies > 1:
        frame = _republished(frame, copies)
    return _published_by(frame, until)


def _published_by(frame: pd.DataFrame, until: date) -> pd.DataFrame:
    """The rows published by the end of ``until`` (Paris time): later ones do not exist yet."""
    cutoff = datetime(until.year, until.month, until.day, 23, 59, tzinfo=PARIS)
    published_at = pd.to_datetime(frame["publie_le"], utc=True, format="ISO8601")
    return frame[published_at <= pd.Timestamp(cutoff)].reset_index(drop=True)


def write_indicators_parquet(
    path: Path | str, seed: int, until: date, start: date = START, copies: int = 1
) -> int:
    """The rows of :func:`generate_indicators` (same arguments) into a Parquet file sorted in
    the API's serving order, one month at a time; returns the number of rows.

    Why: at the benchmarks' x100 scale the frame has 17 million rows; built whole it takes
    tens of gigabytes. Here only the base rows and one month of copies are in memory, and
    :class:`vigie.demo.police_api_server.ParquetIndicators` serves the file page by page.
    """
    base = generate_indicators(seed, until, start=start)
    schema = pa.schema([(name, pa.int64() if name == "valeur" else pa.string()) for name in FIELDS])
    written = 0
    with pq.ParquetWriter(str(path), schema) as writer:
        for _, month in base.groupby("mois", sort=True):
            part = _published_by(_republished(month, copies), until) if copies > 1 else month
            part = part.sort_values(SERVING_ORDER, kind="stable")
            table = pa.Table.from_pandas(part[list(FIELDS)], schema=schema, preserve_index=False)
            writer.write_table(table, row_group_size=50_000)
            written += len(part)
    return written


def _republished(frame: pd.DataFrame, copies: int) -> pd.DataFrame:
    """``frame`` and ``copies - 1`` revisions of each row, one hour apart (benchmarks)."""
    published = pd.to_datetime(frame["publie_le"], utc=True, format="ISO8601")
    published = published.dt.tz_convert(str(PARIS))
    parts = [frame]
    for copy in range(1, copies):
        part = frame.copy()
        part["valeur"] = part["valeur"] + (1 if copy % 2 else 0)
        part["publie_le"] = (published + pd.Timedelta(hours=copy)).map(lambda t: t.isoformat())
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def summary(seed: int, until: date) -> dict:
    """What the sample holds that a test or the demo can check: the planted drops."""
    return {"drops": [asdict(d) for d in drops(seed, until)]}


def write_police_csv(out_dir: Path | str, frame: pd.DataFrame) -> list[Path]:
    """The CSV fallback: one file per year of ``mois`` under ``<out_dir>/police_population/``.

    ``;``-separated UTF-8 in the contract's column order; a null ``valeur`` is an empty cell.
    """
    folder = Path(out_dir) / SOURCE
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for year, part in frame.groupby(frame["mois"].str.slice(0, 4), sort=True):
        path = folder / f"indicateurs_{year}.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter=";", lineterminator="\n")
            writer.writerow(FIELDS)
            for row in part.itertuples(index=False):
                cells = ["" if pd.isna(v) else str(v) for v in row]
                writer.writerow(cells)
        paths.append(path)
    return paths
