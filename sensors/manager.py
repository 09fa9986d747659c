"""SensorManager: the asyncio side of the sensor process pool.

N worker processes (:mod:`sensors.worker`) each own the ring buffers of a shard of the symbols
(:mod:`sensors.sharding`). The manager turns a moment's closed candles into ONE ``Evaluate`` message per
worker, waits for every reply (matched by batch id) and returns all signals.

Process start: workers are started with the ``spawn`` method by default (``forkserver`` is accepted too),
never ``fork``: forking a process that runs an event loop and threads copies their locks and state
mid-flight. A spawned worker imports numpy, TA-Lib and the sensor library itself, which is what a restart
costs (0.2–1 s). As with any spawned process, the program's main module must keep its work under
``if __name__ == "__main__":`` (the child imports it), and ``factory`` must be importable by name.

Candles cross to the workers as floats (:class:`sensors.messages.Bar`): indicators are float64 math, and
nothing computed there goes back onto the wire as a price; signals come back as columns per candle.

Pipes: see :mod:`sensors.channel`; reads and writes go through the event loop and never block it.

Worker death (EOF on its pipe, or a batch unanswered for ``batch_timeout_s``, after which the worker is
killed) is counted and logged; the worker is restarted, re-warmed from the manager's own copy of the last
``capacity`` candles of each of its (symbol, timeframe), then every request it had not answered is sent
again. The manager adds a batch's candles to that copy only once the batch is answered, so a re-sent batch
is never mistaken for history it already holds. A batch that kills its worker ``max_attempts`` times is
failed (:class:`BatchLostError`) rather than retried forever.

Shutdown: ``stop()`` waits for the batch in flight (answered or re-run), sends ``Stop``, waits up to
``stop_timeout_s`` for each worker to exit, kills the late ones and reaps every process: no zombies.
"""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import os
import time
from collections import Counter, deque
from collections.abc import Sequence
from multiprocessing.context import ForkServerContext, SpawnContext

import msgspec

from core.clock import Clock
from core.config_engine import SensorSettings
from core.logs import get_logger
from core.types import Candle, Signal
from sensors.base import Sensor, SensorSpec
from sensors.messages import Bar, Evaluate, SensorFailure, Signals, Warmup, bar_from_candle, expand
from sensors.pool import BatchLostError, PoolOptions, SensorManagerError, WorkerHandle, WorkerStartError
from sensors.sharding import ShardMap
from sensors.worker import SensorFactory

__all__ = [
    "RING_MARGIN",
    "BatchLostError",
    "ManagerStats",
    "SensorManager",
    "SensorManagerError",
    "WorkerStartError",
    "WorkerStats",
    "default_factory",
    "default_workers",
]

log = get_logger("sensors")

# Bars kept beyond the longest lookback: recursive indicators (EMA, RSI, ATR) settle with more history.
RING_MARGIN = 64
# Log the first failure of a sensor, then one line per this many more (a broken sensor fails every candle).
_FAILURE_LOG_EVERY = 1000
_START_METHODS = ("spawn", "forkserver")


def default_factory(settings: SensorSettings) -> Sequence[Sensor]:
    """The sensor library: its ``build_sensors`` (it also runs inside each worker)."""
    from sensors.library import build_sensors

    return build_sensors(settings)


def default_workers(settings: SensorSettings) -> int:
    """``settings.workers``, or CPU count − 1 (at least 1) when it is 0."""
    if settings.workers > 0:
        return settings.workers
    return max((os.cpu_count() or 1) - 1, 1)


class WorkerStats(msgspec.Struct, frozen=True, kw_only=True):
    """One worker's counters since the manager started."""

    index: int
    pid: int | None
    symbols: tuple[str, ...]
    restarts: int
    last_restart_ms: int | None  # session clock
    batches: int
    evaluations: int
    compute_ns: int  # total time inside the worker on Evaluate batches
    last_compute_ns: int


class ManagerStats(msgspec.Struct, frozen=True, kw_only=True):
    """The pool's counters: per worker, and what the last ``evaluate`` cost end to end."""

    workers: tuple[WorkerStats, ...]
    restarts: int
    batches: int
    signals: int
    sensor_failures: dict[str, int]  # by sensor id
    last_round_trip_ns: int  # last evaluate(): from the call to the last reply decoded


class _WorkerCounters:
    __slots__ = ("batches", "compute_ns", "evaluations", "last_compute_ns")

    def __init__(self) -> None:
        self.batches = 0
        self.evaluations = 0
        self.compute_ns = 0
        self.last_compute_ns = 0


def _symbol_of(bar: Bar) -> str:
    return bar.symbol


class SensorManager:
    """Runs every enabled sensor on every closed candle, in a pool of worker processes.

    ``factory`` builds the sensors from ``settings`` (in this process, to learn their lookbacks and fail
    early on bad settings, and in every worker); it must be a module-level function. ``capacity`` is the
    ring length per (symbol, timeframe): by default the longest lookback + :data:`RING_MARGIN`.
    ``evaluate`` and ``warm_up`` are serialised: one moment's batch at a time, in close-time order.
    """

    def __init__(
        self,
        settings: SensorSettings,
        *,
        timeframes: Sequence[str],
        clock: Clock,
        factory: SensorFactory = default_factory,
        workers: int | None = None,
        capacity: int | None = None,
        start_method: str = "spawn",
        batch_timeout_s: float = 30.0,
        start_timeout_s: float = 60.0,
        stop_timeout_s: float = 5.0,
        max_attempts: int = 3,
    ) -> None:
        if start_method not in _START_METHODS:
            raise ValueError(f"start_method must be one of {_START_METHODS}, got {start_method!r}")
        self._settings = settings
        self._timeframes = frozenset(timeframes)
        self._clock = clock
        self._factory = factory
        self._specs = tuple(sensor.spec for sensor in factory(settings))
        self._sensor_ids = tuple(spec.id for spec in self._specs)
        longest = max((spec.lookback for spec in self._specs), default=0)
        self._capacity = capacity if capacity is not None else longest + RING_MARGIN
        if self._capacity < max(longest, 1):
            raise ValueError(f"capacity {self._capacity} is below the longest sensor lookback {longest}")
        self._workers_n = workers if workers is not None else default_workers(settings)
        if self._workers_n < 1:
            raise ValueError(f"need at least one worker, got {self._workers_n}")
        self._context: SpawnContext | ForkServerContext = (
            multiprocessing.get_context("forkserver")
            if start_method == "forkserver"
            else multiprocessing.get_context("spawn")
        )
        self._options = PoolOptions(
            capacity=self._capacity,
            start_timeout_s=start_timeout_s,
            batch_timeout_s=batch_timeout_s,
            stop_timeout_s=stop_timeout_s,
            max_attempts=max_attempts,
        )
        self._shards = ShardMap(self._workers_n)
        self._history: dict[tuple[str, str], deque[Bar]] = {}
        self._handles: list[WorkerHandle] = []
        self._counters = [_WorkerCounters() for _ in range(self._workers_n)]
        self._batch_ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._running = False
        self._batches = 0
        self._signals = 0
        self._failures: Counter[str] = Counter()
        self._last_round_trip_ns = 0

    @property
    def specs(self) -> tuple[SensorSpec, ...]:
        """The enabled sensors, as configured."""
        return self._specs

    @property
    def capacity(self) -> int:
        """Ring buffer length per (symbol, timeframe), in the workers and in the manager's copy."""
        return self._capacity

    @property
    def workers(self) -> int:
        """Number of worker processes."""
        return self._workers_n

    @property
    def restarts(self) -> int:
        """Worker processes lost and restarted since start."""
        return sum(handle.restarts for handle in self._handles)

    def pids(self) -> list[int | None]:
        """Current process id of each worker, by index."""
        return [handle.pid for handle in self._handles]

    def worker_of(self, symbol: str) -> int:
        """The worker owning ``symbol`` (``KeyError`` before it was first seen)."""
        return self._shards.worker_of(symbol)

    async def start(self) -> None:
        """Start the workers and wait until each has built its sensors (``WorkerStartError`` otherwise)."""
        if self._running:
            return
        self._handles = [
            WorkerHandle(
                index,
                context=self._context,
                settings=self._settings,
                factory=self._factory,
                options=self._options,
                sensor_ids=self._sensor_ids,
                history=self._history_of,
                batch_ids=self._batch_ids,
                clock=self._clock,
            )
            for index in range(self._workers_n)
        ]
        results = await asyncio.gather(*(h.start() for h in self._handles), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            await asyncio.gather(*(h.stop() for h in self._handles), return_exceptions=True)
            self._handles = []
            raise errors[0]
        self._running = True
        log.info(
            "sensor pool started: %d workers (%s), %d sensors, ring capacity %d",
            self._workers_n,
            self._context.get_start_method(),
            len(self._specs),
            self._capacity,
        )

    async def warm_up(self, candles: Sequence[Candle]) -> None:
        """Load closed history (any order; per (symbol, timeframe) only candles newer than held are kept)."""
        bars = self._bars(candles)
        async with self._lock:
            self._require_running()
            for bar in bars:
                self._remember(bar)
            groups = self._shards.split(bars, _symbol_of)
            await asyncio.gather(
                *(
                    self._handles[w].request(Warmup(batch_id=next(self._batch_ids), bars=g))
                    for w, g in groups.items()
                )
            )

    async def evaluate(self, candles: Sequence[Candle]) -> list[Signal]:
        """Every signal of every enabled sensor on these closed candles (one message per worker).

        Raises :class:`BatchLostError` if a worker's part could not be computed (the other parts are kept
        in the history, and their signals are lost with this call).
        """
        bars = self._bars(candles)
        async with self._lock:
            self._require_running()
            started = time.perf_counter_ns()
            groups = self._shards.split(bars, _symbol_of)
            order = list(groups)
            replies = await asyncio.gather(
                *(
                    self._handles[w].request(Evaluate(batch_id=next(self._batch_ids), bars=groups[w]))
                    for w in order
                ),
                return_exceptions=True,
            )
            self._last_round_trip_ns = time.perf_counter_ns() - started
            signals: list[Signal] = []
            error: BaseException | None = None
            for worker, reply in zip(order, replies, strict=True):
                if isinstance(reply, BaseException):
                    error = error or reply
                    continue
                assert isinstance(reply, Signals)
                for bar in groups[worker]:
                    self._remember(bar)
                self._account(worker, reply)
                signals.extend(expand(reply.groups, self._sensor_ids))
            self._batches += 1
            self._signals += len(signals)
            if error is not None:
                raise error
            return signals

    async def stop(self) -> None:
        """Stop every worker cleanly, after the batch in flight (if any) is answered or re-run."""
        async with self._lock:
            if not self._running:
                return
            self._running = False
            results = await asyncio.gather(*(h.stop() for h in self._handles), return_exceptions=True)
            for handle, result in zip(self._handles, results, strict=True):
                if isinstance(result, Exception):
                    log.error("sensor worker %d did not stop cleanly: %s", handle.index, result)
            log.info("sensor pool stopped after %d batches, %d restarts", self._batches, self.restarts)

    def stats(self) -> ManagerStats:
        """A snapshot of the pool's counters."""
        workers = tuple(
            WorkerStats(
                index=h.index,
                pid=h.pid,
                symbols=tuple(self._shards.symbols_of(h.index)),
                restarts=h.restarts,
                last_restart_ms=h.last_restart_ms,
                batches=c.batches,
                evaluations=c.evaluations,
                compute_ns=c.compute_ns,
                last_compute_ns=c.last_compute_ns,
            )
            for h, c in zip(self._handles, self._counters, strict=True)
        )
        return ManagerStats(
            workers=workers,
            restarts=self.restarts,
            batches=self._batches,
            signals=self._signals,
            sensor_failures=dict(self._failures),
            last_round_trip_ns=self._last_round_trip_ns,
        )

    # --- internals ---------------------------------------------------------------------------------------

    def _require_running(self) -> None:
        if not self._running:
            raise SensorManagerError("the sensor pool is not running: call start() first")

    def _bars(self, candles: Sequence[Candle]) -> list[Bar]:
        for candle in candles:
            if candle.interval not in self._timeframes:
                raise ValueError(
                    f"{candle.symbol} candle on timeframe {candle.interval!r}, which is not one of the "
                    f"engine's timeframes {sorted(self._timeframes)}"
                )
            if not candle.closed:
                raise ValueError(
                    f"{candle.symbol} {candle.interval} candle at {candle.close_time} is not closed"
                )
        # Stable: candles of one (symbol, timeframe) reach its ring in close-time order.
        return sorted((bar_from_candle(c) for c in candles), key=lambda b: b.close_time)

    def _remember(self, bar: Bar) -> None:
        key = (bar.symbol, bar.timeframe)
        kept = self._history.get(key)
        if kept is None:
            kept = self._history[key] = deque(maxlen=self._capacity)
        if not kept or bar.close_time > kept[-1].close_time:
            kept.append(bar)

    def _history_of(self, worker: int) -> list[Bar]:
        """The manager's copy of every (symbol, timeframe) a worker owns, oldest first per key."""
        owned = set(self._shards.symbols_of(worker))
        return [bar for (symbol, _), kept in sorted(self._history.items()) if symbol in owned for bar in kept]

    def _account(self, worker: int, reply: Signals) -> None:
        counters = self._counters[worker]
        counters.batches += 1
        counters.evaluations += reply.evaluations
        counters.compute_ns += reply.compute_ns
        counters.last_compute_ns = reply.compute_ns
        if reply.skipped:
            log.warning(
                "sensor worker %d skipped %d candles not newer than the ones it holds (sent twice?)",
                worker,
                reply.skipped,
            )
        for failure in reply.failures:
            self._log_failure(failure)

    def _log_failure(self, failure: SensorFailure) -> None:
        self._failures[failure.sensor_id] += 1
        count = self._failures[failure.sensor_id]
        if count == 1 or count % _FAILURE_LOG_EVERY == 0:
            log.warning(
                "sensor %s failed on %s %s (%d failures so far): %s",
                failure.sensor_id,
                failure.symbol,
                failure.timeframe,
                count,
                failure.error,
                symbol=failure.symbol,
            )
