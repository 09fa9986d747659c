"""One WebSocket connection that stays up: reconnects, watchdog, pings, paced control messages, renewal.

:class:`StreamConnection` owns one logical stream connection to a URL (read again at every connect, so a
caller can change it, e.g. a new listenKey). It:

- reconnects after any close or error, waiting a capped exponential backoff with jitter
  (:class:`~exchanges.binance.retry.RetryPolicy` delays; the attempt count resets once a connection delivered
  a frame);
- runs a watchdog: no frame for ``watchdog_s`` seconds ends the connection and reconnects. With
  ``probe_when_silent`` (user-data streams, which are legitimately quiet) it pings first and only reconnects
  if no pong comes back;
- lets websockets answer the server's pings and send its own every ``ping_interval`` seconds (a dead peer is
  detected within ``ping_interval + ping_timeout``);
- renews the connection before ``max_lifetime_s`` (Binance closes connections at 24 h): the new connection is
  opened first, the old one is read until it goes quiet (or at most ``handover_s``), then closed, so no frame
  is lost; frames received on both in the overlap are the caller's to deduplicate;
- paces the control messages it sends (Binance: at most 10 incoming messages per second per connection).

``on_message`` and ``on_open`` are synchronous callbacks run on the event loop: they must not block.
An exception they raise is logged with its traceback and the connection reads on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from core.logs import get_logger
from exchanges.binance.retry import RetryPolicy

__all__ = ["StreamConnection"]

log = get_logger("binance.ws")

_MAX_FRAME_BYTES = 4 * 1024 * 1024
_CLOSE_TIMEOUT_S = 2.0


class _Link:
    """One physical WebSocket and its reader task."""

    __slots__ = ("frames", "last_rx", "opened_at", "reader", "ws")

    def __init__(self, ws: ClientConnection, now: float) -> None:
        self.ws = ws
        self.opened_at = now
        self.last_rx = now
        self.frames = 0
        self.reader: asyncio.Task[None] | None = None


class StreamConnection:
    """A self-healing WebSocket client connection (see the module docstring)."""

    def __init__(
        self,
        name: str,
        url: Callable[[], str],
        on_message: Callable[[bytes], None],
        *,
        on_open: Callable[[bool], None] | None = None,
        watchdog_s: float = 30.0,
        probe_when_silent: bool = False,
        max_lifetime_s: float = 23.5 * 3600,
        handover_s: float = 2.0,
        retry: RetryPolicy | None = None,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 20.0,
        open_timeout: float = 10.0,
        max_messages_per_s: float = 5.0,
        seed: int = 0,
    ) -> None:
        self.name = name
        self._url = url
        self._on_message = on_message
        self._on_open = on_open
        self.watchdog_s = watchdog_s
        self.probe_when_silent = probe_when_silent
        self.max_lifetime_s = max_lifetime_s
        self.handover_s = handover_s
        self._retry = retry or RetryPolicy(max_attempts=1_000_000, base_delay=0.2, max_delay=10.0)
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._open_timeout = open_timeout
        self._send_gap_s = 1.0 / max_messages_per_s
        self._rng = random.Random(seed)
        self._task: asyncio.Task[None] | None = None
        self._link: _Link | None = None
        self._links: set[_Link] = set()
        self._wake = asyncio.Event()
        self._reconnect_requested = False
        self._send_lock = asyncio.Lock()
        self._next_send = 0.0
        self.opens = 0
        self.reconnects = 0  # connections re-established after a drop, silence or request
        self.renewals = 0  # planned handovers before the lifetime limit
        self.frames = 0

    @property
    def connected(self) -> bool:
        return self._link is not None

    def start(self) -> None:
        """Start connecting in the background (idempotent)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"ws-{self.name}")

    async def stop(self) -> None:
        """Close the connection and stop reconnecting."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for link in list(self._links):
            await self._close(link)

    def request_reconnect(self) -> None:
        """Close the current connection and connect again (e.g. the URL changed)."""
        self._reconnect_requested = True
        self._wake.set()

    async def send(self, text: str) -> bool:
        """Send a control message on the current connection, paced; False when not connected."""
        async with self._send_lock:
            loop = asyncio.get_running_loop()
            wait = self._next_send - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            link = self._link
            if link is None:
                return False
            self._next_send = loop.time() + self._send_gap_s
            try:
                await link.ws.send(text)
            except ConnectionClosed:
                return False
            return True

    # --- the connection loop --------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            attempt = 0
            link: _Link | None = None
            while True:
                if link is None:
                    link, attempt = await self._connect(attempt)
                    self._activate(link)
                reason = await self._supervise(link)
                if reason == "renew":
                    new = await self._renew(link)
                    if new is not None:
                        link = new
                        continue
                log.info("ws %s: %s, reconnecting", self.name, reason)
                self._link = None
                await self._close(link)
                attempt = 0 if link.frames else attempt
                link = None
                attempt += 1
                await asyncio.sleep(self._retry.delay(attempt, self._rng))
        finally:
            self._link = None

    async def _connect(self, attempt: int) -> tuple[_Link, int]:
        """Open a connection, retrying with backoff until it succeeds."""
        while True:
            link = await self._open()
            if link is not None:
                return link, attempt
            attempt += 1
            await asyncio.sleep(self._retry.delay(attempt, self._rng))

    async def _open(self) -> _Link | None:
        url = self._url()
        try:
            ws = await connect(
                url,
                open_timeout=self._open_timeout,
                ping_interval=self._ping_interval,
                ping_timeout=self._ping_timeout,
                close_timeout=_CLOSE_TIMEOUT_S,
                max_size=_MAX_FRAME_BYTES,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI, ConnectionClosed) as exc:
            log.warning("ws %s: connect failed: %s", self.name, exc)
            return None
        link = _Link(ws, asyncio.get_running_loop().time())
        self._links.add(link)
        return link

    def _activate(self, link: _Link) -> None:
        """Make ``link`` the current connection and start reading it."""
        self.opens += 1
        reconnect = self.opens > 1
        if reconnect:
            self.reconnects += 1
        self._link = link
        link.reader = asyncio.create_task(self._read(link), name=f"ws-{self.name}-read")
        self._notify_open(reconnect)

    def _notify_open(self, reconnect: bool) -> None:
        if self._on_open is None:
            return
        try:
            self._on_open(reconnect)
        except Exception:
            log.exception("ws %s: on_open callback failed", self.name)

    async def _read(self, link: _Link) -> None:
        loop = asyncio.get_running_loop()
        on_message = self._on_message
        with contextlib.suppress(ConnectionClosed):
            while True:
                frame = await link.ws.recv(decode=False)
                link.last_rx = loop.time()
                link.frames += 1
                self.frames += 1
                try:
                    on_message(frame if isinstance(frame, bytes) else bytes(frame))
                except Exception:
                    log.exception("ws %s: message callback failed", self.name)

    async def _supervise(self, link: _Link) -> str:
        """Wait until ``link`` must end; returns why: closed, silent, renew or requested."""
        loop = asyncio.get_running_loop()
        reader = link.reader
        assert reader is not None
        while True:
            if reader.done():
                return "closed"
            if self._reconnect_requested:
                self._reconnect_requested = False
                return "reconnect requested"
            now = loop.time()
            renew_at = link.opened_at + self.max_lifetime_s
            silent_at = link.last_rx + self.watchdog_s
            if now >= renew_at:
                return "renew"
            if now >= silent_at:
                if not self.probe_when_silent or not await self._probe(link):
                    return f"no frame for {self.watchdog_s:g}s"
                link.last_rx = loop.time()
                continue
            self._wake.clear()
            waker = asyncio.ensure_future(self._wake.wait())
            timeout = min(renew_at, silent_at) - now
            try:
                await asyncio.wait({reader, waker}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            finally:
                waker.cancel()

    async def _probe(self, link: _Link) -> bool:
        """Is a silent connection alive? (a pong within the ping timeout)"""
        try:
            pong = await link.ws.ping()
            await asyncio.wait_for(pong, timeout=self._ping_timeout or self.watchdog_s)
        except (ConnectionClosed, TimeoutError):
            return False
        return True

    async def _renew(self, old: _Link) -> _Link | None:
        """Planned handover: open the new link, drain the old one until quiet, then switch."""
        new = await self._open()
        if new is None:
            return None
        loop = asyncio.get_running_loop()
        quiet_s = min(0.25, self.handover_s)
        deadline = loop.time() + self.handover_s
        # The new link buffers its frames (websockets' receive queue, then TCP) until its reader starts.
        while loop.time() < deadline and old.reader is not None and not old.reader.done():
            idle = loop.time() - old.last_rx
            if idle >= quiet_s:
                break
            await asyncio.wait({old.reader}, timeout=min(quiet_s - idle, deadline - loop.time()))
        await self._close(old)
        self.renewals += 1
        self.opens += 1
        self._link = new
        new.reader = asyncio.create_task(self._read(new), name=f"ws-{self.name}-read")
        log.info("ws %s: connection renewed before its lifetime limit", self.name)
        return new

    async def _close(self, link: _Link) -> None:
        self._links.discard(link)
        reader = link.reader
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        elif reader is not None and not reader.cancelled() and reader.exception() is not None:
            log.warning("ws %s: reader failed: %r", self.name, reader.exception())
        try:
            await asyncio.wait_for(link.ws.close(), timeout=_CLOSE_TIMEOUT_S)
        except (TimeoutError, OSError, ConnectionClosed) as exc:
            # The peer is gone or unresponsive; the socket is released either way.
            log.debug("ws %s: close did not complete cleanly: %r", self.name, exc)
