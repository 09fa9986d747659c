"""The sandbox's WebSocket endpoints, routed as Binance USDⓈ-M serves them since March 2026.

Routes (``<route>`` is ``public``, ``market`` or ``private``):
- ``/<route>/ws/<stream>[/<stream>...]``: raw payloads; ``/<route>/ws``: raw, then SUBSCRIBE;
- ``/<route>/stream?streams=a/b``: combined frames ``{"stream": name, "data": payload}``;
- private: ``/private/ws/<listenKey>``, ``/private/ws?listenKey=<k>&events=A/B``,
  ``/private/stream?listenKey=<k>&events=...`` (combined, the stream name is the listenKey), and
  ``/private/stream`` + ``SUBSCRIBE [<listenKey>]`` as Binance's official SDK does. ``events`` filters
  the event types delivered; without it every event is delivered.
- Legacy unrouted ``/ws/...`` and ``/stream?...`` are served for older clients and behave like ``/public``
  (Binance: "a connection with no routed path only receives /public data").

Every connection: server ping every ``ping_interval`` s, disconnected when no pong for ``pong_timeout``
s (unsolicited pongs count), client pings answered, closed after ``max_connection_seconds``; more than
10 incoming messages per second closes it, and so does a full outbound queue (slow consumer).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import WSMsgType, web

from exchanges.sandbox.server.hub import Connection, Hub
from exchanges.sandbox.server.streams import Route
from exchanges.sandbox.server.ws_control import MessageRate, handle_control

__all__ = ["CLOSE_LIFETIME", "CLOSE_PONG_TIMEOUT", "CLOSE_TOO_MANY_MESSAGES", "WsServer", "WsSettings"]

log = logging.getLogger("sandbox.ws")

CLOSE_LIFETIME = 1000
CLOSE_PONG_TIMEOUT = 1008
CLOSE_TOO_MANY_MESSAGES = 1008
_SHUTDOWN = 1001


@dataclass(frozen=True, slots=True)
class WsSettings:
    """Connection policy; defaults are Binance's (ping every 3 min, pong within 10 min, 24 h, 10 msg/s)."""

    ping_interval: float = 180.0
    pong_timeout: float = 600.0
    max_connection_seconds: float = 24 * 3600.0
    max_incoming_per_second: int = 10


def _split(value: str) -> list[str]:
    return [part for chunk in value.split("/") for part in chunk.split(",") if part]


class WsServer:
    """aiohttp handlers for every WebSocket route; frames come from the :class:`Hub`."""

    def __init__(self, hub: Hub, settings: WsSettings | None = None) -> None:
        self.hub = hub
        self.settings = settings or WsSettings()

    def add_routes(self, app: web.Application) -> None:
        for prefix, route in (
            ("/public", Route.PUBLIC),
            ("/market", Route.MARKET),
            ("/private", Route.PRIVATE),
            ("", Route.PUBLIC),
        ):
            app.router.add_get(f"{prefix}/ws", self._handler(route, combined=False))
            app.router.add_get(prefix + "/ws/{streams:.+}", self._handler(route, combined=False))
            app.router.add_get(f"{prefix}/stream", self._handler(route, combined=True))

    def _handler(
        self, route: Route, *, combined: bool
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self.serve(request, route, combined=combined)

        return handle

    def _initial_streams(self, request: web.Request, route: Route) -> tuple[list[str], frozenset[str] | None]:
        path_streams = _split(request.match_info.get("streams", ""))
        query = request.query
        if route is Route.PRIVATE:
            keys = path_streams + _split(query.get("listenKey", "")) + _split(query.get("streams", ""))
            events = frozenset(_split(query["events"])) if query.get("events") else None
            return keys, events
        return path_streams + _split(query.get("streams", "")), None

    async def serve(self, request: web.Request, route: Route, *, combined: bool) -> web.StreamResponse:
        """Run one client connection until it closes (either side) or the server drops it."""
        streams, events = self._initial_streams(request, route)
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=64 * 1024)
        await ws.prepare(request)
        conn = self.hub.open(route, combined_mode=combined, transport=request.transport, events=events)
        if not self.hub.subscribe(conn, streams):
            self.hub.unregister(conn)
            await ws.close(code=1008, message=b"too many streams")
            return ws
        sender = asyncio.create_task(self._send_loop(conn, ws), name=f"ws-send-{conn.id}")
        keeper = asyncio.create_task(self._keep(conn, ws), name=f"ws-keep-{conn.id}")
        try:
            await self._read_loop(conn, ws)
        finally:
            self.hub.unregister(conn)
            for task in (sender, keeper):
                task.cancel()
            for task in (sender, keeper):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        return ws

    async def _read_loop(self, conn: Connection, ws: web.WebSocketResponse) -> None:
        rate = MessageRate(self.settings.max_incoming_per_second)
        async for msg in ws:
            now = time.monotonic()
            # Pongs answer our own pings, so they are not counted against the client.
            counted = msg.type in (WSMsgType.TEXT, WSMsgType.BINARY, WSMsgType.PING)
            if counted and not rate.hit(now):
                log.info(
                    "ws connection %d: more than %d messages per second, disconnecting", conn.id, rate.limit
                )
                conn.request_close(CLOSE_TOO_MANY_MESSAGES, "Too many messages")
                continue
            if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                conn.offer(handle_control(self.hub, conn, msg.data))
            elif msg.type is WSMsgType.PING:
                conn.last_pong = now  # a client that pings is alive as well
                await ws.pong(msg.data)
            elif msg.type is WSMsgType.PONG:
                conn.last_pong = now
            elif msg.type is WSMsgType.ERROR:
                log.info("ws connection %d: %s", conn.id, ws.exception())

    async def _send_loop(self, conn: Connection, ws: web.WebSocketResponse) -> None:
        while True:
            frame = await conn.queue.get()
            try:
                await ws.send_frame(frame, WSMsgType.TEXT)
            except (ConnectionResetError, RuntimeError):  # the peer is gone; the reader cleans up
                return

    async def _keep(self, conn: Connection, ws: web.WebSocketResponse) -> None:
        """Pings, pong deadline, lifetime, and closes asked for by others (slow consumer, rate, shutdown)."""
        s = self.settings
        opened = time.monotonic()
        conn.last_pong = opened
        next_ping = opened + s.ping_interval
        end_of_life = opened + s.max_connection_seconds
        while not ws.closed:
            now = time.monotonic()
            deadline = min(next_ping, end_of_life, conn.last_pong + s.pong_timeout)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(conn.wake.wait(), timeout=max(0.0, deadline - now))
            conn.wake.clear()
            if conn.abort_requested:
                return
            now = time.monotonic()
            if conn.close_request is None:
                if now >= end_of_life:
                    conn.request_close(CLOSE_LIFETIME, "connection lifetime exceeded")
                elif now - conn.last_pong >= s.pong_timeout:
                    log.info("ws connection %d: no pong for %.1fs, disconnecting", conn.id, s.pong_timeout)
                    conn.request_close(CLOSE_PONG_TIMEOUT, "pong timeout")
            if conn.close_request is not None:
                await self._close(conn, ws)
                return
            if now >= next_ping:
                next_ping = now + s.ping_interval
                try:
                    await ws.ping()
                except (ConnectionResetError, RuntimeError):
                    return

    async def _close(self, conn: Connection, ws: web.WebSocketResponse) -> None:
        code, reason = conn.close_request or (_SHUTDOWN, "")
        with contextlib.suppress(Exception):
            # Bounded: a client that never answers the close frame must not hold the keeper forever.
            await asyncio.wait_for(ws.close(code=code, message=reason.encode()), timeout=2.0)

    def shutdown(self) -> None:
        """Ask every connection to close with a close frame (server going away)."""
        self.hub.close_all(_SHUTDOWN, "server shutdown")
