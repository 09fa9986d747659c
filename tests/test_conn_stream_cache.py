"""MarketCache: latest trade price, book ticker and mark price per symbol; stale events never win."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from core.types import BookTicker, Candle, MarkPrice, Trade
from exchanges.binance.market_cache import MarketCache


def _trade(trade_id: int, price: str, symbol: str = "BTCUSDT") -> Trade:
    return Trade(
        symbol=symbol,
        trade_id=trade_id,
        price=Decimal(price),
        qty=Decimal(1),
        is_buyer_maker=False,
        ts=trade_id,
    )


def _book(update_id: int, bid: str) -> BookTicker:
    return BookTicker(
        symbol="BTCUSDT",
        bid_price=Decimal(bid),
        bid_qty=Decimal(1),
        ask_price=Decimal(bid) + 1,
        ask_qty=Decimal(1),
        ts=update_id,
        update_id=update_id,
    )


def _mark(ts: int, price: str) -> MarkPrice:
    return MarkPrice(
        symbol="BTCUSDT",
        mark_price=Decimal(price),
        index_price=Decimal(price),
        funding_rate=Decimal("0.0001"),
        next_funding_time=0,
        ts=ts,
    )


def test_empty_cache_answers_none() -> None:
    cache = MarketCache()
    assert cache.last_price("BTCUSDT") is None
    assert cache.book_ticker("BTCUSDT") is None and cache.mark_price("BTCUSDT") is None
    assert cache.symbols() == frozenset()


def test_latest_values_per_symbol() -> None:
    cache = MarketCache()
    for event in (
        _trade(1, "100"),
        _trade(2, "101.5"),
        _trade(7, "3000", "ETHUSDT"),
        _book(5, "100"),
        _mark(9, "100.2"),
    ):
        cache.on_event(event)
    assert cache.last_price("BTCUSDT") == Decimal("101.5")
    assert cache.last_price("ETHUSDT") == Decimal("3000")
    book = cache.book_ticker("BTCUSDT")
    assert book is not None and book.bid_price == Decimal("100")
    mark = cache.mark_price("BTCUSDT")
    assert mark is not None and mark.mark_price == Decimal("100.2")
    assert cache.symbols() == {"BTCUSDT", "ETHUSDT"}


def test_stale_events_do_not_overwrite() -> None:
    cache = MarketCache()
    cache.on_event(_trade(10, "105"))
    cache.on_event(_trade(9, "104"))  # a late duplicate from an overlapping connection
    cache.on_event(_book(20, "105"))
    cache.on_event(_book(19, "104"))
    cache.on_event(_mark(30, "105"))
    cache.on_event(_mark(29, "104"))
    cache.on_event(
        Candle(
            symbol="BTCUSDT",
            interval="1m",
            open_time=0,
            close_time=59_999,
            open=Decimal(1),
            high=Decimal(1),
            low=Decimal(1),
            close=Decimal(1),
            volume=Decimal(0),
        )
    )
    assert cache.last_price("BTCUSDT") == Decimal("105")
    book = cache.book_ticker("BTCUSDT")
    mark = cache.mark_price("BTCUSDT")
    assert book is not None and book.update_id == 20
    assert mark is not None and mark.ts == 30


@given(st.lists(st.integers(min_value=1, max_value=10_000), min_size=1, max_size=50))
def test_last_price_is_that_of_the_highest_trade_id(ids: list[int]) -> None:
    cache = MarketCache()
    for i in ids:
        cache.on_event(_trade(i, str(i)))
    assert cache.last_price("BTCUSDT") == Decimal(max(ids))
