"""Mutable order and algo-order state inside the core, and their immutable snapshots."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.types import (
    ZERO,
    AlgoOrder,
    AlgoStatus,
    Order,
    OrderStatus,
    OrderType,
    PriceMatch,
    Side,
    TimeInForce,
    WorkingType,
)

__all__ = ["AlgoState", "OrderState", "avg_price"]

_AVG_QUANT = Decimal("0.00000001")


def avg_price(cum_quote: Decimal, qty: Decimal) -> Decimal:
    """Average fill price, 8 decimals (0 when nothing filled)."""
    if qty == 0:
        return ZERO
    return (cum_quote / qty).quantize(_AVG_QUANT)


class OrderState:
    """A regular order as the matching engine holds it (mutated in place; ``snapshot`` freezes it)."""

    __slots__ = (
        "account",
        "algo_id",
        "client_order_id",
        "cum_quote",
        "executed_qty",
        "good_till_date",
        "order_id",
        "orig_qty",
        "orig_type",
        "price",
        "price_match",
        "reduce_only",
        "self_trade_prevention_mode",
        "side",
        "status",
        "stop_price",
        "symbol",
        "time",
        "time_in_force",
        "type",
        "update_time",
        "working_type",
    )

    def __init__(
        self,
        *,
        account: str,
        symbol: str,
        order_id: int,
        client_order_id: str,
        side: Side,
        type: OrderType,
        orig_type: OrderType,
        time_in_force: TimeInForce,
        orig_qty: Decimal,
        price: Decimal,
        reduce_only: bool,
        time: int,
        stop_price: Decimal = ZERO,
        working_type: WorkingType = WorkingType.CONTRACT_PRICE,
        price_match: PriceMatch = PriceMatch.NONE,
        self_trade_prevention_mode: str = "EXPIRE_MAKER",
        good_till_date: int = 0,
        algo_id: int = 0,
    ) -> None:
        self.account = account
        self.symbol = symbol
        self.order_id = order_id
        self.client_order_id = client_order_id
        self.side = side
        self.type = type
        self.orig_type = orig_type
        self.time_in_force = time_in_force
        self.orig_qty = orig_qty
        self.price = price
        self.reduce_only = reduce_only
        self.time = time
        self.update_time = time
        self.status = OrderStatus.NEW
        self.executed_qty = ZERO
        self.cum_quote = ZERO
        self.stop_price = stop_price
        self.working_type = working_type
        self.price_match = price_match
        self.self_trade_prevention_mode = self_trade_prevention_mode
        self.good_till_date = good_till_date
        self.algo_id = algo_id

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    def snapshot(self) -> Order:
        return Order(
            symbol=self.symbol,
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            side=self.side,
            type=self.type,
            orig_type=self.orig_type,
            time_in_force=self.time_in_force,
            orig_qty=self.orig_qty,
            price=self.price,
            status=self.status,
            executed_qty=self.executed_qty,
            cum_quote=self.cum_quote,
            avg_price=avg_price(self.cum_quote, self.executed_qty),
            stop_price=self.stop_price,
            reduce_only=self.reduce_only,
            working_type=self.working_type,
            price_match=self.price_match,
            self_trade_prevention_mode=self.self_trade_prevention_mode,
            good_till_date=self.good_till_date,
            time=self.time,
            update_time=self.update_time,
        )


class AlgoState:
    """A conditional order held until its trigger fires; ``snapshot`` gives the wire-facing AlgoOrder."""

    __slots__ = ("account", "actual_order_id", "extreme", "order", "status_time")

    def __init__(self, account: str, order: AlgoOrder) -> None:
        self.account = account
        self.order = order
        self.actual_order_id = 0
        # Trailing stops: best price seen since activation (highest for SELL, lowest for BUY); None until
        # the activation price is reached.
        self.extreme: Decimal | None = None
        self.status_time = order.create_time

    @property
    def is_open(self) -> bool:
        return self.order.status.is_open

    def update(self, **changes: object) -> AlgoOrder:
        self.order = msgspec.structs.replace(self.order, **changes)
        return self.order

    @property
    def status(self) -> AlgoStatus:
        return self.order.status
