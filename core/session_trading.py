"""The decision path of a session: signals → player → risk → journal → croupier, and the user-event path.

:class:`DecisionDesk` is what the Engine's ``on_signals`` callback and the user stream's ``on_event`` callback
call. Both callbacks are synchronous and only hand work over:

- signals go straight to :meth:`core.player.AdaptivePlayer.on_signals` (pure, fast); the decisions it makes
  are queued for the desk's own task (``desk``), which judges them ONE AT A TIME (so two decisions of the
  same moment never both take the last free position slot), journals each with its verdict, and starts an
  accepted one as its own named task (``execute-<decision id>``): the engine's consumer never waits for an
  order, and one slow execution never delays the next decision;
- user events go to the croupier (``on_user_event`` queues them itself); NEW orders are counted on the way
  for the RiskEngine's order-velocity limit.

The RiskEngine's inputs are built fresh for every decision from the state snapshot, the newest account
sample, the engine's mark prices and what is being executed right now (:func:`risk_inputs`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from decimal import Decimal
from typing import Protocol

from core.clock import Clock
from core.decisions import Decision, RiskVerdict
from core.engine import Sensors
from core.enums import ExecutionType
from core.events import OrderUpdate, UserEvent
from core.lifecycle import TaskSupervisor
from core.logs import get_logger
from core.player import AdaptivePlayer
from core.risk import RiskEngine
from core.risk_limits import PositionExposure, RiskInputs
from core.session_record import OrderVelocity, SessionRecorder, TradeTally
from core.session_view import AccountSample
from core.types import ZERO, Candle, Signal
from croupier.model import BracketOutcome, OutcomeStatus
from state.journal import Journal
from state.model import StateSnapshot

__all__ = ["CandleTap", "DecisionDesk", "Executor", "risk_inputs"]

log = get_logger("session.desk")


class Executor(Protocol):
    """What the desk needs of the croupier."""

    async def execute(self, decision: Decision, verdict: RiskVerdict) -> object: ...

    def on_user_event(self, event: UserEvent) -> None: ...


class CandleTap:
    """The sensor pool as the Engine sees it, also handing every closed candle to the player.

    The player needs the closed candles of its timeframes (reference prices, ATR, judging signals); the
    Engine sends exactly those to the sensors, warm-up included, so they are tapped here on the way.
    """

    def __init__(self, sensors: Sensors, player: AdaptivePlayer) -> None:
        self._sensors = sensors
        self._player = player

    async def start(self) -> None:
        await self._sensors.start()

    async def warm_up(self, candles: Sequence[Candle]) -> None:
        for candle in sorted(candles, key=lambda c: c.close_time):
            self._player.on_candle(candle)
        await self._sensors.warm_up(candles)

    async def evaluate(self, candles: Sequence[Candle]) -> list[Signal]:
        for candle in candles:
            self._player.on_candle(candle)
        return await self._sensors.evaluate(candles)

    async def stop(self) -> None:
        await self._sensors.stop()


def risk_inputs(
    snapshot: StateSnapshot,
    account: AccountSample | None,
    marks: Mapping[str, Decimal],
    *,
    executing: frozenset[str],
    realized_today: Decimal,
    orders_last_minute: int,
) -> RiskInputs:
    """The RiskEngine's view of the account: positions valued at the mark (entry price without one)."""
    positions = {}
    for symbol, pos in snapshot.positions.items():
        if pos.qty == 0:
            continue
        price = marks.get(symbol) or pos.entry_price
        positions[symbol] = PositionExposure(qty=pos.qty, notional=abs(pos.qty) * price)
    equity = account.equity if account is not None else ZERO
    available = account.available_balance if account is not None else ZERO
    return RiskInputs(
        equity=equity,
        available=available,
        positions=positions,
        open_brackets=len(set(snapshot.brackets) | executing),
        realized_pnl_today=realized_today,
        peak_equity=snapshot.peak_equity,
        halts=snapshot.halts,
        orders_last_minute=orders_last_minute,
    )


class DecisionDesk:
    """Turns signals into judged, journaled and executed decisions (see the module docstring).

    ``account`` returns the newest account sample; ``refresh_account`` fetches a new one (awaited before a
    decision when the newest is older than ``account_max_age_ms`` of exchange time). ``marks`` returns the
    newest mark price per symbol. ``stopping`` is true once the session shuts down: decisions then are
    judged and journaled but not executed.
    """

    def __init__(
        self,
        *,
        player: AdaptivePlayer,
        risk: RiskEngine,
        executor: Executor,
        snapshot: Callable[[], StateSnapshot],
        journal: Journal,
        recorder: SessionRecorder,
        supervisor: TaskSupervisor,
        clock: Clock,
        account: Callable[[], AccountSample | None],
        refresh_account: Callable[[], Awaitable[AccountSample | None]],
        marks: Callable[[], Mapping[str, Decimal]],
        account_max_age_ms: int = 60_000,
    ) -> None:
        self._player = player
        self._risk = risk
        self._executor = executor
        self._snapshot = snapshot
        self._journal = journal
        self._recorder = recorder
        self._supervisor = supervisor
        self._clock = clock
        self._account = account
        self._refresh_account = refresh_account
        self._marks = marks
        self._max_age = account_max_age_ms
        self._queue: asyncio.Queue[Decision] = asyncio.Queue()
        self._executing: dict[str, str] = {}  # symbol -> decision id
        self._risk_at_entry: dict[str, Decimal] = {}  # symbol -> stop distance × qty of its last entry
        self.velocity = OrderVelocity()
        self.tally = TradeTally(risk_of=self._risk_at_entry.get, on_trade=risk.record_trade)
        self.stopping = False

    # --- synchronous callbacks ------------------------------------------------------------------------------

    def on_signals(self, signals: list[Signal]) -> None:
        """The Engine's callback: the player decides now; the decisions are judged on the desk's task."""
        for decision in self._player.on_signals(signals):
            log.info(
                "decision %s: %s conviction %.3f at %s",
                decision.decision_id,
                decision.side,
                decision.conviction,
                decision.reference_price,
                symbol=decision.symbol,
            )
            self._queue.put_nowait(decision)

    def on_user_event(self, event: UserEvent) -> None:
        """The user stream's callback: count new orders, hand the event to the croupier."""
        if isinstance(event, OrderUpdate) and event.execution_type is ExecutionType.NEW:
            self.velocity.sent(event.ts)
        self._executor.on_user_event(event)

    # --- the desk's task ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Judge queued decisions one at a time until cancelled."""
        while True:
            decision = await self._queue.get()
            try:
                await self.judge(decision)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("decision %s could not be judged", decision.decision_id, symbol=decision.symbol)

    async def judge(self, decision: Decision) -> RiskVerdict:
        """Size or refuse ``decision``, journal it with its verdict, and start its execution if accepted."""
        sample = self._account()
        if sample is None or self._clock.now_ms() - sample.ts > self._max_age:
            sample = await self._refresh_account() or sample
        now = self._clock.now_ms()
        inputs = risk_inputs(
            self._snapshot(),
            sample,
            self._marks(),
            executing=frozenset(self._executing),
            realized_today=self.tally.today(now),
            orders_last_minute=self.velocity.last_minute(now),
        )
        verdict = self._risk.allow(decision, inputs)
        accepted = verdict.accepted and not self.stopping
        self._recorder.decision(decision, verdict, "pending" if accepted else "rejected", now)
        await self._journal.record_decision(decision, verdict)
        if not verdict.accepted:
            log.info(
                "decision %s refused: %s (%s)",
                decision.decision_id,
                verdict.reason,
                verdict.detail,
                symbol=decision.symbol,
            )
            return verdict
        if self.stopping:
            self._recorder.outcome(decision.decision_id, "skipped", "the session is stopping", now)
            return verdict
        self._executing[decision.symbol] = decision.decision_id
        self._risk_at_entry[decision.symbol] = verdict.qty * decision.stop_distance
        self._supervisor.spawn(self._execute(decision, verdict), f"execute-{decision.decision_id}")
        return verdict

    async def _execute(self, decision: Decision, verdict: RiskVerdict) -> None:
        started = time.perf_counter()
        outcome, detail = "failed", ""
        try:
            result = await self._executor.execute(decision, verdict)
            outcome, detail = _describe(result)
        except Exception as exc:
            detail = f"{type(exc).__name__}: {exc}"
            log.error("execution of %s failed: %s", decision.decision_id, detail, symbol=decision.symbol)
        finally:
            self._recorder.execution(time.perf_counter() - started)
            if self._executing.get(decision.symbol) == decision.decision_id:
                del self._executing[decision.symbol]
            self._recorder.outcome(decision.decision_id, outcome, detail, self._clock.now_ms())

    def executing(self) -> frozenset[str]:
        """Symbols with an execution in flight."""
        return frozenset(self._executing)

    def pending(self) -> int:
        """Decisions queued and not judged yet."""
        return self._queue.qsize()


def _describe(result: object) -> tuple[str, str]:
    """("executed" | "failed", detail) from the croupier's answer: executed means a protected position."""
    if isinstance(result, BracketOutcome):
        detail = f"{result.status}" + (f": {result.reason}" if result.reason else "")
        return ("executed" if result.status is OutcomeStatus.PROTECTED else "failed"), detail
    return "executed", ""
