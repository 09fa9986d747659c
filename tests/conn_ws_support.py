"""Support for the connector stream tests: a tiny local WebSocket "exchange" (aiohttp) whose behaviour a test
controls (garbage frames, silence, a steady tape), and frame builders."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from decimal import Decimal

from aiohttp import WSMsgType, web

from core.types import Trade
from exchanges.binance.venues import Venue, venue_preset
from exchanges.sandbox.server.ws_codec import combined, encode_agg_trade


def trade(trade_id: int, symbol: str = "BTCUSDT") -> Trade:
    return Trade(
        symbol=symbol,
        trade_id=trade_id,
        price=Decimal("60000.1") + trade_id,
        qty=Decimal("0.001"),
        is_buyer_maker=trade_id % 2 == 1,
        ts=1_700_000_000_000 + trade_id,
    )


def agg_frame(trade_id: int, symbol: str = "BTCUSDT") -> bytes:
    return combined(f"{symbol.lower()}@aggTrade", encode_agg_trade(trade(trade_id, symbol)))


class LocalExchange:
    """An aiohttp WebSocket server on loopback. ``behaviour(ws, index)`` serves the index-th connection."""

    def __init__(
        self, behaviour: Callable[[web.WebSocketResponse, int], asyncio.Future[None] | object]
    ) -> None:
        self.behaviour = behaviour
        self.requests: list[str] = []  # path_qs of every WebSocket request
        self.received: list[str] = []  # text messages from clients
        self.open_connections = 0
        self.max_concurrent = 0
        self.port = 0

    @property
    def venue(self) -> Venue:
        return venue_preset("sandbox", f"http://127.0.0.1:{self.port}")

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        index = len(self.requests)
        self.requests.append(request.path_qs)
        self.open_connections += 1
        self.max_concurrent = max(self.max_concurrent, self.open_connections)
        reader = asyncio.create_task(self._read(ws))
        try:
            result = self.behaviour(ws, index)
            if asyncio.iscoroutine(result):
                await result
            await reader
        except (ConnectionResetError, RuntimeError):
            pass  # the client went away mid-send
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            self.open_connections -= 1
        return ws

    async def _read(self, ws: web.WebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is WSMsgType.TEXT:
                self.received.append(msg.data)


@asynccontextmanager
async def local_exchange(
    behaviour: Callable[[web.WebSocketResponse, int], object],
) -> AsyncIterator[LocalExchange]:
    ex = LocalExchange(behaviour)
    app = web.Application()
    for route in ("public", "market", "private"):
        app.router.add_get(f"/{route}/stream", ex._handle)
        app.router.add_get(f"/{route}/ws/{{key}}", ex._handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None)
    assert sockets
    ex.port = sockets[0].getsockname()[1]
    try:
        yield ex
    finally:
        await runner.cleanup()


class Tape:
    """A steady aggTrade tape shared by every connection (as an exchange publishes to all subscribers)."""

    def __init__(self, symbol: str = "BTCUSDT", period_s: float = 0.002) -> None:
        self.symbol = symbol
        self.period_s = period_s
        self.next_id = 1
        self.clients: set[web.WebSocketResponse] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="test-tape")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            frame = agg_frame(self.next_id, self.symbol)
            self.next_id += 1
            for ws in list(self.clients):
                if ws.closed:
                    self.clients.discard(ws)
                    continue
                with contextlib.suppress(ConnectionResetError, RuntimeError):
                    await ws.send_str(frame.decode())
            await asyncio.sleep(self.period_s)

    async def serve(self, ws: web.WebSocketResponse, index: int) -> None:
        self.clients.add(ws)
