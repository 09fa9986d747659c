"""Algo (conditional) order endpoints: algoOrder (POST/GET/DELETE), openAlgoOrders, allAlgoOrders,
algoOpenOrders."""

from __future__ import annotations

from core.types import OrderType, PositionSide, PriceMatch, Side, TimeInForce, WorkingType
from exchanges.sandbox.engine.requests import NewAlgoOrder
from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.server.params import Params
from exchanges.sandbox.server.rest_trade import CANCEL_ALL_DONE, STP_MODES
from exchanges.sandbox.server.routing import Call, Route
from exchanges.sandbox.server.wire import algo_order_wire, new_algo_order_wire

__all__ = ["ROUTES", "parse_new_algo_order"]

_LIMIT_TYPES = (OrderType.STOP, OrderType.TAKE_PROFIT)
_CLOSE_ALL_TYPES = (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)


def parse_new_algo_order(p: Params) -> NewAlgoOrder:
    """Parse ``POST /fapi/v1/algoOrder`` parameters into a :class:`NewAlgoOrder`."""
    algo_type = p.req_str("algoType")
    if algo_type != "CONDITIONAL":
        raise ExchangeError.bad_param("algoType", algo_type)
    symbol = p.req_symbol()
    side = p.req_enum("side", Side)
    order_type = p.req_enum("type", OrderType)
    if not order_type.is_conditional:
        raise ExchangeError.invalid_order_type()
    close_position = p.flag("closePosition")
    reduce_only = p.opt_bool("reduceOnly")
    quantity = p.opt_decimal("quantity")
    if close_position:
        if order_type not in _CLOSE_ALL_TYPES:
            raise ExchangeError.param_not_required("closePosition")
        if quantity is not None:
            raise ExchangeError.param_not_required("quantity")
        if reduce_only is not None:
            raise ExchangeError.param_not_required("reduceOnly")
    elif quantity is None:
        raise ExchangeError.mandatory_missing("quantity")
    price_match = p.opt_enum("priceMatch", PriceMatch) or PriceMatch.NONE
    price = p.opt_decimal("price")
    if order_type in _LIMIT_TYPES:
        if price is None and price_match is PriceMatch.NONE:
            raise ExchangeError.mandatory_missing("price")
        if price is not None and price_match is not PriceMatch.NONE:
            raise ExchangeError.param_not_required("price")
    elif price is not None:
        raise ExchangeError.param_not_required("price")
    trigger_price = p.opt_decimal("triggerPrice")
    activate_price = p.opt_decimal("activatePrice")
    callback_rate = p.opt_decimal("callbackRate")
    if order_type is OrderType.TRAILING_STOP_MARKET:
        if callback_rate is None:
            raise ExchangeError.mandatory_missing("callbackRate")
    else:
        if trigger_price is None:
            raise ExchangeError.mandatory_missing("triggerPrice")
        if callback_rate is not None:
            raise ExchangeError.param_not_required("callbackRate")
    stp = p.opt_str("selfTradePreventionMode") or "EXPIRE_MAKER"
    if stp not in STP_MODES:
        raise ExchangeError.bad_param("selfTradePreventionMode", stp)
    tif = p.opt_enum("timeInForce", TimeInForce) or TimeInForce.GTC
    good_till_date = p.opt_int("goodTillDate") or 0
    if tif is TimeInForce.GTD and not good_till_date:
        raise ExchangeError.mandatory_missing("goodTillDate")
    return NewAlgoOrder(
        symbol=symbol,
        side=side,
        type=order_type,
        trigger_price=trigger_price,
        quantity=quantity,
        price=price,
        time_in_force=tif,
        working_type=p.opt_enum("workingType", WorkingType) or WorkingType.CONTRACT_PRICE,
        close_position=close_position,
        reduce_only=bool(reduce_only),
        price_protect=p.flag("priceProtect"),
        position_side=p.opt_enum("positionSide", PositionSide) or PositionSide.BOTH,
        client_algo_id=p.client_id("clientAlgoId"),
        activate_price=activate_price,
        callback_rate=callback_rate,
        price_match=price_match,
        good_till_date=good_till_date,
        self_trade_prevention_mode=stp,
    )


def new_algo_order(call: Call) -> object:
    algo = call.ctx.core.new_algo_order(call.account, parse_new_algo_order(call.params))
    return new_algo_order_wire(algo, call.instrument(algo.symbol))


def _algo_ref(p: Params) -> tuple[int | None, str | None]:
    algo_id = p.opt_int("algoId")
    client_id = p.opt_str("clientAlgoId")
    if algo_id is None and client_id is None:
        raise ExchangeError.either_param_missing("algoId", "clientAlgoId")
    return algo_id, client_id


def get_algo_order(call: Call) -> object:
    algo_id, client_id = _algo_ref(call.params)
    algo = call.ctx.core.get_algo_order(call.account, algo_id, client_id)
    return algo_order_wire(algo, call.instrument(algo.symbol))


def cancel_algo_order(call: Call) -> object:
    algo_id, client_id = _algo_ref(call.params)
    algo = call.ctx.core.cancel_algo_order(call.account, algo_id, client_id)
    # Binance sends this code as a string here, unlike the other {"code": 200} answers.
    return {"algoId": algo.algo_id, "clientAlgoId": algo.client_algo_id, "code": "200", "msg": "success"}


def open_algo_orders(call: Call) -> object:
    p = call.params
    symbol = p.opt_symbol()
    if symbol is not None:
        symbol = call.instrument(symbol).symbol
    algo_type = p.opt_str("algoType")
    if algo_type is not None and algo_type != "CONDITIONAL":
        raise ExchangeError.bad_param("algoType", algo_type)
    algo_id = p.opt_int("algoId")
    algos = call.ctx.core.open_algo_orders(call.account, symbol)
    if algo_id is not None:
        algos = [a for a in algos if a.algo_id == algo_id]
    return [algo_order_wire(a, call.instrument(a.symbol)) for a in algos]


def all_algo_orders(call: Call) -> object:
    """GET /fapi/v1/allAlgoOrders: a symbol's open and finished algo orders (``AlgoCore.all_algo_orders``)."""
    p = call.params
    inst = call.instrument(p.req_symbol())
    start, end = p.opt_int("startTime"), p.opt_int("endTime")
    if start is not None and end is not None and start > end:
        raise ExchangeError.bad_param_combination()
    page = p.opt_int("page")
    if page is not None and page < 1:
        raise ExchangeError.bad_param("page", str(page))
    algos = call.ctx.core.all_algo_orders(
        call.account,
        inst.symbol,
        algo_id=p.opt_int("algoId"),
        start_time=start,
        end_time=end,
        page=page,
        limit=p.limit(500, 1000),
    )
    return [algo_order_wire(a, inst) for a in algos]


def cancel_all_algo_orders(call: Call) -> object:
    symbol = call.instrument(call.params.req_symbol()).symbol
    call.ctx.core.cancel_all_algo_orders(call.account, symbol)
    return CANCEL_ALL_DONE


ROUTES = (
    Route("POST", "/fapi/v1/algoOrder", new_algo_order, signed=True, places_orders=True),
    Route("GET", "/fapi/v1/algoOrder", get_algo_order, signed=True),
    Route("DELETE", "/fapi/v1/algoOrder", cancel_algo_order, signed=True),
    Route("GET", "/fapi/v1/openAlgoOrders", open_algo_orders, signed=True),
    Route("GET", "/fapi/v1/allAlgoOrders", all_algo_orders, signed=True),
    Route("DELETE", "/fapi/v1/algoOpenOrders", cancel_all_algo_orders, signed=True),
)
