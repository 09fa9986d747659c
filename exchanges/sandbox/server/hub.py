"""Fan-out of encoded frames to WebSocket connections, by route and stream name.

Publishing never awaits: each connection has a bounded outbound queue drained by its own sender task. A
connection whose queue is full is a slow consumer: it is marked for closing and its keeper task closes it, so
one slow client never stalls the market loop or the other clients.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from typing import Protocol

from exchanges.sandbox.faults import Faults
from exchanges.sandbox.server.streams import Route
from exchanges.sandbox.server.ws_codec import combined

__all__ = ["MAX_STREAMS_PER_CONNECTION", "Connection", "Hub", "Transport"]

log = logging.getLogger("sandbox.ws")

MAX_STREAMS_PER_CONNECTION = 1024  # Binance: "A single connection can listen to a maximum of 1024 streams."
CLOSE_SLOW_CONSUMER = 1008


class Transport(Protocol):
    """The part of the socket's transport the hub needs: dropping it without a close frame."""

    def abort(self) -> None: ...


class Connection:
    """One client WebSocket: its route, mode, subscriptions and outbound queue (no socket I/O here)."""

    def __init__(
        self,
        conn_id: int,
        route: Route,
        *,
        combined_mode: bool,
        queue_size: int,
        transport: Transport | None = None,
        events: frozenset[str] | None = None,
    ) -> None:
        self.id = conn_id
        self.route = route
        self.combined = combined_mode
        self.events = events  # private route: event types this connection asked for (None = all)
        self.streams: dict[str, None] = {}  # insertion-ordered set, as LIST_SUBSCRIPTIONS lists them
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self.wake = asyncio.Event()
        self.close_request: tuple[int, str] | None = None
        self.abort_requested = False
        self.last_pong = 0.0  # monotonic seconds of the last pong (or ping) from the client
        self._transport = transport

    def offer(self, frame: bytes) -> bool:
        """Queue a frame without waiting; on overflow ask for the connection to be closed and return False."""
        if self.close_request is not None or self.abort_requested:
            return False
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            log.warning("ws connection %d: outbound queue full (slow consumer), closing it", self.id)
            self.request_close(CLOSE_SLOW_CONSUMER, "slow consumer")
            return False
        return True

    def send_stream(self, stream: str, payload: bytes) -> bool:
        return self.offer(combined(stream, payload) if self.combined else payload)

    def request_close(self, code: int, reason: str) -> None:
        """Ask the connection's keeper to close it with a close frame."""
        if self.close_request is None:
            self.close_request = (code, reason)
        self.wake.set()

    def abort(self) -> None:
        """Drop the TCP connection at once, without a close frame (fault injection: ``ws_drop_every``)."""
        self.abort_requested = True
        if self._transport is not None:
            self._transport.abort()
        self.wake.set()


class Hub:
    """Every open connection and, per (route, stream), the connections subscribed to it."""

    def __init__(self, faults: Faults, *, queue_size: int = 4096) -> None:
        self.faults = faults
        self.queue_size = queue_size
        self.connections: set[Connection] = set()
        self._index: dict[tuple[Route, str], set[Connection]] = {}
        self._next_id = 0
        self.idle = asyncio.Event()  # set while no connection is open (shutdown waits on it)
        self.idle.set()

    # --- membership -------------------------------------------------------------------------------------

    def open(
        self,
        route: Route,
        *,
        combined_mode: bool,
        transport: Transport | None = None,
        events: frozenset[str] | None = None,
    ) -> Connection:
        """Create and register a connection."""
        self._next_id += 1
        conn = Connection(
            self._next_id,
            route,
            combined_mode=combined_mode,
            queue_size=self.queue_size,
            transport=transport,
            events=events,
        )
        self.connections.add(conn)
        self.idle.clear()
        return conn

    def unregister(self, conn: Connection) -> None:
        self.connections.discard(conn)
        if not self.connections:
            self.idle.set()
        for name in list(conn.streams):
            self._drop(conn, name)
        conn.streams.clear()

    def subscribe(self, conn: Connection, names: Iterable[str]) -> bool:
        """Add streams to a connection; False (nothing added) beyond the per-connection limit."""
        new = [n for n in dict.fromkeys(names) if n not in conn.streams]
        if len(conn.streams) + len(new) > MAX_STREAMS_PER_CONNECTION:
            return False
        for name in new:
            conn.streams[name] = None
            self._index.setdefault((conn.route, name), set()).add(conn)
        return True

    def unsubscribe(self, conn: Connection, names: Iterable[str]) -> None:
        for name in names:
            if name in conn.streams:
                del conn.streams[name]
                self._drop(conn, name)

    def _drop(self, conn: Connection, name: str) -> None:
        subs = self._index.get((conn.route, name))
        if subs is not None:
            subs.discard(conn)
            if not subs:
                del self._index[(conn.route, name)]

    # --- queries ----------------------------------------------------------------------------------------

    def has_subscribers(self, route: Route, stream: str) -> bool:
        return (route, stream) in self._index

    def streams_of(self, route: Route) -> Iterator[str]:
        """Stream names with at least one subscriber on ``route``."""
        return (name for (r, name) in list(self._index) if r is route)

    # --- publishing -------------------------------------------------------------------------------------

    def publish(self, route: Route, stream: str, payload: bytes) -> int:
        """Send a market frame to the stream's subscribers on ``route``; returns how many got it.

        The ``drop_frames`` fault drops each (connection, frame) independently.
        """
        subs = self._index.get((route, stream))
        if not subs:
            return 0
        p = self.faults.config.drop_frames
        sent = 0
        for conn in list(subs):
            if p > 0.0 and self.faults.roll(p):
                continue
            sent += conn.send_stream(stream, payload)
        return sent

    def publish_user(self, listen_key: str, event_type: str, payload: bytes) -> int:
        """Send a user-data event to every private connection listening on ``listen_key``."""
        subs = self._index.get((Route.PRIVATE, listen_key))
        if not subs:
            return 0
        sent = 0
        for conn in list(subs):
            if conn.events is None or event_type in conn.events:
                sent += conn.send_stream(listen_key, payload)
        return sent

    def close_all(self, code: int, reason: str) -> None:
        for conn in list(self.connections):
            conn.request_close(code, reason)

    def abort_all(self) -> int:
        conns = list(self.connections)
        for conn in conns:
            conn.abort()
        return len(conns)
