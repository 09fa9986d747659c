"""Building the per-symbol feeds of each market mode: kline replay, tick replay, synthetic.

Re-stamping: the clock's "now" at construction (``anchor_ms``) maps to ``data start + history``, so
``history`` of real data lies before now for warm-up and the rest plays forward in the clock's time.
Kline replay moves its start back by less than a day so each minute keeps its real time of day (see
:func:`kline_replay_start`). Data that runs out loops (see :mod:`.bars` and :mod:`.tickfeed`).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import numpy as np

from core.types import BookTicker, Instrument, Trade
from exchanges.sandbox.market.barfeed import BarFeed
from exchanges.sandbox.market.bars import BarChunk, LoopExtender, MinuteBars
from exchanges.sandbox.market.calibration import calibrate_profile, default_profile
from exchanges.sandbox.market.candles import MinuteSeries
from exchanges.sandbox.market.grid import Grid
from exchanges.sandbox.market.klines import MINUTE_MS, DataFiles, load_klines
from exchanges.sandbox.market.synthetic import DEFAULT_MARKET_PARAMS, SyntheticExtender, start_price_for
from exchanges.sandbox.market.tickfeed import TickFeed
from exchanges.sandbox.market.ticks import BookArrays, load_books, load_trades
from exchanges.sandbox.profile import BookProfile

__all__ = [
    "Built",
    "SymbolFeed",
    "base_trade_id",
    "build_kline_feeds",
    "build_synthetic_feeds",
    "build_tick_feeds",
    "describe_files",
    "kline_replay_start",
    "utc",
]


class SymbolFeed(Protocol):
    """What the facade needs from one symbol's market, whatever its source."""

    symbol: str
    grid: Grid

    @property
    def first_ms(self) -> int: ...

    def events(self, after: int, upto: int, out: list[Trade | BookTicker]) -> None: ...

    def price_ticks(self, ts: int) -> int: ...

    def minute_series(self, m_lo: int, m_hi: int, now_ms: int) -> MinuteSeries: ...

    def agg_trades(
        self, from_id: int | None, start_time: int | None, end_time: int | None, limit: int, now_ms: int
    ) -> list[Trade]: ...


@dataclass(slots=True)
class Built:
    """Feeds and profiles of the served symbols, and what the startup banner says about them."""

    feeds: dict[str, SymbolFeed] = field(default_factory=dict)
    profiles: dict[str, BookProfile] = field(default_factory=dict)
    span: tuple[int, int] | None = None  # data time covered by the files (ms), if any
    notes: list[str] = field(default_factory=list)


def base_trade_id(symbol: str) -> int:
    """First aggTrade id of a symbol: large like Binance's, and distinct per symbol."""
    return 1_000_000_000 + (zlib.crc32(symbol.encode()) % 1000) * 10_000_000


def utc(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")


def _profile(symbol: str, files: DataFiles, instrument: Instrument, price: float) -> BookProfile:
    books = files.books.get(symbol)
    if books:
        ticks_dir = books[0].parent
        wire = ticks_dir.parent / "wire" / "ws"
        return calibrate_profile(
            symbol,
            ticks_dir,
            wire if wire.is_dir() else None,
            tick_size=instrument.filters.tick_size,
            step_size=instrument.filters.step_size,
        )
    return default_profile(symbol, price, instrument.filters.step_size)


def _touch_steps(profile: BookProfile, grid: Grid) -> int:
    return max(1, int((profile.levels[0][1] / grid.step).to_integral_value()) if profile.levels else 1)


def _merge_span(span: tuple[int, int] | None, lo: int, hi: int) -> tuple[int, int]:
    return (lo, hi) if span is None else (min(span[0], lo), max(span[1], hi))


# Kline periods nested in one another, longest first: keeping the data's phase modulo one of them keeps it
# modulo every Binance interval that divides it (12h covers 6h, 4h, 2h, 1h, ...; only 1d also covers 8h).
_ALIGN_PERIODS_MIN = (1440, 720, 240, 120, 60, 30, 15, 5, 1)


def kline_replay_start(anchor_ms: int, first_open_ms: int, history_min: int, length_min: int) -> int:
    """Replay time of the file's first minute: at least ``history_min`` before the minute of ``anchor_ms``.

    The start is moved back (by less than the alignment period) until it has the data's own phase, so
    every minute is replayed at its real time of day and higher-timeframe candles group the same real
    minutes as Binance's, whenever the replay starts. The period is one day, or for a file shorter than a
    day the longest nested kline period it covers (so "now" stays within the first two passes of it).
    """
    anchor = anchor_ms // MINUTE_MS * MINUTE_MS
    k0 = min(history_min, length_min - 1)
    period = next(p for p in _ALIGN_PERIODS_MIN if p <= max(length_min, 1)) * MINUTE_MS
    start = anchor - k0 * MINUTE_MS
    return start - (start - first_open_ms) % period


def build_kline_feeds(
    instruments: Mapping[str, Instrument], files: DataFiles, *, anchor_ms: int, history_min: int, seed: int
) -> Built:
    """Feeds replaying 1-minute klines, with trades synthesized inside each minute.

    Each symbol keeps its own file's time of day (see :func:`kline_replay_start`).
    """
    built = Built()
    for symbol, instrument in instruments.items():
        paths = files.klines.get(symbol)
        if not paths:
            continue
        grid = Grid.of(instrument)
        k = load_klines(symbol, paths)
        chunk = BarChunk(
            grid.price_ticks(k.open),
            grid.price_ticks(k.high),
            grid.price_ticks(k.low),
            grid.price_ticks(k.close),
            grid.qty_steps(k.volume),
        )
        positive = chunk.volume[chunk.volume > 0]
        typical = float(np.median(positive)) if positive.size else 1.0
        bars = MinuteBars(chunk, typical, LoopExtender(chunk))
        t0 = kline_replay_start(anchor_ms, int(k.open_time[0]), history_min, len(k))
        now_minute = (anchor_ms - t0) // MINUTE_MS
        profile = _profile(symbol, files, instrument, float(k.close[min(now_minute, len(k) - 1)]))
        built.feeds[symbol] = BarFeed(
            symbol,
            grid,
            bars,
            t0,
            seed=seed,
            spread_ticks=profile.spread_ticks,
            touch_steps=_touch_steps(profile, grid),
            base_id=base_trade_id(symbol),
        )
        built.profiles[symbol] = profile
        built.span = _merge_span(built.span, int(k.open_time[0]), int(k.open_time[-1]) + MINUTE_MS)
        if len(k) <= history_min:
            built.notes.append(
                f"{symbol}: only {len(k) / 1440:.1f} days of data: all of it lies before now, then it loops"
            )
        if k.filled_gaps:
            built.notes.append(f"{symbol}: {k.filled_gaps} missing minutes filled flat")
    return built


def build_tick_feeds(
    instruments: Mapping[str, Instrument], files: DataFiles, *, anchor_ms: int, history_min: int
) -> Built:
    """Feeds replaying real trades and book tickers."""
    built = Built()
    for symbol, instrument in instruments.items():
        trade_files = files.trades.get(symbol)
        if not trade_files:
            continue
        grid = Grid.of(instrument)
        trades = load_trades(trade_files, grid)
        books = load_books(files.books.get(symbol, []), grid) if symbol in files.books else None
        if books is None:
            empty = np.zeros(0, dtype=np.int64)
            books = BookArrays(empty, empty, empty, empty, empty, empty)
            built.notes.append(f"{symbol}: no bookTicker capture, book tickers not replayed")
        feed = TickFeed(
            symbol,
            grid,
            trades,
            books,
            anchor_ms=anchor_ms,
            history_ms=history_min * MINUTE_MS,
            base_id=base_trade_id(symbol),
        )
        built.feeds[symbol] = feed
        built.profiles[symbol] = _profile(symbol, files, instrument, float(trades.price[0]) * grid.tick_f)
        built.span = _merge_span(built.span, feed.d0, feed.d0 + feed.period)
    return built


def build_synthetic_feeds(
    instruments: Mapping[str, Instrument], *, anchor_ms: int, history_min: int, seed: int
) -> Built:
    """Feeds of the seeded synthetic market (every instrument is served)."""
    built = Built()
    anchor = anchor_ms // MINUTE_MS * MINUTE_MS
    for symbol, instrument in instruments.items():
        grid = Grid.of(instrument)
        start = start_price_for(symbol, instrument.filters.tick_size)
        extender = SyntheticExtender(DEFAULT_MARKET_PARAMS, grid, seed, symbol, start)
        bars = MinuteBars(extender.first(history_min + 1440), extender.typical_steps(start), extender)
        profile = default_profile(symbol, start, instrument.filters.step_size)
        built.feeds[symbol] = BarFeed(
            symbol,
            grid,
            bars,
            anchor - history_min * MINUTE_MS,
            seed=seed,
            spread_ticks=profile.spread_ticks,
            touch_steps=_touch_steps(profile, grid),
            base_id=base_trade_id(symbol),
        )
        built.profiles[symbol] = profile
    return built


def describe_files(paths: list[Path]) -> str:
    names = ", ".join(p.name for p in paths[:4])
    more = f" and {len(paths) - 4} more" if len(paths) > 4 else ""
    return f"{len(paths)} file{'s' if len(paths) != 1 else ''} ({names}{more})"
