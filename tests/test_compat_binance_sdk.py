"""Binance's official USDⓈ-M SDK (``binance_sdk_derivatives_trading_usds_futures``) against a real sandbox.

Only the base URLs change: ``ConfigurationRestAPI(base_path=<rest_url>)`` and
``ConfigurationWebSocketStreams(stream_url=<ws_url>)`` (the SDK appends ``/stream`` and opens the routed
``/market/stream``, ``/public/stream`` and ``/private/stream`` itself).

The SDK is generated from Binance's own API specification and validates every answer against pydantic
models. When an answer does not match the declared types it logs a warning and relaxes (REST, user data)
or drops the message (market streams): every test here fails on such a warning, so the sandbox's wire
types are checked against Binance's models, not against ours.

The REST client is synchronous (``requests``): calls run in a worker thread so the sandbox, which
serves on this test's event loop, keeps serving. The sandbox runs 10x faster than real time; the SDK signs
with its wall clock, which the sandbox maps through its clock's speed (see tests/test_compat_ccxt.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from core.config import SandboxSettings
from exchanges.sandbox.runner import Sandbox
from tests.helpers import klines_dir

pytest.importorskip("binance_common")
sdk = pytest.importorskip("binance_sdk_derivatives_trading_usds_futures")

from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketStreams  # noqa: E402
from binance_common.errors import BadRequestError  # noqa: E402
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import (  # noqa: E402
    DerivativesTradingUsdsFutures,
)
from binance_sdk_derivatives_trading_usds_futures.rest_api.models import (  # noqa: E402
    NewAlgoOrderAlgoTypeEnum,
    NewAlgoOrderSideEnum,
    NewAlgoOrderTypeEnum,
    NewOrderNewOrderRespTypeEnum,
    NewOrderSideEnum,
    NewOrderTimeInForceEnum,
    NewOrderTypeEnum,
)
from binance_sdk_derivatives_trading_usds_futures.websocket_streams.models import (  # noqa: E402
    AccountConfigUpdate,
    AccountUpdate,
    OrderTradeUpdate,
    TradeLite,
)

pytestmark = [pytest.mark.compat, pytest.mark.timeout(30), pytest.mark.asyncio(loop_scope="module")]

SYMBOL = "BTCUSDT"
QTY = 0.002
WAIT_S = 10.0
ACCOUNTS = tuple(f"sdkCompatKey{i:02d}:sdkCompatSecret{i:02d}:10000" for i in range(12))
_SDK_MODULES = ("binance_common", "binance_sdk_derivatives_trading_usds_futures")

T = TypeVar("T")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    """One sandbox for the module (shared klines when present, else synthetic); an account per test."""
    data = klines_dir()
    settings = SandboxSettings(
        port=0,
        speed=10.0,
        history_days=0.05,
        seed=13,
        data=(str(data),) if data is not None else (),
        accounts=ACCOUNTS,
    )
    async with Sandbox(settings) as sb:
        yield sb


@pytest.fixture(scope="module")
def free_accounts(sandbox: Sandbox) -> Iterator[tuple[str, str]]:
    return iter(sandbox.accounts)


@pytest.fixture
def strict_models(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Fail on any SDK warning: a relaxed or dropped answer means our wire types are not Binance's."""
    caplog.set_level(logging.WARNING)
    yield
    complaints = [
        f"{r.pathname}: {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.WARNING and any(f"/{m}/" in r.pathname for m in _SDK_MODULES)
    ]
    assert not complaints, complaints


@pytest.fixture
def client(
    sandbox: Sandbox, free_accounts: Iterator[tuple[str, str]], strict_models: None
) -> DerivativesTradingUsdsFutures:
    key, secret = next(free_accounts)
    return DerivativesTradingUsdsFutures(
        config_rest_api=ConfigurationRestAPI(api_key=key, api_secret=secret, base_path=sandbox.rest_url),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=sandbox.ws_url),
    )


async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run one synchronous SDK REST call off the loop and return its validated model."""
    response = await asyncio.to_thread(fn, *args, **kwargs)
    return response.data()


def one_of(model: Any) -> Any:
    """The concrete answer inside the SDK's oneOf wrappers (single-symbol vs list answers)."""
    return getattr(model, "actual_instance", model)


async def far_below_bid(client: DerivativesTradingUsdsFutures) -> float:
    """A buy price 3 % under the touch, on the tick grid: rests and will not fill during a test."""
    book = one_of(await call(client.rest_api.symbol_order_book_ticker, symbol=SYMBOL))
    return float((Decimal(book.bid_price) * Decimal("0.97")).quantize(Decimal("0.1")))


# --- REST -----------------------------------------------------------------------------------------------


async def test_public_and_account_endpoints(client: DerivativesTradingUsdsFutures, sandbox: Sandbox) -> None:
    api = client.rest_api
    assert await call(api.test_connectivity) == {}
    server = await call(api.check_server_time)
    assert abs(server.server_time - sandbox.context.clock.now_ms()) < 5_000

    info = await call(api.exchange_information)
    symbols = {s.symbol: s for s in info.symbols}
    assert {"BTCUSDT", "ETHUSDT"} <= set(symbols)
    filters = {f.filter_type: f for f in symbols["BTCUSDT"].filters}
    assert Decimal(filters["PRICE_FILTER"].tick_size) == Decimal("0.10")
    assert {"LOT_SIZE", "MARKET_LOT_SIZE", "MIN_NOTIONAL", "PERCENT_PRICE", "MAX_NUM_ORDERS"} <= set(filters)
    assert {r.rate_limit_type for r in info.rate_limits} == {"REQUEST_WEIGHT", "ORDERS"}

    account = await call(api.account_information_v3)
    assert Decimal(account.total_wallet_balance) == Decimal(10000)
    (usdt,) = [b for b in await call(api.futures_account_balance_v3) if b.asset == "USDT"]
    assert Decimal(usdt.balance) == Decimal(10000) and Decimal(usdt.available_balance) == Decimal(10000)
    assert await call(api.position_information_v3) == []  # v3 lists only symbols with a position or orders

    changed = await call(api.change_initial_leverage, SYMBOL, 7)
    assert (changed.symbol, changed.leverage) == (SYMBOL, 7)
    (risk,) = await call(api.position_information_v2, symbol=SYMBOL)
    assert risk.leverage == "7" and Decimal(risk.position_amt) == 0
    brackets = one_of(await call(api.notional_and_leverage_brackets, symbol=SYMBOL))
    assert brackets.symbol == SYMBOL and brackets.brackets[0].initial_leverage == 125


async def test_market_limit_cancel_and_trades(client: DerivativesTradingUsdsFutures) -> None:
    api = client.rest_api
    filled = await call(
        api.new_order,
        SYMBOL,
        NewOrderSideEnum.BUY,
        NewOrderTypeEnum.MARKET,
        quantity=QTY,
        new_order_resp_type=NewOrderNewOrderRespTypeEnum.RESULT,
    )
    assert filled.status == "FILLED" and Decimal(filled.executed_qty) == Decimal("0.002")
    # avgPrice is in Binance's documented answer but not a declared field of the SDK's model.
    avg_price = Decimal(filled.additional_properties["avgPrice"])
    assert avg_price > 0

    price = await far_below_bid(client)
    resting = await call(
        api.new_order,
        SYMBOL,
        NewOrderSideEnum.BUY,
        NewOrderTypeEnum.LIMIT,
        time_in_force=NewOrderTimeInForceEnum.GTC,
        quantity=QTY,
        price=price,
    )
    assert resting.status == "NEW" and Decimal(resting.price) == Decimal(str(price))
    assert [o.order_id for o in await call(api.current_all_open_orders, symbol=SYMBOL)] == [resting.order_id]
    queried = await call(api.query_order, SYMBOL, order_id=resting.order_id)
    assert queried.status == "NEW" and queried.client_order_id == resting.client_order_id

    canceled = await call(api.cancel_order, SYMBOL, order_id=resting.order_id)
    assert canceled.status == "CANCELED"
    assert await call(api.current_all_open_orders, symbol=SYMBOL) == []

    (trade,) = await call(api.account_trade_list, SYMBOL)
    assert trade.order_id == filled.order_id and trade.buyer and not trade.maker
    assert Decimal(trade.price) == avg_price and Decimal(trade.qty) == Decimal("0.002")
    statuses = {o.order_id: o.status for o in await call(api.all_orders, SYMBOL)}
    assert statuses == {filled.order_id: "FILLED", resting.order_id: "CANCELED"}
    (position,) = await call(api.position_information_v3, symbol=SYMBOL)
    assert Decimal(position.position_amt) == Decimal("0.002")


async def test_algo_order_api(client: DerivativesTradingUsdsFutures) -> None:
    api = client.rest_api
    trigger = await far_below_bid(client)
    placed = await call(
        api.new_algo_order,
        NewAlgoOrderAlgoTypeEnum.CONDITIONAL,
        SYMBOL,
        NewAlgoOrderSideEnum.BUY,
        NewAlgoOrderTypeEnum.TAKE_PROFIT_MARKET,  # a buy take-profit below the price: waits for a dip
        quantity=QTY,
        trigger_price=trigger,
    )
    assert placed.algo_status == "NEW" and placed.order_type == "TAKE_PROFIT_MARKET"
    assert Decimal(placed.trigger_price) == Decimal(str(trigger))
    (listed,) = await call(api.current_all_algo_open_orders, symbol=SYMBOL)
    assert listed.algo_id == placed.algo_id
    queried = await call(api.query_algo_order, algo_id=placed.algo_id)
    assert queried.algo_status == "NEW" and queried.client_algo_id == placed.client_algo_id

    canceled = await call(api.cancel_algo_order, algo_id=placed.algo_id)
    assert canceled.algo_id == placed.algo_id and canceled.code == "200"
    assert await call(api.current_all_algo_open_orders, symbol=SYMBOL) == []
    assert (await call(api.query_algo_order, algo_id=placed.algo_id)).algo_status == "CANCELED"

    # Conditional types on the plain order endpoint: -4120, as Binance answers since the migration.
    with pytest.raises(BadRequestError) as refused:
        await call(api.new_order, SYMBOL, NewOrderSideEnum.SELL, NewOrderTypeEnum.STOP_MARKET, quantity=QTY)
    assert refused.value.status_code == -4120


async def test_query_all_algo_orders(client: DerivativesTradingUsdsFutures) -> None:
    api = client.rest_api
    assert await call(api.query_all_algo_orders, SYMBOL) == []
    placed = await call(
        api.new_algo_order,
        NewAlgoOrderAlgoTypeEnum.CONDITIONAL,
        SYMBOL,
        NewAlgoOrderSideEnum.BUY,
        NewAlgoOrderTypeEnum.TAKE_PROFIT_MARKET,
        quantity=QTY,
        trigger_price=await far_below_bid(client),
    )
    await call(api.cancel_algo_order, algo_id=placed.algo_id)
    (listed,) = await call(api.query_all_algo_orders, SYMBOL)
    assert listed.algo_id == placed.algo_id and listed.algo_status == "CANCELED"


async def test_test_order(client: DerivativesTradingUsdsFutures) -> None:
    api = client.rest_api
    answer = await call(api.test_order, SYMBOL, "BUY", "MARKET", quantity=QTY)
    assert answer.status == "NEW" and answer.symbol == SYMBOL and answer.executed_qty == "0.000"
    assert await call(api.current_all_open_orders, symbol=SYMBOL) == []
    with pytest.raises(BadRequestError) as refused:
        await call(api.test_order, SYMBOL, "BUY", "LIMIT", quantity=QTY)
    assert refused.value.status_code == -1102  # timeInForce missing, exactly as for a new order


async def test_symbol_configuration(client: DerivativesTradingUsdsFutures) -> None:
    api = client.rest_api
    await call(api.change_initial_leverage, SYMBOL, 9)
    (config,) = await call(api.symbol_configuration, symbol=SYMBOL)
    assert config.symbol == SYMBOL and config.leverage == 9 and config.margin_type == "CROSSED"
    assert config.is_auto_add_margin is False and Decimal(config.max_notional_value) > 0


# --- WebSocket streams ----------------------------------------------------------------------------------


class Inbox:
    """Messages handed to SDK callbacks, by name, and a way to wait for them without sleeping blindly."""

    def __init__(self) -> None:
        self.items: dict[str, list[Any]] = {}

    def sink(self, name: str) -> Callable[[Any], None]:
        return lambda message: self.items.setdefault(name, []).append(message)

    async def wait_for(self, name: str, match: Callable[[Any], bool] = lambda _m: True) -> Any:
        deadline = time.monotonic() + WAIT_S
        while True:
            found = [m for m in self.items.get(name, []) if match(m)]
            if found:
                return found[0]
            assert time.monotonic() < deadline, f"no {name} message: got {list(self.items)}"
            await asyncio.sleep(0.02)


@pytest_asyncio.fixture(loop_scope="module")
async def streams(client: DerivativesTradingUsdsFutures) -> AsyncIterator[Any]:
    ws: Any = client.websocket_streams  # its connection methods are untyped
    await ws.create_connection()
    try:
        yield ws
    finally:
        await ws.close_connection(close_session=True)


async def test_market_streams(streams: Any, sandbox: Sandbox) -> None:
    assert sorted(c.url_path for c in streams.connections) == ["market", "private", "public"]
    inbox = Inbox()
    (await streams.aggregate_trade_streams(symbol="btcusdt")).on("message", inbox.sink("agg"))
    (await streams.mark_price_stream(symbol="btcusdt")).on("message", inbox.sink("mark"))
    (await streams.individual_symbol_book_ticker_streams(symbol="btcusdt")).on("message", inbox.sink("book"))

    agg = await inbox.wait_for("agg")
    assert agg.e == "aggTrade" and agg.s == SYMBOL and Decimal(agg.p) > 0 and agg.f <= agg.l
    mark = await inbox.wait_for("mark")
    assert mark.e == "markPriceUpdate" and Decimal(mark.p) > 0 and mark.T > mark.E
    book = await inbox.wait_for("book")
    assert book.e == "bookTicker" and Decimal(book.b) < Decimal(book.a)
    assert abs(book.E - sandbox.context.clock.now_ms()) < 5_000


async def test_ticker_streams(streams: Any) -> None:
    inbox = Inbox()
    (await streams.individual_symbol_ticker_streams(symbol="btcusdt")).on("message", inbox.sink("ticker"))
    (await streams.individual_symbol_mini_ticker_stream(symbol="btcusdt")).on("message", inbox.sink("mini"))
    (await streams.all_market_tickers_streams()).on("message", inbox.sink("all"))
    ticker = await inbox.wait_for("ticker")
    assert ticker.e == "24hrTicker" and ticker.s == SYMBOL and ticker.C - ticker.O == 86_400_000
    assert Decimal(ticker.l) <= Decimal(ticker.c) <= Decimal(ticker.h) and Decimal(ticker.Q) > 0
    assert ticker.n == ticker.L - ticker.F + 1
    mini = await inbox.wait_for("mini")
    assert mini.e == "24hrMiniTicker" and mini.s == SYMBOL and Decimal(mini.v) > 0
    every = await inbox.wait_for("all")
    assert SYMBOL in {t.s for t in every}


async def test_user_data_stream(client: DerivativesTradingUsdsFutures, streams: Any) -> None:
    api = client.rest_api
    listen_key = (await call(api.start_user_data_stream)).listen_key
    inbox = Inbox()
    (await streams.user_data(listen_key)).on("message", inbox.sink("user"))
    # The SDK does not wait for SUBSCRIBE's answer; ask the private socket itself (the server answers
    # in order), so the order below cannot race the subscription.
    (private,) = [c for c in streams.connections if c.url_path == "private"]
    answer = await streams.send_message({"method": "LIST_SUBSCRIPTIONS", "id": "compat-1"}, private)
    assert (await asyncio.wait_for(answer, WAIT_S)) == {"result": [listen_key], "id": "compat-1"}

    placed = await call(api.new_order, SYMBOL, NewOrderSideEnum.BUY, NewOrderTypeEnum.MARKET, quantity=QTY)

    def order_filled(message: Any) -> bool:
        event = one_of(message)
        if not isinstance(event, OrderTradeUpdate) or event.o is None:
            return False
        return event.o.i == placed.order_id and event.o.X == "FILLED"

    update = one_of(await inbox.wait_for("user", order_filled))
    assert update.o.x == "TRADE" and update.o.s == SYMBOL and Decimal(update.o.z) == Decimal("0.002")
    assert update.o.N == "USDT" and Decimal(update.o.n) > 0

    account = one_of(await inbox.wait_for("user", lambda m: isinstance(one_of(m), AccountUpdate)))
    (wallet,) = [b for b in account.a.B if b.a == "USDT"]
    assert Decimal(wallet.wb) < Decimal(10000)  # the taker fee was paid
    (position,) = [p for p in account.a.P if p.s == SYMBOL]
    assert Decimal(position.pa) == Decimal("0.002")

    lite = one_of(await inbox.wait_for("user", lambda m: isinstance(one_of(m), TradeLite)))
    assert lite.i == placed.order_id and Decimal(lite.l) == Decimal("0.002") and lite.m is False

    await call(api.change_initial_leverage, SYMBOL, 11)
    config = one_of(await inbox.wait_for("user", lambda m: isinstance(one_of(m), AccountConfigUpdate)))
    assert config.ac is not None and (config.ac.s, config.ac.l) == (SYMBOL, 11)

    renewed = await call(api.keepalive_user_data_stream)
    assert renewed.listen_key == listen_key
