"""The report's charts as PNG bytes: equity curve, drawdown, PnL per symbol, PnL attributed per sensor.

Drawn with :mod:`core.report.raster` (see there why not matplotlib). Each chart carries its title and unit,
"nice" value ticks (1, 2 or 5 × 10^k) on the left, and, for time series, UTC clock times (or dates for
series longer than a day and a half) along the bottom. An empty series gives an empty frame saying so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from core.report.font import GLYPH_H, text_width
from core.report.model import ReportFigures
from core.report.raster import Canvas, Color

__all__ = [
    "PLOT_FILES",
    "bar_chart",
    "line_chart",
    "nice_ticks",
    "render_plots",
    "time_ticks",
]

WIDTH, HEIGHT = 960, 360
SCALE = 2
LEFT, RIGHT, TOP, BOTTOM = 120, 24, 44, 44
MAX_BARS = 30

INK: Color = (40, 40, 48)
GRID: Color = (225, 228, 234)
BLUE: Color = (31, 102, 196)
GREEN: Color = (32, 150, 80)
RED: Color = (200, 50, 50)
MUTED: Color = (120, 120, 130)

PLOT_FILES = {
    "equity": "equity.png",
    "drawdown": "drawdown.png",
    "pnl_by_symbol": "pnl_by_symbol.png",
    "pnl_by_sensor": "pnl_by_sensor.png",
}

_TIME_STEPS_S = (60, 300, 900, 1800, 3600, 7200, 14_400, 21_600, 43_200, 86_400, 172_800, 604_800)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values inside ``[lo, hi]``: about ``target`` of them, 1, 2 or 5 × 10^k apart (the step
    nearest, by ratio, to an even split of the range)."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = min((m * magnitude for m in (1, 2, 5, 10)), key=lambda s: abs(math.log(s / raw)))
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [k * step for k in range(first, last + 1)]


def _label(value: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    decimals = max(0, -math.floor(math.log10(step))) if step > 0 else 0
    # No thousands separator: at 5×7 pixels a comma reads as a decimal point.
    text = f"{value:.{decimals}f}"
    return "0" if text.strip("-0.,") == "" else text


def time_ticks(start_ms: int, end_ms: int, max_ticks: int = 8) -> tuple[list[int], str]:
    """Tick times (ms) on round UTC boundaries, and their strftime format."""
    span_s = max(1, (end_ms - start_ms) // 1000)
    step = next((s for s in _TIME_STEPS_S if span_s / s <= max_ticks), _TIME_STEPS_S[-1])
    fmt = "%m-%d" if step >= 86_400 else "%H:%M"
    step_ms = step * 1000
    first = -(-start_ms // step_ms) * step_ms
    return list(range(first, end_ms + 1, step_ms)), fmt


def _padded(lo: float, hi: float) -> tuple[float, float]:
    if hi > lo:
        pad = (hi - lo) * 0.05
        return lo - pad, hi + pad
    spread = abs(lo) * 0.01 or 1.0
    return lo - spread, hi + spread


class _Frame:
    """A chart's canvas, title, plot area and value axis."""

    def __init__(self, title: str, lo: float, hi: float) -> None:
        self.canvas = Canvas(WIDTH, HEIGHT)
        self.x0, self.x1 = LEFT, WIDTH - RIGHT
        self.y0, self.y1 = TOP, HEIGHT - BOTTOM
        self.lo, self.hi = _padded(lo, hi)
        self.canvas.text(LEFT, 12, title, INK, SCALE)
        ticks = nice_ticks(self.lo, self.hi)
        for value in ticks:
            y = round(self.y(value))
            self.canvas.line(self.x0, y, self.x1, y, GRID)
            self.canvas.text_right(self.x0 - 8, y - GLYPH_H * SCALE // 2, _label(value, ticks), INK, SCALE)
        if self.lo < 0 < self.hi:
            zero = round(self.y(0.0))
            self.canvas.line(self.x0, zero, self.x1, zero, MUTED)
        self.canvas.line(self.x0, self.y0, self.x0, self.y1, INK)
        self.canvas.line(self.x0, self.y1, self.x1, self.y1, INK)

    def y(self, value: float) -> float:
        return self.y1 - (value - self.lo) / (self.hi - self.lo) * (self.y1 - self.y0)

    def empty(self) -> bytes:
        mid = (self.x0 + self.x1) // 2
        self.canvas.text_center(mid, (self.y0 + self.y1) // 2, "NO DATA", MUTED, SCALE)
        return self.canvas.png()


def line_chart(
    title: str, points: Sequence[tuple[int, float]], color: Color = BLUE, *, fill: bool = False
) -> bytes:
    """A time series (ms, value) as a line; with ``fill`` the area down (or up) to zero is shaded."""
    values = [v for _, v in points]
    lo = min([*values, 0.0] if fill else values, default=0.0)
    hi = max([*values, 0.0] if fill else values, default=1.0)
    frame = _Frame(title, lo, hi)
    if not points:
        return frame.empty()
    start, end = points[0][0], points[-1][0]
    span = max(end - start, 1)

    def x(ts: int) -> float:
        return frame.x0 + (ts - start) / span * (frame.x1 - frame.x0)

    ticks, fmt = time_ticks(start, end)
    for ts in ticks:
        px = round(x(ts))
        frame.canvas.line(px, frame.y1, px, frame.y1 + 5, INK)
        # Over more than a day, midnights show the date so repeated clock times stay unambiguous.
        when = "%m-%d" if span > 86_400_000 and ts % 86_400_000 == 0 else fmt
        label = datetime.fromtimestamp(ts / 1000, UTC).strftime(when)
        frame.canvas.text_center(px, frame.y1 + 12, label, INK, SCALE)
    coords = [(x(ts), frame.y(v)) for ts, v in points]
    if fill:
        shade = tuple(min(255, c + (255 - c) * 3 // 4) for c in color)
        frame.canvas.fill_to(coords, frame.y(0.0), (shade[0], shade[1], shade[2]))
    frame.canvas.polyline(coords, color, width=2)
    return frame.canvas.png()


def bar_chart(title: str, items: Sequence[tuple[str, float]]) -> bytes:
    """One bar per ``(label, value)``: green above zero, red below; at most 30 (the largest |value|)."""
    shown = list(items)
    if len(shown) > MAX_BARS:
        keep = set(sorted(range(len(shown)), key=lambda i: -abs(shown[i][1]))[:MAX_BARS])
        shown = [item for i, item in enumerate(shown) if i in keep]
        title = f"{title} (LARGEST {MAX_BARS})"
    values = [v for _, v in shown]
    frame = _Frame(title, min([*values, 0.0]), max([*values, 0.0]))
    if not shown:
        return frame.empty()
    slot = (frame.x1 - frame.x0) / len(shown)
    zero = frame.y(0.0)
    chars = max(1, int((slot - 4) // (6 * SCALE)))
    for i, (label, value) in enumerate(shown):
        left = frame.x0 + i * slot + slot * 0.15
        right = frame.x0 + (i + 1) * slot - slot * 0.15
        frame.canvas.fill_rect(
            round(left), round(zero), round(right), round(frame.y(value)), GREEN if value >= 0 else RED
        )
        text = label if text_width(label, SCALE) <= slot - 4 else label[:chars]
        frame.canvas.text_center(round(frame.x0 + (i + 0.5) * slot), frame.y1 + 12, text, INK, SCALE)
    return frame.canvas.png()


def render_plots(
    figures: ReportFigures,
    curve: Sequence[tuple[int, Decimal]],
    drawdown: Sequence[tuple[int, Decimal]],
    asset: str = "USDT",
) -> dict[str, bytes]:
    """The four charts of the report, by name (see :data:`PLOT_FILES`)."""
    return {
        "equity": line_chart(f"EQUITY ({asset})", [(ts, float(v)) for ts, v in curve]),
        "drawdown": line_chart(
            f"DRAWDOWN FROM PEAK ({asset})", [(ts, -float(v)) for ts, v in drawdown], RED, fill=True
        ),
        "pnl_by_symbol": bar_chart(
            f"NET PNL PER SYMBOL ({asset})", [(s.symbol, float(s.net_pnl)) for s in figures.per_symbol]
        ),
        "pnl_by_sensor": bar_chart(
            f"NET PNL PER SENSOR, CLOSED TRADES ({asset})",
            [(s.sensor_id, float(s.net_pnl)) for s in figures.per_sensor],
        ),
    }
