"""Kline intervals and candles built from 1-minute series, with Binance's klines semantics.

Binance aligns candles in UTC: fixed intervals on multiples of their length since the epoch, ``1w``
on Mondays 00:00 and ``1M`` on the first of the month. ``GET /fapi/v1/klines`` returns candles whose
open time lies in ``[startTime, endTime]``, oldest first, at most ``limit``; without ``startTime`` the
most recent ones up to ``endTime`` (or now); the last candle may be the current, still-open one.

Quote volume and taker-buy volume are estimated from each candle (volume × the OHLC average, and
a taker-buy share that follows the candle's direction): the 7-column data has neither, and summing
synthesized trades for long histories would be too slow for a REST answer.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from core.types import Candle
from exchanges.sandbox.market.grid import Grid

__all__ = [
    "KLINE_INTERVALS",
    "MinuteSeries",
    "build_candles",
    "interval_next",
    "interval_open",
    "select_opens",
]

I64 = npt.NDArray[np.int64]
MINUTE_MS = 60_000
_DAY_MS = 86_400_000
_MONDAY_OFFSET_MS = 4 * _DAY_MS  # 1970-01-01 was a Thursday; weeks start on Monday 1970-01-05

_FIXED_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1d": _DAY_MS,
    "3d": 3 * _DAY_MS,
    "1w": 7 * _DAY_MS,
}
KLINE_INTERVALS: tuple[str, ...] = (*_FIXED_MS, "1M")


def _check(interval: str) -> None:
    if interval not in KLINE_INTERVALS:
        raise ValueError(f"unknown kline interval {interval!r}; expected one of {', '.join(KLINE_INTERVALS)}")


def interval_open(interval: str, ts: int) -> int:
    """Open time of the ``interval`` candle that contains ``ts``."""
    _check(interval)
    if interval == "1M":
        day = datetime.fromtimestamp(ts / 1000, tz=UTC)
        return calendar.timegm((day.year, day.month, 1, 0, 0, 0)) * 1000
    size = _FIXED_MS[interval]
    offset = _MONDAY_OFFSET_MS if interval == "1w" else 0
    return (ts - offset) // size * size + offset


def interval_next(interval: str, open_ms: int) -> int:
    """Open time of the candle after the one opening at ``open_ms``."""
    _check(interval)
    if interval == "1M":
        day = datetime.fromtimestamp(open_ms / 1000, tz=UTC)
        year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
        return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000
    return open_ms + _FIXED_MS[interval]


def _interval_prev(interval: str, open_ms: int) -> int:
    return interval_open(interval, open_ms - 1)


def select_opens(
    interval: str, first_ms: int, now_ms: int, *, start_time: int | None, end_time: int | None, limit: int
) -> list[int]:
    """Open times of the candles a klines request returns, given data from ``first_ms`` to ``now_ms``."""
    lo = interval_open(interval, first_ms)
    hi = interval_open(interval, now_ms)
    if start_time is not None:
        start_open = interval_open(interval, start_time)
        lo = max(lo, start_open if start_open == start_time else interval_next(interval, start_open))
    if end_time is not None:
        hi = min(hi, interval_open(interval, end_time))
    opens: list[int] = []
    if lo > hi or limit <= 0:
        return opens
    if start_time is None:
        t = hi
        while t >= lo and len(opens) < limit:
            opens.append(t)
            t = _interval_prev(interval, t)
        opens.reverse()
    else:
        t = lo
        while t <= hi and len(opens) < limit:
            opens.append(t)
            t = interval_next(interval, t)
    return opens


@dataclass(frozen=True, slots=True)
class MinuteSeries:
    """Consecutive 1-minute OHLCV in ticks/steps starting at absolute minute ``first_minute``.

    Minutes without trades hold a flat bar at the previous close. The last minute may be partial.
    """

    first_minute: int  # epoch ms // 60_000
    open: I64
    high: I64
    low: I64
    close: I64
    volume: I64
    count: I64

    def __len__(self) -> int:
        return int(self.open.shape[0])


def build_candles(
    symbol: str, interval: str, opens: list[int], series: MinuteSeries, *, grid: Grid, now_ms: int
) -> list[Candle]:
    """Candles opening at ``opens`` from the minutes of ``series``; buckets it does not cover are left out."""
    if not opens or len(series) == 0:
        return []
    bounds = [*opens, interval_next(interval, opens[-1])]
    minute_bounds = np.asarray(bounds, dtype=np.int64) // MINUTE_MS - series.first_minute
    starts = np.clip(minute_bounds, 0, len(series))
    out: list[Candle] = []
    for k, open_ms in enumerate(opens):
        a, b = int(starts[k]), int(starts[k + 1])
        if a >= b:
            continue
        o, c = int(series.open[a]), int(series.close[b - 1])
        h, lo = int(series.high[a:b].max()), int(series.low[a:b].min())
        vol = int(series.volume[a:b].sum())
        close_time = bounds[k + 1] - 1
        volume = grid.qty(vol)
        quote = volume * grid.price(o + h + lo + c) / 4
        buy_share = 0.5 if h == lo else 0.5 + 0.4 * (c - o) / (h - lo)
        taker_buy_steps = round(vol * buy_share)
        taker_buy = grid.qty(taker_buy_steps)
        out.append(
            Candle(
                symbol=symbol,
                interval=interval,
                open_time=open_ms,
                close_time=close_time,
                open=grid.price(o),
                high=grid.price(h),
                low=grid.price(lo),
                close=grid.price(c),
                volume=volume,
                quote_volume=quote,
                trades=int(series.count[a:b].sum()),
                taker_buy_volume=taker_buy,
                taker_buy_quote_volume=taker_buy * grid.price(o + h + lo + c) / 4,
                closed=close_time < now_ms,
            )
        )
    return out
