"""Building a session's parts from the settings: checks, the venue, the clock, the player, account facts.

Pure functions and factories the :class:`core.session.Session` composes; nothing here keeps state.

- :func:`refusal`: why a session must not start (``--venue live`` without explicit confirmation).
- :func:`session_settings`: the settings a paper session really runs with (the embedded sandbox lists the
  traded symbols, replays the data directory when it holds data, and runs at ``session.paper_speed``).
- :func:`open_session_venue`: the adapter and its clock: the embedded sandbox's own clock; for an external
  sandbox a clock anchored on the sandbox's server time (so the session's "now" is the sandbox's now, not
  minutes behind it); the wall clock for Binance.
- :func:`account_facts`: the account's own figures for the report's cross-check (wallet, income sums).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TextIO

import aiohttp
import msgspec

from core.clock import Clock, LiveClock, ScaledClock
from core.commands.venue import VenueSession
from core.config import Settings
from core.logs import get_logger
from core.player import AdaptivePlayer
from core.report.model import AccountFacts
from core.secrets import Secret
from core.types import Income, Instrument
from exchanges.binance.adapter import BinanceAdapter
from sensors.base import SensorSpec

__all__ = [
    "SessionStartError",
    "account_facts",
    "build_player",
    "data_paths",
    "open_session_venue",
    "pick_instruments",
    "refusal",
    "server_clock",
    "session_settings",
    "wall_floors",
]

log = get_logger("session")

_DATA_SUFFIXES = (".csv", ".csv.gz", ".zip", ".gz")


class SessionStartError(RuntimeError):
    """The session cannot start: fix what the message names (settings, venue, data) and start again."""


def refusal(settings: Settings) -> str | None:
    """Why a session with ``settings`` must not start, or ``None`` when it may."""
    if settings.venue == "live":
        if not (settings.api_key and settings.api_secret):
            return (
                "refusing to trade live: no API key and secret (set CASINO_API_KEY and CASINO_API_SECRET "
                "in the environment or .env)"
            )
        if not settings.session.live_confirm:
            return (
                "refusing to trade live without confirmation: live trading risks real money; add "
                "--confirm-live (or set CASINO_SESSION__LIVE_CONFIRM=true) if you mean it"
            )
    return None


def data_paths(settings: Settings) -> tuple[str, ...]:
    """What the embedded sandbox replays: ``sandbox.data``, else the data directory when it holds data."""
    if settings.sandbox.data:
        return settings.sandbox.data
    folder = Path(settings.data_dir)
    if folder.is_dir() and any(p.name.endswith(_DATA_SUFFIXES) for p in folder.rglob("*") if p.is_file()):
        return (str(folder),)
    return ()


def session_settings(settings: Settings) -> Settings:
    """The settings the session runs with: a sandbox session's own adjustments (see below), else as given.

    An embedded paper session lists the traded symbols, replays :func:`data_paths` and runs its clock at
    ``session.paper_speed``. On any sandbox whose clock runs faster than real time, the bounds measured in
    exchange time are kept no tighter than a few WALL seconds (:func:`wall_floors`): at 600x, the engine's
    120 s staleness bound would be 0.2 s of wall time, less than a busy event loop may take.
    """
    if settings.venue != "sandbox":
        return settings
    if not settings.url:
        sandbox = msgspec.structs.replace(
            settings.sandbox,
            port=0,
            symbols=settings.symbols,
            speed=settings.session.paper_speed,
            data=data_paths(settings),
        )
        settings = msgspec.structs.replace(settings, sandbox=sandbox)
    return wall_floors(settings, settings.sandbox.speed)


def wall_floors(settings: Settings, speed: float) -> Settings:
    """``settings`` with its exchange-time bounds at least the wall seconds below, at clock rate ``speed``.

    Staleness of market events and of closes (3 s), the wait for an entry's fill before asking REST (2 s),
    how long a stop may sit TRIGGERING (1 s), the protection check (0.25 s) and the dead-man switch (refresh
    0.5 s, countdown 5 s). At 1x nothing changes.
    """

    def floor(value: float, wall_s: float) -> float:
        return max(value, wall_s * speed)

    engine = msgspec.structs.replace(settings.engine, stale_after_s=floor(settings.engine.stale_after_s, 3.0))
    player = msgspec.structs.replace(settings.player, max_lag_s=floor(settings.player.max_lag_s, 3.0))
    c = settings.croupier
    croupier = msgspec.structs.replace(
        c,
        entry_timeout_s=floor(c.entry_timeout_s, 2.0),
        triggering_timeout_s=floor(c.triggering_timeout_s, 1.0),
        protect_interval_s=floor(c.protect_interval_s, 0.25),
        deadman_interval_s=floor(c.deadman_interval_s, 0.5),
        deadman_countdown_s=floor(c.deadman_countdown_s, 5.0),
    )
    return msgspec.structs.replace(settings, engine=engine, player=player, croupier=croupier)


async def server_clock(rest_url: str, speed: float, *, samples: int = 3) -> ScaledClock:
    """A clock running at ``speed`` and anchored on the venue's ``/fapi/v1/time`` (best of ``samples``).

    Raises :class:`SessionStartError` when the venue does not answer.
    """
    best: tuple[float, int] | None = None
    url = rest_url.rstrip("/") + "/fapi/v1/time"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for _ in range(samples):
                sent = time.monotonic()
                async with http.get(url) as response:
                    response.raise_for_status()
                    body = await response.read()
                rtt = time.monotonic() - sent
                server_ms = int(msgspec.json.decode(body, type=dict[str, int])["serverTime"])
                # The answer was stamped about half a round trip ago.
                estimate = server_ms + int(rtt / 2 * 1000 * speed)
                if best is None or rtt < best[0]:
                    best = (rtt, estimate)
    except (aiohttp.ClientError, TimeoutError, msgspec.DecodeError, KeyError) as exc:
        raise SessionStartError(f"the sandbox at {rest_url} does not answer /fapi/v1/time: {exc!r}") from None
    assert best is not None
    return ScaledClock(start_ms=best[1], speed=speed)


@contextlib.asynccontextmanager
async def open_session_venue(settings: Settings, out: TextIO) -> AsyncIterator[VenueSession]:
    """The venue of ``settings`` (from :func:`session_settings`) as a not-yet-started adapter and its clock.

    On exit the adapter is closed, then an embedded sandbox stopped.
    """
    from exchanges.binance.factory import build_adapter, venue_of

    if settings.venue == "sandbox" and not settings.url:
        from exchanges.sandbox.runner import Sandbox

        async with Sandbox(settings.sandbox) as sb:
            key, secret = sb.demo_credentials
            adapter = build_adapter(
                settings,
                sb.context.clock,
                rest_url=sb.rest_url,
                credentials=(Secret(key), Secret(secret)),
                seed=settings.sandbox.seed,
            )
            description = f"sandbox (embedded) at {sb.rest_url}, demo account"
            try:
                yield VenueSession(
                    adapter=adapter, clock=sb.context.clock, description=description, sandbox=sb
                )
            finally:
                await adapter.close()
        return
    try:
        venue = venue_of(settings)
    except ValueError as exc:
        raise SessionStartError(str(exc)) from None
    clock: Clock
    if settings.venue == "sandbox":
        clock = await server_clock(venue.rest_url, settings.sandbox.speed)
        credentials = (
            (settings.api_key, settings.api_secret)
            if settings.api_key and settings.api_secret
            else (Secret(settings.sandbox.demo_api_key), Secret(settings.sandbox.demo_api_secret))
        )
        who = "API key configured" if settings.api_key else "the sandbox's demo account"
        description = f"sandbox at {venue.rest_url} ({who}, clock {settings.sandbox.speed:g}x)"
    else:
        clock = LiveClock()
        assert settings.api_key is not None and settings.api_secret is not None  # checked by Settings
        credentials = (settings.api_key, settings.api_secret)
        description = f"Binance {venue.name} at {venue.rest_url} (API key configured)"
    adapter = build_adapter(settings, clock, credentials=credentials)
    try:
        yield VenueSession(adapter=adapter, clock=clock, description=description)
    finally:
        await adapter.close()


def pick_instruments(listed: Sequence[Instrument], symbols: Sequence[str]) -> dict[str, Instrument]:
    """The traded symbols' instruments; :class:`SessionStartError` names any the venue does not list."""
    by_symbol = {i.symbol: i for i in listed}
    missing = [s for s in symbols if s not in by_symbol]
    if missing:
        raise SessionStartError(
            f"the venue does not list {', '.join(missing)}; choose other symbols (--symbols)"
        )
    return {s: by_symbol[s] for s in symbols}


def build_player(
    settings: Settings, clock: Clock, *, weights: Mapping[str, float], specs: Sequence[SensorSpec]
) -> AdaptivePlayer:
    """The AdaptivePlayer with the weights saved in state and the sensors' families (for the trend filter)."""
    needed = {
        settings.player.timeframe,
        *settings.player.confirm_timeframes,
        *settings.player.trend_timeframes,
    }
    missing = sorted(needed - set(settings.engine.timeframes))
    if missing:
        raise SessionStartError(
            f"the player needs timeframes {', '.join(missing)} that the engine does not build; add them "
            "to engine.timeframes"
        )
    return AdaptivePlayer(
        settings.player, clock, weights=weights, families={spec.id: spec.family for spec in specs}
    )


async def income_rows(adapter: BinanceAdapter, start_ms: int, end_ms: int) -> list[Income]:
    """Every income row of the account in ``[start_ms, end_ms]`` (paged by time, oldest first)."""
    rows: list[Income] = []
    seen: set[tuple[int, int, str]] = set()
    cursor = start_ms
    while True:
        page = await adapter.api.income(start_time=cursor, end_time=end_ms, limit=1000)
        fresh = [r for r in page if (r.ts, r.tran_id, r.income_type) not in seen]
        for row in fresh:
            seen.add((row.ts, row.tran_id, row.income_type))
        rows += fresh
        if len(page) < 1000 or not fresh:
            return rows
        cursor = max(r.ts for r in page)


async def account_facts(
    adapter: BinanceAdapter,
    *,
    source: str,
    start_ms: int,
    end_ms: int,
    wallet_start: Decimal | None,
    wallet_end: Decimal | None,
    unrealized_end: Decimal | None,
) -> AccountFacts:
    """The account's figures over the session for the report's cross-check (income rows when available)."""
    try:
        rows = await income_rows(adapter, start_ms, end_ms)
    except Exception as exc:  # the report still renders; it says the income check is missing
        log.warning("income history unavailable for the report: %r", exc)
        return AccountFacts(
            source=source, wallet_start=wallet_start, wallet_end=wallet_end, unrealized_end=unrealized_end
        )
    return AccountFacts.from_income(
        rows,
        source=source,
        wallet_start=wallet_start,
        wallet_end=wallet_end,
        unrealized_end=unrealized_end,
    )
