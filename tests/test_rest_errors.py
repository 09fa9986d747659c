"""Every error the issue lists, over real loopback HTTP: HTTP status plus Binance's {"code", "msg"}."""

from __future__ import annotations

import pytest

from tests.rest_support import OTHER_SECRET, build_context, serve

BTC = "BTCUSDT"
LIMIT_BUY = {
    "symbol": BTC,
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.010",
    "price": "59000",
    "timeInForce": "GTC",
}
ALGO_SELL = {"algoType": "CONDITIONAL", "symbol": BTC, "side": "SELL", "type": "STOP_MARKET"}


@pytest.fixture
async def server():
    async for s in serve(build_context(with_market=False)):
        s.set_price(BTC, "60000")
        s.set_price("ETHUSDT", "3000")
        yield s


# (name, method, path, params, request options, expected HTTP status, expected code)
CASES = [
    ("stale timestamp", "POST", "/fapi/v1/order", LIMIT_BUY, {"timestamp_offset": -10_000}, 400, -1021),
    ("timestamp ahead", "POST", "/fapi/v1/order", LIMIT_BUY, {"timestamp_offset": 5_000}, 400, -1021),
    ("bad signature", "POST", "/fapi/v1/order", LIMIT_BUY, {"secret": OTHER_SECRET}, 400, -1022),
    ("no api key", "GET", "/fapi/v2/balance", {}, {"key": None}, 401, -2014),
    ("malformed api key", "GET", "/fapi/v2/balance", {}, {"key": "bad key"}, 401, -2014),
    ("unknown api key", "GET", "/fapi/v2/balance", {}, {"key": "nobodysKey"}, 401, -2015),
    ("missing quantity", "POST", "/fapi/v1/order", {**LIMIT_BUY, "quantity": None}, {}, 400, -1102),
    ("missing timestamp", "GET", "/fapi/v2/balance", {}, {"no_timestamp": True}, 400, -1102),
    (
        "price with MARKET",
        "POST",
        "/fapi/v1/order",
        {**LIMIT_BUY, "type": "MARKET", "timeInForce": None},
        {},
        400,
        -1106,
    ),
    (
        "closePosition with quantity",
        "POST",
        "/fapi/v1/algoOrder",
        {**ALGO_SELL, "triggerPrice": "50000", "closePosition": "true", "quantity": "0.01"},
        {},
        400,
        -1106,
    ),
    ("precision", "POST", "/fapi/v1/order", {**LIMIT_BUY, "quantity": "0.0101"}, {}, 400, -1111),
    ("min notional", "POST", "/fapi/v1/order", {**LIMIT_BUY, "quantity": "0.001"}, {}, 400, -4164),
    (
        "margin insufficient",
        "POST",
        "/fapi/v1/order",
        {"symbol": BTC, "side": "BUY", "type": "MARKET", "quantity": "100"},
        {},
        400,
        -2019,
    ),
    (
        "would trigger",
        "POST",
        "/fapi/v1/algoOrder",
        {**ALGO_SELL, "triggerPrice": "61000", "quantity": "0.01"},
        {},
        400,
        -2021,
    ),
    (
        "reduce only without position",
        "POST",
        "/fapi/v1/order",
        {"symbol": BTC, "side": "SELL", "type": "MARKET", "quantity": "0.01", "reduceOnly": "true"},
        {},
        400,
        -2022,
    ),
    (
        "conditional on /order",
        "POST",
        "/fapi/v1/order",
        {**LIMIT_BUY, "type": "STOP_MARKET", "stopPrice": "1"},
        {},
        400,
        -4120,
    ),
    ("cancel unknown order", "DELETE", "/fapi/v1/order", {"symbol": BTC, "orderId": 123}, {}, 400, -2011),
    ("query unknown order", "GET", "/fapi/v1/order", {"symbol": BTC, "orderId": 123}, {}, 400, -2013),
    (
        "query unknown open order",
        "GET",
        "/fapi/v1/openOrder",
        {"symbol": BTC, "origClientOrderId": "nope"},
        {},
        400,
        -2013,
    ),
    ("unknown symbol", "POST", "/fapi/v1/order", {**LIMIT_BUY, "symbol": "FOOUSDT"}, {}, 400, -1121),
    ("unknown symbol public", "GET", "/fapi/v1/depth", {"symbol": "FOOUSDT"}, {"public": True}, 400, -1121),
    ("bad side", "POST", "/fapi/v1/order", {**LIMIT_BUY, "side": "UP"}, {}, 400, -1117),
    ("bad type", "POST", "/fapi/v1/order", {**LIMIT_BUY, "type": "BEST"}, {}, 400, -1116),
    ("bad tif", "POST", "/fapi/v1/order", {**LIMIT_BUY, "timeInForce": "DAY"}, {}, 400, -1115),
    ("malformed number", "POST", "/fapi/v1/order", {**LIMIT_BUY, "quantity": "1e-2"}, {}, 400, -1100),
    ("bad depth limit", "GET", "/fapi/v1/depth", {"symbol": BTC, "limit": 7}, {"public": True}, 400, -1130),
    ("recvWindow too large", "GET", "/fapi/v2/balance", {"recvWindow": 60001}, {}, 400, -1130),
    ("cancel needs an id", "DELETE", "/fapi/v1/order", {"symbol": BTC}, {}, 400, -1102),
    ("bad leverage", "POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": 0}, {}, 400, -4028),
    (
        "too many batch orders",
        "POST",
        "/fapi/v1/batchOrders",
        {"batchOrders": "[" + ",".join(["{}"] * 6) + "]"},
        {},
        400,
        -1130,
    ),
    ("unknown path", "GET", "/fapi/v1/doesNotExist", {}, {"public": True}, 404, -5000),
    ("wrong method", "PATCH", "/fapi/v1/order", {}, {"public": True}, 404, -5000),
    ("unknown algo order", "DELETE", "/fapi/v1/algoOrder", {"algoId": 5}, {}, 400, -2011),
]


@pytest.mark.parametrize(
    ("method", "path", "params", "opts", "status", "code"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
async def test_error_answers(server, method, path, params, opts, status, code):
    params = {k: v for k, v in params.items() if v is not None}
    kwargs: dict[str, object] = {}
    if "timestamp_offset" in opts:
        kwargs["timestamp"] = server.ctx.clock.now_ms() + opts["timestamp_offset"]
    if "secret" in opts:
        kwargs["secret"] = opts["secret"]
    if "key" in opts:
        kwargs["key"] = opts["key"]
    if opts.get("public"):
        reply = await server.request(method, path, params)
    elif opts.get("no_timestamp"):
        reply = await server.request(
            method, path, params, signed=True, timestamp=None, raw_query="signature=00"
        )
    else:
        reply = await server.signed(method, path, params, **kwargs)
    assert (reply.status, reply.code) == (status, code), reply.text
    assert isinstance(reply.body["msg"], str) and reply.body["msg"]
    assert reply.headers["Content-Type"].startswith("application/json")
    assert "X-MBX-USED-WEIGHT-1M" in reply.headers


async def test_error_messages_match_binance_bodies(server):
    reply = await server.signed("POST", "/fapi/v1/order", LIMIT_BUY, secret=OTHER_SECRET)
    assert reply.body == {"code": -1022, "msg": "Signature for this request is not valid."}
    reply = await server.signed("POST", "/fapi/v1/order", {**LIMIT_BUY, "quantity": "0.001"})
    assert reply.body == {
        "code": -4164,
        "msg": "Order's notional must be no smaller than 100 (unless you choose reduce only).",
    }
    reply = await server.signed("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": 1})
    assert reply.body == {"code": -2013, "msg": "Order does not exist."}
    reply = await server.signed("POST", "/fapi/v1/order", {**LIMIT_BUY, "type": "TAKE_PROFIT_MARKET"})
    assert reply.body["code"] == -4120 and "Algo Order API" in reply.body["msg"]
