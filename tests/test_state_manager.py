"""StateManager without a WAL: fills, PnL and fees, funding, brackets, halts, weights, equity, snapshots."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from core.clock import ManualClock
from core.types import Side
from state.manager import StateManager
from state.model import (
    Bracket,
    BracketStatus,
    FillRecord,
    Halt,
    InvalidFillError,
    PositionState,
    StateChange,
    StateSnapshot,
)
from tests.state_support import BTC, ETH, D, fill


def _manager(**kw: object) -> StateManager:
    return StateManager(ManualClock(5_000), **kw)  # type: ignore[arg-type]


async def test_fills_build_position_pnl_and_fees():
    sm = _manager()
    await sm.apply_fill(fill(1, Side.BUY, "2", "100"))
    await sm.apply_fill(fill(2, Side.SELL, "1", "110", pnl="10"))
    await sm.apply_fill(fill(3, Side.SELL, "1", "90", pnl="-10", fee="0.1", fee_asset="BNB"))
    snap = sm.get_snapshot()
    pos = snap.positions[BTC]
    assert pos.qty == 0 and pos.entry_price == 0 and pos.realized_pnl == 0
    assert pos.fees == D("1.0") and snap.fees_total == D("1.0") and snap.fees_other == {"BNB": D("0.1")}
    assert snap.realized_pnl_total == 0 and snap.realized_pnl_session == 0
    assert snap.last_fill_ts == {BTC: 1003} and snap.applied_fills == 3
    assert snap.recent_trade_ids == {BTC: (1, 2, 3)}


async def test_realized_pnl_is_the_venues_figure_and_a_mismatch_is_logged(caplog):
    sm = _manager()
    await sm.apply_fill(fill(1, Side.BUY, "1", "100"))
    result = await sm.apply_fill(fill(2, Side.SELL, "1", "110", pnl="9.5"))
    assert result.realized_pnl == D("9.5") and result.computed_pnl == D("10")
    assert sm.get_snapshot().realized_pnl_total == D("9.5")
    assert "venue realized PnL 9.5, computed 10" in caplog.text


async def test_duplicate_fill_is_not_applied_twice():
    sm = _manager()
    first = await sm.apply_fill(fill(7))
    again = await sm.apply_fill(fill(7))
    assert first.applied and not again.applied and again.duplicate
    assert sm.get_snapshot().positions[BTC].qty == D("0.01") and sm.get_snapshot().applied_fills == 1


async def test_older_new_fill_is_applied_but_the_watermark_stays():
    sm = _manager()
    await sm.apply_fill(fill(10, ts=2_000))
    late = await sm.apply_fill(fill(9, ts=1_500))
    assert late.applied and late.out_of_order
    snap = sm.get_snapshot()
    assert snap.positions[BTC].qty == D("0.02") and snap.last_fill_ts[BTC] == 2_000


async def test_dedup_window_is_bounded_and_older_ids_are_beyond_the_horizon():
    sm = _manager(dedup_window=3)
    for i in range(1, 6):
        await sm.apply_fill(fill(i))
    snap = sm.get_snapshot()
    assert snap.recent_trade_ids[BTC] == (3, 4, 5) and snap.dedup_floor[BTC] == 2
    assert sm.classify_fill(fill(1)) == "beyond_horizon"
    assert sm.classify_fill(fill(4)) == "duplicate"
    assert sm.classify_fill(fill(6)) == "new"
    result = await sm.apply_fill(fill(2))
    assert not result.applied and result.beyond_horizon
    # The memory is per symbol.
    assert sm.classify_fill(fill(1, symbol=ETH)) == "new"


async def test_state_restored_from_a_snapshot_keeps_its_dedup_memory():
    sm = _manager()
    for i in (1, 2, 3):
        await sm.apply_fill(fill(i))
    restored = StateManager(ManualClock(9_000), initial=sm.get_snapshot())
    assert restored.get_snapshot() == sm.get_snapshot()
    assert not (await restored.apply_fill(fill(2))).applied
    assert (await restored.apply_fill(fill(4))).applied


async def test_invalid_fill_raises():
    with pytest.raises(InvalidFillError):
        await _manager().apply_fill(fill(1, qty="0"))


async def test_funding_moves_forward_only():
    sm = _manager()
    await sm.apply_funding(BTC, D("-1.5"), 100)
    await sm.apply_funding(BTC, D("-1.5"), 100)  # the same funding event again
    await sm.apply_funding(BTC, D("0.25"), 200)
    snap = sm.get_snapshot()
    assert snap.funding_total == D("-1.25") and snap.positions[BTC].funding == D("-1.25")
    assert snap.last_funding_ts == {BTC: 200}
    with pytest.raises(ValueError, match="finite"):
        await sm.apply_funding(BTC, D("NaN"), 300)


async def test_brackets_halts_weights_equity_session():
    sm = _manager()
    bracket = Bracket(
        decision_id="d1",
        symbol=BTC,
        side=Side.BUY,
        qty=D("0.01"),
        entry_client_id="e1",
        tp_client_id="t1",
        sl_client_id="s1",
        tp_price=D("101000"),
        sl_price=D("99000"),
        status=BracketStatus.PENDING_ENTRY,
        opened_ts=1,
        updated_ts=1,
    )
    await sm.put_bracket(bracket)
    await sm.put_bracket(msgspec.structs.replace(bracket, status=BracketStatus.PROTECTED, tp_algo_id=5))
    assert sm.get_snapshot().brackets[BTC].tp_algo_id == 5
    await sm.close_bracket(BTC, "tp filled")
    assert sm.get_snapshot().brackets == {}
    await sm.put_bracket(bracket)
    await sm.put_bracket(msgspec.structs.replace(bracket, status=BracketStatus.CLOSED))
    assert sm.get_snapshot().brackets == {}

    await sm.add_halt(Halt(kind="daily_loss", reason="-3%", since_ts=1))
    await sm.add_halt(Halt(kind="daily_loss", reason="-4%", since_ts=2, until_ts=6_000))
    await sm.add_halt(Halt(kind="manual", reason="operator", since_ts=3))
    snap = sm.get_snapshot()
    assert [h.reason for h in snap.halts] == ["-4%", "operator"]
    assert [h.kind for h in snap.active_halts(7_000)] == ["manual"]
    await sm.clear_halt("manual")
    assert [h.kind for h in sm.get_snapshot().halts] == ["daily_loss"]

    await sm.set_weights({"rsi": 0.7, "macd": 1.2})
    assert sm.get_snapshot().weights == {"rsi": 0.7, "macd": 1.2}
    with pytest.raises(ValueError, match="finite"):
        await sm.set_weights({"rsi": float("nan")})

    for equity in ("100", "120", "110"):
        await sm.observe_equity(D(equity))
    assert sm.get_snapshot().peak_equity == D("120")

    await sm.apply_fill(fill(1, Side.BUY, "1", "100"))
    await sm.apply_fill(fill(2, Side.SELL, "1", "110", pnl="10"))
    await sm.start_session(9_999)
    snap = sm.get_snapshot()
    assert snap.session_start_ts == 9_999 and snap.realized_pnl_session == 0 and snap.fees_session == 0
    assert snap.realized_pnl_total == D("10") and snap.fees_total == D("1.0")


async def test_set_position_adopts_the_given_position(caplog):
    sm = _manager()
    await sm.apply_fill(fill(1))
    adopted = PositionState(symbol=BTC, qty=D("-0.5"), entry_price=D("99000"), updated_ts=10)
    await sm.set_position(adopted, source="reconcile")
    assert sm.get_snapshot().positions[BTC] == adopted
    assert "position adopted from reconcile" in caplog.text


async def test_snapshot_is_immutable_and_cached_between_changes():
    sm = _manager()
    a = sm.get_snapshot()
    assert sm.get_snapshot() is a
    await sm.apply_fill(fill(1))
    b = sm.get_snapshot()
    assert b is not a and a.positions == {} and b.positions[BTC].qty == D("0.01")
    b.positions.clear()  # a careless reader cannot damage the manager's state
    assert sm.get_snapshot() is b
    await sm.apply_fill(fill(2))
    assert sm.get_snapshot().positions[BTC].qty == D("0.02")
    with pytest.raises(AttributeError):
        b.fees_total = D(1)  # type: ignore[misc]


async def test_subscribers_are_told_and_a_failing_one_does_not_stop_updates(caplog):
    sm = _manager()
    seen: list[StateChange] = []

    def broken(change: StateChange) -> None:
        raise RuntimeError("boom")

    sm.subscribe(broken)
    sm.subscribe(seen.append)
    await sm.apply_fill(fill(1))
    await sm.add_halt(Halt(kind="manual", reason="x", since_ts=1))
    assert [(c.kind, c.symbol) for c in seen] == [("fill", BTC), ("halt", "")]
    assert "state subscriber" in caplog.text and sm.get_snapshot().applied_fills == 1


async def test_concurrent_updates_are_atomic():
    sm = _manager()
    n = 200
    await asyncio.gather(
        *(sm.apply_fill(fill(i, Side.BUY if i % 2 else Side.SELL, "1", "100")) for i in range(n))
    )
    snap = sm.get_snapshot()
    assert snap.applied_fills == n and snap.positions[BTC].qty == 0


async def test_apply_logged_skips_what_the_state_already_covers():
    sm = _manager()
    assert sm.apply_logged(1, FillRecord(fill=fill(1))) is not None
    assert sm.apply_logged(1, FillRecord(fill=fill(2))) is None  # seq already applied
    assert sm.wal_seq == 1 and sm.get_snapshot().wal_seq == 1 and sm.get_snapshot().applied_fills == 1


def test_unknown_state_version_is_refused():
    snap = msgspec.structs.replace(StateSnapshot.empty(0), version=99)
    with pytest.raises(ValueError, match="version"):
        StateManager(ManualClock(0), initial=snap)
