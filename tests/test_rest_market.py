"""Market-data endpoints backed by the real MarketReplay, and an end-to-end run through ``Sandbox``."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal

import aiohttp
import pytest

from core.config import SandboxSettings
from exchanges.sandbox.runner import Sandbox
from tests.helpers import eventually
from tests.rest_support import KEY, SECRET, RestServer, build_context, serve

BTC = "BTCUSDT"


@pytest.fixture
async def server():
    ctx = build_context()
    if ctx.market is None:
        pytest.skip("MarketReplay is not available yet")
    async for s in serve(ctx):
        yield s


async def test_klines_history_and_open_candle(server):
    r = await server.request("GET", "/fapi/v1/klines", {"symbol": BTC, "interval": "1m", "limit": 10})
    assert r.status == 200, r.text
    rows = r.body
    assert len(rows) == 10 and all(len(row) == 12 for row in rows)
    now = server.ctx.clock.now_ms()
    assert rows[-1][0] <= now <= rows[-1][6]  # the last candle is the one still open
    for row in rows:
        assert isinstance(row[0], int) and isinstance(row[6], int) and isinstance(row[8], int)
        o, h, low, c = (Decimal(x) for x in row[1:5])
        assert low <= min(o, c) and h >= max(o, c)
        assert "E" not in row[1] and "e" not in row[5]
    assert [b[0] - a[0] for a, b in itertools.pairwise(rows)] == [60_000] * 9
    hourly = await server.request("GET", "/fapi/v1/klines", {"symbol": BTC, "interval": "1h", "limit": 3})
    assert [b[0] - a[0] for a, b in zip(hourly.body, hourly.body[1:], strict=False)] == [3_600_000] * 2
    cont = await server.request(
        "GET",
        "/fapi/v1/continuousKlines",
        {"pair": BTC, "contractType": "PERPETUAL", "interval": "1m", "limit": 2},
    )
    assert cont.status == 200 and len(cont.body) == 2
    bad = await server.request("GET", "/fapi/v1/klines", {"symbol": BTC, "interval": "7m"})
    assert bad.code == -1120
    assert (
        await server.request("GET", "/fapi/v1/klines", {"symbol": BTC, "interval": "1m", "limit": 1501})
    ).code == -1130
    assert (await server.request("GET", "/fapi/v1/klines", {"symbol": BTC})).code == -1102


async def test_agg_trades_are_consistent_and_paged(server):
    r = await server.request("GET", "/fapi/v1/aggTrades", {"symbol": BTC, "limit": 20})
    assert r.status == 200, r.text
    rows = r.body
    assert rows, "the replay serves trades before now"
    assert set(rows[0]) == {"a", "p", "q", "nq", "f", "l", "T", "m"}
    ids = [t["a"] for t in rows]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    page = await server.request("GET", "/fapi/v1/aggTrades", {"symbol": BTC, "fromId": ids[0], "limit": 5})
    assert [t["a"] for t in page.body] == ids[:5]
    assert [t["p"] for t in page.body] == [t["p"] for t in rows[:5]]
    now = server.ctx.clock.now_ms()
    too_long = {"symbol": BTC, "startTime": now - 7_200_000, "endTime": now}
    assert (await server.request("GET", "/fapi/v1/aggTrades", too_long)).code == -1127


async def test_ticker_24hr(server):
    r = await server.request("GET", "/fapi/v1/ticker/24hr", {"symbol": BTC})
    assert r.status == 200, r.text
    t = r.body
    assert Decimal(t["lowPrice"]) <= Decimal(t["lastPrice"]) <= Decimal(t["highPrice"])
    assert t["closeTime"] - t["openTime"] == 86_400_000
    all_rows = await server.request("GET", "/fapi/v1/ticker/24hr")
    assert {x["symbol"] for x in all_rows.body} == {"BTCUSDT", "ETHUSDT"}


async def test_end_to_end_through_sandbox():
    settings = SandboxSettings(port=0, seed=3, accounts=(f"{KEY}:{SECRET}:50000",), history_days=0.1)
    async with Sandbox(settings) as sb, aiohttp.ClientSession() as session:
        client = RestServer(sb.context, sb.rest_url, session)

        async def has_book() -> bool:
            r = await client.request("GET", "/fapi/v1/ticker/bookTicker", {"symbol": BTC})
            return r.status == 200

        await eventually(has_book, timeout=10)
        r = await client.signed(
            "POST",
            "/fapi/v1/order",
            {
                "symbol": BTC,
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.010",
                "newOrderRespType": "RESULT",
            },
        )
        assert r.status == 200 and r.body["status"] == "FILLED", r.text
        pos = await client.signed("GET", "/fapi/v3/positionRisk", {"symbol": BTC})
        assert pos.body[0]["positionAmt"] == "0.010"
        server_time = (await client.request("GET", "/fapi/v1/time")).body["serverTime"]
        assert abs(server_time - time.time() * 1000) < 5000
