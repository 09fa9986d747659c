"""MarketReplay: the sandbox's market in exchange time, and its history for warm-up.

Three modes, chosen from ``data_paths``:

- ``klines``: real 1-minute klines, with aggTrades synthesized inside each minute (:mod:`.synth`);
  symbols without a kline file are not served (``describe()`` names them);
- ``ticks``: real trade and bookTicker captures (:mod:`.tickfeed`);
- ``synthetic``: no data paths; a seeded GARCH/Student-t/jump market calibrated on real data
  (:mod:`.synthetic`), serving every instrument.

Re-stamping: the clock's "now" at construction maps to ``data start + history_days`` (for klines
moved up to one day later so each minute keeps its real time of day, see
:func:`.sources.kline_replay_start`), so at least that much real history lies before now (served
by ``history_klines`` and ``history_agg_trades``) and the rest plays forward at the clock's pace,
whatever its speed. When the data runs out it loops back to the start with prices scaled by
``last / first`` so the series stays continuous (re-rounded to the tick grid); ids keep increasing.

Besides trades and book tickers, each symbol gets a ``MarkPrice`` every second of exchange time and a
``FundingSettlement`` at 00:00, 08:00 and 16:00 UTC (:mod:`.marks`).

Determinism: the same files, seed and clock readings give identical events and history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path

import msgspec

from core.clock import Clock
from core.types import ZERO, BookTicker, Candle, Instrument, MarkPrice, Trade
from exchanges.sandbox.market.calibration import default_profile
from exchanges.sandbox.market.candles import build_candles, interval_next, interval_open, select_opens
from exchanges.sandbox.market.klines import DataFiles, MarketDataError, discover
from exchanges.sandbox.market.marks import MarkModel
from exchanges.sandbox.market.sources import (
    Built,
    SymbolFeed,
    build_kline_feeds,
    build_synthetic_feeds,
    build_tick_feeds,
    describe_files,
    utc,
)
from exchanges.sandbox.profile import BookProfile

__all__ = ["FundingSettlement", "MarketEvent", "MarketReplay", "SymbolNotServedError"]

_DAY_MIN = 1440


class FundingSettlement(msgspec.Struct, frozen=True):
    """A funding payment due at ``ts`` on every open position of ``symbol`` at ``rate``."""

    symbol: str
    rate: Decimal
    ts: int


MarketEvent = Trade | BookTicker | MarkPrice | FundingSettlement


def _ts(event: MarketEvent) -> int:
    return event.ts


class SymbolNotServedError(KeyError):
    """The market has no data for this symbol: pass a data file for it, or leave it out of --symbols."""


class MarketReplay:
    """Market events in exchange time and history before now, for the sandbox's instruments."""

    def __init__(
        self,
        instruments: Mapping[str, Instrument],
        clock: Clock,
        *,
        data_paths: Sequence[Path] = (),
        seed: int = 0,
        history_days: float = 7.0,
    ) -> None:
        if history_days < 0:
            raise ValueError(f"history_days must not be negative, got {history_days}")
        self._instruments = dict(instruments)
        self._clock = clock
        self._history_days = history_days
        now = clock.now_ms()
        self._last = now
        history_min = round(history_days * _DAY_MIN)
        files = discover(list(data_paths)) if data_paths else DataFiles()
        self._files = files
        built: Built
        if files.klines:
            self.mode = "klines"
            built = build_kline_feeds(instruments, files, anchor_ms=now, history_min=history_min, seed=seed)
        elif files.trades:
            self.mode = "ticks"
            built = build_tick_feeds(instruments, files, anchor_ms=now, history_min=history_min)
        elif data_paths:
            raise MarketDataError(
                f"no kline or tick files found in {[str(p) for p in data_paths]} "
                "(expected names like BTCUSDT-1m-2025-05.zip or BTCUSDT-PERP-trades-20240808.csv.gz)"
            )
        else:
            self.mode = "synthetic"
            built = build_synthetic_feeds(instruments, anchor_ms=now, history_min=history_min, seed=seed)
        if not built.feeds:
            raise MarketDataError(
                f"none of the symbols {sorted(instruments)} has a data file in {[str(p) for p in data_paths]}"
            )
        self._built = built
        self._feeds: dict[str, SymbolFeed] = built.feeds
        self.symbols: tuple[str, ...] = tuple(s for s in instruments if s in self._feeds)
        self._marks = {
            s: MarkModel(s, seed, self._feeds[s].price_ticks(now) * self._feeds[s].grid.tick_f)
            for s in self.symbols
        }

    # -- description ---------------------------------------------------------------------------

    def describe(self) -> str:
        """One line for the startup banner: mode, files, data span, history (independent of speed)."""
        served = ", ".join(self.symbols)
        if self.mode == "synthetic":
            text = f"synthetic market (seeded, calibrated on real BTC/ETH klines) for {served}"
        else:
            files = self._files.all_files()
            text = f"{self.mode} replay of {served} from {describe_files(files)}"
            if self._built.span is not None:
                lo, hi = self._built.span
                days = (hi - lo) / 86_400_000
                length = f"{days:.1f} days" if days >= 1 else f"{(hi - lo) / 60_000:.0f} minutes"
                text += f", data {utc(lo)} → {utc(hi)} UTC ({length})"
            text += ", looping with continuous price scaling"
        at_least = "at least " if self.mode == "klines" else ""
        text += f"; {at_least}{self._history_days:g} days of history before now"
        missing = [s for s in self._instruments if s not in self._feeds]
        if missing:
            text += f"; not served (no data): {', '.join(missing)}"
        if self._built.notes:
            text += "; " + "; ".join(self._built.notes)
        return text

    # -- live events ---------------------------------------------------------------------------

    def events_until(self, now_ms: int) -> list[MarketEvent]:
        """Every event stamped in ``(previous call's now, now_ms]``, in time order.

        Per timestamp: trades and book tickers first, then funding settlements, then mark prices.
        A ``now_ms`` that does not move forward returns nothing.
        """
        after = self._last
        if now_ms <= after:
            return []
        out: list[MarketEvent] = []
        for symbol in self.symbols:
            buf: list[Trade | BookTicker] = []
            self._feeds[symbol].events(after, now_ms, buf)
            out.extend(buf)
        marks: list[MarketEvent] = []
        second = (after // 1000 + 1) * 1000
        while second <= now_ms:
            for symbol in self.symbols:
                feed = self._feeds[symbol]
                mark, settled = self._marks[symbol].step(second, feed.price_ticks(second) * feed.grid.tick_f)
                if settled is not None:
                    marks.append(FundingSettlement(symbol, settled, second))
                marks.append(mark)
            second += 1000
        out.extend(marks)
        if len(self.symbols) > 1 or marks:
            out.sort(key=_ts)  # stable: keeps the per-timestamp order above
        self._last = now_ms
        return out

    # -- history -------------------------------------------------------------------------------

    def _feed(self, symbol: str) -> SymbolFeed:
        feed = self._feeds.get(symbol)
        if feed is None:
            raise SymbolNotServedError(symbol)
        return feed

    def history_klines(
        self, symbol: str, interval: str, *, start_time: int | None, end_time: int | None, limit: int
    ) -> list[Candle]:
        """Binance ``GET /fapi/v1/klines`` semantics up to now, including the current, open candle.

        Candles open within ``[start_time, end_time]``; without ``start_time`` the most recent ones.
        A symbol without data gets no candles. Raises ValueError for an unknown interval.
        """
        feed = self._feeds.get(symbol)
        now = self._clock.now_ms()
        opens = select_opens(
            interval,
            feed.first_ms if feed else now,
            now,
            start_time=start_time,
            end_time=end_time,
            limit=limit,
        )
        if feed is None or not opens:
            return []
        series = feed.minute_series(opens[0] // 60_000, interval_next(interval, opens[-1]) // 60_000, now)
        return build_candles(symbol, interval, opens, series, grid=feed.grid, now_ms=now)

    def history_agg_trades(
        self, symbol: str, *, from_id: int | None, start_time: int | None, end_time: int | None, limit: int
    ) -> list[Trade]:
        """Binance ``GET /fapi/v1/aggTrades`` semantics up to now, oldest first, at most ``limit``.

        ``from_id`` (inclusive) wins over times; ``start_time``/``end_time`` are inclusive; with
        neither ``from_id`` nor ``start_time`` the most recent trades (up to ``end_time``) are returned.
        The caller validates Binance's limits (``limit`` ≤ 1000, a window under one hour).
        """
        feed = self._feeds.get(symbol)
        if feed is None:
            return []
        return feed.agg_trades(from_id, start_time, end_time, limit, self._clock.now_ms())

    def current_kline(self, symbol: str, interval: str, now_ms: int) -> Candle:
        """The ``interval`` candle containing ``now_ms`` with the trades up to ``now_ms``.

        ``closed`` is true once ``now_ms`` has reached the candle's close time: call with the close
        time to get the final candle of the ``kline_<interval>`` stream (``"x": true``).
        """
        feed = self._feed(symbol)
        open_ms = interval_open(interval, now_ms)
        next_ms = interval_next(interval, open_ms)
        series = feed.minute_series(open_ms // 60_000, next_ms // 60_000, now_ms)
        candles = build_candles(symbol, interval, [open_ms], series, grid=feed.grid, now_ms=now_ms + 1)
        if candles:
            return candles[0]
        price = feed.grid.price(feed.price_ticks(now_ms))
        return Candle(
            symbol=symbol,
            interval=interval,
            open_time=open_ms,
            close_time=next_ms - 1,
            open=price,
            high=price,
            low=price,
            close=price,
            volume=ZERO,
            closed=now_ms >= next_ms - 1,
        )

    # -- reads ---------------------------------------------------------------------------------

    def profile(self, symbol: str) -> BookProfile:
        """The book profile of ``symbol`` (calibrated or shipped default; scaled for unknown symbols)."""
        known = self._built.profiles.get(symbol)
        if known is not None:
            return known
        instrument = self._instruments.get(symbol)
        step = instrument.filters.step_size if instrument else Decimal("0.001")
        return default_profile(symbol, None, step)

    def price_at(self, symbol: str, ts: int) -> Decimal:
        """Last trade price at or before ``ts`` (the first price of the data before it starts)."""
        feed = self._feed(symbol)
        return feed.grid.price(feed.price_ticks(ts))
