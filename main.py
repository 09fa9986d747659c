"""Casino command line: ``python main.py <command> [options]`` (``--help`` on every command).

Commands:
  sandbox   run the embedded Binance-compatible USDⓈ-M exchange on loopback
  run       start a trading session (paper on the embedded sandbox by default)
  report    re-render a session's report from its journal
  sensors   list the sensor library
  doctor    check a venue
  stream    print a venue's trades and mark prices
  data      market data: ``data download`` fetches Binance's public kline archives
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Protocol

__all__ = ["build_parser", "cli", "main"]


class Command(Protocol):
    """A command module: it registers its flags on its own subparser and runs the parsed command."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


def build_parser() -> argparse.ArgumentParser:
    """The whole command-line interface; each subcommand registers its own flags."""
    from core import session_cli
    from core.commands import data, doctor, report, stream
    from exchanges.sandbox import cli as sandbox_cli
    from sensors import cli as sensors_cli

    parser = argparse.ArgumentParser(
        prog="casino",
        description="Casino: an event-driven trading engine for Binance USDⓈ-M perpetual futures.",
    )
    parser.add_argument(
        "--config", metavar="PATH", help="TOML settings file (default: ./casino.toml if present)"
    )
    parser.add_argument("--log-level", metavar="LEVEL", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    # (name, module with add_arguments/run, one-line help, --help description)
    commands: tuple[tuple[str, Command, str, str], ...] = (
        (
            "sandbox",
            sandbox_cli,
            "run the Binance-compatible USDⓈ-M sandbox exchange on 127.0.0.1",
            "Serve a Binance-compatible USDⓈ-M futures exchange (REST under /fapi, WebSocket routes "
            "/public, /market, /private) that replays real market data, until SIGINT/SIGTERM.",
        ),
        (
            "run",
            session_cli,
            "start a trading session (paper on the embedded sandbox by default)",
            "Start a trading session: paper on the embedded sandbox (replaying the data directory, "
            "else a synthetic market) unless --venue demo|testnet|live (keys from the environment; live "
            "also needs --confirm-live). Recovers the state directory, reconciles with the exchange, trades, "
            "prints a live status line; SIGUSR2 prints a live report. Stops on Ctrl-C, SIGTERM or --duration "
            "and writes the session report.",
        ),
        (
            "report",
            report,
            "re-render a session's report from its journal",
            "Re-render the report of a session (id, report folder, journal or state directory) "
            "from the journal: HTML, Markdown, PNG plots and report.json.",
        ),
        (
            "sensors",
            sensors_cli,
            "list the sensor library: family, timeframes and parameters",
            "List the sensors the settings enable, with their family, timeframes and parameters "
            "(--library: every sensor with its defaults; --json: a JSON list of objects).",
        ),
        (
            "doctor",
            doctor,
            "check a venue: REST, clock, key and permissions, weight, every WebSocket route",
            "Check a configured venue and print one line per check; exit non-zero if any fails.",
        ),
        (
            "stream",
            stream,
            "print a venue's trades and mark prices as they arrive",
            "Stream normalised trades and mark prices (JSON lines with --json), then a summary: "
            "messages, reconnects, backfilled trades, gaps left.",
        ),
        (
            "data",
            data,
            "market data: download Binance's public 1-minute kline archives into the data directory",
            "Market data for replay. 'data download SYMBOL... --days N' fetches Binance's public "
            "USDⓈ-M kline archives, checksum-verified, into the data directory.",
        ),
    )
    for name, module, help_text, description in commands:
        command = sub.add_parser(name, help=help_text, description=description)
        module.add_arguments(command)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    code: int = handler(args)
    return code


def cli() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
