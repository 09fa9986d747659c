"""The state's position math equals the venue's: the sandbox exchange core (in process) against StateManager.

Random order sequences run on ``ExchangeCore``; every fill it reports goes to the StateManager (directly, and
through FillProcessor + WAL + recovery). Afterwards our position (quantity, entry price) must equal the
sandbox's, our realized PnL the sum of the fills' ``realized_pnl``, and our own PnL figure each fill's.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import ManualClock
from core.events import OrderUpdate
from core.types import Fill, Side, TimeInForce
from exchanges.sandbox.engine.events import OrderEvent
from exchanges.sandbox.errors import ExchangeError
from state.fills import FillProcessor
from state.manager import StateManager
from state.model import is_forced_close
from state.recovery import recover
from state.snapshots import SnapshotWriter
from tests.test_engine_support import BTC, KEY, D, Venue, lmt, mkt

TICK = D("0.1")
side_st = st.sampled_from([Side.BUY, Side.SELL])
qty_st = st.integers(min_value=1, max_value=3000).map(lambda n: D(n) / 1000)
op_st = st.one_of(
    st.tuples(st.just("market"), side_st, qty_st, st.booleans()),
    st.tuples(st.just("limit"), side_st, qty_st, st.integers(min_value=-50, max_value=50)),
    st.tuples(st.just("move"), st.integers(min_value=-800, max_value=800), qty_st, st.booleans()),
    st.tuples(st.just("cancel_all")),
    st.tuples(st.just("crash"), st.integers(min_value=-12, max_value=12)),
)


def run_venue(ops: list[tuple[Any, ...]]) -> tuple[Venue, list[OrderEvent]]:
    """Play ``ops`` on a sandbox account; the ORDER_TRADE_UPDATE events it emitted, in order."""
    v = Venue(balance="30000", seed=3)
    price = D("100000.0")
    v.market(str(price))
    events: list[OrderEvent] = []
    for op in ops:
        v.clock.advance(100)
        try:
            if op[0] == "market":
                v.core.new_order(KEY, mkt(op[1], str(op[2]), reduce_only=op[3]))
            elif op[0] == "limit":
                v.core.new_order(KEY, lmt(op[1], str(op[2]), str(price + op[3] * TICK), TimeInForce.GTC))
            elif op[0] == "move":
                price = max(D("1000.0"), price + op[1] * TICK)
                v.quote(str(price), str(price + TICK))
                v.trade(str(price), str(op[2]), buyer_maker=op[3])
            elif op[0] == "cancel_all":
                v.core.cancel_all_orders(KEY, BTC)
            else:  # a violent move: liquidations are fills too
                price = (price * (100 + op[1]) / 100).quantize(TICK)
                v.quote(str(price), str(price + TICK))
                v.trade(str(price), "1")
                v.mark(str(price))
        except ExchangeError:
            pass  # refused commands are part of the game
        v.core.advance(v.clock.now_ms())
        events.extend(e for e in v.core.drain_events() if isinstance(e, OrderEvent))
    return v, events


def fills_of(events: list[OrderEvent]) -> list[Fill]:
    return [e.fill for e in events if e.fill is not None]


def assert_matches_venue(v: Venue, state: StateManager, fills: list[Fill]) -> None:
    venue_pos = v.core.positions(KEY, BTC)[0]
    snap = state.get_snapshot()
    ours = snap.position(BTC)
    assert (ours.qty, ours.entry_price) == (venue_pos.qty, venue_pos.entry_price)
    assert snap.realized_pnl_total == sum((f.realized_pnl for f in fills), D(0))
    assert snap.fees_total == sum((f.commission for f in fills), D(0))
    assert snap.applied_fills == len(fills)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(op_st, min_size=1, max_size=40))
def test_position_and_pnl_equal_the_sandbox(ops: list[tuple[Any, ...]]) -> None:
    v, events = run_venue(ops)
    fills = fills_of(events)
    state = StateManager(ManualClock(v.clock.now_ms()))

    async def feed() -> None:
        for f in fills:
            result = await state.apply_fill(f)
            assert result.applied and result.realized_pnl == f.realized_pnl
            if is_forced_close(f):
                # A liquidation books at most the wallet; the insurance fund takes the rest of the loss.
                assert result.computed_pnl <= f.realized_pnl <= max(result.computed_pnl, D(0))
            else:
                assert result.computed_pnl == f.realized_pnl

    asyncio.run(feed())
    assert_matches_venue(v, state, fills)


async def test_through_fill_processor_wal_and_recovery(tmp_path) -> None:
    ops: list[tuple[Any, ...]] = [
        ("market", Side.BUY, D("0.5"), False),
        ("limit", Side.SELL, D("0.8"), 20),
        ("move", 40, D("2"), False),
        ("market", Side.SELL, D("1.2"), False),
        ("limit", Side.BUY, D("0.3"), -5),
        ("move", -30, D("1"), True),
        ("market", Side.BUY, D("0.4"), True),
        ("crash", 3),
    ]
    v, events = run_venue(ops)
    fills = fills_of(events)
    assert len(fills) >= 5
    clock = ManualClock(v.clock.now_ms())
    result = recover(tmp_path, clock)
    processor = FillProcessor(result.state, result.wal)
    writer = SnapshotWriter(result.state, result.snapshot_dir, wal=result.wal)
    half = len(events) // 2
    for e in events[:half]:
        await processor.process_order_update(
            OrderUpdate(ts=e.ts, order=e.order, execution_type=e.execution_type, fill=e.fill)
        )
    await writer.write_now()
    # The second half arrives concurrently (group commit) and the first half is redelivered (reconnect).
    await asyncio.gather(*(processor.process_order_update(_update(e)) for e in events[half:] + events[:half]))
    assert processor.stats.applied == len(fills) and processor.stats.duplicates == len(
        fills_of(events[:half])
    )
    assert_matches_venue(v, result.state, fills)
    for order in v.core.all_orders(KEY, BTC, limit=1000):
        tracked = processor.orders.get(order.client_order_id)
        assert tracked is not None and tracked.status is order.status, order.client_order_id
    await result.close()

    again = recover(tmp_path, clock)
    assert again.snapshot is not None and again.replayed > 0
    assert again.state.get_snapshot().positions == result.state.get_snapshot().positions
    assert_matches_venue(v, again.state, fills)
    await again.close()


def _update(e: OrderEvent) -> OrderUpdate:
    return OrderUpdate(ts=e.ts, order=e.order, execution_type=e.execution_type, fill=e.fill)
