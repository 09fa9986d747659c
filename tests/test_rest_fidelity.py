"""symbolConfig, allAlgoOrders, order/test, unknown parameters and ticker/24hr lastQty over real loopback."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import msgspec
import pytest

from tests.rest_support import SECRET, build_context, hmac_hex, serve

BTC, ETH = "BTCUSDT", "ETHUSDT"


@pytest.fixture
async def server():
    async for s in serve(build_context(with_market=False)):
        s.set_price(BTC, "60000")
        s.set_price(ETH, "3000")
        yield s


async def test_symbol_config(server):
    every = await server.signed("GET", "/fapi/v1/symbolConfig")
    assert every.status == 200, every.text
    assert {row["symbol"] for row in every.body} == {BTC, ETH}
    await server.signed("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": 50})
    await server.signed("POST", "/fapi/v1/marginType", {"symbol": BTC, "marginType": "ISOLATED"})
    one = await server.signed("GET", "/fapi/v1/symbolConfig", {"symbol": BTC})
    (row,) = one.body
    assert row == {
        "symbol": BTC,
        "marginType": "ISOLATED",
        "isAutoAddMargin": False,
        "leverage": 50,
        "maxNotionalValue": row["maxNotionalValue"],
    }
    risk = await server.signed("GET", "/fapi/v2/positionRisk", {"symbol": BTC})
    assert row["maxNotionalValue"] == risk.body[0]["maxNotionalValue"]
    assert (await server.signed("GET", "/fapi/v1/symbolConfig", {"symbol": "NOPEUSDT"})).code == -1121
    assert (await server.request("GET", "/fapi/v1/symbolConfig")).code == -1102  # signed endpoint


async def test_all_algo_orders(server):
    def stop(trigger: str) -> dict[str, str]:
        return {
            "algoType": "CONDITIONAL",
            "symbol": BTC,
            "side": "SELL",
            "type": "STOP_MARKET",
            "quantity": "0.010",
            "triggerPrice": trigger,
        }

    empty = await server.signed("GET", "/fapi/v1/allAlgoOrders", {"symbol": BTC})
    assert empty.body == [] and empty.headers["X-MBX-USED-WEIGHT-1M"] == "5"  # the first request: weight 5
    first = (await server.signed("POST", "/fapi/v1/algoOrder", stop("50000"))).body
    second = (await server.signed("POST", "/fapi/v1/algoOrder", stop("51000"))).body
    await server.signed("DELETE", "/fapi/v1/algoOrder", {"algoId": first["algoId"]})
    r = await server.signed("GET", "/fapi/v1/allAlgoOrders", {"symbol": BTC})
    assert r.status == 200, r.text
    assert [(a["algoId"], a["algoStatus"]) for a in r.body] == [
        (first["algoId"], "CANCELED"),
        (second["algoId"], "NEW"),
    ]
    row = r.body[0]
    assert row["algoType"] == "CONDITIONAL" and row["orderType"] == "STOP_MARKET"
    assert row["triggerPrice"] == "50000.00" and row["icebergQuantity"] is None
    assert isinstance(row["createTime"], int) and row["actualOrderId"] == ""
    since = await server.signed("GET", "/fapi/v1/allAlgoOrders", {"symbol": BTC, "algoId": second["algoId"]})
    assert [a["algoId"] for a in since.body] == [second["algoId"]]
    paged = await server.signed("GET", "/fapi/v1/allAlgoOrders", {"symbol": BTC, "page": 2, "limit": 1})
    assert [a["algoId"] for a in paged.body] == [second["algoId"]]
    assert (await server.signed("GET", "/fapi/v1/allAlgoOrders")).code == -1102
    assert (await server.signed("GET", "/fapi/v1/allAlgoOrders", {"symbol": BTC, "page": 0})).code == -1130
    bad_limit = await server.signed("GET", "/fapi/v1/allAlgoOrders", {"symbol": BTC, "limit": 1001})
    assert bad_limit.code == -1130


async def test_test_order_validates_and_places_nothing(server):
    order = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "59000.0"}
    r = await server.signed("POST", "/fapi/v1/order/test", {**order, "timeInForce": "GTC"})
    assert r.status == 200, r.text
    assert r.body["status"] == "NEW" and r.body["orderId"] == 0 and r.body["price"] == "59000.00"
    assert r.body["executedQty"] == "0.000" and r.body["cumQty"] == "0.000"
    assert r.body["clientOrderId"] and r.body["timeInForce"] == "GTC"
    assert "X-MBX-ORDER-COUNT-1M" not in r.headers  # nothing reaches the matching engine
    assert (await server.signed("GET", "/fapi/v1/openOrders", {"symbol": BTC})).body == []
    assert (await server.signed("GET", "/fapi/v1/allOrders", {"symbol": BTC})).body == []
    # Refused exactly as a new order would be.
    assert (await server.signed("POST", "/fapi/v1/order/test", order)).code == -1102  # timeInForce
    stop = {"symbol": BTC, "side": "SELL", "type": "STOP_MARKET", "quantity": "0.010", "stopPrice": "50000"}
    assert (await server.signed("POST", "/fapi/v1/order/test", stop)).code == -4120
    huge = {"symbol": BTC, "side": "BUY", "type": "MARKET", "quantity": "100"}
    assert (await server.signed("POST", "/fapi/v1/order/test", huge)).code == -2019
    unsigned = await server.request("POST", "/fapi/v1/order/test", {**order, "timeInForce": "GTC"})
    assert unsigned.code == -1102  # TRADE security: timestamp and signature


async def test_unknown_parameters_are_ignored_but_signed(server):
    """Binance USDⓈ-M ignores parameters it does not know (spot answers -1104); the signature covers them."""
    order = {"symbol": BTC, "side": "BUY", "type": "MARKET", "quantity": "0.010", "notAParameter": "x"}
    r = await server.signed("POST", "/fapi/v1/order", order)
    assert r.status == 200, r.text
    assert (await server.signed("GET", "/fapi/v3/account", {"foo": "1", "bar": ""})).status == 200
    # Changing an unknown parameter after signing breaks the signature like any other.
    now = server.ctx.clock.now_ms()
    text = urlencode({"foo": "1", "timestamp": now})
    tampered = f"{text.replace('foo=1', 'foo=2')}&signature={hmac_hex(SECRET, text)}"
    assert (await server.request("GET", "/fapi/v3/account", raw_query=tampered)).code == -1022


async def test_ticker_24hr_last_qty_and_trade_ids():
    ctx = build_context()
    if ctx.market is None:
        pytest.skip("the market replay is unavailable")
    async for server in serve(ctx):
        r = await server.request("GET", "/fapi/v1/ticker/24hr", {"symbol": BTC})
        assert r.status == 200, r.text
        t = r.body
        assert 0 < t["firstId"] <= t["lastId"] and t["count"] == t["lastId"] - t["firstId"] + 1
        assert t["lastQty"] == "0.000"  # the core has seen no trade yet
        server.trade(BTC, "60010", qty="0.123")
        r = await server.request("GET", "/fapi/v1/ticker/24hr", {"symbol": BTC})
        assert r.body["lastQty"] == "0.123" and Decimal(r.body["lastPrice"]) == Decimal("60010")


def test_premium_index_before_the_first_mark_still_publishes_the_funding_schedule() -> None:
    """In the first second after start no markPrice event exists yet; Binance still has a nextFundingTime."""
    from types import SimpleNamespace

    from core.clock import ManualClock
    from exchanges.sandbox.engine.exchange import ExchangeCore
    from exchanges.sandbox.engine.filters import default_instruments
    from exchanges.sandbox.market.marks import FUNDING_INTERVAL_MS
    from exchanges.sandbox.server.params import Params
    from exchanges.sandbox.server.rest_public import premium_index
    from exchanges.sandbox.server.routing import Call

    now = 1_795_000_000_123
    core = ExchangeCore(default_instruments(), ManualClock(now))
    ctx = SimpleNamespace(core=core)
    call = Call(ctx=ctx, params=Params.from_request("symbol=BTCUSDT", ""), account="", now_ms=now)  # type: ignore[arg-type]
    row = premium_index(call)
    body = msgspec.json.decode(msgspec.json.encode(row))
    assert body["symbol"] == "BTCUSDT"
    assert now < body["nextFundingTime"] <= now + FUNDING_INTERVAL_MS
    assert body["nextFundingTime"] % FUNDING_INTERVAL_MS == 0
