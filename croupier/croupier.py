"""The Croupier: decisions become bracketed positions that stay protected (contract: docs/SESSION.md).

Composition (one module each): :class:`~croupier.executor.OrderExecutor` (requests, ids, rounding),
:class:`~croupier.entry.EntryFlow` (entry → fill → stop and take-profit), :class:`~croupier.oco.OcoBook`
(sibling cancels and exits, pure), :class:`~croupier.guard.Guard` (re-protect, market close, settle),
:func:`~croupier.protection.assess` (the protection check, pure), :class:`~croupier.deadman.DeadmanSwitch`,
:class:`~croupier.sweep.EmergencySweep` and :class:`~croupier.tracker.PositionTracker`.

Concurrency: one ``asyncio.Lock`` per symbol. :meth:`Croupier.execute` refuses at once when the symbol is
busy, holds a bracket or a position (exactly one position results from decisions racing on one symbol);
every protective operation takes the same lock, so nothing races on one position. User events are queued by
:meth:`Croupier.on_user_event` (synchronous, never blocks) and handled in order by the ``croupier-events``
task, which never waits for a lock: the operations it asks for run as separate tasks.

Named tasks: ``croupier-events``, ``croupier-protect`` (every ``protect_interval_s``), ``croupier-deadman``
(every ``deadman_interval_s``) and ``croupier-op-<symbol>`` for operations triggered by events.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from core.clock import Clock
from core.config_croupier import CroupierSettings
from core.decisions import Decision, RiskVerdict
from core.events import AccountUpdate, AlgoUpdate, OrderUpdate, UserEvent
from core.logs import get_logger
from core.types import Instrument, MarkPrice
from croupier.deadman import DeadmanSwitch
from croupier.entry import EntryFlow, EntryWaiters
from croupier.executor import OrderExecutor
from croupier.guard import Guard
from croupier.model import (
    Alert,
    BracketOutcome,
    CroupierStatus,
    OutcomeStatus,
    StopHealth,
    SweepResult,
)
from croupier.oco import Action, CancelLeg, Finish, OcoBook, Reprotect
from croupier.protection import ProtectTask, assess
from croupier.reporter import Reporter
from croupier.status import build_status
from croupier.sweep import EmergencySweep, until_final
from croupier.tracker import PositionTracker
from exchanges.adapter import ExchangeAdapter, MarketEvent
from exchanges.errors import VenueError
from state.fills import FillProcessor
from state.journal import Journal
from state.manager import StateManager
from state.model import is_forced_close

__all__ = ["Croupier"]

log = get_logger("croupier")
_DRAIN_S = 5.0  # wall seconds stop() and the sweep wait for queued events to be handled


class Croupier:
    """Bracketed orders, sibling cancels, protection, dead-man switch and the emergency sweep."""

    def __init__(  # noqa: PLR0917 (the signature docs/SESSION.md fixes)
        self,
        adapter: ExchangeAdapter,
        state: StateManager,
        fills: FillProcessor,
        clock: Clock,
        instruments: Mapping[str, Instrument],
        settings: CroupierSettings,
        *,
        journal: Journal | None = None,
        on_alert: Callable[[Alert], None] | None = None,
    ) -> None:
        self.adapter = adapter
        self.state = state
        self.fills = fills
        self.clock = clock
        self.settings = settings
        self.executor = OrderExecutor(adapter, instruments, settings, clock)
        self.oco = OcoBook(int(settings.triggering_timeout_s * 1000))
        self.reporter = Reporter(clock, journal, on_alert)
        self.guard = Guard(
            self.executor, state, oco=self.oco, reporter=self.reporter, clock=clock, settings=settings
        )
        self.tracker = PositionTracker(state)
        self.waiters = EntryWaiters()
        self.entries = EntryFlow(self.guard, self.reporter, self.waiters, clock, settings)
        self.deadman = DeadmanSwitch(
            adapter,
            clock,
            countdown_s=settings.deadman_countdown_s,
            with_orders=lambda: {o.symbol for o in fills.orders.open_orders()},
            with_positions=lambda: self.tracker.open_positions().keys(),
        )
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._queue: asyncio.Queue[UserEvent] = asyncio.Queue()
        self._loops: list[asyncio.Task[None]] = []
        self._ops: set[asyncio.Task[None]] = set()
        self._sweeping = False
        self.executed = 0
        # How long a bracket may wait for its entry fill to reach state before flat means "never filled".
        self._stale_ms = int(settings.entry_timeout_s * 2000)
        self.event_errors = 0

    # -- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the event, protection-check and dead-man tasks (named)."""
        if self._loops:
            return
        self._loops.append(asyncio.create_task(self._event_loop(), name="croupier-events"))
        self._loops.append(
            asyncio.create_task(
                self._every(self.settings.protect_interval_s, self.check_protection), name="croupier-protect"
            )
        )
        if self.settings.deadman_enabled:
            self._loops.append(
                asyncio.create_task(
                    self._every(self.settings.deadman_interval_s, self.deadman.refresh),
                    name="croupier-deadman",
                )
            )

    async def stop(self) -> None:
        """Handle the events already queued, finish running operations, disarm the dead-man switch."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), _DRAIN_S)
        loops, self._loops = self._loops, []
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        if self._ops:
            await asyncio.wait(set(self._ops), timeout=_DRAIN_S)
        await self.deadman.disarm_all()

    async def _every(self, seconds: float, call: Callable[[], Coroutine[Any, Any, object]]) -> None:
        while True:
            await asyncio.sleep(self.clock.wall_seconds(seconds * 1000))
            try:
                await call()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic %s failed; again next cycle", getattr(call, "__name__", call))

    # -- decisions -------------------------------------------------------------------------------------

    async def execute(self, decision: Decision, verdict: RiskVerdict) -> BracketOutcome:
        """Turn an accepted decision into a protected position (or say why not); see :mod:`croupier.entry`."""
        symbol = decision.symbol
        if not verdict.accepted:
            return BracketOutcome(
                decision_id=decision.decision_id,
                symbol=symbol,
                status=OutcomeStatus.REFUSED,
                reason=verdict.reason,
            )
        lock = self._locks[symbol]
        refusal = self._refusal(symbol, lock)
        if refusal:
            log.info("decision %s refused: %s", decision.decision_id, refusal, symbol=symbol)
            return BracketOutcome(
                decision_id=decision.decision_id, symbol=symbol, status=OutcomeStatus.REFUSED, reason=refusal
            )
        async with lock:
            refusal = self._refusal(symbol, None)
            if refusal:
                return BracketOutcome(
                    decision_id=decision.decision_id,
                    symbol=symbol,
                    status=OutcomeStatus.REFUSED,
                    reason=refusal,
                )
            self.executed += 1
            return await self.entries.run(decision, verdict)

    def _refusal(self, symbol: str, lock: asyncio.Lock | None) -> str:
        if self._sweeping:
            return "emergency sweep running"
        if lock is not None and lock.locked():
            return "symbol busy"
        snap = self.state.get_snapshot()
        if symbol in snap.brackets:
            return "bracket already open"
        if snap.position(symbol).qty != 0:
            return "position already open"
        return ""

    # -- user events -----------------------------------------------------------------------------------

    def on_user_event(self, event: UserEvent) -> None:
        """Queue a user-data event (synchronous, never blocks); events are handled in arrival order."""
        self._queue.put_nowait(event)

    def on_market_event(self, event: MarketEvent) -> None:
        """Mark prices for the tracker's unrealized PnL (other market events are ignored)."""
        if isinstance(event, MarkPrice):
            self.tracker.on_mark(event)

    async def _event_loop(self) -> None:
        while True:
            event = await self._queue.get()
            try:
                await self.handle(event)
            except asyncio.CancelledError:
                raise
            except Exception:
                self.event_errors += 1
                log.exception("user event not handled: %r", type(event).__name__)
            finally:
                self._queue.task_done()

    async def handle(self, event: UserEvent) -> None:
        """Handle one user event now (the event task's work; public for tests and replays)."""
        snap = self.state.get_snapshot
        actions: list[Action] = []
        if isinstance(event, OrderUpdate):
            await self.fills.process_order_update(event)  # WAL, then state: before anything reads it
            order = event.order
            await self.reporter.order(order)
            if event.fill is not None:
                await self.reporter.fill(event.fill)
                self.oco.on_fill(snap().brackets.get(order.symbol), event.fill)
                if is_forced_close(event.fill):
                    why = f"position force-closed by the venue ({order.client_order_id})"
                    await self.reporter.alert("critical", order.symbol, why)
            self.waiters.on_order(order)
            actions += self.oco.on_position(
                snap().brackets.get(order.symbol), snap().position(order.symbol).qty
            )
        elif isinstance(event, AlgoUpdate):
            algo = event.algo
            await self.reporter.algo(algo)
            bracket = snap().brackets.get(algo.symbol)
            qty = snap().position(algo.symbol).qty
            actions += self.oco.on_algo(bracket, algo, qty)
            actions += self.oco.on_position(bracket, qty)
        elif isinstance(event, AccountUpdate):
            for pos in event.positions:
                actions += self.oco.on_position(
                    snap().brackets.get(pos.symbol), snap().position(pos.symbol).qty
                )
        self._dispatch(actions)

    def _dispatch(self, actions: list[Action]) -> None:
        by_symbol: dict[str, list[Action]] = {}
        for action in actions:
            by_symbol.setdefault(action.symbol, []).append(action)
        for symbol, batch in by_symbol.items():
            task = asyncio.create_task(self._run_actions(symbol, batch), name=f"croupier-op-{symbol}")
            self._ops.add(task)
            task.add_done_callback(self._op_done)

    def _op_done(self, task: asyncio.Task[None]) -> None:
        self._ops.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("croupier operation %s failed", task.get_name(), exc_info=task.exception())

    async def _run_actions(self, symbol: str, actions: list[Action]) -> None:
        async with self._locks[symbol]:
            for action in actions:
                if isinstance(action, CancelLeg):
                    log.info(
                        "cancelling sibling: %s",
                        action.reason,
                        symbol=symbol,
                        client_algo_id=action.client_algo_id,
                    )
                    await self.guard.cancel_leg(symbol, action.client_algo_id)
                elif isinstance(action, Finish):
                    await self.guard.settle(symbol, action.reason, stale_ms=self._stale_ms)
                elif isinstance(action, Reprotect) and not self._sweeping:
                    await self._protect_locked(symbol, action.reason)

    # -- protection ------------------------------------------------------------------------------------

    async def check_protection(self) -> list[ProtectTask]:
        """One protection check over every position and bracket in state; returns what it found to do."""
        if self._sweeping:
            return []
        busy = {s for s, lock in self._locks.items() if lock.locked()}
        snap, now = self.state.get_snapshot(), self.clock.now_ms()
        tasks = assess(snap, self.oco, now, busy=busy, stale_ms=self._stale_ms)
        if tasks:
            await asyncio.gather(*(self._run_task(t) for t in tasks))
        return tasks

    async def _run_task(self, task: ProtectTask) -> None:
        lock = self._locks[task.symbol]
        if lock.locked():
            return  # an operation started meanwhile; the next check looks again
        async with lock:
            if task.kind == "settle":
                await self.guard.settle(task.symbol, task.reason, stale_ms=self._stale_ms)
            else:
                await self._protect_locked(task.symbol, task.reason)

    async def protect(self, symbol: str, *, reason: str) -> None:
        """Give the open position of ``symbol`` a working stop (or close it at market), on demand."""
        async with self._locks[symbol]:
            await self._protect_locked(symbol, reason)

    async def _protect_locked(self, symbol: str, reason: str) -> None:
        pos = self.guard.position(symbol)
        if pos.qty == 0:
            await self.guard.settle(symbol, reason, stale_ms=self._stale_ms)
            return
        health = self._stop_health(symbol)
        if health is not StopHealth.WORKING:
            # Our view may be behind (a lost event, a restart): ask the venue before acting.
            try:
                for algo in await self.adapter.open_algo_orders(symbol):
                    self.oco.observe(algo)
                    if self.guard.bracket(symbol) is None and OcoBook.is_stop_of(algo, pos.qty):
                        log.info(
                            "position protected by an existing stop",
                            symbol=symbol,
                            client_algo_id=algo.client_algo_id,
                        )
                        return
            except VenueError as err:
                log.warning("open algo orders unavailable: %s", err, symbol=symbol)
            health = self._stop_health(symbol)
        if health is StopHealth.STUCK:
            await self.guard.close_stuck(
                symbol, f"stop stuck past {self.settings.triggering_timeout_s:g}s ({reason})"
            )
        elif health is StopHealth.MISSING:
            await self.guard.reprotect(symbol, reason)

    def _stop_health(self, symbol: str) -> StopHealth:
        bracket = self.guard.bracket(symbol)
        if bracket is None:
            return StopHealth.MISSING
        return self.oco.stop_health(bracket.sl_client_id, self.clock.now_ms())

    # -- sweep and status ------------------------------------------------------------------------------

    async def emergency_sweep(self) -> SweepResult:
        """Cancel every order (regular and algo), close every position in parallel, verify it is all flat."""
        self._sweeping = True
        symbols = sorted(self.executor.instruments)
        try:
            async with contextlib.AsyncExitStack() as stack:
                for symbol in symbols:  # one fixed order: only the sweep takes several locks
                    await stack.enter_async_context(self._locks[symbol])
                snap = self.state.get_snapshot()
                for symbol, bracket in snap.brackets.items():
                    self.oco.set_exit(symbol, "emergency_sweep")
                    for cid in (bracket.tp_client_id, bracket.sl_client_id):
                        self.oco.expect_cancel(cid)
                sweep = EmergencySweep(
                    self.adapter,
                    self.executor,
                    self.clock,
                    concurrency=self.settings.sweep_concurrency,
                    attempts=self.settings.sweep_attempts,
                )
                result = await sweep.run()
                # Let the close fills reach state, then close the brackets whose positions are flat.
                await until_final(self.fills.orders, result.close_client_ids, _DRAIN_S)
                for symbol in list(self.state.get_snapshot().brackets):
                    await self.guard.settle(symbol, "emergency_sweep", force=result.flat)
        finally:
            self._sweeping = False
        if result.flat:
            log.warning("emergency sweep: account flat after %d round(s)", result.attempts)
        else:
            await self.reporter.alert(
                "critical",
                ",".join(result.remaining_positions),
                f"emergency sweep left {len(result.remaining_positions)} position(s) and "
                f"{result.remaining_orders} order(s) open: {'; '.join(result.errors)}",
            )
        return result

    def status(self) -> CroupierStatus:
        """Brackets and protection per symbol, for reports and the live status line."""
        return build_status(
            self.state.get_snapshot(),
            self.tracker,
            self.oco,
            self.clock.now_ms(),
            deadman_armed=self.deadman.armed,
            alerts=self.reporter.alerts,
            executed=self.executed,
            reprotects=self.guard.reprotects,
            market_closes=self.guard.market_closes,
            sweeping=self._sweeping,
        )
