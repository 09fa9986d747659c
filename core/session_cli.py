"""``python main.py run``: a paper session on the embedded sandbox.

The sandbox starts in-process on a free port and replays the data directory (real klines when it holds
some, else the seeded synthetic market). A compact status line shows what the market is doing. The
session ends on Ctrl-C, SIGTERM or ``--duration``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from core.config import ConfigError, Settings, load_settings
from core.logs import get_logger, register_secret, setup_logging

if TYPE_CHECKING:
    from exchanges.sandbox.runner import Sandbox

__all__ = ["add_arguments", "new_session_id", "run"]

log = get_logger("session")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``run``; each maps onto a settings key so TOML and environment work too."""
    parser.add_argument(
        "--data",
        metavar="PATH",
        action="append",
        help="kline/tick files or folders to replay (default: the data directory)",
    )
    parser.add_argument("--symbols", metavar="LIST", help="comma-separated symbols (default BTCUSDT,ETHUSDT)")
    parser.add_argument(
        "--speed", type=float, metavar="N", help="run the sandbox clock N× faster (default 1)"
    )
    parser.add_argument("--seed", type=int, metavar="N", help="seed of the sandbox's market and fills")
    parser.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this many wall-clock seconds (default: until Ctrl-C)",
    )


def new_session_id(now: datetime | None = None) -> str:
    """A sortable, unique session id: UTC start time plus a short random suffix."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    out: dict[str, object] = {"sandbox.port": 0}
    if args.log_level:
        out["log.level"] = args.log_level
    if args.symbols:
        out["symbols"] = args.symbols
        out["sandbox.symbols"] = args.symbols
    if args.data:
        out["sandbox.data"] = [p for p in args.data if Path(p).exists()]
    if args.speed is not None:
        out["sandbox.speed"] = args.speed
    if args.seed is not None:
        out["sandbox.seed"] = args.seed
    return out


def run(args: argparse.Namespace) -> int:
    """Entry point of ``main.py run``; returns the exit code."""
    try:
        settings = load_settings(
            config_file=Path(args.config) if args.config else None, overrides=_overrides(args)
        )
    except ConfigError as exc:
        print(f"casino: {exc}", file=sys.stderr)
        return 2
    register_secret(*settings.secret_values())
    session_id = new_session_id()
    log_file = setup_logging(
        settings.log.level, log_dir=Path(settings.log.dir), session_id=session_id, json_file=settings.log.json
    )
    try:
        import uvloop

        runner: contextlib.AbstractContextManager[asyncio.Runner] = asyncio.Runner(
            loop_factory=uvloop.new_event_loop
        )
    except ImportError:  # uvloop is optional off Linux/macOS
        runner = asyncio.Runner()
    with runner as r:
        return r.run(_session(settings, session_id, log_file, args.duration))


async def _session(settings: Settings, session_id: str, log_file: Path | None, duration: float | None) -> int:
    from exchanges.sandbox.runner import Sandbox

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Sandbox(settings.sandbox) as sandbox:
        _banner(sys.stdout, settings, session_id, sandbox, log_file)
        log.info("session %s started on %s", session_id, sandbox.rest_url)
        started = time.monotonic()
        while not stop.is_set():
            if duration is not None and time.monotonic() - started >= duration:
                break
            _status_line(sys.stdout, sandbox)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
        print(file=sys.stdout)
    log.info("session %s ended", session_id)
    print(f"session {session_id} ended" + (f"; log: {log_file}" if log_file else ""))
    return 0


def _banner(
    out: TextIO, settings: Settings, session_id: str, sandbox: Sandbox, log_file: Path | None
) -> None:
    key, _secret = sandbox.demo_credentials
    market = sandbox.context.market
    lines = [
        f"Casino paper session {session_id}  (pid {os.getpid()})",
        "  venue      sandbox (embedded, Binance USDⓈ-M protocol)",
        f"  REST       {sandbox.rest_url}",
        f"  WebSocket  {sandbox.ws_url}  (/public /market /private)",
        f"  account    demo, key {key[:8]}…",
        f"  market     {market.describe()}",
        f"  clock      {settings.sandbox.speed:g}× real time",
        f"  symbols    {', '.join(market.symbols)}",
        f"  log        {log_file if log_file else 'console only'}",
        "  stop       Ctrl-C",
    ]
    print("\n".join(lines), file=out, flush=True)


def _fmt(d: Decimal | None) -> str:
    return "-" if d is None else f"{d:f}"


def _status_line(out: TextIO, sandbox: Sandbox) -> None:
    core = sandbox.context.core
    now = datetime.fromtimestamp(sandbox.context.clock.now_ms() / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    parts = [now]
    for symbol in sandbox.context.market.symbols:
        mark = core.mark_price(symbol)
        last = core.last_price(symbol)
        parts.append(f"{symbol} {_fmt(last)} (mark {_fmt(mark.mark_price if mark else None)})")
    line = "  ".join(parts)
    if out.isatty():
        out.write("\r" + line[:160].ljust(160))
        out.flush()
    else:
        print(line, file=out, flush=True)
