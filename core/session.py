"""The Session: the one place where a trading session's components are built, wired, run and shut down.

Start (``Session.run``): refuse what must not start (live without confirmation, a state directory in use);
open the venue (the embedded sandbox by default); recover the state from ``state.dir`` (snapshot + WAL,
holding its lock); open the journal and start the session in it; take the instruments; build the fill
processor, risk engine, sensor pool, player, croupier and reconciler; start the croupier and the user stream;
reconcile with the exchange BEFORE trading; then start the engine (market stream → candles → sensors →
signals → player → risk → croupier) and the housekeeping tasks (snapshots, periodic reconciliation, account
samples with halts, weights, status line, metrics). Wiring in docs/SESSION.md.

Shutdown (the blueprint's order, :mod:`core.session_shutdown`): stop the inputs (engine and sensors; wait
for executions in flight) → apply the open-position policy (leave positions with their stops working and
the dead-man switch disarmed, or sweep) → fetch the final balance → write the report → disconnect → save the
state (final snapshot, journal end, WAL closed, lock released). SIGINT/SIGTERM start it, bounded by
``session.shutdown_deadline_s``; a second signal cuts it short: the state is still saved. SIGUSR2 prints the
live report and writes it to the session's report folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from core.clock import LiveClock
from core.config import Settings
from core.lifecycle import SignalRouter, TaskSupervisor
from core.logs import get_logger
from core.report.model import ReportPaths
from core.session_build import SessionStartError, refusal, session_settings
from core.session_live import LiveView, SessionParts
from core.session_record import SessionRecorder
from core.session_shutdown import Shutdown
from core.session_start import Components, start_components
from core.session_view import SessionView
from core.status import StatusPrinter
from exchanges.errors import VenueError
from state.journal import Journal
from state.recovery import RecoveryError, RecoveryResult, StateDirLock, StateDirLockedError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_REFUSED", "Session"]

log = get_logger("session")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 2


class Session:
    """One trading session (see the module docstring). ``out`` receives what a person should read."""

    def __init__(self, settings: Settings, *, session_id: str, out: TextIO = sys.stdout) -> None:
        self.settings = session_settings(settings)
        self.session_id = session_id
        self.out = out
        self.printer = StatusPrinter(out)
        self.recorder = SessionRecorder(decisions_kept=self.settings.session.decisions_kept)
        self.report_folder = Path(self.settings.session.report_dir) / session_id
        self.parts = SessionParts(
            settings=self.settings,
            session_id=session_id,
            clock=LiveClock(),
            recorder=self.recorder,
            report_dir=str(self.report_folder),
            symbols=self.settings.symbols,
        )
        self._view = LiveView(self.parts)
        self.supervisor = TaskSupervisor()
        self.signals = SignalRouter(
            on_stop=lambda why: self.say(f"{why}: stopping (send it again to exit at once)"),
            on_report=self._on_report_signal,
        )
        self.components: Components | None = None
        self.recovery: RecoveryResult | None = None
        self.journal: Journal | None = None
        self.report_paths: ReportPaths | None = None
        self.exit_status = "failed"

    @property
    def view(self) -> SessionView:
        """Read-only access for reports and metrics."""
        return self._view

    def say(self, text: str) -> None:
        """Print a line for the person running the session."""
        self.printer.say(text)

    # --- reports -------------------------------------------------------------------------------------------

    def live_report(self) -> str:
        """The live report (SIGUSR2): positions and protection, PnL, equity, risk, halts, connector health."""
        from core.report import live_report

        return live_report(self.view)

    def _on_report_signal(self) -> None:
        self.supervisor.spawn(self._write_live_report(), "live-report")

    async def _write_live_report(self) -> Path | None:
        """Print the live report and write it to the session's report folder; trading goes on meanwhile."""
        text = self.live_report()
        self.say(text)
        stamp = datetime.fromtimestamp(self.parts.clock.now_ms() / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.report_folder / f"live-{stamp}.txt"

        def write() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")

        await asyncio.to_thread(write)
        self.say(f"live report written to {path}")
        return path

    # --- run -----------------------------------------------------------------------------------------------

    async def run(self, *, duration_s: float | None = None) -> int:
        """Start, trade until stopped (a signal, ``duration_s`` wall seconds, a failure), shut down.

        Returns the process exit code: 0 ended cleanly, 1 failed, 2 refused to start.
        """
        duration = duration_s if duration_s is not None else self.settings.session.duration_s
        reason = refusal(self.settings)
        if reason is not None:
            self.say(f"casino: {reason}")
            return EXIT_REFUSED
        try:
            # Fail fast, before any sandbox or connection is started (recovery takes the lock for good).
            StateDirLock.acquire(Path(self.settings.state.dir)).release()
        except StateDirLockedError as exc:
            self.say(f"casino: {exc}")
            return EXIT_REFUSED
        self.signals.install()
        try:
            return await self._lifecycle(duration)
        finally:
            self.signals.uninstall()

    async def _lifecycle(self, duration: float | None) -> int:
        stack = contextlib.AsyncExitStack()
        main = asyncio.create_task(self._main(stack, duration), name="session-main")
        hurry = asyncio.ensure_future(self.signals.hurry.wait())
        await asyncio.wait({main, hurry}, return_when=asyncio.FIRST_COMPLETED)
        code = EXIT_FAILED
        if not main.done():
            self.say("exiting at once: saving the state")
            main.cancel()
            await asyncio.wait({main}, timeout=10.0)
            self.exit_status = "aborted"
        else:
            hurry.cancel()
            try:
                code = main.result()
            except Exception as exc:
                log.exception("the session failed")
                self.say(f"casino: the session failed: {exc!r}")
        shutdown = Shutdown(self)
        await shutdown.save_state(self.exit_status)
        await shutdown.release(stack)
        if self.report_paths is not None:
            self.say(f"report: {self.report_paths.html}")
        self.say(f"session {self.session_id} {self.exit_status}")
        return code

    async def _main(self, stack: contextlib.AsyncExitStack, duration: float | None) -> int:
        try:
            self.components = await start_components(self, stack)
        except (SessionStartError, StateDirLockedError, RecoveryError, VenueError, ValueError) as exc:
            self.say(f"casino: cannot start the session: {exc}")
            return EXIT_FAILED
        why = await self._trade(duration)
        self.say(f"stopping ({why})")
        shutdown = Shutdown(self)
        try:
            await asyncio.wait_for(shutdown.sequence(stack), self.settings.session.shutdown_deadline_s)
        except TimeoutError:
            log.error("the shutdown sequence overran %.0fs", self.settings.session.shutdown_deadline_s)
            self.say("the shutdown sequence overran its deadline: saving the state now")
            self.exit_status = "aborted"
            return EXIT_FAILED
        failure = self.supervisor.first_failure()
        if failure is not None:
            self.exit_status = "failed"
            return EXIT_FAILED
        self.exit_status = "ended"
        return EXIT_OK

    async def _trade(self, duration: float | None) -> str:
        """Wait until a stop signal, the duration, or a critical task failure; return which."""
        waiters: dict[asyncio.Future[Any], str] = {
            asyncio.ensure_future(self.signals.stop.wait()): "signal",
            asyncio.ensure_future(self.supervisor.failed.wait()): "failure",
        }
        if duration is not None:
            waiters[asyncio.ensure_future(asyncio.sleep(duration))] = "duration"
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        reasons = [waiters[w] for w in done]
        if "failure" in reasons:
            failure = self.supervisor.first_failure()
            return f"task {failure.name} failed: {failure.error!r}" if failure else "a task failed"
        if "signal" in reasons:
            return self.signals.reason or "signal"
        return f"duration of {duration:g}s reached"
