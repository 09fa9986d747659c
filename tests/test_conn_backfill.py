"""aggTrade gap tracking and backfill: ordering, deduplication, pagination, failures (no sockets)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import ManualClock
from core.events import StreamGap
from core.types import Trade
from exchanges.binance.backfill import GapTracker, TradeSequencer, Verdict
from exchanges.binance.retry import RetryPolicy
from exchanges.errors import RetryableError
from tests.helpers import eventually

FAST = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.002, jitter=0.0)


def trade(trade_id: int, symbol: str = "BTCUSDT") -> Trade:
    return Trade(
        symbol=symbol,
        trade_id=trade_id,
        price=Decimal(100 + trade_id % 7),
        qty=Decimal("0.001") * (trade_id % 5 + 1),
        is_buyer_maker=trade_id % 2 == 0,
        ts=trade_id * 10,
    )


class FakeVenue:
    """aggTrades history by id, with optional failures and a REST view that lags."""

    def __init__(self, last_id: int, *, symbol: str = "BTCUSDT", fail_times: int = 0) -> None:
        self.history = {i: trade(i, symbol) for i in range(1, last_id + 1)}
        self.fail_times = fail_times
        self.calls: list[tuple[str, int | None, int]] = []

    async def agg_trades(self, symbol: str, *, from_id: int | None = None, limit: int = 1000) -> list[Trade]:
        self.calls.append((symbol, from_id, limit))
        await asyncio.sleep(0)
        if self.fail_times > 0:
            self.fail_times -= 1
            raise RetryableError("venue unavailable", status=503, endpoint="GET /fapi/v1/aggTrades")
        start = from_id or 1
        return [self.history[i] for i in range(start, start + limit) if i in self.history]


def test_gap_tracker_verdicts() -> None:
    g = GapTracker()
    assert g.verdict("X", 50) is Verdict.NEXT  # the first id seen starts the tape
    g.mark("X", 50)
    assert g.verdict("X", 51) is Verdict.NEXT
    assert g.verdict("X", 50) is Verdict.DUPLICATE
    assert g.verdict("X", 10) is Verdict.DUPLICATE
    assert g.verdict("X", 53) is Verdict.GAP
    g.mark("X", 40)  # never moves backwards
    assert g.last_id("X") == 50
    assert g.verdict("Y", 1) is Verdict.NEXT and g.last_id("Y") is None


async def test_gap_is_backfilled_in_order_before_held_frames() -> None:
    venue = FakeVenue(30)
    out: list[Trade] = []
    gaps: list[StreamGap] = []
    seq = TradeSequencer(out.append, ManualClock(5), fetch=venue.agg_trades, on_gap=gaps.append, retry=FAST)
    for i in (1, 2, 3, 7, 8, 8, 12, 13):
        seq.on_trade(venue.history[i])
    await eventually(lambda: not seq.busy(), timeout=5)
    assert [t.trade_id for t in out] == list(range(1, 14))
    assert out == [venue.history[i] for i in range(1, 14)]
    assert gaps[0] == StreamGap(symbol="BTCUSDT", first_missing=4, last_missing=6, ts=5)
    # 8, 8, 12, 13 were held behind the backfill, which went up to just below the newest held frame (13) in
    # one REST page; the held copies of 7, 8, 8 and 12 were then duplicates.
    assert seq.backfilled == 9 and seq.gaps_left == 0 and seq.duplicates == 4
    assert len(venue.calls) == 1


async def test_other_symbols_are_not_held() -> None:
    venue = FakeVenue(10)
    out: list[Trade] = []
    gate = asyncio.Event()

    async def slow_fetch(symbol: str, *, from_id: int | None = None, limit: int = 1000) -> list[Trade]:
        await gate.wait()
        return await venue.agg_trades(symbol, from_id=from_id, limit=limit)

    seq = TradeSequencer(out.append, ManualClock(), fetch=slow_fetch, retry=FAST)
    seq.on_trade(trade(1))
    seq.on_trade(trade(5))  # gap: BTCUSDT held
    seq.on_trade(trade(6))
    seq.on_trade(trade(100, "ETHUSDT"))
    assert [(t.symbol, t.trade_id) for t in out] == [("BTCUSDT", 1), ("ETHUSDT", 100)]
    gate.set()
    await eventually(lambda: not seq.busy(), timeout=5)
    assert [t.trade_id for t in out if t.symbol == "BTCUSDT"] == [1, 2, 3, 4, 5, 6]


async def test_pagination_over_a_long_gap() -> None:
    venue = FakeVenue(2600)
    out: list[Trade] = []
    seq = TradeSequencer(out.append, ManualClock(), fetch=venue.agg_trades, retry=FAST, page_limit=1000)
    seq.on_trade(venue.history[1])
    seq.on_trade(venue.history[2600])
    await eventually(lambda: not seq.busy(), timeout=5)
    assert [t.trade_id for t in out] == list(range(1, 2601))
    assert [c[1] for c in venue.calls] == [2, 1002, 2002]
    assert seq.backfilled == 2598


async def test_transient_failures_are_retried() -> None:
    venue = FakeVenue(10, fail_times=2)
    out: list[Trade] = []
    seq = TradeSequencer(out.append, ManualClock(), fetch=venue.agg_trades, retry=FAST)
    seq.on_trade(trade(1))
    seq.on_trade(trade(6))
    await eventually(lambda: not seq.busy(), timeout=5)
    assert [t.trade_id for t in out] == [1, 2, 3, 4, 5, 6]
    assert seq.gaps_left == 0 and len(venue.calls) == 3


async def test_persistent_failure_gives_up_and_counts_gaps_left() -> None:
    venue = FakeVenue(10, fail_times=100)
    out: list[Trade] = []
    seq = TradeSequencer(out.append, ManualClock(), fetch=venue.agg_trades, retry=FAST)
    seq.on_trade(trade(1))
    seq.on_trade(trade(6))
    seq.on_trade(trade(7))
    await eventually(lambda: not seq.busy(), timeout=5)
    assert [t.trade_id for t in out] == [1, 6, 7]  # the tape goes on
    assert seq.gaps_left == 4 and len(venue.calls) == FAST.max_attempts


async def test_without_fetch_gaps_are_counted_and_reported() -> None:
    out: list[Trade] = []
    gaps: list[StreamGap] = []
    seq = TradeSequencer(out.append, ManualClock(), on_gap=gaps.append)
    for i in (1, 2, 5, 5, 4, 9):
        seq.on_trade(trade(i))
    assert [t.trade_id for t in out] == [1, 2, 5, 9]
    assert seq.gaps_left == 2 + 3 and seq.duplicates == 2
    assert [(g.first_missing, g.last_missing) for g in gaps] == [(3, 4), (6, 8)]


async def test_reconnect_backfills_up_to_the_present() -> None:
    venue = FakeVenue(1500)
    out: list[Trade] = []
    seq = TradeSequencer(out.append, ManualClock(), fetch=venue.agg_trades, retry=FAST)
    seq.on_trade(venue.history[1])
    seq.on_reconnect(["BTCUSDT", "ETHUSDT"])  # ETHUSDT never traded: nothing to do for it
    assert seq.busy("BTCUSDT") and not seq.busy("ETHUSDT")
    seq.on_trade(venue.history[1400])  # live frames during the backfill are held, then deduplicated
    seq.on_trade(venue.history[1401])
    await eventually(lambda: not seq.busy(), timeout=5)
    assert [t.trade_id for t in out] == list(range(1, 1402))


async def test_stop_cancels_backfills() -> None:
    gate = asyncio.Event()

    async def never(symbol: str, *, from_id: int | None = None, limit: int = 1000) -> list[Trade]:
        await gate.wait()
        return []

    seq = TradeSequencer(lambda t: None, ManualClock(), fetch=never, retry=FAST)
    seq.on_trade(trade(1))
    seq.on_trade(trade(3))
    assert seq.busy()
    await seq.stop()
    assert not seq.busy()
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("backfill-")]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(["keep", "drop", "dup", "swap"]), min_size=1, max_size=120),
    st.integers(min_value=1, max_value=50),
)
def test_any_lossy_stream_is_repaired(ops: list[str], page_limit: int) -> None:
    """Drops, duplicates and swapped neighbours: the output is always the contiguous history."""
    n = len(ops)
    venue = FakeVenue(n)
    frames: list[Trade] = []
    for i, op in enumerate(ops, start=1):
        if op == "drop" and i not in (1, n):
            continue
        frames.append(venue.history[i])
        if op == "dup":
            frames.append(venue.history[i])
    for j in range(1, len(frames) - 1):
        if ops[min(j, n - 1)] == "swap":
            frames[j], frames[j + 1] = frames[j + 1], frames[j]

    async def run() -> list[Trade]:
        out: list[Trade] = []
        seq = TradeSequencer(
            out.append, ManualClock(), fetch=venue.agg_trades, retry=FAST, page_limit=page_limit
        )
        for f in frames:
            seq.on_trade(f)
            await asyncio.sleep(0)
        await eventually(lambda: not seq.busy(), timeout=5)
        assert seq.gaps_left == 0
        return out

    out = asyncio.run(run())
    first = frames[0].trade_id
    assert [t.trade_id for t in out] == list(range(first, n + 1))


def test_sequencer_requires_a_running_loop_only_for_backfill() -> None:
    out: list[Trade] = []
    seq = TradeSequencer(out.append, ManualClock())
    seq.on_trade(trade(1))
    seq.on_trade(trade(2))
    assert [t.trade_id for t in out] == [1, 2]


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
async def test_trades_of_another_symbol_in_a_page_are_ignored(symbol: str) -> None:
    other = "ETHUSDT" if symbol == "BTCUSDT" else "BTCUSDT"

    async def mixed(sym: str, *, from_id: int | None = None, limit: int = 1000) -> list[Trade]:
        start = from_id or 1
        return [trade(start, other), trade(start, sym), trade(start + 1, sym)]

    out: list[Trade] = []
    seq = TradeSequencer(out.append, ManualClock(), fetch=mixed, retry=FAST)
    seq.on_trade(trade(1, symbol))
    seq.on_trade(trade(4, symbol))
    await eventually(lambda: not seq.busy(), timeout=5)
    assert [(t.symbol, t.trade_id) for t in out] == [(symbol, i) for i in (1, 2, 3, 4)]
