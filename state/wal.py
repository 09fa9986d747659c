"""Write-ahead log: an append-only, checksummed record of every state change, made durable before it applies.

Layout: ``<dir>/wal-<first seq, 20 digits>.log`` segment files. One record per line::

    <seq: 16 hex> <crc32: 8 hex> <payload length: 8 hex> <msgspec JSON payload>\\n

The CRC covers the sequence, the length and the payload. Sequence numbers start at 1 and grow by one with
no gaps inside a segment.

Group commit: :meth:`Wal.submit` numbers and encodes a record on the event loop and queues it; one flusher
task writes everything queued so far with a single ``write`` + ``fdatasync`` on a dedicated writer thread
(the loop never blocks on the disk), then — on the loop, in sequence order — calls each record's
``on_durable`` hook and resolves its future. Records submitted while an fsync is in flight go together in
the next one, so throughput grows with the number of concurrent writers.

Crash safety: a record is acknowledged only after its fsync returned, and every acknowledged byte precedes
every unacknowledged one, so after a crash the valid records are a prefix of the last segment: opening the
log truncates the last segment at its first invalid record (a torn write) — keeping the dropped bytes in a
``.torn`` file beside it when anything that looked valid followed, and saying so in the log. An invalid
record inside an older segment cannot be a torn write and raises :class:`WalCorruptError`.

Rotation and compaction: :meth:`Wal.rotate` starts a new segment (also done when a segment outgrows
``segment_bytes``); :meth:`Wal.compact` deletes whole segments whose records are all covered by a
snapshot. The active segment is never deleted.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from core.logs import get_logger
from state.model import WalRecord
from state.wal_format import (
    PREFIX,
    SUFFIX,
    datasync,
    encode_line,
    fsync_dir,
    parse_line,
    scan_segment,
    segment_name,
    truncate_torn,
)

__all__ = [
    "Wal",
    "WalClosedError",
    "WalCorruptError",
    "WalError",
    "WalFailedError",
    "WalGapError",
    "WalStats",
]

log = get_logger("state.wal")

SEGMENT_BYTES = 16 * 1024 * 1024


class WalError(Exception):
    """Base of the write-ahead log's errors."""


class WalCorruptError(WalError):
    """A record inside the log is damaged (not a torn tail): restore the state directory from a backup or
    start from a fresh one and let reconciliation adopt the exchange's positions."""


class WalGapError(WalError):
    """Records the state needs are missing from the log (a segment was deleted or lost)."""


class WalFailedError(WalError):
    """Writing or syncing the log failed: nothing after this is durable. Stop the session and restart it on
    the same state directory (recovery replays what reached the disk)."""


class WalClosedError(WalError):
    """The log was closed: no more records can be appended."""


class WalStats(msgspec.Struct, kw_only=True):
    """Counters: records and bytes written, fsyncs done (records / fsyncs = the group-commit factor)."""

    records: int = 0
    bytes: int = 0
    fsyncs: int = 0
    rotations: int = 0
    segments_deleted: int = 0


@dataclass(slots=True)
class _Pending:
    seq: int
    line: bytes
    future: asyncio.Future[int]
    on_durable: Callable[[int], object] | None = field(default=None)


class Wal:
    """The write-ahead log of one state directory. Create with :meth:`Wal.open`."""

    def __init__(self, directory: Path, segments: list[tuple[int, Path]], next_seq: int, segment_bytes: int):
        self._dir = directory
        self._segments = segments  # (first seq, path), oldest first; the last one is active
        self._next_seq = next_seq
        self._durable_seq = next_seq - 1
        self._segment_bytes = segment_bytes
        active = segments[-1][1]
        self._fd = os.open(active, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._active_size = os.fstat(self._fd).st_size
        self._active_records = next_seq - segments[-1][0]
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="wal-writer")
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None
        self._io: asyncio.Lock | None = None
        self._failed: BaseException | None = None
        self._closed = False
        self._encoder = msgspec.json.Encoder()
        self.stats = WalStats()

    # -- opening ---------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path, *, next_seq_floor: int = 1, segment_bytes: int = SEGMENT_BYTES) -> Wal:
        """Open (or create) the log in ``directory``, truncating a torn last record.

        ``next_seq_floor``: the next record gets at least this sequence number (recovery passes the
        snapshot's sequence + 1, so a log that lost its files never reuses numbers a snapshot covers).
        """
        directory.mkdir(parents=True, exist_ok=True)
        segments = cls._list(directory)
        next_seq = max(next_seq_floor, 1)
        active_ok = False
        if segments:
            first, path = segments[-1]
            count, first_found, good = scan_segment(path)
            size = path.stat().st_size
            if good < size:
                truncate_torn(path, good, size)
            if count and first_found != first:
                raise WalCorruptError(f"{path.name}: first record is {first_found}, the name says {first}")
            if first + count >= next_seq:
                next_seq, active_ok = first + count, True
            elif count == 0:
                path.unlink()  # an empty segment named below the floor: replace it
                segments.pop()
        if not active_ok:
            path = directory / segment_name(next_seq)
            path.touch()
            fsync_dir(directory)
            segments.append((next_seq, path))
        return cls(directory, segments, next_seq, segment_bytes)

    @staticmethod
    def _list(directory: Path) -> list[tuple[int, Path]]:
        out: list[tuple[int, Path]] = []
        for path in directory.glob(f"{PREFIX}*{SUFFIX}"):
            digits = path.name[len(PREFIX) : -len(SUFFIX)]
            if digits.isdigit():
                out.append((int(digits), path))
        return sorted(out)

    # -- reading ---------------------------------------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        return self._next_seq

    @property
    def durable_seq(self) -> int:
        """The highest sequence number known to be on disk."""
        return self._durable_seq

    @property
    def first_seq(self) -> int:
        """The first sequence number the log still holds (or would hold)."""
        return self._segments[0][0]

    @property
    def directory(self) -> Path:
        return self._dir

    def segment_paths(self) -> list[Path]:
        return [p for _, p in self._segments]

    def read_from(self, after_seq: int) -> Iterator[tuple[int, WalRecord]]:
        """Yield ``(seq, record)`` for every durable record after ``after_seq``, in order.

        Raises :class:`WalGapError` if the first record after ``after_seq`` is not ``after_seq + 1`` or the
        sequence jumps between segments, :class:`WalCorruptError` for a damaged record before the log's end.
        """
        decoder = msgspec.json.Decoder(WalRecord)
        expected = after_seq + 1
        segments = list(self._segments)
        for index, (first, path) in enumerate(segments):
            if index + 1 < len(segments) and segments[index + 1][0] <= expected:
                continue  # every record of this segment is at or before after_seq
            is_last = index == len(segments) - 1
            prev = first - 1
            with path.open("rb") as f:
                for line in f:
                    parsed = parse_line(line)
                    if parsed is None or parsed[0] != prev + 1:
                        if is_last:
                            break  # an in-flight write at the end of the active segment
                        raise WalCorruptError(f"{path.name}: damaged record after seq {prev}")
                    seq, payload = parsed
                    prev = seq
                    if seq < expected:
                        continue
                    if seq != expected:
                        raise WalGapError(f"the log jumps from seq {expected - 1} to {seq} ({path.name})")
                    try:
                        record: WalRecord = decoder.decode(payload)
                    except msgspec.DecodeError as exc:
                        raise WalCorruptError(f"{path.name}: record {seq} does not decode: {exc}") from None
                    expected += 1
                    yield seq, record

    # -- appending -------------------------------------------------------------------------------------------

    def submit(
        self, record: WalRecord, on_durable: Callable[[int], object] | None = None
    ) -> asyncio.Future[int]:
        """Queue ``record``; the future resolves to its sequence number once it is on disk.

        ``on_durable(seq)`` runs on the loop right after the fsync, in sequence order, even if the future's
        waiter was cancelled; an exception it raises is logged and set on the future.
        """
        if self._failed is not None:
            raise WalFailedError(f"the WAL failed earlier ({self._failed!r}); restart to recover")
        if self._closed:
            raise WalClosedError("the WAL is closed")
        loop = asyncio.get_running_loop()
        seq = self._next_seq
        self._next_seq += 1
        line = encode_line(seq, self._encoder.encode(record))
        future: asyncio.Future[int] = loop.create_future()
        self._pending.append(_Pending(seq, line, future, on_durable))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush_loop(), name="wal-flush")
        return future

    async def append(self, record: WalRecord, on_durable: Callable[[int], object] | None = None) -> int:
        """Append ``record`` and return its sequence number once it is durable (group commit)."""
        return await self.submit(record, on_durable)

    async def sync(self) -> None:
        """Wait until every record submitted so far is durable (and applied)."""
        while self._flusher is not None and not self._flusher.done():
            await asyncio.shield(self._flusher)

    def _lock(self) -> asyncio.Lock:
        if self._io is None:
            self._io = asyncio.Lock()
        return self._io

    async def _flush_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            async with self._lock():
                batch, self._pending = self._pending, []
                data = b"".join(p.line for p in batch)
                try:
                    await loop.run_in_executor(self._executor, self._write_sync, data, len(batch))
                except Exception as exc:
                    self._fail(exc, batch)
                    return
            self.stats.records += len(batch)
            self.stats.bytes += len(data)
            self.stats.fsyncs += 1
            self._durable_seq = batch[-1].seq
            for item in batch:
                self._resolve(item)

    def _resolve(self, item: _Pending) -> None:
        if item.on_durable is not None:
            try:
                item.on_durable(item.seq)
            except Exception as exc:
                log.exception("applying WAL record %d failed", item.seq)
                if not item.future.done():
                    item.future.set_exception(exc)
                return
        if not item.future.done():
            item.future.set_result(item.seq)

    def _fail(self, exc: Exception, batch: list[_Pending]) -> None:
        self._failed = exc
        log.error("WAL write failed (%r): the session must stop and recover", exc)
        waiting, self._pending = batch + self._pending, []
        for item in waiting:
            if not item.future.done():
                item.future.set_exception(WalFailedError(f"WAL write failed: {exc!r}"))

    def _write_sync(self, data: bytes, records: int) -> None:
        if self._active_size >= self._segment_bytes and self._active_records:
            self._rotate_sync()
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        datasync(self._fd)
        self._active_size += len(data)
        self._active_records += records

    # -- rotation, compaction, closing -----------------------------------------------------------------------

    def _rotate_sync(self) -> None:
        # Runs on the writer thread between batches: the next record written follows the active segment's.
        first = self._segments[-1][0] + self._active_records
        path = self._dir / segment_name(first)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        fsync_dir(self._dir)
        os.close(self._fd)
        self._fd = fd
        self._segments.append((first, path))
        self._active_size = 0
        self._active_records = 0
        self.stats.rotations += 1

    async def rotate(self) -> None:
        """Start a new segment (if the active one holds any record), so older ones can be compacted."""
        await self.sync()
        async with self._lock():
            if self._active_records:
                await asyncio.get_running_loop().run_in_executor(self._executor, self._rotate_sync)

    async def compact(self, through_seq: int) -> int:
        """Delete segments whose every record is at or below ``through_seq``; returns how many."""
        async with self._lock():
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._compact_sync, through_seq
            )

    def _compact_sync(self, through_seq: int) -> int:
        deleted = 0
        while len(self._segments) > 1 and self._segments[1][0] - 1 <= through_seq:
            _, path = self._segments.pop(0)
            path.unlink(missing_ok=True)
            deleted += 1
        if deleted:
            fsync_dir(self._dir)
            self.stats.segments_deleted += deleted
        return deleted

    async def close(self) -> None:
        """Flush what is queued, then close the file; later appends raise :class:`WalClosedError`."""
        if self._closed:
            return
        await self.sync()
        self._closed = True
        self._executor.shutdown(wait=True)
        os.close(self._fd)

    def close_sync(self) -> None:
        """Close without an event loop (nothing may be queued: use before any append or after ``close``)."""
        if self._closed:
            return
        if self._pending:
            raise WalError("records are still queued: use `await wal.close()`")
        self._closed = True
        self._executor.shutdown(wait=True)
        os.close(self._fd)

    def __repr__(self) -> str:
        return f"Wal({self._dir}, next_seq={self._next_seq}, segments={len(self._segments)})"
