"""What a session remembers about itself for reports and metrics: decisions, samples, counters, tallies.

Plain in-memory bookkeeping with no I/O: the session writes into a :class:`SessionRecorder` as things happen
and the :class:`~core.session_view.SessionView` reads from it. :class:`TradeTally` turns applied fills into
what the RiskEngine needs and nothing else holds: realized PnL of the current UTC day (after fees) and the
closed round trips with the risk each one took (for the Kelly bound).
"""

from __future__ import annotations

from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from decimal import Decimal

import msgspec

from core.decisions import Decision, RiskVerdict
from core.risk_limits import DAY_MS
from core.session_view import AccountSample, DecisionRecord, ExecutionStats
from core.types import ZERO, Fill
from state.model import fill_fee_in_quote

__all__ = ["OrderVelocity", "SessionRecorder", "TradeTally"]


class SessionRecorder:
    """Decisions with their outcomes, account samples, execution durations and counters of one session."""

    def __init__(self, *, decisions_kept: int = 200, executions_kept: int = 1000) -> None:
        self._decisions: OrderedDict[str, DecisionRecord] = OrderedDict()
        self._kept = decisions_kept
        self._durations: deque[float] = deque(maxlen=executions_kept)
        self.executions = 0
        self.counts: Counter[str] = Counter()
        self.first_sample: AccountSample | None = None
        self.last_sample: AccountSample | None = None

    # --- decisions ---------------------------------------------------------------------------------------

    def decision(self, decision: Decision, verdict: RiskVerdict, outcome: str, ts: int) -> None:
        """A decision judged by the RiskEngine (``outcome`` "rejected" or "pending")."""
        self.counts["decisions"] += 1
        self.counts["accepted" if verdict.accepted else "rejected"] += 1
        self._decisions[decision.decision_id] = DecisionRecord(
            decision=decision, verdict=verdict, outcome=outcome, detail=verdict.detail, ts=ts
        )
        self._decisions.move_to_end(decision.decision_id)
        while len(self._decisions) > self._kept:
            self._decisions.popitem(last=False)

    def outcome(self, decision_id: str, outcome: str, detail: str, ts: int) -> None:
        """What became of an accepted decision: "executed", "failed" or "skipped"."""
        if outcome in ("executed", "failed", "skipped"):
            self.counts[outcome] += 1
        record = self._decisions.get(decision_id)
        if record is not None:
            self._decisions[decision_id] = msgspec.structs.replace(
                record, outcome=outcome, detail=detail or record.detail, ts=ts
            )

    def decisions(self, limit: int) -> tuple[DecisionRecord, ...]:
        """The last ``limit`` decisions, newest last."""
        records = tuple(self._decisions.values())
        return records[-limit:] if limit > 0 else ()

    # --- executions and samples ----------------------------------------------------------------------------

    def execution(self, seconds: float) -> None:
        """One ``croupier.execute`` took ``seconds``."""
        self.executions += 1
        self._durations.append(seconds)

    def execution_stats(self) -> ExecutionStats:
        return ExecutionStats(count=self.executions, recent_s=tuple(self._durations))

    def sample(self, sample: AccountSample) -> None:
        """A new account sample (the first one is the session's starting point)."""
        if self.first_sample is None:
            self.first_sample = sample
        self.last_sample = sample


class TradeTally:
    """Realized PnL of the current UTC day and closed round trips, from the fills applied to the state.

    ``on_trade(pnl, risk)`` is called when a position returns to flat, with the round trip's realized PnL
    after fees and the amount it risked (``risk_of(symbol)`` at the moment it opened: stop distance × qty).
    """

    def __init__(
        self,
        *,
        risk_of: Callable[[str], Decimal | None],
        on_trade: Callable[[Decimal, Decimal], None] | None = None,
    ) -> None:
        self._risk_of = risk_of
        self._on_trade = on_trade
        self._day = -1
        self._today = ZERO
        self._open_pnl: dict[str, Decimal] = {}
        self._open_risk: dict[str, Decimal | None] = {}
        self.closed = 0

    def seed_today(self, day_start_ms: int, pnl: Decimal) -> None:
        """Start the day's tally with what earlier sessions realized since ``day_start_ms``."""
        self._day = day_start_ms // DAY_MS
        self._today = pnl

    def today(self, now_ms: int) -> Decimal:
        """Realized PnL after fees since 00:00 UTC of ``now_ms``."""
        return self._today if now_ms // DAY_MS == self._day else ZERO

    def on_fill(self, fill: Fill, position_qty: Decimal, previous_qty: Decimal) -> None:
        """A fill was applied; ``previous_qty``/``position_qty`` are the symbol's signed sizes around it."""
        fee = fill.commission if fill_fee_in_quote(fill) else ZERO
        net = fill.realized_pnl - fee
        day = fill.ts // DAY_MS
        if day != self._day:
            self._day, self._today = day, ZERO
        self._today += net
        symbol = fill.symbol
        if previous_qty == 0 and position_qty != 0:
            self._open_pnl[symbol] = ZERO
            self._open_risk[symbol] = self._risk_of(symbol)
        self._open_pnl[symbol] = self._open_pnl.get(symbol, ZERO) + net
        if position_qty == 0 or (previous_qty != 0 and (previous_qty > 0) != (position_qty > 0)):
            pnl = self._open_pnl.pop(symbol, ZERO)
            risk = self._open_risk.pop(symbol, None)
            self.closed += 1
            if self._on_trade is not None and risk is not None and risk > 0:
                self._on_trade(pnl, risk)
            if position_qty != 0:  # flipped: the remainder opens a new round trip
                self._open_pnl[symbol] = ZERO
                self._open_risk[symbol] = self._risk_of(symbol)


class OrderVelocity:
    """Orders sent in the last minute of exchange time (from the user stream's NEW order events)."""

    def __init__(self, window_ms: int = 60_000) -> None:
        self._window = window_ms
        self._times: deque[int] = deque()

    def sent(self, ts: int) -> None:
        self._times.append(ts)

    def last_minute(self, now_ms: int) -> int:
        while self._times and self._times[0] <= now_ms - self._window:
            self._times.popleft()
        return len(self._times)
