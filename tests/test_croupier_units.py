"""Pure parts of the Croupier: the OCO state machine (with a property test), the protection assessment,
the dead-man plan and the executor's prices and requests."""

from __future__ import annotations

from decimal import Decimal

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import ManualClock
from core.config_croupier import CroupierSettings
from core.enums import AlgoStatus, OrderType, Side, WorkingType
from core.types import AlgoOrder, Fill
from croupier.deadman import DeadmanPlan
from croupier.executor import OrderExecutor
from croupier.model import StopHealth
from croupier.oco import CancelLeg, Finish, OcoBook, Reprotect, exit_reason_of_fill
from croupier.protection import assess
from exchanges.sandbox.engine.filters import default_instruments
from state.model import Bracket, BracketStatus, PositionState, StateSnapshot

D = Decimal
BTC = "BTCUSDT"
TP, SL = "cas-d1-T0", "cas-d1-S0"
INSTRUMENTS = {i.symbol: i for i in default_instruments() if i.symbol in (BTC, "ETHUSDT")}


def bracket(status: BracketStatus = BracketStatus.PROTECTED, side: Side = Side.BUY) -> Bracket:
    return Bracket(
        decision_id="d1",
        symbol=BTC,
        side=side,
        qty=D("0.01"),
        entry_client_id="cas-d1-E0",
        tp_client_id=TP,
        sl_client_id=SL,
        tp_price=D(110),
        sl_price=D(90),
        status=status,
        opened_ts=0,
        updated_ts=0,
    )


def algo(cid: str, status: AlgoStatus, ts: int = 1, trigger_time: int = 0) -> AlgoOrder:
    return AlgoOrder(
        symbol=BTC,
        algo_id=1 if cid == SL else 2,
        client_algo_id=cid,
        side=Side.SELL,
        order_type=OrderType.STOP_MARKET if cid == SL else OrderType.TAKE_PROFIT_MARKET,
        quantity=D(0),
        trigger_price=D(90) if cid == SL else D(110),
        status=status,
        close_position=True,
        update_time=ts,
        trigger_time=trigger_time,
    )


def fill(cid: str, side: Side = Side.SELL) -> Fill:
    return Fill(
        symbol=BTC,
        trade_id=1,
        order_id=1,
        client_order_id=cid,
        side=side,
        price=D(100),
        qty=D("0.01"),
        quote_qty=D(1),
        commission=D("0.0004"),
        commission_asset="USDT",
        realized_pnl=D(0),
        is_maker=False,
        ts=1,
    )


# -- OcoBook ------------------------------------------------------------------------------------------


def test_a_fired_leg_cancels_its_sibling_once() -> None:
    book, b = OcoBook(5000), bracket()
    assert book.on_algo(b, algo(TP, AlgoStatus.NEW), D("0.01")) == []
    actions = book.on_algo(b, algo(TP, AlgoStatus.TRIGGERED, 2), D("0.01"))
    assert actions == [CancelLeg(symbol=BTC, client_algo_id=SL, reason="take-profit fired")]
    assert book.on_algo(b, algo(TP, AlgoStatus.FINISHED, 3), D("0.01")) == []  # asked once only
    assert book.exit_reason(BTC) == "take_profit"
    book2 = OcoBook(5000)
    assert book2.on_algo(b, algo(SL, AlgoStatus.FINISHED), D(0)) == [
        CancelLeg(symbol=BTC, client_algo_id=TP, reason="stop-loss fired")
    ]


def test_a_leg_whose_cancel_the_venue_confirmed_is_not_cancelled_again() -> None:
    # The cancel was answered, but its ALGO_UPDATE CANCELED has not arrived when the bracket settles:
    # settling must not send a second DELETE for it (the venue would answer -2011).
    book = OcoBook(5000)
    book.observe(algo(TP, AlgoStatus.NEW))
    assert book.is_open(TP)
    book.expect_cancel(TP)
    book.confirm_cancel(TP)
    assert not book.is_open(TP)
    book.forget(BTC, (TP, SL))  # the bracket is done: its memory goes
    assert book.is_open(TP)  # its last known status (NEW) again


def test_a_stop_ending_unfired_asks_for_a_new_one_unless_we_cancelled_it() -> None:
    book, b = OcoBook(5000), bracket()
    assert book.on_algo(b, algo(SL, AlgoStatus.EXPIRED), D("0.01")) == [
        Reprotect(symbol=BTC, reason="stop expired")
    ]
    book = OcoBook(5000)
    book.expect_cancel(SL)
    assert book.on_algo(b, algo(SL, AlgoStatus.CANCELED), D("0.01")) == []
    book = OcoBook(5000)
    assert book.on_algo(b, algo(SL, AlgoStatus.CANCELED), D(0)) == []  # flat: nothing to protect


def test_flat_only_counts_after_state_showed_the_position_open() -> None:
    book, b = OcoBook(5000), bracket()
    assert book.on_position(b, D(0)) == []  # the entry fill has not reached state yet
    assert book.on_position(b, D("0.01")) == []
    book.on_fill(b, fill("autoclose-123"))
    actions = book.on_position(b, D(0))
    assert actions == [
        CancelLeg(symbol=BTC, client_algo_id=TP, reason="position closed (liquidation)"),
        CancelLeg(symbol=BTC, client_algo_id=SL, reason="position closed (liquidation)"),
        Finish(symbol=BTC, reason="liquidation"),
    ]
    book.forget(BTC, (TP, SL))
    assert not book.seen_open(b) and book.exit_reason(BTC) is None


def test_observe_only_moves_forward() -> None:
    book = OcoBook(5000)
    assert book.observe(algo(SL, AlgoStatus.TRIGGERING, 5))
    assert not book.observe(algo(SL, AlgoStatus.NEW, 6))  # a late NEW
    assert book.observe(algo(SL, AlgoStatus.CANCELED, 7))
    assert not book.observe(algo(SL, AlgoStatus.TRIGGERING, 8))  # final is final


def test_stop_health_bounds_triggering() -> None:
    book = OcoBook(5000)
    assert book.stop_health(SL, 0) is StopHealth.MISSING
    book.observe(algo(SL, AlgoStatus.NEW))
    assert book.stop_health(SL, 10**9) is StopHealth.WORKING
    book.observe(algo(SL, AlgoStatus.TRIGGERING, 1000, trigger_time=1000))
    assert book.stop_health(SL, 5999) is StopHealth.WORKING
    assert book.stop_health(SL, 6000) is StopHealth.STUCK
    book.observe(algo(SL, AlgoStatus.REJECTED, 7000))
    assert book.stop_health(SL, 7000) is StopHealth.MISSING


def test_exit_reason_of_fill() -> None:
    b = bracket()
    assert exit_reason_of_fill(fill("cas-d1-E0", Side.BUY), b) is None  # the entry itself
    assert exit_reason_of_fill(fill(TP), b) == "take_profit"
    assert exit_reason_of_fill(fill("cas-other-S3"), b) == "stop_loss"
    assert exit_reason_of_fill(fill("cas-d1-X0"), b) == "closed_at_market"
    assert exit_reason_of_fill(fill("web_manual"), b) == "closed_externally"
    assert exit_reason_of_fill(fill("adl_autoclose"), None) == "adl"


_STATUSES = st.sampled_from(list(AlgoStatus))
_EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("algo"), st.sampled_from([TP, SL]), _STATUSES),
        st.tuples(st.just("pos"), st.sampled_from(["open", "flat"]), st.just(AlgoStatus.NEW)),
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(_EVENTS)
def test_oco_invariants_under_any_event_order(events: list[tuple[str, str, AlgoStatus]]) -> None:
    """Whatever order the venue's reports arrive in: a fired leg is never cancelled, each leg is cancelled
    at most once, a re-protect is only asked for an open position, a finish only after the position was
    seen open and then flat."""
    book, b = OcoBook(5000), bracket()
    qty, seen_open = D(0), False
    fired: set[str] = set()
    cancels: list[str] = []
    for ts, (kind, what, status) in enumerate(events, start=1):
        if kind == "pos":
            qty = D("0.01") if what == "open" else D(0)
            seen_open |= qty != 0
            actions = book.on_position(b, qty)
        else:
            seen = book.algo(what)
            actions = book.on_algo(b, algo(what, status, ts), qty)
            latest = book.algo(what)
            if latest is not None and latest.status in (AlgoStatus.TRIGGERED, AlgoStatus.FINISHED):
                fired.add(what)
            assert seen is None or latest is not None
        for action in actions:
            if isinstance(action, CancelLeg):
                assert action.client_algo_id not in fired or len(fired) == 2
                cancels.append(action.client_algo_id)
            elif isinstance(action, Reprotect):
                assert qty != 0
            else:
                assert qty == 0 and seen_open
    assert len(cancels) == len(set(cancels))


# -- protection assessment ------------------------------------------------------------------------------


def _snapshot(qty: str, b: Bracket | None) -> StateSnapshot:
    snap = StateSnapshot.empty(0)
    positions = {BTC: PositionState(symbol=BTC, qty=D(qty), entry_price=D(100), opened_ts=1)}
    return msgspec.structs.replace(snap, positions=positions, brackets={BTC: b} if b else {})


def test_assess_finds_missing_stuck_and_flat() -> None:
    book = OcoBook(5000)
    assert [t.kind for t in assess(_snapshot("0.01", None), book, 0, busy=(), stale_ms=100)] == ["reprotect"]
    assert assess(_snapshot("0.01", None), book, 0, busy={BTC}, stale_ms=100) == []
    book.observe(algo(SL, AlgoStatus.NEW))
    assert assess(_snapshot("0.01", bracket()), book, 10, busy=(), stale_ms=100) == []
    book.observe(algo(SL, AlgoStatus.TRIGGERING, 20, trigger_time=20))
    assert assess(_snapshot("0.01", bracket()), book, 5019, busy=(), stale_ms=100) == []
    assert [t.kind for t in assess(_snapshot("0.01", bracket()), book, 5020, busy=(), stale_ms=100)] == [
        "close"
    ]
    # Flat under a live bracket: settled only once state showed it open, or when the bracket is stale.
    fresh = OcoBook(5000)
    assert assess(_snapshot("0", bracket()), fresh, 50, busy=(), stale_ms=100) == []
    assert [t.kind for t in assess(_snapshot("0", bracket()), fresh, 101, busy=(), stale_ms=100)] == [
        "settle"
    ]
    pending = bracket(BracketStatus.PENDING_ENTRY)
    assert assess(_snapshot("0", pending), fresh, 100, busy=(), stale_ms=100) == []
    tasks = assess(_snapshot("0", pending), fresh, 101, busy=(), stale_ms=100)
    assert [(t.kind, t.reason) for t in tasks] == [("settle", "entry never filled")]


# -- dead-man plan ------------------------------------------------------------------------------------


def test_deadman_plan_never_covers_a_symbol_with_a_position() -> None:
    plan = DeadmanPlan()
    step = plan.step(with_orders={"BTCUSDT", "ETHUSDT"}, with_positions={"ETHUSDT"})
    assert (step.arm, step.disarm) == (("BTCUSDT",), ())
    plan.applied("BTCUSDT", True)
    step = plan.step(with_orders={"BTCUSDT"}, with_positions={"BTCUSDT"})  # the entry filled
    assert (step.arm, step.disarm) == ((), ("BTCUSDT",))
    plan.applied("BTCUSDT", False)
    assert plan.step(with_orders=(), with_positions=()) == plan.step(with_orders=(), with_positions=())
    assert plan.armed == set()


# -- executor -----------------------------------------------------------------------------------------


class _NoVenue:
    """The executor's pure methods never touch the adapter."""


def _executor() -> OrderExecutor:
    return OrderExecutor(_NoVenue(), INSTRUMENTS, CroupierSettings(), ManualClock(0))  # type: ignore[arg-type]


@given(
    price=st.decimals(min_value=D(1000), max_value=D(200000), places=2),
    pct=st.decimals(min_value=D("0.001"), max_value=D("0.2"), places=4),
    side=st.sampled_from([Side.BUY, Side.SELL]),
)
def test_protection_prices_are_on_tick_and_never_tighter_than_asked(price: D, pct: D, side: Side) -> None:
    ex = _executor()
    tick = INSTRUMENTS[BTC].filters.tick_size
    dist = price * pct
    p = ex.protection_prices(BTC, side, price, dist, dist)
    assert p.tp % tick == 0 and p.sl % tick == 0
    if side is Side.BUY:
        assert p.sl <= price - dist and p.tp >= price + dist
        assert p.sl < price < p.tp
    else:
        assert p.sl >= price + dist and p.tp <= price - dist
        assert p.tp < price < p.sl


def test_requests_carry_deterministic_ids_and_close_position() -> None:
    ex = _executor()
    sl = ex.sl_request(BTC, Side.BUY, D("90000.1"), ex.sl_id("d1", 2))
    assert (sl.side, sl.type, sl.working_type, sl.close_position, sl.quantity) == (
        Side.SELL, OrderType.STOP_MARKET, WorkingType.MARK_PRICE, True, None,
    )  # fmt: skip
    assert sl.client_algo_id == "cas-d1-S2"
    tp = ex.tp_request(BTC, Side.SELL, D(80000), ex.tp_id("d1"))
    assert (tp.side, tp.type, tp.working_type) == (
        Side.BUY,
        OrderType.TAKE_PROFIT_MARKET,
        WorkingType.CONTRACT_PRICE,
    )
    close = ex.close_request(BTC, D("-0.0105"), ex.close_id("d1"))
    assert (close.side, close.quantity, close.reduce_only, close.client_order_id) == (
        Side.BUY, D("0.011"), True, "cas-d1-X0",
    )  # fmt: skip
    assert ex.adjusted_stop(BTC, Side.BUY, D(100000), D(1000)) == D(99750)
    assert ex.adjusted_stop(BTC, Side.SELL, D(100000), D(1000)) == D(100250)
