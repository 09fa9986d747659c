"""Builders of crafted bar series for the sensor tests: closes → OHLCV, mirror images, candle lists."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from sensors.base import Bars, Sensor

F64 = npt.NDArray[np.float64]


def bars(
    o: Sequence[float] | F64,
    h: Sequence[float] | F64,
    lo: Sequence[float] | F64,
    c: Sequence[float] | F64,
    volume: Sequence[float] | F64 | float = 10.0,
    buy: Sequence[float] | F64 | float = 0.5,
) -> Bars:
    """Bars from OHLC; ``volume`` per bar (or one for all); ``buy`` is the taker-buy share (likewise)."""
    n = len(c)
    v = np.broadcast_to(np.asarray(volume, dtype=np.float64), (n,)).copy()
    share = np.broadcast_to(np.asarray(buy, dtype=np.float64), (n,))
    return Bars(
        open=np.asarray(o, dtype=np.float64),
        high=np.asarray(h, dtype=np.float64),
        low=np.asarray(lo, dtype=np.float64),
        close=np.asarray(c, dtype=np.float64),
        volume=v,
        taker_buy_volume=v * share,
        close_time=np.arange(n, dtype=np.int64) * 60_000 + 59_999,
    )


def from_closes(
    closes: Sequence[float] | F64,
    *,
    wick: float = 0.1,
    volume: Sequence[float] | F64 | float = 10.0,
    buy: Sequence[float] | F64 | float = 0.5,
) -> Bars:
    """Each bar opens at the previous close and has shadows of ``wick`` beyond its body."""
    c = np.asarray(closes, dtype=np.float64)
    o = np.concatenate([c[:1], c[:-1]])
    return bars(o, np.maximum(o, c) + wick, np.minimum(o, c) - wick, c, volume, buy)


def path(start: float, *legs: tuple[float, int], noise: float = 0.0) -> F64:
    """A piecewise-linear close series: from ``start``, each leg ``(end, bars)`` moves linearly to ``end``.

    ``noise`` adds a deterministic ±noise zigzag so ranges and true ranges never vanish.
    """
    points = [np.array([start])]
    level = start
    for end, count in legs:
        points.append(np.linspace(level, end, count + 1)[1:])
        level = end
    series = np.concatenate(points)
    return series + noise * np.where(np.arange(len(series)) % 2 == 0, 1.0, -1.0)


def mirror(b: Bars) -> Bars:
    """The mirror image: prices reflected (highs become lows), taker buys become taker sells."""
    pivot = float(b.high.max() + b.low.min())
    return Bars(
        open=pivot - b.open,
        high=pivot - b.low,
        low=pivot - b.high,
        close=pivot - b.close,
        volume=b.volume.copy(),
        taker_buy_volume=b.volume - b.taker_buy_volume,
        close_time=b.close_time.copy(),
    )


def candles(*ohlc: tuple[float, float, float, float], volume: float = 10.0) -> Bars:
    """Bars from explicit (open, high, low, close) candles."""
    o, h, lo, c = (list(column) for column in zip(*ohlc, strict=True))
    return bars(o, h, lo, c, volume)


def concat(*parts: Bars) -> Bars:
    """Bars one after the other."""
    return Bars(
        open=np.concatenate([p.open for p in parts]),
        high=np.concatenate([p.high for p in parts]),
        low=np.concatenate([p.low for p in parts]),
        close=np.concatenate([p.close for p in parts]),
        volume=np.concatenate([p.volume for p in parts]),
        taker_buy_volume=np.concatenate([p.taker_buy_volume for p in parts]),
        close_time=np.arange(sum(len(p) for p in parts), dtype=np.int64) * 60_000 + 59_999,
    )


def first_signal(sensor: Sensor, b: Bars, start: int) -> tuple[int, int]:
    """(index, direction) of the first non-neutral verdict on prefixes ending at ``start``.. the end.

    ``(-1, 0)`` if the sensor never fires there.
    """
    for end in range(start + 1, len(b) + 1):
        direction, _ = sensor.evaluate(prefix(b, end))
        if direction:
            return end - 1, direction
    return -1, 0


def prefix(b: Bars, end: int) -> Bars:
    """The first ``end`` bars."""
    return Bars(
        open=b.open[:end],
        high=b.high[:end],
        low=b.low[:end],
        close=b.close[:end],
        volume=b.volume[:end],
        taker_buy_volume=b.taker_buy_volume[:end],
        close_time=b.close_time[:end],
    )
