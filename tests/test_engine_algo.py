"""Conditional (algo) orders: validation, triggers, lifecycle events, stalls, expiry and rejection."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from core.types import AlgoStatus, ExecutionType, OrderType, Side, TimeInForce, WorkingType
from exchanges.sandbox.engine.events import AlgoEvent, OrderEvent
from exchanges.sandbox.engine.requests import NewAlgoOrder
from exchanges.sandbox.errors import ExchangeError
from tests.test_engine_support import BTC, KEY, D, Venue, mkt


def algo(
    side: Side, typ: OrderType, trigger: str | None, qty: str | None = "0.01", **kw: object
) -> NewAlgoOrder:
    return NewAlgoOrder(
        symbol=BTC,
        side=side,
        type=typ,
        trigger_price=D(trigger) if trigger else None,
        quantity=D(qty) if qty else None,
        **kw,  # type: ignore[arg-type]
    )


def statuses(events: Sequence[object]) -> list[AlgoStatus]:
    return [e.algo.status for e in events if isinstance(e, AlgoEvent)]


def code(fn, *args) -> int:
    with pytest.raises(ExchangeError) as e:
        fn(*args)
    return e.value.code


def test_validation_codes() -> None:
    v = Venue()
    v.market("100000")
    c = v.core.new_algo_order
    assert code(c, KEY, algo(Side.SELL, OrderType.STOP_MARKET, "100500")) == -2021
    assert code(c, KEY, algo(Side.BUY, OrderType.TAKE_PROFIT_MARKET, "100500")) == -2021
    assert (
        code(c, KEY, algo(Side.SELL, OrderType.STOP_MARKET, "99000", qty="0.01", close_position=True))
        == -4137
    )
    assert code(c, KEY, algo(Side.SELL, OrderType.STOP_MARKET, None)) == -1102
    assert code(c, KEY, algo(Side.SELL, OrderType.STOP, "99000")) == -1102  # STOP needs a price
    assert code(c, KEY, algo(Side.SELL, OrderType.STOP_MARKET, "99000.05")) == -4014
    assert code(c, KEY, algo(Side.SELL, OrderType.LIMIT, "99000")) == -1116
    assert code(c, KEY, algo(Side.SELL, OrderType.STOP, "99000", price=D("90000.0"))) == -4184
    assert code(c, KEY, algo(Side.SELL, OrderType.TRAILING_STOP_MARKET, None, callback_rate=D("20"))) == -1130
    assert code(c, KEY, algo(Side.SELL, OrderType.STOP_MARKET, "99000", client_algo_id="no spaces")) == -4015
    c(KEY, algo(Side.SELL, OrderType.STOP_MARKET, "99000", client_algo_id="sl-1"))
    assert code(c, KEY, algo(Side.SELL, OrderType.STOP_MARKET, "99000", client_algo_id="sl-1")) == -4116
    for i in range(9):
        c(KEY, algo(Side.SELL, OrderType.STOP_MARKET, str(98000 - i)))
    assert code(c, KEY, algo(Side.SELL, OrderType.STOP_MARKET, "97000")) == -4045


def test_stop_market_lifecycle_new_triggering_triggered_finished() -> None:
    v = Venue()
    v.market("100000")
    v.core.new_order(KEY, mkt(Side.BUY, "0.1"))
    a = v.core.new_algo_order(
        KEY, algo(Side.SELL, OrderType.STOP_MARKET, "99500", qty=None, close_position=True)
    )
    assert a.status is AlgoStatus.NEW
    v.core.drain_events()
    v.quote("99400.0", "99400.1")
    v.trade("99550.0")  # not yet
    assert statuses(v.core.drain_events()) == []
    v.trade("99400.0")
    evs = v.core.drain_events()
    assert statuses(evs) == [AlgoStatus.TRIGGERING, AlgoStatus.TRIGGERED, AlgoStatus.FINISHED]
    triggered = [e.algo for e in evs if isinstance(e, AlgoEvent)][1]
    orders = [e for e in evs if isinstance(e, OrderEvent)]
    assert orders[0].execution_type is ExecutionType.NEW
    assert str(orders[0].order.order_id) == triggered.actual_order_id
    assert orders[0].order.orig_type is OrderType.STOP_MARKET and orders[0].order.type is OrderType.MARKET
    assert orders[0].order.reduce_only
    finished = v.core.get_algo_order(KEY, a.algo_id, None)
    assert finished.status is AlgoStatus.FINISHED and finished.actual_qty == D("0.1")
    assert finished.actual_price > 0
    assert v.core.positions(KEY, BTC)[0].qty == 0
    assert v.core.open_algo_orders(KEY, BTC) == []


def test_mark_price_trigger_and_take_profit_limit_finishes_when_its_order_fills() -> None:
    v = Venue()
    v.market("100000")
    v.core.new_order(KEY, mkt(Side.BUY, "0.1"))
    v.core.new_algo_order(
        KEY,
        algo(
            Side.SELL,
            OrderType.TAKE_PROFIT,
            "101000",
            qty="0.1",
            price=D("101000.0"),
            reduce_only=True,
            working_type=WorkingType.MARK_PRICE,
            time_in_force=TimeInForce.GTC,
        ),
    )
    v.core.drain_events()
    v.trade("101500.0")  # contract price does not matter for a MARK_PRICE trigger
    assert statuses(v.core.drain_events()) == []
    v.quote("100990.0", "100990.1")
    v.mark("101000")
    assert statuses(v.core.drain_events()) == [AlgoStatus.TRIGGERING, AlgoStatus.TRIGGERED]
    assert len(v.core.open_orders(KEY, BTC)) == 1
    v.trade("101100.0", "1")
    assert statuses(v.core.drain_events()) == [AlgoStatus.FINISHED]
    assert v.core.positions(KEY, BTC)[0].qty == 0


def test_close_position_without_position_expires_and_reduce_only_too() -> None:
    v = Venue()
    v.market("100000")
    a = v.core.new_algo_order(
        KEY, algo(Side.SELL, OrderType.STOP_MARKET, "99000", qty=None, close_position=True)
    )
    b = v.core.new_algo_order(KEY, algo(Side.SELL, OrderType.STOP_MARKET, "99000", reduce_only=True))
    v.core.drain_events()
    v.trade("98900.0")
    assert statuses(v.core.drain_events()) == [AlgoStatus.TRIGGERING, AlgoStatus.EXPIRED] * 2
    assert v.core.get_algo_order(KEY, a.algo_id, None).status is AlgoStatus.EXPIRED
    assert v.core.get_algo_order(KEY, b.algo_id, None).status is AlgoStatus.EXPIRED


def test_triggered_order_refused_means_rejected() -> None:
    v = Venue(balance="200")
    v.market("100000")
    v.core.new_algo_order(KEY, algo(Side.BUY, OrderType.STOP_MARKET, "100500", qty="1"))
    v.core.drain_events()
    v.quote("100600.0", "100600.1")
    v.trade("100600.0")
    evs = v.core.drain_events()
    assert statuses(evs) == [AlgoStatus.TRIGGERING, AlgoStatus.REJECTED]
    rejected = [e.algo for e in evs if isinstance(e, AlgoEvent)][-1]
    assert rejected.reject_reason == "Margin is insufficient." and rejected.actual_order_id == ""
    assert not [e for e in evs if isinstance(e, OrderEvent)]


def test_stalled_symbol_keeps_algo_in_triggering_until_released() -> None:
    v = Venue()
    v.market("100000")
    v.core.new_order(KEY, mkt(Side.BUY, "0.1"))
    a = v.core.new_algo_order(
        KEY, algo(Side.SELL, OrderType.STOP_MARKET, "99500", qty="0.1", reduce_only=True)
    )
    v.core.stall_triggering(BTC, True)
    v.core.drain_events()
    v.trade("99400.0")
    v.step(60_000)
    assert statuses(v.core.drain_events()) == [AlgoStatus.TRIGGERING]
    assert v.core.get_algo_order(KEY, a.algo_id, None).status is AlgoStatus.TRIGGERING
    assert [x.algo_id for x in v.core.open_algo_orders(KEY, BTC)] == [a.algo_id]
    v.core.stall_triggering(BTC, False)
    v.step(10)
    assert statuses(v.core.drain_events()) == [AlgoStatus.TRIGGERED, AlgoStatus.FINISHED]


def test_cancel_algo_and_cancel_all() -> None:
    v = Venue()
    v.market("100000")
    a = v.core.new_algo_order(KEY, algo(Side.SELL, OrderType.STOP_MARKET, "99000", client_algo_id="x1"))
    v.core.new_algo_order(KEY, algo(Side.SELL, OrderType.STOP_MARKET, "98000"))
    assert v.core.cancel_algo_order(KEY, None, "x1").status is AlgoStatus.CANCELED
    assert code(v.core.cancel_algo_order, KEY, a.algo_id, None) == -2011
    v.core.cancel_all_algo_orders(KEY, BTC)
    assert v.core.open_algo_orders(KEY, None) == []
    assert code(v.core.get_algo_order, KEY, 1, None) == -2013


def test_trailing_stop_tracks_the_high_and_fires_on_callback() -> None:
    v = Venue()
    v.market("100000")
    v.core.new_order(KEY, mkt(Side.BUY, "0.1"))
    v.core.new_algo_order(
        KEY,
        algo(
            Side.SELL,
            OrderType.TRAILING_STOP_MARKET,
            None,
            qty="0.1",
            reduce_only=True,
            callback_rate=D("1"),
            activate_price=D("101000"),
        ),
    )
    v.core.drain_events()
    v.trade("98000.0")  # not activated yet: no trigger on the way down
    v.trade("101000.0")  # activates
    v.trade("102000.0")  # new high
    v.trade("101000.0")  # 0.98% below the high: not yet
    assert statuses(v.core.drain_events()) == []
    v.quote("100980.0", "100980.1")
    v.trade("100980.0")  # 1% below 102000
    assert statuses(v.core.drain_events())[:2] == [AlgoStatus.TRIGGERING, AlgoStatus.TRIGGERED]
    assert v.core.positions(KEY, BTC)[0].qty == 0
