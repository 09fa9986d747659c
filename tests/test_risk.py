"""RiskEngine: each sizing cap and each limit in isolation and combined, Kelly bound, halts."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from core.clock import ManualClock
from core.config_trading import RiskSettings
from core.decisions import Decision
from core.enums import Side
from core.risk import RiskEngine
from core.risk_limits import DAY_MS, PositionExposure, RiskInputs
from exchanges.sandbox.engine.filters import default_instruments
from state.model import Halt

NOW = 1_747_000_000_000  # 2025-05-11 21:46:40 UTC
INSTRUMENTS = {i.symbol: i for i in default_instruments()}
D = Decimal


def decision(
    symbol: str = "BTCUSDT", price: str = "50000", stop: str = "500", side: Side = Side.BUY
) -> Decision:
    return Decision(
        decision_id=f"{symbol}-x-{side.value[0]}",
        symbol=symbol,
        side=side,
        conviction=0.5,
        reference_price=D(price),
        stop_distance=D(stop),
        take_profit_distance=D(stop) * 2,
        ts=NOW,
        timeframe="5m",
    )


def account(equity: str = "10000", available: str | None = None, **kwargs: object) -> RiskInputs:
    return RiskInputs(equity=D(equity), available=D(available or equity), **kwargs)  # type: ignore[arg-type]


def engine(**changes: object) -> RiskEngine:
    return RiskEngine(RiskSettings(**changes), ManualClock(NOW), INSTRUMENTS)  # type: ignore[arg-type]


def position(notional: str, qty: str = "1") -> PositionExposure:
    return PositionExposure(qty=D(qty), notional=D(notional))


def test_size_by_risk_per_trade():
    verdict = engine().allow(decision(), account())
    # 1% of 10000 = 100 USDT at risk over a 500 stop: 0.2 BTC, notional 10000.
    assert verdict.accepted and verdict.reason == ""
    assert verdict.qty == D("0.2") and verdict.notional == D(10000) and verdict.leverage == 10
    assert verdict.decision_id == "BTCUSDT-x-B"
    assert "bound by risk" in verdict.detail


@pytest.mark.parametrize(
    ("changes", "acct", "stop", "qty", "bound"),
    [
        ({}, {}, "50", "0.6", "max_leverage"),  # 2 BTC by risk; 3 × equity = 30000 → 0.6
        ({}, {"available": "1000"}, "50", "0.2", "margin"),  # 1000 available × 10x = 10000 → 0.2
        ({"max_notional": D(5000)}, {}, "500", "0.1", "max_notional"),
        ({}, {"positions": {"ETHUSDT": position("45000")}}, "50", "0.1", "max_exposure"),  # room 5000
        ({"leverage": 5}, {"available": "1000"}, "50", "0.1", "margin"),  # 1000 × 5x
    ],
)
def test_each_cap_in_isolation(changes, acct, stop, qty, bound):
    verdict = engine(**changes).allow(decision(stop=stop), account(**acct))
    assert verdict.accepted, verdict.detail
    assert verdict.qty == D(qty)
    assert f"bound by {bound}" in verdict.detail


def test_leverage_bracket_caps_notional_and_leverage():
    risk = engine(leverage=125, max_leverage=D(100), max_notional=D(10**9), max_exposure=D(100))
    verdict = risk.allow(decision(stop="50"), account("1000000"))
    # Only BTCUSDT's first bracket (notional up to 50000) allows 125x.
    assert verdict.qty == D(1) and verdict.leverage == 125
    assert "bound by leverage_bracket" in verdict.detail
    sol = engine(leverage=100).allow(decision("SOLUSDT", price="150", stop="3"), account())
    assert sol.leverage == 75  # SOLUSDT's highest bracket leverage


def test_market_lot_maximum_clips():
    risk = engine(max_notional=D(10**9), max_leverage=D(100), max_exposure=D(100))
    verdict = risk.allow(decision("SOLUSDT", price="2", stop="0.01"), account("100000", available="10000000"))
    assert verdict.accepted and verdict.qty == D(5000)  # MARKET_LOT_SIZE maxQty of SOLUSDT
    assert verdict.detail.endswith("clipped to the market lot maximum")


def test_combined_caps_take_the_smallest():
    risk = engine(max_notional=D(12000))
    acct = account(available="1500", positions={"ETHUSDT": position("39000")})
    # risk 100000 (stop 50), max_leverage 30000, margin 15000, max_notional 12000, exposure room 11000.
    verdict = risk.allow(decision(stop="50"), acct)
    assert verdict.qty == D("0.22") and "bound by max_exposure" in verdict.detail


def test_sizes_floor_to_the_step_and_never_round_up():
    verdict = engine().allow(decision(stop="700"), account())  # 100 / 700 = 0.142857... BTC
    assert verdict.qty == D("0.142")
    verdict = engine().allow(decision(), account("100"))  # 1 USDT at risk → 0.002 BTC = 100 USDT
    assert not verdict.accepted and verdict.reason == "below_min_notional"
    assert "not rounded up" in verdict.detail
    # Without headroom for a price move, 0.002 × 50000 = 100 meets MIN_NOTIONAL exactly.
    assert engine(notional_buffer=D(0)).allow(decision(), account("100")).qty == D("0.002")


def test_kelly_bound_applies_only_after_the_minimum_sample():
    risk = engine(kelly_min_trades=30, kelly_floor=D("0.0025"))
    for _ in range(29):
        risk.record_trade(D(-100), D(100))
    assert risk.risk_fraction() == D("0.01")
    assert risk.allow(decision(), account()).qty == D("0.2")
    risk.record_trade(D(-100), D(100))  # 30 losing trades: no edge, the floor applies
    assert risk.risk_fraction() == D("0.0025")
    assert risk.allow(decision(), account()).qty == D("0.05")


def test_kelly_fraction_of_the_edge():
    risk = engine(kelly_fraction=D("0.1"), kelly_min_trades=10)
    for pnl in ["200"] * 5 + ["-100"] * 5:  # W = 0.5, R = 2: Kelly = 0.5 - 0.5 / 2 = 0.25
        risk.record_trade(D(pnl), D(100))
    assert risk.risk_fraction() == D("0.01")  # 0.1 × 0.25 = 0.025 > risk_per_trade
    risk = engine(kelly_fraction=D("0.02"), kelly_min_trades=10)
    for pnl in ["200"] * 5 + ["-100"] * 5:
        risk.record_trade(D(pnl), D(100))
    assert risk.risk_fraction() == D("0.005")
    assert risk.allow(decision(), account()).qty == D("0.1")


def test_kelly_window_forgets_old_trades():
    risk = engine(kelly_min_trades=5, kelly_window=5)
    for _ in range(5):
        risk.record_trade(D(-50), D(100))
    assert risk.risk_fraction() == D("0.0025")
    for _ in range(5):
        risk.record_trade(D(150), D(100))  # only winners left in the window: Kelly = W = 1
    assert risk.risk_fraction() == D("0.01")
    with pytest.raises(ValueError, match="positive"):
        risk.record_trade(D(1), D(0))


@pytest.mark.parametrize(
    ("acct", "reason"),
    [
        ({"positions": {"BTCUSDT": position("1000", qty="-0.02")}}, "position_open"),
        (
            {
                "positions": {
                    s: position("100") for s in ["ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "ADAUSDT"]
                }
            },
            "max_positions",
        ),
        ({"open_brackets": 5}, "max_positions"),
        ({"orders_last_minute": 30}, "order_velocity"),
        ({"positions": {"ETHUSDT": position("50000")}}, "max_exposure"),
        ({"available": "-5"}, "insufficient_margin"),
        ({"equity": "0", "available": "10"}, "no_equity"),
        ({"realized_pnl_today": D(-300), "equity": "9700"}, "halted:daily_loss"),
        ({"peak_equity": D(11000), "equity": "9900"}, "halted:drawdown"),
        ({"halts": (Halt(kind="manual", reason="operator", since_ts=NOW - 1),)}, "halted:manual"),
    ],
)
def test_each_limit_refuses_with_its_reason(acct, reason):
    risk = engine()
    verdict = risk.allow(decision(), account(**acct))
    assert not verdict.accepted and verdict.reason == reason
    assert verdict.qty == 0 and verdict.detail.startswith("BTCUSDT: ")
    assert risk.rejections() == {reason: 1}


@pytest.mark.parametrize(
    "acct",
    [
        {"positions": {"BTCUSDT": position("0", qty="0")}},  # a flat position is no position
        {"positions": {s: position("100") for s in ["ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"]}},
        {"orders_last_minute": 29},
        {"realized_pnl_today": D(-299), "equity": "9701"},
        {"peak_equity": D(11000), "equity": "9901"},
        {"halts": (Halt(kind="daily_loss", reason="yesterday", since_ts=NOW - DAY_MS, until_ts=NOW),)},
    ],
)
def test_just_inside_each_limit_is_allowed(acct):
    assert engine().allow(decision(), account(**acct)).accepted


def test_limits_of_zero_are_off():
    acct = account("5000", realized_pnl_today=D(-4000), peak_equity=D(100000))
    assert engine(daily_loss_limit=D(0), max_drawdown=D(0)).allow(decision(stop="5000"), acct).accepted


def test_invalid_decisions_and_unknown_symbols():
    risk = engine()
    assert risk.allow(decision(stop="50000"), account()).reason == "invalid_decision"  # stop at zero
    assert risk.allow(decision(stop="0"), account()).reason == "invalid_decision"
    assert risk.allow(decision("NOPEUSDT"), account()).reason == "unknown_symbol"
    assert risk.rejections() == {"invalid_decision": 2, "unknown_symbol": 1}


def test_halts_to_raise_on_breaches_once():
    risk = engine()
    acct = account("9000", realized_pnl_today=D(-400), peak_equity=D(10500))  # 4.25% today, 14.3% drawdown
    halts = {h.kind: h for h in risk.halts_to_raise(acct)}
    assert set(halts) == {"daily_loss", "drawdown"}
    assert halts["daily_loss"].since_ts == NOW
    assert halts["daily_loss"].until_ts == (NOW // DAY_MS + 1) * DAY_MS  # next 00:00 UTC
    assert halts["drawdown"].until_ts == 0
    assert "peak" in halts["drawdown"].reason and "400" in halts["daily_loss"].reason
    # Once in state (and handed back), they are not raised again; an expired one does not count.
    expired = msgspec.structs.replace(halts["daily_loss"], until_ts=NOW)
    again = risk.halts_to_raise(msgspec.structs.replace(acct, halts=(halts["drawdown"], expired)))
    assert [h.kind for h in again] == ["daily_loss"]
    assert risk.halts_to_raise(account()) == []


def test_halts_come_back_after_a_restart():
    halt = Halt(kind="drawdown", reason="equity 12% below peak", since_ts=NOW - 3 * DAY_MS)
    fresh_engine = engine()  # a new process: nothing in memory
    verdict = fresh_engine.allow(decision(), account(halts=(halt,)))
    assert verdict.reason == "halted:drawdown" and "12% below peak" in verdict.detail
