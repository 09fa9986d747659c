"""Builders of domain values for the journal tests."""

from __future__ import annotations

from decimal import Decimal

from core.decisions import Decision, Reason, RiskVerdict
from core.enums import AlgoStatus, OrderStatus, OrderType, Side, TimeInForce
from core.types import AlgoOrder, Fill, Order
from state.journal_records import JournalDecision, JournalFill

D = Decimal


def fill(
    trade_id: int,
    side: Side,
    price: str,
    qty: str,
    ts: int,
    *,
    symbol: str = "BTCUSDT",
    realized: str = "0",
    commission: str | None = None,
    order_id: int | None = None,
    client_id: str | None = None,
) -> Fill:
    """A fill; commission defaults to 0.04 % of its notional (taker fee)."""
    notional = D(price) * D(qty)
    return Fill(
        symbol=symbol,
        trade_id=trade_id,
        order_id=order_id if order_id is not None else trade_id,
        client_order_id=client_id if client_id is not None else f"c{trade_id}",
        side=side,
        price=D(price),
        qty=D(qty),
        quote_qty=notional,
        commission=D(commission) if commission is not None else notional * D("0.0004"),
        commission_asset="USDT",
        realized_pnl=D(realized),
        is_maker=False,
        ts=ts,
    )


def jfill(
    f: Fill, *, decision_id: str | None = None, origin: str = "", session: str | None = "s1"
) -> JournalFill:
    return JournalFill(fill=f, session=session, decision_id=decision_id, origin=origin)


def decision(
    decision_id: str = "BTCUSDT-1000-BUY",
    *,
    symbol: str = "BTCUSDT",
    side: Side = Side.BUY,
    reference: str = "100",
    ts: int = 1000,
    reasons: int = 2,
) -> Decision:
    return Decision(
        decision_id=decision_id,
        symbol=symbol,
        side=side,
        conviction=0.75,
        reference_price=D(reference),
        stop_distance=D("2.5"),
        take_profit_distance=D("5.0"),
        ts=ts,
        timeframe="1m",
        reasons=tuple(
            Reason(
                sensor_id=f"sensor{i}", timeframe="1m", direction=side.sign, strength=0.5 + i / 10, weight=1.5
            )
            for i in range(reasons)
        ),
        atr=D("1.25"),
    )


def verdict(
    decision_id: str = "BTCUSDT-1000-BUY", *, accepted: bool = True, qty: str = "0.010"
) -> RiskVerdict:
    if accepted:
        return RiskVerdict(
            decision_id=decision_id, accepted=True, qty=D(qty), notional=D("1000.0"), leverage=5
        )
    return RiskVerdict(
        decision_id=decision_id, accepted=False, reason="max_positions", detail="3 open already"
    )


def journal_decision(d: Decision) -> JournalDecision:
    return JournalDecision(decision=d, verdict=verdict(d.decision_id), session="s1")


def order(
    client_id: str,
    *,
    order_id: int = 1,
    status: OrderStatus = OrderStatus.NEW,
    update_time: int = 1000,
    executed: str = "0",
    side: Side = Side.BUY,
    symbol: str = "BTCUSDT",
    type: OrderType = OrderType.MARKET,
) -> Order:
    return Order(
        symbol=symbol,
        order_id=order_id,
        client_order_id=client_id,
        side=side,
        type=type,
        orig_type=type,
        time_in_force=TimeInForce.GTC,
        orig_qty=D("0.010"),
        price=D(0),
        status=status,
        executed_qty=D(executed),
        time=1000,
        update_time=update_time,
    )


def algo(
    client_algo_id: str,
    *,
    order_type: OrderType = OrderType.TAKE_PROFIT_MARKET,
    status: AlgoStatus = AlgoStatus.NEW,
    actual_order_id: str = "",
    update_time: int = 1000,
    side: Side = Side.SELL,
    symbol: str = "BTCUSDT",
) -> AlgoOrder:
    return AlgoOrder(
        symbol=symbol,
        algo_id=77,
        client_algo_id=client_algo_id,
        side=side,
        order_type=order_type,
        quantity=D("0.010"),
        trigger_price=D("105.0"),
        status=status,
        reduce_only=True,
        create_time=1000,
        update_time=update_time,
        actual_order_id=actual_order_id,
    )
