"""Properties over random markets: every sensor answers within its contract, and only from its window."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sensors.base import Bars
from sensors.library import SENSOR_CLASSES

SENSORS = [cls() for cls in SENSOR_CLASSES]
LONGEST = max(sensor.spec.lookback for sensor in SENSORS)


def finite(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


@st.composite
def markets(draw: st.DrawFn) -> Bars:
    """A valid random OHLCV series: low ≤ open, close ≤ high; volume ≥ taker-buy volume ≥ 0.

    Returns mix calm, wild and perfectly flat stretches; volumes include zeros.
    """
    n = draw(st.integers(LONGEST, LONGEST + 30))
    scale = draw(st.sampled_from([1e-4, 0.002, 0.05]))
    returns = draw(arrays(np.float64, n, elements=finite(-1.0, 1.0))) * scale
    still = draw(arrays(np.bool_, n))  # bars where the price does not move at all
    returns[still & draw(st.booleans())] = 0.0
    start = draw(finite(1e-3, 1e6))
    close = start * np.exp(np.cumsum(returns))
    open_ = np.concatenate([[start], close[:-1]])
    wicks = draw(arrays(np.float64, (2, n), elements=finite(0.0, 0.02))) * close
    high = np.maximum(open_, close) + wicks[0]
    low = np.maximum(np.minimum(open_, close) - wicks[1], 0.0)
    volume = draw(arrays(np.float64, n, elements=st.one_of(st.just(0.0), finite(0.0, 1e6))))
    share = draw(arrays(np.float64, n, elements=finite(0.0, 1.0)))
    return Bars(
        open=open_,
        high=high,
        low=low,
        close=close,
        volume=volume,
        taker_buy_volume=volume * share,
        close_time=np.arange(n, dtype=np.int64) * 60_000 + 59_999,
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(markets())
def test_every_sensor_answers_within_its_contract(bars: Bars) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 or overflow hiding behind a NaN
        for sensor in SENSORS:
            direction, strength = sensor.evaluate(bars)
            assert type(direction) is int and direction in (-1, 0, 1), sensor.spec.id
            assert type(strength) is float and 0.0 <= strength <= 1.0, sensor.spec.id
            if direction == 0:
                assert strength == 0.0, sensor.spec.id


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(markets(), st.integers(1, 200))
def test_the_answer_depends_only_on_the_lookback_window(bars: Bars, extra: int) -> None:
    # A longer history in front of the same window changes nothing: results are reproducible whatever the
    # ring buffer's capacity, and evaluate() reads no more than it declares.
    rng = np.random.default_rng(extra)
    older = rng.uniform(0.5, 1.5, extra) * float(bars.close[0])
    longer = Bars(
        open=np.concatenate([older, bars.open]),
        high=np.concatenate([older * 1.01, bars.high]),
        low=np.concatenate([older * 0.99, bars.low]),
        close=np.concatenate([older, bars.close]),
        volume=np.concatenate([np.ones(extra), bars.volume]),
        taker_buy_volume=np.concatenate([np.full(extra, 0.5), bars.taker_buy_volume]),
        close_time=np.arange(extra + len(bars), dtype=np.int64),
    )
    for sensor in SENSORS:
        assert sensor.evaluate(longer) == sensor.evaluate(bars), sensor.spec.id
