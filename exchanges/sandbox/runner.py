"""Sandbox: wires clock, market, exchange core and server together, and drives the market loop.

``async with Sandbox(settings) as sb:`` starts the aiohttp server on ``settings.host:settings.port``
(port 0 picks a free one) and a supervised market-loop task. Each step of the loop reads the exchange
clock, takes the market events that are due, applies them to the core in order, publishes market
frames, advances the core's timers and delivers the user-data events. A failure of the loop is logged
and closes every WebSocket with 1011: :meth:`Sandbox.run_forever` and leaving the ``async with`` block
then raise :class:`SandboxFailedError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from aiohttp import web

from core.clock import ScaledClock
from core.config import SandboxSettings
from core.types import BookTicker, MarkPrice, Trade
from exchanges.sandbox.engine.exchange import ExchangeCore
from exchanges.sandbox.engine.filters import default_instruments
from exchanges.sandbox.faults import Faults
from exchanges.sandbox.market.replay import FundingSettlement, MarketReplay
from exchanges.sandbox.server.app import HUB_KEY, WS_SERVER_KEY, create_app
from exchanges.sandbox.server.context import SandboxContext
from exchanges.sandbox.server.hub import Hub
from exchanges.sandbox.server.listen_keys import ListenKeyRegistry
from exchanges.sandbox.server.publisher import MarketPublisher
from exchanges.sandbox.server.ratelimit import RateLimiter
from exchanges.sandbox.server.ticker_stats import TickerStats
from exchanges.sandbox.server.user_stream import UserPublisher
from exchanges.sandbox.server.ws import WsSettings

__all__ = ["Sandbox", "SandboxFailedError"]

log = logging.getLogger("sandbox")

_STEP_S = 0.005  # wall time between market-loop steps: small enough for smooth streams, cheap when idle
_CLOSE_WAIT_S = 3.0
_READY_WAIT_S = 10.0
_INTERNAL_ERROR = 1011


class SandboxFailedError(RuntimeError):
    """The market loop died; the sandbox stopped serving. The cause is chained."""


class Sandbox:
    """The embedded Binance-compatible USDⓈ-M exchange, served over HTTP and WebSocket on loopback."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self._context: SandboxContext | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._app: web.Application | None = None
        self._loop_task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None
        self._failed = asyncio.Event()
        self._ready = asyncio.Event()  # every symbol has a book: MARKET orders can fill
        self._port = 0
        specs = settings.account_specs()
        self._accounts = [(s.api_key, s.api_secret.reveal(), s.balance) for s in specs]

    # --- what clients need ------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return self._port

    @property
    def rest_url(self) -> str:
        return f"http://{self._url_host()}:{self._port}"

    @property
    def ws_url(self) -> str:
        """Base WebSocket URL; streams live under ``/public``, ``/market`` and ``/private``."""
        return f"ws://{self._url_host()}:{self._port}"

    @property
    def context(self) -> SandboxContext:
        if self._context is None:
            raise RuntimeError("the sandbox is not started")
        return self._context

    @property
    def demo_credentials(self) -> tuple[str, str]:
        """``(api_key, api_secret)`` of the first account (the demo account unless accounts were given)."""
        key, secret, _ = self._accounts[0]
        return key, secret

    @property
    def accounts(self) -> Sequence[tuple[str, str]]:
        return [(k, s) for k, s, _ in self._accounts]

    @property
    def failure(self) -> BaseException | None:
        return self._failure

    def _url_host(self) -> str:
        host = self.settings.host
        return f"[{host}]" if ":" in host else host

    # --- lifecycle ----------------------------------------------------------------------------------------

    def _build_context(self) -> SandboxContext:
        s = self.settings
        clock = ScaledClock(speed=s.speed)
        wanted = {sym.upper() for sym in s.symbols}
        instruments = [i for i in default_instruments() if i.symbol in wanted]
        missing = wanted - {i.symbol for i in instruments}
        if missing:
            raise ValueError(f"sandbox: no instrument definition for {', '.join(sorted(missing))}")
        faults = Faults(s.fault_config(), s.seed)
        if faults.config.clock_skew_ms:
            clock.set_skew(faults.config.clock_skew_ms)
        market = MarketReplay(
            {i.symbol: i for i in instruments},
            clock,
            data_paths=[Path(p) for p in s.data],
            seed=s.seed,
            history_days=s.history_days,
        )
        core = ExchangeCore(
            instruments, clock, profiles={sym: market.profile(sym) for sym in market.symbols}, seed=s.seed
        )
        for key, secret, balance in self._accounts:
            core.add_account(key, secret, balance)
        limiter = RateLimiter(
            weight_limit=s.rate_limit_weight_1m,
            orders_10s_limit=s.rate_limit_orders_10s,
            orders_1m_limit=s.rate_limit_orders_1m,
            speed=s.speed,
        )
        listen_keys = ListenKeyRegistry(clock, ttl_seconds=lambda: faults.config.listenkey_ttl)
        return SandboxContext(
            core=core,
            market=market,
            clock=clock,
            faults=faults,
            rate_limiter=limiter,
            listen_keys=listen_keys,
        )

    async def start(self) -> None:
        """Build everything, bind the server and start the market loop."""
        s = self.settings
        ctx = self._context = self._build_context()
        ws_settings = WsSettings(
            ping_interval=s.ws_ping_interval,
            pong_timeout=s.ws_pong_timeout,
            max_connection_seconds=s.max_connection_hours * 3600.0,
        )
        app = self._app = create_app(ctx, ws_settings=ws_settings)
        self._runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=_CLOSE_WAIT_S
        )
        await self._runner.setup()
        # Bind the socket ourselves so the real port is known when 0 (a free port) was asked for.
        sock = socket.create_server(
            (s.host, s.port), family=socket.AF_INET6 if ":" in s.host else socket.AF_INET
        )
        self._port = sock.getsockname()[1]
        self._site = web.SockSite(self._runner, sock)
        await self._site.start()
        self._loop_task = asyncio.create_task(self._market_loop(ctx, app), name="sandbox-market-loop")
        self._loop_task.add_done_callback(self._on_loop_done)
        # Binance always has a market: wait (bounded) for the first book of every symbol before serving
        # clients, so a MARKET order sent right after start does not meet an empty exchange.
        ready = asyncio.ensure_future(self._ready.wait())
        failed = asyncio.ensure_future(self._failed.wait())
        await asyncio.wait([ready, failed], timeout=_READY_WAIT_S, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        failed.cancel()
        if self._failure is not None:
            raise SandboxFailedError("the sandbox market loop failed at start") from self._failure
        if not self._ready.is_set():
            log.warning("sandbox: no market data yet after %.0fs; serving anyway", _READY_WAIT_S)
        log.info(
            "sandbox serving REST %s and WebSocket %s (%s)", self.rest_url, self.ws_url, ctx.market.describe()
        )

    def _on_loop_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("sandbox market loop failed; the sandbox stops", exc_info=exc)
            self._failure = exc
            self._failed.set()
            if self._app is not None:
                self._app[HUB_KEY].close_all(_INTERNAL_ERROR, "internal error")

    async def stop(self) -> None:
        """Orderly shutdown: stop the loop, close WebSockets with a close frame, stop the server."""
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop_task
            self._loop_task = None
        if self._app is not None:
            hub = self._app[HUB_KEY]
            self._app[WS_SERVER_KEY].shutdown()
            with contextlib.suppress(TimeoutError):  # the keepers send close frames; bounded wait
                await asyncio.wait_for(hub.idle.wait(), timeout=_CLOSE_WAIT_S)
            hub.abort_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            self._site = None

    async def __aenter__(self) -> Sandbox:
        try:
            await self.start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
        if exc is None and self._failure is not None:
            raise SandboxFailedError("the sandbox market loop failed") from self._failure

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or forever); :class:`SandboxFailedError` if the market loop dies."""
        waiters = [asyncio.ensure_future(self._failed.wait())]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
        if self._failure is not None:
            raise SandboxFailedError("the sandbox market loop failed") from self._failure

    # --- the market loop ------------------------------------------------------------------------------------

    async def _market_loop(self, ctx: SandboxContext, app: web.Application) -> None:
        hub = app[HUB_KEY]
        core, market, clock, faults = ctx.core, ctx.market, ctx.clock, ctx.faults
        markets = MarketPublisher(hub, core, market, tickers=TickerStats(market, core))
        users = UserPublisher(hub, ctx.listen_keys, faults)
        next_drop = 0.0
        pending_books = set(market.symbols)
        while True:
            now = clock.now_ms()
            for event in market.events_until(now):
                if isinstance(event, Trade):
                    core.on_trade(event)
                    markets.on_trade(event)
                elif isinstance(event, BookTicker):
                    core.on_book_ticker(event)
                    markets.on_book_ticker(event, now)
                elif isinstance(event, MarkPrice):
                    core.on_mark_price(event)
                    markets.on_mark_price(event)
                elif isinstance(event, FundingSettlement):
                    core.settle_funding(event.symbol, event.rate, event.ts)
            core.advance(now)
            markets.flush(now)
            users.publish(core.drain_events())
            users.expire(now)
            next_drop = self._drop_fault(hub, faults, next_drop)
            if pending_books:
                pending_books = {sym for sym in pending_books if core.book_ticker(sym) is None}
                if not pending_books:
                    self._ready.set()
            await asyncio.sleep(_STEP_S)

    @staticmethod
    def _drop_fault(hub: Hub, faults: Faults, next_drop: float) -> float:
        """``ws_drop_every``: abort every WebSocket each period of wall time (0 disables)."""
        period = faults.config.ws_drop_every
        if period <= 0:
            return 0.0
        now = time.monotonic()
        if next_drop == 0.0:
            return now + period
        if now >= next_drop:
            count = hub.abort_all()
            if count:
                log.info("fault ws_drop_every: dropped %d WebSocket connection(s)", count)
            return now + period
        return next_drop
