"""Order, algo and account flows over real loopback HTTP, and every endpoint's answer shape."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.rest_support import OTHER_KEY, OTHER_SECRET, build_context, serve

BTC, ETH = "BTCUSDT", "ETHUSDT"


@pytest.fixture
async def server():
    async for s in serve(build_context(with_market=False)):
        s.set_price(BTC, "60000")
        s.set_price(ETH, "3000")
        yield s


async def test_market_order_shows_in_position_risk_and_user_trades(server):
    r = await server.signed(
        "POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET", "quantity": "0.010"}
    )
    assert r.status == 200, r.text
    ack = r.body
    # ACK (the default) answers the order as accepted; RESULT would give the fill.
    assert ack["status"] == "NEW" and ack["executedQty"] == "0.000" and isinstance(ack["orderId"], int)
    assert r.headers["X-MBX-ORDER-COUNT-10S"] == "1" and r.headers["X-MBX-ORDER-COUNT-1M"] == "1"
    q = await server.signed("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": ack["orderId"]})
    assert q.body["status"] == "FILLED" and q.body["executedQty"] == "0.010"
    assert Decimal(q.body["avgPrice"]) >= Decimal("60000.1")
    pos = await server.signed("GET", "/fapi/v3/positionRisk", {"symbol": BTC})
    assert [p["positionAmt"] for p in pos.body] == ["0.010"]
    assert Decimal(pos.body[0]["entryPrice"]) == Decimal(q.body["avgPrice"])
    v2 = await server.signed("GET", "/fapi/v2/positionRisk")
    assert {p["symbol"] for p in v2.body} == {BTC, ETH}  # v2 without a symbol lists every symbol
    assert {p["symbol"]: p["positionAmt"] for p in v2.body}[ETH] == "0.000"
    trades = await server.signed("GET", "/fapi/v1/userTrades", {"symbol": BTC})
    assert len(trades.body) >= 1 and all(t["orderId"] == ack["orderId"] for t in trades.body)
    assert sum(Decimal(t["qty"]) for t in trades.body) == Decimal("0.010")
    row = trades.body[0]
    assert row["buyer"] is True and row["maker"] is False and isinstance(row["id"], int)
    assert row["commissionAsset"] == "USDT" and Decimal(row["commission"]) > 0
    res = await server.signed(
        "POST",
        "/fapi/v1/order",
        {"symbol": BTC, "side": "SELL", "type": "MARKET", "quantity": "0.010", "newOrderRespType": "RESULT"},
    )
    assert res.body["status"] == "FILLED" and res.body["cumQty"] == "0.010"
    flat = await server.signed("GET", "/fapi/v3/positionRisk", {"symbol": BTC})
    assert flat.body == []  # v3 lists only symbols with a position or open orders
    income = await server.signed("GET", "/fapi/v1/income", {"symbol": BTC})
    assert {"COMMISSION"} <= {i["incomeType"] for i in income.body}


async def test_limit_rests_lists_and_cancels(server):
    order = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "59000.0"}
    r = await server.signed(
        "POST", "/fapi/v1/order", {**order, "timeInForce": "GTC", "newClientOrderId": "rest-1"}
    )
    assert r.status == 200 and r.body["clientOrderId"] == "rest-1" and r.body["price"] == "59000.00"
    listed = await server.signed("GET", "/fapi/v1/openOrders", {"symbol": BTC})
    assert [o["clientOrderId"] for o in listed.body] == ["rest-1"]
    assert listed.body[0]["status"] == "NEW" and isinstance(listed.body[0]["time"], int)
    one = await server.signed("GET", "/fapi/v1/openOrder", {"symbol": BTC, "origClientOrderId": "rest-1"})
    assert one.body["orderId"] == r.body["orderId"]
    other = await server.signed("GET", "/fapi/v1/openOrders", key=OTHER_KEY, secret=OTHER_SECRET)
    assert other.body == []  # accounts do not see each other's orders
    c = await server.signed("DELETE", "/fapi/v1/order", {"symbol": BTC, "origClientOrderId": "rest-1"})
    assert c.status == 200 and c.body["status"] == "CANCELED"
    assert (await server.signed("GET", "/fapi/v1/openOrders")).body == []
    again = await server.signed("DELETE", "/fapi/v1/order", {"symbol": BTC, "orderId": r.body["orderId"]})
    assert again.body["code"] == -2011
    history = await server.signed("GET", "/fapi/v1/allOrders", {"symbol": BTC})
    assert [o["status"] for o in history.body] == ["CANCELED"]


async def test_limit_fills_when_the_tape_trades_through(server):
    order = {
        "symbol": BTC,
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.010",
        "price": "59500",
        "timeInForce": "GTC",
    }
    r = await server.signed("POST", "/fapi/v1/order", order)
    server.set_price(BTC, "59400")
    q = await server.signed("GET", "/fapi/v1/order", {"symbol": BTC, "orderId": r.body["orderId"]})
    assert q.body["status"] == "FILLED" and q.body["avgPrice"] == "59500.00"
    trades = await server.signed("GET", "/fapi/v1/userTrades", {"symbol": BTC, "orderId": r.body["orderId"]})
    assert trades.body[0]["maker"] is True


async def test_cancel_all_and_countdown(server):
    base = {"symbol": BTC, "side": "BUY", "type": "LIMIT", "quantity": "0.010", "timeInForce": "GTC"}
    for price in ("58000", "58100"):
        assert (await server.signed("POST", "/fapi/v1/order", {**base, "price": price})).status == 200
    cd = await server.signed("POST", "/fapi/v1/countdownCancelAll", {"symbol": BTC, "countdownTime": 120000})
    assert cd.body == {"symbol": BTC, "countdownTime": "120000"}
    done = await server.signed("DELETE", "/fapi/v1/allOpenOrders", {"symbol": BTC})
    assert done.body == {"code": 200, "msg": "The operation of cancel all open order is done."}
    assert (await server.signed("GET", "/fapi/v1/openOrders", {"symbol": BTC})).body == []


async def test_batch_orders_mixed_success_and_errors(server):
    items = [
        {
            "symbol": BTC,
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.010",
            "price": "58000",
            "timeInForce": "GTC",
        },
        {
            "symbol": BTC,
            "side": "BUY",
            "type": "LIMIT",
            "quantity": "0.001",
            "price": "58000",
            "timeInForce": "GTC",
        },
        {"symbol": BTC, "side": "BUY", "type": "STOP_MARKET", "quantity": "0.010"},
        {"symbol": "NOPEUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"},
        {
            "symbol": ETH,
            "side": "SELL",
            "type": "LIMIT",
            "quantity": "0.050",
            "price": "3100",
            "timeInForce": "GTC",
        },
    ]
    r = await server.signed("POST", "/fapi/v1/batchOrders", {"batchOrders": json.dumps(items)}, in_body=True)
    assert r.status == 200, r.text
    assert [x.get("code") for x in r.body] == [None, -4164, -4120, -1121, None]
    assert r.body[0]["status"] == "NEW" and r.body[4]["symbol"] == ETH
    assert r.headers["X-MBX-ORDER-COUNT-10S"] == "5" and r.headers["X-MBX-ORDER-COUNT-1M"] == "1"
    ids = [r.body[0]["orderId"], 999]
    c = await server.signed("DELETE", "/fapi/v1/batchOrders", {"symbol": BTC, "orderIdList": json.dumps(ids)})
    assert c.body[0]["status"] == "CANCELED" and c.body[1]["code"] == -2011


async def test_algo_order_place_list_cancel(server):
    algo = {
        "algoType": "CONDITIONAL",
        "symbol": BTC,
        "side": "SELL",
        "type": "STOP_MARKET",
        "triggerPrice": "55000",
        "quantity": "0.010",
        "reduceOnly": "true",
        "workingType": "MARK_PRICE",
        "clientAlgoId": "sl-1",
    }
    r = await server.signed("POST", "/fapi/v1/algoOrder", algo)
    assert r.status == 200, r.text
    assert (
        r.body["algoStatus"] == "NEW"
        and r.body["clientAlgoId"] == "sl-1"
        and r.body["triggerPrice"] == "55000.00"
    )
    assert r.body["icebergQuantity"] is None and isinstance(r.body["algoId"], int)
    listed = await server.signed("GET", "/fapi/v1/openAlgoOrders", {"symbol": BTC})
    assert [a["algoId"] for a in listed.body] == [r.body["algoId"]]
    got = await server.signed("GET", "/fapi/v1/algoOrder", {"clientAlgoId": "sl-1"})
    assert got.body["workingType"] == "MARK_PRICE" and got.body["actualOrderId"] == ""
    c = await server.signed("DELETE", "/fapi/v1/algoOrder", {"algoId": r.body["algoId"]})
    assert c.body == {"algoId": r.body["algoId"], "clientAlgoId": "sl-1", "code": "200", "msg": "success"}
    assert (await server.signed("GET", "/fapi/v1/openAlgoOrders")).body == []
    assert (await server.signed("POST", "/fapi/v1/algoOrder", {**algo, "clientAlgoId": "sl-2"})).status == 200
    done = await server.signed("DELETE", "/fapi/v1/algoOpenOrders", {"symbol": BTC})
    assert done.body["code"] == 200
    assert (await server.signed("GET", "/fapi/v1/openAlgoOrders")).body == []


async def test_account_endpoints(server):
    lev = await server.signed("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": 10})
    assert (
        lev.body["leverage"] == 10 and lev.body["symbol"] == BTC and Decimal(lev.body["maxNotionalValue"]) > 0
    )
    mt = await server.signed("POST", "/fapi/v1/marginType", {"symbol": ETH, "marginType": "ISOLATED"})
    assert mt.body == {"code": 200, "msg": "success"}
    assert (
        await server.signed("POST", "/fapi/v1/marginType", {"symbol": ETH, "marginType": "ISOLATED"})
    ).code == -4046
    assert (await server.signed("GET", "/fapi/v1/positionSide/dual")).body == {"dualSidePosition": False}
    assert (
        await server.signed("POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "false"})
    ).code == -4059
    assert (await server.signed("GET", "/fapi/v1/multiAssetsMargin")).body == {"multiAssetsMargin": False}
    for path in ("/fapi/v2/balance", "/fapi/v3/balance"):
        bal = await server.signed("GET", path)
        assert bal.body[0]["asset"] == "USDT" and bal.body[0]["balance"] == "100000.00000000"
    v3 = await server.signed("GET", "/fapi/v3/account")
    assert v3.body["totalWalletBalance"] == "100000.00000000" and v3.body["positions"] == []
    v2 = await server.signed("GET", "/fapi/v2/account")
    assert v2.body["canTrade"] is True and {p["symbol"] for p in v2.body["positions"]} == {BTC, ETH}
    lev_btc = {p["symbol"]: p["leverage"] for p in v2.body["positions"]}[BTC]
    assert lev_btc == "10"
    fee = await server.signed("GET", "/fapi/v1/commissionRate", {"symbol": BTC})
    assert fee.body["makerCommissionRate"] == "0.0002" and fee.body["takerCommissionRate"] == "0.0005"
    assert (await server.signed("GET", "/fapi/v1/apiTradingStatus")).status == 200
    br = await server.signed("GET", "/fapi/v1/leverageBracket", {"symbol": BTC})
    first = br.body["brackets"][0]
    assert (
        first["bracket"] == 1
        and isinstance(first["notionalCap"], int)
        and isinstance(first["maintMarginRatio"], float)
    )
    all_br = await server.signed("GET", "/fapi/v1/leverageBracket")
    assert {b["symbol"] for b in all_br.body} == {BTC, ETH}


async def test_public_endpoints(server):
    assert (await server.request("GET", "/fapi/v1/ping")).body == {}
    t = await server.request("GET", "/fapi/v1/time")
    assert abs(t.body["serverTime"] - server.ctx.clock.now_ms()) < 5000
    info = (await server.request("GET", "/fapi/v1/exchangeInfo")).body
    assert [(r["rateLimitType"], r["intervalNum"], r["limit"]) for r in info["rateLimits"]] == [
        ("REQUEST_WEIGHT", 1, 2400),
        ("ORDERS", 1, 1200),
        ("ORDERS", 10, 300),
    ]
    btc = next(s for s in info["symbols"] if s["symbol"] == BTC)
    kinds = [f["filterType"] for f in btc["filters"]]
    assert kinds == [
        "PRICE_FILTER",
        "LOT_SIZE",
        "MARKET_LOT_SIZE",
        "MAX_NUM_ORDERS",
        "MAX_NUM_ALGO_ORDERS",
        "MIN_NOTIONAL",
        "PERCENT_PRICE",
    ]
    assert (
        btc["pricePrecision"] == 2
        and btc["filters"][0]["tickSize"] == "0.10"
        and "STOP_MARKET" in btc["orderTypes"]
    )
    depth = (await server.request("GET", "/fapi/v1/depth", {"symbol": BTC, "limit": 5})).body
    assert len(depth["bids"]) == 5 and Decimal(depth["bids"][0][0]) < Decimal(depth["asks"][0][0])
    one = (await server.request("GET", "/fapi/v1/ticker/price", {"symbol": BTC})).body
    assert one["price"] == "60000.00"
    for path in (
        "/fapi/v1/ticker/price",
        "/fapi/v2/ticker/price",
        "/fapi/v1/ticker/bookTicker",
        "/fapi/v1/premiumIndex",
    ):
        rows = (await server.request("GET", path)).body
        assert {r["symbol"] for r in rows} == {BTC, ETH}, path
    book = (await server.request("GET", "/fapi/v1/ticker/bookTicker", {"symbol": ETH})).body
    assert book["bidPrice"] == "2999.90" and book["askPrice"] == "3000.10"
    mark = (await server.request("GET", "/fapi/v1/premiumIndex", {"symbol": BTC})).body
    assert Decimal(mark["markPrice"]) == 60000 and mark["lastFundingRate"] == "0.00010000"


async def test_weight_headers_count_per_endpoint(server):
    first = await server.request("GET", "/fapi/v1/ping")
    used = int(first.headers["X-MBX-USED-WEIGHT-1M"])
    r = await server.request("GET", "/fapi/v1/depth", {"symbol": BTC, "limit": 1000})
    # depth limit=1000 weighs 20 (unless the minute just rolled over)
    assert int(r.headers["X-MBX-USED-WEIGHT-1M"]) in (used + 20, 20)
