"""``python main.py run``: a trading session (paper on the embedded sandbox by default).

Every flag maps onto a settings key (:data:`FLAG_KEYS`), so the same values can come from ``casino.toml`` or
``CASINO_*`` environment variables; flags win. ``--speed`` sets both ``session.paper_speed`` (the embedded
sandbox's clock) and ``sandbox.speed`` (the clock rate of an external sandbox given with ``--url``, which
must match the rate that sandbox was started with).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.commands.venue import add_venue_arguments
from core.config import ConfigError, Settings, load_settings
from core.logs import get_logger, register_secret, setup_logging

__all__ = ["FLAG_KEYS", "add_arguments", "new_session_id", "overrides_from_args", "run", "run_loop"]

log = get_logger("session")

# argparse destination -> settings keys
FLAG_KEYS: dict[str, tuple[str, ...]] = {
    "venue": ("venue",),
    "url": ("url",),
    "log_level": ("log.level",),
    "symbols": ("symbols",),
    "data": ("sandbox.data",),
    "speed": ("session.paper_speed", "sandbox.speed"),
    "seed": ("sandbox.seed",),
    "duration": ("session.duration_s",),
    "state_dir": ("state.dir",),
    "report_dir": ("session.report_dir",),
    "metrics_port": ("metrics.port",),
    "on_exit": ("session.on_exit",),
    "status_interval": ("session.status_interval_s",),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``run``."""
    add_venue_arguments(parser)
    parser.add_argument(
        "--confirm-live",
        action="store_true",
        help="required with --venue live: you confirm the session trades real money",
    )
    parser.add_argument("--symbols", metavar="LIST", help="comma-separated symbols (default BTCUSDT,ETHUSDT)")
    parser.add_argument(
        "--data",
        metavar="PATH",
        action="append",
        help="kline/tick files or folders the embedded sandbox replays (default: the data directory, "
        "else a synthetic market)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        metavar="N",
        help="sandbox clock rate (x real time); paper sessions default to a faster clock so trades come "
        "within two minutes (session.paper_speed); with --url: the rate the external sandbox runs at",
    )
    parser.add_argument(
        "--seed", type=int, metavar="N", help="seed of the embedded sandbox's market and fills"
    )
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="end after this many wall-clock seconds"
    )
    parser.add_argument(
        "--state-dir", metavar="PATH", help="state directory: WAL, snapshots, journal (default var/state)"
    )
    parser.add_argument("--report-dir", metavar="PATH", help="folder of session reports (default reports)")
    parser.add_argument(
        "--metrics-port", type=int, metavar="N", help="Prometheus endpoint port on 127.0.0.1 (0 = none)"
    )
    parser.add_argument(
        "--on-exit",
        choices=("leave", "sweep"),
        help="open positions at exit: leave them with their stops (default) or sweep (close everything)",
    )
    parser.add_argument(
        "--status-interval", type=float, metavar="SECONDS", help="seconds between status lines (default 5)"
    )


def new_session_id(now: datetime | None = None) -> str:
    """A sortable, unique session id: UTC start time plus a short random suffix."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def overrides_from_args(args: argparse.Namespace) -> dict[str, object]:
    """Settings overrides (dotted keys) for the flags that were given."""
    out: dict[str, object] = {}
    for dest, keys in FLAG_KEYS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        if dest == "data":
            value = ",".join(value)
        for key in keys:
            out[key] = value
    if getattr(args, "confirm_live", False):
        out["session.live_confirm"] = "true"
    return out


def run_loop(factory: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run ``factory()`` on uvloop when available (else asyncio's loop); its result is the exit code."""
    try:
        import uvloop

        runner: contextlib.AbstractContextManager[asyncio.Runner] = asyncio.Runner(
            loop_factory=uvloop.new_event_loop
        )
    except ImportError:  # uvloop is optional off Linux/macOS
        runner = asyncio.Runner()
    with runner as r:
        return r.run(factory())


def run(args: argparse.Namespace) -> int:
    """Entry point of ``main.py run``; returns the exit code."""
    try:
        settings: Settings = load_settings(
            config_file=Path(args.config) if args.config else None, overrides=overrides_from_args(args)
        )
    except ConfigError as exc:
        print(f"casino: {exc}", file=sys.stderr)
        return 2
    register_secret(*settings.secret_values())
    session_id = new_session_id()
    log_file = setup_logging(
        settings.log.level, log_dir=Path(settings.log.dir), session_id=session_id, json_file=settings.log.json
    )
    from core.session import Session

    session = Session(settings, session_id=session_id, out=sys.stdout)
    if log_file is not None:
        session.say(f"log: {log_file}")
    return run_loop(session.run)
