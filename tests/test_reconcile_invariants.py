"""The crash test's own tools, tested on hand-made worlds: the invariant checker finds each kind of broken
invariant (and nothing in a sound world), and read_state rebuilds a state directory read-only, torn tail
and all."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from core.clock import ManualClock
from core.types import Side
from exchanges.binance.client_ids import Leg, client_algo_id, client_order_id
from state.fills import FillProcessor
from state.manager import StateManager
from state.model import Bracket, BracketStatus, PositionState, StateSnapshot
from state.recovery import SNAPSHOT_DIR, WAL_DIR
from state.snapshots import write_snapshot
from state.wal import Wal
from tests.crash_invariants import (
    ExchangeFacts,
    OpenAlgo,
    OpenOrder,
    Trade,
    Violation,
    check_invariants,
    converge,
)
from tests.crash_support import read_state
from tests.state_support import BTC, ETH, fill

D = Decimal
ENTRY = client_order_id("d1", Leg.ENTRY)
SL = client_algo_id("d1", Leg.STOP)
TP = client_algo_id("d1", Leg.TAKE_PROFIT)

# BTC: bought 0.02 at 100000, sold 0.01 at 101000 (realized +10); still long 0.01 @ 100000, with its stop.
FILLS = (
    fill(1, Side.BUY, "0.02", "100000", fee="0.8", client_order_id=ENTRY),
    fill(2, Side.SELL, "0.01", "101000", pnl="10", fee="0.4", client_order_id=TP),
)


async def sound_state() -> StateSnapshot:
    state = StateManager(ManualClock(5000))
    for f in FILLS:
        await state.apply_fill(f)
    await state.put_bracket(
        Bracket(
            decision_id="d1",
            symbol=BTC,
            side=Side.BUY,
            qty=D("0.02"),
            entry_client_id=ENTRY,
            tp_client_id=TP,
            sl_client_id=SL,
            tp_price=D(102000),
            sl_price=D(99000),
            status=BracketStatus.PROTECTED,
            opened_ts=1000,
            updated_ts=1002,
        )
    )
    return state.get_snapshot()


def stop(
    symbol: str = BTC, side: str = "SELL", cid: str = SL, *, close: bool = True, qty: str = "0"
) -> OpenAlgo:
    return OpenAlgo(symbol, cid, side, "STOP_MARKET", close, D(qty))


def sound_facts() -> ExchangeFacts:
    return ExchangeFacts(
        positions={BTC: (D("0.01"), D(100000))},
        open_algos=(stop(),),
        order_ids={BTC: [ENTRY, client_order_id("d1", Leg.REDUCE)], ETH: []},
        algo_ids={BTC: [SL, TP], ETH: []},
        trades={BTC: [Trade(f.trade_id, f.ts, f.realized_pnl, f.commission) for f in FILLS], ETH: []},
        income_realized=D(10),
        income_commission=D("-1.2"),
    )


def found(state: StateSnapshot | None, facts: ExchangeFacts) -> set[tuple[int, str]]:
    return {(v.invariant, v.symbol) for v in check_invariants(state, facts)}


async def test_a_sound_world_has_no_violation() -> None:
    assert check_invariants(await sound_state(), sound_facts()) == []
    assert check_invariants(None, ExchangeFacts()) == []  # nothing anywhere yet


async def test_invariant_1_every_position_has_a_working_stop() -> None:
    state, facts = await sound_state(), sound_facts()
    for algos in ((), (stop(side="BUY"),), (stop(close=False, qty="0.005"),)):
        assert (1, BTC) in found(state, dataclasses.replace(facts, open_algos=algos))
    covering = dataclasses.replace(facts, open_algos=(stop(close=False, qty="0.01"),))
    assert found(state, covering) == set()


async def test_invariant_2_no_client_id_twice() -> None:
    state, facts = await sound_state(), sound_facts()
    twice = dataclasses.replace(facts, order_ids={BTC: [ENTRY, ENTRY, "", ""]})
    assert found(state, twice) == {(2, BTC)}  # empty ids (the venue's own orders) do not count
    algo_twice = dataclasses.replace(facts, algo_ids={BTC: [SL, TP, SL]})
    assert found(state, algo_twice) == {(2, BTC)}


async def test_invariant_3_every_fill_applied_once() -> None:
    state, facts = await sound_state(), sound_facts()
    extra = Trade(3, 1003, D(0), D("0.1"))
    missing = dataclasses.replace(facts, trades={BTC: [*facts.trades[BTC], extra]})
    messages = [v.detail for v in check_invariants(state, missing) if v.invariant == 3]
    assert any("not applied: [3]" in m for m in messages)
    assert any("fills applied" in m for m in messages) and any("last fill time" in m for m in messages)
    unknown = dataclasses.replace(facts, trades={BTC: facts.trades[BTC][:1]})
    assert any("does not have: [2]" in v.detail for v in check_invariants(state, unknown))
    wrong_pnl = dataclasses.replace(facts, income_realized=D(11))
    assert [v.detail[:12] for v in check_invariants(state, wrong_pnl)] == ["realized PnL"]
    wrong_fees = dataclasses.replace(facts, income_commission=D("-1.3"))
    assert [v.detail[:4] for v in check_invariants(state, wrong_fees)] == ["fees"]


async def test_invariant_4_no_orphan_orders() -> None:
    state, facts = await sound_state(), sound_facts()
    flat_eth = dataclasses.replace(facts, open_algos=(stop(), stop(ETH, cid=client_algo_id("e1", Leg.STOP))))
    assert found(state, flat_eth) == {(4, ETH)}
    stray = OpenOrder(BTC, client_order_id("d0", Leg.ENTRY), 7)
    assert found(state, dataclasses.replace(facts, open_orders=(stray,))) == {(4, BTC)}
    mine = OpenOrder(BTC, client_order_id("d1", Leg.REDUCE), 8)
    manual = OpenOrder(BTC, "web_manual_1", 9)
    assert found(state, dataclasses.replace(facts, open_orders=(mine, manual))) == set()
    # A bracket waiting for its working entry may hold its legs before any position exists.
    pending = msgspec.structs.replace(state.brackets[BTC], symbol=ETH, status=BracketStatus.PENDING_ENTRY)
    waiting_state = msgspec.structs.replace(state, brackets={**state.brackets, ETH: pending})
    waiting = dataclasses.replace(flat_eth, open_orders=(OpenOrder(ETH, ENTRY, 10),))
    assert found(waiting_state, waiting) == set()


async def test_invariant_5_the_state_position_is_the_exchange_position() -> None:
    state, facts = await sound_state(), sound_facts()
    assert found(state, dataclasses.replace(facts, positions={BTC: (D("0.02"), D(100000))})) == {(5, BTC)}
    assert found(state, dataclasses.replace(facts, positions={BTC: (D("0.01"), D(100500))})) == {(5, BTC)}
    moved = msgspec.structs.replace(state, positions={BTC: PositionState(symbol=BTC)})
    assert (5, BTC) in found(moved, facts) and (1, BTC) not in found(moved, facts)


def test_converge_polls_until_sound_or_gives_up() -> None:
    answers = [[Violation(1, BTC, "no stop")], [Violation(1, BTC, "no stop")], []]
    left, _ = converge(lambda: answers.pop(0), timeout=5, interval=0.01)
    assert left == [] and answers == []
    stuck, seconds = converge(lambda: [Violation(5, ETH, "apart")], timeout=0.05, interval=0.01)
    assert [v.invariant for v in stuck] == [5] and seconds >= 0.05


async def test_read_state_rebuilds_a_live_directory_read_only(tmp_path: Path) -> None:
    assert read_state(tmp_path / "none") is None
    clock = ManualClock(1000)
    wal = Wal.open(tmp_path / WAL_DIR)
    state = StateManager(clock, wal=wal)
    fills = FillProcessor(state, wal)
    await fills.process(FILLS[0])
    write_snapshot(tmp_path / SNAPSHOT_DIR, state.get_snapshot())
    await fills.process(FILLS[1])
    await wal.sync()
    expected = state.get_snapshot()
    rebuilt = read_state(tmp_path)
    assert rebuilt is not None
    assert (rebuilt.wal_seq, rebuilt.positions, rebuilt.realized_pnl_total) == (
        expected.wal_seq,
        expected.positions,
        expected.realized_pnl_total,
    )
    segment = sorted((tmp_path / WAL_DIR).iterdir())[-1]
    before = segment.read_bytes()
    with segment.open("ab") as f:
        f.write(b'00000000000000ff deadbeef 00000010 {"k":"fi')  # a write cut short by a crash
    torn = read_state(tmp_path)
    assert torn is not None and torn.wal_seq == expected.wal_seq
    assert segment.read_bytes().startswith(before)  # nothing truncated or rewritten: read-only
    await wal.close()


@pytest.mark.parametrize("qty", ["0.01", "-0.01"])
def test_stop_side_follows_the_position(qty: str) -> None:
    side = "SELL" if D(qty) > 0 else "BUY"
    facts = ExchangeFacts(positions={ETH: (D(qty), D(2000))}, open_algos=(stop(ETH, side),))
    state = msgspec.structs.replace(
        StateSnapshot.empty(0), positions={ETH: PositionState(symbol=ETH, qty=D(qty), entry_price=D(2000))}
    )
    assert check_invariants(state, facts) == []
