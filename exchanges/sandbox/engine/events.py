"""Events the exchange core emits for the user-data stream, one account each.

The WebSocket layer encodes them as Binance's ORDER_TRADE_UPDATE (plus TRADE_LITE for fills), ACCOUNT_UPDATE,
ALGO_UPDATE and ACCOUNT_CONFIG_UPDATE.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.types import ZERO, AlgoOrder, Balance, ExecutionType, Fill, Order, Position

__all__ = ["AccountConfigEvent", "AccountEvent", "AlgoEvent", "OrderEvent", "UserEvent"]


class OrderEvent(msgspec.Struct, frozen=True, kw_only=True):
    """ORDER_TRADE_UPDATE: the order after this event, what happened, and the fill if it traded.

    ``bids_notional`` / ``asks_notional`` (``b`` / ``a``): the notional (price × remaining quantity) of the
    account's open BUY / SELL orders on the symbol after the event. ``expire_reason`` (``er``): Binance's
    expiry reason code (0 none, 2 IOC remainder, 4 reduce-only with nothing left to reduce, 9 MARKET
    remainder).
    """

    account: str  # API key of the account
    ts: int  # event time (exchange clock)
    order: Order
    execution_type: ExecutionType
    fill: Fill | None = None
    bids_notional: Decimal = ZERO
    asks_notional: Decimal = ZERO
    expire_reason: int = 0


class AccountEvent(msgspec.Struct, frozen=True, kw_only=True):
    """ACCOUNT_UPDATE: balances and positions that changed, with Binance's reason (``m``).

    Reasons: ORDER, FUNDING_FEE, DEPOSIT, WITHDRAW, MARGIN_TYPE_CHANGE, ADJUSTMENT, INSURANCE_CLEAR, ...
    ``balance_change`` (``bc``): the wallet change this event carries other than realized PnL and
    commission (a funding payment, an insurance clearance fee); 0 for trades.
    """

    account: str
    ts: int
    reason: str
    balances: tuple[Balance, ...]
    positions: tuple[Position, ...]
    balance_change: Decimal = ZERO


class AlgoEvent(msgspec.Struct, frozen=True, kw_only=True):
    """ALGO_UPDATE: the algo order after a status change (NEW, TRIGGERING, TRIGGERED, FINISHED, ...)."""

    account: str
    ts: int
    algo: AlgoOrder


class AccountConfigEvent(msgspec.Struct, frozen=True, kw_only=True):
    """ACCOUNT_CONFIG_UPDATE: a symbol's leverage changed (``ac``)."""

    account: str
    ts: int
    symbol: str
    leverage: int


UserEvent = OrderEvent | AccountEvent | AlgoEvent | AccountConfigEvent
