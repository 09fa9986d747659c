"""What a running session shows to reports and metrics: the read-only :class:`SessionView` Protocol.

The live report (SIGUSR2), the status line and the Prometheus metrics read the session only through this
view, never through its components, so they can be rendered from any object that answers these calls (the
:class:`core.session.Session` builds the real one). Every accessor is synchronous, cheap and side-effect
free: it returns values that are already held in memory (no I/O, no awaiting), so a report can be rendered
at any moment without disturbing trading.

The small value types below describe what no component owns as a type yet (account samples, stream health,
decisions with their verdicts and outcomes, per-symbol protection); everything else is the components' own
values (:class:`state.model.StateSnapshot`, :class:`core.engine_stats.EngineStats`, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

import msgspec

from core.config import Settings
from core.decisions import Decision, RiskVerdict
from core.engine_stats import EngineStats
from state.model import Halt, StateSnapshot

__all__ = [
    "AccountSample",
    "DecisionRecord",
    "ExecutionStats",
    "SensorHealth",
    "SessionCounters",
    "SessionView",
    "StreamHealth",
    "SymbolProtection",
]


class AccountSample(msgspec.Struct, frozen=True, kw_only=True):
    """The account's totals (USDT) at one moment of the session clock."""

    ts: int
    wallet_balance: Decimal
    unrealized_pnl: Decimal
    available_balance: Decimal

    @property
    def equity(self) -> Decimal:
        """Wallet balance plus unrealized PnL."""
        return self.wallet_balance + self.unrealized_pnl


class StreamHealth(msgspec.Struct, frozen=True, kw_only=True):
    """The connector's streams since the session started (all market stream sets added up)."""

    market_connected: bool
    market_messages: int
    market_reconnects: int
    market_gaps_backfilled: int  # trades recovered from REST after an aggTrade gap
    market_gaps_left: int  # trade ids missed and not recovered
    user_connected: bool
    user_messages: int
    user_reconnects: int
    user_reconciles: int  # reconciliations the user stream asked for (gaps, reconnects)


class SensorHealth(msgspec.Struct, frozen=True, kw_only=True):
    """The sensor pool: evaluation latency of one candle-close batch, and worker restarts."""

    workers: int
    restarts: int
    batches: int
    evaluate_p50_ms: float | None
    evaluate_p99_ms: float | None


class DecisionRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One decision of the player with the RiskEngine's verdict and what became of it.

    ``outcome``: ``"rejected"`` (risk refused it: see ``verdict.reason``), ``"pending"`` (accepted, being
    executed), ``"executed"`` (the croupier placed the bracket), ``"failed"`` (execution raised or the
    croupier refused it: see ``detail``), ``"skipped"`` (accepted but the session was stopping).
    """

    decision: Decision
    verdict: RiskVerdict
    outcome: str
    detail: str = ""
    ts: int = 0  # session clock when the outcome was last updated


class SymbolProtection(msgspec.Struct, frozen=True, kw_only=True):
    """A symbol's position and what protects it, from the state (brackets are the croupier's, in state)."""

    symbol: str
    qty: Decimal  # signed, 0 when flat
    entry_price: Decimal
    mark_price: Decimal | None
    unrealized_pnl: Decimal | None  # at the mark price, None without one
    bracket_status: str  # BracketStatus value, or "" when no bracket is open
    take_profit: Decimal | None
    stop_loss: Decimal | None

    @property
    def protected(self) -> bool:
        """Flat, or a bracket whose stop is on the venue (PROTECTED, or CLOSING while an exit runs)."""
        return self.qty == 0 or self.bracket_status in ("PROTECTED", "CLOSING")


class ExecutionStats(msgspec.Struct, frozen=True, kw_only=True):
    """Durations of ``croupier.execute`` (decision accepted → bracket placed or refused), in seconds.

    ``count`` is the number of executions since start; ``recent_s`` the last ones, newest last (at most a
    window's worth). A histogram consumer that saw ``n`` before observes ``recent_s[-(count - n):]``.
    """

    count: int
    recent_s: tuple[float, ...]


class SessionCounters(msgspec.Struct, frozen=True, kw_only=True):
    """What the session did since it started."""

    decisions: int  # decisions the player made
    accepted: int  # accepted by the RiskEngine
    rejected: int  # refused by the RiskEngine
    executed: int  # brackets the croupier placed
    failed: int  # executions that raised or were refused by the croupier
    fills: int  # fills applied to the state
    reconciliations: int
    halts_raised: int
    api_errors: int  # REST attempts that ended in an error
    api_requests: int


class SessionView(Protocol):
    """Read-only access to a running session, for reports and metrics (see the module docstring)."""

    @property
    def session_id(self) -> str: ...

    @property
    def settings(self) -> Settings:
        """The session's settings (hold secrets: use ``settings.redacted()`` to show them)."""
        ...

    @property
    def venue(self) -> str:
        """What the session trades on, for people, e.g. ``"sandbox (embedded) at http://127.0.0.1:P"``."""
        ...

    @property
    def started_ms(self) -> int:
        """Session clock when the session started (exchange time, ms)."""
        ...

    @property
    def report_dir(self) -> str:
        """The folder of this session's reports (``<report_dir>/<session id>``)."""
        ...

    def now_ms(self) -> int:
        """The session clock (exchange time, ms; faster than the wall clock on a sped-up sandbox)."""
        ...

    def state(self) -> StateSnapshot:
        """The state layer's current snapshot: positions, PnL, fees, funding, brackets, halts, weights."""
        ...

    def account(self) -> AccountSample | None:
        """The newest account sample (None before the first one)."""
        ...

    def account_start(self) -> AccountSample | None:
        """The account as it was when the session started (None before the first sample)."""
        ...

    def last_prices(self) -> Mapping[str, Decimal]:
        """The newest mark price per traded symbol (symbols without one yet are left out)."""
        ...

    def protection(self) -> tuple[SymbolProtection, ...]:
        """Every traded symbol's position and its protection, in symbol order."""
        ...

    def croupier_status(self) -> object | None:
        """The croupier's own status value (``croupier.Croupier.status()``), None before it runs.

        A msgspec Struct: render it with ``msgspec.to_builtins``.
        """
        ...

    def engine_stats(self) -> EngineStats | None:
        """The engine's counters (None before it started)."""
        ...

    def sensors(self) -> SensorHealth | None:
        """The sensor pool's latency and restarts (None before it started)."""
        ...

    def breakers(self) -> Mapping[str, str]:
        """Circuit breaker state by endpoint group (``market_data``, ``orders``, ``account``)."""
        ...

    def rate_limit_usage(self) -> Mapping[str, float]:
        """Share of each rate-limit pool used in its current window, by pool name (0.0-1.0+)."""
        ...

    def streams(self) -> StreamHealth:
        """The market and user streams' health."""
        ...

    def decisions(self, limit: int = 20) -> tuple[DecisionRecord, ...]:
        """The last ``limit`` decisions with their verdicts and outcomes, newest last."""
        ...

    def player_outcomes(self) -> Mapping[str, int]:
        """How the player's evaluations ended, by outcome (``decided``, ``below_threshold``, ...)."""
        ...

    def risk_rejections(self) -> Mapping[str, int]:
        """Decisions the RiskEngine refused, by reason."""
        ...

    def halts(self) -> tuple[Halt, ...]:
        """Halts active now (entries refused while any is)."""
        ...

    def counters(self) -> SessionCounters:
        """What the session did since it started."""
        ...

    def executions(self) -> ExecutionStats:
        """Durations of the croupier's executions (for the order-execution histogram)."""
        ...
