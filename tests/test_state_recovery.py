"""Recovery: snapshot + WAL replay, idempotence, the state-directory lock, and SIGKILL at random moments."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from decimal import Decimal

import msgspec
import pytest

from core.clock import ManualClock
from core.types import Side
from state.fills import FillProcessor
from state.model import Bracket, BracketStatus, Halt
from state.recovery import (
    LOCK_FILE,
    RecoveryError,
    StateDirLock,
    StateDirLockedError,
    recover,
)
from state.snapshots import SnapshotWriter
from tests.helpers import REPO_ROOT
from tests.state_support import BTC, ETH, D, fill


async def test_fresh_directory(tmp_path):
    result = recover(tmp_path / "state", ManualClock(42))
    snap = result.state.get_snapshot()
    assert result.snapshot is None and result.replayed == 0 and snap.positions == {} and snap.ts == 42
    assert (tmp_path / "state" / "wal").is_dir() and (tmp_path / "state" / LOCK_FILE).is_file()
    assert result.journal_path == tmp_path / "state" / "journal.sqlite3"
    await result.close()
    assert not result.lock.held


async def test_every_kind_of_change_survives_a_restart(tmp_path):
    result = recover(tmp_path, ManualClock(0))
    state = result.state
    processor = FillProcessor(state, result.wal)
    await processor.process(fill(1, Side.BUY, "0.5"))
    await processor.process(fill(2, Side.SELL, "0.2", "101000", pnl="200"))
    await processor.process(fill(1, Side.SELL, "1", "2000", symbol=ETH))
    await state.apply_funding(BTC, D("-0.7"), 5_000)
    bracket = Bracket(
        decision_id="d1",
        symbol=BTC,
        side=Side.BUY,
        qty=D("0.3"),
        entry_client_id="e",
        tp_client_id="t",
        sl_client_id="s",
        tp_price=D("102000"),
        sl_price=D("98000"),
        status=BracketStatus.PROTECTED,
        opened_ts=1,
        updated_ts=2,
    )
    await state.put_bracket(bracket)
    await state.add_halt(Halt(kind="drawdown", reason="-10%", since_ts=3))
    await state.set_weights({"rsi": 0.9})
    await state.observe_equity(D("10500"))
    expected = state.get_snapshot()
    await result.close()

    again = recover(tmp_path, ManualClock(99))
    got = again.state.get_snapshot()
    assert again.replayed == 8 and again.snapshot is not None and again.snapshot.wal_seq == 0
    assert msgspec.structs.replace(got, ts=0) == msgspec.structs.replace(expected, ts=0)
    assert got.brackets[BTC] == bracket and got.weights == {"rsi": 0.9} and got.peak_equity == D("10500")
    # The de-duplication memory came back too: a redelivered fill is still a duplicate.
    processor = FillProcessor(again.state, again.wal)
    assert not await processor.process(fill(2, Side.SELL, "0.2", "101000", pnl="200"))
    assert await processor.process(fill(3))
    await again.state.start_session(7)  # numbering continues after the replayed records
    assert again.state.wal_seq == 10 and again.state.get_snapshot().session_start_ts == 7
    await again.close()


async def test_replay_over_a_snapshot_is_idempotent(tmp_path):
    result = recover(tmp_path, ManualClock(0))
    processor = FillProcessor(result.state, result.wal)
    writer = SnapshotWriter(result.state, result.snapshot_dir)  # no WAL compaction: old records stay
    for i in range(1, 4):
        await processor.process(fill(i))
    await writer.write_now()
    await processor.process(fill(4))
    expected = result.state.get_snapshot()
    await result.close()
    again = recover(tmp_path, ManualClock(0))
    assert again.snapshot is not None and again.snapshot.wal_seq == 3 and again.replayed == 1
    got = again.state.get_snapshot()
    assert got.applied_fills == 4 and got.positions == expected.positions
    await again.close()


async def test_two_sessions_refuse_to_share_a_directory(tmp_path):
    first = recover(tmp_path, ManualClock(0))
    with pytest.raises(StateDirLockedError, match=f"in use by pid {os.getpid()}") as info:
        recover(tmp_path, ManualClock(0))
    assert info.value.holder_pid == os.getpid() and "--state-dir" in str(info.value)
    await first.close()
    second = recover(tmp_path, ManualClock(0))
    await second.close()


def test_lock_held_by_another_process(tmp_path):
    code = (
        "import sys, time; from pathlib import Path; from state.recovery import StateDirLock\n"
        "lock = StateDirLock.acquire(Path(sys.argv[1])); print('locked', flush=True); time.sleep(60)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)], cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "locked"
        with pytest.raises(StateDirLockedError, match=f"pid {child.pid}"):
            StateDirLock.acquire(tmp_path)
    finally:
        child.kill()
        child.wait()
    # The kernel released the dead holder's lock: no stale lock file to clean up by hand.
    with StateDirLock.acquire(tmp_path) as lock:
        assert lock.held


async def test_missing_wal_records_stop_recovery(tmp_path):
    result = recover(tmp_path, ManualClock(0), segment_bytes=300)
    processor = FillProcessor(result.state, result.wal)
    for i in range(1, 6):
        await processor.process(fill(i))
    await result.close()
    sorted((tmp_path / "wal").glob("wal-*.log"))[0].unlink()  # lost, and no snapshot covers it
    with pytest.raises(RecoveryError, match="jumps"):
        recover(tmp_path, ManualClock(0))
    # The failed attempt released the directory.
    StateDirLock.acquire(tmp_path).release()


# --- SIGKILL at random moments ----------------------------------------------------------------------------

_CHILD = r"""
import asyncio, sys
from decimal import Decimal
from pathlib import Path
from core.clock import ManualClock
from core.types import Fill, Side
from state.fills import FillProcessor
from state.recovery import recover
from state.snapshots import SnapshotWriter

def make(i):
    side = Side.BUY if i % 3 else Side.SELL
    qty = Decimal(i % 7 + 1) / 1000
    return Fill(symbol="BTCUSDT", trade_id=i, order_id=i, client_order_id=f"c{i}", side=side,
                price=Decimal(100000 + i % 50), qty=qty, quote_qty=qty * (100000 + i % 50),
                commission=Decimal("0.01"), commission_asset="USDT", realized_pnl=Decimal(0),
                is_maker=False, ts=1000 + i)

async def main():
    result = recover(Path(sys.argv[1]), ManualClock(0))
    processor = FillProcessor(result.state, result.wal)
    writer = SnapshotWriter(result.state, result.snapshot_dir, wal=result.wal, interval_s=0.02, keep=3)
    snapshots = asyncio.create_task(writer.run())
    start = max(1, result.state.get_snapshot().applied_fills - 15)  # redeliver some applied fills
    print("START", result.state.get_snapshot().applied_fills, flush=True)
    i = start
    while True:
        batch = [make(j) for j in range(i, i + 1 + i % 9)]
        i += len(batch)
        for f, ok in zip(batch, await asyncio.gather(*(processor.process(f) for f in batch))):
            print("ACK" if ok else "DUP", f.trade_id, flush=True)
        await asyncio.sleep(0)

asyncio.run(main())
"""


def _expected_qty(k: int) -> Decimal:
    return sum(((Decimal(i % 7 + 1) / 1000) * (1 if i % 3 else -1) for i in range(1, k + 1)), Decimal(0))


def _crash_rounds(tmp_path, rounds: int, seed: int) -> None:
    rng = random.Random(seed)
    acked: set[int] = set()
    applied = 0  # fills the last recovery found applied
    for _ in range(rounds):
        child = subprocess.Popen(
            [sys.executable, "-c", _CHILD, str(tmp_path)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert child.stdout is not None
        kill_after = rng.choice([0, 1, rng.randint(2, 60), rng.randint(60, 400)])
        seen, started = 0, False
        deadline = time.monotonic() + 30
        for line in child.stdout:
            kind, _, value = line.strip().partition(" ")
            if kind == "START":
                started = True
                assert int(value) == applied  # the child recovered what we recovered
            elif kind == "ACK":
                acked.add(int(value))
                seen += 1
            elif kind == "DUP":
                assert int(value) <= applied  # only redelivered fills are duplicates
            if seen >= kill_after and kind != "START":
                break
            assert time.monotonic() < deadline, "the child made no progress"
        child.send_signal(signal.SIGKILL)
        child.wait()
        child.stdout.close()
        assert started, "the child did not start"

        result = recover(tmp_path, ManualClock(0))
        snap = result.state.get_snapshot()
        k = applied = snap.applied_fills
        # Every acknowledged fill survived; fills are applied in WAL order, once each: 1..k exactly.
        assert acked <= set(range(1, k + 1)), sorted(acked - set(range(1, k + 1)))[:5]
        assert snap.position(BTC).qty == _expected_qty(k)
        assert snap.last_fill_ts.get(BTC, 1000) == 1000 + k
        assert snap.fees_total == Decimal("0.01") * k
        result.wal.close_sync()
        result.lock.release()


def test_sigkill_at_random_moments_loses_no_acknowledged_fill(tmp_path):
    # Short by default; CASINO_CRASH_ROUNDS=100 (and CASINO_CRASH_SEED) for a long run.
    rounds = int(os.environ.get("CASINO_CRASH_ROUNDS", "6"))
    _crash_rounds(tmp_path, rounds=rounds, seed=int(os.environ.get("CASINO_CRASH_SEED", "1")))
