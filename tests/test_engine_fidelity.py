"""Exchange core: order/test dry runs, algo-order history, and the user-data fields Binance fills in
(``b``/``a`` open-order notionals, ``er`` expiry reasons, ``cr``/``bc``, leverage config events)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.types import AlgoStatus, ExecutionType, OrderStatus, OrderType, Side, TimeInForce
from exchanges.sandbox.engine.algo import ALGO_HISTORY_WINDOW_MS
from exchanges.sandbox.engine.events import AccountConfigEvent, AccountEvent, OrderEvent
from exchanges.sandbox.engine.requests import NewAlgoOrder, NewOrder
from exchanges.sandbox.errors import ExchangeError
from tests.test_engine_support import BTC, KEY, D, Venue, lmt, mkt


def order_events(events: Sequence[object]) -> list[OrderEvent]:
    return [e for e in events if isinstance(e, OrderEvent)]


def stop(trigger: str, **kw: object) -> NewAlgoOrder:
    return NewAlgoOrder(
        symbol=BTC,
        side=Side.SELL,
        type=OrderType.STOP_MARKET,
        trigger_price=D(trigger),
        quantity=D("0.01"),
        **kw,  # type: ignore[arg-type]
    )


# --- order/test -----------------------------------------------------------------------------------------


def test_test_order_places_nothing_and_answers_the_would_be_order() -> None:
    v = Venue()
    v.market()
    v.core.drain_events()
    wallet = v.wallet()
    shown = v.core.test_order(KEY, lmt(Side.BUY, "0.5", "99000", new_client_order_id="probe-1"))
    assert shown.status is OrderStatus.NEW and shown.order_id == 0
    assert (shown.client_order_id, shown.orig_qty, shown.price) == ("probe-1", D("0.5"), D("99000"))
    assert shown.executed_qty == 0 and shown.time == v.clock.now_ms()
    assert v.core.drain_events() == []
    assert v.core.open_orders(KEY, BTC) == [] and v.core.all_orders(KEY, BTC) == []
    assert v.wallet() == wallet and v.core.positions(KEY, BTC)[0].qty == 0
    # The same client id is still free for a real order.
    placed = v.core.new_order(KEY, lmt(Side.BUY, "0.5", "99000", new_client_order_id="probe-1"))
    assert placed.order_id > 0


def test_test_order_refuses_what_new_order_refuses() -> None:
    v = Venue(balance="1000")
    v.market()
    v.core.new_order(KEY, lmt(Side.BUY, "0.002", "99000", new_client_order_id="taken"))
    cases = [
        lmt(Side.BUY, "0.002", "99000", new_client_order_id="taken"),  # -4116 duplicate open client id
        lmt(Side.BUY, "1", "100000.1", TimeInForce.GTX),  # -5022 post-only would take
        mkt(Side.BUY, "5"),  # -2019 margin
        lmt(Side.SELL, "0.001", "99000", reduce_only=True),  # -2022 nothing to reduce
        lmt(Side.BUY, "0.0001", "99000"),  # quantity below the step
    ]
    for req in cases:
        with pytest.raises(ExchangeError) as tested:
            v.core.test_order(KEY, req)
        with pytest.raises(ExchangeError) as placed:
            v.core.new_order(KEY, req)
        assert tested.value.code == placed.value.code


side_st = st.sampled_from([Side.BUY, Side.SELL])
qty_st = st.integers(min_value=0, max_value=60_000).map(lambda n: D(n) / 10_000)
offset_st = st.integers(min_value=-2000, max_value=2000)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    side=side_st,
    qty=qty_st,
    offset=offset_st,
    kind=st.sampled_from(["market", "limit", "reduce"]),
    tif=st.sampled_from(list(TimeInForce)[:4]),
)
def test_test_order_agrees_with_new_order(
    side: Side, qty: Decimal, offset: int, kind: str, tif: TimeInForce
) -> None:
    """For any request, order/test fails exactly when (and as) a real placement would."""
    v = Venue(balance="20000")
    v.market()
    price = D(100000) + D(offset) / 10
    if kind == "market":
        req = NewOrder(symbol=BTC, side=side, type=OrderType.MARKET, quantity=qty)
    else:
        req = NewOrder(
            symbol=BTC,
            side=side,
            type=OrderType.LIMIT,
            quantity=qty,
            price=price,
            time_in_force=tif,
            reduce_only=kind == "reduce",
        )
    tested: int | None = None
    try:
        v.core.test_order(KEY, req)
    except ExchangeError as err:
        tested = err.code
    assert v.core.drain_events() == []
    placed: int | None = None
    try:
        v.core.new_order(KEY, req)
    except ExchangeError as err:
        placed = err.code
    assert tested == placed


# --- allAlgoOrders --------------------------------------------------------------------------------------


def test_all_algo_orders_lists_open_and_finished_with_binance_filters() -> None:
    v = Venue()
    v.market()
    first = v.core.new_algo_order(KEY, stop("90000"))
    v.step(60_000)
    second = v.core.new_algo_order(KEY, stop("91000"))
    v.core.cancel_algo_order(KEY, first.algo_id, None)
    v.step(60_000)
    third = v.core.new_algo_order(KEY, stop("92000"))
    rows = v.core.all_algo_orders(KEY, BTC)
    assert [a.algo_id for a in rows] == [first.algo_id, second.algo_id, third.algo_id]
    assert [a.status for a in rows] == [AlgoStatus.CANCELED, AlgoStatus.NEW, AlgoStatus.NEW]
    # algoId: from that id on; without it the most recent ones.
    assert [a.algo_id for a in v.core.all_algo_orders(KEY, BTC, algo_id=second.algo_id, limit=1)] == [
        second.algo_id
    ]
    assert [a.algo_id for a in v.core.all_algo_orders(KEY, BTC, limit=1)] == [third.algo_id]
    # Time filter on the creation time; pages of ``limit``.
    assert [a.algo_id for a in v.core.all_algo_orders(KEY, BTC, start_time=second.create_time)] == [
        second.algo_id,
        third.algo_id,
    ]
    assert [a.algo_id for a in v.core.all_algo_orders(KEY, BTC, end_time=first.create_time)] == [
        first.algo_id
    ]
    assert [a.algo_id for a in v.core.all_algo_orders(KEY, BTC, page=2, limit=2)] == [third.algo_id]
    assert v.core.all_algo_orders(KEY, "ETHUSDT") == []
    with pytest.raises(ExchangeError) as unknown:
        v.core.all_algo_orders(KEY, "NOPEUSDT")
    assert unknown.value.code == -1121


def test_all_algo_orders_defaults_to_the_last_seven_days() -> None:
    v = Venue()
    v.market()
    old = v.core.new_algo_order(KEY, stop("90000"))
    v.step(ALGO_HISTORY_WINDOW_MS + 1000)
    new = v.core.new_algo_order(KEY, stop("91000"))
    assert [a.algo_id for a in v.core.all_algo_orders(KEY, BTC)] == [new.algo_id]
    assert [a.algo_id for a in v.core.all_algo_orders(KEY, BTC, algo_id=0)] == [old.algo_id, new.algo_id]


# --- user-data fields -----------------------------------------------------------------------------------


def test_open_order_notionals_follow_the_book() -> None:
    v = Venue()
    v.market()
    v.core.drain_events()
    buy = v.core.new_order(KEY, lmt(Side.BUY, "0.5", "99000"))
    (new,) = order_events(v.core.drain_events())
    assert (new.bids_notional, new.asks_notional) == (D("49500.0"), D(0))  # the order itself counts at NEW
    v.core.new_order(KEY, lmt(Side.SELL, "0.2", "101000"))
    (ask,) = order_events(v.core.drain_events())
    assert (ask.bids_notional, ask.asks_notional) == (D("49500.0"), D("20200.0"))
    v.core.cancel_order(KEY, BTC, buy.order_id, None)
    (canceled,) = order_events(v.core.drain_events())
    assert (canceled.bids_notional, canceled.asks_notional) == (D(0), D("20200.0"))


def test_expire_reasons() -> None:
    v = Venue()
    v.market()
    v.core.drain_events()
    # IOC limit that takes what its price allows (the touch: 2 BTC) and expires the rest: er 2.
    v.core.new_order(KEY, lmt(Side.BUY, "3", "100000.1", TimeInForce.IOC))
    expired = [e for e in order_events(v.core.drain_events()) if e.execution_type is ExecutionType.EXPIRED]
    assert [e.expire_reason for e in expired] == [2]
    # A resting reduce-only order expires when the position it reduces is closed: er 4.
    v.core.new_order(KEY, lmt(Side.SELL, "2", "105000", reduce_only=True))
    v.core.new_order(KEY, mkt(Side.SELL, "2"))
    events = order_events(v.core.drain_events())
    (ro,) = [e for e in events if e.execution_type is ExecutionType.EXPIRED]
    assert ro.order.reduce_only and ro.expire_reason == 4
    assert all(e.expire_reason == 0 for e in events if e.execution_type is not ExecutionType.EXPIRED)


def test_accumulated_realized_and_balance_change() -> None:
    v = Venue()
    v.market()
    v.core.new_order(KEY, mkt(Side.BUY, "1"))
    v.market("101000")
    v.core.new_order(KEY, mkt(Side.SELL, "0.5"))
    events = v.core.drain_events()
    updates = [e for e in events if isinstance(e, AccountEvent)]
    realized = updates[-1].positions[0].accumulated_realized
    fills = [e.fill for e in order_events(events) if e.fill is not None]
    assert realized == sum((f.realized_pnl for f in fills), D(0)) and realized > 0
    assert all(e.balance_change == 0 for e in updates)  # trades: PnL and fees only
    # Flat again, the accumulated realized PnL stays with the symbol.
    v.core.new_order(KEY, mkt(Side.SELL, "0.5"))
    last = [e for e in v.core.drain_events() if isinstance(e, AccountEvent)][-1]
    assert last.positions[0].qty == 0 and last.positions[0].accumulated_realized > realized
    # Funding: bc is the payment; a cross position's event carries the balance only.
    v.core.new_order(KEY, mkt(Side.BUY, "1"))
    v.core.drain_events()
    wallet = v.wallet()
    v.core.settle_funding(BTC, D("0.0001"), v.clock.now_ms())
    (funding,) = [e for e in v.core.drain_events() if isinstance(e, AccountEvent)]
    assert funding.reason == "FUNDING_FEE" and funding.positions == ()
    assert funding.balance_change == v.wallet() - wallet < 0


def test_leverage_change_emits_account_config_update_once() -> None:
    v = Venue()
    v.core.drain_events()
    v.core.set_leverage(KEY, BTC, 7)
    (event,) = v.core.drain_events()
    assert isinstance(event, AccountConfigEvent) and (event.symbol, event.leverage) == (BTC, 7)
    v.core.set_leverage(KEY, BTC, 7)  # unchanged: nothing to announce
    assert v.core.drain_events() == []
