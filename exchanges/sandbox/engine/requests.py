"""Commands the server hands to the exchange core, already parsed from the wire.

The server parses strings into these (Decimal, enums) and answers -1102/-1116/... for bad input; the
core then applies the exchange's rules (filters, margin, triggers) and raises ``ExchangeError``.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.types import OrderType, PositionSide, PriceMatch, Side, TimeInForce, WorkingType

__all__ = ["NewAlgoOrder", "NewOrder"]


class NewOrder(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /fapi/v1/order`` (and each entry of batchOrders)."""

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None = None
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    position_side: PositionSide = PositionSide.BOTH
    new_client_order_id: str | None = None
    price_match: PriceMatch = PriceMatch.NONE
    good_till_date: int = 0
    self_trade_prevention_mode: str = "EXPIRE_MAKER"
    new_order_resp_type: str = "ACK"  # ACK or RESULT


class NewAlgoOrder(msgspec.Struct, frozen=True, kw_only=True):
    """``POST /fapi/v1/algoOrder`` with ``algoType=CONDITIONAL``."""

    symbol: str
    side: Side
    type: OrderType  # STOP_MARKET, TAKE_PROFIT_MARKET, STOP, TAKE_PROFIT, TRAILING_STOP_MARKET
    trigger_price: Decimal | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    close_position: bool = False
    reduce_only: bool = False
    price_protect: bool = False
    position_side: PositionSide = PositionSide.BOTH
    client_algo_id: str | None = None
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None
    price_match: PriceMatch = PriceMatch.NONE
    good_till_date: int = 0
    self_trade_prevention_mode: str = "EXPIRE_MAKER"
