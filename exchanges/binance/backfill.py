"""aggTrade continuity: id gap tracking (pure) and REST backfill that keeps every symbol's tape in order.

Binance numbers a symbol's aggregate trades with consecutive ids (``a``). A frame whose id is above the last
one seen + 1 reveals a gap (a dropped frame, a reconnect); a frame at or below it is a duplicate (an
overlapping connection) and is dropped.

Ordering guarantee of :class:`TradeSequencer`: for each symbol, trades are delivered in strictly increasing
id order, each id at most once. When a gap is found, live frames of that symbol are held while the missing
ids are fetched from REST (``GET /fapi/v1/aggTrades?fromId=``, paginated); the missing trades are delivered
first, then the held frames. Other symbols, and other kinds of events (mark price, book ticker), are not
held, so they may be delivered before backfilled trades that precede them in time. After a reconnect, a
backfill from the last id seen runs at once (up to the venue's present), so downstream does not wait for the
next trade to learn that some were missed. Ids that could not be fetched (REST failed through all retries)
are counted in ``gaps_left`` and skipped, so one bad gap never stalls the tape.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable

from core.clock import Clock
from core.events import StreamGap
from core.logs import get_logger
from core.types import Trade
from exchanges.binance.retry import RetryPolicy

__all__ = ["FetchAggTrades", "GapTracker", "TradeSequencer", "Verdict"]

log = get_logger("binance.backfill")

PAGE_LIMIT = 1000  # Binance's maximum for GET /fapi/v1/aggTrades


# ``BinanceRestApi.agg_trades``: called as ``fetch(symbol, from_id=..., limit=...)``; returns the trades
# with id ≥ from_id, oldest first, at most ``limit``.
FetchAggTrades = Callable[..., Awaitable[list[Trade]]]


class Verdict(enum.Enum):
    NEXT = "next"  # the expected id (or the first trade seen for the symbol)
    DUPLICATE = "duplicate"  # at or below the last id seen
    GAP = "gap"  # above the expected id


class GapTracker:
    """The last aggregate trade id seen per symbol, and the verdict on each new id. Pure."""

    def __init__(self) -> None:
        self._last: dict[str, int] = {}

    def last_id(self, symbol: str) -> int | None:
        return self._last.get(symbol)

    def symbols(self) -> list[str]:
        return list(self._last)

    def verdict(self, symbol: str, trade_id: int) -> Verdict:
        last = self._last.get(symbol)
        if last is None or trade_id == last + 1:
            return Verdict.NEXT
        return Verdict.DUPLICATE if trade_id <= last else Verdict.GAP

    def mark(self, symbol: str, trade_id: int) -> None:
        """Everything up to ``trade_id`` is accounted for (delivered, or given up on)."""
        last = self._last.get(symbol)
        if last is None or trade_id > last:
            self._last[symbol] = trade_id


class TradeSequencer:
    """Delivers each symbol's trades in id order, backfilling gaps through ``fetch`` (see the module doc).

    ``deliver`` and ``on_gap`` are synchronous callbacks and must not block. Without ``fetch`` gaps are only
    reported (``on_gap``) and counted in :attr:`gaps_left`.
    """

    def __init__(
        self,
        deliver: Callable[[Trade], None],
        clock: Clock,
        *,
        fetch: FetchAggTrades | None = None,
        on_gap: Callable[[StreamGap], None] | None = None,
        retry: RetryPolicy | None = None,
        page_limit: int = PAGE_LIMIT,
        seed: int = 0,
    ) -> None:
        self._deliver = deliver
        self._clock = clock
        self._fetch = fetch
        self._on_gap = on_gap
        self._retry = retry or RetryPolicy(max_attempts=6, base_delay=0.2, max_delay=3.0)
        self._page_limit = page_limit
        self._rng = random.Random(seed)
        self.tracker = GapTracker()
        self._held: dict[str, deque[Trade]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self.delivered = 0
        self.duplicates = 0
        self.gaps = 0  # gaps detected
        self.backfilled = 0  # trades delivered from REST
        self.gaps_left = 0  # trade ids that could not be recovered

    def busy(self, symbol: str | None = None) -> bool:
        """Is a backfill running (for ``symbol``, or for any symbol)?"""
        return bool(self._tasks) if symbol is None else symbol in self._tasks

    def on_trade(self, trade: Trade) -> None:
        """A trade from the stream."""
        held = self._held.get(trade.symbol)
        if trade.symbol in self._tasks and held is not None:
            held.append(trade)
            return
        self._process(trade)

    def on_reconnect(self, symbols: Iterable[str]) -> None:
        """The stream for ``symbols`` was re-established: fetch whatever traded since the last id seen."""
        if self._fetch is None:
            return
        for symbol in symbols:
            if self.tracker.last_id(symbol) is not None and symbol not in self._tasks:
                self._held[symbol] = deque()
                self._start(symbol, open_ended=True)

    async def stop(self) -> None:
        """Cancel running backfills (held frames are dropped with them)."""
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- internals ------------------------------------------------------------------------------------------

    def _process(self, trade: Trade, *, backfill: bool = True) -> None:
        symbol = trade.symbol
        verdict = self.tracker.verdict(symbol, trade.trade_id)
        if verdict is Verdict.DUPLICATE:
            self.duplicates += 1
            return
        if verdict is Verdict.GAP:
            last = self.tracker.last_id(symbol)
            assert last is not None  # a gap needs a previous id
            self.gaps += 1
            self._report_gap(symbol, last + 1, trade.trade_id - 1)
            if self._fetch is not None and backfill:
                self._held.setdefault(symbol, deque()).appendleft(trade)
                self._start(symbol, open_ended=False)
                return
            self.gaps_left += trade.trade_id - last - 1
        self._emit(trade)

    def _emit(self, trade: Trade) -> None:
        self.tracker.mark(trade.symbol, trade.trade_id)
        self.delivered += 1
        self._deliver(trade)

    def _report_gap(self, symbol: str, first: int, last: int) -> None:
        log.info("aggTrade gap: ids %d..%d missing", first, last, symbol=symbol)
        if self._on_gap is not None:
            self._on_gap(
                StreamGap(symbol=symbol, first_missing=first, last_missing=last, ts=self._clock.now_ms())
            )

    def _start(self, symbol: str, *, open_ended: bool) -> None:
        self._tasks[symbol] = asyncio.create_task(
            self._backfill(symbol, open_ended=open_ended), name=f"backfill-{symbol}"
        )

    def _target(self, symbol: str) -> int | None:
        """Backfill up to just below the newest held frame (one pass covers every gap among them)."""
        held = self._held.get(symbol)
        # Frames may arrive out of order (overlapping connections): the newest is the largest id.
        return max(t.trade_id for t in held) - 1 if held else None

    async def _backfill(self, symbol: str, *, open_ended: bool) -> None:
        complete = False
        try:
            complete = await self._fill(symbol, open_ended=open_ended)
        finally:
            if self._tasks.get(symbol) is asyncio.current_task():
                del self._tasks[symbol]
                self._drain(symbol, gave_up=not complete)

    async def _fill(self, symbol: str, *, open_ended: bool) -> bool:
        """Fetch and deliver up to the target; False when the REST side failed through every retry."""
        caught_up = False
        failures = 0
        while True:
            last = self.tracker.last_id(symbol)
            assert last is not None
            target = self._target(symbol)
            if (target is None and (caught_up or not open_ended)) or (target is not None and last >= target):
                return True
            try:
                page = await self._fetch_page(symbol, last + 1)
            except Exception as exc:  # every failure of the REST side is retried, then given up on below
                failures += 1
                if not self._retry.may_retry(failures):
                    log.warning("aggTrade backfill failed: %s", exc, symbol=symbol)
                    break
                log.info("aggTrade backfill attempt %d failed: %s", failures, exc, symbol=symbol)
                await asyncio.sleep(self._retry.delay(failures, self._rng))
                continue
            target = self._target(symbol)  # held frames may have arrived during the request
            progressed = self._deliver_page(symbol, page, target)
            if target is None and len(page) < self._page_limit:
                caught_up = True
            elif not progressed:
                # The venue does not have the ids yet (its REST view lags its stream): wait and ask again.
                failures += 1
                if not self._retry.may_retry(failures):
                    break
                await asyncio.sleep(self._retry.delay(failures, self._rng))
                continue
            failures = 0
        return False

    async def _fetch_page(self, symbol: str, from_id: int) -> list[Trade]:
        assert self._fetch is not None
        return await self._fetch(symbol, from_id=from_id, limit=self._page_limit)

    def _deliver_page(self, symbol: str, page: list[Trade], target: int | None) -> bool:
        progressed = False
        for trade in sorted(page, key=lambda t: t.trade_id):
            last = self.tracker.last_id(symbol)
            assert last is not None
            if trade.symbol != symbol or trade.trade_id <= last:
                continue
            if target is not None and trade.trade_id > target:
                break
            if trade.trade_id > last + 1:
                # The venue's own history has a hole: those ids cannot be recovered from anywhere.
                self.gaps_left += trade.trade_id - last - 1
            self.backfilled += 1
            self._emit(trade)
            progressed = True
        return progressed

    def _drain(self, symbol: str, *, gave_up: bool) -> None:
        """Deliver held frames in id order; a new gap among them starts another backfill (the rest stay held).

        After a failed backfill (``gave_up``) the gaps among the held frames are counted in ``gaps_left`` and
        skipped instead, so one unrecoverable gap never stalls the tape.
        """
        held = deque(sorted(self._held.get(symbol, ()), key=lambda t: t.trade_id))
        self._held[symbol] = held
        if gave_up and held:
            last = self.tracker.last_id(symbol)
            log.warning(
                "aggTrade ids after %s up to %d could not all be backfilled",
                last,
                held[-1].trade_id,
                symbol=symbol,
            )
        while held and symbol not in self._tasks:
            self._process(held.popleft(), backfill=not gave_up)
        if symbol not in self._tasks:
            self._held.pop(symbol, None)
