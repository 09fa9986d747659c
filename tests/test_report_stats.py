"""Equity-curve statistics: Sharpe and Sortino on series with closed-form answers, the return period, drawdown
against a brute-force definition, and the plot helpers' tick choices."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.report.plots import nice_ticks, time_ticks
from core.report.stats import (
    YEAR_S,
    choose_period,
    drawdown_series,
    max_drawdown,
    period_returns,
    sharpe_ratio,
    sortino_ratio,
)

D = Decimal
HOUR_MS = 3_600_000


def test_sharpe_of_a_known_series() -> None:
    # mean 0.02, sample stdev 0.01: 2 per period, × sqrt(periods per year)
    assert sharpe_ratio([0.01, 0.02, 0.03], 365.0) == pytest.approx(2.0 * math.sqrt(365.0))
    # ±0.015 around 0.005: stdev sqrt(0.0009 / 3)
    returns = [0.02, -0.01, 0.02, -0.01]
    assert sharpe_ratio(returns, 1.0) == pytest.approx(0.005 / math.sqrt(0.0003))


def test_sortino_of_a_known_series() -> None:
    returns = [0.02, -0.01, 0.02, -0.01]
    # downside deviation sqrt((0.0001 + 0.0001) / 4)
    assert sortino_ratio(returns, 4.0) == pytest.approx(0.005 / math.sqrt(0.00005) * 2.0)
    assert sortino_ratio([0.01, 0.02, 0.03], 1.0) is None  # no losing period


def test_ratios_undefined_without_data_or_variation() -> None:
    assert sharpe_ratio([], 1.0) is None and sharpe_ratio([0.01], 1.0) is None
    assert sharpe_ratio([0.01, 0.01, 0.01], 1.0) is None
    assert sortino_ratio([-0.01], 1.0) is None


def test_period_returns_carry_equity_over_empty_periods() -> None:
    curve = [(0, D(100)), (HOUR_MS // 2, D(110)), (3 * HOUR_MS, D(99)), (3 * HOUR_MS + 10, D(500))]
    # hour 1 closes at 110, hour 2 has no sample (110 again), hour 3 closes at 99; the partial 4th is left out
    assert period_returns(curve, 3600) == [0.1, 0.0, -0.1]


def test_choose_period_prefers_the_longest_with_enough_returns() -> None:
    hourly = [(i * HOUR_MS, D(1000 + i % 3)) for i in range(31)]
    period, returns = choose_period(hourly)
    assert period == 3600 and len(returns) == 30
    annual = sharpe_ratio(returns, YEAR_S / 3600)
    assert annual is not None and math.isfinite(annual)


def test_choose_period_never_goes_below_the_sampling_interval() -> None:
    # samples every 6 minutes: 5- and 1-minute periods would invent flat returns between them
    curve = [(i * 360_000, D(1000 + i)) for i in range(6)]
    period, returns = choose_period(curve)
    assert period == 900 and len(returns) == 2
    assert choose_period([(0, D(1))]) == (None, [])


@given(st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=60))
def test_max_drawdown_is_the_largest_fall_after_a_peak(values: list[int]) -> None:
    curve = [(i, D(v)) for i, v in enumerate(values)]
    worst, pct = max_drawdown(curve)
    brute = max((values[i] - values[j] for i in range(len(values)) for j in range(i, len(values))), default=0)
    assert worst == brute
    assert max(dd for _, dd in drawdown_series(curve)) == brute
    assert pct is not None and 0 <= pct < 1


@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(min_value=1e-3, max_value=1e6, allow_nan=False),
)
def test_nice_ticks_cover_the_range_with_round_steps(lo: float, width: float) -> None:
    hi = lo + width
    ticks = nice_ticks(lo, hi)
    assert 2 <= len(ticks) <= 11
    assert all(lo - 1e-6 * width <= t <= hi + 1e-6 * width for t in ticks)
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** math.floor(math.log10(step))
    assert any(math.isclose(mantissa, m, rel_tol=1e-6) for m in (1, 2, 5, 10))


def test_time_ticks_fall_on_round_utc_boundaries() -> None:
    start = 1_700_000_000_000 + 123  # 22:13:20.123
    ticks, fmt = time_ticks(start, start + 30 * 60_000)
    assert fmt == "%H:%M" and ticks and all(t % 300_000 == 0 for t in ticks)
    days, fmt = time_ticks(start, start + 10 * 86_400_000)
    assert fmt == "%m-%d" and all(t % 86_400_000 == 0 for t in days)
