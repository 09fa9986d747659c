"""Market-data streams: aggTrade, markPrice@1s, bookTicker and klines, on their routes, gap-free.

:class:`MarketStreams` maps subscriptions to Binance's routed endpoints (``/market`` for ``@aggTrade``,
``@markPrice@1s`` and ``@kline_<i>``; ``/public`` for ``@bookTicker``), combines them at most
``max_streams_per_connection`` per connection (Binance allows 1024) on ``<route>/stream?streams=a/b/...``,
and keeps each connection up with :class:`~exchanges.binance.connection.StreamConnection` (backoff, watchdog,
pings, renewal before the 24 h limit). Streams added while running go out as paced ``SUBSCRIBE`` messages
and are part of the URL on every later reconnect.

Frames are decoded with :class:`~exchanges.binance.ws_schemas.MarketFrameDecoder`; malformed or unknown frames
are counted and logged and never end a stream. Trades pass through a
:class:`~exchanges.binance.backfill.TradeSequencer` (ordered, deduplicated, gaps backfilled from REST; see its
ordering guarantee). Mark prices and book tickers older than the last one delivered for their symbol (the
overlap of a renewal) are dropped; kline updates are snapshots of the current candle and are idempotent.

``on_event`` is called synchronously on the event loop for every event and must not block (hand work off to a
queue or task if it is slow). An exception it raises is logged with its traceback; the stream goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import msgspec

from core.clock import Clock
from core.events import StreamGap
from core.logs import get_logger
from core.types import BookTicker, Candle, MarkPrice, Trade
from exchanges.binance.backfill import FetchAggTrades, TradeSequencer
from exchanges.binance.connection import StreamConnection
from exchanges.binance.venues import Venue
from exchanges.binance.ws_schemas import ControlAnswer, FrameDecodeError, MarketEvent, MarketFrameDecoder

__all__ = ["MalformedLog", "MarketStreams", "StreamStats", "stream_names"]

log = get_logger("binance.streams")

KLINE_INTERVALS = frozenset(
    {"1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M"}
)
MAX_STREAMS_PER_CONNECTION = 1024  # Binance's per-connection limit


class StreamStats(msgspec.Struct):
    """Counters of a stream set since start."""

    messages: int = 0  # data frames decoded
    reconnects: int = 0  # connections re-established after a drop or silence
    malformed: int = 0  # frames that could not be decoded (malformed or unknown)
    backfilled: int = 0  # trades recovered from REST
    gaps_left: int = 0  # trade ids missed and not recovered
    renewals: int = 0  # planned handovers before the connection lifetime limit
    duplicates: int = 0  # trades received twice and dropped


class MalformedLog:
    """Logs undecodable frames without flooding: the first few, then one in ``every``."""

    def __init__(self, component: str, *, first: int = 10, every: int = 1000) -> None:
        self._log = get_logger(component)
        self._first = first
        self._every = every
        self.count = 0

    def record(self, where: str, exc: FrameDecodeError) -> None:
        self.count += 1
        if self.count <= self._first or self.count % self._every == 0:
            self._log.warning(
                "%s: %s frame #%d dropped (%s): %r", where, exc.kind, self.count, exc.detail, exc.excerpt
            )


def stream_names(
    symbol: str, *, agg_trades: bool, mark_price: bool, book_ticker: bool, klines: Sequence[str]
) -> list[tuple[str, str]]:
    """``(route, stream name)`` pairs for one symbol, as Binance spells and routes them."""
    sym = symbol.lower()
    names: list[tuple[str, str]] = []
    if agg_trades:
        names.append(("market", f"{sym}@aggTrade"))
    if mark_price:
        names.append(("market", f"{sym}@markPrice@1s"))
    if book_ticker:
        names.append(("public", f"{sym}@bookTicker"))
    for interval in klines:
        if interval not in KLINE_INTERVALS:
            raise ValueError(f"unknown kline interval {interval!r}")
        names.append(("market", f"{sym}@kline_{interval}"))
    return names


class _Group:
    """One connection and the streams it carries."""

    def __init__(self, route: str, base: str, index: int) -> None:
        self.route = route
        self.base = base
        self.index = index
        self.streams: list[str] = []
        self.conn: StreamConnection | None = None

    def url(self) -> str:
        return f"{self.base}/stream?streams={'/'.join(self.streams)}"

    def trade_symbols(self) -> list[str]:
        return [s.split("@", 1)[0].upper() for s in self.streams if s.endswith("@aggTrade")]


class MarketStreams:
    """Routed, combined, self-healing market streams delivering domain events (see the module docstring)."""

    def __init__(
        self,
        venue: Venue,
        clock: Clock,
        *,
        on_event: Callable[[Trade | MarkPrice | BookTicker | Candle], None],
        fetch_agg_trades: FetchAggTrades | None = None,
        on_gap: Callable[[StreamGap], None] | None = None,
        watchdog_s: float = 30.0,
        max_streams_per_connection: int = 200,
        max_lifetime_s: float = 23.5 * 3600,
        seed: int = 0,
    ) -> None:
        if not 1 <= max_streams_per_connection <= MAX_STREAMS_PER_CONNECTION:
            raise ValueError(f"max_streams_per_connection must be in 1..{MAX_STREAMS_PER_CONNECTION}")
        self.venue = venue
        self._clock = clock
        self._on_event = on_event
        self._watchdog_s = watchdog_s
        self._per_connection = max_streams_per_connection
        self._max_lifetime_s = max_lifetime_s
        self._seed = seed
        self._decoder = MarketFrameDecoder()
        self._malformed = MalformedLog("binance.streams")
        self._sequencer = TradeSequencer(self._emit, clock, fetch=fetch_agg_trades, on_gap=on_gap, seed=seed)
        self._groups: list[_Group] = []
        self._subscribed: set[str] = set()
        self._running = False
        self._messages = 0
        self._last_mark: dict[str, int] = {}
        self._last_book: dict[str, tuple[int, int]] = {}
        self._request_id = 0
        self._pending: set[asyncio.Task[bool]] = set()

    # --- subscriptions ------------------------------------------------------------------------------------

    def subscribe(
        self,
        symbols: Sequence[str],
        *,
        agg_trades: bool = True,
        mark_price: bool = True,
        book_ticker: bool = False,
        klines: Sequence[str] = (),
    ) -> None:
        """Add streams for ``symbols``; while running, they are subscribed on live connections."""
        for symbol in symbols:
            pairs = stream_names(
                symbol, agg_trades=agg_trades, mark_price=mark_price, book_ticker=book_ticker, klines=klines
            )
            for route, name in pairs:
                if name not in self._subscribed:
                    self._subscribed.add(name)
                    self._place(route, name)

    def _base(self, route: str) -> str:
        return self.venue.ws_public if route == "public" else self.venue.ws_market

    def _place(self, route: str, name: str) -> None:
        group = next(
            (g for g in reversed(self._groups) if g.route == route and len(g.streams) < self._per_connection),
            None,
        )
        if group is None:
            group = _Group(route, self._base(route), len(self._groups))
            self._groups.append(group)
        group.streams.append(name)
        if self._running:
            if group.conn is None:
                self._start_group(group)
            else:
                # The connection is live: SUBSCRIBE now; the URL carries the stream on later reconnects.
                self._subscribe_live(group.conn, name)

    def _subscribe_live(self, conn: StreamConnection, name: str) -> None:
        self._request_id += 1
        payload = msgspec.json.encode({"method": "SUBSCRIBE", "params": [name], "id": self._request_id})
        task = asyncio.create_task(conn.send(payload.decode()), name=f"ws-{conn.name}-subscribe")
        self._pending.add(task)
        task.add_done_callback(self._subscribed_done)

    def _subscribed_done(self, task: asyncio.Task[bool]) -> None:
        self._pending.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.warning("SUBSCRIBE failed: %r (the stream is subscribed at the next reconnect)", exc)

    # --- lifecycle ----------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open every connection (in the background; frames flow as soon as each one is up)."""
        self._running = True
        for group in self._groups:
            if group.conn is None:
                self._start_group(group)

    def _start_group(self, group: _Group) -> None:
        name = f"{group.route}-{group.index}"
        conn = StreamConnection(
            name,
            group.url,
            self._on_frame,
            on_open=lambda reconnect: self._on_open(group, reconnect),
            watchdog_s=self._watchdog_s,
            max_lifetime_s=self._max_lifetime_s,
            seed=self._seed + group.index,
        )
        group.conn = conn
        conn.start()

    async def stop(self) -> None:
        """Close every connection and cancel backfills."""
        self._running = False
        for task in list(self._pending):
            task.cancel()
        for group in self._groups:
            if group.conn is not None:
                await group.conn.stop()
        await self._sequencer.stop()

    @property
    def connected(self) -> bool:
        """Is every connection up?"""
        return bool(self._groups) and all(g.conn is not None and g.conn.connected for g in self._groups)

    @property
    def stats(self) -> StreamStats:
        conns = [g.conn for g in self._groups if g.conn is not None]
        seq = self._sequencer
        return StreamStats(
            messages=self._messages,
            reconnects=sum(c.reconnects for c in conns),
            malformed=self._malformed.count,
            backfilled=seq.backfilled,
            gaps_left=seq.gaps_left,
            renewals=sum(c.renewals for c in conns),
            duplicates=seq.duplicates,
        )

    @property
    def backfilling(self) -> bool:
        """Is a backfill running? (trades of that symbol are held until it ends)"""
        return self._sequencer.busy()

    # --- frames -------------------------------------------------------------------------------------------

    def _on_open(self, group: _Group, reconnect: bool) -> None:
        if reconnect:
            self._sequencer.on_reconnect(group.trade_symbols())

    def _on_frame(self, frame: bytes) -> None:
        try:
            item = self._decoder.decode(frame)
        except FrameDecodeError as exc:
            self._malformed.record("market stream", exc)
            return
        if isinstance(item, ControlAnswer):
            if item.error is not None:
                log.warning("stream request %s refused: %s %s", item.id, item.error.code, item.error.msg)
            return
        self._messages += 1
        self._dispatch(item)

    def _dispatch(self, event: MarketEvent) -> None:
        if isinstance(event, Trade):
            self._sequencer.on_trade(event)
            return
        if isinstance(event, MarkPrice):
            if event.ts <= self._last_mark.get(event.symbol, -1):
                return
            self._last_mark[event.symbol] = event.ts
        elif isinstance(event, BookTicker):
            key = (event.update_id, event.ts)
            if key <= self._last_book.get(event.symbol, (-1, -1)):
                return
            self._last_book[event.symbol] = key
        self._emit(event)

    def _emit(self, event: MarketEvent) -> None:
        try:
            self._on_event(event)
        except Exception:
            log.exception("on_event callback failed for %s", type(event).__name__)
