"""Binance USDⓈ-M REST response schemas, and the conversions from domain types to them.

Field names, order and JSON types follow Binance's documentation and the official SDK's response
models: decimals are strings (exact, plain notation, padded to the symbol's precision where Binance
pads), ids and times are integers. Conversions never round: padding only adds zeros.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.precision import format_decimal
from core.types import ZERO, AlgoOrder, Fill, Instrument, MarginType, Order, Position

__all__ = [
    "AlgoOrderWire",
    "NewAlgoOrderWire",
    "OrderAckWire",
    "OrderWire",
    "PositionRiskV2Wire",
    "PositionRiskV3Wire",
    "UserTradeWire",
    "algo_order_wire",
    "fixed",
    "new_algo_order_wire",
    "order_ack_wire",
    "order_wire",
    "plain",
    "position_v2_wire",
    "position_v3_wire",
    "user_trade_wire",
]

# Binance pads these amounts to a fixed number of places (observed in real bodies).
QUOTE_PLACES = 5  # cumQuote, quoteQty
BALANCE_PLACES = 8  # wallet / margin amounts, commissions


def plain(value: Decimal) -> str:
    """Exact plain notation, trailing zeros dropped (``67445.9``, ``0``)."""
    return format_decimal(value)


def fixed(value: Decimal, places: int) -> str:
    """Exact, with at least ``places`` decimals (``0.200``); never rounds away digits."""
    text = format_decimal(value)
    have = len(text) - text.index(".") - 1 if "." in text else 0
    if have >= places:
        return text
    return (text if have else text + ".") + "0" * (places - have) if places else text


class _Wire(msgspec.Struct, rename="camel", omit_defaults=False):
    """Base of the response schemas: snake_case here, camelCase on the wire."""


class OrderWire(_Wire):
    """An order as GET order / openOrder / openOrders / allOrders return it."""

    order_id: int
    symbol: str
    status: str
    client_order_id: str
    price: str
    avg_price: str
    orig_qty: str
    executed_qty: str
    cum_quote: str
    time_in_force: str
    type: str
    reduce_only: bool
    close_position: bool
    side: str
    position_side: str
    stop_price: str
    working_type: str
    price_protect: bool
    orig_type: str
    price_match: str
    self_trade_prevention_mode: str
    good_till_date: int
    time: int
    update_time: int


class OrderAckWire(_Wire):
    """An order as POST/DELETE order and batchOrders answer it (``cumQty`` and no ``time``)."""

    order_id: int
    symbol: str
    status: str
    client_order_id: str
    price: str
    avg_price: str
    orig_qty: str
    executed_qty: str
    cum_qty: str
    cum_quote: str
    time_in_force: str
    type: str
    reduce_only: bool
    close_position: bool
    side: str
    position_side: str
    stop_price: str
    working_type: str
    price_protect: bool
    orig_type: str
    price_match: str
    self_trade_prevention_mode: str
    good_till_date: int
    update_time: int


def _order_fields(order: Order, inst: Instrument) -> dict[str, object]:
    pp, qp = inst.price_precision, inst.quantity_precision
    return {
        "order_id": order.order_id,
        "symbol": order.symbol,
        "status": str(order.status),
        "client_order_id": order.client_order_id,
        "price": fixed(order.price, pp),
        "avg_price": fixed(order.avg_price, pp),
        "orig_qty": fixed(order.orig_qty, qp),
        "executed_qty": fixed(order.executed_qty, qp),
        "cum_quote": fixed(order.cum_quote, QUOTE_PLACES),
        "time_in_force": str(order.time_in_force),
        "type": str(order.type),
        "reduce_only": order.reduce_only,
        "close_position": order.close_position,
        "side": str(order.side),
        "position_side": str(order.position_side),
        "stop_price": fixed(order.stop_price, pp),
        "working_type": str(order.working_type),
        "price_protect": order.price_protect,
        "orig_type": str(order.orig_type),
        "price_match": str(order.price_match),
        "self_trade_prevention_mode": order.self_trade_prevention_mode,
        "good_till_date": order.good_till_date,
    }


def order_wire(order: Order, inst: Instrument) -> OrderWire:
    return OrderWire(**_order_fields(order, inst), time=order.time, update_time=order.update_time)  # type: ignore[arg-type]


def order_ack_wire(order: Order, inst: Instrument) -> OrderAckWire:
    return OrderAckWire(
        **_order_fields(order, inst),  # type: ignore[arg-type]
        cum_qty=fixed(order.executed_qty, inst.quantity_precision),
        update_time=order.update_time,
    )


class NewAlgoOrderWire(_Wire):
    """POST /fapi/v1/algoOrder answer."""

    algo_id: int
    client_algo_id: str
    algo_type: str
    order_type: str
    symbol: str
    side: str
    position_side: str
    time_in_force: str
    quantity: str
    algo_status: str
    trigger_price: str
    price: str
    iceberg_quantity: str | None
    self_trade_prevention_mode: str
    working_type: str
    price_match: str
    close_position: bool
    price_protect: bool
    reduce_only: bool
    activate_price: str
    callback_rate: str
    create_time: int
    update_time: int
    trigger_time: int
    good_till_date: int


class AlgoOrderWire(_Wire):
    """An algo order as GET algoOrder / openAlgoOrders / allAlgoOrders return it."""

    algo_id: int
    client_algo_id: str
    algo_type: str
    order_type: str
    symbol: str
    side: str
    position_side: str
    time_in_force: str
    quantity: str
    algo_status: str
    actual_order_id: str
    actual_price: str
    trigger_price: str
    price: str
    iceberg_quantity: str | None
    tp_trigger_price: str
    tp_price: str
    sl_trigger_price: str
    sl_price: str
    tp_order_type: str
    self_trade_prevention_mode: str
    working_type: str
    price_match: str
    close_position: bool
    price_protect: bool
    reduce_only: bool
    create_time: int
    update_time: int
    trigger_time: int
    good_till_date: int


def _algo_common(algo: AlgoOrder, inst: Instrument) -> dict[str, object]:
    pp, qp = inst.price_precision, inst.quantity_precision
    return {
        "algo_id": algo.algo_id,
        "client_algo_id": algo.client_algo_id,
        "algo_type": str(algo.algo_type),
        "order_type": str(algo.order_type),
        "symbol": algo.symbol,
        "side": str(algo.side),
        "position_side": str(algo.position_side),
        "time_in_force": str(algo.time_in_force),
        "quantity": fixed(algo.quantity, qp),
        "algo_status": str(algo.status),
        "trigger_price": fixed(algo.trigger_price, pp),
        "price": fixed(algo.price, pp),
        "iceberg_quantity": None,
        "self_trade_prevention_mode": algo.self_trade_prevention_mode,
        "working_type": str(algo.working_type),
        "price_match": str(algo.price_match),
        "close_position": algo.close_position,
        "price_protect": algo.price_protect,
        "reduce_only": algo.reduce_only,
        "create_time": algo.create_time,
        "update_time": algo.update_time,
        "trigger_time": algo.trigger_time,
        "good_till_date": algo.good_till_date,
    }


def new_algo_order_wire(algo: AlgoOrder, inst: Instrument) -> NewAlgoOrderWire:
    trailing = algo.callback_rate > 0
    return NewAlgoOrderWire(
        **_algo_common(algo, inst),  # type: ignore[arg-type]
        activate_price=fixed(algo.activate_price, inst.price_precision) if trailing else "",
        callback_rate=plain(algo.callback_rate) if trailing else "",
    )


def algo_order_wire(algo: AlgoOrder, inst: Instrument) -> AlgoOrderWire:
    zero_price = fixed(ZERO, inst.price_precision)
    return AlgoOrderWire(
        **_algo_common(algo, inst),  # type: ignore[arg-type]
        actual_order_id=algo.actual_order_id,
        actual_price=fixed(algo.actual_price, QUOTE_PLACES),
        tp_trigger_price=zero_price,
        tp_price=zero_price,
        sl_trigger_price=zero_price,
        sl_price=zero_price,
        tp_order_type="",
    )


class UserTradeWire(_Wire):
    """A row of GET /fapi/v1/userTrades."""

    buyer: bool
    commission: str
    commission_asset: str
    id: int
    maker: bool
    order_id: int
    price: str
    qty: str
    quote_qty: str
    realized_pnl: str
    side: str
    position_side: str
    symbol: str
    time: int


def user_trade_wire(fill: Fill, inst: Instrument) -> UserTradeWire:
    return UserTradeWire(
        buyer=fill.side == "BUY",
        commission=fixed(fill.commission, BALANCE_PLACES),
        commission_asset=fill.commission_asset,
        id=fill.trade_id,
        maker=fill.is_maker,
        order_id=fill.order_id,
        price=fixed(fill.price, inst.price_precision),
        qty=fixed(fill.qty, inst.quantity_precision),
        quote_qty=fixed(fill.quote_qty, QUOTE_PLACES),
        realized_pnl=plain(fill.realized_pnl),
        side=str(fill.side),
        position_side=str(fill.position_side),
        symbol=fill.symbol,
        time=fill.ts,
    )


class PositionRiskV2Wire(_Wire):
    """A row of GET /fapi/v2/positionRisk (``leverage`` and ``isAutoAddMargin`` are strings there)."""

    symbol: str
    position_amt: str
    entry_price: str
    break_even_price: str
    mark_price: str
    un_realized_profit: str
    liquidation_price: str
    leverage: str
    max_notional_value: str
    margin_type: str
    isolated_margin: str
    is_auto_add_margin: str
    position_side: str
    notional: str
    isolated_wallet: str
    update_time: int


class PositionRiskV3Wire(_Wire):
    """A row of GET /fapi/v3/positionRisk."""

    symbol: str
    position_side: str
    position_amt: str
    entry_price: str
    break_even_price: str
    mark_price: str
    un_realized_profit: str
    liquidation_price: str
    isolated_margin: str
    notional: str
    margin_asset: str
    isolated_wallet: str
    initial_margin: str
    maint_margin: str
    position_initial_margin: str
    open_order_initial_margin: str
    adl: int
    bid_notional: str
    ask_notional: str
    update_time: int


def position_v2_wire(pos: Position, inst: Instrument, max_notional: Decimal) -> PositionRiskV2Wire:
    return PositionRiskV2Wire(
        symbol=pos.symbol,
        position_amt=fixed(pos.qty, inst.quantity_precision),
        entry_price=plain(pos.entry_price),
        break_even_price=plain(pos.break_even_price),
        mark_price=plain(pos.mark_price),
        un_realized_profit=plain(pos.unrealized_pnl),
        liquidation_price=plain(pos.liquidation_price),
        leverage=str(pos.leverage),
        max_notional_value=plain(max_notional),
        margin_type="isolated" if pos.margin_type is MarginType.ISOLATED else "cross",
        isolated_margin=plain(pos.isolated_margin),
        is_auto_add_margin="false",
        position_side=str(pos.position_side),
        notional=plain(pos.notional),
        isolated_wallet=plain(pos.isolated_margin),
        update_time=pos.update_time,
    )


def position_v3_wire(pos: Position, inst: Instrument) -> PositionRiskV3Wire:
    return PositionRiskV3Wire(
        symbol=pos.symbol,
        position_side=str(pos.position_side),
        position_amt=fixed(pos.qty, inst.quantity_precision),
        entry_price=plain(pos.entry_price),
        break_even_price=plain(pos.break_even_price),
        mark_price=plain(pos.mark_price),
        un_realized_profit=plain(pos.unrealized_pnl),
        liquidation_price=plain(pos.liquidation_price),
        isolated_margin=plain(pos.isolated_margin),
        notional=plain(pos.notional),
        margin_asset=inst.margin_asset,
        isolated_wallet=plain(pos.isolated_margin),
        initial_margin=plain(pos.initial_margin),
        maint_margin=plain(pos.maint_margin),
        position_initial_margin=plain(pos.initial_margin),
        open_order_initial_margin="0",
        adl=0,
        bid_notional="0",
        ask_notional="0",
        update_time=pos.update_time,
    )
