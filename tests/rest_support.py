"""Test support for the REST server: a real server on loopback and a small signing client.

The server is the real thing (ExchangeCore, the app with its middlewares, a real socket); only the
market loop is left out so tests set prices on the core themselves and stay deterministic.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec
from aiohttp import web
from yarl import URL

from core.clock import ScaledClock
from core.types import BookTicker, MarkPrice, Trade
from exchanges.sandbox.engine.exchange import ExchangeCore
from exchanges.sandbox.engine.filters import default_instruments
from exchanges.sandbox.faults import Faults
from exchanges.sandbox.server.app import create_app
from exchanges.sandbox.server.context import SandboxContext
from exchanges.sandbox.server.listen_keys import ListenKeyRegistry
from exchanges.sandbox.server.ratelimit import RateLimiter

KEY = "restTestKey0001"
SECRET = "restTestSecret0001"
OTHER_KEY = "restTestKey0002"
OTHER_SECRET = "restTestSecret0002"
BALANCE = Decimal(100000)


def hmac_hex(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


@dataclass
class Reply:
    status: int
    body: Any
    headers: Mapping[str, str]
    text: str

    @property
    def code(self) -> int | None:
        return self.body.get("code") if isinstance(self.body, dict) else None


def _market(ctx_clock: ScaledClock, instruments: list[Any]) -> Any:
    """The real MarketReplay when it can be built; None while it is unavailable (market tests skip)."""
    from exchanges.sandbox.market.replay import MarketReplay

    try:
        return MarketReplay({i.symbol: i for i in instruments}, ctx_clock, seed=7, history_days=1.0)
    except RuntimeError:
        return None


def build_context(
    *, limiter: RateLimiter | None = None, with_market: bool = True, minute_start: bool = False
) -> SandboxContext:
    """A context with the real core; ``minute_start`` starts the clock 1 s into a fresh minute, so
    rate-limit windows cannot roll over in the middle of a short test."""
    start = None
    if minute_start:
        start = (time.time_ns() // 1_000_000 // 60_000 + 1) * 60_000 + 1_000
    clock = ScaledClock(start_ms=start)
    instruments = list(default_instruments())
    instruments = [i for i in instruments if i.symbol in ("BTCUSDT", "ETHUSDT")]
    core = ExchangeCore(instruments, clock, seed=7)
    core.add_account(KEY, SECRET, BALANCE)
    core.add_account(OTHER_KEY, OTHER_SECRET, BALANCE)
    faults = Faults(seed=7)
    return SandboxContext(
        core=core,
        market=_market(clock, instruments) if with_market else None,  # type: ignore[arg-type]
        clock=clock,
        faults=faults,
        rate_limiter=limiter or RateLimiter(),
        listen_keys=ListenKeyRegistry(clock),
    )


class RestServer:
    """A running server plus a client that signs like a Binance connector does."""

    def __init__(self, ctx: SandboxContext, url: str, session: aiohttp.ClientSession) -> None:
        self.ctx = ctx
        self.url = url
        self.session = session
        self._trade_id = 0

    def set_price(self, symbol: str, price: Decimal | str, spread: Decimal | str = "0.1") -> None:
        """Feed the core a touch, a mark price and a trade at ``price``."""
        px, half = Decimal(price), Decimal(spread)
        now = self.ctx.clock.now_ms()
        core = self.ctx.core
        core.on_book_ticker(
            BookTicker(
                symbol=symbol,
                bid_price=px - half,
                bid_qty=Decimal(5),
                ask_price=px + half,
                ask_qty=Decimal(5),
                ts=now,
                update_id=now,
            )
        )
        core.on_mark_price(
            MarkPrice(
                symbol=symbol,
                mark_price=px,
                index_price=px,
                funding_rate=Decimal("0.0001"),
                next_funding_time=now + 3_600_000,
                ts=now,
            )
        )
        self.trade(symbol, px)

    def trade(self, symbol: str, price: Decimal | str, qty: str = "0.5") -> None:
        self._trade_id += 1
        self.ctx.core.on_trade(
            Trade(
                symbol=symbol,
                trade_id=self._trade_id,
                price=Decimal(price),
                qty=Decimal(qty),
                is_buyer_maker=False,
                ts=self.ctx.clock.now_ms(),
            )
        )

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, object] | None = None,
        *,
        signed: bool = False,
        in_body: bool = False,
        key: str | None = KEY,
        secret: str = SECRET,
        timestamp: int | None = None,
        raw_query: str | None = None,
        raw_body: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send a request; with ``signed`` the timestamp and signature are added like clients do."""
        fields = dict(params or {})
        if signed:
            fields.setdefault("timestamp", timestamp if timestamp is not None else self.ctx.clock.now_ms())
        text = urlencode({k: str(v) for k, v in fields.items()})
        if signed:
            text = (
                f"{text}&signature={hmac_hex(secret, text)}" if text else f"signature={hmac_hex(secret, '')}"
            )
        query, body = ("", text) if in_body else (text, "")
        if raw_query is not None:
            query = raw_query
        send_headers = dict(headers or {})
        if key is not None and (signed or "X-MBX-APIKEY" not in send_headers):
            send_headers["X-MBX-APIKEY"] = key
        data: bytes | str | None = raw_body if raw_body is not None else (body or None)
        if data is not None:
            send_headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        url = f"{self.url}{path}" + (f"?{query}" if query else "")
        # encoded=True: send the query exactly as signed (yarl would otherwise re-quote %2C to ",").
        async with self.session.request(
            method, URL(url, encoded=True), data=data, headers=send_headers
        ) as resp:
            raw = await resp.read()
            try:
                decoded = msgspec.json.decode(raw)
            except msgspec.DecodeError:
                decoded = None
            return Reply(resp.status, decoded, dict(resp.headers), raw.decode(errors="replace"))

    async def signed(
        self, method: str, path: str, params: Mapping[str, object] | None = None, **kw: Any
    ) -> Reply:
        return await self.request(method, path, params, signed=True, **kw)


async def serve(ctx: SandboxContext) -> AsyncIterator[RestServer]:
    """Serve ``ctx`` with the real app on 127.0.0.1 (free port) for the duration of a test."""
    app = create_app(ctx)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        try:
            yield RestServer(ctx, f"http://127.0.0.1:{port}", session)
        finally:
            await runner.cleanup()
