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

__all__ = ["build_parser", "cli", "main"]


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

    sandbox = sub.add_parser(
        "sandbox",
        help="run the Binance-compatible USDⓈ-M sandbox exchange on 127.0.0.1",
        description="Serve a Binance-compatible USDⓈ-M futures exchange (REST under /fapi, WebSocket routes "
        "/public, /market, /private) that replays real market data, until SIGINT/SIGTERM.",
    )
    sandbox_cli.add_arguments(sandbox)
    sandbox.set_defaults(handler=sandbox_cli.run)

    run = sub.add_parser(
        "run",
        help="start a trading session (paper on the embedded sandbox by default)",
        description="Start a trading session: paper on the embedded sandbox (replaying the data directory, "
        "else a synthetic market) unless --venue demo|testnet|live (keys from the environment; live also "
        "needs --confirm-live). Recovers the state directory, reconciles with the exchange, trades, prints "
        "a live status line; SIGUSR2 prints a live report. Stops on Ctrl-C, SIGTERM or --duration and "
        "writes the session report.",
    )
    session_cli.add_arguments(run)
    run.set_defaults(handler=session_cli.run)

    report_cmd = sub.add_parser(
        "report",
        help="re-render a session's report from its journal",
        description="Re-render the report of a session (id, report folder, journal or state directory) "
        "from the journal: HTML, Markdown, PNG plots and report.json.",
    )
    report.add_arguments(report_cmd)
    report_cmd.set_defaults(handler=report.run)

    sensors = sub.add_parser(
        "sensors",
        help="list the sensor library: family, timeframes and parameters",
        description="List the sensors the settings enable, with their family, timeframes and parameters "
        "(--library: every sensor with its defaults; --json: a JSON list of objects).",
    )
    sensors_cli.add_arguments(sensors)
    sensors.set_defaults(handler=sensors_cli.run)

    doctor_cmd = sub.add_parser(
        "doctor",
        help="check a venue: REST, clock, key and permissions, weight, every WebSocket route",
        description="Check a configured venue and print one line per check; exit non-zero if any fails.",
    )
    doctor.add_arguments(doctor_cmd)
    doctor_cmd.set_defaults(handler=doctor.run)

    stream_cmd = sub.add_parser(
        "stream",
        help="print a venue's trades and mark prices as they arrive",
        description="Stream normalised trades and mark prices (JSON lines with --json), then a summary: "
        "messages, reconnects, backfilled trades, gaps left.",
    )
    stream.add_arguments(stream_cmd)
    stream_cmd.set_defaults(handler=stream.run)

    data_cmd = sub.add_parser(
        "data",
        help="market data: download Binance's public 1-minute kline archives into the data directory",
        description="Market data for replay. 'data download SYMBOL... --days N' fetches Binance's public "
        "USDⓈ-M kline archives, checksum-verified, into the data directory.",
    )
    data.add_arguments(data_cmd)
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
