"""plan_reconcile as a pure function: hand-made state and exchange views in, the expected actions out; and a
property: applying a plan makes the next plan empty (reconciliation converges in one round)."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from core.types import (
    AlgoOrder,
    AlgoStatus,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
)
from exchanges.binance.client_ids import Leg, client_algo_id, client_order_id
from state.model import Bracket, BracketStatus, PositionState, StateSnapshot
from state.reconcile_plan import (
    DiffKind,
    ExchangeView,
    ReconcilePlan,
    decision_body,
    has_working_stop,
    is_ours,
    plan_reconcile,
)

D = Decimal
BTC, ETH = "BTCUSDT", "ETHUSDT"
NOW = 10_000_000
OLD = NOW - 60_000  # older than the grace period
GRACE = 10_000


def snap(
    positions: dict[str, tuple[str, str]] | None = None,
    brackets: tuple[Bracket, ...] = (),
    **totals: str,
) -> StateSnapshot:
    base = StateSnapshot.empty(0)
    pos = {
        s: PositionState(
            symbol=s, qty=D(q), entry_price=D(e), opened_ts=OLD if D(q) else 0, realized_pnl=D("7")
        )
        for s, (q, e) in (positions or {}).items()
    }
    return msgspec.structs.replace(base, positions=pos, brackets={b.symbol: b for b in brackets})


def bracket(
    decision: str,
    symbol: str = BTC,
    status: BracketStatus = BracketStatus.PROTECTED,
    side: Side = Side.BUY,
    updated: int = OLD,
) -> Bracket:
    return Bracket(
        decision_id=decision,
        symbol=symbol,
        side=side,
        qty=D("0.01"),
        entry_client_id=client_order_id(decision, Leg.ENTRY),
        tp_client_id=client_algo_id(decision, Leg.TAKE_PROFIT),
        sl_client_id=client_algo_id(decision, Leg.STOP),
        tp_price=D(110),
        sl_price=D(90),
        status=status,
        opened_ts=OLD,
        updated_ts=updated,
    )


def position(qty: str, entry: str = "100", symbol: str = BTC) -> Position:
    return Position(symbol=symbol, qty=D(qty), entry_price=D(entry))


def algo(
    cid: str,
    side: Side,
    kind: OrderType = OrderType.STOP_MARKET,
    *,
    symbol: str = BTC,
    close: bool = True,
    qty: str = "0",
    created: int = OLD,
    algo_id: int = 1,
) -> AlgoOrder:
    return AlgoOrder(
        symbol=symbol,
        algo_id=algo_id,
        client_algo_id=cid,
        side=side,
        order_type=kind,
        quantity=D(qty),
        trigger_price=D(90),
        status=AlgoStatus.NEW,
        close_position=close,
        create_time=created,
    )


def order(
    cid: str, side: Side = Side.BUY, *, symbol: str = BTC, created: int = OLD, order_id: int = 1
) -> Order:
    return Order(
        symbol=symbol,
        order_id=order_id,
        client_order_id=cid,
        side=side,
        type=OrderType.LIMIT,
        orig_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        orig_qty=D("0.01"),
        price=D(95),
        status=OrderStatus.NEW,
        time=created,
    )


def view(
    positions: tuple[Position, ...] = (),
    orders: tuple[Order, ...] = (),
    algos: tuple[AlgoOrder, ...] = (),
    unstable: tuple[str, ...] = (),
) -> ExchangeView:
    return ExchangeView.of(NOW, positions, orders, algos, unstable)


def plan(state: StateSnapshot, v: ExchangeView) -> ReconcilePlan:
    return plan_reconcile(state, v, grace_ms=GRACE)


def kinds(p: ReconcilePlan) -> list[DiffKind]:
    return [d.kind for d in p.differences]


def sl(decision: str, side: Side = Side.SELL, *, created: int = OLD) -> AlgoOrder:
    return algo(client_algo_id(decision, Leg.STOP), side, created=created)


def tp(decision: str, side: Side = Side.SELL) -> AlgoOrder:
    return algo(client_algo_id(decision, Leg.TAKE_PROFIT), side, OrderType.TAKE_PROFIT_MARKET, algo_id=2)


# --- helpers -------------------------------------------------------------------------------------------


def test_client_id_ownership_and_decision_body() -> None:
    cid = client_order_id("BTCUSDT-1700000000000-BUY", Leg.ENTRY)
    assert is_ours(cid) and not is_ours(cid, "xyz") and not is_ours("web_abc123") and not is_ours("")
    long_id = "a-decision-id-much-too-long-to-fit-in-a-client-id"
    assert decision_body(client_order_id(long_id, Leg.ENTRY)) == decision_body(
        client_algo_id(long_id, Leg.STOP)
    )
    assert decision_body("manual") is None


def test_working_stop_needs_the_closing_side_and_the_whole_position() -> None:
    assert has_working_stop(D(0), [])
    assert has_working_stop(D("0.01"), [algo("cas-x-S0", Side.SELL)])
    assert not has_working_stop(D("0.01"), [algo("cas-x-S0", Side.BUY)])  # wrong side for a long
    assert has_working_stop(D("-0.01"), [algo("cas-x-S0", Side.BUY)])
    assert not has_working_stop(D("0.02"), [algo("cas-x-S0", Side.SELL, close=False, qty="0.01")])
    assert has_working_stop(D("0.02"), [algo("cas-x-S0", Side.SELL, close=False, qty="0.02")])
    assert not has_working_stop(D("0.01"), [algo("cas-x-T0", Side.SELL, OrderType.TAKE_PROFIT_MARKET)])
    done = msgspec.structs.replace(algo("cas-x-S0", Side.SELL), status=AlgoStatus.FINISHED)
    assert not has_working_stop(D("0.01"), [done])


# --- agreement -----------------------------------------------------------------------------------------


def test_agreeing_state_and_exchange_need_nothing() -> None:
    state = snap({BTC: ("0.01", "100")}, (bracket("d1"),))
    p = plan(state, view((position("0.01"),), (), (sl("d1"), tp("d1"))))
    assert p.empty and p.differences == ()


def test_empty_account_and_empty_state() -> None:
    p = plan(snap(), view())
    assert p.empty and p.differences == ()


# --- positions -----------------------------------------------------------------------------------------


def test_missing_position_is_adopted_keeping_the_running_totals() -> None:
    state = snap({BTC: ("0", "0")})
    p = plan(state, view((position("0.03", "101.5"),), (), (sl("d9"),)))
    assert [a.symbol for a in p.adopt] == [BTC]
    adopted = p.adopt[0]
    assert (adopted.qty, adopted.entry_price, adopted.realized_pnl) == (D("0.03"), D("101.5"), D(7))
    assert adopted.opened_ts > 0 and adopted.updated_ts == NOW
    assert DiffKind.POSITION_MISMATCH in kinds(p) and DiffKind.POSITION_WITHOUT_BRACKET in kinds(p)
    assert not p.protect  # the stop is working


def test_position_gone_on_the_exchange_is_adopted_flat() -> None:
    state = snap({ETH: ("-0.5", "2000")})
    p = plan(state, view())
    assert [(a.symbol, a.qty, a.entry_price, a.opened_ts) for a in p.adopt] == [(ETH, D(0), D(0), 0)]


def test_flip_is_a_critical_difference() -> None:
    state = snap({BTC: ("0.01", "100")})
    p = plan(state, view((position("-0.01"),), (), (algo("cas-q-S0", Side.BUY),)))
    diff = next(d for d in p.differences if d.kind is DiffKind.POSITION_MISMATCH)
    assert diff.level == "critical" and p.adopt[0].qty == D("-0.01")


def test_entry_price_difference_beyond_tolerance_is_adopted_quietly() -> None:
    state = snap({BTC: ("0.01", "100")}, (bracket("d1"),))
    close = plan(state, view((position("0.01", "100.00000001"),), (), (sl("d1"),)))
    assert close.empty
    far = plan(state, view((position("0.01", "100.5"),), (), (sl("d1"),)))
    assert [a.entry_price for a in far.adopt] == [D("100.5")]
    assert [d.level for d in far.differences] == ["info"]


def test_moving_symbol_is_left_alone() -> None:
    state = snap({BTC: ("0", "0")})
    p = plan(state, view((position("0.01"),), (), (), unstable=(BTC,)))
    assert p.empty and kinds(p) == [DiffKind.POSITION_MOVING]


# --- protection ----------------------------------------------------------------------------------------


def test_unprotected_position_is_protected() -> None:
    state = snap({BTC: ("0.01", "100")}, (bracket("d1"),))
    p = plan(state, view((position("0.01"),), (), (tp("d1"),)))
    assert p.protect == (BTC,) and DiffKind.UNPROTECTED in kinds(p)


def test_position_without_bracket_or_stop_is_protected() -> None:
    p = plan(snap({ETH: ("-1", "2000")}), view((position("-1", "2000", ETH),)))
    assert p.protect == (ETH,)
    assert set(kinds(p)) == {DiffKind.POSITION_WITHOUT_BRACKET, DiffKind.UNPROTECTED}


def test_stop_being_placed_right_now_is_left_to_the_croupier() -> None:
    state = snap({BTC: ("0.01", "100")}, (bracket("d1", status=BracketStatus.PROTECTING, updated=NOW - 500),))
    p = plan(state, view((position("0.01"),)))
    assert not p.protect and kinds(p) == [DiffKind.PROTECTION_PENDING]
    stale = snap({BTC: ("0.01", "100")}, (bracket("d1", status=BracketStatus.PROTECTING),))
    assert plan(stale, view((position("0.01"),))).protect == (BTC,)


# --- orphans ---------------------------------------------------------------------------------------------


def test_tp_and_sl_without_position_are_cancelled_foreign_ones_kept() -> None:
    foreign = algo("my-manual-stop", Side.SELL, algo_id=9)
    p = plan(snap(), view((), (), (sl("d1"), tp("d1"), foreign)))
    assert sorted(a.client_algo_id for a in p.cancel_algos) == sorted(
        [client_algo_id("d1", Leg.STOP), client_algo_id("d1", Leg.TAKE_PROFIT)]
    )
    assert kinds(p).count(DiffKind.ORPHAN_ALGO) == 2 and DiffKind.FOREIGN_ORDER in kinds(p)


def test_young_orphan_is_left_for_the_next_round() -> None:
    p = plan(snap(), view((), (), (sl("d1", created=NOW - 100),)))
    assert p.empty and kinds(p) == [DiffKind.IN_FLIGHT]


def test_algo_on_the_opening_side_of_a_position_is_an_orphan() -> None:
    state = snap({BTC: ("0.01", "100")}, (bracket("d1"),))
    wrong = algo(client_algo_id("d0", Leg.STOP), Side.BUY, algo_id=7)
    p = plan(state, view((position("0.01"),), (), (sl("d1"), wrong)))
    assert [a.algo_id for a in p.cancel_algos] == [7] and not p.protect


def test_pending_entry_keeps_its_working_entry_and_pre_placed_legs() -> None:
    b = bracket("d2", status=BracketStatus.PENDING_ENTRY)
    state = snap(brackets=(b,))
    p = plan(state, view((), (order(b.entry_client_id),), (sl("d2"),)))
    assert p.empty and p.differences == ()


def test_stale_bracket_is_closed_and_its_orders_cancelled() -> None:
    b = bracket("d3", status=BracketStatus.PROTECTED)
    p = plan(snap(brackets=(b,)), view((), (), (sl("d3"), tp("d3"))))
    assert p.close_brackets == (BTC,) and len(p.cancel_algos) == 2
    assert DiffKind.STALE_BRACKET in kinds(p)


def test_pending_entry_without_its_order_is_stale() -> None:
    b = bracket("d4", status=BracketStatus.PENDING_ENTRY)
    assert plan(snap(brackets=(b,)), view()).close_brackets == (BTC,)
    young = bracket("d4", status=BracketStatus.PENDING_ENTRY, updated=NOW - 1)
    p = plan(snap(brackets=(young,)), view())
    assert p.empty and kinds(p) == [DiffKind.IN_FLIGHT]


def test_regular_order_of_no_bracket_is_cancelled() -> None:
    state = snap({BTC: ("0.01", "100")}, (bracket("d1"),))
    mine = order(client_order_id("d1", Leg.REDUCE), Side.SELL, order_id=5)
    stray = order(client_order_id("d0", Leg.ENTRY), order_id=6)
    young = order(client_order_id("d5", Leg.ENTRY), created=NOW - 10, order_id=7)
    manual = order("web_123", order_id=8)
    p = plan(state, view((position("0.01"),), (mine, stray, young, manual), (sl("d1"),)))
    assert [o.order_id for o in p.cancel_orders] == [6]
    assert {DiffKind.ORPHAN_ORDER, DiffKind.IN_FLIGHT, DiffKind.FOREIGN_ORDER} <= set(kinds(p))


def test_other_prefix_is_foreign() -> None:
    cid = client_order_id("d1", Leg.ENTRY, prefix="bot2")
    p = plan(snap(), view((), (order(cid),)))
    assert p.empty and kinds(p) == [DiffKind.FOREIGN_ORDER]
    assert plan_reconcile(snap(), view((), (order(cid),)), prefix="bot2").cancel_orders


# --- convergence property --------------------------------------------------------------------------------

QTYS = st.sampled_from(["0", "0.01", "-0.01", "0.02"])
STATUSES = st.sampled_from(list(BracketStatus)[:4])


@st.composite
def worlds(draw: st.DrawFn) -> tuple[StateSnapshot, ExchangeView]:
    positions_state: dict[str, tuple[str, str]] = {}
    positions_ex: list[Position] = []
    brackets: list[Bracket] = []
    orders: list[Order] = []
    algos: list[AlgoOrder] = []
    ids = iter(range(1, 1000))
    for symbol in (BTC, ETH):
        positions_state[symbol] = (draw(QTYS), "100")
        qty = draw(QTYS)
        if qty != "0":
            positions_ex.append(position(qty, draw(st.sampled_from(["100", "101"])), symbol))
        decision = f"{symbol}-{draw(st.integers(1, 3))}"
        if draw(st.booleans()):
            brackets.append(bracket(decision, symbol, draw(STATUSES)))
        for _ in range(draw(st.integers(0, 3))):
            dec = draw(st.sampled_from([decision, f"{symbol}-9"]))
            leg = draw(st.sampled_from([Leg.STOP, Leg.TAKE_PROFIT]))
            kind = OrderType.STOP_MARKET if leg is Leg.STOP else OrderType.TAKE_PROFIT_MARKET
            side = draw(st.sampled_from(list(Side)))
            algos.append(algo(client_algo_id(dec, leg), side, kind, symbol=symbol, algo_id=next(ids)))
        for _ in range(draw(st.integers(0, 2))):
            dec = draw(st.sampled_from([decision, f"{symbol}-9"]))
            orders.append(order(client_order_id(dec, Leg.ENTRY), symbol=symbol, order_id=next(ids)))
    state = snap(positions_state, tuple(brackets))
    return state, view(tuple(positions_ex), tuple(orders), tuple(algos))


def _apply(state: StateSnapshot, v: ExchangeView, p: ReconcilePlan) -> tuple[StateSnapshot, ExchangeView]:
    """The world after the plan's actions (protect: the croupier places a closePosition stop)."""
    positions = dict(state.positions) | {a.symbol: a for a in p.adopt}
    brackets = {s: b for s, b in state.brackets.items() if s not in p.close_brackets}
    gone_algos = {a.algo_id for a in p.cancel_algos}
    gone_orders = {o.order_id for o in p.cancel_orders}
    algos = [a for a in v.open_algos if a.algo_id not in gone_algos]
    for n, symbol in enumerate(p.protect):
        qty = v.positions[symbol].qty
        closing = Side.SELL if qty > 0 else Side.BUY
        algos.append(algo(f"cas-protect{n}-S0", closing, symbol=symbol, algo_id=5000 + n))
    new_state = msgspec.structs.replace(state, positions=positions, brackets=brackets)
    new_view = ExchangeView.of(
        NOW, v.positions.values(), [o for o in v.open_orders if o.order_id not in gone_orders], algos
    )
    return new_state, new_view


@settings(max_examples=300, deadline=None)
@given(worlds())
def test_one_round_converges(world: tuple[StateSnapshot, ExchangeView]) -> None:
    state, v = world
    first = plan(state, v)
    state2, v2 = _apply(state, v, first)
    second = plan(state2, v2)
    assert second.empty, second
    assert all(
        d.kind in (DiffKind.FOREIGN_ORDER, DiffKind.POSITION_WITHOUT_BRACKET) for d in second.differences
    )
    # After the round every open position has a working stop, and no algo order of ours is on a flat symbol.
    for symbol, pos in v2.positions.items():
        assert has_working_stop(pos.qty, [a for a in v2.open_algos if a.symbol == symbol])
    for a in v2.open_algos:
        if a.symbol not in v2.positions:
            b = state2.brackets.get(a.symbol)
            assert b is not None and b.status is BracketStatus.PENDING_ENTRY
