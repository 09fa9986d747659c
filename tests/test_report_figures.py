"""Report figures on a crafted journal (tests/report_support.py): every figure is known in advance; plus
properties of the attribution, the exposure and the cross-check."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.decisions import Decision, Reason, RiskVerdict
from core.enums import Side
from core.report.figures import (
    NO_DECISION,
    ReportInput,
    attribute_to_sensors,
    compute_figures,
    cross_check,
    exposure,
)
from core.report.model import AccountFacts
from core.report.source import SessionNotInJournalError, load_input
from core.types import Income, IncomeType
from state.journal_queries import JournalReader
from state.journal_records import JournalDecision, JournalTotals, JournalTrade
from tests.report_support import MIN, SESSION, T0, craft_journal

D = Decimal


@pytest.fixture
async def crafted(tmp_path: Path) -> ReportInput:
    path = tmp_path / "journal.sqlite3"
    await craft_journal(path)
    with JournalReader.open(path) as reader:
        return load_input(reader, SESSION)


async def test_money_figures_are_the_journal_totals(crafted: ReportInput) -> None:
    f = compute_figures(crafted, AccountFacts())
    assert (f.realized_pnl, f.fees, f.funding, f.net_pnl) == (D(12), D("4.5"), D("-0.25"), D("7.25"))
    assert f.fills == 9 and f.volume == D(882)
    by_symbol = {s.symbol: s for s in f.per_symbol}
    assert by_symbol["BTCUSDT"].net_pnl == D("2.25") and by_symbol["ETHUSDT"].net_pnl == D(5)
    assert sum((s.net_pnl for s in f.per_symbol), D(0)) == f.net_pnl


async def test_trade_statistics(crafted: ReportInput) -> None:
    f = compute_figures(crafted, AccountFacts())
    assert (f.trades, f.closed_trades, f.open_trades, f.wins, f.losses) == (5, 4, 1, 2, 2)
    assert f.win_rate == 0.5
    assert (f.gross_profit, f.gross_loss) == (D("17.75"), D(10))
    assert f.profit_factor == pytest.approx(1.775)
    assert f.expectancy == D("1.9375")  # (8.75 + 9 - 6 - 4) / 4
    assert (f.average_win, f.average_loss) == (D("8.875"), D(-5))
    assert f.average_holding_s == pytest.approx((6 + 4 + 3 + 4) * 60 / 4)
    assert f.exit_reasons == {"market": 1, "stop_loss": 1, "take_profit": 2}


async def test_drawdown_exposure_slippage_and_decisions(crafted: ReportInput) -> None:
    f = compute_figures(crafted, AccountFacts())
    # equity 1000, 1009, 1003, 1012, 1008, 1007.25: the worst fall is 1009 → 1003
    assert f.max_drawdown == D(6) and f.max_drawdown_pct == pytest.approx(6 / 1009)
    assert (f.equity_start, f.equity_end, f.equity_source) == (
        D(1000),
        D("1007.25"),
        "journal equity samples",
    )
    assert f.return_period_s == 900 and f.returns_used == 2 and f.sharpe is not None
    # open: 2-9, 11-14, 21-25, 26-30 (E until the end) of a 30-minute session
    assert f.duration_s == 1800 and f.time_in_market == pytest.approx(18 / 30)
    # A entered at 100 on a decision at 99 (1 worse), B and C at their decision prices
    assert f.slippage == D(1) and f.slippage_bps == pytest.approx(1 / (99 + 100 + 110) * 10_000)
    assert (f.decisions, f.decisions_accepted, f.rejections) == (4, 3, {"max_positions": 1})


async def test_attribution_per_sensor(crafted: ReportInput) -> None:
    f = compute_figures(crafted, AccountFacts())
    shares = {s.sensor_id: s.net_pnl for s in f.per_sensor}
    # A (+8.75) splits rsi 0.5 : macd 1.5 (bear voted short: nothing); C (+9) is all rsi; B (-6) is bear's
    assert shares == {"rsi": D("2.1875") + 9, "macd": D("6.5625"), "bear": D(-6), NO_DECISION: D(-4)}
    closed_net = sum((t.net_pnl for t in crafted.trades if t.status == "closed"), D(0))
    assert sum(shares.values(), D(0)) == closed_net


async def test_equity_from_fills_when_no_samples(crafted: ReportInput) -> None:
    bare = ReportInput(**{**{k: getattr(crafted, k) for k in crafted.__struct_fields__}, "equity": ()})
    f = compute_figures(bare, AccountFacts(wallet_start=D(1000)))
    assert f.equity_source == "fills and funding"
    assert (f.equity_start, f.equity_end) == (D(1000), D(1000) + f.net_pnl)


async def test_unknown_session_is_named(tmp_path: Path) -> None:
    await craft_journal(tmp_path / "j.sqlite3")
    with JournalReader.open(tmp_path / "j.sqlite3") as reader, pytest.raises(SessionNotInJournalError) as err:
        load_input(reader, "nope")
    assert "s1" in str(err.value)


def _totals(realized: str, fees: str, funding: str) -> JournalTotals:
    net = D(realized) - D(fees) + D(funding)
    return JournalTotals(
        fills=1, volume=D(1), realized_pnl=D(realized), fees=D(fees), funding=D(funding), net_pnl=net
    )


def test_cross_check_to_the_cent() -> None:
    totals = _totals("12.004", "4.5", "-0.25")
    rows = [
        Income(
            symbol="BTCUSDT", income_type=IncomeType.REALIZED_PNL, income=D(12), asset="USDT", ts=1, tran_id=1
        ),
        Income(
            symbol="BTCUSDT",
            income_type=IncomeType.COMMISSION,
            income=D("-4.5"),
            asset="USDT",
            ts=1,
            tran_id=2,
        ),
        Income(
            symbol="BTCUSDT",
            income_type=IncomeType.FUNDING_FEE,
            income=D("-0.25"),
            asset="USDT",
            ts=1,
            tran_id=3,
        ),
        Income(symbol="", income_type=IncomeType.TRANSFER, income=D(500), asset="USDT", ts=1, tran_id=4),
    ]
    facts = AccountFacts.from_income(
        rows, source="sandbox account", wallet_start=D(1000), wallet_end=D("1007.25")
    )
    ok = cross_check(totals, facts)
    assert ok.ok is True and all(line.ok for line in ok.lines)
    off = cross_check(totals, AccountFacts(wallet_start=D(1000), wallet_end=D("1007.24")))
    assert off.ok is False and "MISMATCH" in off.message and "wallet" in off.message
    assert off.lines[0].difference == D("0.014")
    nothing = cross_check(totals, AccountFacts())
    assert nothing.ok is None and all(line.ok is None for line in nothing.lines)


def _trade(
    i: int, side: Side, net: Decimal, reasons: tuple[Reason, ...], opened: int, closed: int
) -> JournalTrade:
    decision = None
    if reasons:
        d = Decision(
            decision_id=f"d{i}",
            symbol="BTCUSDT",
            side=side,
            conviction=0.5,
            reference_price=D(100),
            stop_distance=D(1),
            take_profit_distance=D(1),
            ts=opened,
            timeframe="1m",
            reasons=reasons,
        )
        decision = JournalDecision(
            decision=d, verdict=RiskVerdict(decision_id=d.decision_id, accepted=True), session="s"
        )
    return JournalTrade(
        symbol="BTCUSDT",
        side=side,
        status="closed" if closed else "open",
        opened_ts=opened,
        closed_ts=closed,
        holding_ms=closed - opened if closed else 0,
        qty=D(1),
        exit_qty=D(1) if closed else D(0),
        open_qty=D(0) if closed else D(1),
        entry_price=D(100),
        exit_price=D(100),
        entry_notional=D(100),
        exit_notional=D(100),
        realized_pnl=net,
        fees=D(0),
        funding=D(0),
        net_pnl=net,
        decision_id=decision.decision.decision_id if decision else None,
        decision=decision,
    )


Spec = tuple[Side, Decimal, list[Reason], int, int, bool]
reasons_st = st.lists(
    st.builds(
        Reason,
        sensor_id=st.sampled_from(["a", "b", "c", "d"]),
        timeframe=st.just("1m"),
        direction=st.sampled_from([-1, 0, 1]),
        strength=st.floats(min_value=0, max_value=1),
        weight=st.floats(min_value=0, max_value=3),
    ),
    max_size=4,
)
trades_st = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.decimals(min_value=-1000, max_value=1000, places=8),
        reasons_st,
        st.integers(min_value=0, max_value=10_000),
        st.integers(min_value=0, max_value=10_000),
        st.booleans(),
    ),
    max_size=12,
)


@given(trades_st)
def test_attribution_sums_to_the_closed_trades_exactly(specs: list[Spec]) -> None:
    trades = [
        _trade(i, side, net, tuple(reasons), opened, opened + length if closed else 0)
        for i, (side, net, reasons, opened, length, closed) in enumerate(specs)
    ]
    shares = attribute_to_sensors(trades)
    closed_net = sum((t.net_pnl for t in trades if t.status == "closed"), D(0))
    assert sum((s.net_pnl for s in shares), D(0)) == closed_net
    assert all(s.trades >= s.wins >= 0 for s in shares)


@given(trades_st)
def test_exposure_is_a_share_of_the_session(specs: list[Spec]) -> None:
    trades = [
        _trade(i, side, net, (), opened, opened + length if closed else 0)
        for i, (side, net, _, opened, length, closed) in enumerate(specs)
    ]
    share, notional = exposure(trades, 1_000, 15_000)
    assert share is not None and 0.0 <= share <= 1.0
    assert notional >= 0
    assert D(0) <= notional <= D(100) * len(trades)
    assert exposure(trades, 5, 5) == (None, D(0))


def test_late_open_trade_counts_until_the_session_end() -> None:
    t = _trade(0, Side.BUY, D(0), (), T0 + 10 * MIN, 0)
    share, notional = exposure([t], T0, T0 + 20 * MIN)
    assert share == pytest.approx(0.5) and notional == D(50)
