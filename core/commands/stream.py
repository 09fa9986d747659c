"""``python main.py stream BTCUSDT,ETHUSDT [--duration S] [--json]``: normalised trades and mark prices, live.

Subscribes aggTrade and markPrice@1s for the symbols on the venue's ``/market`` route, through the same
connector the engine uses (reconnects, watchdog, aggTrade gaps backfilled from REST), and prints each event
as it arrives: a readable line, or with ``--json`` one JSON object per line (trades: ``type="trade"``,
``symbol``, ``agg_id``, ``price``, ``qty``, ``side`` — the taker's side —, ``buyer_maker``, ``ts``; marks:
``type="mark"``, ``symbol``, ``mark``, ``index``, ``funding_rate``, ``next_funding_time``, ``ts``; decimals
as exact strings, times in ms). It ends on Ctrl-C / SIGTERM or after ``--duration`` seconds, waits (bounded)
for a running backfill, and prints a summary: messages, reconnects, backfilled trades, gaps left. The exit
status is 0 when no gap is left, 1 otherwise, 2 for a usage or settings error.

Output never blocks the event loop: events are formatted into a buffer on the loop, and a writer task hands
each batch to a worker thread that writes and flushes it (one flush per batch, at most every
``FLUSH_INTERVAL_S``). So a pipe consumer (``--json | jq``) sees lines within a fraction of a second, and a
stalled consumer only grows the buffer, up to ``MAX_PENDING_LINES`` (beyond that lines are dropped and
counted in the summary) — never the streams' latency.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import signal
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import TextIO

import msgspec

from core.commands.venue import add_venue_arguments, open_venue, settings_from_args
from core.config import ConfigError, Settings
from core.types import MarkPrice, Trade
from exchanges.adapter import MarketEvent
from exchanges.binance.streams import MarketStreams, StreamStats

__all__ = ["LineWriter", "add_arguments", "format_human", "format_json", "parse_symbols", "run", "stream"]

FLUSH_INTERVAL_S = 0.05
MAX_PENDING_LINES = 200_000
BACKFILL_WAIT_S = 10.0
_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")


class TradeLine(msgspec.Struct, frozen=True, tag="trade", tag_field="type"):
    symbol: str
    agg_id: int
    price: Decimal
    qty: Decimal
    side: str  # the taker's side: BUY when the buyer took liquidity
    buyer_maker: bool
    ts: int


class MarkLine(msgspec.Struct, frozen=True, tag="mark", tag_field="type"):
    symbol: str
    mark: Decimal
    index: Decimal
    funding_rate: Decimal
    next_funding_time: int
    ts: int


class SummaryLine(msgspec.Struct, frozen=True, tag="summary", tag_field="type"):
    messages: int
    reconnects: int
    backfilled: int
    gaps_left: int
    malformed: int
    duplicates: int
    trades: int
    marks: int
    dropped_lines: int


_encoder = msgspec.json.Encoder()


def format_json(event: Trade | MarkPrice) -> str:
    """One JSON line (no newline) for a trade or a mark price."""
    if isinstance(event, Trade):
        line: TradeLine | MarkLine = TradeLine(
            symbol=event.symbol,
            agg_id=event.trade_id,
            price=event.price,
            qty=event.qty,
            side="SELL" if event.is_buyer_maker else "BUY",
            buyer_maker=event.is_buyer_maker,
            ts=event.ts,
        )
    else:
        line = MarkLine(
            symbol=event.symbol,
            mark=event.mark_price,
            index=event.index_price,
            funding_rate=event.funding_rate,
            next_funding_time=event.next_funding_time,
            ts=event.ts,
        )
    return _encoder.encode(line).decode()


def _clock_text(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%H:%M:%S.%f")[:-3]


def format_human(event: Trade | MarkPrice) -> str:
    """One readable line (no newline) for a trade or a mark price."""
    if isinstance(event, Trade):
        side = "sell" if event.is_buyer_maker else "buy "
        return (
            f"{_clock_text(event.ts)} {event.symbol:<10} trade #{event.trade_id} {side} "
            f"{event.qty:f} @ {event.price:f}"
        )
    return (
        f"{_clock_text(event.ts)} {event.symbol:<10} mark  {event.mark_price:f} index {event.index_price:f} "
        f"funding {event.funding_rate:f} next {_clock_text(event.next_funding_time)[:8]}"
    )


def format_summary(stats: StreamStats, trades: int, marks: int, dropped: int, *, as_json: bool) -> str:
    """The closing summary line."""
    line = SummaryLine(
        messages=stats.messages,
        reconnects=stats.reconnects,
        backfilled=stats.backfilled,
        gaps_left=stats.gaps_left,
        malformed=stats.malformed,
        duplicates=stats.duplicates,
        trades=trades,
        marks=marks,
        dropped_lines=dropped,
    )
    if as_json:
        return _encoder.encode(line).decode()
    return (
        f"summary: {line.messages} messages, {line.reconnects} reconnects, "
        f"{line.backfilled} backfilled trades, {line.gaps_left} gaps left; "
        f"{trades} trades and {marks} mark prices printed"
        + (f", {line.malformed} malformed frames" if line.malformed else "")
        + (f", {dropped} lines dropped (output too slow)" if dropped else "")
    )


class LineWriter:
    """Buffers lines on the loop; a worker thread writes them in batches (see the module docstring)."""

    def __init__(self, out: TextIO, *, max_pending: int = MAX_PENDING_LINES) -> None:
        self._out = out
        self._max_pending = max_pending
        self._pending: list[str] = []
        self._wake = asyncio.Event()
        self._closed = False
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="stream-writer")

    def write(self, line: str) -> None:
        """Queue one line (synchronous, cheap: called from stream callbacks)."""
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            return
        self._pending.append(line)
        self._wake.set()

    async def close(self) -> None:
        """Write everything still pending, then stop."""
        self._closed = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if batch:
                await asyncio.to_thread(self._write_batch, batch)
            if self._closed and not self._pending:
                return
            if not self._closed:
                await asyncio.sleep(FLUSH_INTERVAL_S)  # gather a batch: one write and one flush per interval

    def _write_batch(self, batch: list[str]) -> None:
        self._out.write("\n".join(batch) + "\n")
        self._out.flush()


def parse_symbols(text: str) -> list[str]:
    """``BTCUSDT,ethusdt`` → ``["BTCUSDT", "ETHUSDT"]``; ``ValueError`` for an empty list or a bad name."""
    symbols = [s.strip().upper() for s in text.split(",") if s.strip()]
    if not symbols:
        raise ValueError("give at least one symbol, e.g. BTCUSDT,ETHUSDT")
    bad = [s for s in symbols if not _SYMBOL.match(s)]
    if bad:
        raise ValueError(f"not a symbol: {', '.join(bad)}")
    return list(dict.fromkeys(symbols))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``stream``: the symbols, the venue, ``--duration`` and ``--json``."""
    parser.add_argument("symbols", metavar="SYMBOLS", help="comma-separated symbols, e.g. BTCUSDT,ETHUSDT")
    add_venue_arguments(parser)
    parser.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this many seconds (default: Ctrl-C)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per line (and for the summary)")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``main.py stream``; returns the exit code."""
    try:
        symbols = parse_symbols(args.symbols)
        settings = settings_from_args(args)
    except (ConfigError, ValueError) as exc:
        print(f"casino stream: {exc}", file=sys.stderr)
        return 2
    if args.duration is not None and args.duration <= 0:
        print("casino stream: --duration must be positive", file=sys.stderr)
        return 2
    from core.logs import setup_logging

    # stdout carries the data; the connector's notices (reconnects, backfills) go to stderr at WARNING.
    setup_logging(
        getattr(args, "log_level", None) or "WARNING", log_dir=None, session_id="stream", json_file=False
    )
    try:
        return asyncio.run(_main(settings, symbols, sys.stdout, duration=args.duration, as_json=args.json))
    except KeyboardInterrupt:  # a second Ctrl-C while shutting down
        return 130
    except ValueError as exc:  # an unusable --url
        print(f"casino stream: {exc}", file=sys.stderr)
        return 2


async def _main(
    settings: Settings, symbols: list[str], out: TextIO, *, duration: float | None, as_json: bool
) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return await stream(settings, symbols, out, duration=duration, as_json=as_json, stop=stop)


async def stream(
    settings: Settings,
    symbols: Sequence[str],
    out: TextIO,
    *,
    duration: float | None = None,
    as_json: bool = False,
    stop: asyncio.Event | None = None,
    notices: TextIO | None = None,
) -> int:
    """Print ``symbols``' trades and mark prices until ``stop`` is set or ``duration`` (wall seconds) passes.

    ``notices`` receives the venue line and errors (default stderr, so ``out`` carries only data).
    Returns the exit code (0: no gap left).
    """
    notices = notices if notices is not None else sys.stderr
    stop = stop if stop is not None else asyncio.Event()
    writer = LineWriter(out)
    fmt = format_json if as_json else format_human
    counts = {"trades": 0, "marks": 0}

    def on_event(event: MarketEvent) -> None:
        if isinstance(event, Trade):
            counts["trades"] += 1
        elif isinstance(event, MarkPrice):
            counts["marks"] += 1
        else:
            return
        writer.write(fmt(event))

    async with open_venue(settings, notices, sandbox_symbols=symbols) as session:
        adapter = session.adapter
        await adapter.start()
        listed = {i.symbol for i in await adapter.api.exchange_info(contract_type=None)}
        unknown = [s for s in symbols if s not in listed]
        if unknown:
            print(f"casino stream: unknown symbol(s) on this venue: {', '.join(unknown)}", file=notices)
            return 2
        streams = adapter.market_stream(on_event)
        streams.subscribe(symbols, agg_trades=True, mark_price=True)
        writer.start()
        await streams.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
        await _settle(streams)
        await streams.stop()
        stats = streams.stats
    await writer.close()
    summary = format_summary(stats, counts["trades"], counts["marks"], writer.dropped, as_json=as_json)
    await asyncio.to_thread(_write_line, out, summary)
    return 0 if stats.gaps_left == 0 else 1


async def _settle(streams: MarketStreams) -> None:
    """Let a running backfill finish (bounded), so the tape ends complete."""
    deadline = time.monotonic() + BACKFILL_WAIT_S
    # MarketStreams offers no "backfill finished" event to wait on; a short poll, once, at shutdown.
    while streams.backfilling and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def _write_line(out: TextIO, line: str) -> None:
    out.write(line + "\n")
    out.flush()
