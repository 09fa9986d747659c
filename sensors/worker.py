"""The sensor worker: ring buffers per (symbol, timeframe) and every enabled sensor, in its own process.

:class:`WorkerCore` is the whole computation with no I/O (testable in-process); :func:`worker_main` is the
process entry point: a plain blocking loop over its end of the pipe, since a worker has nothing else to do
than wait for the next batch. It has no event loop and no threads, so it is safe to start it with the
``spawn`` or ``forkserver`` method, and it exits on :class:`~sensors.messages.Stop` or when the parent's end
of the pipe closes (the parent died): a worker never outlives its manager.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection

from core.config_engine import SensorSettings
from sensors.base import Sensor
from sensors.messages import (
    Evaluate,
    Failed,
    Ready,
    SensorFailure,
    SignalGroup,
    Signals,
    Stop,
    Warmup,
    decode_to_worker,
    encode,
)
from sensors.ring import RingBuffer

__all__ = ["SensorFactory", "WorkerCore", "describe_error", "serve", "worker_main"]

# Builds the enabled, parameterised sensors from settings. It runs inside each worker, so it must be a
# module-level function (the spawn start method pickles it by qualified name).
SensorFactory = Callable[[SensorSettings], Sequence[Sensor]]


def describe_error(exc: BaseException) -> str:
    """``"TypeName: message"``, what a failure report carries across the pipe."""
    return f"{type(exc).__name__}: {exc}"


class WorkerCore:
    """Ring buffers and sensors of one worker; turns Warmup/Evaluate requests into replies."""

    def __init__(self, sensors: Sequence[Sensor], capacity: int) -> None:
        longest = max((s.spec.lookback for s in sensors), default=0)
        if capacity < longest:
            raise ValueError(f"ring capacity {capacity} is below the longest sensor lookback {longest}")
        self._sensors = tuple(sensors)
        self._capacity = capacity
        self._rings: dict[tuple[str, str], RingBuffer] = {}
        self._by_timeframe: dict[str, tuple[tuple[int, Sensor], ...]] = {}

    @property
    def sensors(self) -> tuple[Sensor, ...]:
        """The sensors this worker runs."""
        return self._sensors

    @property
    def sensor_ids(self) -> tuple[str, ...]:
        """Their ids, in the order :class:`~sensors.messages.SignalGroup` indexes them."""
        return tuple(sensor.spec.id for sensor in self._sensors)

    def ring(self, symbol: str, timeframe: str) -> RingBuffer:
        """The ring buffer of (symbol, timeframe), created empty on first use."""
        key = (symbol, timeframe)
        ring = self._rings.get(key)
        if ring is None:
            ring = self._rings[key] = RingBuffer(self._capacity)
        return ring

    def applicable(self, timeframe: str) -> tuple[tuple[int, Sensor], ...]:
        """(index, sensor) of the sensors running on ``timeframe``: declaring it, or none (= all)."""
        found = self._by_timeframe.get(timeframe)
        if found is None:
            found = tuple(
                (index, s)
                for index, s in enumerate(self._sensors)
                if not s.spec.timeframes or timeframe in s.spec.timeframes
            )
            self._by_timeframe[timeframe] = found
        return found

    def handle(self, message: Warmup | Evaluate) -> Ready | Signals:
        """The reply to one request."""
        if isinstance(message, Warmup):
            return self.warmup(message)
        return self.evaluate(message)

    def warmup(self, message: Warmup) -> Ready:
        """Load history; bars not newer than a ring's last one are skipped (a replayed overlap)."""
        loaded = 0
        for bar in message.bars:
            loaded += self.ring(bar.symbol, bar.timeframe).append(bar)
        return Ready(batch_id=message.batch_id, loaded=loaded, skipped=len(message.bars) - loaded)

    def evaluate(self, message: Evaluate) -> Signals:
        """Append each bar and run every applicable sensor that has its lookback.

        A sensor without enough history yet is not asked (no signal, rather than a meaningless neutral
        one). A sensor that raises, or answers outside direction {-1, 0, 1} / strength [0, 1], is reported
        as a failure and yields nothing for that candle; the other sensors are unaffected.
        """
        started = time.perf_counter_ns()
        groups: list[SignalGroup] = []
        failures: list[SensorFailure] = []
        evaluations = 0
        skipped = 0
        for bar in message.bars:
            ring = self.ring(bar.symbol, bar.timeframe)
            if not ring.append(bar):
                skipped += 1
                continue
            bars = ring.bars()
            available = len(bars)
            indices: list[int] = []
            directions: list[int] = []
            strengths: list[float] = []
            for index, sensor in self.applicable(bar.timeframe):
                spec = sensor.spec
                if available < spec.lookback:
                    continue
                evaluations += 1
                try:
                    raw_direction, raw_strength = sensor.evaluate(bars)
                    direction, strength = _checked(raw_direction, raw_strength)
                except Exception as exc:  # one bad sensor must never take the worker down
                    failures.append(SensorFailure(spec.id, bar.symbol, bar.timeframe, describe_error(exc)))
                    continue
                indices.append(index)
                directions.append(direction)
                strengths.append(strength)
            if indices:
                groups.append(
                    SignalGroup(bar.symbol, bar.timeframe, bar.close_time, indices, directions, strengths)
                )
        return Signals(
            batch_id=message.batch_id,
            groups=groups,
            compute_ns=time.perf_counter_ns() - started,
            evaluations=evaluations,
            skipped=skipped,
            failures=failures,
        )


def _checked(direction: object, strength: object) -> tuple[int, float]:
    """Plain ``int``/``float`` (numpy scalars do not encode) within the Sensor contract, or ValueError."""
    d = int(direction)  # type: ignore[call-overload]
    s = float(strength)  # type: ignore[arg-type]
    if d != direction or d not in (-1, 0, 1):
        raise ValueError(f"direction {direction!r} is not -1, 0 or 1")
    if not 0.0 <= s <= 1.0:  # also refuses NaN
        raise ValueError(f"strength {strength!r} is not within [0, 1]")
    return d, s


def worker_main(conn: Connection, settings: SensorSettings, factory: SensorFactory, capacity: int) -> None:
    """Process entry point: build the sensors, say Ready (batch 0) or Failed, then serve until Stop/EOF."""
    # Ctrl-C reaches the whole process group; the parent decides when workers stop (Stop, then kill).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        core = WorkerCore(factory(settings), capacity)
    except Exception as exc:
        conn.send_bytes(encode(Failed(batch_id=0, error=describe_error(exc))))
        return
    conn.send_bytes(encode(Ready(batch_id=0, sensor_ids=core.sensor_ids)))
    serve(conn, core)


def serve(conn: Connection, core: WorkerCore) -> None:
    """Answer requests in order until Stop or until the parent's end closes."""
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return  # the parent is gone; nobody is left to answer
        message = decode_to_worker(data)
        if isinstance(message, Stop):
            return
        reply: Ready | Signals | Failed
        try:
            reply = core.handle(message)
        except Exception as exc:  # a malformed batch is refused as a whole, the worker keeps serving
            reply = Failed(batch_id=message.batch_id, error=describe_error(exc))
        conn.send_bytes(encode(reply))
