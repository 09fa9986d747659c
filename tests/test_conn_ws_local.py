"""MarketStreams and StreamConnection against a tiny local WebSocket server: garbage frames, a silent peer,
routing and per-connection limits, live SUBSCRIBE, planned renewal, clean stop."""

from __future__ import annotations

import asyncio
import json
import urllib.parse

from aiohttp import web

from core.clock import LiveClock
from core.types import BookTicker, Candle, MarkPrice, Trade
from exchanges.binance.connection import StreamConnection
from exchanges.binance.streams import MarketStreams
from tests.conn_ws_support import Tape, agg_frame, local_exchange
from tests.helpers import eventually

Event = Trade | MarkPrice | BookTicker | Candle

GARBAGE = [
    "not json",
    '{"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade", "a": "x"}}',
    '{"stream": "btcusdt@forceOrder", "data": {"e": "forceOrder", "o": {}}}',
    "[]",
    '{"stream": "btcusdt@aggTrade", "data": ',
    "\u0000\u0001",
]


async def test_malformed_frames_are_counted_and_the_stream_survives() -> None:
    async def serve(ws: web.WebSocketResponse, index: int) -> None:
        for i in range(1, 61):
            await ws.send_str(agg_frame(i).decode())
            if i % 10 == 0:
                await ws.send_str(GARBAGE[(i // 10) % len(GARBAGE)])
        await ws.send_str('{"result": null, "id": 1}')  # a control answer is neither data nor garbage

    async with local_exchange(serve) as ex:
        got: list[Event] = []
        streams = MarketStreams(ex.venue, LiveClock(), on_event=got.append, watchdog_s=30)
        streams.subscribe(["BTCUSDT"], mark_price=False)
        await streams.start()
        await eventually(lambda: len(got) == 60, timeout=10, message="60 trades")
        await eventually(lambda: streams.stats.malformed == 6, timeout=5, message="6 malformed frames")
        stats = streams.stats
        await streams.stop()
    assert [e.trade_id for e in got if isinstance(e, Trade)] == list(range(1, 61))
    assert stats.messages == 60 and stats.reconnects == 0 and stats.gaps_left == 0


async def test_watchdog_reconnects_a_silent_stream() -> None:
    async def serve(ws: web.WebSocketResponse, index: int) -> None:
        base = index * 100
        for i in range(1, 4):
            await ws.send_str(agg_frame(base + i).decode())
        # then silence, with the socket open and answering pings: only the watchdog can notice

    async with local_exchange(serve) as ex:
        got: list[Event] = []
        streams = MarketStreams(ex.venue, LiveClock(), on_event=got.append, watchdog_s=0.4)
        streams.subscribe(["BTCUSDT"], mark_price=False)
        await streams.start()
        await eventually(lambda: len(ex.requests) >= 3, timeout=10, message="two watchdog reconnects")
        await eventually(lambda: streams.stats.reconnects >= 2, timeout=5)
        await streams.stop()
    # Every connection's first trades arrived; the jumps between connections are gaps (no REST here).
    ids = [e.trade_id for e in got if isinstance(e, Trade)]
    assert ids[:6] == [1, 2, 3, 101, 102, 103]


async def test_routes_combined_urls_and_per_connection_limit() -> None:
    async def serve(ws: web.WebSocketResponse, index: int) -> None:
        return None

    async with local_exchange(serve) as ex:
        streams = MarketStreams(
            ex.venue, LiveClock(), on_event=lambda e: None, max_streams_per_connection=3, watchdog_s=30
        )
        streams.subscribe(["BTCUSDT", "ETHUSDT"], book_ticker=True, klines=["1m"])
        await streams.start()
        await eventually(lambda: len(ex.requests) == 3, timeout=10, message="three connections")
        await eventually(lambda: streams.connected, timeout=5)
        requests = sorted(ex.requests)
        await streams.stop()
    parsed = [urllib.parse.urlsplit(r) for r in requests]
    by_route: dict[str, list[str]] = {}
    for p in parsed:
        assert p.path.endswith("/stream")
        by_route.setdefault(p.path, []).extend(urllib.parse.parse_qs(p.query)["streams"][0].split("/"))
    assert sorted(by_route["/market/stream"]) == sorted(
        f"{s}@{k}" for s in ("btcusdt", "ethusdt") for k in ("aggTrade", "markPrice@1s", "kline_1m")
    )
    assert sorted(by_route["/public/stream"]) == ["btcusdt@bookTicker", "ethusdt@bookTicker"]
    assert all(len(urllib.parse.parse_qs(p.query)["streams"][0].split("/")) <= 3 for p in parsed)


async def test_subscribe_while_running_sends_subscribe_and_keeps_it_on_reconnect() -> None:
    async def serve(ws: web.WebSocketResponse, index: int) -> None:
        return None

    async with local_exchange(serve) as ex:
        streams = MarketStreams(ex.venue, LiveClock(), on_event=lambda e: None, watchdog_s=0.5)
        streams.subscribe(["BTCUSDT"], mark_price=False)
        await streams.start()
        await eventually(lambda: streams.connected, timeout=5)
        streams.subscribe(["ETHUSDT"], mark_price=False)
        await eventually(lambda: bool(ex.received), timeout=5, message="a SUBSCRIBE message")
        message = json.loads(ex.received[0])
        # The silent server makes the watchdog reconnect: the URL now carries both streams.
        await eventually(lambda: len(ex.requests) >= 2, timeout=5)
        await streams.stop()
    assert message["method"] == "SUBSCRIBE" and message["params"] == ["ethusdt@aggTrade"]
    assert isinstance(message["id"], int)
    assert "btcusdt@aggTrade/ethusdt@aggTrade" in urllib.parse.unquote(ex.requests[1])


async def test_planned_renewal_overlaps_without_gap_or_duplicate() -> None:
    tape = Tape(period_s=0.002)
    async with local_exchange(tape.serve) as ex:
        tape.start()
        got: list[Event] = []
        streams = MarketStreams(ex.venue, LiveClock(), on_event=got.append, watchdog_s=5, max_lifetime_s=0.6)
        streams.subscribe(["BTCUSDT"], mark_price=False)
        await streams.start()
        await eventually(lambda: streams.stats.renewals >= 1, timeout=10, message="a renewal")
        stats = streams.stats
        await streams.stop()
        await tape.stop()
    ids = [e.trade_id for e in got if isinstance(e, Trade)]
    assert ex.max_concurrent >= 2  # the new connection was open before the old one closed
    assert stats.reconnects == 0 and stats.gaps_left == 0
    assert ids == list(range(ids[0], ids[0] + len(ids))) and len(ids) > 100


async def test_stop_cancels_every_task() -> None:
    async def serve(ws: web.WebSocketResponse, index: int) -> None:
        for i in range(1, 5):
            await ws.send_str(agg_frame(i).decode())

    async with local_exchange(serve) as ex:
        streams = MarketStreams(ex.venue, LiveClock(), on_event=lambda e: None)
        streams.subscribe(["BTCUSDT", "ETHUSDT"], book_ticker=True)
        await streams.start()
        await eventually(lambda: streams.connected, timeout=5)
        await streams.stop()
        assert not streams.connected
    left = [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(("ws-", "backfill-"))]
    assert left == []


async def test_connection_backs_off_while_the_venue_is_down() -> None:
    frames: list[bytes] = []
    conn = StreamConnection("down", lambda: "ws://127.0.0.1:9/market/stream?streams=x", frames.append)
    conn.start()
    await asyncio.sleep(0.5)  # let it fail a few times: the port refuses connections
    assert not conn.connected and conn.opens == 0
    await conn.stop()
    assert not [t for t in asyncio.all_tasks() if t.get_name() == "ws-down"]


async def test_callback_exceptions_do_not_end_the_stream() -> None:
    async def serve(ws: web.WebSocketResponse, index: int) -> None:
        for i in range(1, 11):
            await ws.send_str(agg_frame(i).decode())

    seen: list[int] = []

    def flaky(event: Event) -> None:
        assert isinstance(event, Trade)
        seen.append(event.trade_id)
        if event.trade_id % 3 == 0:
            raise RuntimeError("consumer bug")

    async with local_exchange(serve) as ex:
        streams = MarketStreams(ex.venue, LiveClock(), on_event=flaky)
        streams.subscribe(["BTCUSDT"], mark_price=False)
        await streams.start()
        await eventually(lambda: len(seen) == 10, timeout=5)
        await streams.stop()
    assert seen == list(range(1, 11))
