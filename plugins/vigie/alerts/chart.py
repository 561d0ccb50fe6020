"""The chart of a département's weekly e-mail: its FIPD priority share against the target.

Only its own département(s), the two years as bars, the target as a line and France (a
national aggregate, not another département) as a marker; the key names exactly what is drawn
(a colour or marker absent from the picture is absent from the key). The chart is built from a
:class:`ChartData` made of the recipient's own figures only, so it cannot show another
département. The national digest shows a map instead (:mod:`vigie.alerts.france_map`).

Colours are colour-blind safe (Okabe and Ito's palette: vermillion below the target, blue at
or above it), and every figure is written on its bar, so no reading depends on colour alone.

Why the data also goes into the PNG (its ``Description`` text chunk, as JSON): a pilot's IT
team, or a test, can check what a picture says without reading pixels.

Deterministic on purpose: same data, same bytes (fixed size and dpi, matplotlib's default style
whatever the local ``matplotlibrc``, no ``Software`` or date chunk), because the bytes go into
the message checksum that tells the send log whether an e-mail changed. matplotlib is imported
lazily (it costs seconds; numpy and Pillow with it) and only the Agg canvas is used, never
pyplot's global state.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from vigie.alerts.figures import Territory
from vigie.alerts.formatting import format_share, format_target

if TYPE_CHECKING:  # matplotlib is imported when a chart is drawn, not with the module
    from matplotlib.artist import Artist
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.transforms import Affine2D
    from matplotlib.typing import RcKeyType

DPI = 100
WIDTH_IN = 7.2
BELOW, ABOVE, NONE = "#d55e00", "#0072b2", "#929292"  # Okabe-Ito vermillion, blue; grey
MARKER = "#1e1e1e"
NBSP = "\u00a0"


@dataclass(frozen=True)
class Bar:
    """One bar: a territory's located share for one year (``share`` None: no data)."""

    code: str
    label: str
    annee: int
    share: float | None
    below: bool


@dataclass(frozen=True)
class Marker:
    """A point drawn on a bar's row: the closed year (national chart) or France (département)."""

    code: str
    label: str
    annee: int
    share: float | None


@dataclass(frozen=True)
class ChartData:
    """Everything the chart shows, and nothing else."""

    kind: str  # "national" or "departement"
    title: str
    target: float
    bars: tuple[Bar, ...]
    markers: tuple[Marker, ...]  # same length and order as bars (share None: no marker)
    marker_label: str
    reference: tuple[str, float] | None = None  # ("France 2026", share): a vertical line

    def to_json(self) -> str:
        """ASCII JSON (PNG text chunks are Latin-1): what the chart says, for machines."""
        return json.dumps(asdict(self), ensure_ascii=True, sort_keys=True)

    def legend(self) -> tuple[tuple[str, str], ...]:
        """(kind, label) of what is drawn, in the key's order: the PNG's key and the HTML's."""
        keys: list[tuple[str, str]] = []
        if any(b.share is not None and b.below for b in self.bars):
            keys.append(("below", "sous la cible"))
        if any(b.share is not None and not b.below for b in self.bars):
            keys.append(("above", "cible atteinte ou dépassée"))
        keys.append(("target", f"cible ({format_target(self.target)})"))
        if any(m.share is not None for m in self.markers):
            keys.append(("marker", self.marker_label))
        if self.reference is not None:
            keys.append(("reference", f"{self.reference[0]} : {percent(self.reference[1])}"))
        return tuple(keys)

    @property
    def codes(self) -> set[str]:
        return {b.code for b in self.bars} | {m.code for m in self.markers}


def percent(fraction: float | None) -> str:
    """As the e-mail's text shows it (:func:`vigie.alerts.formatting.format_share`)."""
    if fraction is None:
        return "n.d."
    return format_share(fraction)


def departement_chart_data(
    territories: Sequence[Territory], national: Territory, target: float
) -> ChartData:
    """The recipient's own départements, each year as a bar, France as a marker."""
    france = {y.annee: (None if y.no_data else y.share_located) for y in national.years}
    bars, markers = [], []
    for territory in territories:
        for year in territory.years:
            label = f"{year.annee} ({year.period})"
            if len(territories) > 1:
                label = f"{territory.code} — {label}"
            share = None if year.no_data else year.share_located
            bars.append(Bar(territory.code, label, year.annee, share, year.below))
            markers.append(Marker("FR", "France", year.annee, france.get(year.annee)))
    names = ", ".join(t.label for t in territories)
    return ChartData(
        kind="departement",
        title=f"Part prioritaire FIPD (mesure «\u202flocalisée\u202f») — {names}",
        target=target,
        bars=tuple(bars),
        markers=tuple(markers),
        marker_label="France (ensemble des départements)",
    )


def alt_text(data: ChartData) -> str:
    """What the picture shows, in words, for a client that does not show images."""
    target = format_target(data.target)
    parts = []
    for bar, marker in zip(data.bars, data.markers, strict=True):
        if bar.share is None:
            parts.append(f"{bar.label} : pas de données")
            continue
        state = "sous la cible" if bar.below else "cible atteinte"
        france = f", France {percent(marker.share)}" if marker.share is not None else ""
        parts.append(f"{bar.label} : {percent(bar.share)} ({state}{france})")
    return (
        f"Graphique en barres de la part prioritaire FIPD (mesure localisée) de "
        f"{data.title.split(' — ', 1)[-1]}, comparée à la cible de {target} : "
        + " ; ".join(parts)
        + "."
    )


@dataclass(frozen=True)
class _Frame:
    """What a chart looks like apart from its figures: size, rows, their labels, the key.

    Every département's e-mail has the same frame (two rows, the same year labels, the same
    target and key), so it is drawn once and only the figures are drawn on top of it.
    """

    national: bool
    labels: tuple[str, ...]
    target: float
    marker_label: str
    reference: tuple[str, float] | None
    keys: tuple[tuple[str, str], ...] = ()

    @property
    def rows(self) -> int:
        return max(len(self.labels), 1)

    @property
    def row_px(self) -> int:
        return 15 if self.national else 42

    @property
    def height_px(self) -> int:
        return 62 + 45 + self.row_px * self.rows + 18

    @property
    def width_px(self) -> int:
        return int(WIDTH_IN * DPI)

    @property
    def label_size(self) -> float:
        return 6.5 if self.national else 8

    def figure(self) -> tuple[Figure, FigureCanvasAgg]:
        """A blank figure of this frame's size, with its Agg canvas."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(WIDTH_IN, self.height_px / DPI), dpi=DPI)
        return figure, FigureCanvasAgg(figure)

    def plot(self) -> Affine2D:
        """x: share 0..1 across the plot; y: row index downwards, row 0 at the top (pixels)."""
        from matplotlib.transforms import Affine2D

        x0, x1 = (190 if self.national else 200), self.width_px - 50
        y_top = self.height_px - 62
        return Affine2D().scale(x1 - x0, -self.row_px).translate(x0, y_top - self.row_px / 2)


_RC: dict[RcKeyType, Any] = {
    "font.family": "DejaVu Sans",
    "font.size": 8,
    "axes.unicode_minus": False,
}


def _style() -> ExitStack[bool | None]:
    """matplotlib's default style whatever the local matplotlibrc: same data, same pixels."""
    import matplotlib
    import matplotlib.style

    stack = ExitStack()
    stack.enter_context(matplotlib.style.context("default"))
    stack.enter_context(matplotlib.rc_context(_RC))
    return stack


@lru_cache(maxsize=16)
def _frame_canvas(frame: _Frame) -> tuple[Figure, FigureCanvasAgg, Any]:  # Any: a BufferRegion
    """The frame drawn once (grid, scale, row labels, target label, key) on its own canvas.

    Returns the figure, its Agg canvas and the drawn pixels as a saved region: each chart of
    this frame restores the region and draws only its figures on top (matplotlib's blitting),
    instead of a whole figure with the frame composited in as an image.
    """
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import Affine2D

    with _style():
        figure, canvas = frame.figure()
        plot, pixels = frame.plot(), Affine2D()
        span = (-0.5, frame.rows - 0.5)
        for tick in (0.0, 0.25, 0.5, 1.0):
            figure.add_artist(
                Line2D([tick, tick], span, transform=plot, color="#dddddd", linewidth=0.6)
            )
            figure.text(
                tick,
                -0.5,
                percent(tick).replace(",0", ""),
                transform=plot,
                ha="center",
                va="bottom",
                fontsize=6.5,
                color="#555555",
            )
        figure.text(
            frame.target,
            -0.5,
            "cible " + format_target(frame.target),
            transform=plot,
            ha="center",
            va="bottom",
            fontsize=7,
            fontweight="bold",
        )
        for row, label in enumerate(frame.labels):
            figure.text(
                -0.01,
                row,
                label,
                transform=plot,
                ha="right",
                va="center",
                fontsize=frame.label_size,
            )
        # The key, left to right at the bottom.
        renderer = canvas.get_renderer()
        x, y = 14.0, 16.0
        drawn = {
            "below": ("patch", BELOW),
            "above": ("patch", ABOVE),
            "target": ("dash", MARKER),
            "marker": ("diamond", MARKER),
            "reference": ("dot", "#6a6a6a"),
        }
        keys = [(*drawn[kind], label) for kind, label in frame.keys]
        for kind, colour, label in keys:
            if kind == "patch":
                figure.add_artist(Rectangle((x, y - 4), 14, 8, transform=pixels, color=colour))
            elif kind == "diamond":
                figure.add_artist(
                    Line2D(
                        [x + 7],
                        [y],
                        transform=pixels,
                        marker="D",
                        markersize=4,
                        color=colour,
                        linestyle="none",
                    )
                )
            else:
                figure.add_artist(
                    Line2D(
                        [x, x + 14],
                        [y, y],
                        transform=pixels,
                        color=colour,
                        linewidth=1.1,
                        linestyle="--" if kind == "dash" else ":",
                    )
                )
            key = figure.text(
                x + 19, y, label, transform=pixels, ha="left", va="center", fontsize=7
            )
            x += 19 + key.get_window_extent(renderer).width + 16
        canvas.draw()
        background = canvas.copy_from_bbox(figure.bbox)
    return figure, canvas, background


def _figure_artists(data: ChartData, frame: _Frame) -> list:
    """The artists that depend on the figures, in drawing order (by zorder, then creation)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Rectangle
    from matplotlib.text import Text
    from matplotlib.transforms import Affine2D

    plot = frame.plot()
    span = (-0.5, frame.rows - 0.5)
    height = 0.72 if frame.national else 0.6
    size = frame.label_size
    artists: list[Artist] = []
    for row, bar in enumerate(data.bars):
        if bar.share is None:
            artists.append(
                Text(
                    0.005,
                    row,
                    "pas de données",
                    transform=plot,
                    ha="left",
                    va="center",
                    fontsize=size,
                    color="#555555",
                    style="italic",
                )
            )
            continue
        end = min(bar.share, 1.0)
        artists.append(
            Rectangle(
                (0, row - height / 2),
                end,
                height,
                transform=plot,
                color=BELOW if bar.below else ABOVE,
                zorder=2,
            )
        )
        inside = end >= 0.2  # the value at the bar's end, inside it: clear of markers
        artists.append(
            Text(
                end - 0.008 if inside else end + 0.008,
                row,
                percent(bar.share),
                transform=plot,
                ha="right" if inside else "left",
                va="center",
                color="#ffffff" if inside else "#1e1e1e",
                fontsize=size - 0.5,
                zorder=4,
            )
        )
    points = [(min(m.share, 1.0), row) for row, m in enumerate(data.markers) if m.share is not None]
    if points:
        artists.append(
            Line2D(
                [x for x, _ in points],
                [y for _, y in points],
                transform=plot,
                marker="D",
                color=MARKER,
                markersize=2.6 if frame.national else 5,
                linestyle="none",
                zorder=3,
            )
        )
    artists.append(
        Line2D(
            [data.target] * 2,
            span,
            transform=plot,
            color=MARKER,
            linestyle="--",
            linewidth=1.1,
            zorder=3,
        )
    )
    if data.reference is not None:
        artists.append(
            Line2D(
                [data.reference[1]] * 2,
                span,
                transform=plot,
                color="#6a6a6a",
                linestyle=":",
                linewidth=1.1,
                zorder=3,
            )
        )
    artists.append(
        Text(
            14,
            frame.height_px - 12,
            data.title,
            transform=Affine2D(),
            ha="left",
            va="top",
            fontsize=9,
            fontweight="bold",
            color="#000091",
        )
    )
    return sorted(artists, key=lambda artist: artist.get_zorder())  # stable: creation order


def render_png(data: ChartData) -> bytes:
    """Draw ``data`` to PNG bytes (deterministic).

    Figure-level artists on a hand-made transform, without Axes, ticks or a Legend (they cost
    most of the time), drawn over the frame's saved pixels (:func:`_frame_canvas`): the weekly
    run draws a chart per département, and only the figures differ between them. The first
    chart of a frame takes the same path as the others (restore, then draw), so a chart's bytes
    do not depend on what the process drew before.
    """
    import numpy as np
    from matplotlib.image import imsave

    frame = _Frame(
        national=data.kind == "national",
        labels=tuple(b.label for b in data.bars),
        target=data.target,
        marker_label=data.marker_label,
        reference=data.reference,
        keys=data.legend(),
    )
    figure, canvas, background = _frame_canvas(frame)
    buffer = io.BytesIO()
    with _style():
        artists = _figure_artists(data, frame)  # inside the style: fonts come from it
        canvas.restore_region(background)
        for artist in artists:
            artist.set_figure(figure)
            figure.draw_artist(artist)
        imsave(
            buffer,
            np.asarray(canvas.buffer_rgba()),
            format="png",
            origin="upper",
            dpi=DPI,
            # None omits the key (matplotlib's documented use); its stub wants str values.
            metadata={
                "Software": None,  # type: ignore[dict-item]
                "Title": "Vigie",
                "Description": data.to_json(),
            },
            # zlib level 3: a fifth of the encoding time of the default 6, a few more bytes
            # (a hundred charts are drawn each Monday).
            pil_kwargs={"compress_level": 3},
        )
    return buffer.getvalue()


def chart_data_from_png(png: bytes) -> dict:
    """The data a chart was drawn from, read back from its PNG (for checks and tests)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        # A PNG opens as a PngImageFile, which has ``text``; Image.open is typed as ImageFile.
        return json.loads(image.text["Description"])  # type: ignore[attr-defined]
