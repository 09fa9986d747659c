"""The ``--venue`` / ``--url`` flags every exchange-talking command shares, and the venue they open.

Flags map onto settings keys (``venue``, ``url``; the global ``--log-level`` onto ``log.level``), so the
same values can come from ``casino.toml`` or ``CASINO_VENUE`` / ``CASINO_URL``; keys come from
``CASINO_API_KEY`` / ``CASINO_API_SECRET`` (environment or ``.env``), through
:func:`core.config.load_settings`.

:func:`open_venue` turns the settings into a (not yet started)
:class:`~exchanges.binance.adapter.BinanceAdapter`:

- ``live`` / ``demo`` / ``testnet``: Binance's URLs (``--url`` overrides the REST base), the configured
  keys, the wall clock;
- ``sandbox`` with ``--url``: an external sandbox (``python main.py sandbox``); keys from the settings, else
  the sandbox's public demo account; the clock runs at ``sandbox.speed`` like the sandbox's own (set the
  same ``sandbox.speed`` for both, e.g. ``CASINO_SANDBOX__SPEED``);
- ``sandbox`` without ``--url``: the embedded sandbox is started in-process on a free port, with its demo
  account, and stopped afterwards.

What was chosen is said on screen (never a secret).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import msgspec

from core.clock import Clock, LiveClock, ScaledClock
from core.config import Settings, load_settings
from core.logs import register_secret
from core.secrets import Secret

if TYPE_CHECKING:
    from exchanges.binance.adapter import BinanceAdapter
    from exchanges.sandbox.runner import Sandbox

__all__ = ["FLAG_KEYS", "VenueSession", "add_venue_arguments", "open_venue", "settings_from_args"]

# argparse destination -> settings key
FLAG_KEYS: dict[str, str] = {"venue": "venue", "url": "url", "log_level": "log.level"}
VENUE_CHOICES = ("live", "demo", "testnet", "sandbox")


def add_venue_arguments(parser: argparse.ArgumentParser) -> None:
    """``--venue`` and ``--url`` (defaults from the settings: venue ``sandbox``, embedded)."""
    parser.add_argument(
        "--venue",
        choices=VENUE_CHOICES,
        help="exchange: Binance live, demo or testnet, or the sandbox (default from settings: sandbox)",
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help="REST base URL, e.g. http://127.0.0.1:8700 for a running sandbox (its WebSocket routes are on "
        "the same host and port); without it --venue sandbox starts an embedded one",
    )


def settings_from_args(args: argparse.Namespace, extra: Mapping[str, object] | None = None) -> Settings:
    """Settings for a command: config file (``--config``), environment and ``.env``, then the flags.

    Raises :class:`core.config.ConfigError` naming the key and its source.
    """
    overrides: dict[str, object] = {}
    for dest, key in FLAG_KEYS.items():
        value = getattr(args, dest, None)
        if value is not None:
            overrides[key] = value
    overrides.update(extra or {})
    config = getattr(args, "config", None)
    settings = load_settings(config_file=Path(config) if config else None, overrides=overrides)
    register_secret(*settings.secret_values())
    return settings


@dataclass(kw_only=True)
class VenueSession:
    """An adapter ready to start, what it talks to, and the embedded sandbox when there is one."""

    adapter: BinanceAdapter
    clock: Clock
    description: str
    sandbox: Sandbox | None = None


@contextlib.asynccontextmanager
async def open_venue(
    settings: Settings, out: TextIO, *, sandbox_symbols: Sequence[str] | None = None
) -> AsyncIterator[VenueSession]:
    """The venue the settings name, as a :class:`VenueSession` (see the module docstring).

    The adapter is built but not started (callers time or guard the start themselves); on exit it is
    closed, then the embedded sandbox (if any) is stopped. ``sandbox_symbols``: what an embedded sandbox
    lists (default ``sandbox.symbols``). Raises ``ValueError`` for an unusable URL.
    """
    from exchanges.binance.factory import build_adapter, venue_of

    if settings.venue != "sandbox" or settings.url:
        venue = venue_of(settings)
        credentials = _external_credentials(settings)
        live = settings.venue != "sandbox"
        clock: Clock = LiveClock() if live else ScaledClock(speed=settings.sandbox.speed)
        adapter = build_adapter(settings, clock, credentials=credentials)
        who = "no API key (public calls only)" if credentials is None else "API key configured"
        if settings.venue == "sandbox" and settings.api_key is None:
            who = "the sandbox's demo account"
        description = f"{venue.name} at {venue.rest_url} ({who})"
        _say(out, f"venue {description}")
        try:
            yield VenueSession(adapter=adapter, clock=clock, description=description)
        finally:
            await adapter.close()
        return

    from exchanges.sandbox.runner import Sandbox

    sandbox_settings = msgspec.structs.replace(settings.sandbox, port=0)
    if sandbox_symbols:
        sandbox_settings = msgspec.structs.replace(sandbox_settings, symbols=tuple(sandbox_symbols))
    async with Sandbox(sandbox_settings) as sb:
        key, secret = sb.demo_credentials
        adapter = build_adapter(
            settings,
            sb.context.clock,
            rest_url=sb.rest_url,
            credentials=(Secret(key), Secret(secret)),
            seed=sandbox_settings.seed,
        )
        description = f"sandbox (embedded) at {sb.rest_url} (demo account)"
        _say(
            out,
            f"venue sandbox: started the embedded sandbox on {sb.rest_url} "
            f"({sandbox_settings.speed:g}x clock, faults: {sandbox_settings.faults or 'none'}); "
            "using its demo account",
        )
        try:
            yield VenueSession(adapter=adapter, clock=sb.context.clock, description=description, sandbox=sb)
        finally:
            await adapter.close()


def _external_credentials(settings: Settings) -> tuple[Secret, Secret] | None:
    if settings.api_key is not None and settings.api_secret is not None:
        return settings.api_key, settings.api_secret
    if settings.venue == "sandbox":
        # An external sandbox started with defaults has the public demo account.
        return Secret(settings.sandbox.demo_api_key), Secret(settings.sandbox.demo_api_secret)
    return None


def _say(out: TextIO, line: str) -> None:
    print(line, file=out, flush=True)
