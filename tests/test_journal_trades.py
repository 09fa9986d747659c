"""Round-trip trade reconstruction from fills (pure): partial fills, flips, funding, decisions, slippage."""

from __future__ import annotations

import itertools
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core.enums import Side
from state.journal_records import FundingPayment, JournalTrade
from state.journal_trades import reconstruct_trades
from tests.journal_support import decision, fill, jfill, journal_decision

D = Decimal
BUY, SELL = Side.BUY, Side.SELL


def funding(amount: str, ts: int, symbol: str = "BTCUSDT") -> FundingPayment:
    return FundingPayment(session="s1", symbol=symbol, amount=D(amount), asset="USDT", ts=ts)


def test_partial_entries_and_exits_make_one_trade() -> None:
    fills = [
        fill(1, BUY, "100", "0.004", 1000),
        fill(2, BUY, "101", "0.006", 1100),
        fill(3, SELL, "103", "0.005", 2000, realized="0.012"),
        fill(4, SELL, "104", "0.005", 3000, realized="0.017"),
    ]
    (trade,) = reconstruct_trades([jfill(f) for f in fills])
    assert trade.side is BUY
    assert trade.status == "closed"
    assert (trade.qty, trade.exit_qty, trade.open_qty) == (D("0.010"), D("0.010"), D(0))
    assert trade.entry_price == D("100.6")
    assert trade.exit_price == D("103.5")
    assert trade.realized_pnl == D("0.029")
    assert trade.fees == sum((f.commission for f in fills), D(0))
    assert trade.net_pnl == trade.realized_pnl - trade.fees
    assert (trade.opened_ts, trade.closed_ts, trade.holding_ms) == (1000, 3000, 2000)
    assert trade.trade_ids == (1, 2, 3, 4)


def test_flip_long_to_short_splits_the_crossing_fill() -> None:
    fills = [
        fill(1, BUY, "100", "1", 1000, commission="0.04"),
        fill(2, SELL, "110", "3", 2000, realized="10", commission="0.132"),
        fill(3, BUY, "105", "2", 3000, realized="10", commission="0.084"),
    ]
    long, short = reconstruct_trades([jfill(f) for f in fills])
    assert (long.side, long.status, long.qty, long.exit_price) == (BUY, "closed", D(1), D(110))
    assert long.realized_pnl == D(10)  # the crossing fill's PnL belongs to the part that closed
    assert long.fees == D("0.04") + D("0.044")
    assert long.closed_ts == 2000
    assert (short.side, short.status, short.qty, short.entry_price) == (SELL, "closed", D(2), D(110))
    assert short.opened_ts == 2000
    assert short.fees == D("0.088") + D("0.084")
    assert short.realized_pnl == D(10)
    assert short.trade_ids == (2, 3)


def test_uneven_fee_split_still_sums_exactly() -> None:
    fills = [
        fill(1, SELL, "100", "1", 1000, commission="0"),
        fill(2, BUY, "100", "3", 2000, commission="0.1"),
    ]
    closed, still_open = reconstruct_trades([jfill(f) for f in fills])
    assert closed.fees == D("0.03333333")
    assert still_open.fees == D("0.06666667")
    assert closed.fees + still_open.fees == D("0.1")
    assert (still_open.status, still_open.side, still_open.open_qty, still_open.closed_ts) == (
        "open",
        BUY,
        D(2),
        0,
    )
    assert still_open.exit_reason == ""


def test_funding_goes_to_the_trade_open_at_its_time() -> None:
    fills = [
        fill(1, BUY, "100", "1", 1000, commission="0"),
        fill(2, SELL, "110", "3", 5000, realized="10", commission="0"),
        fill(3, BUY, "105", "2", 9000, realized="10", commission="0"),
    ]
    payments = [
        funding("-9", 500),  # before any position: nobody's
        funding("-1", 2000),  # long open
        funding("-2", 5000),  # at the flip instant: the trade that closed
        funding("0.5", 7000),  # short open
        funding("-7", 9500),  # flat again: nobody's
        funding("-3", 2000, symbol="ETHUSDT"),  # another symbol
    ]
    long, short = reconstruct_trades([jfill(f) for f in fills], payments)
    assert long.funding == D(-3)
    assert long.net_pnl == D(7)
    assert short.funding == D("0.5")
    assert short.net_pnl == D("10.5")


def test_open_trade_collects_funding_until_now() -> None:
    (trade,) = reconstruct_trades([jfill(fill(1, SELL, "100", "2", 1000))], [funding("0.25", 10_000)])
    assert (trade.status, trade.funding, trade.open_qty) == ("open", D("0.25"), D(2))


def test_decision_reference_gives_slippage() -> None:
    d_long = decision("L", reference="100", side=BUY)
    d_short = decision("S", reference="110", side=SELL, ts=5000)
    fills = [
        jfill(fill(1, BUY, "100", "0.004", 1000), decision_id="L"),
        jfill(fill(2, BUY, "101", "0.006", 1100), decision_id="L"),
        jfill(fill(3, SELL, "102", "0.010", 2000), decision_id=None, origin="TAKE_PROFIT_MARKET"),
        jfill(fill(4, SELL, "109", "1", 5000), decision_id="S"),
        jfill(fill(5, BUY, "115", "1", 6000), origin="STOP_MARKET"),
    ]
    decisions = {d.decision_id: journal_decision(d) for d in (d_long, d_short)}
    long, short = reconstruct_trades(fills, decisions=decisions)
    assert long.decision_id == "L"
    assert long.decision is not None
    assert [r.sensor_id for r in long.decision.decision.reasons] == ["sensor0", "sensor1"]
    assert long.reference_price == D(100)
    assert long.slippage == D("0.006")  # paid 100.6 on average for 0.010 against 100
    assert long.slippage_bps == 60.0
    assert long.exit_reason == "take_profit"
    assert short.slippage == D(1)  # sold at 109 against 110: worse by 1 on 1 unit
    assert short.exit_reason == "stop_loss"


def test_unknown_decision_and_liquidation_exit() -> None:
    fills = [
        jfill(fill(1, BUY, "100", "1", 1000), decision_id="gone"),
        jfill(fill(2, SELL, "90", "1", 2000, client_id="autoclose-123"), origin=""),
    ]
    (trade,) = reconstruct_trades(fills)
    assert trade.decision_id == "gone"
    assert trade.decision is None
    assert trade.slippage == 0
    assert trade.exit_reason == "liquidation"


def test_symbols_are_independent_and_trades_ordered_by_open() -> None:
    fills = [
        fill(1, BUY, "100", "1", 3000, symbol="BTCUSDT"),
        fill(1, SELL, "10", "5", 1000, symbol="ETHUSDT"),
        fill(2, BUY, "10", "5", 4000, symbol="ETHUSDT"),
        fill(2, SELL, "100", "1", 5000, symbol="BTCUSDT"),
    ]
    trades = reconstruct_trades([jfill(f) for f in fills])
    assert [(t.symbol, t.side, t.status) for t in trades] == [
        ("ETHUSDT", SELL, "closed"),
        ("BTCUSDT", BUY, "closed"),
    ]


def test_fills_arriving_out_of_order_are_sorted_by_time_then_trade_id() -> None:
    fills = [fill(2, SELL, "101", "1", 2000), fill(1, BUY, "100", "1", 1000)]
    (trade,) = reconstruct_trades([jfill(f) for f in fills])
    assert (trade.side, trade.status, trade.trade_ids) == (BUY, "closed", (1, 2))


_fill_steps = st.lists(
    st.tuples(
        st.sampled_from([BUY, SELL]),
        st.integers(min_value=1, max_value=40),  # qty in 0.001 steps
        st.integers(min_value=9000, max_value=11000),  # price in 0.01 steps
        st.integers(min_value=0, max_value=3),  # time gap
        st.sampled_from(["BTCUSDT", "ETHUSDT"]),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(_fill_steps, st.lists(st.integers(min_value=0, max_value=200), max_size=10))
def test_reconstruction_conserves_money_and_quantity(steps, funding_times) -> None:
    fills, ts, positions = [], 0, {"BTCUSDT": D(0), "ETHUSDT": D(0)}
    for i, (side, q, p, gap, symbol) in enumerate(steps):
        ts += gap
        qty = D(q) / 1000
        positions[symbol] += qty * side.sign
        fills.append(
            fill(i + 1, side, str(D(p) / 100), str(qty), ts, symbol=symbol, realized=str(D(i) * D("0.0137")))
        )
    payments = [funding("-0.5", t) for t in sorted(set(funding_times))]
    trades = reconstruct_trades([jfill(f) for f in fills], payments)

    assert sum((t.fees for t in trades), D(0)) == sum((f.commission for f in fills), D(0))
    assert sum((t.realized_pnl for t in trades), D(0)) == sum((f.realized_pnl for f in fills), D(0))
    for symbol, position in positions.items():
        mine = [t for t in trades if t.symbol == symbol]
        open_ones = [t for t in mine if t.status == "open"]
        assert len(open_ones) == (0 if position == 0 else 1)
        if open_ones:
            assert open_ones[0].open_qty == abs(position)
            assert open_ones[0].side.sign * position > 0
        assert sum(((t.qty - t.exit_qty) * t.side.sign for t in mine), D(0)) == position
        for t in mine:
            assert t.open_qty == t.qty - t.exit_qty
            assert (t.status == "closed") == (t.open_qty == 0)
        for a, b in itertools.pairwise(mine):
            assert a.status == "closed" and a.closed_ts <= b.opened_ts
    btc = [t for t in trades if t.symbol == "BTCUSDT"]

    def held(t: JournalTrade, ts: int) -> bool:
        return t.opened_ts <= ts and (t.status == "open" or ts <= t.closed_ts)

    # Each payment made while a position was held goes to exactly one trade; the rest to none.
    expected = sum((p.amount for p in payments if any(held(t, p.ts) for t in btc)), D(0))
    assert sum((t.funding for t in btc), D(0)) == expected
