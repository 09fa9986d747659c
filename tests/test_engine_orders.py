"""Regular orders: market and limit execution, time in force, reduce-only, limits, queries, timers."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.types import ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from exchanges.sandbox.engine.events import AccountEvent, OrderEvent
from exchanges.sandbox.engine.requests import NewAlgoOrder, NewOrder
from exchanges.sandbox.errors import ExchangeError
from tests.test_engine_support import BTC, KEY, T0, D, Venue, lmt, mkt


def order_events(v: Venue) -> list[OrderEvent]:
    return [e for e in v.core.drain_events() if isinstance(e, OrderEvent)]


def raises(code: int, fn, *args) -> None:
    with pytest.raises(ExchangeError) as e:
        fn(*args)
    assert e.value.code == code, e.value


def test_market_order_walks_the_book_with_slippage_and_taker_fee() -> None:
    v = Venue()
    v.market("100000")
    v.core.drain_events()
    o = v.core.new_order(KEY, mkt(Side.BUY, "3.5"))
    assert o.status is OrderStatus.FILLED and o.executed_qty == D("3.5")
    evs = order_events(v)
    assert [e.execution_type for e in evs] == [
        ExecutionType.NEW,
        ExecutionType.TRADE,
        ExecutionType.TRADE,
        ExecutionType.TRADE,
    ]
    fills = [(e.fill.price, e.fill.qty) for e in evs if e.fill]
    # touch 2 @ ask, then 1 per tick outwards
    assert fills == [(D("100000.1"), D("2")), (D("100000.2"), D("1")), (D("100000.3"), D("0.5"))]
    for e in evs:
        if e.fill:
            assert not e.fill.is_maker
            assert e.fill.commission == (e.fill.price * e.fill.qty * D("0.0005")).quantize(D("1e-8"))
    pos = v.core.positions(KEY, BTC)[0]
    assert pos.qty == D("3.5")
    assert o.avg_price == (o.cum_quote / o.executed_qty).quantize(D("1e-8"))


def test_sell_market_takes_bids_and_large_orders_extend_beyond_profile() -> None:
    v = Venue(balance="10000000")
    v.market("100000")
    v.core.new_order(KEY, mkt(Side.SELL, "20"))
    fills = [e.fill for e in order_events(v) if e.fill]
    assert sum(f.qty for f in fills) == D("20")
    prices = [f.price for f in fills]
    assert prices == sorted(prices, reverse=True) and prices[0] == D("100000")
    assert all(p < D("100000") for p in prices[1:])


def test_market_without_any_market_data_is_refused() -> None:
    v = Venue()
    raises(-1001, v.core.new_order, KEY, mkt(Side.BUY, "0.01"))


def test_limit_rests_then_fills_as_maker_when_tape_trades_through() -> None:
    v = Venue()
    v.market("100000")
    o = v.core.new_order(KEY, lmt(Side.BUY, "1.5", "99900.0"))
    assert o.status is OrderStatus.NEW
    v.core.drain_events()
    v.trade("99900.0", "1", buyer_maker=False)  # a buyer took at our price: not our side of the book
    assert not [e for e in order_events(v) if e.fill]
    v.trade("99900.0", "1", buyer_maker=True)  # a seller hit the bids at our price
    v.trade("99850.0", "5")  # traded through
    fills = [e.fill for e in order_events(v) if e.fill]
    assert [(f.price, f.qty, f.is_maker) for f in fills] == [
        (D("99900.0"), D("1"), True),
        (D("99900.0"), D("0.5"), True),
    ]
    assert fills[0].commission == D("99900.0") * D("1") * D("0.0002")
    assert v.core.get_order(KEY, BTC, o.order_id, None).status is OrderStatus.FILLED
    assert v.core.open_orders(KEY, BTC) == []


def test_sell_limit_fill_qty_capped_by_tape_and_priority_by_price() -> None:
    v = Venue()
    v.market("100000")
    far = v.core.new_order(KEY, lmt(Side.SELL, "1", "100200.0"))
    near = v.core.new_order(KEY, lmt(Side.SELL, "1", "100100.0"))
    v.core.drain_events()
    v.trade("100300.0", "1.2")
    fills = {e.order.order_id: e.fill.qty for e in order_events(v) if e.fill}
    assert fills == {near.order_id: D("1"), far.order_id: D("0.2")}


def test_marketable_limit_takes_up_to_its_price_then_rests() -> None:
    v = Venue()
    v.market("100000")
    o = v.core.new_order(KEY, lmt(Side.BUY, "4", "100000.2"))
    assert o.status is OrderStatus.PARTIALLY_FILLED and o.executed_qty == D("3")
    assert all(e.fill.price <= D("100000.2") for e in order_events(v) if e.fill)
    assert [x.order_id for x in v.core.open_orders(KEY, BTC)] == [o.order_id]


def test_ioc_expires_remainder_and_fok_is_all_or_nothing() -> None:
    v = Venue()
    v.market("100000")
    o = v.core.new_order(KEY, lmt(Side.BUY, "4", "100000.2", TimeInForce.IOC))
    assert o.status is OrderStatus.EXPIRED and o.executed_qty == D("3")
    assert order_events(v)[-1].execution_type is ExecutionType.EXPIRED
    raises(-5021, v.core.new_order, KEY, lmt(Side.BUY, "4", "100000.2", TimeInForce.FOK))
    assert order_events(v) == []  # a refused FOK leaves no trace
    o = v.core.new_order(KEY, lmt(Side.BUY, "3", "100000.2", TimeInForce.FOK))
    assert o.status is OrderStatus.FILLED


def test_post_only_that_would_take_is_rejected() -> None:
    v = Venue()
    v.market("100000")
    raises(-5022, v.core.new_order, KEY, lmt(Side.BUY, "1", "100000.1", TimeInForce.GTX))
    o = v.core.new_order(KEY, lmt(Side.BUY, "1", "100000.0", TimeInForce.GTX))
    assert o.status is OrderStatus.NEW


def test_gtd_validation_and_expiry_in_advance() -> None:
    v = Venue()
    v.market("100000")
    raises(
        -5040, v.core.new_order, KEY, lmt(Side.BUY, "1", "99000.0", TimeInForce.GTD, good_till_date=T0 + 1000)
    )
    o = v.core.new_order(KEY, lmt(Side.BUY, "1", "99000.0", TimeInForce.GTD, good_till_date=T0 + 700_000))
    v.core.drain_events()
    v.step(600_000)
    assert v.core.get_order(KEY, BTC, o.order_id, None).status is OrderStatus.NEW
    v.step(100_000)
    assert v.core.get_order(KEY, BTC, o.order_id, None).status is OrderStatus.EXPIRED
    assert order_events(v)[-1].execution_type is ExecutionType.EXPIRED


def test_reduce_only_rules() -> None:
    v = Venue()
    v.market("100000")
    raises(-2022, v.core.new_order, KEY, mkt(Side.SELL, "0.01", reduce_only=True))
    v.core.new_order(KEY, mkt(Side.BUY, "0.5"))
    raises(-2022, v.core.new_order, KEY, mkt(Side.BUY, "0.5", reduce_only=True))
    # A reduce-only larger than the position only closes it; min notional does not apply.
    o = v.core.new_order(KEY, mkt(Side.SELL, "2", reduce_only=True))
    assert o.executed_qty == D("0.5")
    assert v.core.positions(KEY, BTC)[0].qty == 0


def test_resting_reduce_only_expires_when_position_goes_flat() -> None:
    v = Venue()
    v.market("100000")
    v.core.new_order(KEY, mkt(Side.BUY, "1"))
    tp = v.core.new_order(KEY, lmt(Side.SELL, "1", "101000.0", reduce_only=True))
    v.core.new_order(KEY, mkt(Side.SELL, "1"))
    assert v.core.get_order(KEY, BTC, tp.order_id, None).status is OrderStatus.EXPIRED


def test_margin_insufficient_and_leverage_cap() -> None:
    v = Venue(balance="1000")
    v.market("100000")
    raises(-2019, v.core.new_order, KEY, mkt(Side.BUY, "0.5"))  # 50k notional / 20 = 2.5k > 1k
    raises(-2019, v.core.new_order, KEY, lmt(Side.BUY, "0.5", "99000.0"))
    v.core.new_order(KEY, mkt(Side.BUY, "0.15"))
    v.core.set_leverage(KEY, BTC, 125)
    raises(-2027, v.core.new_order, KEY, mkt(Side.BUY, "0.5"))


def test_open_order_limit_and_client_ids() -> None:
    v = Venue(balance="100000000")
    v.market("100000")
    raises(-4015, v.core.new_order, KEY, lmt(Side.BUY, "0.01", "99000.0", new_client_order_id="bad id!"))
    v.core.new_order(KEY, lmt(Side.BUY, "0.01", "99000.0", new_client_order_id="mine-1"))
    raises(-4116, v.core.new_order, KEY, lmt(Side.BUY, "0.01", "99000.0", new_client_order_id="mine-1"))
    for _ in range(199):
        o = v.core.new_order(KEY, lmt(Side.BUY, "0.01", "99000.0"))
        assert len(o.client_order_id) == 22 and o.client_order_id.isalnum()
    raises(-2025, v.core.new_order, KEY, lmt(Side.BUY, "0.01", "99000.0"))
    ids = [o.order_id for o in v.core.open_orders(KEY, BTC)]
    assert ids == sorted(ids) and len(set(ids)) == 200


def test_cancel_and_queries_find_closed_orders() -> None:
    v = Venue()
    v.market("100000")
    o = v.core.new_order(KEY, lmt(Side.BUY, "0.01", "99000.0", new_client_order_id="c1"))
    c = v.core.cancel_order(KEY, BTC, None, "c1")
    assert c.status is OrderStatus.CANCELED
    raises(-2011, v.core.cancel_order, KEY, BTC, o.order_id, None)
    assert v.core.get_order(KEY, BTC, None, "c1").status is OrderStatus.CANCELED
    raises(-2013, v.core.get_order, KEY, BTC, 1, None)
    # A closed client id may be reused.
    o2 = v.core.new_order(KEY, lmt(Side.BUY, "0.01", "99000.0", new_client_order_id="c1"))
    assert v.core.get_order(KEY, BTC, None, "c1").order_id == o2.order_id
    v.core.cancel_all_orders(KEY, BTC)
    assert v.core.open_orders(KEY, None) == []
    assert [x.order_id for x in v.core.all_orders(KEY, BTC)] == [o.order_id, o2.order_id]
    assert [x.order_id for x in v.core.all_orders(KEY, BTC, order_id=o2.order_id)] == [o2.order_id]


def test_user_trades_and_income_queries() -> None:
    v = Venue()
    v.market("100000")
    o = v.core.new_order(KEY, mkt(Side.BUY, "3"))
    trades = v.core.user_trades(KEY, BTC)
    assert [t.order_id for t in trades] == [o.order_id, o.order_id]
    assert [t.trade_id for t in v.core.user_trades(KEY, BTC, from_id=trades[1].trade_id)] == [
        trades[1].trade_id
    ]
    assert trades[0].trade_id < trades[1].trade_id
    commissions = v.core.income(KEY, income_type=None, limit=1000)
    assert sum(r.income for r in commissions) == -sum(t.commission for t in trades)


def test_conditional_types_are_refused_on_the_order_endpoint_and_symbols_checked() -> None:
    v = Venue()
    v.market("100000")
    req = NewOrder(symbol=BTC, side=Side.SELL, type=OrderType.STOP_MARKET, quantity=D("0.01"))
    raises(-4120, v.core.new_order, KEY, req)
    raises(
        -1121,
        v.core.new_order,
        KEY,
        NewOrder(symbol="FOOUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=D("1")),
    )
    raises(-2015, v.core.new_order, "nobody", mkt(Side.BUY, "0.01"))
    raises(
        -1102,
        v.core.new_order,
        KEY,
        NewOrder(
            symbol=BTC,
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=D("1"),
            price=D("99000"),
            time_in_force=None,
        ),
    )


def test_price_match_uses_the_book() -> None:
    v = Venue()
    v.market("100000")
    from core.types import PriceMatch

    req = NewOrder(
        symbol=BTC,
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=D("0.01"),
        time_in_force=TimeInForce.GTC,
        price_match=PriceMatch.QUEUE_5,
    )
    o = v.core.new_order(KEY, req)
    assert o.price == D("99999.6") and o.status is OrderStatus.NEW


def test_countdown_cancels_regular_and_algo_orders() -> None:
    v = Venue()
    v.market("100000")
    v.core.new_order(KEY, lmt(Side.BUY, "0.01", "99000.0"))
    v.core.new_algo_order(
        KEY,
        NewAlgoOrder(
            symbol=BTC,
            side=Side.BUY,
            type=OrderType.STOP_MARKET,
            trigger_price=D("101000"),
            quantity=D("0.01"),
        ),
    )
    v.core.countdown_cancel_all(KEY, BTC, 5000)
    v.step(3000)
    v.core.countdown_cancel_all(KEY, BTC, 5000)  # refreshed
    v.step(3000)
    assert len(v.core.open_orders(KEY, BTC)) == 1
    v.step(2500)
    assert v.core.open_orders(KEY, BTC) == [] and v.core.open_algo_orders(KEY, BTC) == []
    v.core.new_order(KEY, lmt(Side.BUY, "0.01", "99000.0"))
    v.core.countdown_cancel_all(KEY, BTC, 5000)
    v.core.countdown_cancel_all(KEY, BTC, 0)  # disarmed
    v.step(10_000)
    assert len(v.core.open_orders(KEY, BTC)) == 1


def test_account_events_follow_fills() -> None:
    v = Venue()
    v.market("100000")
    v.core.drain_events()
    v.core.new_order(KEY, mkt(Side.BUY, "0.01"))
    evs = v.core.drain_events()
    acc = [e for e in evs if isinstance(e, AccountEvent)]
    assert len(acc) == 1 and acc[0].reason == "ORDER"
    assert acc[0].positions[0].qty == D("0.01")
    assert acc[0].balances[0].wallet_balance == v.wallet()
    assert isinstance(evs[0], OrderEvent) and evs[0].execution_type is ExecutionType.NEW
    assert Decimal(0) < v.core.account_totals(KEY).total_position_initial_margin
