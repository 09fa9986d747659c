"""Tiny sensors and candle builders for the SensorManager tests.

The factories are module-level so spawned workers can import them by name. They ignore the settings'
sensor selection: the pool's behaviour, not the library, is under test here.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from decimal import Decimal

from core.config_engine import SensorSettings
from core.types import Candle
from sensors.base import Bars, Sensor, SensorSpec

MINUTE_MS = 60_000
TIMEFRAME_MS = {"1m": MINUTE_MS, "5m": 5 * MINUTE_MS, "15m": 15 * MINUTE_MS, "1h": 60 * MINUTE_MS}
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (60 * MINUTE_MS)  # an hour boundary

# Close prices that make the hostile sensors misbehave.
CRASH_PRICE = 666.0  # the worker process exits hard
HANG_PRICE = 777.0  # the sensor never returns


def _spec(sensor_id: str, lookback: int, timeframes: tuple[str, ...] = ()) -> SensorSpec:
    return SensorSpec(
        id=sensor_id,
        family="momentum",
        timeframes=timeframes,
        lookback=lookback,
        params={},
        description=f"test sensor {sensor_id}",
    )


class Change:
    """Direction of the last close-to-close change; strength = |change| / previous close × 100, clipped."""

    def __init__(self) -> None:
        self.spec = _spec("change", 2)

    def evaluate(self, bars: Bars) -> tuple[int, float]:
        previous, last = float(bars.close[-2]), float(bars.close[-1])
        if last == previous:
            return 0, 0.0
        return (1 if last > previous else -1), min(abs(last - previous) / previous * 100.0, 1.0)


class Window:
    """Only on 5m, needs 4 bars: +1 if the last close is the highest of the last 4, else 0."""

    def __init__(self) -> None:
        self.spec = _spec("window", 4, ("5m",))

    def evaluate(self, bars: Bars) -> tuple[int, float]:
        highest = bool(bars.close[-1] >= bars.close[-4:].max())
        return (1, 1.0) if highest else (0, 0.0)


class Raises:
    """Always raises: must cost only its own signal."""

    def __init__(self) -> None:
        self.spec = _spec("raises", 1)

    def evaluate(self, bars: Bars) -> tuple[int, float]:
        raise ZeroDivisionError("by design")


class OutOfBounds:
    """Answers outside the contract (strength 2): refused like an exception."""

    def __init__(self) -> None:
        self.spec = _spec("out_of_bounds", 1)

    def evaluate(self, bars: Bars) -> tuple[int, float]:
        return 1, 2.0


class Hostile:
    """Kills its process, or hangs, on the trigger prices; otherwise neutral."""

    def __init__(self) -> None:
        self.spec = _spec("hostile", 1)

    def evaluate(self, bars: Bars) -> tuple[int, float]:
        last = float(bars.close[-1])
        if last == CRASH_PRICE:
            os._exit(3)
        if last == HANG_PRICE:
            while True:
                time.sleep(1)
        return 0, 0.0


def tiny_sensors(settings: SensorSettings) -> list[Sensor]:
    """Two well-behaved sensors."""
    return [Change(), Window()]


def faulty_sensors(settings: SensorSettings) -> list[Sensor]:
    """The well-behaved ones plus two that fail on every candle."""
    return [Change(), Raises(), OutOfBounds(), Window()]


def hostile_sensors(settings: SensorSettings) -> list[Sensor]:
    """The well-behaved ones plus one that crashes or hangs its worker on trigger prices."""
    return [Change(), Hostile()]


def fails_in_worker(settings: SensorSettings) -> list[Sensor]:
    """Builds fine in the manager's process, raises inside a worker (a start-up failure)."""
    if multiprocessing.parent_process() is not None:
        raise ValueError("sensor 'nope' is unknown")
    return [Change()]


def candle(symbol: str, timeframe: str, close_time: int, close: float, volume: float = 10.0) -> Candle:
    """A closed candle ending at ``close_time`` (inclusive ms, Binance style)."""
    price = Decimal(repr(close))
    return Candle(
        symbol=symbol,
        interval=timeframe,
        open_time=close_time + 1 - TIMEFRAME_MS[timeframe],
        close_time=close_time,
        open=price,
        high=price + 1,
        low=price - 1,
        close=price,
        volume=Decimal(repr(volume)),
        taker_buy_volume=Decimal(repr(volume / 2)),
    )


def series(symbols: list[str], timeframes: list[str], bars: int, start_close: float = 100.0) -> list[Candle]:
    """``bars`` closed candles per (symbol, timeframe), a rising zig-zag, ending just before :data:`T0`."""
    out = []
    for symbol in symbols:
        for timeframe in timeframes:
            step = TIMEFRAME_MS[timeframe]
            for i in range(bars):
                close_time = T0 - 1 - (bars - 1 - i) * step
                out.append(candle(symbol, timeframe, close_time, start_close + i + (i % 3) * 0.5))
    return out


def moment(symbols: list[str], timeframes: list[str], close_time: int, close: float) -> list[Candle]:
    """The candles of every (symbol, timeframe) closing at ``close_time``."""
    return [candle(s, tf, close_time, close) for s in symbols for tf in timeframes]
