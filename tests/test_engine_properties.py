"""Property tests of the exchange core: fill prices, position bookkeeping, money conservation, determinism."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.types import OrderType, Side, TimeInForce
from exchanges.sandbox.engine.events import OrderEvent, UserEvent
from exchanges.sandbox.engine.requests import NewAlgoOrder
from exchanges.sandbox.errors import ExchangeError
from tests.test_engine_support import BTC, KEY, D, Venue, lmt, mkt

TICK = D("0.1")

side_st = st.sampled_from([Side.BUY, Side.SELL])
qty_st = st.integers(min_value=1, max_value=3000).map(lambda n: D(n) / 1000)  # 0.001 .. 3 BTC
offset_st = st.integers(min_value=-300, max_value=300)  # ticks from the current price

op_st = st.one_of(
    st.tuples(st.just("market"), side_st, qty_st, st.booleans()),
    st.tuples(st.just("limit"), side_st, qty_st, offset_st, st.sampled_from(list(TimeInForce)[:4])),
    st.tuples(st.just("move"), st.integers(min_value=-2000, max_value=2000), qty_st, st.booleans()),
    st.tuples(st.just("mark"), st.integers(min_value=-3000, max_value=3000)),
    st.tuples(st.just("funding"), st.integers(min_value=-30, max_value=30)),
    st.tuples(st.just("cancel_all")),
    st.tuples(st.just("stop"), side_st, offset_st),
    st.tuples(st.just("leverage"), st.sampled_from([5, 20, 50, 125])),
    st.tuples(st.just("crash"), st.integers(min_value=-15, max_value=15)),
)


def run(ops: list[tuple[Any, ...]], balance: str = "50000", seed: int = 7) -> tuple[Venue, list[UserEvent]]:
    """Apply ``ops``; refused commands are part of the game (they must not change anything)."""
    v = Venue(balance=balance, seed=seed)
    price = D("100000.0")
    v.market(str(price))
    events: list[UserEvent] = []
    for op in ops:
        v.clock.advance(250)
        kind = op[0]
        try:
            if kind == "market":
                _, side, qty, ro = op
                v.core.new_order(KEY, mkt(side, str(qty), reduce_only=ro))
            elif kind == "limit":
                _, side, qty, off, tif = op
                p = price + off * TICK
                v.core.new_order(KEY, lmt(side, str(qty), str(p), tif))
            elif kind == "move":
                _, ticks, qty, buyer_maker = op
                price = max(D("1000.0"), price + ticks * TICK)
                v.quote(str(price), str(price + TICK))
                v.trade(str(price), str(qty), buyer_maker=bool(buyer_maker))
            elif kind == "mark":
                v.mark(str(price + op[1] * TICK))
            elif kind == "funding":
                v.core.settle_funding(BTC, D(op[1]) / 100_000, v.clock.now_ms())
            elif kind == "cancel_all":
                v.core.cancel_all_orders(KEY, BTC)
            elif kind == "stop":
                _, side, off = op
                trig = price + (abs(off) + 1) * TICK * (1 if side is Side.BUY else -1)
                v.core.new_algo_order(
                    KEY,
                    NewAlgoOrder(
                        symbol=BTC,
                        side=side,
                        type=OrderType.STOP_MARKET,
                        trigger_price=trig,
                        quantity=D("0.01"),
                    ),
                )
            elif kind == "crash":
                # A violent move (tape, touch and mark together): what liquidations are made of.
                price = (price * (100 + op[1]) / 100).quantize(TICK)
                v.quote(str(price), str(price + TICK))
                v.trade(str(price), "1")
                v.mark(str(price))
            elif kind == "leverage":
                v.core.set_leverage(KEY, BTC, op[1])
        except ExchangeError:
            pass
        v.core.advance(v.clock.now_ms())
        events.extend(v.core.drain_events())
    return v, events


def check_invariants(v: Venue, events: list[UserEvent]) -> None:
    # Money is conserved exactly: every wallet change has its income row.
    assert v.wallet() - D("50000") == v.ledger_sum()
    assert v.wallet() >= 0
    # The position is the signed sum of the fills.
    fills = [e for e in events if isinstance(e, OrderEvent) and e.fill is not None]
    signed = sum((e.fill.qty * e.fill.side.sign for e in fills if e.fill), D(0))
    assert v.core.positions(KEY, BTC)[0].qty == signed
    for e in fills:
        f = e.fill
        assert f is not None and f.qty > 0
        o = e.order
        if o.type is OrderType.LIMIT:
            # A limit never trades through its price.
            assert f.price <= o.price if f.side is Side.BUY else f.price >= o.price
            if f.is_maker:
                assert f.price == o.price
        assert f.price % TICK == 0  # every fill lies on a book level of the tick grid
        assert o.executed_qty <= o.orig_qty


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_st, min_size=1, max_size=40))
def test_random_sequences_keep_books_and_money_consistent(ops: list[tuple[Any, ...]]) -> None:
    v, events = run(ops)
    check_invariants(v, events)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_st, min_size=1, max_size=30))
def test_same_inputs_same_events(ops: list[tuple[Any, ...]]) -> None:
    _, first = run(ops)
    _, second = run(ops)
    assert msgspec.json.encode(first) == msgspec.json.encode(second)


@given(qty=qty_st, side=side_st)
def test_market_fills_lie_within_the_synthetic_book(qty: Decimal, side: Side) -> None:
    v = Venue(balance="10000000")
    v.market("100000.0")
    bids, asks = v.core.depth(BTC, 1000)
    book = dict(asks if side is Side.BUY else bids)
    v.core.drain_events()
    v.core.new_order(KEY, mkt(side, str(qty)))
    fills = [e.fill for e in v.core.drain_events() if isinstance(e, OrderEvent) and e.fill]
    assert sum(f.qty for f in fills) == qty
    for f in fills:
        assert f.price in book and f.qty <= book[f.price]
