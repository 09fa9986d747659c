"""Turns the market loop's events into stream frames: market data to ``/public`` and ``/market`` subscribers.

Per-event streams (aggTrade, bookTicker, markPrice@1s) are published as each event is applied;
throttled streams (depth at 100/250/500 ms, kline every 250 ms, markPrice every 3 s, the 24 h tickers,
the all-market arrays) are published by :meth:`MarketPublisher.flush` at the end of each loop step, on
exchange time.
Nothing is encoded for a stream nobody listens to.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

import msgspec

from core.types import BookTicker, Candle, MarkPrice, Trade
from exchanges.sandbox.server.hub import Hub
from exchanges.sandbox.server.streams import Route, StreamKind, StreamSpec, parse_stream
from exchanges.sandbox.server.ticker_publisher import TICKER_KINDS, TickerPublisher
from exchanges.sandbox.server.ticker_stats import TickerStats
from exchanges.sandbox.server.ws_codec import (
    encode_agg_trade,
    encode_book_ticker,
    encode_depth,
    encode_kline,
    encode_mark_price,
    encode_mark_price_array,
)

__all__ = ["BookSource", "KlineSource", "MarketPublisher"]

Levels = list[tuple[Decimal, Decimal]]
_KLINE_PERIOD_MS = 250  # Binance pushes kline updates every 250 ms
_DIFF_DEPTH_LEVELS = 1000


class BookSource(Protocol):
    """The exchange core's synthetic book (``ExchangeCore.depth``)."""

    def depth(self, symbol: str, limit: int) -> tuple[Levels, Levels]: ...


class KlineSource(Protocol):
    """The market's candles (``MarketReplay.current_kline``)."""

    def current_kline(self, symbol: str, interval: str, now_ms: int) -> Candle: ...


class _DepthState:
    __slots__ = ("last_push_ms", "levels", "update_id")

    def __init__(self) -> None:
        self.update_id = 0
        self.last_push_ms = -(10**18)
        self.levels: dict[tuple[bool, Decimal], Decimal] = {}


class _KlineState:
    __slots__ = ("close_time", "first_id", "last_id", "last_push_ms", "open_time", "trades_seen")

    def __init__(self) -> None:
        self.open_time = -1
        self.close_time = -1
        self.first_id = -1
        self.last_id = -1
        self.last_push_ms = -(10**18)
        self.trades_seen = False


class MarketPublisher:
    """Publishes market frames to the hub; one instance per sandbox, driven by the market loop."""

    def __init__(
        self, hub: Hub, book: BookSource, klines: KlineSource, tickers: TickerStats | None = None
    ) -> None:
        """``tickers``: the 24 h statistics behind the ticker streams (none are served without them)."""
        self.hub = hub
        self.book = book
        self.klines = klines
        self._tickers = TickerPublisher(hub, tickers) if tickers is not None else None
        self._update_ids: dict[str, int] = {}
        self._book_ts: dict[str, int] = {}
        self._last_mark: dict[str, MarkPrice] = {}
        self._mark_slot: dict[str, int] = {}
        self._marks_arrived = False
        self._mark_arr_slot: dict[str, int] = {}
        self._trades: dict[str, list[tuple[int, int]]] = {}  # symbol -> (ts, aggTrade id) this step
        self._specs: dict[str, StreamSpec | None] = {}
        self._depth: dict[str, _DepthState] = {}
        self._kline: dict[str, _KlineState] = {}

    # --- per event ----------------------------------------------------------------------------------------

    def on_trade(self, trade: Trade) -> None:
        self._trades.setdefault(trade.symbol, []).append((trade.ts, trade.trade_id))
        if self._tickers is not None:
            self._tickers.on_trade(trade.symbol)
        name = f"{trade.symbol.lower()}@aggTrade"
        if self.hub.has_subscribers(Route.MARKET, name):
            self.hub.publish(Route.MARKET, name, encode_agg_trade(trade))

    def on_book_ticker(self, book: BookTicker, now_ms: int) -> None:
        # update ids strictly increase per symbol, as Binance's order book update ids do
        previous = self._update_ids.get(book.symbol, 0)
        uid = book.update_id if book.update_id > previous else previous + 1
        self._update_ids[book.symbol] = uid
        self._book_ts[book.symbol] = book.ts
        name = f"{book.symbol.lower()}@bookTicker"
        wanted = self.hub.has_subscribers(Route.PUBLIC, name)
        wanted_all = self.hub.has_subscribers(Route.PUBLIC, "!bookTicker")
        if wanted or wanted_all:
            payload = encode_book_ticker(book, uid, now_ms)
            if wanted:
                self.hub.publish(Route.PUBLIC, name, payload)
            if wanted_all:
                self.hub.publish(Route.PUBLIC, "!bookTicker", payload)

    def on_mark_price(self, mark: MarkPrice) -> None:
        self._last_mark[mark.symbol] = mark
        self._marks_arrived = True
        base = f"{mark.symbol.lower()}@markPrice"
        if self.hub.has_subscribers(Route.MARKET, base + "@1s"):
            self.hub.publish(Route.MARKET, base + "@1s", encode_mark_price(mark))
        slot = mark.ts // 3000
        if slot != self._mark_slot.get(mark.symbol):
            self._mark_slot[mark.symbol] = slot
            for name in (base, base + "@3s"):
                if self.hub.has_subscribers(Route.MARKET, name):
                    self.hub.publish(Route.MARKET, name, encode_mark_price(mark))

    # --- end of step ----------------------------------------------------------------------------------------

    def flush(self, now_ms: int) -> None:
        """Publish the throttled streams that are due at ``now_ms`` (exchange time)."""
        for name in list(self.hub.streams_of(Route.PUBLIC)):
            spec = self._spec(name)
            if spec is not None and spec.kind in (StreamKind.PARTIAL_DEPTH, StreamKind.DIFF_DEPTH):
                self._flush_depth(name, spec, now_ms)
        market_streams = list(self.hub.streams_of(Route.MARKET))
        for name in market_streams:
            spec = self._spec(name)
            if spec is None:
                continue
            if spec.kind is StreamKind.KLINE:
                self._flush_kline(name, spec, now_ms)
            elif spec.kind is StreamKind.ALL_MARK_PRICE:
                self._flush_mark_array(name, spec)
            elif spec.kind in TICKER_KINDS and self._tickers is not None:
                self._tickers.flush(name, spec, now_ms)
        if self._tickers is not None:
            self._tickers.forget(set(market_streams))
        self._trades.clear()
        self._marks_arrived = False

    def _spec(self, name: str) -> StreamSpec | None:
        if name not in self._specs:
            self._specs[name] = parse_stream(name)
        return self._specs[name]

    def _flush_depth(self, name: str, spec: StreamSpec, now_ms: int) -> None:
        uid = self._update_ids.get(spec.symbol)
        if uid is None:
            return  # no book for this symbol yet
        state = self._depth.setdefault(name, _DepthState())
        if uid == state.update_id or now_ms - state.last_push_ms < spec.period_ms:
            return
        ts = self._book_ts[spec.symbol]
        if spec.kind is StreamKind.PARTIAL_DEPTH:
            bids, asks = self.book.depth(spec.symbol, spec.levels)
        else:
            bids, asks = self._diff(state, *self.book.depth(spec.symbol, _DIFF_DEPTH_LEVELS))
        first = state.update_id + 1 if state.update_id else uid
        payload = encode_depth(
            spec.symbol,
            bids,
            asks,
            event_ms=now_ms,
            transaction_ms=ts,
            first_update_id=first,
            final_update_id=uid,
            prev_final_update_id=state.update_id,
        )
        state.update_id = uid
        state.last_push_ms = now_ms
        self.hub.publish(Route.PUBLIC, name, payload)

    @staticmethod
    def _diff(state: _DepthState, bids: Levels, asks: Levels) -> tuple[Levels, Levels]:
        """Levels that changed since the last push, with quantity 0 for the ones that disappeared."""
        current = {(True, p): q for p, q in bids} | {(False, p): q for p, q in asks}
        changed = {k: q for k, q in current.items() if state.levels.get(k) != q}
        for k in state.levels.keys() - current.keys():
            changed[k] = Decimal(0)
        state.levels = current
        out_bids = sorted(((p, q) for (is_bid, p), q in changed.items() if is_bid), reverse=True)
        out_asks = sorted((p, q) for (is_bid, p), q in changed.items() if not is_bid)
        return out_bids, out_asks

    def _flush_kline(self, name: str, spec: StreamSpec, now_ms: int) -> None:
        state = self._kline.setdefault(name, _KlineState())
        trades = self._trades.get(spec.symbol, ())
        candle = self.klines.current_kline(spec.symbol, spec.interval, now_ms)
        rolled = candle.open_time != state.open_time
        if rolled and state.open_time >= 0:
            last = self.klines.current_kline(spec.symbol, spec.interval, state.close_time)
            last = msgspec.structs.replace(last, closed=True)
            self.hub.publish(
                Route.MARKET,
                name,
                encode_kline(
                    last,
                    event_ms=now_ms,
                    first_trade_id=state.first_id,
                    last_trade_id=state.last_id,
                    closed=True,
                ),
            )
        if rolled:
            state.open_time, state.close_time = candle.open_time, candle.close_time
            state.first_id = state.last_id = -1
        for ts, trade_id in trades:
            if ts >= candle.open_time:
                if state.first_id < 0:
                    state.first_id = trade_id
                state.last_id = trade_id
                state.trades_seen = True
        if not rolled and (not state.trades_seen or now_ms - state.last_push_ms < _KLINE_PERIOD_MS):
            return
        state.trades_seen = False
        state.last_push_ms = now_ms
        self.hub.publish(
            Route.MARKET,
            name,
            encode_kline(
                candle,
                event_ms=now_ms,
                first_trade_id=state.first_id,
                last_trade_id=state.last_id,
                closed=candle.closed,
            ),
        )

    def _flush_mark_array(self, name: str, spec: StreamSpec) -> None:
        if not self._marks_arrived or not self._last_mark:
            return
        if spec.period_ms == 3000:
            slot = max(m.ts for m in self._last_mark.values()) // 3000
            if slot == self._mark_arr_slot.get(name):
                return
            self._mark_arr_slot[name] = slot
        marks: Sequence[MarkPrice] = sorted(self._last_mark.values(), key=lambda m: m.symbol)
        self.hub.publish(Route.MARKET, name, encode_mark_price_array(marks))
