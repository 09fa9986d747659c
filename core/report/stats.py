"""Statistics of an equity curve: period returns, Sharpe and Sortino ratios, drawdown. Pure functions.

The curve is a sequence of ``(ts_ms, equity)`` points in time order, sampled irregularly. Returns are
taken over a fixed period chosen from :data:`PERIODS_S`: the longest one that still yields at least
:data:`MIN_RETURNS` returns, and never shorter than the curve's median sampling interval (a shorter period
would invent flat returns between samples). The equity at a period's end is the last sample at or before
it. Ratios use a zero risk-free rate and a zero target, the sample standard deviation (n-1), and are
annualised by √(periods per year), with a 365-day, 24-hour year since the market never closes.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Sequence
from decimal import Decimal

from core.types import ZERO

__all__ = [
    "MIN_RETURNS",
    "PERIODS_S",
    "YEAR_S",
    "choose_period",
    "drawdown_series",
    "max_drawdown",
    "period_returns",
    "sharpe_ratio",
    "sortino_ratio",
]

YEAR_S = 365 * 24 * 3600
PERIODS_S = (86_400, 14_400, 3_600, 900, 300, 60)
MIN_RETURNS = 30

Curve = Sequence[tuple[int, Decimal]]


def _median_spacing_s(curve: Curve) -> float:
    gaps = [(b[0] - a[0]) / 1000 for a, b in itertools.pairwise(curve) if b[0] > a[0]]
    return statistics.median(gaps) if gaps else 0.0


def period_returns(curve: Curve, period_s: int) -> list[float]:
    """Simple returns of ``curve`` over consecutive whole periods of ``period_s`` from its first point.

    The equity at a period's end is the last sample at or before it (carried forward across periods
    without a sample); a trailing partial period is left out, and a period starting at a non-positive
    equity yields no return (it is undefined).
    """
    if len(curve) < 2 or period_s <= 0:
        return []
    start = curve[0][0]
    span_ms = period_s * 1000
    levels = [curve[0][1]]
    i = 0
    value = curve[0][1]
    for k in range(1, (curve[-1][0] - start) // span_ms + 1):
        end = start + k * span_ms
        while i < len(curve) and curve[i][0] <= end:
            value = curve[i][1]
            i += 1
        levels.append(value)
    return [float(b / a - 1) for a, b in itertools.pairwise(levels) if a > 0]


def choose_period(curve: Curve) -> tuple[int | None, list[float]]:
    """The return period for ``curve`` (see the module docstring) and its returns; ``(None, [])`` when the
    curve is too short for even two returns."""
    floor = _median_spacing_s(curve)
    best: tuple[int | None, list[float]] = (None, [])
    for period in PERIODS_S:  # longest first
        if period < floor:
            break
        returns = period_returns(curve, period)
        if len(returns) >= 2:
            best = (period, returns)
            if len(returns) >= MIN_RETURNS:
                break
    return best


def sharpe_ratio(returns: Sequence[float], periods_per_year: float) -> float | None:
    """mean / sample stdev × √periods_per_year; None for fewer than two returns or no variation."""
    if len(returns) < 2:
        return None
    sd = statistics.stdev(returns)
    if sd == 0 or not math.isfinite(sd):
        return None
    return statistics.fmean(returns) / sd * math.sqrt(periods_per_year)


def sortino_ratio(returns: Sequence[float], periods_per_year: float) -> float | None:
    """mean / downside deviation × √periods_per_year, the downside deviation being √mean(min(r, 0)²)
    over every return; None for fewer than two returns or no losing period."""
    if len(returns) < 2:
        return None
    downside = math.sqrt(statistics.fmean(min(r, 0.0) ** 2 for r in returns))
    if downside == 0:
        return None
    return statistics.fmean(returns) / downside * math.sqrt(periods_per_year)


def drawdown_series(curve: Curve) -> list[tuple[int, Decimal]]:
    """Distance below the running peak at each point (0 at a new peak; positive below it)."""
    out: list[tuple[int, Decimal]] = []
    peak: Decimal | None = None
    for ts, value in curve:
        peak = value if peak is None or value > peak else peak
        out.append((ts, peak - value))
    return out


def max_drawdown(curve: Curve) -> tuple[Decimal, float | None]:
    """The largest fall from a running peak: in money, and as a share of that peak (None if it was ≤ 0)."""
    worst = ZERO
    worst_pct: float | None = None
    peak: Decimal | None = None
    for _, value in curve:
        peak = value if peak is None or value > peak else peak
        fall = peak - value
        if fall > worst:
            worst = fall
            worst_pct = float(fall / peak) if peak > 0 else None
    if worst == 0 and peak is not None and peak > 0:
        worst_pct = 0.0
    return worst, worst_pct
