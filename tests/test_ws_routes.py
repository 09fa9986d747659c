"""WebSocket routes over real loopback: routed raw/combined/SUBSCRIBE modes, wrong routes, control messages,
ping/pong, connection lifetime, message rate, and the ws_drop_every fault."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from exchanges.sandbox.runner import Sandbox, SandboxFailedError
from tests.helpers import eventually
from tests.ws_helpers import collect_until, next_json, running, settings, wait_closed

pytestmark = pytest.mark.timeout(60)


async def test_raw_stream_on_market_route() -> None:
    async with running() as (sb, http), http.ws_connect(f"{sb.ws_url}/market/ws/btcusdt@aggTrade") as ws:
        frames = await collect_until(ws, lambda f: len(f) >= 3)
        for f in frames:
            assert f["e"] == "aggTrade" and f["s"] == "BTCUSDT"
            assert isinstance(f["p"], str) and isinstance(f["a"], int) and isinstance(f["m"], bool)
        ids = [f["a"] for f in frames]
        assert ids == sorted(ids) and len(set(ids)) == len(ids)


async def test_combined_streams_on_public_route() -> None:
    url = "/public/stream?streams=btcusdt@bookTicker/btcusdt@depth5@100ms"
    async with running() as (sb, http), http.ws_connect(sb.ws_url + url) as ws:
        frames = await collect_until(
            ws, lambda f: {x["stream"] for x in f} >= {"btcusdt@bookTicker", "btcusdt@depth5@100ms"}
        )
        for f in frames:
            if f["stream"] == "btcusdt@bookTicker":
                assert f["data"]["e"] == "bookTicker"
                assert float(f["data"]["b"]) < float(f["data"]["a"])
            else:
                assert f["data"]["e"] == "depthUpdate" and 0 < len(f["data"]["b"]) <= 5


async def test_subscribe_list_and_unsubscribe_on_market_route() -> None:
    async with running() as (sb, http), http.ws_connect(f"{sb.ws_url}/market/ws") as ws:
        await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@markPrice@1s"], "id": 1}))
        frames = await collect_until(ws, lambda f: any(x.get("e") == "markPriceUpdate" for x in f))
        assert frames[0] == {"result": None, "id": 1}
        mark = next(x for x in frames if x.get("e") == "markPriceUpdate")
        assert mark["s"] == "BTCUSDT" and isinstance(mark["r"], str) and isinstance(mark["T"], int)
        await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":3}')
        answer = await collect_until(ws, lambda f: bool(f) and f[-1].get("id") == 3)
        assert answer[-1] == {"result": ["btcusdt@markPrice@1s"], "id": 3}
        await ws.send_str('{"method":"UNSUBSCRIBE","params":["btcusdt@markPrice@1s"],"id":4}')
        await collect_until(ws, lambda f: bool(f) and f[-1].get("id") == 4)
        assert await _nothing_before_answer(ws)


async def test_a_stream_on_the_wrong_route_delivers_nothing() -> None:
    async with running() as (sb, http):
        right = await http.ws_connect(f"{sb.ws_url}/market/ws/btcusdt@aggTrade")
        wrong_public = await http.ws_connect(f"{sb.ws_url}/public/ws/btcusdt@aggTrade")
        wrong_market = await http.ws_connect(f"{sb.ws_url}/market/ws/btcusdt@bookTicker")
        legacy_market = await http.ws_connect(
            f"{sb.ws_url}/ws/btcusdt@aggTrade"
        )  # legacy root = /public only
        legacy_public = await http.ws_connect(f"{sb.ws_url}/ws/btcusdt@bookTicker")
        await collect_until(right, lambda f: len(f) >= 5)
        await collect_until(legacy_public, lambda f: len(f) >= 5)
        for ws in (wrong_public, wrong_market, legacy_market):
            assert await _nothing_before_answer(ws)  # silently quiet, not an error
        for ws in (right, wrong_public, wrong_market, legacy_market, legacy_public):
            await ws.close()


async def test_bad_frames_are_answered_and_the_connection_survives() -> None:
    async with running() as (sb, http), http.ws_connect(f"{sb.ws_url}/public/ws") as ws:
        await ws.send_str("{not json")
        assert (await next_json(ws))["error"]["code"] == 3
        await ws.send_str('{"method":"FOO","id":7}')
        assert await next_json(ws) == {
            "error": {
                "code": 2,
                "msg": (
                    "Invalid request: unknown variant FOO, expected one of SUBSCRIBE, UNSUBSCRIBE, "
                    "LIST_SUBSCRIPTIONS, SET_PROPERTY, GET_PROPERTY"
                ),
            },
            "id": 7,
        }
        await ws.send_str('{"method":"SET_PROPERTY","params":["combined",true],"id":8}')
        assert await next_json(ws) == {"result": None, "id": 8}
        await ws.send_str('{"method":"SUBSCRIBE","params":["btcusdt@bookTicker"],"id":9}')
        frames = await collect_until(ws, lambda f: any("stream" in x for x in f))
        assert frames[0] == {"result": None, "id": 9}
        assert next(x for x in frames if "stream" in x)["stream"] == "btcusdt@bookTicker"  # combined now


async def test_more_than_ten_messages_per_second_disconnects() -> None:
    async with running() as (sb, http), http.ws_connect(f"{sb.ws_url}/public/ws") as ws:
        for i in range(15):
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": i}))
        closing = await wait_closed(ws)
        assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1008


async def test_server_pings_and_drops_a_silent_client() -> None:
    async with running(ws_ping_interval=0.1, ws_pong_timeout=0.5) as (sb, http):
        silent = await http.ws_connect(f"{sb.ws_url}/market/ws", autoping=False)
        alive = await http.ws_connect(f"{sb.ws_url}/market/ws", autoping=False)
        pings = 0
        while pings < 10:  # 10 pings = 1 s, twice the pong timeout: the answering client must survive
            msg = await alive.receive(timeout=5)
            assert msg.type is aiohttp.WSMsgType.PING, msg
            pings += 1
            await alive.pong(msg.data)
        assert not alive.closed
        closing = await wait_closed(silent, within=5)  # it never answered: dropped
        assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
        await alive.ping(b"hi")
        msg = await alive.receive(timeout=5)
        while msg.type is aiohttp.WSMsgType.PING:
            msg = await alive.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.PONG and msg.data == b"hi"  # client pings are answered
        await alive.close()


async def test_connection_lifetime_is_limited() -> None:
    async with running(max_connection_hours=0.5 / 3600) as (sb, http):
        ws = await http.ws_connect(f"{sb.ws_url}/public/ws/btcusdt@bookTicker")
        closing = await wait_closed(ws, within=10)
        assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1000


async def test_ws_drop_every_fault_drops_connections_abruptly() -> None:
    async with running(faults="ws_drop_every=300ms") as (sb, http):
        ws = await http.ws_connect(f"{sb.ws_url}/public/ws/btcusdt@bookTicker")
        closing = await wait_closed(ws, within=10)
        assert closing.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
        assert ws.close_code != 1000  # no orderly close frame
        # the sandbox keeps serving new connections
        async with http.ws_connect(f"{sb.ws_url}/public/ws/btcusdt@bookTicker") as again:
            assert (await next_json(again))["e"] == "bookTicker"


async def test_drop_frames_fault_drops_everything_at_probability_one() -> None:
    async with running(faults="drop_frames=1") as (sb, http):
        ws = await http.ws_connect(f"{sb.ws_url}/market/ws/btcusdt@aggTrade")
        start = sb.context.clock.now_ms()

        async def traded_since_start() -> bool:
            url = f"{sb.rest_url}/fapi/v1/aggTrades?symbol=BTCUSDT&startTime={start}&limit=5"
            async with http.get(url) as resp:
                return resp.status == 200 and len(await resp.json()) >= 3

        await eventually(traded_since_start, message="trades after the connection opened")
        assert await _nothing_before_answer(ws)  # the market moved, but no frame got through
        await ws.close()


async def _nothing_before_answer(ws: aiohttp.ClientWebSocketResponse) -> bool:
    """True when the next frame is the answer to a LIST_SUBSCRIPTIONS sent now.

    Frames reach a connection in the order they are queued, so nothing published before the answer was
    queued for this connection.
    """
    await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":424242}')
    first = await next_json(ws)
    return first.get("id") == 424242 and "result" in first


async def test_shutdown_closes_websockets_with_a_close_frame() -> None:
    async with running() as (sb, http):
        ws = await http.ws_connect(f"{sb.ws_url}/public/ws/btcusdt@bookTicker")
        await next_json(ws)
        await sb.stop()
        closing = await wait_closed(ws)
        assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1001


async def test_kline_and_all_market_mark_price_streams() -> None:
    url = "/market/stream?streams=btcusdt@kline_1m/!markPrice@arr@1s"
    async with running(speed=60.0) as (sb, http), http.ws_connect(sb.ws_url + url) as ws:
        frames = await collect_until(
            ws, lambda f: {x["stream"] for x in f} >= {"btcusdt@kline_1m", "!markPrice@arr@1s"}
        )
        kline = next(x["data"] for x in frames if x["stream"] == "btcusdt@kline_1m")
        assert kline["e"] == "kline" and kline["k"]["i"] == "1m" and kline["k"]["s"] == "BTCUSDT"
        assert kline["k"]["T"] - kline["k"]["t"] == 59_999 and isinstance(kline["k"]["x"], bool)
        assert float(kline["k"]["l"]) <= float(kline["k"]["c"]) <= float(kline["k"]["h"])
        marks = next(x["data"] for x in frames if x["stream"] == "!markPrice@arr@1s")
        assert [m["s"] for m in marks] == ["BTCUSDT"] and marks[0]["e"] == "markPriceUpdate"


async def test_a_market_loop_failure_surfaces_instead_of_freezing() -> None:
    sandbox = Sandbox(settings())
    await sandbox.start()
    try:
        async with aiohttp.ClientSession() as http:
            ws = await http.ws_connect(f"{sandbox.ws_url}/public/ws/btcusdt@bookTicker")

            def boom(*_: object) -> None:
                raise ValueError("engine bug")

            sandbox.context.core.on_book_ticker = boom  # type: ignore[method-assign,assignment]
            with pytest.raises(SandboxFailedError) as failed:
                await asyncio.wait_for(sandbox.run_forever(), timeout=10)
            assert isinstance(failed.value.__cause__, ValueError)
            closing = await wait_closed(ws)
            assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 1011
    finally:
        await sandbox.stop()
