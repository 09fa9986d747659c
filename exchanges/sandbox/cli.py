"""``python main.py sandbox``: serve the Binance-compatible USDⓈ-M sandbox until SIGINT/SIGTERM.

Every flag maps onto a ``sandbox.*`` settings key (:data:`FLAG_KEYS`, the one place that mapping lives), so
the same values can come from ``casino.toml`` or ``CASINO_SANDBOX__*`` environment variables; flags win.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from core.config import ConfigError, SandboxSettings, load_settings

if TYPE_CHECKING:
    from exchanges.sandbox.runner import Sandbox

__all__ = ["FLAG_KEYS", "add_arguments", "overrides_from_args", "run"]

# argparse destination -> settings key
FLAG_KEYS: dict[str, str] = {
    "host": "sandbox.host",
    "port": "sandbox.port",
    "account": "sandbox.accounts",
    "symbols": "sandbox.symbols",
    "data": "sandbox.data",
    "speed": "sandbox.speed",
    "seed": "sandbox.seed",
    "faults": "sandbox.faults",
    "history_days": "sandbox.history_days",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sandbox`` subcommand's flags (defaults come from the settings: config file, environment)."""
    parser.add_argument("--host", metavar="ADDR", help="interface to bind (default 127.0.0.1: loopback only)")
    parser.add_argument(
        "--port", type=int, metavar="N", help="TCP port for REST and WebSocket (default 8700; 0 = any)"
    )
    parser.add_argument(
        "--account",
        action="append",
        metavar="KEY:SECRET:USDT_BALANCE",
        help="define an account (repeatable); without it there is one demo account",
    )
    parser.add_argument("--symbols", metavar="LIST", help="comma-separated symbols, e.g. BTCUSDT,ETHUSDT")
    parser.add_argument(
        "--data",
        action="append",
        metavar="PATH",
        help="kline or tick files, or folders of them, to replay (repeatable; default: a synthetic market)",
    )
    parser.add_argument(
        "--speed", type=float, metavar="N", help="run the sandbox clock N times faster (default 1)"
    )
    parser.add_argument("--seed", type=int, metavar="N", help="seed of the market, the fills and the faults")
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        help="comma-separated name=value faults: latency_ms, http_5xx, http_429_burst, "
        "order_timeout_placed, ws_drop_every (e.g. 7s), drop_frames, user_drop, user_dup, user_reorder, "
        "listenkey_ttl, clock_skew_ms",
    )
    parser.add_argument(
        "--history-days",
        type=float,
        metavar="DAYS",
        help="days of replayed history before 'now' served by klines/aggTrades for warm-up (default 7); "
        "kline replay gives up to one day more so the data keeps its time of day",
    )


def overrides_from_args(args: argparse.Namespace) -> dict[str, object]:
    """Settings overrides (dotted keys) for the flags that were given."""
    out: dict[str, object] = {}
    for dest, key in FLAG_KEYS.items():
        value = getattr(args, dest, None)
        if value is not None:
            out[key] = value
    return out


def run(args: argparse.Namespace) -> int:
    """Entry point of ``main.py sandbox``; returns the process exit code."""
    config = getattr(args, "config", None)
    try:
        settings = load_settings(
            config_file=Path(config) if config else None,
            overrides=overrides_from_args(args) | {"log.level": getattr(args, "log_level", None)},
        )
    except ConfigError as exc:
        print(f"casino sandbox: {exc}", file=sys.stderr)
        return 2
    from core.logs import setup_logging

    setup_logging(settings.log.level, log_dir=None, session_id="sandbox", json_file=False)
    try:
        return asyncio.run(_serve(settings.sandbox, sys.stdout))
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 130


async def _serve(settings: SandboxSettings, out: TextIO) -> int:
    from exchanges.sandbox.runner import Sandbox, SandboxFailedError

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with Sandbox(settings) as sandbox:
            _banner(out, settings, sandbox)
            await sandbox.run_forever(stop)
    except SandboxFailedError as exc:
        print(f"casino sandbox: stopped: {exc.__cause__!r}", file=sys.stderr)
        return 1
    except OSError as exc:  # typically: the port is taken
        print(f"casino sandbox: cannot serve on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return 1
    print("sandbox stopped", file=out, flush=True)
    return 0


def _banner(out: TextIO, settings: SandboxSettings, sandbox: Sandbox) -> None:
    lines = [
        "Casino sandbox: a Binance-compatible USDⓈ-M futures exchange",
        f"  REST       {sandbox.rest_url}  (/fapi/...)",
        f"  WebSocket  {sandbox.ws_url}  (routes /public /market /private)",
        f"  market     {sandbox.context.market.describe()}",
        f"  clock      {settings.speed:g}x real time, seed {settings.seed}",
        f"  faults     {settings.faults or 'none'}",
    ]
    demo = not settings.accounts
    for key, secret in sandbox.accounts:
        lines.append(f"  account    {'demo ' if demo else ''}API key    {key}")
        lines.append(f"             {'demo ' if demo else ''}API secret {secret}")
    lines.append("Stop with Ctrl-C (SIGINT) or SIGTERM.")
    print("\n".join(lines), file=out, flush=True)
