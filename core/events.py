"""Domain events that cross package boundaries: user-data updates and connector health.

Adapters decode the venue's frames into these; nothing downstream sees the venue's JSON.
"""

from __future__ import annotations

import msgspec

from core.types import AlgoOrder, Balance, ExecutionType, Fill, Order, Position

__all__ = [
    "AccountUpdate",
    "AlgoUpdate",
    "BreakerTransition",
    "OrderUpdate",
    "ReconcileRequest",
    "StreamGap",
    "UserEvent",
]


class OrderUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """An order changed (ORDER_TRADE_UPDATE): its state after the event, and the fill if it traded."""

    ts: int  # event time, exchange clock
    order: Order
    execution_type: ExecutionType
    fill: Fill | None = None


class AccountUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """Balances and positions that changed (ACCOUNT_UPDATE), with the reason (ORDER, FUNDING_FEE...)."""

    ts: int
    reason: str
    balances: tuple[Balance, ...]
    positions: tuple[Position, ...]


class AlgoUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """A conditional (algo) order changed status (ALGO_UPDATE)."""

    ts: int
    algo: AlgoOrder


UserEvent = OrderUpdate | AccountUpdate | AlgoUpdate


class ReconcileRequest(msgspec.Struct, frozen=True, kw_only=True):
    """The user stream may have missed events: the state layer must reconcile with the venue's REST truth."""

    ts: int
    reason: str  # e.g. "reconnect", "listenKeyExpired", "listenKey recreated"


class StreamGap(msgspec.Struct, frozen=True, kw_only=True):
    """aggTrade ids jumped on a market stream: ``first_missing``..``last_missing`` must be backfilled."""

    symbol: str
    first_missing: int
    last_missing: int
    ts: int


class BreakerTransition(msgspec.Struct, frozen=True, kw_only=True):
    """A circuit breaker changed state (CLOSED, OPEN, HALF_OPEN)."""

    name: str
    old: str
    new: str
    ts: int
    reason: str = ""
