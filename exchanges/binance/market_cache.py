"""The latest market state per symbol, as the streams delivered it: last trade price, book ticker, mark price.

Pure and synchronous: feed it every stream event with :meth:`MarketCache.on_event` (it fits
``MarketStreams(on_event=...)`` directly, or as one step of a fan-out). The REST side serves these reads from
here while the market-data circuit breaker is open. Stale or out-of-order events never overwrite newer ones.
"""

from __future__ import annotations

from decimal import Decimal

from core.types import BookTicker, Candle, MarkPrice, Trade

__all__ = ["MarketCache"]


class MarketCache:
    """Last trade, book ticker and mark price per symbol."""

    def __init__(self) -> None:
        self._trades: dict[str, Trade] = {}
        self._books: dict[str, BookTicker] = {}
        self._marks: dict[str, MarkPrice] = {}

    def on_event(self, event: Trade | MarkPrice | BookTicker | Candle) -> None:
        """Record one stream event (candles carry nothing the cache serves and are ignored)."""
        if isinstance(event, Trade):
            last = self._trades.get(event.symbol)
            if last is None or event.trade_id > last.trade_id:
                self._trades[event.symbol] = event
        elif isinstance(event, BookTicker):
            book = self._books.get(event.symbol)
            if book is None or (event.update_id, event.ts) >= (book.update_id, book.ts):
                self._books[event.symbol] = event
        elif isinstance(event, MarkPrice):
            mark = self._marks.get(event.symbol)
            if mark is None or event.ts >= mark.ts:
                self._marks[event.symbol] = event

    def last_price(self, symbol: str) -> Decimal | None:
        """Price of the most recent trade seen for ``symbol``, or None."""
        trade = self._trades.get(symbol)
        return None if trade is None else trade.price

    def last_trade(self, symbol: str) -> Trade | None:
        return self._trades.get(symbol)

    def book_ticker(self, symbol: str) -> BookTicker | None:
        return self._books.get(symbol)

    def mark_price(self, symbol: str) -> MarkPrice | None:
        return self._marks.get(symbol)

    def symbols(self) -> frozenset[str]:
        """Every symbol the cache holds anything for."""
        return frozenset(self._trades) | frozenset(self._books) | frozenset(self._marks)
