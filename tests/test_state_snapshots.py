"""Snapshots: atomic checksummed files, fallback past a corrupt or truncated one, pruning, the writer task."""

from __future__ import annotations

import msgspec
import pytest

from core.clock import ManualClock
from core.types import Side
from state.fills import FillProcessor
from state.manager import StateManager
from state.model import StateSnapshot
from state.recovery import recover
from state.snapshots import (
    SnapshotInvalidError,
    SnapshotWriter,
    encode_snapshot,
    list_snapshots,
    load_latest,
    load_snapshot,
    prune_snapshots,
    write_snapshot,
)
from state.wal import Wal
from tests.helpers import eventually
from tests.state_support import BTC, D, fill


def _snap(seq: int, qty: str = "1") -> StateSnapshot:
    from state.model import PositionState

    base = StateSnapshot.empty(1_000)
    return msgspec.structs.replace(
        base, wal_seq=seq, positions={BTC: PositionState(symbol=BTC, qty=D(qty), entry_price=D("100"))}
    )


def test_round_trip_and_newest_first(tmp_path):
    for seq in (3, 10, 7):
        write_snapshot(tmp_path, _snap(seq, str(seq)))
    assert [p.name for p in list_snapshots(tmp_path)] == [f"snap-{n:020d}.json" for n in (10, 7, 3)]
    loaded = load_latest(tmp_path)
    assert loaded is not None and loaded.snapshot == _snap(10, "10") and loaded.skipped == ()
    assert not list(tmp_path.glob(".*.tmp"))


def _damage(path, how: str) -> None:
    data = path.read_bytes()
    if how == "flip":
        i = len(data) - 10
        path.write_bytes(data[:i] + bytes([data[i] ^ 0x20]) + data[i + 1 :])
    elif how == "truncate":
        path.write_bytes(data[: len(data) // 2])
    elif how == "header":
        path.write_bytes(b"not json\n" + data.partition(b"\n")[2])
    elif how == "empty":
        path.write_bytes(b"")


@pytest.mark.parametrize("how", ["flip", "truncate", "header", "empty"])
def test_damaged_newest_snapshot_falls_back_to_the_previous(tmp_path, how, caplog):
    write_snapshot(tmp_path, _snap(1, "1"))
    newest = write_snapshot(tmp_path, _snap(2, "2"))
    _damage(newest, how)
    with pytest.raises(SnapshotInvalidError):
        load_snapshot(newest)
    loaded = load_latest(tmp_path)
    assert loaded is not None and loaded.snapshot.wal_seq == 1 and loaded.snapshot.position(BTC).qty == 1
    assert [p for p, _ in loaded.skipped] == [newest]
    assert "unusable" in caplog.text


def test_unknown_versions_are_refused(tmp_path):
    path = write_snapshot(tmp_path, _snap(1))
    path.write_bytes(encode_snapshot(msgspec.structs.replace(_snap(1), version=99)))
    with pytest.raises(SnapshotInvalidError, match="state version 99"):
        load_snapshot(path)
    head, _, payload = path.read_bytes().partition(b"\n")
    path.write_bytes(head.replace(b'"format":1', b'"format":2') + b"\n" + payload)
    with pytest.raises(SnapshotInvalidError, match="format 2"):
        load_snapshot(path)
    assert load_latest(tmp_path) is None


def test_prune_keeps_the_newest_and_removes_temp_files(tmp_path):
    for seq in range(1, 15):
        write_snapshot(tmp_path, _snap(seq))
    (tmp_path / ".snap-00000000000000000099.json.tmp").write_bytes(b"half")
    kept = prune_snapshots(tmp_path, 10)
    assert [p.name for p in kept] == [f"snap-{n:020d}.json" for n in range(14, 4, -1)]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in kept)


async def test_writer_writes_on_change_keeps_ten_and_compacts_the_wal(tmp_path):
    wal = Wal.open(tmp_path / "wal")
    state = StateManager(ManualClock(0), wal=wal)
    processor = FillProcessor(state, wal)
    writer = SnapshotWriter(state, tmp_path / "snapshots", wal=wal, keep=3)
    assert await writer.write_now() is not None
    assert await writer.write_now() is None  # nothing changed
    for i in range(1, 7):
        await processor.process(fill(i, Side.BUY))
        await writer.write_now()
    names = [p.name for p in list_snapshots(tmp_path / "snapshots")]
    assert names == [f"snap-{n:020d}.json" for n in (6, 5, 4)]
    # Falling back to the oldest kept snapshot (seq 4) must still find records 5 and 6.
    assert [s for s, _ in wal.read_from(4)] == [5, 6] and wal.first_seq <= 5
    assert wal.stats.segments_deleted > 0
    await wal.close()


async def test_corrupt_newest_snapshot_recovers_through_the_wal(tmp_path):
    result = recover(tmp_path, ManualClock(0))
    processor = FillProcessor(result.state, result.wal)
    writer = SnapshotWriter(result.state, result.snapshot_dir, wal=result.wal)
    for i in range(1, 6):
        await processor.process(fill(i, Side.BUY, "0.1"))
        await writer.write_now()
    expected = result.state.get_snapshot()
    await result.close()
    _damage(list_snapshots(result.snapshot_dir)[0], "truncate")
    again = recover(tmp_path, ManualClock(0))
    assert again.snapshot is not None and again.snapshot.wal_seq == 4 and again.replayed == 1
    assert len(again.skipped_snapshots) == 1
    got = again.state.get_snapshot()
    assert got.positions == expected.positions and got.applied_fills == 5 and got.wal_seq == 5
    await again.close()


async def test_run_loop_snapshots_periodically(tmp_path):
    import asyncio

    state = StateManager(ManualClock(0))
    writer = SnapshotWriter(state, tmp_path, interval_s=0.01)
    task = asyncio.create_task(writer.run())
    await eventually(lambda: writer.written >= 1, timeout=5)
    await state.apply_fill(fill(1))
    await eventually(lambda: writer.written >= 2, timeout=5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    loaded = load_latest(tmp_path)
    assert loaded is not None and loaded.snapshot.applied_fills == 1


def test_writer_settings_are_checked(tmp_path):
    with pytest.raises(ValueError):
        SnapshotWriter(StateManager(ManualClock(0)), tmp_path, interval_s=0)
