"""FillProcessor: WAL before state, de-duplication, late fills, order state machine, events, throughput."""

from __future__ import annotations

import asyncio
import time

import msgspec
import pytest

from core.clock import ManualClock
from core.enums import ExecutionType, OrderStatus, OrderType, TimeInForce
from core.events import OrderUpdate
from core.types import Order, Side
from state.fills import FillApplied, FillProcessor, OrderTracker, OrderTransition
from state.manager import StateManager
from state.model import FillRecord
from state.wal import Wal, WalFailedError
from tests.state_support import BTC, D, fill


@pytest.fixture
async def setup(tmp_path):
    wal = Wal.open(tmp_path)
    state = StateManager(ManualClock(0), wal=wal)
    events: list[FillApplied] = []
    yield FillProcessor(state, wal, on_event=events.append), state, wal, events
    await wal.close()


async def test_fill_is_durable_before_it_is_applied(setup):
    processor, state, wal, events = setup
    seen_on_disk: list[bool] = []

    def check(change: object) -> None:
        # When the state changes, the record is already in the WAL file.
        seen_on_disk.append(any(isinstance(r, FillRecord) for _, r in wal.read_from(0)))

    state.subscribe(check)
    assert await processor.process(fill(1))
    assert seen_on_disk == [True]
    assert [(e.fill.trade_id, e.seq) for e in events] == [(1, 1)]
    assert events[0].result.position.qty == D("0.01") and state.wal_seq == 1


async def test_duplicates_are_dropped_before_the_wal(setup):
    processor, state, wal, events = setup
    results = await asyncio.gather(*(processor.process(fill(1)) for _ in range(5)))  # concurrent copies
    assert sorted(results) == [False, False, False, False, True]
    assert not await processor.process(fill(1))  # a later copy
    assert len(list(wal.read_from(0))) == 1 and len(events) == 1
    assert processor.stats.duplicates == 5 and processor.stats.applied == 1
    assert state.get_snapshot().positions[BTC].qty == D("0.01")


async def test_late_new_fill_is_applied_and_watermark_kept(setup, caplog):
    processor, state, _, _ = setup
    assert await processor.process(fill(20, ts=5_000))
    assert await processor.process(fill(19, ts=4_000))
    snap = state.get_snapshot()
    assert snap.positions[BTC].qty == D("0.02") and snap.last_fill_ts[BTC] == 5_000
    assert processor.stats.out_of_order == 1 and "older than the last applied fill" in caplog.text


async def test_beyond_horizon_fill_is_refused(tmp_path, caplog):
    wal = Wal.open(tmp_path)
    state = StateManager(ManualClock(0), wal=wal, dedup_window=2)
    processor = FillProcessor(state, wal)
    for i in (5, 6, 7):
        await processor.process(fill(i))
    assert not await processor.process(fill(3))
    assert processor.stats.beyond_horizon == 1 and "reconcile" in caplog.text
    assert state.get_snapshot().applied_fills == 3
    await wal.close()


async def test_invalid_fill_is_rejected_and_counted(setup, caplog):
    processor, state, wal, _ = setup
    assert not await processor.process(fill(1, price="0"))
    assert processor.stats.rejected == 1 and "fill rejected" in caplog.text
    assert list(wal.read_from(0)) == [] and state.get_snapshot().applied_fills == 0


async def test_wal_failure_leaves_state_untouched_and_allows_retry_after_recovery(setup):
    processor, state, wal, _ = setup
    wal._failed = OSError("disk gone")  # as if an earlier fsync failed
    with pytest.raises(WalFailedError):
        await processor.process(fill(1))
    assert state.get_snapshot().applied_fills == 0
    assert processor._inflight == set()
    wal._failed = None


async def test_cancelled_caller_still_gets_its_fill_applied(setup):
    processor, state, wal, events = setup
    task = asyncio.create_task(processor.process(fill(1)))
    await asyncio.sleep(0)
    task.cancel()
    await wal.sync()
    assert state.get_snapshot().applied_fills == 1 and len(events) == 1
    assert not await processor.process(fill(1))


def _order(status: OrderStatus, executed: str, cid: str = "c1") -> Order:
    return Order(
        symbol=BTC,
        order_id=1,
        client_order_id=cid,
        side=Side.BUY,
        type=OrderType.LIMIT,
        orig_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        orig_qty=D("0.03"),
        price=D("100000"),
        status=status,
        executed_qty=D(executed),
    )


def test_order_tracker_only_moves_forward():
    tracker = OrderTracker(closed_kept=2)
    t = tracker.on_order(_order(OrderStatus.NEW, "0"), 1)
    assert t is not None and t.old is None and t.order.status is OrderStatus.NEW
    t = tracker.on_order(_order(OrderStatus.PARTIALLY_FILLED, "0.01"), 2)
    assert t is not None and t.old is OrderStatus.NEW
    assert tracker.on_order(_order(OrderStatus.NEW, "0"), 3) is None  # late NEW
    assert tracker.on_order(_order(OrderStatus.PARTIALLY_FILLED, "0.01"), 3) is None  # repeated
    assert tracker.on_order(_order(OrderStatus.PARTIALLY_FILLED, "0.02"), 4) is not None
    assert [o.client_order_id for o in tracker.open_orders()] == ["c1"]
    t = tracker.on_order(_order(OrderStatus.FILLED, "0.03"), 5)
    assert t is not None and t.old is OrderStatus.PARTIALLY_FILLED
    assert tracker.on_order(_order(OrderStatus.CANCELED, "0.03"), 6) is None  # closed is final
    assert tracker.open_orders() == ()
    tracker.on_order(_order(OrderStatus.CANCELED, "0", cid="c2"), 7)
    tracker.on_order(_order(OrderStatus.EXPIRED, "0", cid="c3"), 8)
    assert tracker.get("c1") is None and tracker.get("c3") is not None  # closed history is bounded


async def test_order_updates_drive_the_state_machine_and_the_fills(setup):
    processor, state, _, events = setup
    transitions: list[OrderTransition] = []
    processor._on_order = transitions.append
    new = _order(OrderStatus.NEW, "0")
    part = _order(OrderStatus.PARTIALLY_FILLED, "0.01")
    done = _order(OrderStatus.FILLED, "0.03")
    update = processor.process_order_update
    trade = ExecutionType.TRADE
    assert not await update(OrderUpdate(ts=1, order=new, execution_type=ExecutionType.NEW))
    assert await update(OrderUpdate(ts=2, order=part, execution_type=trade, fill=fill(1)))
    f2 = fill(2, qty="0.02")
    assert await update(OrderUpdate(ts=3, order=done, execution_type=trade, fill=f2))
    # The same update again (a replayed frame): no fill applied twice, no transition.
    assert not await update(OrderUpdate(ts=3, order=done, execution_type=trade, fill=f2))
    assert [(t.old, t.order.status) for t in transitions] == [
        (None, OrderStatus.NEW),
        (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED),
        (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED),
    ]
    assert state.get_snapshot().positions[BTC].qty == D("0.03") and len(events) == 2


async def test_a_failing_listener_does_not_lose_the_fill(tmp_path, caplog):
    wal = Wal.open(tmp_path)
    state = StateManager(ManualClock(0), wal=wal)

    def broken(event: FillApplied) -> None:
        raise RuntimeError("listener bug")

    processor = FillProcessor(state, wal, on_event=broken)
    assert await processor.process(fill(1))
    assert state.get_snapshot().applied_fills == 1 and "fill listener failed" in caplog.text
    await wal.close()


async def test_hundreds_of_fills_per_second_with_durability(setup):
    processor, state, wal, _ = setup
    n = 2000
    sides = (Side.BUY, Side.SELL)
    fills = [msgspec.structs.replace(fill(i, sides[i % 2]), ts=1000 + i) for i in range(1, n + 1)]
    t0 = time.perf_counter()
    results = await asyncio.gather(*(processor.process(f) for f in fills))
    rate = n / (time.perf_counter() - t0)
    assert all(results) and state.get_snapshot().applied_fills == n
    assert rate > 500, f"{rate:.0f} fills/s"
    assert wal.stats.fsyncs < n / 10  # group commit


async def test_processor_and_state_must_share_the_wal(tmp_path):
    wal, other = Wal.open(tmp_path / "a"), Wal.open(tmp_path / "b")
    with pytest.raises(ValueError, match="own WAL"):
        FillProcessor(StateManager(ManualClock(0), wal=wal), other)
    wal.close_sync()
    other.close_sync()


async def test_bare_apply_fill_is_logged_when_a_wal_is_attached(setup):
    _, state, wal, _ = setup
    result = await state.apply_fill(fill(1))
    assert result.applied and result.seq == 1
    assert [r for _, r in wal.read_from(0)] == [FillRecord(fill=fill(1))]
