"""The Engine: market stream → validation → candles → sensors → signals, on one event loop.

Data path. The stream's callbacks are synchronous and only stamp each event with the session time it was
received and put it on a bounded ``asyncio.Queue``. One consumer task (``engine-consumer``) validates
(:mod:`core.validation`; staleness is judged on the receipt time, so our own queueing never makes an event
stale), aggregates (:mod:`core.candles`) and evaluates. A timer task (``engine-timer``) enqueues the session
time so quiet minutes close too, ``close_grace_s`` (wall) late so trades still in flight are not cut off.

One moment, one batch. Candles closing at the same close time for different symbols arrive at different
events; a moment is sent to ``sensors.evaluate`` when every symbol has moved past it (its next minute began,
or the timer closed it), so ALL candles closing at that moment travel in ONE call. Signals go to
``on_signals`` and the newest per (sensor, symbol, timeframe) is kept (:meth:`Engine.latest_signals`).

Full queue. The consumer is too slow for the feed (or stalled): the event is lost, which leaves its candle
inexact. It is never silent: each loss is counted (``stats().queue_full``) and logged (the first, then one
line per 1000). Timer ticks are not events: a tick that finds the queue full is skipped, the next carries a
later time.

Lifecycle. :meth:`Engine.start` starts the sensor pool, the stream and the warm-up
(:mod:`core.engine_warmup`), then the tasks. :meth:`Engine.stop` stops the stream, then the timer, lets the
consumer drain what was received (every closed moment is evaluated: no lost batch), then stops the sensor
pool. A task that crashes is logged and its exception is :attr:`Engine.failure`; :meth:`Engine.join` raises
it. The adapter is not started or closed here: it is shared with the trading side.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Protocol

from core.candles import CandleAggregator, interval_ms
from core.clock import Clock
from core.config_engine import EngineSettings
from core.engine_stats import EngineStats, LatencyWindow
from core.engine_warmup import fetch_history, seed_symbol, wait_for_symbols
from core.events import StreamGap
from core.logs import get_logger
from core.types import Candle, MarkPrice, Signal, Trade
from core.validation import Reason, Validator
from exchanges.adapter import ExchangeAdapter, MarketDataStream, MarketEvent

__all__ = ["Engine", "EngineError", "EngineStats", "Sensors"]

log = get_logger("engine")

_LOG_EVERY = 1000


class Sensors(Protocol):
    """What the Engine needs of the sensor pool (:class:`sensors.manager.SensorManager`)."""

    async def start(self) -> None: ...

    async def warm_up(self, candles: Sequence[Candle]) -> None: ...

    async def evaluate(self, candles: Sequence[Candle]) -> list[Signal]: ...

    async def stop(self) -> None: ...


class EngineError(RuntimeError):
    """The Engine cannot run: fix the cause named in the message and start it again."""


class _Tick:
    """The timer's message: close what ended before ``now_ms``."""

    __slots__ = ("now_ms",)

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms


# An event with its receipt time (session clock), a timer tick, or None: the consumer's last item.
_Item = tuple[MarketEvent, int] | _Tick | None


class Engine:
    """Streams the market of ``symbols`` into candles and sensor signals (see the module docstring).

    ``sensors`` is started by :meth:`start` and stopped by :meth:`stop` (its ``start`` may already have been
    called). Tuning: ``queue_size`` bounds the event queue; ``close_grace_s`` (wall seconds) is how long
    after a minute's end the timer closes it without a later trade; ``ready_timeout_s`` bounds the wait for
    the stream's first events at start; ``drain_timeout_s`` bounds the drain at stop; ``latency_window`` is
    the number of batches the latency percentiles cover; ``tick_s`` (wall seconds) overrides the timer's
    period (default: about one exchange second).
    """

    def __init__(
        self,
        settings: EngineSettings,
        symbols: Sequence[str],
        adapter: ExchangeAdapter,
        sensors: Sensors,
        clock: Clock,
        *,
        on_signals: Callable[[list[Signal]], None] | None = None,
        queue_size: int = 100_000,
        close_grace_s: float = 1.0,
        ready_timeout_s: float = 10.0,
        drain_timeout_s: float = 10.0,
        latency_window: int = 1000,
        tick_s: float | None = None,
    ) -> None:
        if not symbols:
            raise ValueError("the engine needs at least one symbol")
        self.settings = settings
        self.symbols = tuple(dict.fromkeys(symbols))
        self._adapter = adapter
        self._sensors = sensors
        self._clock = clock
        self._on_signals = on_signals
        self._ready_timeout_s = ready_timeout_s
        self._drain_timeout_s = drain_timeout_s
        # Grace in exchange ms: wall seconds scaled by the clock's speed, at least one exchange second.
        self._grace_ms = max(1000, int(close_grace_s * 1000 * clock.speed))
        # The timer ticks about once per exchange second (between 20 ms and 0.5 s of wall time).
        self._tick_s = tick_s if tick_s is not None else min(0.5, max(0.02, clock.wall_seconds(1000)))
        self.aggregator = CandleAggregator(settings.timeframes)
        self.validator = Validator(settings.stale_after_s)
        self._rank = {tf: interval_ms(tf) for tf in self.aggregator.timeframes}
        self._queue: asyncio.Queue[_Item] = asyncio.Queue(maxsize=queue_size)
        self._stream: MarketDataStream | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._failure: BaseException | None = None
        self._done = asyncio.Event()
        self._running = False
        self._stopping = False
        self._pending: dict[int, list[Candle]] = {}
        self._seam: dict[str, int] = {}
        self._first_live_id: dict[str, int] = {}
        self._heard: set[str] = set()
        self._latest: dict[tuple[str, str, str], Signal] = {}
        self._marks: dict[str, MarkPrice] = {}
        self._latency = LatencyWindow(latency_window)
        self._counts: Counter[str] = Counter()
        self._closed: Counter[str] = Counter()
        self._last_signal_ts: int | None = None
        self._last_signal_at: int | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the sensor pool, the stream and the warm-up, then the consumer and the timer."""
        if self._running:
            return
        await self._sensors.start()
        try:
            warm = await self._warm_up()
        except BaseException:
            # Leave nothing behind: the stream and the pool were started for a session that will not run.
            if self._stream is not None:
                await self._stream.stop()
            await self._sensors.stop()
            raise
        self._running = True
        self._spawn(self._consume(), "engine-consumer")
        self._spawn(self._timer(), "engine-timer")
        log.info(
            "engine started: %d symbols, timeframes %s, %d warm-up candles",
            len(self.symbols),
            ",".join(self.aggregator.timeframes),
            len(warm),
        )

    async def stop(self) -> None:
        """Stop the stream and the timer, drain the consumer (every closed moment evaluated), stop sensors."""
        if self._stopping:
            return
        self._stopping = True
        try:
            if self._stream is not None:
                await self._stream.stop()
            await self._cancel("engine-timer")
            consumer = self._tasks.get("engine-consumer")
            if consumer is not None and not consumer.done():
                # The end marker queues behind everything received; a crash meanwhile is already recorded.
                put = asyncio.ensure_future(self._queue.put(None))
                done, _ = await asyncio.wait({consumer}, timeout=self._drain_timeout_s)
                if not done:
                    log.error(
                        "engine consumer did not drain within %.1fs; cancelling it", self._drain_timeout_s
                    )
                    await self._cancel("engine-consumer")
                put.cancel()
        finally:
            self._running = False
            await self._sensors.stop()
            self._done.set()
            log.info("engine stopped: %s", self.stats())

    @property
    def failure(self) -> BaseException | None:
        """The exception that ended one of the engine's tasks, if any."""
        return self._failure

    @property
    def running(self) -> bool:
        return self._running and self._failure is None

    async def join(self) -> None:
        """Wait until the engine stops or fails; a failure is raised as ``EngineError`` (its cause)."""
        await self._done.wait()
        if self._failure is not None:
            raise EngineError(f"the engine failed: {self._failure!r}") from self._failure

    # --- reads -------------------------------------------------------------------------------------------

    def latest_signals(self) -> dict[tuple[str, str, str], Signal]:
        """The newest signal per (sensor id, symbol, timeframe)."""
        return dict(self._latest)

    def mark_price(self, symbol: str) -> MarkPrice | None:
        """The newest accepted mark price of ``symbol``."""
        return self._marks.get(symbol)

    def open_candle(self, symbol: str, timeframe: str) -> Candle | None:
        """The candle of ``timeframe`` still being built for ``symbol``."""
        return self.aggregator.open_candle(symbol, timeframe)

    def stats(self) -> EngineStats:
        """A snapshot of the counters (see :class:`EngineStats`)."""
        p50, p99 = self._latency.percentile(50), self._latency.percentile(99)
        return EngineStats(
            events_in=self._counts["events"],
            trades_in=self._counts["trades"],
            marks_in=self._counts["marks"],
            ignored=self._counts["ignored"],
            accepted=self.validator.accepted,
            rejected=self.validator.by_reason(),
            queue_full=self._counts["queue_full"],
            queue_depth=self._queue.qsize(),
            seam_overlap=self._counts["seam_overlap"],
            gaps=self._counts["gaps"],
            candles_closed=dict(self._closed),
            batches=self._counts["batches"],
            evaluate_errors=self._counts["evaluate_errors"],
            callback_errors=self._counts["callback_errors"],
            evaluate_p50_ms=None if p50 is None else p50 / 1e6,
            evaluate_p99_ms=None if p99 is None else p99 / 1e6,
            signals=self._counts["signals"],
            last_signal_ts=self._last_signal_ts,
            last_signal_at_ms=self._last_signal_at,
        )

    # --- stream callbacks (synchronous: they only enqueue) -----------------------------------------------

    def _on_event(self, event: MarketEvent) -> None:
        self._counts["events"] += 1
        self._heard.add(event.symbol)
        if isinstance(event, Trade):
            self._first_live_id.setdefault(event.symbol, event.trade_id)
        try:
            self._queue.put_nowait((event, self._clock.now_ms()))
        except asyncio.QueueFull:
            self._counts["queue_full"] += 1
            n = self._counts["queue_full"]
            if n == 1 or n % _LOG_EVERY == 0:
                log.error(
                    "engine queue full (%d events): the consumer is too slow; %d events lost so far",
                    self._queue.maxsize,
                    n,
                    symbol=event.symbol,
                )

    def _on_gap(self, gap: StreamGap) -> None:
        self._counts["gaps"] += 1
        log.info(
            "aggTrade gap %d..%d (backfilled by the stream)",
            gap.first_missing,
            gap.last_missing,
            symbol=gap.symbol,
        )

    # --- start-up ----------------------------------------------------------------------------------------

    async def _warm_up(self) -> list[Candle]:
        self._stream = self._adapter.market_stream(self._on_event, on_gap=self._on_gap)
        self._stream.subscribe(self.symbols, agg_trades=True, mark_price=True)
        await self._stream.start()
        histories = await asyncio.gather(
            *(
                fetch_history(self._adapter, s, self.aggregator.timeframes, self.settings.warmup_bars)
                for s in self.symbols
            )
        )
        await wait_for_symbols(self._heard, self.symbols, self._ready_timeout_s)
        warm: list[Candle] = []
        for history in histories:
            seeded, seam = await seed_symbol(
                self._adapter,
                self.aggregator,
                self.validator,
                history,
                first_live_id=self._first_live_id.get(history.symbol),
            )
            warm += seeded
            if seam is not None:
                self._seam[history.symbol] = seam
        await self._sensors.warm_up(warm)
        return warm

    # --- tasks -------------------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks[name] = task
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            log.error("engine task %s crashed: %r", task.get_name(), exc, exc_info=exc)
            if self._failure is None:
                self._failure = exc
            self._done.set()

    async def _cancel(self, name: str) -> None:
        task = self._tasks.get(name)
        if task is None or task.done():
            return
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            if not task.cancelled():
                raise  # we were cancelled ourselves, not only the task

    async def _timer(self) -> None:
        while True:
            await asyncio.sleep(self._tick_s)
            try:
                self._queue.put_nowait(_Tick(self._clock.now_ms() - self._grace_ms))
            except asyncio.QueueFull:
                continue  # harmless: the next tick carries a later time (see the module docstring)

    async def _consume(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                await self._flush(None)
                return
            if isinstance(item, _Tick):
                self._collect(self.aggregator.advance(item.now_ms))
            else:
                self._handle(*item)
            await self._flush(self._complete_through())

    def _handle(self, event: MarketEvent, received_ms: int) -> None:
        if isinstance(event, Trade):
            self._counts["trades"] += 1
            seam = self._seam.get(event.symbol)
            if seam is not None and event.trade_id <= seam:
                self._counts["seam_overlap"] += 1
                return
            if self.aggregator.is_late(event):
                self.validator.reject(
                    Reason.LATE,
                    event.symbol,
                    f"trade {event.trade_id} at {event.ts}: its minute already closed",
                )
                return
            if self.validator.check_trade(event, received_ms) is not None:
                return
            self._collect(self.aggregator.on_trade(event))
        elif isinstance(event, MarkPrice):
            self._counts["marks"] += 1
            if self.validator.check_mark(event, received_ms) is None:
                self._marks[event.symbol] = event
        else:
            self._counts["ignored"] += 1

    def _collect(self, candles: list[Candle]) -> None:
        for candle in candles:
            self._closed[candle.interval] += 1
            self._pending.setdefault(candle.close_time, []).append(candle)

    def _complete_through(self) -> int | None:
        """Every moment before this time has closed for every symbol."""
        opens = [self.aggregator.minute_open(s) for s in self.symbols]
        known = [m for m in opens if m is not None]
        return min(known) if known else None

    async def _flush(self, through: int | None) -> None:
        """Evaluate each pending moment that closed before ``through`` (all of them when None), in order."""
        if not self._pending:
            return
        for moment in sorted(self._pending):
            if through is not None and moment >= through:
                break
            candles = self._pending.pop(moment)
            candles.sort(key=lambda c: (self._rank[c.interval], c.symbol))
            await self._evaluate(candles)

    async def _evaluate(self, candles: list[Candle]) -> None:
        started = time.perf_counter_ns()
        self._counts["batches"] += 1
        try:
            signals = await self._sensors.evaluate(candles)
        except Exception as exc:
            # Not fatal for the data path: the next moment is evaluated normally; the loss is counted.
            self._counts["evaluate_errors"] += 1
            log.error("signals of %d candles at %d lost: %r", len(candles), candles[0].close_time, exc)
            return
        self._latency.add(time.perf_counter_ns() - started)
        if not signals:
            return
        self._counts["signals"] += len(signals)
        for signal in signals:
            self._latest[(signal.sensor_id, signal.symbol, signal.timeframe)] = signal
        self._last_signal_ts = max(s.ts for s in signals)
        self._last_signal_at = self._clock.now_ms()
        if self._on_signals is not None:
            try:
                self._on_signals(signals)
            except Exception:
                self._counts["callback_errors"] += 1
                log.exception("on_signals raised; the engine goes on")
