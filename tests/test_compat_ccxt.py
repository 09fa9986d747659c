"""ccxt's ``binanceusdm`` (REST) and ``ccxt.pro`` (streams) against a real sandbox, only its URLs changed.

Client configuration, and why each setting is there:

- ``urls['api']['fapi*']`` -> the sandbox's REST URL; ``urls['api']['ws']['linear']`` -> ``<ws_url>/ws``:
  ccxt 4.5 rewrites it itself to the routed ``/public/ws``, ``/market/ws`` and ``/private/ws?listenKey=``.
- ``options.fetchCurrencies = False``: ``load_markets`` would otherwise call the spot wallet endpoint
  ``/sapi/v1/capital/config/getall`` on api.binance.com, which a USDⓈ-M venue does not serve.
- ``options.watchTrades(ForSymbols).name = "aggTrade"``: ccxt defaults to ``<symbol>@trade``, a stream
  Binance's USDⓈ-M documentation and official SDK do not list; ``@aggTrade`` is the documented one.

The sandbox runs 10x faster than real time: ccxt signs with its own wall clock, which the sandbox maps
through its clock's anchor and speed (its timestamp check scales with the clock).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
import pytest_asyncio

from core.config import SandboxSettings
from exchanges.sandbox.runner import Sandbox
from tests.helpers import klines_dir

ccxt = pytest.importorskip("ccxt")
ccxt_async = pytest.importorskip("ccxt.async_support")
ccxt_pro = pytest.importorskip("ccxt.pro")

pytestmark = [pytest.mark.compat, pytest.mark.timeout(30), pytest.mark.asyncio(loop_scope="module")]

SYMBOL = "BTC/USDT:USDT"
QTY = 0.002  # min notional is 100 USDT: 0.002 BTC clears it at any price above 50 000
WAIT_S = 10.0
ACCOUNTS = tuple(f"ccxtCompatKey{i:02d}:ccxtCompatSecret{i:02d}:10000" for i in range(12))


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    """One real sandbox on a free port for the module: the shared klines replayed when present, else the
    synthetic market. Each test trades on an account of its own, so tests do not see each other's orders."""
    data = klines_dir()
    settings = SandboxSettings(
        port=0,
        speed=10.0,
        history_days=0.05,
        seed=11,
        data=(str(data),) if data is not None else (),
        accounts=ACCOUNTS,
    )
    async with Sandbox(settings) as sb:
        yield sb


@pytest.fixture(scope="module")
def free_accounts(sandbox: Sandbox) -> Iterator[tuple[str, str]]:
    return iter(sandbox.accounts)


def _point_at(exchange: Any, sb: Sandbox) -> Any:
    """Only the base URLs change (plus the two options the module docstring explains)."""
    for name, url in list(exchange.urls["api"].items()):
        if isinstance(url, str) and name.startswith("fapi"):
            exchange.urls["api"][name] = url.replace("https://fapi.binance.com", sb.rest_url)
    if "ws" in exchange.urls["api"]:
        exchange.urls["api"]["ws"]["linear"] = f"{sb.ws_url}/ws"
    return exchange


def _config(account: tuple[str, str]) -> dict[str, Any]:
    key, secret = account
    return {
        "apiKey": key,
        "secret": secret,
        "options": {
            "fetchCurrencies": False,
            "watchTrades": {"name": "aggTrade"},
            "watchTradesForSymbols": {"name": "aggTrade"},
        },
    }


@pytest_asyncio.fixture(loop_scope="module")
async def rest(sandbox: Sandbox, free_accounts: Iterator[tuple[str, str]]) -> AsyncIterator[Any]:
    exchange = _point_at(ccxt_async.binanceusdm(_config(next(free_accounts))), sandbox)
    try:
        await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()


@pytest_asyncio.fixture(loop_scope="module")
async def pro(sandbox: Sandbox, free_accounts: Iterator[tuple[str, str]]) -> AsyncIterator[Any]:
    exchange = _point_at(ccxt_pro.binanceusdm(_config(next(free_accounts))), sandbox)
    try:
        await exchange.load_markets()
        yield exchange
    finally:
        await exchange.close()


async def _far_below(exchange: Any) -> float:
    """A buy price 3 % under the touch: rests (inside PERCENT_PRICE's 5 %), will not fill during a test."""
    book = await exchange.fetch_order_book(SYMBOL, 5)
    return float(exchange.price_to_precision(SYMBOL, book["bids"][0][0] * 0.97))


# --- REST -----------------------------------------------------------------------------------------------


async def test_markets_mirror_the_sandbox_exchange_info(rest: Any, sandbox: Sandbox) -> None:
    market = rest.market(SYMBOL)
    filters = sandbox.context.core.instrument("BTCUSDT").filters
    assert market["id"] == "BTCUSDT"
    assert market["linear"] and market["swap"] and market["settle"] == "USDT"
    assert Decimal(str(market["precision"]["price"])) == filters.tick_size
    assert Decimal(str(market["precision"]["amount"])) == filters.step_size
    assert Decimal(str(market["limits"]["cost"]["min"])) == filters.min_notional
    assert "ETH/USDT:USDT" in rest.markets


async def test_balance_positions_and_leverage(rest: Any) -> None:
    balance = await rest.fetch_balance()
    assert balance["USDT"]["total"] == pytest.approx(10000.0)
    assert balance["USDT"]["free"] == pytest.approx(10000.0)
    assert await rest.fetch_positions([SYMBOL]) == []  # flat: ccxt drops zero positions

    answer = await rest.set_leverage(5, SYMBOL)
    assert answer["leverage"] == 5 and answer["symbol"] == "BTCUSDT"

    await rest.create_order(SYMBOL, "market", "buy", QTY)
    (position,) = await rest.fetch_positions([SYMBOL])
    assert position["side"] == "long"
    assert position["contracts"] == pytest.approx(QTY)
    assert position["marginMode"] == "cross"
    # positionRisk v3 (what fetch_positions reads) has no leverage field; v2 has it.
    (risk,) = await rest.fapiPrivateV2GetPositionRisk({"symbol": "BTCUSDT"})
    assert risk["leverage"] == "5" and Decimal(risk["positionAmt"]) == Decimal("0.002")


async def test_market_limit_cancel_and_trades(rest: Any) -> None:
    bought = await rest.create_order(SYMBOL, "market", "buy", QTY)
    assert bought["status"] == "closed"
    assert bought["filled"] == pytest.approx(QTY)
    assert bought["average"] > 0

    price = await _far_below(rest)
    resting = await rest.create_order(SYMBOL, "limit", "buy", QTY, price)
    assert resting["status"] == "open" and resting["price"] == pytest.approx(price)
    assert [o["id"] for o in await rest.fetch_open_orders(SYMBOL)] == [resting["id"]]
    fetched = await rest.fetch_order(resting["id"], SYMBOL)
    assert fetched["status"] == "open" and fetched["remaining"] == pytest.approx(QTY)

    canceled = await rest.cancel_order(resting["id"], SYMBOL)
    assert canceled["status"] == "canceled"
    assert await rest.fetch_open_orders(SYMBOL) == []

    trades = await rest.fetch_my_trades(SYMBOL)
    assert [t["order"] for t in trades] == [bought["id"]]
    assert trades[0]["side"] == "buy" and trades[0]["takerOrMaker"] == "taker"
    assert trades[0]["price"] == pytest.approx(bought["average"])
    assert trades[0]["fee"]["currency"] == "USDT" and trades[0]["fee"]["cost"] > 0


async def test_conditional_orders_go_through_the_algo_api(rest: Any) -> None:
    await rest.create_order(SYMBOL, "market", "buy", QTY)
    trigger = float(rest.price_to_precision(SYMBOL, (await _far_below(rest)) * 0.95))

    stop = await rest.create_order(
        SYMBOL, "market", "sell", QTY, None, {"triggerPrice": trigger, "reduceOnly": True}
    )
    assert rest.last_request_url.split("?")[0].endswith("/fapi/v1/algoOrder")  # ccxt 4.5 routes it there
    assert stop["info"]["algoType"] == "CONDITIONAL" and stop["info"]["algoStatus"] == "NEW"
    assert stop["info"]["orderType"] == "STOP_MARKET"
    assert stop["triggerPrice"] == pytest.approx(trigger)

    open_algo = await rest.fetch_open_orders(SYMBOL, params={"trigger": True})
    assert [o["id"] for o in open_algo] == [stop["id"]]
    fetched = await rest.fetch_order(stop["id"], SYMBOL, {"trigger": True})
    assert fetched["info"]["algoStatus"] == "NEW"

    await rest.cancel_order(stop["id"], SYMBOL, {"trigger": True})
    assert rest.last_request_url.split("?")[0].endswith("/fapi/v1/algoOrder")
    assert await rest.fetch_open_orders(SYMBOL, params={"trigger": True}) == []

    # The old route for conditional types answers -4120, as Binance does since the algo-order migration.
    with pytest.raises(ccxt.BaseError) as refused:
        await rest.fapiPrivatePostOrder(
            {
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_MARKET",
                "quantity": "0.002",
                "stopPrice": str(trigger),
            }
        )
    assert '"code":-4120' in str(refused.value)


# --- streams --------------------------------------------------------------------------------------------


async def test_market_streams(pro: Any) -> None:
    trades = await asyncio.wait_for(pro.watch_trades(SYMBOL), WAIT_S)
    assert trades and all(t["symbol"] == SYMBOL and t["price"] > 0 and t["amount"] > 0 for t in trades)
    assert trades[-1]["info"]["e"] == "aggTrade"

    quotes = await asyncio.wait_for(pro.watch_bids_asks([SYMBOL]), WAIT_S)
    quote = quotes[SYMBOL]
    assert 0 < quote["bid"] < quote["ask"]

    book = await asyncio.wait_for(pro.watch_order_book(SYMBOL), WAIT_S)
    assert book["bids"][0][0] < book["asks"][0][0]  # ccxt checked the diff stream's U/u/pu chain

    mark = await asyncio.wait_for(pro.watch_mark_price(SYMBOL), WAIT_S)
    assert mark["markPrice"] > 0 and mark["indexPrice"] > 0

    candles = await asyncio.wait_for(pro.watch_ohlcv(SYMBOL, "1m"), WAIT_S)
    opened, o, h, low, c, _v = candles[-1]
    assert opened % 60_000 == 0 and low <= min(o, c) <= max(o, c) <= h


async def test_user_data_stream(pro: Any) -> None:
    watching = asyncio.ensure_future(pro.watch_orders(SYMBOL))
    # ccxt gets a listenKey, then opens /private/ws?listenKey=...: wait for that socket to be open.
    await _until(lambda: any("/private/ws" in url for url in pro.clients))
    private = next(client for url, client in pro.clients.items() if "/private/ws" in url)
    await asyncio.wait_for(private.connected, WAIT_S)
    placed = await pro.create_order(SYMBOL, "market", "buy", QTY)
    orders = await asyncio.wait_for(watching, WAIT_S)
    mine = [o for o in orders if o["id"] == placed["id"]]
    assert mine and mine[-1]["status"] in ("open", "closed")
    final = await _until_order_closed(pro, placed["id"])
    assert final["filled"] == pytest.approx(QTY)

    balance = asyncio.ensure_future(pro.watch_balance())
    positions = asyncio.ensure_future(pro.watch_positions([SYMBOL]))
    await asyncio.sleep(0)
    await pro.create_order(SYMBOL, "market", "sell", QTY)
    wallet = await asyncio.wait_for(balance, WAIT_S)
    assert 0 < wallet["USDT"]["total"] < 10000  # fees were paid
    (position,) = await asyncio.wait_for(positions, WAIT_S)
    assert position["symbol"] == SYMBOL and position["contracts"] == pytest.approx(0.0)


async def test_watch_ticker(pro: Any) -> None:
    ticker = await asyncio.wait_for(pro.watch_ticker(SYMBOL), 5.0)
    assert ticker["last"] > 0


async def test_fetch_leverage(rest: Any) -> None:
    await rest.set_leverage(7, SYMBOL)
    leverage = await rest.fetch_leverage(SYMBOL)
    assert leverage["longLeverage"] == 7


async def _until(condition: Any, timeout: float = WAIT_S) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def _until_order_closed(pro: Any, order_id: str) -> dict[str, Any]:
    """The user stream's view of ``order_id`` once it reports it FILLED (after NEW, then TRADE)."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        cached = [o for o in (pro.orders or []) if o["id"] == order_id]
        if cached and cached[-1]["status"] == "closed":
            return dict(cached[-1])
        left = deadline - asyncio.get_running_loop().time()
        assert left > 0, f"order {order_id} never reported closed: {cached}"
        await asyncio.wait_for(pro.watch_orders(SYMBOL), left)
