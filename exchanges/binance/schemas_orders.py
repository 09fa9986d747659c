"""Order REST schemas: order (new / query / cancel answers), algoOrder, userTrades, batch answers and
countdownCancelAll, with their conversion to domain types; and the other direction, the request
parameters of an :class:`OrderRequest` / :class:`AlgoOrderRequest`.

Field names follow Binance's USDⓈ-M "Trade Endpoints" pages. The answers of POST/DELETE order and
batchOrders carry ``cumQty`` and no ``time``; the query answers carry ``time``; one schema reads both.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.types import (
    AlgoOrder,
    AlgoOrderRequest,
    AlgoStatus,
    AlgoType,
    Fill,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    PositionSide,
    PriceMatch,
    Side,
    TimeInForce,
    WorkingType,
)
from exchanges.binance.schemas import ErrorBody, Schema, dec, decode, enum_of
from exchanges.binance.signing import ParamValue

__all__ = [
    "AlgoCancelSchema",
    "AlgoOrderSchema",
    "BatchItem",
    "CountdownSchema",
    "OrderSchema",
    "UserTradeSchema",
    "algo_order_params",
    "decode_batch",
    "order_params",
]

# Binance shows GTE_GTC ("good till the position is closed") on closePosition conditionals; the domain
# treats it as GTC, which is what it means for the order's own lifetime.
_TIF_ALIASES = {"GTE_GTC": TimeInForce.GTC}


def _tif(value: str) -> TimeInForce:
    return enum_of(TimeInForce, value, aliases=_TIF_ALIASES)


class OrderSchema(Schema, frozen=True):
    """An order as every order endpoint answers it (query, open orders, new, cancel, batch items)."""

    order_id: int
    symbol: str
    status: str
    client_order_id: str
    price: Decimal
    orig_qty: Decimal
    executed_qty: Decimal
    time_in_force: str
    type: str
    side: str
    avg_price: str = "0"
    cum_quote: str = "0"
    cum_qty: str = ""
    reduce_only: bool = False
    close_position: bool = False
    position_side: str = "BOTH"
    stop_price: str = "0"
    working_type: str = "CONTRACT_PRICE"
    price_protect: bool = False
    orig_type: str = ""
    price_match: str = "NONE"
    self_trade_prevention_mode: str = "NONE"
    good_till_date: int = 0
    time: int = 0
    update_time: int = 0

    def to_order(self) -> Order:
        order_type = enum_of(OrderType, self.type)
        return Order(
            symbol=self.symbol,
            order_id=self.order_id,
            client_order_id=self.client_order_id,
            side=enum_of(Side, self.side),
            type=order_type,
            orig_type=enum_of(OrderType, self.orig_type) if self.orig_type else order_type,
            time_in_force=_tif(self.time_in_force),
            orig_qty=self.orig_qty,
            price=self.price,
            status=enum_of(OrderStatus, self.status),
            executed_qty=self.executed_qty,
            cum_quote=dec(self.cum_quote),
            avg_price=dec(self.avg_price),
            stop_price=dec(self.stop_price),
            reduce_only=self.reduce_only,
            close_position=self.close_position,
            position_side=enum_of(PositionSide, self.position_side),
            working_type=enum_of(WorkingType, self.working_type),
            price_protect=self.price_protect,
            price_match=enum_of(PriceMatch, self.price_match),
            self_trade_prevention_mode=self.self_trade_prevention_mode,
            good_till_date=self.good_till_date,
            time=self.time,
            update_time=self.update_time,
        )


# One item of a batchOrders answer: the order, or Binance's in-place error for that item.
BatchItem = OrderSchema | ErrorBody


class _MaybeError(msgspec.Struct, frozen=True):
    code: int | None = None


def decode_batch(data: bytes) -> list[BatchItem]:
    """A batchOrders answer: each item an :class:`OrderSchema`, or an :class:`ErrorBody` where it failed.

    msgspec cannot tell two untagged Structs apart, so each item is looked at (``code`` present?) first.
    """
    out: list[BatchItem] = []
    for raw in decode(data, list[msgspec.Raw]):
        if decode(raw, _MaybeError).code is not None:
            out.append(decode(raw, ErrorBody))
        else:
            out.append(decode(raw, OrderSchema))
    return out


class AlgoOrderSchema(Schema, frozen=True):
    """An algo order as POST / GET algoOrder and openAlgoOrders answer it."""

    algo_id: int
    client_algo_id: str
    order_type: str
    symbol: str
    side: str
    algo_status: str
    algo_type: str = "CONDITIONAL"
    position_side: str = "BOTH"
    time_in_force: str = "GTC"
    quantity: str = "0"
    trigger_price: str = "0"
    price: str = "0"
    actual_order_id: str = ""
    actual_price: str = ""
    self_trade_prevention_mode: str = "EXPIRE_MAKER"
    working_type: str = "CONTRACT_PRICE"
    price_match: str = "NONE"
    close_position: bool = False
    price_protect: bool = False
    reduce_only: bool = False
    activate_price: str | None = None
    callback_rate: str | None = None
    create_time: int = 0
    update_time: int = 0
    trigger_time: int = 0
    good_till_date: int = 0

    def to_algo_order(self) -> AlgoOrder:
        return AlgoOrder(
            symbol=self.symbol,
            algo_id=self.algo_id,
            client_algo_id=self.client_algo_id,
            side=enum_of(Side, self.side),
            order_type=enum_of(OrderType, self.order_type),
            quantity=dec(self.quantity),
            trigger_price=dec(self.trigger_price),
            status=enum_of(AlgoStatus, self.algo_status),
            algo_type=enum_of(AlgoType, self.algo_type),
            price=dec(self.price),
            time_in_force=_tif(self.time_in_force),
            working_type=enum_of(WorkingType, self.working_type),
            position_side=enum_of(PositionSide, self.position_side),
            close_position=self.close_position,
            reduce_only=self.reduce_only,
            price_protect=self.price_protect,
            price_match=enum_of(PriceMatch, self.price_match),
            activate_price=dec(self.activate_price),
            callback_rate=dec(self.callback_rate),
            self_trade_prevention_mode=self.self_trade_prevention_mode,
            good_till_date=self.good_till_date,
            create_time=self.create_time,
            update_time=self.update_time,
            trigger_time=self.trigger_time,
            actual_order_id=self.actual_order_id,
            actual_price=dec(self.actual_price),
        )


class AlgoCancelSchema(Schema, frozen=True):
    """DELETE /fapi/v1/algoOrder: ``{"algoId", "clientAlgoId", "code": "200", "msg": "success"}``."""

    algo_id: int
    client_algo_id: str
    code: int | str = 200
    msg: str = ""


class UserTradeSchema(Schema, frozen=True):
    """A row of GET /fapi/v1/userTrades."""

    id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    maker: bool
    time: int
    position_side: str = "BOTH"
    buyer: bool = False

    def to_fill(self, client_order_id: str = "") -> Fill:
        """The fill; userTrades does not carry the client order id, so the caller may supply it."""
        return Fill(
            symbol=self.symbol,
            trade_id=self.id,
            order_id=self.order_id,
            client_order_id=client_order_id,
            side=enum_of(Side, self.side),
            price=self.price,
            qty=self.qty,
            quote_qty=self.quote_qty,
            commission=self.commission,
            commission_asset=self.commission_asset,
            realized_pnl=self.realized_pnl,
            is_maker=self.maker,
            ts=self.time,
            position_side=enum_of(PositionSide, self.position_side),
        )


class CountdownSchema(Schema, frozen=True):
    """POST /fapi/v1/countdownCancelAll: ``{"symbol": "BTCUSDT", "countdownTime": "100000"}``."""

    symbol: str
    countdown_time: int | str

    @property
    def countdown_ms(self) -> int:
        return int(self.countdown_time)


# --- requests: domain → wire parameters -------------------------------------------------------------------


def order_params(req: OrderRequest, *, resp_type: str = "RESULT") -> dict[str, ParamValue]:
    """The parameters of ``POST /fapi/v1/order`` (or one batchOrders item) for ``req``.

    Optional flags are sent only when they say something (``reduceOnly`` only when true, ``positionSide``
    only in hedge mode...): Binance refuses some of them where they do not apply (e.g. reduceOnly in hedge
    mode). ``RESULT`` answers carry the fill state of a MARKET order right away.
    """
    params: dict[str, ParamValue] = {
        "symbol": req.symbol,
        "side": req.side,
        "type": req.type,
        "quantity": req.quantity,
        "price": req.price,
        "timeInForce": req.time_in_force,
        "newClientOrderId": req.client_order_id,
        "newOrderRespType": resp_type,
    }
    if req.reduce_only:
        params["reduceOnly"] = True
    if req.position_side is not PositionSide.BOTH:
        params["positionSide"] = req.position_side
    if req.price_match is not PriceMatch.NONE:
        params["priceMatch"] = req.price_match
    if req.good_till_date:
        params["goodTillDate"] = req.good_till_date
    return {k: v for k, v in params.items() if v is not None}


def algo_order_params(req: AlgoOrderRequest) -> dict[str, ParamValue]:
    """The parameters of ``POST /fapi/v1/algoOrder`` (``algoType=CONDITIONAL``) for ``req``."""
    params: dict[str, ParamValue] = {
        "algoType": "CONDITIONAL",
        "symbol": req.symbol,
        "side": req.side,
        "type": req.type,
        "triggerPrice": req.trigger_price,
        "price": req.price,
        "clientAlgoId": req.client_algo_id,
        "workingType": req.working_type,
        "activatePrice": req.activate_price,
        "callbackRate": req.callback_rate,
    }
    if req.close_position:
        params["closePosition"] = True  # with closePosition Binance refuses quantity and reduceOnly
    else:
        params["quantity"] = req.quantity
        if req.reduce_only:
            params["reduceOnly"] = True
    if req.price is not None:
        params["timeInForce"] = req.time_in_force
    if req.price_protect:
        params["priceProtect"] = True
    if req.position_side is not PositionSide.BOTH:
        params["positionSide"] = req.position_side
    return {k: v for k, v in params.items() if v is not None}
