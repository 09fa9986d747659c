"""BinanceAdapter against the running sandbox: every ExchangeAdapter method over real loopback HTTP and
WebSocket, stream events reaching their callbacks, the cache serving reads while the market-data breaker is
open, and an orderly close. Also the factory: venue from the settings, keys, breaker transitions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio

from core.config import SandboxSettings, Settings
from core.events import AccountUpdate, BreakerTransition, OrderUpdate, ReconcileRequest, StreamGap, UserEvent
from core.precision import round_price
from core.secrets import Secret
from core.types import (
    AlgoOrderRequest,
    AlgoStatus,
    BookTicker,
    Instrument,
    MarkPrice,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from exchanges.adapter import ExchangeAdapter, MarketEvent
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.breaker import BreakerState
from exchanges.binance.client_ids import Leg, client_algo_id, client_order_id
from exchanges.binance.factory import build_adapter, venue_of
from exchanges.errors import BreakerOpenError, FatalError, RejectedError
from exchanges.sandbox.runner import Sandbox
from tests.helpers import eventually

pytestmark = [pytest.mark.timeout(90), pytest.mark.asyncio(loop_scope="module")]

SANDBOX = SandboxSettings(port=0, speed=10.0, history_days=0.05, seed=23)
SETTINGS = Settings(venue="sandbox", sandbox=SANDBOX)


class Env:
    def __init__(self, sb: Sandbox, adapter: BinanceAdapter, instruments: dict[str, Instrument]) -> None:
        self.sb, self.adapter, self.instruments = sb, adapter, instruments
        # The engine sees only the protocol: mypy checks that BinanceAdapter is an ExchangeAdapter.
        self.venue: ExchangeAdapter = adapter

    async def far_price(self, side: Side, symbol: str = "BTCUSDT") -> Decimal:
        book = await self.venue.book_ticker(symbol)
        raw = book.bid_price * Decimal("0.9") if side is Side.BUY else book.ask_price * Decimal("1.1")
        return round_price(self.instruments[symbol], raw)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env() -> AsyncIterator[Env]:
    async with Sandbox(SANDBOX) as sb:
        key, secret = sb.demo_credentials
        adapter = build_adapter(
            SETTINGS, sb.context.clock, rest_url=sb.rest_url, credentials=(Secret(key), Secret(secret))
        )
        adapter.api.settle_s = 0.0
        async with adapter:
            instruments = {i.symbol: i for i in await adapter.instruments()}
            yield Env(sb, adapter, instruments)


async def test_reference_and_market_data(env: Env) -> None:
    venue = env.venue
    btc = env.instruments["BTCUSDT"]
    assert set(env.instruments) == {"BTCUSDT", "ETHUSDT"}
    assert btc.filters.tick_size > 0 and btc.brackets  # brackets come with keys
    candles = await venue.klines("BTCUSDT", "1m", limit=20)
    assert len(candles) == 20 and all(c.symbol == "BTCUSDT" and c.interval == "1m" for c in candles)
    assert [c.open_time for c in candles] == sorted(c.open_time for c in candles)
    trades = await venue.agg_trades("BTCUSDT", limit=30)
    assert len(trades) == 30
    again = await venue.agg_trades("BTCUSDT", from_id=trades[5].trade_id, limit=5)
    assert [t.trade_id for t in again] == [t.trade_id for t in trades[5:10]]
    book = await venue.book_ticker("BTCUSDT")
    assert book.bid_price < book.ask_price
    last = await venue.last_price("BTCUSDT")
    assert book.bid_price * Decimal("0.95") < last < book.ask_price * Decimal("1.05")
    mark = await venue.mark_price("ETHUSDT")
    assert mark.symbol == "ETHUSDT" and mark.mark_price > 0
    depth = await venue.depth("BTCUSDT", 5)
    assert 0 < len(depth.bids) <= 5 and depth.bids[0][0] < depth.asks[0][0]


async def test_account_calls(env: Env) -> None:
    venue = env.venue
    account = await venue.account()
    assert account.wallet_balance == SANDBOX.demo_balance
    assert any(b.asset == "USDT" and b.wallet_balance == SANDBOX.demo_balance for b in await venue.balances())
    assert all(p.is_flat for p in await venue.positions())
    assert await venue.set_leverage("BTCUSDT", 7) == 7
    assert await venue.open_orders() == [] and await venue.open_algo_orders() == []


async def test_orders_batch_cancel_and_countdown(env: Env) -> None:
    venue = env.venue
    price = await env.far_price(Side.BUY)
    cid = client_order_id("adapter-limit", Leg.ENTRY)
    req = OrderRequest(
        symbol="BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.002"),
        price=price,
        time_in_force=TimeInForce.GTC,
        client_order_id=cid,
    )
    order = await venue.place_order(req)
    assert (order.client_order_id, order.status, order.price) == (cid, OrderStatus.NEW, price)
    assert (await venue.get_order("BTCUSDT", client_order_id=cid)).order_id == order.order_id
    assert (await venue.cancel_order("BTCUSDT", order_id=order.order_id)).status is OrderStatus.CANCELED

    batch = [
        OrderRequest(
            symbol="BTCUSDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("0.002"),
            price=price,
            time_in_force=TimeInForce.GTC,
            client_order_id=client_order_id("adapter-batch", Leg.ENTRY, i),
        )
        for i in range(2)
    ]
    # A third item the venue refuses (quantity under the step): its slot holds the error.
    bad = OrderRequest(
        symbol="BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.0000001"),
        price=price,
        time_in_force=TimeInForce.GTC,
        client_order_id=client_order_id("adapter-batch", Leg.ENTRY, 2),
    )
    results = await venue.place_orders([*batch, bad])
    assert [type(r).__name__ for r in results[:2]] == ["Order", "Order"]
    assert isinstance(results[2], RejectedError)
    assert len(await venue.open_orders("BTCUSDT")) == 2
    await venue.countdown_cancel_all("BTCUSDT", 120_000)
    await venue.countdown_cancel_all("BTCUSDT", 0)
    await venue.cancel_all_orders("BTCUSDT")
    assert await venue.open_orders("BTCUSDT") == []


async def test_market_order_fills_and_user_trades(env: Env) -> None:
    venue = env.venue
    cid = client_order_id("adapter-market", Leg.ENTRY)
    order = await venue.place_order(
        OrderRequest(
            symbol="ETHUSDT",
            side=Side.BUY,
            type=OrderType.MARKET,
            quantity=Decimal("0.05"),
            client_order_id=cid,
        )
    )
    assert order.status is OrderStatus.FILLED
    fills = await venue.user_trades("ETHUSDT", order_id=order.order_id)
    assert sum(f.qty for f in fills) == Decimal("0.05")
    (position,) = [p for p in await venue.positions("ETHUSDT") if not p.is_flat]
    assert position.qty == Decimal("0.05")
    close = OrderRequest(
        symbol="ETHUSDT",
        side=Side.SELL,
        type=OrderType.MARKET,
        quantity=Decimal("0.05"),
        reduce_only=True,
        client_order_id=client_order_id("adapter-market", Leg.CLOSE),
    )
    assert (await venue.place_order(close)).status is OrderStatus.FILLED


async def test_algo_orders(env: Env) -> None:
    venue = env.venue
    inst = env.instruments["BTCUSDT"]
    book = await venue.book_ticker("BTCUSDT")
    cid = client_algo_id("adapter-stop", Leg.STOP)
    algo = await venue.place_algo_order(
        AlgoOrderRequest(
            symbol="BTCUSDT",
            side=Side.SELL,
            type=OrderType.STOP_MARKET,
            trigger_price=round_price(inst, book.bid_price * Decimal("0.8")),
            quantity=Decimal("0.002"),
            client_algo_id=cid,
        )
    )
    assert algo.status is AlgoStatus.NEW and algo.client_algo_id == cid
    assert (await venue.get_algo_order(client_algo_id=cid)).algo_id == algo.algo_id
    await venue.cancel_algo_order(algo_id=algo.algo_id)
    assert (await venue.get_algo_order(algo_id=algo.algo_id)).status is AlgoStatus.CANCELED
    await venue.place_algo_order(
        AlgoOrderRequest(
            symbol="BTCUSDT",
            side=Side.SELL,
            type=OrderType.TAKE_PROFIT_MARKET,
            trigger_price=round_price(inst, book.ask_price * Decimal("1.2")),
            quantity=Decimal("0.002"),
            client_algo_id=client_algo_id("adapter-stop", Leg.TAKE_PROFIT),
        )
    )
    await venue.cancel_all_algo_orders("BTCUSDT")
    assert await venue.open_algo_orders("BTCUSDT") == []


async def test_streams_deliver_and_cache_serves_reads_while_market_breaker_is_open(env: Env) -> None:
    # An adapter of its own: its market-data breaker is forced open below.
    key, secret = env.sb.demo_credentials
    adapter = build_adapter(
        SETTINGS, env.sb.context.clock, rest_url=env.sb.rest_url, credentials=(Secret(key), Secret(secret))
    )
    venue: ExchangeAdapter = adapter
    events: list[MarketEvent] = []
    gaps: list[StreamGap] = []
    async with adapter:
        stream = venue.market_stream(events.append, on_gap=gaps.append)
        stream.subscribe(["BTCUSDT"], book_ticker=True)
        await stream.start()
        await eventually(
            lambda: all(any(isinstance(e, kind) for e in events) for kind in (Trade, MarkPrice, BookTicker)),
            timeout=20,
            message="trades, mark prices and book tickers on the market stream",
        )
        ids = [e.trade_id for e in events if isinstance(e, Trade)]
        assert ids == list(range(ids[0], ids[0] + len(ids)))
        cache = adapter.cache
        assert cache.last_price("BTCUSDT") is not None

        breaker = adapter.client.breakers.breakers["market_data"]
        for _ in range(breaker.failure_threshold):
            breaker.record_failure()
        assert breaker.state is BreakerState.OPEN
        sent = adapter.client.stats.requests
        # Served from the streams' cache: nothing is sent while the breaker is open.
        assert await venue.last_price("BTCUSDT") == cache.last_price("BTCUSDT")
        assert await venue.book_ticker("BTCUSDT") == cache.book_ticker("BTCUSDT")
        assert await venue.mark_price("BTCUSDT") == cache.mark_price("BTCUSDT")
        with pytest.raises(BreakerOpenError):
            await venue.klines("BTCUSDT", "1m", limit=5)  # no cache for history: refused
        with pytest.raises(BreakerOpenError):
            await venue.mark_price("ETHUSDT")  # not subscribed, nothing cached
        assert adapter.client.stats.requests == sent
        assert stream in adapter.market_streams
    assert gaps == [] and adapter.market_streams == ()  # close() stopped the stream


async def test_user_stream_delivers_events_of_a_placed_order(env: Env) -> None:
    events: list[UserEvent] = []
    reconciles: list[ReconcileRequest] = []
    stream = env.venue.user_stream(events.append, reconciles.append)
    await stream.start()
    await eventually(lambda: len(reconciles) >= 1, timeout=10, message="the user stream opening")
    price = await env.far_price(Side.BUY)
    cid = client_order_id("adapter-user", Leg.ENTRY)
    order = await env.venue.place_order(
        OrderRequest(
            symbol="BTCUSDT",
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=Decimal("0.002"),
            price=price,
            time_in_force=TimeInForce.GTC,
            client_order_id=cid,
        )
    )
    await env.venue.cancel_order("BTCUSDT", client_order_id=cid)

    def mine() -> list[OrderUpdate]:
        return [e for e in events if isinstance(e, OrderUpdate) and e.order.client_order_id == cid]

    await eventually(lambda: len(mine()) >= 2, timeout=10, message="NEW and CANCELED order updates")
    assert [u.order.status for u in mine()] == [OrderStatus.NEW, OrderStatus.CANCELED]
    assert all(u.order.order_id == order.order_id for u in mine())
    assert reconciles[0].reason == "stream opened"
    await stream.stop()
    assert not any(isinstance(e, AccountUpdate) for e in events)  # a resting order moves no balance


async def test_close_stops_streams_and_tasks_in_order() -> None:
    async with Sandbox(SANDBOX) as sb:
        key, secret = sb.demo_credentials
        adapter = build_adapter(
            SETTINGS, sb.context.clock, rest_url=sb.rest_url, credentials=(Secret(key), Secret(secret))
        )
        before = asyncio.all_tasks()  # the module's other adapter has tasks of its own
        await adapter.start()
        market = adapter.market_stream(lambda _e: None)
        market.subscribe(["BTCUSDT"])
        user = adapter.user_stream(lambda _e: None, lambda _r: None)
        await market.start()
        await user.start()
        await eventually(lambda: market.connected and user.connected, timeout=10, message="both streams up")
        ours = asyncio.all_tasks() - before
        assert {"rest-timesync", "ws-market-0", "ws-private", "userstream-keepalive"} <= {
            t.get_name() for t in ours
        }
        await adapter.close()
        assert not market.connected and not user.connected
        # Unnamed tasks are the sandbox's own (request handlers); every connector task is named.
        assert [t.get_name() for t in ours if not t.done() and not t.get_name().startswith("Task-")] == []
        assert adapter.market_streams == () and adapter.user_streams == ()
        await adapter.close()  # idempotent
        with pytest.raises(RuntimeError):
            await adapter.balances()  # the session is closed


async def test_factory_venues_keys_and_transitions(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(ValueError, match="URL"):
        venue_of(SETTINGS)
    live = Settings(venue="live", api_key=Secret("k" * 64), api_secret=Secret("s" * 64))
    assert venue_of(live).rest_url == "https://fapi.binance.com"
    assert venue_of(live).ws_market == "wss://fstream.binance.com/market"
    assert venue_of(SETTINGS, "http://127.0.0.1:9").ws_private == "ws://127.0.0.1:9/private"

    async with Sandbox(SANDBOX) as sb:
        seen: list[BreakerTransition] = []
        keyless = build_adapter(SETTINGS, sb.context.clock, rest_url=sb.rest_url, on_transition=seen.append)
        async with keyless:
            assert not keyless.client.has_credentials
            assert (await keyless.instruments())[0].brackets == ()  # public only: no brackets
            with pytest.raises(FatalError):
                await keyless.account()
            breaker = keyless.client.breakers.breakers["orders"]
            with caplog.at_level(logging.WARNING, logger="casino"):
                for _ in range(breaker.failure_threshold):
                    breaker.record_failure()
            assert [(t.name, t.old, t.new) for t in seen] == [("orders", "CLOSED", "OPEN")]
            assert any("circuit breaker 'orders'" in r.getMessage() for r in caplog.records)
            with pytest.raises(BreakerOpenError):
                await keyless.cancel_all_orders("BTCUSDT")  # refused before anything else is looked at
