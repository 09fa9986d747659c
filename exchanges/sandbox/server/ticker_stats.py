"""24-hour rolling ticker statistics, shared by ``GET /fapi/v1/ticker/24hr`` and the ticker streams.

The window is the replay's own history: the 1-minute candles opened in the last 24 h (open = the first
candle's open, high/low/volumes over them, the last price included), the last public trade for ``lastQty``,
and the first/last trade ids of the aggTrades inside the window (``count = lastId - firstId + 1``, as
Binance defines it). Pure reads of the market and the core; nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

import msgspec

from core.types import ZERO, Candle, Instrument, Trade

__all__ = ["DAY_MS", "Ticker24h", "TickerStats"]

DAY_MS = 86_400_000
_MINUTES_PER_DAY = 1440
_PERCENT_PLACES = Decimal("0.001")
_QUOTE_PLACES = Decimal("0.01")


class MarketHistory(Protocol):
    """The replay's history (``MarketReplay``)."""

    def history_klines(
        self, symbol: str, interval: str, *, start_time: int | None, end_time: int | None, limit: int
    ) -> list[Candle]: ...

    def history_agg_trades(
        self, symbol: str, *, from_id: int | None, start_time: int | None, end_time: int | None, limit: int
    ) -> list[Trade]: ...


class LastTrades(Protocol):
    """The instruments and the latest public trade per symbol (``ExchangeCore``)."""

    @property
    def instruments(self) -> Mapping[str, Instrument]: ...

    def last_trade(self, symbol: str) -> Trade | None: ...


class Ticker24h(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol's 24 h statistics, exact decimals (formatting is the wire layer's job)."""

    symbol: str
    price_change: Decimal
    price_change_percent: Decimal
    weighted_avg_price: Decimal
    last_price: Decimal
    last_qty: Decimal
    open_price: Decimal
    high_price: Decimal
    low_price: Decimal
    volume: Decimal
    quote_volume: Decimal
    open_time: int
    close_time: int
    first_id: int
    last_id: int
    count: int


class _ClosedMinutes(msgspec.Struct):
    """The window's finished 1-minute candles, aggregated: they only change when a minute closes."""

    minute: int  # open time of the minute in progress when this was built
    open_price: Decimal | None
    high: Decimal | None
    low: Decimal | None
    volume: Decimal
    quote: Decimal


class TickerStats:
    """Computes :class:`Ticker24h` on demand; within one exchange millisecond a symbol is computed once.

    The finished minutes of the window are aggregated once per minute (a day of candles costs ~10 ms to
    build); each call only adds the minute in progress and the latest trade.
    """

    def __init__(self, market: MarketHistory, trades: LastTrades) -> None:
        self.market = market
        self.trades = trades
        self._cache_ms = -1
        self._cache: dict[str, Ticker24h] = {}
        self._closed: dict[str, _ClosedMinutes] = {}

    def get(self, inst: Instrument, now_ms: int) -> Ticker24h:
        if now_ms != self._cache_ms:
            self._cache_ms = now_ms
            self._cache = {}
        cached = self._cache.get(inst.symbol)
        if cached is None:
            cached = self._cache[inst.symbol] = self._compute(inst, now_ms)
        return cached

    def _compute(self, inst: Instrument, now_ms: int) -> Ticker24h:
        symbol = inst.symbol
        start = now_ms - DAY_MS
        minute = now_ms - now_ms % 60_000
        closed = self._closed.get(symbol)
        if closed is None or closed.minute != minute:
            closed = self._closed[symbol] = self._aggregate(symbol, start, minute)
        current = self.market.history_klines(symbol, "1m", start_time=minute, end_time=now_ms, limit=1)
        last_trade = self.trades.last_trade(symbol)
        if last_trade is not None:
            last = last_trade.price
        elif current:
            last = current[-1].close
        else:
            last = ZERO
        open_price = closed.open_price or (current[0].open if current else last)
        highs = [last] + [c.high for c in current] + ([closed.high] if closed.high is not None else [])
        lows = [last] + [c.low for c in current] + ([closed.low] if closed.low is not None else [])
        high, low = max(highs), min(lows)
        volume = closed.volume + sum((c.volume for c in current), ZERO)
        quote = closed.quote + sum((_quote(c) for c in current), ZERO)
        change = last - open_price
        percent = (change * 100 / open_price).quantize(_PERCENT_PLACES) if open_price else ZERO
        vwap = (quote / volume).quantize(Decimal(1).scaleb(-inst.price_precision)) if volume else last
        first_id, last_id = self._trade_ids(symbol, start, now_ms, last_trade)
        return Ticker24h(
            symbol=symbol,
            price_change=change,
            price_change_percent=percent,
            weighted_avg_price=vwap,
            last_price=last,
            last_qty=last_trade.qty if last_trade is not None else ZERO,
            open_price=open_price,
            high_price=high,
            low_price=low,
            volume=volume,
            quote_volume=quote.quantize(_QUOTE_PLACES),
            open_time=start,
            close_time=now_ms,
            first_id=first_id,
            last_id=last_id,
            count=last_id - first_id + 1 if last_id >= first_id >= 0 else 0,
        )

    def _aggregate(self, symbol: str, start: int, minute: int) -> _ClosedMinutes:
        """The finished minutes opened in ``[start, minute)``: they stay the same until ``minute`` ends."""
        candles = [
            c
            for c in self.market.history_klines(
                symbol, "1m", start_time=start, end_time=minute - 1, limit=_MINUTES_PER_DAY
            )
            if c.open_time < minute
        ]
        return _ClosedMinutes(
            minute=minute,
            open_price=candles[0].open if candles else None,
            high=max(c.high for c in candles) if candles else None,
            low=min(c.low for c in candles) if candles else None,
            volume=sum((c.volume for c in candles), ZERO),
            quote=sum((_quote(c) for c in candles), ZERO),
        )

    def _trade_ids(self, symbol: str, start: int, now_ms: int, last: Trade | None) -> tuple[int, int]:
        """(first, last) trade id inside the window; (-1, -1) when nothing traded in it."""
        first = self.market.history_agg_trades(
            symbol, from_id=None, start_time=start, end_time=now_ms, limit=1
        )
        if not first:
            return -1, -1
        first_id = first[0].first_trade_id or first[0].trade_id
        if last is None or last.ts < start:
            # The core has not seen the window's trades (history before the replay started): ask the tape.
            tail = self.market.history_agg_trades(
                symbol, from_id=None, start_time=None, end_time=now_ms, limit=1
            )
            last = (tail or first)[-1]
        return first_id, last.last_trade_id or last.trade_id


def _quote(c: Candle) -> Decimal:
    """A candle's quote volume (estimated at its close when the data has none)."""
    return c.quote_volume or c.volume * c.close
