"""MarketStreams against the running sandbox, with its WebSocket faults: dropped connections and dropped
frames must not cost a single trade (received + backfilled == the sandbox's aggTrade history, no gap, no
duplicate)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from core.secrets import Secret
from core.types import BookTicker, Candle, MarkPrice, Trade
from exchanges.binance.market_cache import MarketCache
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.rest_api import BinanceRestApi
from exchanges.binance.streams import MarketStreams
from exchanges.binance.venues import Venue, venue_preset
from exchanges.sandbox.runner import Sandbox
from tests.helpers import eventually
from tests.ws_helpers import settings

Event = Trade | MarkPrice | BookTicker | Candle
SYMBOLS = ("BTCUSDT", "ETHUSDT")


@asynccontextmanager
async def connected_sandbox(**kw: Any) -> AsyncIterator[tuple[Sandbox, Venue, BinanceRestApi]]:
    async with Sandbox(settings(symbols=SYMBOLS, **kw)) as sb:
        venue = venue_preset("sandbox", sb.rest_url)
        key, secret = sb.demo_credentials
        client = BinanceRestClient(venue, sb.context.clock, api_key=Secret(key), api_secret=Secret(secret))
        await client.start()
        try:
            yield sb, venue, BinanceRestApi(client)
        finally:
            await client.close()


def _trades(events: list[Event], symbol: str) -> list[Trade]:
    return [e for e in events if isinstance(e, Trade) and e.symbol == symbol]


async def test_drops_and_lost_frames_are_backfilled_to_the_exact_history() -> None:
    async with connected_sandbox(speed=20.0) as (sb, venue, api):
        events: list[Event] = []
        cache = MarketCache()

        def on_event(event: Event) -> None:
            events.append(event)
            cache.on_event(event)

        streams = MarketStreams(venue, sb.context.clock, on_event=on_event, fetch_agg_trades=api.agg_trades)
        streams.subscribe(SYMBOLS, book_ticker=True, klines=["1m"])
        await streams.start()
        await eventually(lambda: all(_trades(events, s) for s in SYMBOLS), timeout=15, message="first trades")

        sb.context.faults.update("ws_drop_every=1.5s,drop_frames=0.1")
        await eventually(lambda: streams.stats.reconnects >= 4, timeout=20, message="reconnects under faults")
        await eventually(lambda: streams.stats.backfilled > 0, timeout=10, message="backfilled trades")
        sb.context.faults.update("ws_drop_every=0,drop_frames=0")

        # The window ends at the venue's latest trade now; wait until the stream has delivered past it.
        market = sb.context.market
        ends = {
            s: market.history_agg_trades(s, from_id=None, start_time=None, end_time=None, limit=1)[
                -1
            ].trade_id
            for s in SYMBOLS
        }
        await eventually(
            lambda: (
                all(_trades(events, s)[-1].trade_id >= ends[s] for s in SYMBOLS) and not streams.backfilling
            ),
            timeout=20,
            message="the stream catching up with the window's end",
        )
        stats = streams.stats
        await streams.stop()

    assert stats.reconnects >= 4 and stats.backfilled > 0
    assert stats.gaps_left == 0 and stats.malformed == 0
    for symbol in SYMBOLS:
        got = [t for t in _trades(events, symbol) if t.trade_id <= ends[symbol]]
        first = got[0].trade_id
        history = market.history_agg_trades(
            symbol, from_id=first, start_time=None, end_time=None, limit=10**6
        )
        expected = [t for t in history if t.trade_id <= ends[symbol]]
        assert [t.trade_id for t in got] == list(range(first, ends[symbol] + 1))  # contiguous, no duplicate
        assert [(t.trade_id, t.price, t.qty, t.is_buyer_maker, t.ts) for t in got] == [
            (t.trade_id, t.price, t.qty, t.is_buyer_maker, t.ts) for t in expected
        ]
        assert cache.last_price(symbol) is not None and cache.book_ticker(symbol) is not None
        assert cache.mark_price(symbol) is not None
    candles = [e for e in events if isinstance(e, Candle)]
    assert {c.symbol for c in candles} == set(SYMBOLS) and all(c.interval == "1m" for c in candles)


async def test_streams_without_faults_deliver_every_kind_in_order() -> None:
    async with connected_sandbox(speed=10.0) as (sb, venue, api):
        events: list[Event] = []
        streams = MarketStreams(
            venue, sb.context.clock, on_event=events.append, fetch_agg_trades=api.agg_trades
        )
        streams.subscribe(["BTCUSDT"], book_ticker=True)
        await streams.start()
        await eventually(
            lambda: (
                len(_trades(events, "BTCUSDT")) >= 20
                and any(isinstance(e, MarkPrice) for e in events)
                and any(isinstance(e, BookTicker) for e in events)
            ),
            timeout=15,
            message="trades, mark prices and book tickers",
        )
        stats = streams.stats
        await streams.stop()
    ids = [t.trade_id for t in _trades(events, "BTCUSDT")]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    marks = [e.ts for e in events if isinstance(e, MarkPrice)]
    books = [(e.update_id, e.ts) for e in events if isinstance(e, BookTicker)]
    assert marks == sorted(marks) and books == sorted(books)
    assert stats.reconnects == 0 and stats.gaps_left == 0 and stats.backfilled == 0
