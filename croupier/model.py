"""Values the Croupier hands out: the outcome of a decision, of a sweep, its alerts and its status."""

from __future__ import annotations

import enum
from decimal import Decimal

import msgspec

from core.types import ZERO
from state.model import Bracket

__all__ = [
    "Alert",
    "BracketOutcome",
    "CroupierStatus",
    "OutcomeStatus",
    "StopHealth",
    "SweepResult",
    "SymbolProtection",
]


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """Something an operator must know about (an unprotected position, a forced close, a failed sweep)."""

    ts: int
    level: str  # "warning" | "critical"
    symbol: str
    message: str
    component: str = "croupier"


class OutcomeStatus(enum.StrEnum):
    """How :meth:`croupier.croupier.Croupier.execute` ended."""

    PROTECTED = "protected"  # entry filled, stop (and normally take-profit) working
    REFUSED = "refused"  # nothing sent: verdict refused, symbol busy or already holding a position
    REJECTED = "rejected"  # the venue refused the entry (margin, filters...)
    EXPIRED = "expired"  # the entry ended without any fill
    CLOSED = "closed"  # filled, but could not be protected: closed at market
    UNKNOWN = "unknown"  # the entry's fate is unknown (left to protection and reconciliation)


class BracketOutcome(msgspec.Struct, frozen=True, kw_only=True):
    """What became of one decision."""

    decision_id: str
    symbol: str
    status: OutcomeStatus
    reason: str = ""
    code: int | None = None  # the venue's error code for a rejection
    entry_order_id: int = 0
    filled_qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    tp_price: Decimal = ZERO
    sl_price: Decimal = ZERO
    tp_algo_id: int = 0
    sl_algo_id: int = 0
    sent_ts: int = 0  # clock time the entry was handed to the adapter


class StopHealth(enum.StrEnum):
    """Whether a position's stop is doing its job."""

    WORKING = "working"  # NEW, or TRIGGERING/TRIGGERED for less than the bound
    STUCK = "stuck"  # TRIGGERING/TRIGGERED past the bound: the venue did not close the position
    MISSING = "missing"  # none known, or it ended (REJECTED, EXPIRED, CANCELED, FINISHED)


class SymbolProtection(msgspec.Struct, frozen=True, kw_only=True):
    """One open position and the state of its stop, for reports."""

    symbol: str
    qty: Decimal
    entry_price: Decimal
    stop: StopHealth
    stop_client_id: str = ""
    bracket_status: str = ""
    mark_price: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO


class CroupierStatus(msgspec.Struct, frozen=True, kw_only=True):
    """Brackets and protection per symbol, plus counters, at one moment."""

    ts: int
    brackets: tuple[Bracket, ...]
    protection: tuple[SymbolProtection, ...]
    deadman_armed: tuple[str, ...] = ()
    alerts: int = 0
    executed: int = 0
    reprotects: int = 0
    market_closes: int = 0
    sweeping: bool = False


class SweepResult(msgspec.Struct, frozen=True, kw_only=True):
    """What :meth:`croupier.croupier.Croupier.emergency_sweep` did and whether the account ended flat."""

    flat: bool
    attempts: int
    closed: tuple[tuple[str, Decimal], ...] = ()  # (symbol, signed quantity closed) per close order sent
    close_client_ids: tuple[str, ...] = ()  # the client order ids of those close orders
    cancelled_symbols: tuple[str, ...] = ()
    remaining_positions: tuple[str, ...] = ()
    remaining_orders: int = 0
    errors: tuple[str, ...] = ()
    seconds: float = 0.0
