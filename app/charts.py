"""Line charts as SVG geometry, pure: the template draws the paths (no
script, no style attribute: colours come from CSS classes, light and dark).

A chart is a fixed viewBox (W × H units) stretched to its box; paths use
non-scaling strokes, and every text (scale, times, last values) is HTML
around the SVG, so nothing is distorted. Time runs left to right over the
window, the newest point at the right edge; a missing value or a gap in
sampling (nobody was looking) breaks the line rather than drawing across.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

W, H = 600.0, 120.0


@dataclass
class Series:
    key: str  # CSS class suffix: s-<key>
    label: str
    d: str  # the SVG path
    last: str  # the last value as text


@dataclass
class Chart:
    key: str
    title: str
    series: list[Series]
    top: str  # the value at the top of the scale, as text
    grid: list[float] = field(default_factory=list)  # y of the grid lines
    limit_y: float | None = None  # y of a limit line (memory)
    note: str = ""
    empty: bool = True
    none: bool = False  # the figure does not exist for this container (the note says why)


def nice_ceiling(v: float, steps: Sequence[float] = (1, 2, 2.5, 5, 10)) -> float:
    """The smallest 1/2/2.5/5 × 10^k at or above v (v > 0)."""
    if v <= 0 or not math.isfinite(v):
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    for s in steps:
        if v <= s * mag * (1 + 1e-9):
            return s * mag
    return 10 * mag


def nice_bytes(v: float, base: int = 1024) -> float:
    """nice_ceiling in the unit a byte count is shown in (KiB, MiB... for 1024)."""
    unit = 1.0
    while v >= base * unit:
        unit *= base
    return nice_ceiling(v / unit) * unit


def tidy(text: str) -> str:
    """'100.0%' -> '100%', '2.0 MiB' -> '2 MiB': a scale's round top."""
    return text.replace(".0%", "%").replace(".0 ", " ")


def path(points: Sequence[tuple[float, float | None]], t_end: float, window: float,
         y_max: float, gap: float) -> str:
    """'M x,y L x,y …' for (time, value) points, oldest first; a None value
    or more than `gap` seconds between two points starts a new piece. A
    piece of one point is drawn as a dot-sized line so it shows."""
    t0 = t_end - window
    parts: list[str] = []
    piece: list[str] = []
    last_t = None

    def flush():
        if len(piece) == 1:
            piece.append("h0.01")
        parts.extend(piece)
        piece.clear()

    for t, v in points:
        if t < t0:
            continue
        if v is None or (last_t is not None and t - last_t > gap):
            flush()
        if v is not None:
            x = (t - t0) / window * W
            y = H - min(max(v / y_max, 0.0), 1.0) * H
            piece.append(f"{'L' if piece else 'M'}{x:.1f},{y:.1f}")
        last_t = t
    flush()
    return " ".join(parts)


def line_chart(key: str, title: str, points: Sequence[tuple[float, Sequence[float | None]]],
               series: Sequence[tuple[str, str]], fmt: Callable[[float], str], *, window: float,
               gap: float, floor: float, limit: float | None = None, note: str = "",
               none: bool = False, scale: Callable[[float], float] = nice_ceiling) -> Chart:
    """One chart of several series sharing a scale. `points`: (time, values)
    with one value per series; `floor`: the least top of the scale (so a
    quiet container is not drawn as if busy); `limit`: a line to draw when it
    is within twice the highest value (memory against its limit)."""
    values = [v for _, vs in points for v in vs if v is not None]
    if not points or not values:
        return Chart(key, title, [Series(k, label, "", "—") for k, label in series], top="",
                     note=note, empty=True, none=none)
    high = max(max(values), floor)
    limit_y = None
    if limit and limit <= 2 * high:
        y_max = max(limit, high)
        limit_y = H - limit / y_max * H
    else:
        y_max = scale(high * 1.1)
    t_end = points[-1][0]
    out = []
    for i, (k, label) in enumerate(series):
        d = path([(t, vs[i]) for t, vs in points], t_end, window, y_max, gap)
        last = points[-1][1][i]
        out.append(Series(k, label, d, "—" if last is None else fmt(last)))
    return Chart(key, title, out, top=tidy(fmt(y_max)), grid=[H * q for q in (0.25, 0.5, 0.75)],
                 limit_y=limit_y, note=note, empty=False)
