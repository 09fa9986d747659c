"""BinanceRestApi against the real sandbox over loopback: every typed call returns sensible domain types."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
import pytest_asyncio

from core.config import SandboxSettings
from core.precision import round_price
from core.secrets import Secret
from core.types import (
    AlgoOrderRequest,
    AlgoStatus,
    Instrument,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from exchanges.binance.client_ids import Leg, client_algo_id, client_order_id
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.rest_api import BinanceRestApi
from exchanges.binance.venues import venue_preset
from exchanges.errors import FatalError, RejectedError
from exchanges.sandbox.runner import Sandbox

pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]

SETTINGS = SandboxSettings(port=0, speed=10.0, history_days=0.05, seed=11)


class Env:
    def __init__(self, sb: Sandbox, api: BinanceRestApi, instruments: dict[str, Instrument]) -> None:
        self.sb, self.api, self.instruments = sb, api, instruments

    async def far_price(self, side: Side, symbol: str = "BTCUSDT") -> Decimal:
        """A limit price that rests: 10 % away from the touch on the passive side."""
        book = await self.api.book_ticker(symbol)
        raw = book.bid_price * Decimal("0.9") if side is Side.BUY else book.ask_price * Decimal("1.1")
        return round_price(self.instruments[symbol], raw)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def env() -> AsyncIterator[Env]:
    async with Sandbox(SETTINGS) as sb:
        key, secret = sb.demo_credentials
        client = BinanceRestClient(
            venue_preset("sandbox", sb.rest_url),
            sb.context.clock,
            api_key=Secret(key),
            api_secret=Secret(secret),
        )
        async with client:
            api = BinanceRestApi(client, settle_s=0.0)
            instruments = {i.symbol: i for i in await api.instruments()}
            yield Env(sb, api, instruments)


async def test_instruments_carry_filters_and_brackets(env: Env) -> None:
    btc = env.instruments["BTCUSDT"]
    assert btc.quote_asset == "USDT" and btc.filters.tick_size > 0 and btc.filters.step_size > 0
    assert btc.brackets and btc.brackets[0].notional_floor == 0
    assert [b.bracket for b in btc.brackets] == list(range(1, len(btc.brackets) + 1))
    assert {i.symbol for i in await env.api.exchange_info()} == {"BTCUSDT", "ETHUSDT"}


async def test_market_data(env: Env) -> None:
    api = env.api
    now = await api.server_time()
    candles = await api.klines("BTCUSDT", "1m", limit=30)
    assert len(candles) == 30
    assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in candles)
    assert all(b.open_time - a.open_time == 60_000 for a, b in itertools.pairwise(candles))
    assert all(c.closed for c in candles[:-1])
    assert candles[-1].closed == (candles[-1].close_time < api.client.server_time_ms())
    trades = await api.agg_trades("BTCUSDT", limit=50)
    assert len(trades) == 50 and all(t.symbol == "BTCUSDT" and t.qty > 0 for t in trades)
    more = await api.agg_trades("BTCUSDT", from_id=trades[0].trade_id, limit=10)
    assert [t.trade_id for t in more] == [t.trade_id for t in trades[:10]]
    depth = await api.depth("BTCUSDT", limit=5)
    assert 0 < len(depth.bids) <= 5 and depth.bids[0][0] < depth.asks[0][0]
    book = await api.book_ticker("BTCUSDT")
    assert book.bid_price < book.ask_price and abs(book.ts - now) < 60_000 * SETTINGS.speed
    assert (
        book.bid_price * Decimal("0.95") < await api.last_price("BTCUSDT") < book.ask_price * Decimal("1.05")
    )
    mark = await api.mark_price("ETHUSDT")
    assert mark.symbol == "ETHUSDT" and mark.mark_price > 0 and mark.next_funding_time > 0
    assert {m.symbol for m in await api.mark_prices()} == {"BTCUSDT", "ETHUSDT"}


async def test_account_balances_positions_leverage(env: Env) -> None:
    api = env.api
    account = await api.account()
    assert account.wallet_balance == SETTINGS.demo_balance == account.available_balance
    (usdt,) = [b for b in await api.balances() if b.asset == "USDT"]
    assert usdt.wallet_balance == SETTINGS.demo_balance
    # positionRisk v3 lists only symbols with a position or open orders.
    assert all(p.is_flat for p in await api.positions())
    assert await api.set_leverage("ETHUSDT", 5) == 5
    assert await api.income() == []


async def test_listen_key_lifecycle(env: Env) -> None:
    key = await env.api.create_listen_key()
    assert key and await env.api.create_listen_key() == key
    await env.api.keepalive_listen_key()
    await env.api.delete_listen_key()


async def test_limit_order_place_query_cancel(env: Env) -> None:
    api = env.api
    price = await env.far_price(Side.BUY)
    cid = client_order_id("api-limit", Leg.ENTRY)
    req = OrderRequest(
        symbol="BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal("0.002"),
        price=price,
        time_in_force=TimeInForce.GTC,
        client_order_id=cid,
    )
    order = await api.place_order(req)
    assert (order.client_order_id, order.status, order.price, order.orig_qty) == (
        cid,
        OrderStatus.NEW,
        price,
        Decimal("0.002"),
    )
    assert [o.order_id for o in await api.open_orders("BTCUSDT")] == [order.order_id]
    assert (await api.get_order("BTCUSDT", client_order_id=cid)).order_id == order.order_id
    canceled = await api.cancel_order("BTCUSDT", order_id=order.order_id)
    assert canceled.status is OrderStatus.CANCELED
    assert cid in {o.client_order_id for o in await api.all_orders("BTCUSDT")}
    assert await api.open_orders() == []
    assert api.unresolved == frozenset()


async def test_market_order_fill_position_and_trades(env: Env) -> None:
    api = env.api
    cid = client_order_id("api-market", Leg.ENTRY)
    req = OrderRequest(
        symbol="ETHUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal("0.05"), client_order_id=cid
    )
    order = await api.place_order(req)
    assert (
        order.status is OrderStatus.FILLED and order.executed_qty == Decimal("0.05") and order.avg_price > 0
    )
    (position,) = await api.positions("ETHUSDT")
    assert position.qty == Decimal("0.05") and position.entry_price == order.avg_price
    fills = await api.user_trades("ETHUSDT", order_id=order.order_id)
    assert sum(f.qty for f in fills) == Decimal("0.05") and all(f.side is Side.BUY for f in fills)
    close = OrderRequest(
        symbol="ETHUSDT",
        side=Side.SELL,
        type=OrderType.MARKET,
        quantity=Decimal("0.05"),
        reduce_only=True,
        client_order_id=client_order_id("api-market", Leg.CLOSE),
    )
    assert (await api.place_order(close)).status is OrderStatus.FILLED
    assert all(p.is_flat for p in await api.positions("ETHUSDT"))


async def test_algo_orders(env: Env) -> None:
    api = env.api
    inst = env.instruments["BTCUSDT"]
    book = await api.book_ticker("BTCUSDT")
    cid = client_algo_id("api-stop", Leg.STOP)
    stop = AlgoOrderRequest(
        symbol="BTCUSDT",
        side=Side.SELL,
        type=OrderType.STOP_MARKET,
        trigger_price=round_price(inst, book.bid_price * Decimal("0.8")),
        quantity=Decimal("0.002"),
        client_algo_id=cid,
    )
    algo = await api.place_algo_order(stop)
    assert (algo.client_algo_id, algo.status, algo.order_type) == (cid, AlgoStatus.NEW, OrderType.STOP_MARKET)
    assert [a.algo_id for a in await api.open_algo_orders("BTCUSDT")] == [algo.algo_id]
    assert (await api.get_algo_order(client_algo_id=cid)).algo_id == algo.algo_id
    await api.cancel_algo_order(algo_id=algo.algo_id)
    assert (await api.get_algo_order(algo_id=algo.algo_id)).status is AlgoStatus.CANCELED
    second = await api.place_algo_order(
        AlgoOrderRequest(
            symbol="BTCUSDT",
            side=Side.SELL,
            type=OrderType.TAKE_PROFIT_MARKET,
            trigger_price=round_price(inst, book.ask_price * Decimal("1.2")),
            quantity=Decimal("0.002"),
            client_algo_id=client_algo_id("api-stop", Leg.TAKE_PROFIT),
        )
    )
    assert second.status is AlgoStatus.NEW
    await api.cancel_all_algo_orders("BTCUSDT")
    assert await api.open_algo_orders() == []
    # A stop that would fire at once is refused, and says so.
    with pytest.raises(RejectedError) as info:
        await api.place_algo_order(
            AlgoOrderRequest(
                symbol="BTCUSDT",
                side=Side.SELL,
                type=OrderType.STOP_MARKET,
                trigger_price=round_price(inst, book.ask_price * Decimal("1.2")),
                quantity=Decimal("0.002"),
                client_algo_id=client_algo_id("api-stop-bad", Leg.STOP),
            )
        )
    assert info.value.code == -2021


async def test_batch_cancel_all_and_countdown(env: Env) -> None:
    api = env.api
    price = await env.far_price(Side.SELL)
    good = [
        OrderRequest(
            symbol="BTCUSDT",
            side=Side.SELL,
            type=OrderType.LIMIT,
            quantity=Decimal("0.002"),
            price=price,
            time_in_force=TimeInForce.GTC,
            client_order_id=client_order_id("api-batch", Leg.TAKE_PROFIT, i),
        )
        for i in range(2)
    ]
    bad = OrderRequest(
        symbol="BTCUSDT",
        side=Side.SELL,
        type=OrderType.LIMIT,
        quantity=Decimal("0.002"),
        price=Decimal("0.01"),
        time_in_force=TimeInForce.GTC,
        client_order_id=client_order_id("api-batch", Leg.TAKE_PROFIT, 2),
    )
    results = await api.place_orders([*good, bad])
    assert [type(r).__name__ for r in results] == ["Order", "Order", "RejectedError"]
    assert isinstance(results[2], RejectedError) and results[2].code == -4001
    assert len(await api.open_orders("BTCUSDT")) == 2
    await api.countdown_cancel_all("BTCUSDT", 120_000)
    await api.countdown_cancel_all("BTCUSDT", 0)
    await api.cancel_all_orders("BTCUSDT")
    assert await api.open_orders("BTCUSDT") == []
    with pytest.raises(ValueError, match="client_order_id is required"):
        await api.place_order(OrderRequest(symbol="BTCUSDT", side=Side.BUY, type=OrderType.MARKET))


async def test_secrets_stay_out_of_logs_and_reprs(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    key, secret = env.sb.demo_credentials
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RejectedError):
        await env.api.get_order("BTCUSDT", client_order_id="does-not-exist")
    assert "does not exist" in caplog.text.lower()
    assert key not in caplog.text and secret not in caplog.text
    client = env.api.client
    assert key not in repr(client) and secret not in repr(client) and secret not in repr(vars(client))
    anonymous = BinanceRestClient(venue_preset("sandbox", env.sb.rest_url), env.sb.context.clock)
    with pytest.raises(FatalError, match="API"):
        await anonymous.request("GET", "/fapi/v3/account", signed=True)
