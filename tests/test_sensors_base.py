"""The sensor contract: Bars, parameter validation, verdict normalisation, helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sensors.base import Bars, Param, SensorBase, crossed, ramp, verdict
from sensors.library import sensor_class
from tests.sensors_support import from_closes, path


def arrays(n: int) -> dict[str, np.ndarray]:
    f = np.linspace(1.0, 2.0, n)
    return {
        "open": f,
        "high": f + 1,
        "low": f - 0.5,
        "close": f,
        "volume": f,
        "taker_buy_volume": f / 2,
        "close_time": np.arange(n, dtype=np.int64),
    }


def test_bars_are_read_only_views_of_their_arrays() -> None:
    data = arrays(10)
    b = Bars(**data)
    assert len(b) == 10
    assert np.shares_memory(b.close, data["close"])  # no copy
    with pytest.raises(ValueError, match="read-only"):
        b.close[0] = 5.0
    data["close"][0] = 7.0  # the owner (a ring buffer) still writes
    assert b.close[0] == 7.0


def test_bars_reject_arrays_of_different_lengths() -> None:
    data = arrays(10)
    data["volume"] = data["volume"][:9]
    with pytest.raises(ValueError, match="same length"):
        Bars(**data)


def test_tail_is_the_last_bars_and_stays_read_only() -> None:
    b = Bars(**arrays(10))
    tail = b.tail(3)
    assert len(tail) == 3
    assert tail.close_time.tolist() == [7, 8, 9]
    assert np.shares_memory(tail.high, b.high)
    assert not tail.open.flags.writeable
    assert len(b.tail(50)) == 10


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ((2.5, 0.4), (1, 0.4)),
        ((-0.1, 3.0), (-1, 1.0)),
        ((1, -2.0), (1, 0.0)),
        ((0, 0.9), (0, 0.0)),
        ((math.nan, 0.5), (0, 0.0)),
        ((1, math.nan), (0, 0.0)),
        ((math.inf, 0.5), (0, 0.0)),
        ((np.float64(-3.0), np.float64(0.25)), (-1, 0.25)),
    ],
)
def test_verdict_normalises_direction_and_strength(
    raw: tuple[float, float], expected: tuple[int, float]
) -> None:
    direction, strength = verdict(*raw)
    assert (direction, strength) == expected
    assert type(direction) is int and type(strength) is float  # plain Python: they are msgspec-encoded


def test_ramp_maps_and_clips() -> None:
    assert ramp(5.0, 0.0, 10.0) == 0.5
    assert ramp(-1.0, 0.0, 10.0) == 0.0
    assert ramp(11.0, 0.0, 10.0) == 1.0
    assert ramp(3.0, 3.0, 3.0) == 1.0
    assert math.isnan(ramp(math.nan, 0.0, 1.0))


def test_crossed_detects_the_last_bar_only() -> None:
    a = np.array([1.0, 2.0, 3.0])
    assert crossed(a, np.array([2.5, 2.5, 2.5])) == 1
    assert crossed(np.array([3.0, 2.0]), 2.5) == -1
    assert crossed(a, 0.0) == 0
    assert crossed(np.array([1.0, 3.0]), np.array([math.nan, 2.0])) == 0


def test_param_check_types_and_ranges() -> None:
    period = Param("period", 14, 2, 100)
    assert period.check("x", 20) == 20
    for bad in (1, 101, 14.0, True, "14"):
        with pytest.raises(ValueError, match="sensor 'x' param 'period'"):
            period.check("x", bad)
    level = Param("level", 30.0, 0.0, 50.0)
    assert level.check("x", 25) == 25.0 and isinstance(level.check("x", 25), float)
    for bad in (math.nan, 60.0, False, "1"):
        with pytest.raises(ValueError, match="param 'level'"):
            level.check("x", bad)
    flag = Param("flag", False)
    assert flag.check("x", True) is True
    with pytest.raises(ValueError, match="boolean"):
        flag.check("x", 1)
    mode = Param("mode", "a", choices=("a", "b"))
    assert mode.check("x", "b") == "b"
    with pytest.raises(ValueError, match="not one of"):
        mode.check("x", "c")


def test_sensor_overrides_defaults_and_reports_them_in_its_spec() -> None:
    rsi = sensor_class("rsi")({"period": 21, "oversold": 25})
    assert rsi.spec.params == {"period": 21, "oversold": 25.0, "overbought": 70.0}
    assert rsi.spec.lookback > sensor_class("rsi")().spec.lookback
    assert rsi.spec.family == "momentum" and rsi.spec.description


def test_sensor_rejects_unknown_and_invalid_params() -> None:
    cls = sensor_class("ema_cross")
    with pytest.raises(ValueError, match="'ema_cross' has no param 'length'"):
        cls({"length": 3})
    with pytest.raises(ValueError, match="param 'fast'"):
        cls({"fast": 0})
    with pytest.raises(ValueError, match="fast must be shorter than slow"):
        cls({"fast": 30, "slow": 20})


def test_timeframes_param_restricts_where_a_sensor_runs() -> None:
    cls = sensor_class("rsi")
    assert cls().spec.timeframes == ()
    assert cls({"timeframes": "5m, 1h"}).spec.timeframes == ("5m", "1h")
    assert "timeframes" not in cls({"timeframes": "5m"}).spec.params
    with pytest.raises(ValueError, match="unknown timeframe '7m'"):
        cls({"timeframes": "5m,7m"})


def test_parameters_change_the_answer() -> None:
    # The same series, a stricter threshold: the parameter really reaches the computation.
    b = from_closes(path(100, (200, 300), noise=0.05))
    assert sensor_class("roc")().evaluate(b)[0] == 1
    assert sensor_class("roc")({"threshold": 50.0}).evaluate(b) == (0, 0.0)


def test_a_sensor_without_compute_is_a_type_error() -> None:
    class Incomplete(SensorBase):
        id = "incomplete"
        family = "trend"
        description = "misses configure(), lookback() and compute()"

    with pytest.raises(TypeError, match="abstract"):
        Incomplete()  # type: ignore[abstract]
