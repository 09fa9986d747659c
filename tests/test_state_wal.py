"""The write-ahead log: durability order, group commit, torn tails, corruption, rotation and compaction."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import pytest

from state.model import FillRecord, WeightsRecord
from state.wal import Wal, WalClosedError, WalCorruptError, WalFailedError, WalGapError
from state.wal_format import encode_line, parse_line
from tests.state_support import fill


def _rec(i: int) -> WeightsRecord:
    return WeightsRecord(weights={"w": float(i)}, ts=i)


def _segment(wal_dir: Path) -> Path:
    return sorted(wal_dir.glob("wal-*.log"))[-1]


async def test_append_returns_increasing_seqs_and_reads_back(tmp_path):
    wal = Wal.open(tmp_path)
    seqs = [await wal.append(_rec(i)) for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5] and wal.durable_seq == 5
    await wal.append(FillRecord(fill=fill(9)))
    assert [s for s, _ in wal.read_from(0)] == [1, 2, 3, 4, 5, 6]
    assert [r for _, r in wal.read_from(4)] == [_rec(4), FillRecord(fill=fill(9))]
    assert list(wal.read_from(6)) == []
    await wal.close()
    again = Wal.open(tmp_path)
    assert again.next_seq == 7 and [s for s, _ in again.read_from(3)] == [4, 5, 6]
    again.close_sync()


def test_line_format_detects_damage():
    line = encode_line(42, b'{"k":"x"}')
    assert parse_line(line) == (42, b'{"k":"x"}')
    assert parse_line(line[:-1]) is None  # no newline: torn
    assert parse_line(line[:-3] + b"y}\n") is None  # payload changed: CRC
    assert parse_line(line.replace(b"002a", b"002b", 1)) is None  # seq changed: CRC
    assert parse_line(b"garbage\n") is None


async def test_group_commit_batches_concurrent_appends_and_applies_in_order(tmp_path):
    wal = Wal.open(tmp_path)
    applied: list[int] = []
    n = 500
    seqs = await asyncio.gather(*(wal.append(_rec(i), on_durable=applied.append) for i in range(n)))
    assert sorted(seqs) == list(range(1, n + 1))
    assert applied == list(range(1, n + 1))  # on_durable runs in sequence order
    assert wal.stats.records == n and wal.stats.fsyncs < n / 5
    await wal.close()


async def test_on_durable_runs_even_if_the_waiter_is_cancelled(tmp_path):
    wal = Wal.open(tmp_path)
    applied: list[int] = []
    task = asyncio.create_task(wal.append(_rec(1), on_durable=applied.append))
    await asyncio.sleep(0)
    task.cancel()
    await wal.sync()
    assert applied == [1]
    await wal.close()


async def test_on_durable_error_reaches_the_caller_only(tmp_path):
    wal = Wal.open(tmp_path)

    def boom(seq: int) -> None:
        raise RuntimeError("apply failed")

    with pytest.raises(RuntimeError, match="apply failed"):
        await wal.append(_rec(1), on_durable=boom)
    assert await wal.append(_rec(2)) == 2
    await wal.close()


async def test_event_loop_keeps_running_during_a_slow_fsync(tmp_path, monkeypatch):
    import state.wal as wal_module

    def slow_sync(fd: int) -> None:
        time.sleep(0.2)  # a slow disk, on the writer thread
        os.fsync(fd)

    monkeypatch.setattr(wal_module, "datasync", slow_sync)
    wal = Wal.open(tmp_path)
    gaps: list[float] = []
    done = False

    async def ticker() -> None:
        last = time.perf_counter()
        while not done:
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    t = asyncio.create_task(ticker())
    started = time.perf_counter()
    await wal.append(_rec(1))
    done = True
    await t
    assert time.perf_counter() - started >= 0.2  # append waited for the (slow) fsync...
    assert len(gaps) >= 10 and max(gaps) < 0.1  # ...while the loop kept running
    await wal.close()


@pytest.mark.parametrize(
    "tail",
    [
        b"0000000000000004 1234",  # a header cut short
        None,  # the last record cut in the middle
        b"\x00" * 300,  # zeros: the file grew but the data never reached the disk
        b"random garbage without newline",
    ],
)
async def test_torn_last_line_is_ignored_and_truncated(tmp_path, tail):
    wal = Wal.open(tmp_path)
    for i in range(3):
        await wal.append(_rec(i))
    await wal.close()
    seg = _segment(tmp_path)
    good_size = seg.stat().st_size
    with seg.open("ab") as f:
        f.write(encode_line(4, b'{"k":"weights","weights":{},"ts":4}')[:30] if tail is None else tail)
    wal = Wal.open(tmp_path)
    assert seg.stat().st_size == good_size and wal.next_seq == 4
    assert [s for s, _ in wal.read_from(0)] == [1, 2, 3]
    assert await wal.append(_rec(4)) == 4
    await wal.close()
    assert [s for s, _ in Wal.open(tmp_path).read_from(0)] == [1, 2, 3, 4]


async def test_damage_before_later_records_in_the_last_segment_is_cut_and_kept_aside(tmp_path, caplog):
    wal = Wal.open(tmp_path)
    for i in range(5):
        await wal.append(_rec(i))
    await wal.close()
    seg = _segment(tmp_path)
    lines = seg.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"w"', b'"x"')  # record 3 damaged, 4 and 5 intact
    seg.write_bytes(b"".join(lines))
    wal = Wal.open(tmp_path)
    assert [s for s, _ in wal.read_from(0)] == [1, 2] and wal.next_seq == 3
    kept = list(tmp_path.glob("*.torn"))
    assert len(kept) == 1 and kept[0].read_bytes() == b"".join(lines[2:])
    assert "2 valid-looking record(s)" in caplog.text
    wal.close_sync()


async def test_damage_in_an_older_segment_is_corruption(tmp_path):
    wal = Wal.open(tmp_path)
    for i in range(3):
        await wal.append(_rec(i))
    await wal.rotate()
    await wal.append(_rec(3))
    await wal.close()
    first = sorted(tmp_path.glob("wal-*.log"))[0]
    data = bytearray(first.read_bytes())
    data[50] ^= 0x01
    first.write_bytes(bytes(data))
    wal = Wal.open(tmp_path)
    with pytest.raises(WalCorruptError):
        list(wal.read_from(0))
    wal.close_sync()


async def test_rotation_compaction_and_gaps(tmp_path):
    wal = Wal.open(tmp_path)
    for i in range(3):
        await wal.append(_rec(i))
    await wal.rotate()
    await wal.rotate()  # nothing new: no empty segment
    for i in range(3, 6):
        await wal.append(_rec(i))
    await wal.rotate()
    await wal.append(_rec(6))
    names = [p.name for p in wal.segment_paths()]
    assert names == [f"wal-{n:020d}.log" for n in (1, 4, 7)]
    assert await wal.compact(2) == 0  # segment 1..3 still holds record 3
    assert await wal.compact(3) == 1
    assert [s for s, _ in wal.read_from(3)] == [4, 5, 6, 7]
    with pytest.raises(WalGapError):
        list(wal.read_from(1))  # records 2 and 3 are gone
    assert await wal.compact(100) == 1  # the active segment is never deleted
    assert wal.first_seq == 7 and wal.stats.segments_deleted == 2
    await wal.close()


async def test_size_based_rotation(tmp_path):
    wal = Wal.open(tmp_path, segment_bytes=400)
    for i in range(20):
        await wal.append(_rec(i))
    assert len(wal.segment_paths()) > 3
    assert [s for s, _ in wal.read_from(0)] == list(range(1, 21))
    await wal.close()


async def test_floor_keeps_numbers_a_snapshot_covers(tmp_path):
    wal = Wal.open(tmp_path)
    await wal.append(_rec(1))
    await wal.close()
    wal = Wal.open(tmp_path, next_seq_floor=50)  # a snapshot at 49 covers more than this log holds
    assert await wal.append(_rec(2)) == 50
    assert [s for s, _ in wal.read_from(49)] == [50]
    await wal.close()
    empty = tmp_path / "empty"
    wal = Wal.open(empty, next_seq_floor=10)
    assert wal.next_seq == 10 and [p.name for p in wal.segment_paths()] == [f"wal-{10:020d}.log"]
    wal.close_sync()


async def test_write_failure_fails_every_waiter_and_later_appends(tmp_path):
    wal = Wal.open(tmp_path)
    await wal.append(_rec(0))
    os.close(wal._fd)  # the disk goes away under the writer
    wal._fd = os.open(os.devnull, os.O_RDONLY)
    results = await asyncio.gather(*(wal.append(_rec(i)) for i in range(3)), return_exceptions=True)
    assert all(isinstance(r, WalFailedError) for r in results)
    with pytest.raises(WalFailedError, match="restart"):
        await wal.append(_rec(9))
    await wal.close()


async def test_closed_wal_refuses_appends(tmp_path):
    wal = Wal.open(tmp_path)
    await wal.close()
    with pytest.raises(WalClosedError):
        await wal.append(_rec(1))


async def test_throughput_with_many_concurrent_writers(tmp_path):
    wal = Wal.open(tmp_path)
    n = 3000
    t0 = time.perf_counter()
    await asyncio.gather(*(wal.append(FillRecord(fill=fill(i))) for i in range(n)))
    rate = n / (time.perf_counter() - t0)
    assert rate > 500, f"{rate:.0f} records/s"
    await wal.close()
