"""listenKey REST endpoints and the user-data stream over real loopback: every private URL form, events after
REST orders, listenKeyExpired, and the user-data faults."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.ws_helpers import collect_until, listen_key, next_json, running, signed

pytestmark = pytest.mark.timeout(60)


async def test_listen_key_lifecycle() -> None:
    async with running() as (sb, http):
        status, body = await listen_key(http, sb, "POST")
        assert status == 200 and len(body["listenKey"]) == 64
        key = body["listenKey"]
        assert (await listen_key(http, sb, "POST"))[1] == {"listenKey": key}  # same key while valid
        assert await listen_key(http, sb, "PUT") == (200, {"listenKey": key})
        assert await listen_key(http, sb, "DELETE") == (200, {})
        status, body = await listen_key(http, sb, "PUT")
        assert status == 400 and body == {"code": -1125, "msg": "This listenKey does not exist."}
        status, body = await listen_key(http, sb, "DELETE")
        assert status == 400 and body["code"] == -1125
        assert (await listen_key(http, sb, "POST"))[1]["listenKey"] != key  # a new one after delete


async def test_listen_key_needs_a_known_api_key() -> None:
    async with running() as (sb, http):
        status, body = await listen_key(http, sb, "POST", api_key="")
        assert status == 401 and body["code"] == -2014
        status, body = await listen_key(http, sb, "POST", api_key="A" * 64)
        assert status == 401 and body["code"] == -2015


async def test_listen_key_expires_and_is_announced() -> None:
    # 30 s of exchange time at 20x: 1.5 s of wall time
    async with running(faults="listenkey_ttl=30s") as (sb, http):
        key = (await listen_key(http, sb))[1]["listenKey"]
        async with http.ws_connect(f"{sb.ws_url}/private/ws/{key}") as ws:
            frame = await next_json(ws, within=15)
            assert (
                frame["e"] == "listenKeyExpired" and frame["listenKey"] == key and isinstance(frame["E"], int)
            )
            status, body = await listen_key(http, sb, "PUT")
            assert status == 400 and body["code"] == -1125
            assert not ws.closed  # Binance announces the expiry; the connection itself stays up


def _market_order(qty: str = "0.010", side: str = "BUY") -> dict[str, Any]:
    return {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty}


async def _order_flow(
    http: aiohttp.ClientSession, sb: Any, ws: aiohttp.ClientWebSocketResponse, unwrap: Any
) -> list[dict[str, Any]]:
    status, body = await signed(http, sb, "POST", "/fapi/v1/order", _market_order())
    assert status == 200, body
    frames = await collect_until(
        ws,
        lambda f: (
            any(unwrap(x).get("e") == "ORDER_TRADE_UPDATE" and unwrap(x)["o"]["X"] == "FILLED" for x in f)
            and any(unwrap(x).get("e") == "ACCOUNT_UPDATE" for x in f)
        ),
    )
    return [unwrap(x) for x in frames]


async def test_order_events_on_private_ws_listen_key_path() -> None:
    async with running() as (sb, http):
        key = (await listen_key(http, sb))[1]["listenKey"]
        async with http.ws_connect(f"{sb.ws_url}/private/ws/{key}") as ws:
            events = await _order_flow(http, sb, ws, lambda x: x)
        orders = [e for e in events if e["e"] == "ORDER_TRADE_UPDATE"]
        assert orders[0]["o"]["x"] == "NEW" and orders[0]["o"]["X"] == "NEW"
        filled = [e["o"] for e in orders if e["o"]["x"] == "TRADE"]
        assert filled and filled[-1]["X"] == "FILLED" and filled[-1]["z"] == "0.010"
        for o in filled:
            assert o["s"] == "BTCUSDT" and o["S"] == "BUY" and o["o"] == "MARKET" and o["N"] == "USDT"
            assert isinstance(o["i"], int) and isinstance(o["t"], int) and isinstance(o["L"], str)
            assert float(o["L"]) > 0 and float(o["n"]) > 0 and o["m"] is False
        account = next(e for e in events if e["e"] == "ACCOUNT_UPDATE")
        assert account["a"]["m"] == "ORDER"
        position = next(p for p in account["a"]["P"] if p["s"] == "BTCUSDT")
        assert position["pa"] == "0.010" and float(position["ep"]) > 0
        assert account["a"]["B"][0]["a"] == "USDT"


async def test_private_stream_with_subscribe_like_the_official_sdk() -> None:
    async with running() as (sb, http):
        key = (await listen_key(http, sb))[1]["listenKey"]
        async with http.ws_connect(f"{sb.ws_url}/private/stream") as ws:
            await ws.send_str(f'{{"method":"SUBSCRIBE","params":["{key}"],"id":"9f1c"}}')
            assert await next_json(ws) == {"result": None, "id": "9f1c"}
            status, body = await signed(http, sb, "POST", "/fapi/v1/order", _market_order())
            assert status == 200, body
            frame = await next_json(ws)
            assert frame["stream"] == key and frame["data"]["e"] == "ORDER_TRADE_UPDATE"


async def test_events_filter_and_algo_updates() -> None:
    async with running() as (sb, http):
        key = (await listen_key(http, sb))[1]["listenKey"]
        url = f"{sb.ws_url}/private/ws?listenKey={key}&events=ALGO_UPDATE/ORDER_TRADE_UPDATE"
        async with http.ws_connect(url) as ws:
            await _order_flow_without_account(http, sb, ws)
            status, price = 0, None
            async with http.get(f"{sb.rest_url}/fapi/v1/ticker/price?symbol=BTCUSDT") as resp:
                status, price = resp.status, (await resp.json())["price"]
            assert status == 200
            trigger = f"{float(price) * 0.5:.1f}"  # far below: never triggers during the test
            status, algo = await signed(
                http,
                sb,
                "POST",
                "/fapi/v1/algoOrder",
                {
                    "algoType": "CONDITIONAL",
                    "symbol": "BTCUSDT",
                    "side": "SELL",
                    "type": "STOP_MARKET",
                    "triggerPrice": trigger,
                    "quantity": "0.010",
                    "reduceOnly": "true",
                    "clientAlgoId": "sl-1",
                },
            )
            assert status == 200, algo
            new = await collect_until(ws, lambda f: any(x["e"] == "ALGO_UPDATE" for x in f))
            o = next(x for x in new if x["e"] == "ALGO_UPDATE")["o"]
            assert (o["caid"], o["X"], o["o"], o["tp"], o["at"], o["R"]) == (
                "sl-1",
                "NEW",
                "STOP_MARKET",
                trigger,
                "CONDITIONAL",
                True,
            )
            assert isinstance(o["aid"], int)
            status, body = await signed(http, sb, "DELETE", "/fapi/v1/algoOrder", {"clientAlgoId": "sl-1"})
            assert status == 200, body
            canceled = await collect_until(ws, lambda f: any(x["e"] == "ALGO_UPDATE" for x in f))
            assert next(x for x in canceled if x["e"] == "ALGO_UPDATE")["o"]["X"] == "CANCELED"
            assert all(x["e"] != "ACCOUNT_UPDATE" for x in new + canceled)  # filtered out


async def _order_flow_without_account(
    http: aiohttp.ClientSession, sb: Any, ws: aiohttp.ClientWebSocketResponse
) -> None:
    status, body = await signed(http, sb, "POST", "/fapi/v1/order", _market_order())
    assert status == 200, body
    frames = await collect_until(ws, lambda f: any(x["o"]["X"] == "FILLED" for x in f))
    assert {x["e"] for x in frames} == {"ORDER_TRADE_UPDATE"}


async def test_user_dup_fault_sends_every_event_twice() -> None:
    async with running(faults="user_dup=1") as (sb, http):
        key = (await listen_key(http, sb))[1]["listenKey"]
        async with http.ws_connect(f"{sb.ws_url}/private/ws/{key}") as ws:
            events = await _order_flow(http, sb, ws, lambda x: x)
            events += await collect_until(ws, lambda f: len(f) >= 1)
        assert events[0] == events[1]  # the NEW order update, twice
        assert events[0]["e"] == "ORDER_TRADE_UPDATE" and events[0]["o"]["x"] == "NEW"


async def test_user_drop_fault_drops_events_but_not_the_order() -> None:
    async with running(faults="user_drop=1") as (sb, http):
        key = (await listen_key(http, sb))[1]["listenKey"]
        async with http.ws_connect(f"{sb.ws_url}/private/ws/{key}") as ws:
            status, body = await signed(
                http, sb, "POST", "/fapi/v1/order", {**_market_order(), "newOrderRespType": "RESULT"}
            )
            assert status == 200 and body["status"] == "FILLED"
            # the order is done (its events were produced before the answer); none reached the stream
            await ws.send_str('{"method":"LIST_SUBSCRIPTIONS","id":1}')
            assert await next_json(ws) == {"result": [key], "id": 1}


async def test_deleting_the_listen_key_closes_its_stream() -> None:
    async with running() as (sb, http):
        key = (await listen_key(http, sb))[1]["listenKey"]
        async with http.ws_connect(f"{sb.ws_url}/private/ws/{key}") as ws:
            assert await listen_key(http, sb, "DELETE") == (200, {})
            msg = await ws.receive(timeout=10)
            assert msg.type is aiohttp.WSMsgType.CLOSE and msg.data == 1000
