"""Kline intervals, Binance's klines selection rules, and candle aggregation."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pytest

from exchanges.sandbox.market.candles import (
    KLINE_INTERVALS,
    MinuteSeries,
    build_candles,
    interval_next,
    interval_open,
    select_opens,
)
from exchanges.sandbox.market.grid import Grid


def ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp() * 1000)


def test_interval_alignment() -> None:
    t = ms(2025, 6, 18, 13, 47, 12)  # a Wednesday
    assert interval_open("1m", t) == ms(2025, 6, 18, 13, 47)
    assert interval_open("15m", t) == ms(2025, 6, 18, 13, 45)
    assert interval_open("4h", t) == ms(2025, 6, 18, 12)
    assert interval_open("1d", t) == ms(2025, 6, 18)
    assert interval_open("1w", t) == ms(2025, 6, 16)  # Monday
    assert interval_open("1M", t) == ms(2025, 6, 1)
    assert interval_next("1M", ms(2025, 12, 1)) == ms(2026, 1, 1)
    assert interval_next("1w", ms(2025, 6, 16)) == ms(2025, 6, 23)
    for interval in KLINE_INTERVALS:
        start = interval_open(interval, t)
        assert start <= t < interval_next(interval, start)
    with pytest.raises(ValueError, match="unknown kline interval"):
        interval_open("7m", t)


def test_select_opens_follows_binance_rules() -> None:
    first, now = ms(2025, 1, 1), ms(2025, 1, 1, 1, 0, 30)  # 61 one-minute candles exist, the last open
    recent = select_opens("1m", first, now, start_time=None, end_time=None, limit=5)
    assert recent == [ms(2025, 1, 1, 0, 56) + i * 60_000 for i in range(5)]
    # startTime inside a candle: the first candle returned opens at or after it.
    from_start = select_opens("1m", first, now, start_time=ms(2025, 1, 1, 0, 10, 5), end_time=None, limit=3)
    assert from_start == [ms(2025, 1, 1, 0, 11) + i * 60_000 for i in range(3)]
    window = select_opens(
        "1m", first, now, start_time=ms(2025, 1, 1, 0, 10), end_time=ms(2025, 1, 1, 0, 12), limit=500
    )
    assert window == [ms(2025, 1, 1, 0, 10), ms(2025, 1, 1, 0, 11), ms(2025, 1, 1, 0, 12)]
    until = select_opens("1m", first, now, start_time=None, end_time=ms(2025, 1, 1, 0, 2, 59), limit=500)
    assert until == [ms(2025, 1, 1, 0, m) for m in range(3)]
    assert select_opens("1m", first, now, start_time=now + 60_000, end_time=None, limit=5) == []
    assert len(select_opens("1h", first, now, start_time=None, end_time=None, limit=500)) == 2


def test_build_candles_aggregates_minutes() -> None:
    grid = Grid(Decimal("0.1"), Decimal("0.001"))
    first_minute = ms(2025, 1, 1) // 60_000
    o = np.array([100, 105, 103, 101, 110], dtype=np.int64)
    h = np.array([106, 107, 104, 111, 112], dtype=np.int64)
    lo = np.array([99, 102, 100, 100, 109], dtype=np.int64)
    c = np.array([105, 103, 101, 110, 111], dtype=np.int64)
    v = np.array([10, 20, 0, 5, 7], dtype=np.int64)
    n = np.array([3, 4, 0, 2, 1], dtype=np.int64)
    series = MinuteSeries(first_minute, o, h, lo, c, v, n)
    now = ms(2025, 1, 1, 0, 4, 30)
    candles = build_candles(
        "BTCUSDT", "3m", [ms(2025, 1, 1), ms(2025, 1, 1, 0, 3)], series, grid=grid, now_ms=now
    )
    first, second = candles
    assert (first.open, first.high, first.low, first.close) == (
        Decimal("10.0"),
        Decimal("10.7"),
        Decimal("9.9"),
        Decimal("10.1"),
    )
    assert first.volume == Decimal("0.030") and first.trades == 7 and first.closed
    assert first.close_time == ms(2025, 1, 1, 0, 3) - 1
    assert (second.open, second.close, second.volume, second.closed) == (
        Decimal("10.1"),
        Decimal("11.1"),
        Decimal("0.012"),
        False,
    )
    assert Decimal(0) <= second.taker_buy_volume <= second.volume
