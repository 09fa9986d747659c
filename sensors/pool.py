"""One supervised sensor worker: start, request/reply by batch id, death → restart → re-warm → re-send.

:class:`WorkerHandle` is what :class:`sensors.manager.SensorManager` holds per worker. It keeps every request
the worker has not answered yet; when the worker dies (EOF on its pipe) or sits on a batch past the batch
timeout (it is killed, which leads to EOF), the handle reaps the process, starts a new one, queues a
``Warmup`` of the manager's copy of the worker's candles, then every unanswered request in batch order, and
only then accepts new requests: the new process sees exactly the history and requests the old one had.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess

import msgspec

from core.clock import Clock
from core.config_engine import SensorSettings
from core.logs import get_logger
from sensors.channel import WorkerChannel
from sensors.messages import Bar, Evaluate, Failed, Ready, Signals, Stop, Warmup, decode_from_worker, encode
from sensors.worker import SensorFactory, worker_main

__all__ = [
    "BatchLostError",
    "PoolOptions",
    "SensorManagerError",
    "WorkerHandle",
    "WorkerStartError",
    "wait_exit",
]

log = get_logger("sensors")


class SensorManagerError(Exception):
    """Base of the sensor pool's errors."""


class WorkerStartError(SensorManagerError):
    """A worker could not start or build its sensors: fix the sensor settings (the message says why)."""


class BatchLostError(SensorManagerError):
    """A batch could not be computed (it kept killing its worker, was refused, or the pool stopped)."""


class PoolOptions(msgspec.Struct, frozen=True, kw_only=True):
    """How workers are started and supervised."""

    capacity: int  # ring buffer length per (symbol, timeframe)
    start_timeout_s: float = 60.0  # spawn + imports + building the sensors
    batch_timeout_s: float = 30.0  # a batch unanswered this long: the worker is killed and restarted
    stop_timeout_s: float = 5.0  # after Stop, before kill
    max_attempts: int = 3  # sends of one batch (first + re-sends after restarts) before BatchLostError


class _Request:
    __slots__ = ("attempts", "batch_id", "future", "internal", "payload", "timer")

    def __init__(
        self, batch_id: int, payload: bytes, future: asyncio.Future[Ready | Signals], internal: bool
    ):
        self.batch_id = batch_id
        self.payload = payload
        self.future = future
        self.internal = internal  # a re-warm of our own, superseded (not re-sent) by the next restart
        self.attempts = 0
        self.timer: asyncio.TimerHandle | None = None


async def wait_exit(process: BaseProcess, limit_s: float) -> bool:
    """Wait (on the process sentinel, not blocking the loop) up to ``limit_s`` for an exit; reap it."""
    if process.exitcode is None:
        loop = asyncio.get_running_loop()
        exited: asyncio.Future[None] = loop.create_future()
        fd = process.sentinel

        def on_exit() -> None:
            if not exited.done():
                exited.set_result(None)

        loop.add_reader(fd, on_exit)
        try:
            await asyncio.wait_for(exited, limit_s)
        except TimeoutError:
            return False
        finally:
            loop.remove_reader(fd)
    process.join(1.0)  # it has exited: this only collects the status, so no zombie is left
    return process.exitcode is not None


class WorkerHandle:
    """Supervisor of worker ``index``."""

    def __init__(
        self,
        index: int,
        *,
        context: SpawnContext | ForkServerContext,
        settings: SensorSettings,
        factory: SensorFactory,
        options: PoolOptions,
        sensor_ids: tuple[str, ...],
        history: Callable[[int], list[Bar]],
        batch_ids: Iterator[int],
        clock: Clock,
    ) -> None:
        self.index = index
        self._context = context
        self._settings = settings
        self._factory = factory
        self._options = options
        self._sensor_ids = sensor_ids
        self._history = history
        self._batch_ids = batch_ids
        self._clock = clock
        self._process: BaseProcess | None = None
        self._channel: WorkerChannel | None = None
        self._ready = False  # requests are written only when True; otherwise they wait in _pending
        self._stopping = False
        self._pending: dict[int, _Request] = {}
        self._reader: asyncio.Task[None] | None = None
        self._recovery: asyncio.Task[None] | None = None
        self._again: str | None = None  # the worker died again while a recovery was running
        self._crashes = 0  # losses since the last reply; bounds a restart loop on a poisoned history
        self.restarts = 0
        self.last_restart_ms: int | None = None

    @property
    def pid(self) -> int | None:
        """The current worker process id (``None`` before start or while down)."""
        return self._process.pid if self._process is not None else None

    async def start(self) -> None:
        """Start the worker and wait until it has built its sensors (``WorkerStartError`` otherwise)."""
        await self._spawn()
        self._ready = True

    async def request(self, message: Warmup | Evaluate) -> Ready | Signals:
        """Send ``message`` and wait for its reply; survives worker restarts (see the module doc)."""
        if self._stopping:
            raise BatchLostError(f"sensor worker {self.index} is stopping; batch {message.batch_id} not sent")
        request = _Request(
            message.batch_id, encode(message), asyncio.get_running_loop().create_future(), False
        )
        self._pending[request.batch_id] = request
        if self._ready:
            self._write(request)
            await self._drain()
        elif self._recovery is None or self._recovery.done():
            self._begin_recovery("it is down after a failed restart")
        return await request.future

    async def stop(self) -> None:
        """Ask the worker to exit, kill it after the deadline, reap it; fail whatever is still pending."""
        self._stopping = True
        if self._recovery is not None:
            # Let a restart in progress finish (bounded by the start timeout) so its process is ours to stop.
            with contextlib.suppress(Exception):
                await self._recovery
        if self._channel is not None and self._ready:
            with contextlib.suppress(ConnectionError, TimeoutError):  # it is killed below if need be
                self._channel.write(encode(Stop()))
                await asyncio.wait_for(self._channel.drain(), self._options.stop_timeout_s)
        process = self._process
        if process is not None and not await wait_exit(process, self._options.stop_timeout_s):
            log.warning("sensor worker %d (pid %s) ignored Stop; killing it", self.index, process.pid)
            await self._kill(process)
        await self._close()
        self._fail_pending(BatchLostError(f"sensor worker {self.index} stopped before answering"))

    # --- process lifecycle -------------------------------------------------------------------------------

    async def _spawn(self) -> None:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=worker_main,
            args=(child, self._settings, self._factory, self._options.capacity),
            name=f"casino-sensors-{self.index}",
            daemon=True,  # the multiprocessing atexit hook terminates it if the parent exits abruptly
        )
        try:
            await asyncio.to_thread(process.start)  # fork+exec and handing over the arguments
        except OSError as exc:
            parent.close()
            raise WorkerStartError(f"sensor worker {self.index} could not be started: {exc}") from exc
        finally:
            child.close()  # the worker holds its own copy; ours would hide its EOF
        try:
            channel = await WorkerChannel.open(parent)
            try:
                hello = decode_from_worker(
                    await asyncio.wait_for(channel.recv(), self._options.start_timeout_s)
                )
            except BaseException:
                await channel.close()
                raise
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, msgspec.DecodeError) as exc:
            await self._kill(process)
            reason = "timed out" if isinstance(exc, TimeoutError) else f"exited (code {process.exitcode})"
            raise WorkerStartError(f"sensor worker {self.index} did not start: {reason}") from exc
        except BaseException:  # cancelled: leave no orphan behind
            process.kill()
            process.join(1.0)
            raise
        problem = None
        if isinstance(hello, Failed):
            problem = f"could not build its sensors: {hello.error}"
        elif not isinstance(hello, Ready) or hello.sensor_ids != self._sensor_ids:
            # Signals name sensors by index: both sides must hold the same list (a deterministic factory).
            problem = "built other sensors than the manager (the sensor factory must be deterministic)"
        if problem is not None:
            await channel.close()
            await self._kill(process)
            raise WorkerStartError(f"sensor worker {self.index} {problem}")
        self._process, self._channel = process, channel
        self._reader = asyncio.create_task(self._read_loop(channel), name=f"sensor-worker-{self.index}")

    async def _kill(self, process: BaseProcess) -> None:
        if process.exitcode is None:
            process.kill()
        if not await wait_exit(process, self._options.stop_timeout_s):
            log.error("sensor worker %d (pid %s) survived SIGKILL", self.index, process.pid)

    async def _close(self) -> None:
        if self._reader is not None and self._reader is not asyncio.current_task():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._reader = None
        if self._channel is not None:
            await self._channel.close()
        self._channel = None
        self._ready = False

    # --- replies -----------------------------------------------------------------------------------------

    async def _read_loop(self, channel: WorkerChannel) -> None:
        try:
            while True:
                self._on_reply(decode_from_worker(await channel.recv()))
        except (asyncio.IncompleteReadError, ConnectionError):
            reason = "its pipe closed"
        except msgspec.DecodeError as exc:
            reason = f"it sent an unreadable reply ({exc})"
        if self._channel is channel and not self._stopping:
            self._begin_recovery(reason)

    def _on_reply(self, reply: Ready | Signals | Failed) -> None:
        self._crashes = 0
        request = self._pending.pop(reply.batch_id, None)
        if request is None:
            log.debug("sensor worker %d answered unknown batch %d", self.index, reply.batch_id)
            return
        if request.timer is not None:
            request.timer.cancel()
        if request.future.done():
            return
        if isinstance(reply, Failed):
            request.future.set_exception(
                BatchLostError(f"sensor worker {self.index} refused batch {reply.batch_id}: {reply.error}")
            )
        else:
            request.future.set_result(reply)

    # --- sending -----------------------------------------------------------------------------------------

    def _write(self, request: _Request) -> None:
        assert self._channel is not None
        request.attempts += 1
        self._channel.write(request.payload)
        loop = asyncio.get_running_loop()
        request.timer = loop.call_later(self._options.batch_timeout_s, self._on_timeout, request)

    async def _drain(self) -> None:
        # A broken pipe means the worker died: the read loop sees EOF and the recovery re-sends.
        with contextlib.suppress(ConnectionError):
            if self._channel is not None:
                await self._channel.drain()

    def _on_timeout(self, request: _Request) -> None:
        if request.batch_id not in self._pending or self._process is None:
            return
        log.error(
            "sensor worker %d (pid %s) left batch %d unanswered for %.1fs; killing it",
            self.index,
            self._process.pid,
            request.batch_id,
            self._options.batch_timeout_s,
        )
        self._process.kill()  # EOF follows, then the usual recovery

    # --- recovery ----------------------------------------------------------------------------------------

    def _begin_recovery(self, reason: str) -> None:
        if self._recovery is not None and not self._recovery.done():
            # Died again while being restarted: the running recovery goes round once more.
            self._again = reason
            return
        self._ready = False
        self._recovery = asyncio.create_task(self._recover(reason), name=f"sensor-recovery-{self.index}")

    async def _recover(self, reason: str | None) -> None:
        while reason is not None:
            self._again = None
            if self._crashes >= self._options.max_attempts:
                log.error(
                    "sensor worker %d lost %d times in a row without answering; leaving it down",
                    self.index,
                    self._crashes,
                )
                await self._bury(reason)
                self._fail_pending(BatchLostError(f"sensor worker {self.index} keeps dying: {reason}"))
                self._crashes = 0  # the next request starts a fresh series of attempts
                return
            self._crashes += 1
            await self._bury(reason)
            try:
                await self._spawn()
            except WorkerStartError as exc:
                log.error("sensor worker %d could not be restarted: %s", self.index, exc)
                self._fail_pending(BatchLostError(str(exc)))
                return
            self._resend()
            await self._drain()
            reason = self._again

    async def _bury(self, reason: str) -> None:
        """Reap the lost process, count and log the loss, stop the timers of what it left unanswered."""
        process, self._process = self._process, None
        await self._close()
        for request in self._pending.values():
            if request.timer is not None:
                request.timer.cancel()
        if process is None:
            return
        await self._kill(process)
        self.restarts += 1
        self.last_restart_ms = self._clock.now_ms()
        log.warning(
            "sensor worker %d (pid %s) lost: %s (exit code %s); restarting (#%d)",
            self.index,
            process.pid,
            reason,
            process.exitcode,
            self.restarts,
        )

    def _resend(self) -> None:
        """Queue the re-warm, then every unanswered request in batch order, then accept new requests.

        Nothing here awaits, so no new request can be written before these.
        """
        for batch_id, request in list(self._pending.items()):
            if request.internal:  # an older re-warm: superseded by the one below
                del self._pending[batch_id]
                request.future.cancel()
        bars = self._history(self.index)
        if bars:
            self._rewarm(bars)
        for batch_id in sorted(self._pending):
            request = self._pending[batch_id]
            if request.internal:
                continue
            if request.attempts >= self._options.max_attempts:
                del self._pending[batch_id]
                request.future.set_exception(
                    BatchLostError(
                        f"batch {batch_id} was lost with sensor worker {self.index} {request.attempts} times"
                    )
                )
                continue
            self._write(request)
        self._ready = True
        log.info(
            "sensor worker %d restarted as pid %s, re-warmed with %d candles", self.index, self.pid, len(bars)
        )

    def _rewarm(self, bars: list[Bar]) -> None:
        batch_id = next(self._batch_ids)
        future: asyncio.Future[Ready | Signals] = asyncio.get_running_loop().create_future()
        future.add_done_callback(self._rewarm_done)
        request = _Request(batch_id, encode(Warmup(batch_id=batch_id, bars=bars)), future, True)
        self._pending[batch_id] = request
        self._write(request)

    def _rewarm_done(self, future: asyncio.Future[Ready | Signals]) -> None:
        if not future.cancelled() and future.exception() is not None:
            log.error("sensor worker %d re-warm failed: %s", self.index, future.exception())

    def _fail_pending(self, error: Exception) -> None:
        pending, self._pending = self._pending, {}
        for request in pending.values():
            if request.timer is not None:
                request.timer.cancel()
            if not request.future.done():
                if request.internal:
                    request.future.cancel()
                else:
                    request.future.set_exception(error)
