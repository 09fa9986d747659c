"""Order endpoints: order (POST/GET/DELETE), order/test, batchOrders, openOrder(s), allOpenOrders,
allOrders, userTrades, countdownCancelAll.
"""

from __future__ import annotations

import msgspec

from core.types import ZERO, Order, OrderStatus, OrderType, PositionSide, PriceMatch, Side, TimeInForce
from exchanges.sandbox.engine.requests import NewOrder
from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.server.params import Params
from exchanges.sandbox.server.routing import Call, Route
from exchanges.sandbox.server.wire import order_ack_wire, order_wire, user_trade_wire

__all__ = ["ROUTES", "STP_MODES", "error_item", "parse_new_order"]

STP_MODES = frozenset(("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"))
RESP_TYPES = frozenset(("ACK", "RESULT"))
MAX_BATCH_ORDERS = 5
MAX_BATCH_CANCELS = 10
CANCEL_ALL_DONE = {"code": 200, "msg": "The operation of cancel all open order is done."}


def error_item(err: ExchangeError) -> dict[str, object]:
    """The in-place answer of a failed batch item."""
    return {"code": err.code, "msg": err.msg}


def parse_new_order(p: Params) -> NewOrder:
    """Parse ``POST /fapi/v1/order`` parameters (or one batchOrders item) into a :class:`NewOrder`."""
    symbol = p.req_symbol()
    side = p.req_enum("side", Side)
    order_type = p.req_enum("type", OrderType)
    if order_type.is_conditional:
        raise ExchangeError.conditional_on_order_endpoint()
    if order_type is OrderType.LIQUIDATION:
        raise ExchangeError.invalid_order_type()
    price_match = p.opt_enum("priceMatch", PriceMatch) or PriceMatch.NONE
    quantity = p.req_decimal("quantity")
    price = p.opt_decimal("price")
    tif = p.opt_enum("timeInForce", TimeInForce)
    if order_type is OrderType.LIMIT:
        if price_match is PriceMatch.NONE:
            if price is None:
                raise ExchangeError.mandatory_missing("price")
        elif price is not None:
            raise ExchangeError.param_not_required("price")
        if tif is None:
            raise ExchangeError.mandatory_missing("timeInForce")
    else:
        if price is not None:
            raise ExchangeError.param_not_required("price")
        if price_match is not PriceMatch.NONE:
            raise ExchangeError.param_not_required("priceMatch")
    good_till_date = p.opt_int("goodTillDate") or 0
    if tif is TimeInForce.GTD and not good_till_date:
        raise ExchangeError.mandatory_missing("goodTillDate")
    stp = p.opt_str("selfTradePreventionMode") or "EXPIRE_MAKER"
    if stp not in STP_MODES:
        raise ExchangeError.bad_param("selfTradePreventionMode", stp)
    resp_type = p.opt_str("newOrderRespType") or "ACK"
    if resp_type not in RESP_TYPES:
        raise ExchangeError.bad_param("newOrderRespType", resp_type)
    return NewOrder(
        symbol=symbol,
        side=side,
        type=order_type,
        quantity=quantity,
        price=price,
        time_in_force=tif,
        reduce_only=p.flag("reduceOnly"),
        position_side=p.opt_enum("positionSide", PositionSide) or PositionSide.BOTH,
        new_client_order_id=p.client_id("newClientOrderId"),
        price_match=price_match,
        good_till_date=good_till_date,
        self_trade_prevention_mode=stp,
        new_order_resp_type=resp_type,
    )


def _ack_view(order: Order) -> Order:
    """What an ACK answer shows: the order as accepted, before any execution."""
    return msgspec.structs.replace(
        order,
        status=OrderStatus.NEW,
        executed_qty=ZERO,
        cum_quote=ZERO,
        avg_price=ZERO,
        update_time=order.time or order.update_time,
    )


def _place(call: Call, req: NewOrder) -> object:
    order = call.ctx.core.new_order(call.account, req)
    shown = order if req.new_order_resp_type == "RESULT" else _ack_view(order)
    return order_ack_wire(shown, call.instrument(order.symbol))


def new_order(call: Call) -> object:
    return _place(call, parse_new_order(call.params))


def test_order(call: Call) -> object:
    """POST /fapi/v1/order/test: validated as a new order, nothing placed; answers the would-be order."""
    req = parse_new_order(call.params)
    order = call.ctx.core.test_order(call.account, req)
    return order_ack_wire(order, call.instrument(order.symbol))


def _order_ref(p: Params) -> tuple[int | None, str | None]:
    order_id = p.opt_int("orderId")
    client_id = p.opt_str("origClientOrderId")
    if order_id is None and client_id is None:
        raise ExchangeError.either_param_missing("orderId", "origClientOrderId")
    return order_id, client_id


def get_order(call: Call) -> object:
    symbol = call.instrument(call.params.req_symbol()).symbol
    order_id, client_id = _order_ref(call.params)
    order = call.ctx.core.get_order(call.account, symbol, order_id, client_id)
    return order_wire(order, call.instrument(symbol))


def cancel_order(call: Call) -> object:
    symbol = call.instrument(call.params.req_symbol()).symbol
    order_id, client_id = _order_ref(call.params)
    order = call.ctx.core.cancel_order(call.account, symbol, order_id, client_id)
    return order_ack_wire(order, call.instrument(symbol))


def batch_orders(call: Call) -> object:
    items = call.params.json_list("batchOrders", MAX_BATCH_ORDERS)
    out: list[object] = []
    for item in items:
        try:
            req = parse_new_order(Params.from_json_object(item, "batchOrders"))
            out.append(_place(call, req))
        except ExchangeError as err:
            out.append(error_item(err))
    return out


def cancel_batch(call: Call) -> object:
    p = call.params
    symbol = call.instrument(p.req_symbol()).symbol
    refs: list[tuple[int | None, str | None]]
    if p.present("orderIdList"):
        ids = p.json_list("orderIdList", MAX_BATCH_CANCELS)
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise ExchangeError.bad_param("orderIdList")
        refs = [(int(i), None) for i in ids]  # type: ignore[call-overload]
    elif p.present("origClientOrderIdList"):
        cids = p.json_list("origClientOrderIdList", MAX_BATCH_CANCELS)
        if not all(isinstance(c, str) for c in cids):
            raise ExchangeError.bad_param("origClientOrderIdList")
        refs = [(None, str(c)) for c in cids]
    else:
        raise ExchangeError.either_param_missing("orderIdList", "origClientOrderIdList")
    inst = call.instrument(symbol)
    out: list[object] = []
    for order_id, client_id in refs:
        try:
            order = call.ctx.core.cancel_order(call.account, symbol, order_id, client_id)
            out.append(order_ack_wire(order, inst))
        except ExchangeError as err:
            out.append(error_item(err))
    return out


def open_order(call: Call) -> object:
    symbol = call.instrument(call.params.req_symbol()).symbol
    order_id, client_id = _order_ref(call.params)
    order = call.ctx.core.get_order(call.account, symbol, order_id, client_id)
    if not order.status.is_open:
        raise ExchangeError.no_such_order()
    return order_wire(order, call.instrument(symbol))


def open_orders(call: Call) -> object:
    symbol = call.params.opt_symbol()
    if symbol is not None:
        symbol = call.instrument(symbol).symbol
    orders = call.ctx.core.open_orders(call.account, symbol)
    return [order_wire(o, call.instrument(o.symbol)) for o in orders]


def cancel_all_open_orders(call: Call) -> object:
    symbol = call.instrument(call.params.req_symbol()).symbol
    call.ctx.core.cancel_all_orders(call.account, symbol)
    return CANCEL_ALL_DONE


def all_orders(call: Call) -> object:
    p = call.params
    inst = call.instrument(p.req_symbol())
    orders = call.ctx.core.all_orders(
        call.account,
        inst.symbol,
        order_id=p.opt_int("orderId"),
        start_time=p.opt_int("startTime"),
        end_time=p.opt_int("endTime"),
        limit=p.limit(500, 1000),
    )
    return [order_wire(o, inst) for o in orders]


def user_trades(call: Call) -> object:
    p = call.params
    inst = call.instrument(p.req_symbol())
    from_id = p.opt_int("fromId")
    start, end = p.opt_int("startTime"), p.opt_int("endTime")
    if from_id is not None and (start is not None or end is not None):
        raise ExchangeError.bad_param_combination()
    fills = call.ctx.core.user_trades(
        call.account,
        inst.symbol,
        order_id=p.opt_int("orderId"),
        start_time=start,
        end_time=end,
        from_id=from_id,
        limit=p.limit(500, 1000),
    )
    return [user_trade_wire(f, inst) for f in fills]


def countdown_cancel_all(call: Call) -> object:
    symbol = call.instrument(call.params.req_symbol()).symbol
    countdown = call.params.req_int("countdownTime")
    if countdown < 0:
        raise ExchangeError.countdown_invalid()
    call.ctx.core.countdown_cancel_all(call.account, symbol, countdown)
    return {"symbol": symbol, "countdownTime": str(countdown)}


ROUTES = (
    Route("POST", "/fapi/v1/order", new_order, signed=True, places_orders=True),
    Route("POST", "/fapi/v1/order/test", test_order, signed=True),
    Route("GET", "/fapi/v1/order", get_order, signed=True),
    Route("DELETE", "/fapi/v1/order", cancel_order, signed=True),
    Route("POST", "/fapi/v1/batchOrders", batch_orders, signed=True, places_orders=True),
    Route("DELETE", "/fapi/v1/batchOrders", cancel_batch, signed=True),
    Route("GET", "/fapi/v1/openOrder", open_order, signed=True),
    Route("GET", "/fapi/v1/openOrders", open_orders, signed=True),
    Route("DELETE", "/fapi/v1/allOpenOrders", cancel_all_open_orders, signed=True),
    Route("GET", "/fapi/v1/allOrders", all_orders, signed=True),
    Route("GET", "/fapi/v1/userTrades", user_trades, signed=True),
    Route("POST", "/fapi/v1/countdownCancelAll", countdown_cancel_all, signed=True),
)
