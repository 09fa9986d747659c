"""The shutdown sequence of a session, in the blueprint's order, each step bounded and never skipped silently.

1. stop the inputs: no new decision is executed; the engine stops (market stream, then the sensor pool);
   periodic work stops; executions in flight are awaited (an entry already sent must end protected);
2. the open-position policy: ``leave`` stops the croupier, which disarms the dead-man switch so the resting
   stops stay on the venue; ``sweep`` runs ``emergency_sweep`` (cancel all, close all, verify flat) first;
3. the final balance (an account sample, journaled), and the player's weights saved;
4. the report (``core.report.write_report``) from the journal, cross-checked with the account's own
   figures (wallet balance, income history);
5. disconnect: the adapter (user and market streams, REST) and the embedded sandbox;
6. save the state (:meth:`Shutdown.save_state`, also run after an aborted sequence): the final snapshot,
   the journal's end of session, the WAL closed and the state directory's lock released.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from core.lifecycle import bounded
from core.logs import get_logger
from core.report.model import ReportPaths
from core.session_build import account_facts
from state.snapshots import SnapshotWriter

if TYPE_CHECKING:
    from core.session import Session
    from core.session_start import Components

__all__ = ["Shutdown"]

log = get_logger("session")

_HOUSEKEEPING = (
    "desk",
    "reconcile-periodic",
    "session-account",
    "session-weights",
    "session-marks",
    "engine-watch",
)


class Shutdown:
    """Takes a :class:`core.session.Session` apart (see the module docstring)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _c(self) -> Components | None:
        return self.session.components

    async def sequence(self, stack: contextlib.AsyncExitStack) -> None:
        """Steps 1 to 5 (the caller bounds the whole with the session's deadline)."""
        c = self._c
        if c is None:
            return
        s = self.session.settings
        sup = self.session.supervisor
        # 1. inputs
        c.desk.stopping = True
        if c.engine is not None:
            await bounded("stop the engine and sensors", c.engine.stop, 20.0)
        await sup.cancel(*_HOUSEKEEPING)
        await bounded("stop reconciliation", c.reconciler.stop, 5.0)
        executing = sup.names_with_prefix("execute-")
        if executing:
            self.session.say(f"waiting for {len(executing)} execution(s) in flight")
            if not await sup.wait(*executing, within_s=20.0):
                log.error(
                    "executions still in flight after 20s: %s", ", ".join(sup.names_with_prefix("execute-"))
                )
        # 2. open positions
        if s.session.on_exit == "sweep":
            result = await bounded("emergency sweep", c.croupier.emergency_sweep, 60.0)
            if result is not None:
                flat = "flat" if result.flat else f"NOT flat: {', '.join(result.remaining_positions)}"
                self.session.say(f"sweep: {len(result.closed)} position(s) closed, account {flat}")
            else:
                self.session.say("sweep did not finish: check the account on the venue")
        await bounded("stop the croupier (dead-man switch disarmed)", c.croupier.stop, 10.0)
        c.croupier_stopped = True
        if s.session.on_exit == "leave":
            self._say_open_positions()
        # 3. final balance and weights (funding paid since the last reconciliation round booked first, so the
        # report's funding equals the account's)
        await bounded("book the last funding payments", c.reconciler.sync_funding, 10.0)
        final = await c.housekeeper.try_sample()
        await bounded("save the player's weights", c.housekeeper.save_weights, 5.0)
        # 4. report
        await self._end_journal("ended")
        paths = await bounded("write the report", lambda: self._report(final is not None), 60.0)
        if paths is not None:
            self.session.report_paths = paths
        # 5. disconnect
        await sup.cancel("session-status", "session-metrics", "sandbox-watch", "live-report")
        metrics = c.metrics
        if metrics is not None:
            metrics.update_from(self.session.view)  # the final figures, for a last scrape
            await bounded("stop the metrics endpoint", lambda: asyncio.to_thread(metrics.stop_http), 6.0)
        await bounded("disconnect", stack.aclose, 15.0)

    def _say_open_positions(self) -> None:
        open_positions = [p for p in self.session.view.protection() if p.qty != 0]
        if not open_positions:
            return
        lines = ["positions left open (their stops stay on the venue):"]
        for p in open_positions:
            stop = f"stop {p.stop_loss}" if p.stop_loss is not None else "NO STOP KNOWN"
            lines.append(
                f"  {p.symbol} {p.qty} @ {p.entry_price} ({p.bracket_status or 'no bracket'}, {stop})"
            )
        self.session.say("\n".join(lines))

    async def _report(self, have_final: bool) -> ReportPaths:
        from core.report import write_report

        c = self._c
        assert c is not None
        session = self.session
        await c.journal.flush()
        first, last = session.recorder.first_sample, session.recorder.last_sample
        facts = await account_facts(
            c.adapter,
            source=session.parts.venue,
            start_ms=session.parts.started_ms,
            end_ms=session.parts.clock.now_ms(),
            wallet_start=first.wallet_balance if first is not None else None,
            wallet_end=last.wallet_balance if last is not None and have_final else None,
            unrealized_end=last.unrealized_pnl if last is not None and have_final else None,
        )
        return await asyncio.to_thread(
            write_report,
            c.recovery.journal_path,
            session.session_id,
            session.settings.session.report_dir,
            account=facts,
        )

    async def _end_journal(self, status: str) -> None:
        journal = self.session.journal
        c = self._c
        if journal is None or journal.session_id is None or (c is not None and c.journal_ended):
            return

        async def end() -> bool:
            await journal.end_session(ended_ts=self.session.parts.clock.now_ms(), status=status)
            return True

        ended = await bounded("end the session in the journal", end, 5.0)
        if c is not None and ended is not None:
            c.journal_ended = True

    async def save_state(self, status: str) -> None:
        """Step 6: final snapshot, journal end and close, WAL closed, lock released (always runs)."""
        session = self.session
        await session.supervisor.cancel("state-snapshots")
        recovery = session.recovery
        if recovery is not None:
            writer = (
                self._c.snapshots
                if self._c is not None
                else SnapshotWriter(recovery.state, recovery.snapshot_dir)
            )
            await bounded("final snapshot", writer.write_now, 10.0)
        await self._end_journal(status)
        if session.journal is not None:
            await bounded("close the journal", session.journal.close, 10.0)
        if recovery is not None:
            await bounded("close the WAL and release the state directory", recovery.close, 10.0)
            session.say(f"state saved in {recovery.lock.path.parent}")

    async def release(self, stack: contextlib.AsyncExitStack) -> None:
        """After an aborted sequence: stop what still runs (sensor processes, croupier), then disconnect."""
        c = self._c
        if c is not None:
            if c.engine is not None and c.engine.running:
                await bounded("stop the engine and sensors", c.engine.stop, 10.0)
            if not c.croupier_stopped:
                c.croupier_stopped = True
                await bounded("stop the croupier", c.croupier.stop, 5.0)
        await self.session.supervisor.cancel(grace_s=3.0)
        await bounded("disconnect", stack.aclose, 10.0)
