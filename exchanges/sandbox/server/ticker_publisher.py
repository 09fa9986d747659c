"""The 24 h ticker streams on ``/market``: ``<symbol>@ticker`` and ``<symbol>@miniTicker`` every 2 s,
``!ticker@arr`` and ``!miniTicker@arr`` every 1 s with only the symbols that traded since their last push
(Binance: "only tickers that have changed will be present in the array").

Pushes fall on exchange-time slot boundaries (``now // period``), so a faster sandbox clock pushes faster
in wall time, like every other throttled stream. Statistics come from :class:`TickerStats`, computed once
per symbol and step however many streams ask.
"""

from __future__ import annotations

from exchanges.sandbox.server.hub import Hub
from exchanges.sandbox.server.streams import Route, StreamKind, StreamSpec
from exchanges.sandbox.server.ticker_stats import TickerStats
from exchanges.sandbox.server.ws_codec import (
    encode_mini_ticker,
    encode_mini_ticker_array,
    encode_ticker,
    encode_ticker_array,
)

__all__ = ["TICKER_KINDS", "TickerPublisher"]

TICKER_KINDS = frozenset(
    (StreamKind.TICKER, StreamKind.MINI_TICKER, StreamKind.ALL_TICKER, StreamKind.ALL_MINI_TICKER)
)


class TickerPublisher:
    """Publishes the ticker streams of one sandbox; fed trades, flushed at the end of each market step."""

    def __init__(self, hub: Hub, stats: TickerStats) -> None:
        self.hub = hub
        self.stats = stats
        self._slots: dict[str, int] = {}  # stream name -> last pushed slot
        self._changed: dict[str, set[str]] = {}  # array stream name -> symbols traded since its last push

    def on_trade(self, symbol: str) -> None:
        for changed in self._changed.values():
            changed.add(symbol)

    def flush(self, name: str, spec: StreamSpec, now_ms: int) -> None:
        """Publish ``name`` if its period has come round at ``now_ms`` (exchange time)."""
        if spec.kind not in TICKER_KINDS:
            return
        slot = now_ms // spec.period_ms
        if self._slots.get(name) == slot:
            return
        if spec.kind in (StreamKind.ALL_TICKER, StreamKind.ALL_MINI_TICKER):
            self._flush_array(name, spec, now_ms, slot)
            return
        instruments = self.stats.trades.instruments
        inst = instruments.get(spec.symbol)
        if inst is None or self.stats.trades.last_trade(spec.symbol) is None:
            return  # an unlisted symbol, or nothing traded yet: nothing to report
        self._slots[name] = slot
        ticker = self.stats.get(inst, now_ms)
        payload = (
            encode_ticker(ticker, now_ms)
            if spec.kind is StreamKind.TICKER
            else encode_mini_ticker(ticker, now_ms)
        )
        self.hub.publish(Route.MARKET, name, payload)

    def _flush_array(self, name: str, spec: StreamSpec, now_ms: int, slot: int) -> None:
        changed = self._changed.get(name)
        if changed is None:
            # First push after subscribing: every symbol that has traded.
            instruments = self.stats.trades.instruments
            changed = {s for s in instruments if self.stats.trades.last_trade(s) is not None}
        self._changed[name] = set()
        self._slots[name] = slot
        if not changed:
            return
        instruments = self.stats.trades.instruments
        tickers = [self.stats.get(instruments[s], now_ms) for s in sorted(changed) if s in instruments]
        if spec.kind is StreamKind.ALL_TICKER:
            payload = encode_ticker_array(tickers, now_ms)
        else:
            payload = encode_mini_ticker_array(tickers, now_ms)
        self.hub.publish(Route.MARKET, name, payload)

    def forget(self, names: set[str]) -> None:
        """Drop the state of streams nobody listens to any more (a later subscriber starts afresh)."""
        for name in [n for n in self._slots if n not in names]:
            del self._slots[name]
        for name in [n for n in self._changed if n not in names]:
            del self._changed[name]
