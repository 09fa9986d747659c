"""WorkerCore in-process (no processes): lookback gating, timeframe filter, per-sensor failure isolation."""

from __future__ import annotations

import numpy as np
import pytest

from core.config_engine import SensorSettings
from core.types import Signal
from sensors.base import Bars, SensorSpec
from sensors.messages import (
    Bar,
    Evaluate,
    Failed,
    Ready,
    SensorFailure,
    SignalGroup,
    Signals,
    Stop,
    Warmup,
    bar_from_candle,
    decode_from_worker,
    decode_to_worker,
    encode,
    expand,
)
from sensors.worker import WorkerCore
from tests.sensor_manager_support import candle, faulty_sensors, tiny_sensors


def b(symbol: str, timeframe: str, close_time: int, close: float) -> Bar:
    return Bar(symbol, timeframe, close_time, close, close + 1, close - 1, close, 5.0, 2.0)


def test_no_signal_before_lookback_then_one_per_sensor() -> None:
    core = WorkerCore(tiny_sensors(SensorSettings()), capacity=8)
    first = core.evaluate(Evaluate(batch_id=1, bars=[b("BTCUSDT", "5m", 1, 10.0)]))
    assert first.groups == [] and first.evaluations == 0  # change needs 2 bars, window 4
    second = core.evaluate(Evaluate(batch_id=2, bars=[b("BTCUSDT", "5m", 2, 11.0)]))
    assert expand(second.groups, core.sensor_ids) == [
        Signal(sensor_id="change", symbol="BTCUSDT", timeframe="5m", direction=1, strength=1.0, ts=2)
    ]
    core.warmup(Warmup(batch_id=3, bars=[b("BTCUSDT", "5m", 3, 12.0), b("BTCUSDT", "5m", 4, 13.0)]))
    third = core.evaluate(Evaluate(batch_id=4, bars=[b("BTCUSDT", "5m", 5, 12.9)]))
    by_id = {s.sensor_id: s for s in expand(third.groups, core.sensor_ids)}
    assert by_id["change"].direction == -1
    assert by_id["window"].direction == 0  # 12.9 is not the highest of the last 4
    assert third.evaluations == 2 and third.batch_id == 4


def test_sensor_runs_only_on_its_timeframes() -> None:
    core = WorkerCore(tiny_sensors(SensorSettings()), capacity=8)
    bars = [b("ETHUSDT", "1m", t, 10.0 + t) for t in range(1, 6)]
    core.warmup(Warmup(batch_id=1, bars=bars[:-1]))
    reply = core.evaluate(Evaluate(batch_id=2, bars=bars[-1:]))
    assert [s.sensor_id for s in expand(reply.groups, core.sensor_ids)] == ["change"]  # window is 5m only


def test_failing_sensors_cost_only_their_own_signal() -> None:
    core = WorkerCore(faulty_sensors(SensorSettings()), capacity=8)
    core.warmup(Warmup(batch_id=1, bars=[b("BTCUSDT", "5m", t, 10.0 + t) for t in range(1, 5)]))
    reply = core.evaluate(
        Evaluate(batch_id=2, bars=[b("BTCUSDT", "5m", 5, 20.0), b("ETHUSDT", "5m", 5, 1.0)])
    )
    assert {s.sensor_id for s in expand(reply.groups, core.sensor_ids)} == {"change", "window"}
    assert sorted((f.sensor_id, f.symbol) for f in reply.failures) == [
        ("out_of_bounds", "BTCUSDT"),
        ("out_of_bounds", "ETHUSDT"),
        ("raises", "BTCUSDT"),
        ("raises", "ETHUSDT"),
    ]
    raised = next(f for f in reply.failures if f.sensor_id == "raises")
    assert raised.error == "ZeroDivisionError: by design"
    assert "strength 2.0" in next(f for f in reply.failures if f.sensor_id == "out_of_bounds").error


class NumpyScalars:
    spec = SensorSpec(id="np", family="trend", timeframes=(), lookback=1, params={}, description="")

    def evaluate(self, bars: Bars) -> tuple[int, float]:
        return np.int64(-1), np.float64(0.25)  # type: ignore[return-value]


def test_numpy_results_become_plain_numbers_that_encode() -> None:
    core = WorkerCore([NumpyScalars()], capacity=2)
    reply = core.evaluate(Evaluate(batch_id=1, bars=[b("BTCUSDT", "1m", 1, 1.0)]))
    (signal,) = expand(reply.groups, core.sensor_ids)
    assert type(signal.direction) is int and type(signal.strength) is float
    assert decode_from_worker(encode(reply)) == reply


def test_replayed_bars_are_skipped_not_evaluated_twice() -> None:
    core = WorkerCore(tiny_sensors(SensorSettings()), capacity=8)
    bars = [b("BTCUSDT", "1m", t, 10.0 + t) for t in range(1, 4)]
    ready = core.warmup(Warmup(batch_id=1, bars=bars))
    assert (ready.loaded, ready.skipped) == (3, 0)
    again = core.warmup(Warmup(batch_id=2, bars=bars))
    assert (again.loaded, again.skipped) == (0, 3)
    reply = core.evaluate(Evaluate(batch_id=3, bars=bars[-1:]))
    assert reply.skipped == 1 and reply.groups == []


def test_capacity_below_longest_lookback_is_refused() -> None:
    with pytest.raises(ValueError, match="longest sensor lookback 4"):
        WorkerCore(tiny_sensors(SensorSettings()), capacity=3)


def test_messages_round_trip() -> None:
    bar = bar_from_candle(candle("BTCUSDT", "15m", 899_999, 123.45))
    assert bar.close == 123.45 and bar.taker_buy_volume == 5.0 and bar.timeframe == "15m"
    for message in (Warmup(batch_id=1, bars=[bar]), Evaluate(batch_id=2, bars=[bar]), Stop()):
        assert decode_to_worker(encode(message)) == message
    for reply in (
        Ready(batch_id=3, loaded=2, skipped=1, sensor_ids=("a", "b")),
        Failed(batch_id=4, error="ValueError: no"),
        Signals(
            batch_id=5,
            groups=[SignalGroup("BTCUSDT", "1m", 59_999, [1, 0], [-1, 0], [0.5, 0.0])],
            compute_ns=7,
            evaluations=2,
            failures=[SensorFailure("a", "BTCUSDT", "1m", "KeyError: 'x'")],
        ),
    ):
        assert decode_from_worker(encode(reply)) == reply


def test_expand_names_sensors_by_index() -> None:
    group = SignalGroup("ETHUSDT", "1h", 3_599_999, [2, 0], [1, -1], [0.75, 0.25])
    assert expand([group], ("a", "b", "c")) == [
        Signal(sensor_id="c", symbol="ETHUSDT", timeframe="1h", direction=1, strength=0.75, ts=3_599_999),
        Signal(sensor_id="a", symbol="ETHUSDT", timeframe="1h", direction=-1, strength=0.25, ts=3_599_999),
    ]
