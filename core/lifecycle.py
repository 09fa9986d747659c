"""Lifecycle helpers of a session: supervised tasks, signals, and steps bounded by a deadline.

- :class:`TaskSupervisor`: every long-lived task of the session is started through it, with a name. A task
  that ends with an exception is logged with its name and recorded; a *critical* one also sets
  :attr:`TaskSupervisor.failed`, which the session treats as a reason to shut down. Nothing fails silently.
- :class:`SignalRouter`: SIGINT/SIGTERM start the shutdown (first signal) or ask for an immediate exit
  (second signal); SIGUSR2 asks for a live report. Handlers only set events and call short synchronous
  callbacks on the loop: the work happens in the session's own tasks.
- :func:`bounded`: run one shutdown step with a time bound, logging (not raising) a failure or a timeout,
  so one stuck step never keeps the next ones from running.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from core.logs import get_logger

__all__ = ["SignalRouter", "TaskFailure", "TaskSupervisor", "bounded"]

log = get_logger("lifecycle")

T = TypeVar("T")


class TaskFailure:
    """A supervised task that ended with an exception."""

    __slots__ = ("critical", "error", "name")

    def __init__(self, name: str, error: BaseException, *, critical: bool) -> None:
        self.name = name
        self.error = error
        self.critical = critical

    def __repr__(self) -> str:
        return f"TaskFailure({self.name!r}, {self.error!r}, critical={self.critical})"


class TaskSupervisor:
    """Starts named tasks, keeps them until they end, and surfaces their failures.

    ``on_failure`` is called (synchronously, on the loop) for every failed task; it must not raise.
    """

    def __init__(self, *, on_failure: Callable[[TaskFailure], None] | None = None) -> None:
        self._tasks: dict[asyncio.Task[Any], bool] = {}  # task -> critical
        self._on_failure = on_failure
        self.failures: list[TaskFailure] = []
        self.failed = asyncio.Event()

    def spawn(self, coro: Coroutine[Any, Any, T], name: str, *, critical: bool = False) -> asyncio.Task[T]:
        """Start ``coro`` as the task ``name``. A critical task's failure sets :attr:`failed`."""
        task = asyncio.create_task(coro, name=name)
        self._tasks[task] = critical
        task.add_done_callback(self._done)
        return task

    def running(self) -> list[str]:
        """Names of the tasks still running."""
        return sorted(t.get_name() for t in self._tasks if not t.done())

    def first_failure(self) -> TaskFailure | None:
        """The first critical failure, if any."""
        return next((f for f in self.failures if f.critical), None)

    def _done(self, task: asyncio.Task[Any]) -> None:
        critical = self._tasks.pop(task, False)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            if critical:
                log.info("task %s ended", task.get_name())
            return
        failure = TaskFailure(task.get_name(), exc, critical=critical)
        self.failures.append(failure)
        log.error(
            "task %s failed: %r%s", task.get_name(), exc, " (critical)" if critical else "", exc_info=exc
        )
        if critical:
            self.failed.set()
        if self._on_failure is not None:
            try:
                self._on_failure(failure)
            except Exception:
                log.exception("task failure listener raised")

    async def cancel(self, *names: str, grace_s: float = 5.0) -> None:
        """Cancel the named running tasks (every one when no name is given) and wait for them to end."""
        chosen = [t for t in self._tasks if not names or t.get_name() in names]
        for task in chosen:
            task.cancel()
        if chosen:
            _, pending = await asyncio.wait(chosen, timeout=grace_s)
            for task in pending:
                log.error("task %s did not end within %.1fs of being cancelled", task.get_name(), grace_s)

    async def wait(self, *names: str, within_s: float) -> bool:
        """Wait up to ``within_s`` seconds for the named tasks (every one when none is named) to end."""
        chosen = [t for t in self._tasks if not names or t.get_name() in names]
        if not chosen:
            return True
        _, pending = await asyncio.wait(chosen, timeout=within_s)
        return not pending

    def names_with_prefix(self, prefix: str) -> list[str]:
        """Names of the running tasks whose name starts with ``prefix``."""
        return sorted(t.get_name() for t in self._tasks if t.get_name().startswith(prefix) and not t.done())


class SignalRouter:
    """Routes process signals to the session: stop (once), exit now (twice), live report (SIGUSR2).

    ``install`` registers loop signal handlers (the main thread's loop only); ``uninstall`` restores the
    defaults. :attr:`stop` is set by the first SIGINT/SIGTERM, :attr:`hurry` by the second.
    """

    def __init__(
        self,
        *,
        on_stop: Callable[[str], None] | None = None,
        on_hurry: Callable[[str], None] | None = None,
        on_report: Callable[[], None] | None = None,
    ) -> None:
        self.stop = asyncio.Event()
        self.hurry = asyncio.Event()
        self.reason = ""
        self._on_stop = on_stop
        self._on_hurry = on_hurry
        self._on_report = on_report
        self._installed: list[signal.Signals] = []

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_stop, sig.name)
            self._installed.append(sig)
        if self._on_report is not None and hasattr(signal, "SIGUSR2"):
            loop.add_signal_handler(signal.SIGUSR2, self._report)
            self._installed.append(signal.SIGUSR2)

    def uninstall(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in self._installed:
            loop.remove_signal_handler(sig)
        self._installed.clear()

    def request_stop(self, reason: str) -> None:
        """First call: start the shutdown; a second call: exit at once (state still saved)."""
        if not self.stop.is_set():
            self.reason = reason
            self.stop.set()
            log.warning("%s: shutting down (send it again to exit at once, state saved)", reason)
            if self._on_stop is not None:
                self._on_stop(reason)
            return
        if not self.hurry.is_set():
            self.hurry.set()
            log.warning("%s again: exiting at once (saving state)", reason)
            if self._on_hurry is not None:
                self._on_hurry(reason)

    def _report(self) -> None:
        if self._on_report is None:
            return
        try:
            self._on_report()
        except Exception:
            log.exception("live report request failed")


async def bounded(step: str, action: Callable[[], Awaitable[T]], within_s: float) -> T | None:
    """Run one shutdown step within ``within_s`` seconds; a failure or timeout is logged, never raised.

    Cancellation of the caller still propagates (a second signal must be able to cut the sequence short).
    """
    started = time.monotonic()
    try:
        result = await asyncio.wait_for(action(), timeout=max(within_s, 0.01))
    except TimeoutError:
        log.error("shutdown step '%s' did not finish within %.1fs; going on", step, within_s)
        return None
    except Exception as exc:
        log.error("shutdown step '%s' failed: %r; going on", step, exc, exc_info=exc)
        return None
    log.info("shutdown step '%s' done in %.2fs", step, time.monotonic() - started)
    return result
