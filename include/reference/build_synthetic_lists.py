"""Generate the SYNTHETIC QPV and ZSP lists (``synthetic/qpv.csv``, ``synthetic/zsp.csv``).

Why synthetic: the official ANCT list of quartiers prioritaires is not reachable offline and
there is no machine-readable list of ZSP, yet the demo, the sample landing zone and the tests
need priority territories attached to real communes. These lists imitate the real ones (counts,
densities, code schemes and, for the QPV, the exact ANCT file format with its quirks) so that the
reader is really exercised and a real file can replace them without code changes. Nothing in
them describes a real quartier.

Deterministic: a fixed seed and sorted inputs, so a rerun gives byte-identical files. Run from
the project root after ``build_reference.py``::

    uv run python include/reference/build_synthetic_lists.py

Only the standard library and pandas are used.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import random
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SEED = 20170410  # the convention's signature date
DENSE = ("93", "13", "59", "69", "95", "91", "78", "62", "76", "94")
DENSE_FACTOR = 2.5
METRO_QPV = {"2015": 1296, "2024": 1362}
OVERSEAS_QPV = {
    "2015": {"971": 27, "972": 19, "973": 32, "974": 49, "976": 36},
    "2024": {"971": 28, "972": 18, "973": 34, "974": 52, "976": 40},
}
RURAL_WITHOUT_QPV = 3  # metropolitan départements left without any QPV
URBAN_THRESHOLD = 10_000  # inhabitants: a commune counted as urban for the density weights
MULTI_COMMUNE_QPV = 12  # per geography
ZSP_WAVES = (("2012-09-15", 15), ("2012-12-01", 49), ("2013-04-15", 16))  # 64 + 16 = 80

ANCT_HEADER = [
    "code_qp",
    "lib_qp",
    "insee_reg",
    "lib_reg",
    "insee_dep",
    "lib_dep",
    "insee_com",
    "lib_com",
    "siren_epci",
    "lib_epci",
]
ZSP_HEADER = ["code_zsp", "nom", "code_departement", "communes", "force", "date_creation"]

PREFIXES = ("Quartier des", "Cité des", "Les", "Résidence des", "Le Grand Ensemble des")
NOUNS = (
    "Tilleuls", "Lilas", "Peupliers", "Acacias", "Marronniers", "Platanes", "Glycines",
    "Bleuets", "Coquelicots", "Hirondelles", "Mésanges", "Sources", "Coteaux", "Hauts-Prés",
    "Bruyères", "Genêts", "Charmes", "Érables", "Cèdres", "Châtaigniers", "Pins", "Saules",
    "Ormes", "Oliviers", "Mimosas", "Roses", "Violettes", "Jonquilles", "Pervenches",
    "Capucines", "Myosotis", "Lauriers", "Frênes", "Bouleaux", "Tamaris", "Chênes",
    "Aubépines", "Noisetiers", "Cerisiers", "Pommiers",
)  # fmt: skip


def dep3(code: str) -> str:
    """The 3-character département part of QPV/ZSP codes: ``93`` -> ``093``, ``2A`` -> ``02A``."""
    return code.rjust(3, "0")


def strip_zero(code: str) -> str:
    """What Excel does to a numeric-looking code: ``01053`` -> ``1053``, ``2A004`` unchanged."""
    return code.lstrip("0") if code.isdigit() else code


@dataclass
class Qpv:
    code: str
    name: str
    geographie: str
    dep: str
    communes: list[str] = field(default_factory=list)


@dataclass
class Geo:
    deps: pd.DataFrame
    communes: pd.DataFrame  # commune-actuelle only, population int
    regions: dict[str, str]
    epci: dict[str, str]

    @classmethod
    def load(cls, geo_dir: Path) -> Geo:
        def read(name: str) -> pd.DataFrame:
            return pd.read_csv(geo_dir / f"{name}.csv", dtype=str, keep_default_na=False)

        communes = read("communes")
        communes = communes[communes["type"] == "commune-actuelle"].copy()
        communes["population"] = communes["population"].replace("", "0").astype(int)
        return cls(
            deps=read("departements"),
            communes=communes,
            regions=dict(read("regions")[["code", "nom"]].itertuples(index=False)),
            epci=dict(read("epci")[["code", "nom"]].itertuples(index=False)),
        )


def largest_remainder(weights: dict[str, float], total: int, minimum: int = 0) -> dict[str, int]:
    """Split ``total`` in proportion to ``weights`` (each at least ``minimum``), ties by key."""
    keys = sorted(k for k, w in weights.items() if w > 0)
    base = {k: minimum for k in keys}
    rest = total - minimum * len(keys)
    weight_sum = sum(weights[k] for k in keys)
    quotas = {k: rest * weights[k] / weight_sum for k in keys}
    for k in keys:
        base[k] += int(quotas[k])
    left = total - sum(base.values())
    order = sorted(keys, key=lambda k: (-(quotas[k] - int(quotas[k])), k))
    for k in order[:left]:
        base[k] += 1
    return base


def qpv_counts(geo: Geo) -> tuple[dict[str, dict[str, int]], list[str]]:
    """QPV per département and geography, and the rural départements left without any.

    Weight: population of the communes of 10,000+ inhabitants (to the power 0.8, so the
    largest cities do not take everything), times 2.5 in the ten départements the domain notes
    call dense. The three metropolitan départements with the smallest such urban population
    get none; every other one gets at least one.
    """
    urban = (
        geo.communes[geo.communes["population"] >= URBAN_THRESHOLD]
        .groupby("departement")["population"]
        .sum()
    )
    metro = [d for d in geo.deps["code"] if not d.startswith("97")]
    urban_pop = {d: int(urban.get(d, 0)) for d in metro}
    without = sorted(metro, key=lambda d: (urban_pop[d], d))[:RURAL_WITHOUT_QPV]
    weights = {
        d: (max(urban_pop[d], 1) ** 0.8) * (DENSE_FACTOR if d in DENSE else 1.0)
        for d in metro
        if d not in without
    }
    counts = {}
    for geographie, total in METRO_QPV.items():
        counts[geographie] = largest_remainder(weights, total, minimum=1)
        counts[geographie].update(OVERSEAS_QPV[geographie])
    return counts, sorted(without)


def attach_communes(dep_communes: pd.DataFrame, n: int) -> list[str]:
    """The commune of each of ``n`` QPV: densest first, a big city holding several.

    A divisor method on population (``pop / (k+1)**1.5`` after ``k`` QPV) gives Marseille or
    Saint-Denis several quartiers before a small town gets its first one.
    """
    ranked = dep_communes.sort_values(["population", "code"], ascending=[False, True]).head(60)
    pops = dict(zip(ranked["code"], ranked["population"], strict=True))
    assigned = dict.fromkeys(pops, 0)
    out = []
    for _ in range(n):
        best = max(pops, key=lambda c: (pops[c] / (assigned[c] + 1) ** 1.5, c))
        assigned[best] += 1
        out.append(best)
    return out


def make_qpv(geo: Geo, rng: random.Random) -> tuple[list[Qpv], list[str]]:
    counts, without = qpv_counts(geo)
    by_dep = {d: frame for d, frame in geo.communes.groupby("departement")}
    qpvs: list[Qpv] = []
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    for dep in geo.deps["code"]:
        names = [f"{p} {n}" for p in PREFIXES for n in NOUNS]
        rng.shuffle(names)
        n15 = counts["2015"].get(dep, 0)
        n24 = counts["2024"].get(dep, 0)
        communes = attach_communes(by_dep[dep], max(n15, n24)) if max(n15, n24) else []
        for i in range(n15):
            qpvs.append(Qpv(f"QP{dep3(dep)}{i + 1:03d}", names[i], "2015", dep, [communes[i]]))
        used: set[str] = set()
        for i in range(n24):
            # Most 2024 quartiers continue a 2015 one (same name and commune), a few are new.
            name = names[i] if i < n15 and rng.random() < 0.85 else names[-(i + 1)]
            while True:
                code = f"QN{dep3(dep)}{i % 99 + 1:02d}{rng.choice(letters)}"
                if code not in used:
                    used.add(code)
                    break
            qpvs.append(Qpv(code, name, "2024", dep, [communes[i]]))
    add_second_communes(qpvs, geo, rng)
    return qpvs, without


def add_second_communes(qpvs: list[Qpv], geo: Geo, rng: random.Random) -> None:
    """A few QPV span two communes of the same EPCI (the most populous other member)."""
    communes = geo.communes.set_index("code")
    for geographie in ("2015", "2024"):
        candidates = [q for q in qpvs if q.geographie == geographie]
        rng.shuffle(candidates)
        done = 0
        for qpv in candidates:
            if done == MULTI_COMMUNE_QPV:
                break
            first = communes.loc[qpv.communes[0]]
            if not first["epci"]:
                continue
            partners = communes[
                (communes["epci"] == first["epci"])
                & (communes["departement"] == qpv.dep)
                & (communes.index != qpv.communes[0])
                & (communes["population"] >= 5_000)
            ].sort_values(["population"], ascending=False)
            if partners.empty:
                continue
            qpv.communes.append(str(partners.index[0]))
            done += 1


def anct_rows(qpvs: list[Qpv], geo: Geo, rng: random.Random) -> list[list[str]]:
    """Rows in the ANCT layout, with the quirks a real download has.

    2015 rows lost the leading zeros Excel drops (``1``, ``1053``, region ``1``); multi-commune
    cells are ``"02571; 02691"`` or Excel-protected ``="13055;13070"``; a few single-commune
    cells are protected too; some rows carry a trailing empty column.
    """
    deps = geo.deps.set_index("code")
    communes = geo.communes.set_index("code")
    rows = []
    multi_seen = 0
    for index, qpv in enumerate(sorted(qpvs, key=lambda q: (q.geographie, q.code))):
        dep = deps.loc[qpv.dep]
        region = str(dep["region"])
        first = communes.loc[qpv.communes[0]]
        names = [str(communes.loc[c, "nom"]) for c in qpv.communes]
        old = qpv.geographie == "2015"
        if len(qpv.communes) > 1:
            multi_seen += 1
            if multi_seen % 2:
                com_cell, lib_cell = "; ".join(qpv.communes), "; ".join(names)
            else:
                com_cell, lib_cell = f'="{";".join(qpv.communes)}"', ";".join(names)
        elif index % 97 == 5:
            com_cell, lib_cell = f'="{qpv.communes[0]}"', names[0]
        else:
            com_cell = strip_zero(qpv.communes[0]) if old else qpv.communes[0]
            lib_cell = names[0]
        row = [
            qpv.code,
            qpv.name,
            strip_zero(region) if old else region,
            geo.regions[region],
            strip_zero(qpv.dep) if old else qpv.dep,
            str(dep["nom"]),
            com_cell,
            lib_cell,
            str(first["epci"]),
            geo.epci.get(str(first["epci"]), ""),
        ]
        if index % 37 == 11:
            row.append("")
        rows.append(row)
    return rows


def write_anct(path: Path, rows: list[list[str]]) -> None:
    """UTF-8 with BOM, ``;``, CRLF, and an empty trailing row, as the ANCT download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(ANCT_HEADER)
    writer.writerows(rows)
    writer.writerow([""] * len(ANCT_HEADER))
    path.write_bytes(b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8"))


def make_zsp(qpvs: list[Qpv], geo: Geo, rng: random.Random) -> list[list[str]]:
    """80 ZSP where the 2015 QPV are densest, one to three communes each, in three waves."""
    communes = geo.communes.set_index("code")
    per_dep: dict[str, list[Qpv]] = {}
    for qpv in qpvs:
        if qpv.geographie == "2015":
            per_dep.setdefault(qpv.dep, []).append(qpv)
    # Divisor method with a steep divisor: many départements get one, the densest up to ~4.
    assigned = dict.fromkeys(per_dep, 0)
    total = sum(n for _, n in ZSP_WAVES)
    for _ in range(total):
        best = max(assigned, key=lambda d: (len(per_dep[d]) / (assigned[d] + 1) ** 1.6, d))
        assigned[best] += 1
    zones: list[tuple[str, str, str, list[str]]] = []
    for dep in sorted(d for d in assigned if assigned[d]):
        seen: list[str] = []
        for qpv in per_dep[dep]:
            if qpv.communes[0] not in seen:
                seen.append(qpv.communes[0])
        towns = communes[
            (communes["departement"] == dep)
            & communes["population"].between(4_000, 19_999)
            & ~communes.index.isin(seen)
        ].sort_values(["population"], ascending=False)
        for k in range(assigned[dep]):
            main = seen[k % len(seen)]
            quartier = next(q for q in per_dep[dep] if q.communes[0] == main).name
            if k and len(towns) >= k and rng.random() < 0.5:
                # A gendarmerie zone around a smaller town (the real list had some).
                main = str(towns.index[k - 1])
                quartier = ""
            zone_communes = [main]
            if rng.random() < 0.25:
                first = communes.loc[main]
                others = communes[
                    (communes["epci"] == first["epci"])
                    & (communes["departement"] == dep)
                    & (communes.index != main)
                    & bool(first["epci"])
                    & ((communes["population"] < 20_000) | bool(quartier))
                ].sort_values("population", ascending=False)
                zone_communes += [str(c) for c in others.index[: rng.randint(1, 2)]]
            town = communes.loc[main, "nom"]
            name = f"ZSP {town} – {quartier}" if quartier else f"ZSP {town} et environs"
            zones.append((f"ZSP{dep3(dep)}{k + 1:02d}", name, dep, zone_communes))
    dates = [d for d, n in ZSP_WAVES for _ in range(n)]
    order = list(range(len(zones)))
    rng.shuffle(order)
    rows = []
    for position, zone_index in enumerate(order):
        code, name, dep, zone_communes = zones[zone_index]
        pops = [int(communes.loc[c, "population"]) for c in zone_communes]
        forces = {"PN" if p >= 20_000 else "GN" for p in pops}
        force = forces.pop() if len(forces) == 1 else "mixte"
        rows.append([code, name, dep, "|".join(zone_communes), force, dates[position]])
    return sorted(rows)


def write_zsp(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(ZSP_HEADER)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def update_source_md(
    path: Path, qpvs: list[Qpv], zsp_rows: list[list[str]], geo: Geo, without: list[str]
) -> None:
    """Rewrite the synthetic section of ``SOURCE.md`` (``build_reference.py`` keeps it)."""
    deps = dict(geo.deps[["code", "nom"]].itertuples(index=False))
    counts = {g: sum(q.geographie == g for q in qpvs) for g in ("2015", "2024")}
    metro = {g: sum(q.geographie == g and not q.dep.startswith("97") for q in qpvs) for g in counts}
    years = {}
    for row in zsp_rows:
        years[row[5][:4]] = years.get(row[5][:4], 0) + 1
    none_text = ", ".join(f"`{d}` {deps[d]}" for d in without)
    section = f"""<!-- synthetic:start -->
## Synthetic lists (`synthetic/`): NOT real data

`synthetic/qpv.csv` and `synthetic/zsp.csv` are SYNTHETIC. They are generated by
`include/reference/build_synthetic_lists.py` (fixed seed {SEED}, deterministic) from the real
communes of `geo/communes.csv`, for the demo, the sample landing zone and the tests. The
quartiers' names and perimeters are invented; only the communes they are attached to are real.
Do not publish figures computed on them. To use the real lists, point `VIGIE_REFERENCE_DIR`
at a directory holding the ANCT file renamed `qpv.csv` (read as downloaded) and/or a `zsp.csv`
(see `synthetic/README.md`).

- QPV, 2015 geography: {counts["2015"]} ({metro["2015"]} metropolitan), codes `QP` + 3-character
  département + 3 digits; 2024 geography: {counts["2024"]} ({metro["2024"]} metropolitan), codes
  `QN` + 3-character département + 2 digits + a letter. Densest in {", ".join(DENSE)}.
- Rural départements deliberately left without any QPV (the {RURAL_WITHOUT_QPV} metropolitan
  départements with the smallest population in communes of {URBAN_THRESHOLD:,}+ inhabitants):
  {none_text}.
- ZSP: {len(zsp_rows)} zones ({", ".join(f"{n} created in {y}" for y, n in sorted(years.items()))}),
  codes `ZSP` + 3-character département + 2 digits.
<!-- synthetic:end -->"""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    if "<!-- synthetic:start -->" in text:
        text = re.sub(
            r"<!-- synthetic:start -->.*?<!-- synthetic:end -->",
            lambda _: section,
            text,
            flags=re.S,
        )
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference-dir", type=Path, default=HERE)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    geo = Geo.load(args.reference_dir / "geo")
    rng = random.Random(args.seed)
    qpvs, without = make_qpv(geo, rng)
    out = args.reference_dir / "synthetic"
    out.mkdir(parents=True, exist_ok=True)
    write_anct(out / "qpv.csv", anct_rows(qpvs, geo, rng))
    zsp_rows = make_zsp(qpvs, geo, rng)
    write_zsp(out / "zsp.csv", zsp_rows)
    update_source_md(args.reference_dir / "SOURCE.md", qpvs, zsp_rows, geo, without)
    n15 = sum(q.geographie == "2015" for q in qpvs)
    print(
        f"qpv: {n15} (2015) + {len(qpvs) - n15} (2024); zsp: {len(zsp_rows)}; "
        f"without QPV: {', '.join(without)}; "
        f"largest: {math.floor(max(len(q.communes) for q in qpvs))} communes in one QPV"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
