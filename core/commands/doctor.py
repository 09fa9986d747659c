"""``python main.py doctor``: check a configured venue, one line per check, ``OK`` or ``FAIL`` with a reason.

Checks, in order (each bounded by ``--timeout`` seconds; a check whose prerequisite failed is a FAIL that says
so, it is not attempted):

1. ``REST reachable``: the client starts (session, clock offset, exchangeInfo rate limits) and ``GET
   /fapi/v1/ping`` answers; its round trip is shown.
2. ``clock offset``: venue time minus local time, measured with round-trip compensation. Signed requests are
   stamped with the venue's time either way; an offset beyond ``recvWindow`` is a FAIL (the local clock
   needs fixing: any drift between two measurements would get requests refused with -1021).
3. ``API key``: a signed ``GET /fapi/v3/account`` is answered.
4. ``permissions``: ``canTrade`` from ``GET /fapi/v1/accountConfig`` (falling back to
   ``GET /fapi/v2/account``; "unknown" when neither is served), and trading locks from
   ``GET /fapi/v1/apiTradingStatus`` (Binance's quantitative rules; "unknown" when not served). A key that may
   not trade, or a locked account, is a FAIL.
5. ``weight in use``: the request weight of the current minute, as the venue reports it in
   ``X-MBX-USED-WEIGHT-1M`` (through the rate budget), against the published limit; FAIL above our budget.
6. ``/public route``, ``/market route``: a bookTicker, and an aggTrade or markPrice@1s frame, arrive.
7. ``/private route`` and ``user stream``: a listenKey is created, the private connection opens on it, and a
   keepalive is answered.

Exit status: 0 when every check is OK, 1 otherwise, 2 for a settings error. Secrets are never printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable
from typing import TextIO, TypeVar

import msgspec

from core.commands.venue import VenueSession, add_venue_arguments, open_venue, settings_from_args
from core.config import ConfigError, Settings
from core.events import ReconcileRequest, UserEvent
from core.types import BookTicker, MarkPrice, Trade
from exchanges.adapter import MarketEvent
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.schemas import decode
from exchanges.binance.userstream import UserStream
from exchanges.errors import FatalError, VenueError

__all__ = ["Check", "add_arguments", "doctor", "run"]

T = TypeVar("T")
DEFAULT_TIMEOUT_S = 10.0
_WEIGHT_POOL = "REQUEST_WEIGHT_1M"


class Check(msgspec.Struct, frozen=True):
    """One line of the report."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'OK' if self.ok else 'FAIL':<4}  {self.name:<16} {self.detail}"


# --- wire schemas of the two permission endpoints (decoded here, at the edge) -------------------------------


class _AccountConfig(msgspec.Struct, frozen=True, rename="camel"):
    can_trade: bool | None = None


class _Indicator(msgspec.Struct, frozen=True, rename="camel"):
    indicator: str = ""
    is_locked: bool = False
    planned_recover_time: int | None = None


class _TradingStatus(msgspec.Struct, frozen=True):
    indicators: dict[str, list[_Indicator]] = {}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``doctor``: the venue, the per-check time limit and the symbol whose streams are tried."""
    add_venue_arguments(parser)
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"time limit of each check (default {DEFAULT_TIMEOUT_S:g})",
    )
    parser.add_argument(
        "--symbol", metavar="SYMBOL", help="symbol whose streams are checked (default: the first of symbols)"
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``main.py doctor``; returns the exit code."""
    try:
        settings = settings_from_args(args)
    except ConfigError as exc:
        print(f"casino doctor: {exc}", file=sys.stderr)
        return 2
    from core.logs import setup_logging

    # The report is the output; the connector's own INFO lines would only interleave with it.
    setup_logging(
        getattr(args, "log_level", None) or "WARNING", log_dir=None, session_id="doctor", json_file=False
    )
    symbol = (args.symbol or settings.symbols[0]).upper()
    try:
        return asyncio.run(doctor(settings, sys.stdout, limit_s=args.timeout, symbol=symbol))
    except KeyboardInterrupt:
        return 130
    except ValueError as exc:  # an unusable --url
        print(f"casino doctor: {exc}", file=sys.stderr)
        return 2


async def doctor(settings: Settings, out: TextIO, *, limit_s: float = DEFAULT_TIMEOUT_S, symbol: str) -> int:
    """Run every check against the venue ``settings`` name, printing a line each; returns the exit code."""
    listed = tuple(dict.fromkeys([*settings.symbols, symbol]))  # what an embedded sandbox must list
    async with open_venue(settings, out, sandbox_symbols=listed) as session:
        checks = await run_checks(session, limit_s=limit_s, symbol=symbol, report=lambda c: _print(out, c))
    failed = [c for c in checks if not c.ok]
    if failed:
        print(f"doctor: {len(failed)} of {len(checks)} checks failed", file=out, flush=True)
        return 1
    print(f"doctor: all {len(checks)} checks OK", file=out, flush=True)
    return 0


def _print(out: TextIO, check: Check) -> None:
    print(check.line(), file=out, flush=True)


async def run_checks(
    session: VenueSession, *, limit_s: float, symbol: str, report: Callable[[Check], None]
) -> list[Check]:
    """The checks of the module docstring, each reported as soon as it is decided."""
    adapter = session.adapter
    checks: list[Check] = []

    def add(name: str, ok: bool, detail: str) -> None:
        check = Check(name, ok, detail)
        checks.append(check)
        report(check)

    rest = await _rest_reachable(adapter, limit_s)
    add("REST reachable", *rest)
    if not rest[0]:
        for name in ("clock offset", "API key", "permissions", "weight in use", *_STREAM_CHECKS):
            add(name, False, "not checked: the REST API is unreachable")
        return checks
    add("clock offset", *_clock_offset(adapter))
    key = await _api_key(adapter, limit_s)
    add("API key", *key)
    if key[0]:
        add("permissions", *await _permissions(adapter, limit_s))
    else:
        add("permissions", False, "not checked: no valid API key")
    for name, ok, detail in await _streams(adapter, limit_s, symbol, has_key=adapter.client.has_credentials):
        add(name, ok, detail)
    add("weight in use", *_weight(adapter))  # last: it includes what the checks above used
    return checks


async def _bounded(call: Awaitable[T], limit_s: float) -> T:
    return await asyncio.wait_for(call, limit_s)


def _reason(exc: BaseException, limit_s: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {limit_s:g}s"
    return f"{type(exc).__name__}: {exc}"


async def _rest_reachable(adapter: BinanceAdapter, limit_s: float) -> tuple[bool, str]:
    try:
        await _bounded(adapter.start(), limit_s)
        started = time.perf_counter()
        await _bounded(adapter.client.request("GET", "/fapi/v1/ping"), limit_s)
        rtt_ms = (time.perf_counter() - started) * 1000.0
    except (VenueError, OSError, TimeoutError) as exc:
        return False, f"{adapter.venue.rest_url}: {_reason(exc, limit_s)}"
    pools = len(adapter.client.budget.rules)
    return True, f"ping {rtt_ms:.1f} ms; exchangeInfo rate limits loaded ({pools} pools)"


def _clock_offset(adapter: BinanceAdapter) -> tuple[bool, str]:
    sync = adapter.client.time_sync
    offset, rtt = sync.offset_ms, sync.round_trip_ms
    window = adapter.client.recv_window_ms
    detail = f"venue - local = {offset:+d} ms (best round trip {rtt if rtt is not None else '?'} ms)"
    if abs(offset) > window:
        return False, f"{detail}: beyond recvWindow {window} ms; fix the local clock (NTP)"
    return True, detail + "; requests are stamped with the venue's time"


async def _api_key(adapter: BinanceAdapter, limit_s: float) -> tuple[bool, str]:
    if not adapter.client.has_credentials:
        return False, "no API key configured: set CASINO_API_KEY and CASINO_API_SECRET (environment or .env)"
    try:
        account = await _bounded(adapter.account(), limit_s)
    except FatalError as exc:
        return False, f"refused: {exc.msg} (code {exc.code}, HTTP {exc.status})"
    except (VenueError, TimeoutError) as exc:
        return False, f"signed account call failed: {_reason(exc, limit_s)}"
    return True, f"valid: signed account call answered (wallet balance {account.wallet_balance:f})"


async def _permissions(adapter: BinanceAdapter, limit_s: float) -> tuple[bool, str]:
    client = adapter.client
    can_trade: bool | None = None
    source = ""
    for path in ("/fapi/v1/accountConfig", "/fapi/v2/account"):
        try:
            body = await _bounded(client.request("GET", path, signed=True), limit_s)
        except (VenueError, TimeoutError):
            continue  # optional endpoint (not served everywhere): try the next one
        can_trade = decode(body, _AccountConfig, strict=False).can_trade
        if can_trade is not None:
            source = path
            break
    locks: list[str] | None = None
    try:
        body = await _bounded(client.request("GET", "/fapi/v1/apiTradingStatus", signed=True), limit_s)
        status = decode(body, _TradingStatus, strict=False)
        locks = [
            f"{scope} {ind.indicator}"
            for scope, inds in status.indicators.items()
            for ind in inds
            if ind.is_locked
        ]
    except (VenueError, TimeoutError):
        locks = None
    trade_text = (
        "canTrade unknown" if can_trade is None else f"canTrade {'yes' if can_trade else 'no'} ({source})"
    )
    lock_text = (
        "trading locks unknown"
        if locks is None
        else ("no trading locks" if not locks else "trading locked: " + ", ".join(locks))
    )
    ok = can_trade is not False and not locks
    return ok, f"{trade_text}; {lock_text}"


def _weight(adapter: BinanceAdapter) -> tuple[bool, str]:
    budget = adapter.client.budget
    if budget.entries_halted():
        return False, f"IP banned (418) until {budget.banned_until_ms} ms"
    rules = {rule.name: rule for rule in budget.rules}
    usage = budget.usage()
    rule = rules.get(_WEIGHT_POOL)
    if rule is None:
        return False, "the venue publishes no REQUEST_WEIGHT per minute limit"
    share = usage[_WEIGHT_POOL]
    used = round(share * rule.limit)
    detail = f"{used} of {rule.limit} per minute ({share:.0%}; our budget {budget.budget:.0%})"
    if share >= budget.budget:
        return False, detail + ": above our budget, requests are being held back"
    return True, detail


_STREAM_CHECKS = ("/public route", "/market route", "/private route", "user stream")


async def _streams(
    adapter: BinanceAdapter, limit_s: float, symbol: str, *, has_key: bool
) -> list[tuple[str, bool, str]]:
    first: dict[str, tuple[str, float]] = {}
    opened: list[ReconcileRequest] = []
    progress = asyncio.Event()  # set whenever something arrives: the waiter re-evaluates
    started = time.perf_counter()

    def on_market(event: MarketEvent) -> None:
        kind = {BookTicker: "bookTicker", Trade: "aggTrade", MarkPrice: "markPrice@1s"}.get(type(event))
        if kind is not None and kind not in first:
            first[kind] = (event.symbol, (time.perf_counter() - started) * 1000.0)
            progress.set()

    def on_open(request: ReconcileRequest) -> None:
        opened.append(request)
        progress.set()

    def on_user(_event: UserEvent) -> None:
        return None  # doctor only needs the stream to open

    market = adapter.market_stream(on_market)
    market.subscribe([symbol], agg_trades=True, mark_price=True, book_ticker=True)
    await market.start()
    user = adapter.user_stream(on_user, on_open) if has_key else None
    user_error = ""
    if user is not None:
        try:
            await _bounded(user.start(), limit_s)
        except (VenueError, TimeoutError) as exc:
            user_error = f"listenKey not created: {_reason(exc, limit_s)}"

    def done() -> bool:
        market_ok = "bookTicker" in first and ("aggTrade" in first or "markPrice@1s" in first)
        return market_ok and (user is None or bool(user_error) or (user.connected and bool(opened)))

    deadline = time.monotonic() + limit_s
    while not done() and (left := deadline - time.monotonic()) > 0:
        progress.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(progress.wait(), left)
    results = [_public(first, symbol, limit_s), _market(first, symbol, limit_s)]
    results.extend(await _private(adapter, user, user_error, opened, limit_s))
    await market.stop()
    if user is not None:
        await user.stop()
    return results


def _public(first: dict[str, tuple[str, float]], symbol: str, limit_s: float) -> tuple[str, bool, str]:
    if "bookTicker" not in first:
        return "/public route", False, f"no {symbol} bookTicker within {limit_s:g}s"
    return "/public route", True, f"{symbol} bookTicker after {first['bookTicker'][1]:.0f} ms"


def _market(first: dict[str, tuple[str, float]], symbol: str, limit_s: float) -> tuple[str, bool, str]:
    got = [f"{kind} after {first[kind][1]:.0f} ms" for kind in ("aggTrade", "markPrice@1s") if kind in first]
    if not got:
        return "/market route", False, f"no {symbol} aggTrade or markPrice@1s within {limit_s:g}s"
    return "/market route", True, f"{symbol} " + ", ".join(got)


async def _private(
    adapter: BinanceAdapter,
    user: UserStream | None,
    user_error: str,
    opened: list[ReconcileRequest],
    limit_s: float,
) -> list[tuple[str, bool, str]]:
    if user is None:
        reason = "not checked: needs an API key"
        return [("/private route", False, reason), ("user stream", False, reason)]
    if user_error:
        return [("/private route", False, user_error), ("user stream", False, user_error)]
    if not (user.connected and opened):
        reason = f"listenKey created but the private connection did not open within {limit_s:g}s"
        return [("/private route", False, reason), ("user stream", False, "not open")]
    private = ("/private route", True, "connected on the listenKey stream")
    try:
        await _bounded(adapter.api.keepalive_listen_key(), limit_s)
    except (VenueError, TimeoutError) as exc:
        return [private, ("user stream", False, f"listenKey keepalive failed: {_reason(exc, limit_s)}")]
    return [private, ("user stream", True, "open; listenKey created and kept alive")]
