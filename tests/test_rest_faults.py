"""Fault injection, rate limits and robustness of the REST server, over real loopback HTTP."""

from __future__ import annotations

import random
import time
from typing import Any
from urllib.parse import quote

import pytest

from exchanges.sandbox.server.ratelimit import RateLimiter
from tests.rest_support import build_context, serve

BTC = "BTCUSDT"
LIMIT = {
    "symbol": BTC,
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.010",
    "price": "59000",
    "timeInForce": "GTC",
}


@pytest.fixture
async def server():
    async for s in serve(build_context(with_market=False)):
        s.set_price(BTC, "60000")
        s.set_price("ETHUSDT", "3000")
        yield s


async def set_faults(server, spec: str) -> Any:
    r = await server.request("POST", "/admin/faults", raw_body=spec, headers={"Content-Type": "text/plain"})
    assert r.status == 200, r.text
    return r.body


async def test_admin_reads_and_changes_faults(server):
    r = await server.request("GET", "/admin/faults")
    assert r.body["http_5xx"] == 0.0 and r.body["latency_ms"] == 0
    assert (await set_faults(server, "latency_ms=5,http_5xx=0"))["latency_ms"] == 5
    via_query = await server.request("POST", "/admin/faults", raw_query="latency_ms=0&user_drop=0.5")
    assert via_query.body["latency_ms"] == 0 and via_query.body["user_drop"] == 0.5
    bad = await server.request("POST", "/admin/faults", raw_body="nonsense=1")
    assert bad.status == 400 and bad.body["code"] == -1130 and "unknown fault" in bad.body["msg"]
    bad = await server.request("POST", "/admin/faults", raw_body="http_5xx=2")
    assert bad.status == 400


async def test_http_5xx_answers_and_does_not_place(server):
    await set_faults(server, "http_5xx=1")
    statuses = set()
    for i in range(12):
        r = await server.signed("POST", "/fapi/v1/order", {**LIMIT, "newClientOrderId": f"x{i}"})
        statuses.add(r.status)
        if r.status == 503:
            assert r.body == {
                "code": -1001,
                "msg": "Internal error; unable to process your request. Please try again.",
            }
        else:
            assert r.status == 502 and "Bad Gateway" in r.text
    assert statuses == {502, 503}  # both shapes happen (seeded dice)
    await set_faults(server, "http_5xx=0")
    assert (await server.signed("GET", "/fapi/v1/openOrders")).body == []


async def test_429_burst_then_recovers(server):
    await set_faults(server, "http_429_burst=2")
    for _ in range(2):
        r = await server.request("GET", "/fapi/v1/ping")
        assert (r.status, r.code) == (429, -1003) and r.headers["Retry-After"] == "1"
    assert (await server.request("GET", "/fapi/v1/ping")).status == 200


async def test_timeout_but_placed_then_found_by_client_id(server):
    await set_faults(server, "order_timeout_placed=1")
    r = await server.signed("POST", "/fapi/v1/order", {**LIMIT, "newClientOrderId": "unknown-outcome"})
    assert r.status == 408 and r.code == -1007 and "execution status unknown" in r.body["msg"]
    await set_faults(server, "order_timeout_placed=0")
    q = await server.signed("GET", "/fapi/v1/order", {"symbol": BTC, "origClientOrderId": "unknown-outcome"})
    assert q.status == 200 and q.body["status"] == "NEW"


async def test_latency_is_added(server):
    await set_faults(server, "latency_ms=150")
    start = time.monotonic()
    assert (await server.request("GET", "/fapi/v1/ping")).status == 200
    assert time.monotonic() - start >= 0.15
    start = time.monotonic()
    assert (await server.request("GET", "/admin/faults")).status == 200  # admin is never delayed
    assert time.monotonic() - start < 0.15


async def test_clock_skew_shifts_server_time_and_the_window(server):
    before = (await server.request("GET", "/fapi/v1/time")).body["serverTime"]
    await set_faults(server, "clock_skew_ms=30000")
    after = (await server.request("GET", "/fapi/v1/time")).body["serverTime"]
    assert 29_000 <= after - before <= 31_000 + 5_000
    wall_ms = time.time_ns() // 1_000_000  # a client with a correct clock now lags the venue by 30 s
    r = await server.signed("GET", "/fapi/v2/balance", timestamp=wall_ms)
    assert r.code == -1021
    r = await server.signed("GET", "/fapi/v2/balance", {"recvWindow": 60000}, timestamp=wall_ms)
    assert r.status == 200
    await set_faults(server, "clock_skew_ms=0")


async def test_request_weight_429_then_418_ban():
    async for s in serve(
        build_context(with_market=False, minute_start=True, limiter=RateLimiter(weight_limit=5, ban_after=2))
    ):
        for _ in range(5):
            assert (await s.request("GET", "/fapi/v1/ping")).status == 200
        refused = await s.request("GET", "/fapi/v1/ping")
        assert (refused.status, refused.code) == (429, -1003)
        assert (
            1 <= int(refused.headers["Retry-After"]) <= 60 and refused.headers["X-MBX-USED-WEIGHT-1M"] == "5"
        )
        assert (await s.request("GET", "/fapi/v1/ping")).status == 429
        banned = await s.request("GET", "/fapi/v1/ping")
        assert (banned.status, banned.code) == (418, -1003) and int(banned.headers["Retry-After"]) >= 60
        assert "banned until" in banned.body["msg"]
        # The limit is counted before the signature: even a badly signed request is refused with 418.
        assert (await s.signed("GET", "/fapi/v2/balance", secret="wrong")).status == 418


async def test_order_rate_limit():
    async for s in serve(
        build_context(with_market=False, minute_start=True, limiter=RateLimiter(orders_10s_limit=2))
    ):
        s.set_price(BTC, "60000")
        codes = []
        for i in range(3):
            r = await s.signed("POST", "/fapi/v1/order", {**LIMIT, "price": str(58000 + i)})
            codes.append(r.code)
        assert codes[:2] == [None, None] and codes[2] == -1015
        assert r.status == 429 and "Retry-After" in r.headers and r.headers["X-MBX-ORDER-COUNT-10S"] == "2"


async def test_unexpected_exception_is_500_and_server_keeps_serving(server):
    def broken(account, symbol):
        raise RuntimeError("boom")

    server.ctx.core.open_orders = broken
    r = await server.signed("GET", "/fapi/v1/openOrders")
    assert r.status == 500 and r.code == -1000
    assert (await server.request("GET", "/fapi/v1/ping")).status == 200


GARBAGE_VALUES = [
    "",
    " ",
    "-1",
    "0",
    "1e9",
    "NaN",
    "∞",
    "%00",
    "BTCUSDT",
    "true",
    "[1,2",
    "{}",
    "9" * 40,
    "é",
    "\x00",
]
GARBAGE_NAMES = [
    "symbol",
    "side",
    "type",
    "quantity",
    "price",
    "timeInForce",
    "orderId",
    "limit",
    "startTime",
    "interval",
    "batchOrders",
    "orderIdList",
    "closePosition",
    "algoType",
    "triggerPrice",
    "leverage",
    "marginType",
    "dualSidePosition",
    "countdownTime",
    "recvWindow",
    "timestamp",
    "fromId",
    "x",
]
TARGETS = [
    ("POST", "/fapi/v1/order"),
    ("GET", "/fapi/v1/order"),
    ("DELETE", "/fapi/v1/order"),
    ("POST", "/fapi/v1/batchOrders"),
    ("DELETE", "/fapi/v1/batchOrders"),
    ("POST", "/fapi/v1/algoOrder"),
    ("GET", "/fapi/v1/userTrades"),
    ("GET", "/fapi/v1/depth"),
    ("GET", "/fapi/v1/ticker/price"),
    ("POST", "/fapi/v1/leverage"),
    ("POST", "/fapi/v1/marginType"),
    ("POST", "/fapi/v1/countdownCancelAll"),
    ("GET", "/fapi/v1/income"),
]


async def test_garbage_never_breaks_the_server(server):
    rng = random.Random(1234)
    for _ in range(150):
        method, path = rng.choice(TARGETS)
        params = {rng.choice(GARBAGE_NAMES): rng.choice(GARBAGE_VALUES) for _ in range(rng.randint(0, 5))}
        signed = rng.random() < 0.7
        r = await server.request(method, path, params, signed=signed, in_body=rng.random() < 0.5)
        assert r.status < 500, (method, path, params, r.text)
        if r.status != 200:
            assert isinstance(r.body, dict) and r.body["code"] < 0 and r.body["msg"], r.text
    weird = [
        await server.request("POST", "/fapi/v1/order", raw_body=bytes(range(256))),
        await server.request("POST", "/fapi/v1/order", raw_body=b"\xff\xfe\x00garbage"),
        await server.request("POST", "/fapi/v1/order", raw_body="a" * 70_000),
        await server.request("GET", "/fapi/v1/depth", raw_query="symbol=" + "A" * 7000),
        await server.request("GET", "/fapi/v1/depth", raw_query="%%%&&&==" + quote("☃")),
        await server.request(
            "POST",
            "/fapi/v1/order",
            raw_body='{"symbol": "BTCUSDT"}',
            headers={"Content-Type": "application/json"},
        ),
    ]
    for r in weird:
        assert 400 <= r.status < 500 and r.body["code"] < 0, r.text
    assert weird[2].status == 413 and weird[2].code == -1101
    ok = await server.signed("POST", "/fapi/v1/order", LIMIT)
    assert ok.status == 200
