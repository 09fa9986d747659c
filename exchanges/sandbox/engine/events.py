"""Events the exchange core emits for the user-data stream, one account each.

The WebSocket layer encodes them as Binance's ORDER_TRADE_UPDATE, ACCOUNT_UPDATE and ALGO_UPDATE.
"""

from __future__ import annotations

import msgspec

from core.types import AlgoOrder, Balance, ExecutionType, Fill, Order, Position

__all__ = ["AccountEvent", "AlgoEvent", "OrderEvent", "UserEvent"]


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True):
    """ORDER_TRADE_UPDATE: the order after this event, what happened, and the fill if it traded."""

    account: str  # API key of the account
    ts: int  # event time (exchange clock)
    order: Order
    execution_type: ExecutionType
    fill: Fill | None = None


class AccountEvent(msgspec.Struct, frozen=True, kw_only=True):
    """ACCOUNT_UPDATE: balances and positions that changed, with Binance's reason (``m``).

    Reasons: ORDER, FUNDING_FEE, DEPOSIT, WITHDRAW, MARGIN_TYPE_CHANGE, ADJUSTMENT, INSURANCE_CLEAR, ...
    """

    account: str
    ts: int
    reason: str
    balances: tuple[Balance, ...]
    positions: tuple[Position, ...]


class AlgoEvent(msgspec.Struct, frozen=True, kw_only=True):
    """ALGO_UPDATE: the algo order after a status change (NEW, TRIGGERING, TRIGGERED, FINISHED, ...)."""

    account: str
    ts: int
    algo: AlgoOrder


UserEvent = OrderEvent | AccountEvent | AlgoEvent
