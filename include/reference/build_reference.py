"""Rebuild the geography snapshot (``geo/*.csv``) from ``@etalab/decoupage-administratif``.

Why a snapshot: the platform must validate codes offline and reproducibly, and the official
geography changes every year (commune mergers), so the project keeps the vintage it validates
against in the repository, with a record of where it came from (``SOURCE.md``).

Usage (from the project root)::

    cd /tmp && npm pack @etalab/decoupage-administratif@6.0.0
    uv run python include/reference/build_reference.py \\
        /tmp/etalab-decoupage-administratif-6.0.0.tgz

The argument is the npm tarball or the directory it was extracted to (the one holding
``package.json`` and ``data/``). Only the standard library and pandas are used.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
from datetime import date
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
PACKAGE = "@etalab/decoupage-administratif"
# The 101 départements: metropolitan France (with 2A/2B) and the five overseas départements.
# The package also lists the collectivités d'outre-mer (975, 977, 978, 984, 986-989), which
# are outside the FIPD programme's départements and are left out.
KEPT_ZONES = {"metro", "drom"}
KEPT_COMMUNE_TYPES = ("commune-actuelle", "arrondissement-municipal")
SYNTHETIC_START = "<!-- synthetic:start -->"
SYNTHETIC_END = "<!-- synthetic:end -->"


class PackageSource:
    """Reads ``package.json`` and ``data/*.json`` from a tarball or an extracted directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file() and not (path / "data").is_dir():
            raise SystemExit(f"{path}: neither an npm tarball nor a directory holding data/")

    def read_text(self, relative: str) -> str:
        if not self.path.is_file():
            return (self.path / relative).read_text(encoding="utf-8")
        with tarfile.open(self.path, "r:*") as archive:
            # npm tarballs put everything under ``package/``.
            try:
                member = archive.extractfile(f"package/{relative}")
            except KeyError:
                member = None
            if member is None:
                raise SystemExit(f"{self.path}: no {relative} in the tarball")
            return io.TextIOWrapper(member, encoding="utf-8").read()

    def read_json(self, relative: str) -> object:
        return json.loads(self.read_text(relative))

    def vintage(self, version: str) -> str:
        """The geography year of ``version``, from the README's "Millésimes" table."""
        try:
            readme = self.read_text("README.md")
        except (SystemExit, OSError):
            return "unknown"
        match = re.search(rf"^\|\s*(\d{{4}})\s*\|\s*{re.escape(version)}\s*\|", readme, re.M)
        return match.group(1) if match else "unknown"


def build_frames(source: PackageSource) -> dict[str, pd.DataFrame]:
    """The four CSV tables, restricted to the 101 départements."""
    raw_deps = source.read_json("data/departements.json")
    departements = pd.DataFrame(
        [
            {"code": d["code"], "nom": d["nom"], "region": d["region"]}
            for d in raw_deps  # type: ignore[union-attr]
            if d.get("zone") in KEPT_ZONES
        ]
    )
    if len(departements) != 101:
        raise SystemExit(f"expected 101 départements, the package has {len(departements)}")
    kept = set(departements["code"])

    epci_raw = source.read_json("data/epci.json")
    epci_of: dict[str, str] = {}
    for epci in epci_raw:  # type: ignore[union-attr]
        for member in epci["membres"]:
            epci_of[member["code"]] = epci["code"]

    rows = []
    for c in source.read_json("data/communes.json"):  # type: ignore[union-attr]
        if c.get("type") not in KEPT_COMMUNE_TYPES or c.get("departement") not in kept:
            continue
        # Arrondissements municipaux are not EPCI members themselves: their city's EPCI.
        epci_key = c["code"] if c["type"] == "commune-actuelle" else c.get("commune", "")
        rows.append(
            {
                "code": c["code"],
                "nom": c["nom"],
                "departement": c["departement"],
                "type": c["type"],
                "population": c.get("population"),
                "epci": epci_of.get(epci_key, ""),
            }
        )
    communes = pd.DataFrame(rows).sort_values("code", kind="stable").reset_index(drop=True)
    communes["population"] = communes["population"].astype("Int64")

    used_epci = set(communes["epci"]) - {""}
    epci = pd.DataFrame(
        [
            {"code": e["code"], "nom": e["nom"]}
            for e in epci_raw  # type: ignore[union-attr]
            if e["code"] in used_epci
        ]
    ).sort_values("code", kind="stable")

    used_regions = set(departements["region"])
    regions = pd.DataFrame(
        [
            {"code": r["code"], "nom": r["nom"]}
            for r in source.read_json("data/regions.json")  # type: ignore[union-attr]
            if r["code"] in used_regions
        ]
    ).sort_values("code", kind="stable")
    return {
        "departements": departements.sort_values("code", kind="stable"),
        "communes": communes,
        "epci": epci,
        "regions": regions,
    }


def write_frames(frames: dict[str, pd.DataFrame], out_dir: Path) -> dict[str, int]:
    """One compact UTF-8 CSV per level; codes stay text (no float or dropped zero)."""
    geo = out_dir / "geo"
    geo.mkdir(parents=True, exist_ok=True)
    counts = {}
    for name, frame in frames.items():
        frame.to_csv(geo / f"{name}.csv", index=False, encoding="utf-8", lineterminator="\n")
        counts[name] = len(frame)
    return counts


def _synthetic_section(existing: str | None) -> str:
    """Keep what ``build_synthetic_lists.py`` wrote about the synthetic lists, if anything."""
    if existing:
        match = re.search(
            re.escape(SYNTHETIC_START) + r".*?" + re.escape(SYNTHETIC_END), existing, re.S
        )
        if match:
            return match.group(0)
    return (
        f"{SYNTHETIC_START}\n## Synthetic lists (`synthetic/`)\n\n"
        "The QPV and ZSP lists under `synthetic/` are SYNTHETIC. Run "
        "`uv run python include/reference/build_synthetic_lists.py` to generate them.\n"
        f"{SYNTHETIC_END}"
    )


def write_source_md(
    out_dir: Path, version: str, vintage: str, built: str, counts: dict[str, int]
) -> None:
    path = out_dir / "SOURCE.md"
    existing = path.read_text(encoding="utf-8") if path.exists() else None
    text = f"""# Reference data: where it comes from

## Geography (`geo/`): real data

- Source: npm package `{PACKAGE}` version **{version}**
  (<https://www.npmjs.com/package/@etalab/decoupage-administratif>,
  <https://github.com/datagouv/decoupage-administratif>), itself built from INSEE's Code
  officiel géographique, the DGCL list of EPCI à fiscalité propre and INSEE's legal
  populations. Geography vintage (millésime, per the package's README): **{vintage}**.
- Built on: {built}, by `include/reference/build_reference.py`.
- Licence: the package states its data are under the **Licence Ouverte / Open Licence**
  (Etalab), and its code under MIT. Its postal codes, not kept here, were formerly under ODbL;
  the package states they are now under the Licence Ouverte too. Reuse must credit the source
  (INSEE, DGCL, via Etalab's `{PACKAGE}`) and its date.
- Content:
  - `departements.csv` (`code,nom,region`): {counts["departements"]} départements, `01`-`95`
    with `2A`/`2B`, and `971`, `972`, `973`, `974`, `976`. The collectivités d'outre-mer
    (975, 977, 978, 984, 986-989) are left out.
  - `communes.csv` (`code,nom,departement,type,population,epci`): {counts["communes"]} rows,
    the communes (`commune-actuelle`) and the arrondissements municipaux of Paris, Lyon and
    Marseille (`arrondissement-municipal`, whose `epci` is their city's) of those
    départements. Communes déléguées and associées are left out.
  - `epci.csv` (`code,nom`): {counts["epci"]} EPCI (9-digit SIREN) having a member there.
  - `regions.csv` (`code,nom`): {counts["regions"]} régions.

## How to rebuild

```sh
cd /tmp && npm pack {PACKAGE}@{version}
cd /path/to/vigie && uv run python include/reference/build_reference.py \\
    /tmp/etalab-decoupage-administratif-{version}.tgz
```

The argument may also be the extracted package directory. `--version` overrides the version
read from its `package.json`, `--date` the build date recorded here. A newer package version
gives a newer geography vintage: rebuild the synthetic lists afterwards
(`uv run python include/reference/build_synthetic_lists.py`), since they are attached to these
communes.

{_synthetic_section(existing)}
"""
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="npm tarball (.tgz) or extracted package dir")
    parser.add_argument("--version", help="package version to record (default: package.json)")
    parser.add_argument("--date", default=date.today().isoformat(), help="build date recorded")
    parser.add_argument("--out", type=Path, default=HERE, help="include/reference directory")
    args = parser.parse_args(argv)

    source = PackageSource(args.source)
    meta = source.read_json("package.json")
    if not isinstance(meta, dict) or meta.get("name") != PACKAGE:
        raise SystemExit(f"{args.source}: not the {PACKAGE} package")
    version = args.version or str(meta.get("version", "unknown"))
    frames = build_frames(source)
    counts = write_frames(frames, args.out)
    write_source_md(args.out, version, source.vintage(version), args.date, counts)
    print(f"{PACKAGE} {version}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
