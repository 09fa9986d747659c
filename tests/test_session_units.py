"""The session's pure parts: refusals, paper settings, risk inputs, tallies, the recorder, the status line."""

from __future__ import annotations

import argparse
import io
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.clock import ManualClock
from core.config import Settings, load_settings
from core.decisions import Decision, RiskVerdict
from core.enums import Side
from core.secrets import Secret
from core.session import EXIT_REFUSED, Session
from core.session_build import refusal, session_settings, wall_floors
from core.session_cli import overrides_from_args
from core.session_live import LiveView, SessionParts
from core.session_record import OrderVelocity, SessionRecorder, TradeTally
from core.session_trading import risk_inputs
from core.session_view import AccountSample, SessionView
from core.status import StatusPrinter, status_line
from state.manager import StateManager
from state.model import Bracket, BracketStatus, Halt, PositionState, StateSnapshot
from state.recovery import StateDirLock
from tests.state_support import fill

D = Decimal
KEYS = {"api_key": Secret("k" * 64), "api_secret": Secret("s" * 64)}


def decision(symbol: str = "BTCUSDT", ts: int = 60_000) -> Decision:
    return Decision(
        decision_id=f"{symbol}-{ts}-L",
        symbol=symbol,
        side=Side.BUY,
        conviction=0.2,
        reference_price=D(100000),
        stop_distance=D(500),
        take_profit_distance=D(1000),
        ts=ts,
        timeframe="5m",
    )


# --- refusals and settings ---


def test_live_without_confirmation_is_refused_saying_why() -> None:
    settings = Settings(venue="live", **KEYS)
    reason = refusal(settings)
    assert reason is not None and "--confirm-live" in reason and "real money" in reason
    confirmed = msgspec.structs.replace(
        settings, session=msgspec.structs.replace(settings.session, live_confirm=True)
    )
    assert refusal(confirmed) is None
    assert refusal(Settings()) is None
    assert refusal(Settings(venue="demo", **KEYS)) is None


async def test_a_live_session_without_confirmation_exits_before_connecting(tmp_path) -> None:
    out = io.StringIO()
    settings = load_settings(
        env={}, overrides={"venue": "live", "state.dir": str(tmp_path / "state")} | _keys()
    )
    code = await Session(settings, session_id="s1", out=out).run(duration_s=1)
    assert code == EXIT_REFUSED
    assert "refusing to trade live without confirmation" in out.getvalue()
    assert not (tmp_path / "state").exists()  # nothing was started, not even the state directory


async def test_a_second_session_on_a_state_directory_in_use_refuses(tmp_path) -> None:
    out = io.StringIO()
    settings = load_settings(env={}, overrides={"state.dir": str(tmp_path)})
    with StateDirLock.acquire(tmp_path):
        code = await Session(settings, session_id="s2", out=out).run(duration_s=1)
    assert code == EXIT_REFUSED
    assert "is in use by pid" in out.getvalue() and "--state-dir" in out.getvalue()


def _keys() -> dict[str, object]:
    return {"api_key": "k" * 64, "api_secret": "s" * 64}


def test_paper_settings_list_the_traded_symbols_and_run_at_paper_speed(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "BTCUSDT-1m.csv.gz").write_bytes(b"")
    base = load_settings(
        env={}, overrides={"symbols": "BTCUSDT", "data_dir": str(data), "session.paper_speed": "120"}
    )
    s = session_settings(base)
    assert s.sandbox.symbols == ("BTCUSDT",) and s.sandbox.speed == 120 and s.sandbox.port == 0
    assert s.sandbox.data == (str(data),)
    empty = load_settings(env={}, overrides={"data_dir": str(tmp_path / "nothing")})
    assert session_settings(empty).sandbox.data == ()  # no data: the synthetic market
    real = Settings(venue="demo", **KEYS)
    assert session_settings(real) == real  # a real venue runs with the settings as given


@given(speed=st.floats(min_value=1, max_value=5000))
def test_wall_floors_never_tighten_and_keep_a_few_wall_seconds(speed: float) -> None:
    base = Settings()
    s = wall_floors(base, speed)
    assert s.engine.stale_after_s >= max(base.engine.stale_after_s, 3 * speed)
    assert s.player.max_lag_s >= max(base.player.max_lag_s, 3 * speed)
    c = s.croupier
    assert c.deadman_countdown_s > c.deadman_interval_s
    assert c.triggering_timeout_s >= max(base.croupier.triggering_timeout_s, speed)
    assert c.entry_timeout_s >= base.croupier.entry_timeout_s
    if speed == 1:
        assert s == base


def test_flags_map_onto_settings_keys() -> None:
    args = argparse.Namespace(
        venue="sandbox",
        url="http://127.0.0.1:9",
        log_level=None,
        symbols="BTCUSDT",
        data=["a", "b"],
        speed=30.0,
        seed=None,
        duration=12.0,
        state_dir="/tmp/x",
        report_dir="r",
        metrics_port=0,
        on_exit="sweep",
        status_interval=None,
        confirm_live=True,
    )
    out = overrides_from_args(args)
    assert out["session.paper_speed"] == out["sandbox.speed"] == 30.0
    assert out["sandbox.data"] == "a,b" and out["session.live_confirm"] == "true"
    s = load_settings(env={}, overrides=out)
    assert s.sandbox.data == ("a", "b") and s.session.on_exit == "sweep" and s.session.duration_s == 12
    assert s.state.dir == "/tmp/x" and s.metrics.port == 0 and s.session.live_confirm


# --- risk inputs, tallies, recorder ---


def test_risk_inputs_value_positions_at_the_mark_and_count_executions_as_brackets() -> None:
    snap = StateSnapshot.empty(0)
    bracket = Bracket(
        decision_id="d",
        symbol="ETHUSDT",
        side=Side.BUY,
        qty=D(1),
        entry_client_id="e",
        tp_client_id="t",
        sl_client_id="s",
        tp_price=D(2600),
        sl_price=D(2400),
        status=BracketStatus.PROTECTED,
        opened_ts=0,
        updated_ts=0,
    )
    snap = msgspec.structs.replace(
        snap,
        positions={
            "ETHUSDT": PositionState(symbol="ETHUSDT", qty=D(-2), entry_price=D(2500)),
            "BTCUSDT": PositionState(symbol="BTCUSDT"),
        },
        brackets={"ETHUSDT": bracket},
        peak_equity=D(11000),
        halts=(Halt(kind="manual", reason="test", since_ts=0),),
    )
    sample = AccountSample(ts=0, wallet_balance=D(10000), unrealized_pnl=D(-50), available_balance=D(9000))
    inputs = risk_inputs(
        snap,
        sample,
        {"ETHUSDT": D(2525)},
        executing=frozenset({"SOLUSDT", "ETHUSDT"}),
        realized_today=D(-12),
        orders_last_minute=3,
    )
    assert inputs.equity == D(9950) and inputs.available == D(9000)
    assert set(inputs.positions) == {"ETHUSDT"} and inputs.positions["ETHUSDT"].notional == D(5050)
    assert inputs.open_brackets == 2 and inputs.open_positions() == 2
    assert inputs.peak_equity == D(11000) and inputs.halts == snap.halts
    assert inputs.realized_pnl_today == D(-12) and inputs.orders_last_minute == 3
    unknown = risk_inputs(snap, None, {}, executing=frozenset(), realized_today=D(0), orders_last_minute=0)
    assert unknown.equity == 0 and unknown.positions["ETHUSDT"].notional == D(5000)  # entry price


def test_trade_tally_books_round_trips_and_the_day() -> None:
    trades: list[tuple[Decimal, Decimal]] = []
    risk = {"BTCUSDT": D(25)}
    tally = TradeTally(risk_of=risk.get, on_trade=lambda pnl, r: trades.append((pnl, r)))
    day = 86_400_000
    tally.seed_today(5 * day, D(-3))
    assert tally.today(5 * day + 10) == D(-3) and tally.today(6 * day) == 0
    tally.on_fill(fill(1, Side.BUY, "0.01", ts=5 * day + 100, fee="0.4"), D("0.01"), D(0))
    tally.on_fill(fill(2, Side.SELL, "0.01", ts=5 * day + 200, pnl="10", fee="0.4"), D(0), D("0.01"))
    assert trades == [(D("9.2"), D(25))]
    assert tally.today(5 * day + 300) == D("6.2")  # -3 - 0.4 + 10 - 0.4
    tally.on_fill(fill(3, Side.BUY, "0.01", ts=6 * day + 1, fee="0.1"), D("0.01"), D(0))
    assert tally.today(6 * day + 2) == D("-0.1")  # a new UTC day starts from zero
    assert tally.closed == 1


def test_order_velocity_counts_the_last_minute() -> None:
    v = OrderVelocity()
    for ts in (0, 10_000, 59_000, 61_000):
        v.sent(ts)
    assert v.last_minute(61_000) == 3 and v.last_minute(200_000) == 0


def test_recorder_follows_decisions_to_their_outcome_and_keeps_the_last() -> None:
    rec = SessionRecorder(decisions_kept=2)
    accepted = RiskVerdict(decision_id="x", accepted=True, qty=D(1))
    refused = RiskVerdict(decision_id="y", accepted=False, reason="max_positions")
    rec.decision(decision("BTCUSDT", 1), accepted, "pending", 1)
    rec.decision(decision("ETHUSDT", 2), refused, "rejected", 2)
    rec.outcome("BTCUSDT-1-L", "executed", "protected", 3)
    assert [r.outcome for r in rec.decisions(10)] == ["executed", "rejected"]
    rec.decision(decision("SOLUSDT", 3), accepted, "pending", 4)
    assert [r.decision.symbol for r in rec.decisions(10)] == ["ETHUSDT", "SOLUSDT"]
    assert rec.counts["decisions"] == 3 and rec.counts["accepted"] == 2 and rec.counts["executed"] == 1
    rec.execution(0.25)
    assert rec.execution_stats().count == 1 and rec.execution_stats().recent_s == (0.25,)


# --- the view and the status line ---


async def test_status_line_from_a_live_view() -> None:
    clock = ManualClock(1_750_000_000_000)
    state = StateManager(clock)
    await state.set_position(
        PositionState(symbol="BTCUSDT", qty=D("0.5"), entry_price=D(100000)), source="test"
    )
    rec = SessionRecorder()
    rec.sample(AccountSample(ts=0, wallet_balance=D(10000), unrealized_pnl=D(0), available_balance=D(10000)))
    rec.sample(AccountSample(ts=1, wallet_balance=D(10010), unrealized_pnl=D(5), available_balance=D(9000)))
    parts = SessionParts(
        settings=Settings(), session_id="s", clock=clock, recorder=rec, report_dir="r", symbols=("BTCUSDT",)
    )
    parts.state = state
    view: SessionView = LiveView(parts)
    line = status_line(view)
    assert "equity 10,015.00 (+15.00)" in line and "pos 1 (0 protected)" in line and "dec 0" in line
    assert view.protection()[0].qty == D("0.5") and not view.protection()[0].protected
    assert view.breakers() == {} and view.engine_stats() is None and view.counters().api_requests == 0
    assert view.streams().market_messages == 0 and view.halts() == ()
    printer_out = io.StringIO()
    printer = StatusPrinter(printer_out)
    printer.show(line)
    printer.say("hello")
    assert printer_out.getvalue() == line + "\nhello\n"


@pytest.mark.parametrize("venue", ["demo", "testnet"])
def test_real_venues_need_keys_before_a_session_can_start(venue: str) -> None:
    from core.config import ConfigError

    with pytest.raises(ConfigError, match="api_key"):
        load_settings(env={}, overrides={"venue": venue})
