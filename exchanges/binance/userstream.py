"""The user-data stream: listenKey lifecycle, decoded account events, and reconciliation on any gap.

:class:`UserStream` creates a listenKey (``POST /fapi/v1/listenKey``), connects to
``<private route>/ws/<listenKey>`` (Binance's documented private path, served by the sandbox too), keeps the
key alive every ``keepalive_s`` (``PUT``; Binance: keys live 60 minutes, keep alive every 30) and recreates it
when the venue says it is gone: ``-1125`` on a keepalive, or a ``listenKeyExpired`` frame. After a recreation
the connection is re-established on the new key.

Keepalives are scheduled in the injected clock's time, the venue's: a key lives 60 minutes of *exchange*
time, so against a sandbox replaying at N× the wall-clock interval is ``keepalive_s / N``. Each one is due
``keepalive_s`` after the previous one in clock time (a deadline, not a fixed wall sleep).

Frames become :class:`~core.events.OrderUpdate`, :class:`~core.events.AccountUpdate` and
:class:`~core.events.AlgoUpdate` through ``on_event``. Whenever events may have been missed — the stream
(re)opened, the key expired or was recreated, a frame could not be decoded — ``on_reconcile`` receives a
:class:`~core.events.ReconcileRequest`: the state layer must then re-read the venue's REST truth. The first
open also asks for one, which closes the window between the caller's REST snapshot and the subscription.

Both callbacks run synchronously on the event loop and must not block; an exception they raise is logged with
its traceback and the stream goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from typing import Protocol

import msgspec

from core.clock import Clock
from core.events import ReconcileRequest, UserEvent
from core.logs import get_logger
from exchanges.binance.connection import StreamConnection
from exchanges.binance.retry import RetryPolicy
from exchanges.binance.streams import MalformedLog
from exchanges.binance.venues import Venue
from exchanges.binance.ws_schemas import FrameDecodeError
from exchanges.binance.ws_user_schemas import ListenKeyExpired, UserFrameDecoder
from exchanges.errors import VenueError

__all__ = ["LISTEN_KEY_DOES_NOT_EXIST", "ListenKeyApi", "UserStream", "UserStreamStats"]

log = get_logger("binance.userstream")

LISTEN_KEY_DOES_NOT_EXIST = -1125
_KEEPALIVE_RETRY_MS = 60_000.0  # clock time before a failed keepalive is tried again


class ListenKeyApi(Protocol):
    """The listenKey calls of the REST API (``BinanceRestApi`` satisfies it)."""

    async def create_listen_key(self) -> str: ...

    async def keepalive_listen_key(self) -> None: ...

    async def delete_listen_key(self) -> None: ...


class UserStreamStats(msgspec.Struct):
    messages: int = 0  # user events delivered
    reconnects: int = 0
    malformed: int = 0  # undecodable or unknown frames
    ignored: int = 0  # known event types the connector does not use (TRADE_LITE...)
    recreated: int = 0  # listenKeys recreated after expiry / -1125
    keepalives: int = 0  # successful keepalives
    reconciles: int = 0  # ReconcileRequests emitted


class UserStream:
    """Account events from the venue's user-data stream (see the module docstring).

    ``keepalive_s`` is in seconds of ``clock``'s time (exchange time; ``None`` or 0: no keepalives);
    ``watchdog_s`` and ``max_lifetime_s`` are wall seconds (they guard the connection, not the key).
    """

    def __init__(
        self,
        venue: Venue,
        clock: Clock,
        listen_keys: ListenKeyApi,
        *,
        on_event: Callable[[UserEvent], None],
        on_reconcile: Callable[[ReconcileRequest], None],
        keepalive_s: float | None = 1800.0,
        watchdog_s: float = 120.0,
        max_lifetime_s: float = 23.5 * 3600,
        retry: RetryPolicy | None = None,
        seed: int = 0,
    ) -> None:
        self.venue = venue
        self._clock = clock
        self._api = listen_keys
        self._on_event = on_event
        self._on_reconcile = on_reconcile
        self._keepalive_s = keepalive_s
        self._watchdog_s = watchdog_s
        self._max_lifetime_s = max_lifetime_s
        self._retry = retry or RetryPolicy(max_attempts=1_000_000, base_delay=0.5, max_delay=30.0)
        self._rng = random.Random(seed)
        self._seed = seed
        self._decoder = UserFrameDecoder()
        self._malformed = MalformedLog("binance.userstream")
        self._key: str | None = None
        self._conn: StreamConnection | None = None
        self._keepalive_task: asyncio.Task[None] | None = None
        self._recreate_task: asyncio.Task[None] | None = None
        self._verify_task: asyncio.Task[None] | None = None
        self._gap_reason = ""  # why the next open follows a gap (consumed by _on_open)
        self._messages = 0
        self._ignored = 0
        self._recreated = 0
        self._keepalives = 0
        self._reconciles = 0

    @property
    def listen_key(self) -> str | None:
        return self._key

    @property
    def connected(self) -> bool:
        return self._conn is not None and self._conn.connected

    @property
    def stats(self) -> UserStreamStats:
        return UserStreamStats(
            messages=self._messages,
            reconnects=0 if self._conn is None else self._conn.reconnects,
            malformed=self._malformed.count,
            ignored=self._ignored,
            recreated=self._recreated,
            keepalives=self._keepalives,
            reconciles=self._reconciles,
        )

    async def start(self) -> None:
        """Create the listenKey (raises the REST error if that fails) and start the stream and keepalives."""
        self._key = await self._api.create_listen_key()
        self._conn = StreamConnection(
            "private",
            self._url,
            self._on_frame,
            on_open=self._on_open,
            watchdog_s=self._watchdog_s,
            probe_when_silent=True,  # a quiet account is normal: ping before declaring the stream dead
            max_lifetime_s=self._max_lifetime_s,
            seed=self._seed,
        )
        self._conn.start()
        if self._keepalive_s:
            self._keepalive_task = asyncio.create_task(self._keepalive_loop(), name="userstream-keepalive")

    async def stop(self, *, delete_key: bool = False) -> None:
        """Stop the stream; with ``delete_key`` also invalidate the listenKey on the venue."""
        for task in (self._keepalive_task, self._recreate_task, self._verify_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._keepalive_task = self._recreate_task = self._verify_task = None
        if self._conn is not None:
            await self._conn.stop()
        if delete_key and self._key is not None:
            try:
                await self._api.delete_listen_key()
            except VenueError as exc:
                log.warning("could not delete the listenKey: %s", exc)

    # --- listenKey lifecycle --------------------------------------------------------------------------------

    def _url(self) -> str:
        return f"{self.venue.ws_private}/ws/{self._key}"

    async def _keepalive_loop(self) -> None:
        assert self._keepalive_s
        interval_ms = self._keepalive_s * 1000
        # A failed keepalive is tried again soon, well before the key's 60 minutes run out.
        retry_ms = min(interval_ms, _KEEPALIVE_RETRY_MS)
        due_ms = self._clock.now_ms() + interval_ms
        while True:
            await asyncio.sleep(self._clock.wall_seconds(max(0.0, due_ms - self._clock.now_ms())))
            due_ms = self._clock.now_ms() + interval_ms
            try:
                await self._api.keepalive_listen_key()
                self._keepalives += 1
            except VenueError as exc:
                if exc.code == LISTEN_KEY_DOES_NOT_EXIST:
                    self._recreate("listenKey does not exist (-1125)")
                else:
                    log.warning("listenKey keepalive failed: %s", exc)
                    due_ms = self._clock.now_ms() + retry_ms
            except Exception as exc:  # not a venue answer (a bug or a local failure): same, but say so
                log.warning("listenKey keepalive failed unexpectedly: %r", exc)
                due_ms = self._clock.now_ms() + retry_ms

    def _recreate(self, reason: str) -> None:
        """Get a new listenKey and reconnect on it (one recreation at a time)."""
        if self._recreate_task is not None and not self._recreate_task.done():
            return
        log.warning("user stream: %s; recreating the listenKey", reason)
        self._gap_reason = reason
        self._recreate_task = asyncio.create_task(self._recreate_key(), name="userstream-recreate")

    async def _recreate_key(self) -> None:
        attempt = 0
        while True:
            try:
                key = await self._api.create_listen_key()
                break
            except Exception as exc:  # any failure: keep trying, the stream is useless without a key
                attempt += 1
                log.warning("listenKey creation failed (attempt %d): %s", attempt, exc)
                await asyncio.sleep(self._retry.delay(attempt, self._rng))
        self._key = key
        self._recreated += 1
        if self._conn is not None:
            self._conn.request_reconnect()

    # --- frames ---------------------------------------------------------------------------------------------

    def _on_open(self, reconnect: bool) -> None:
        reason = self._gap_reason or ("reconnect" if reconnect else "stream opened")
        recreated = bool(self._gap_reason)
        self._gap_reason = ""
        self._reconcile(reason)
        if reconnect and not recreated and self._verify_task is None:
            # The key may have expired while we were away (its listenKeyExpired frame lost with the
            # connection): a keepalive tells at once, instead of at the next scheduled one.
            self._verify_task = asyncio.create_task(self._verify_key(), name="userstream-verify")

    async def _verify_key(self) -> None:
        try:
            await self._api.keepalive_listen_key()
            self._keepalives += 1
        except VenueError as exc:
            if exc.code == LISTEN_KEY_DOES_NOT_EXIST:
                self._recreate("listenKey does not exist (-1125)")
            else:
                log.warning("listenKey check after reconnect failed: %s", exc)
        except Exception as exc:  # not a venue answer: the scheduled keepalive will try again
            log.warning("listenKey check after reconnect failed unexpectedly: %r", exc)
        finally:
            self._verify_task = None

    def _reconcile(self, reason: str) -> None:
        self._reconciles += 1
        try:
            self._on_reconcile(ReconcileRequest(ts=self._clock.now_ms(), reason=reason))
        except Exception:
            log.exception("on_reconcile callback failed")

    def _on_frame(self, frame: bytes) -> None:
        try:
            item = self._decoder.decode(frame)
        except FrameDecodeError as exc:
            self._malformed.record("user stream", exc)
            # Whatever that frame said is lost to us: the state must be re-read.
            self._reconcile(f"undecodable user event ({exc.kind})")
            return
        if item is None:
            self._ignored += 1
            return
        if isinstance(item, ListenKeyExpired):
            if item.listen_key and item.listen_key != self._key:
                return  # an older key's announcement; the current one is unaffected
            self._recreate("listenKeyExpired")
            return
        self._messages += 1
        try:
            self._on_event(item)
        except Exception:
            log.exception("on_event callback failed for %s", type(item).__name__)
