"""Snapshots of the StateManager: atomic, versioned, checksummed files; the last few kept.

File ``<dir>/snap-<WAL seq, 20 digits>.json``: one header line, then the payload::

    {"format":1,"seq":1234,"ts":...,"length":N,"sha256":"..."}\\n<msgspec JSON of StateSnapshot>

Writing: temp file, fsync, rename over the final name, fsync the directory — a crash leaves either the old
set of snapshots or the new one, never a half-written file under a final name. Loading picks the newest
file whose header parses, whose payload has the announced length and SHA-256, and whose format and state
version are known; anything else is logged and the previous one is tried.

:class:`SnapshotWriter` writes one every ``interval_s`` seconds (when the state changed), keeps the newest
``keep``, and lets the WAL drop segments that even the oldest kept snapshot covers — so falling back to an
older snapshot still finds every record after it.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import msgspec

from core.logs import get_logger
from state.manager import StateManager
from state.model import STATE_VERSION, StateSnapshot
from state.wal import Wal

__all__ = [
    "SNAPSHOT_FORMAT",
    "LoadedSnapshot",
    "SnapshotHeader",
    "SnapshotInvalidError",
    "SnapshotWriter",
    "list_snapshots",
    "load_latest",
    "load_snapshot",
    "prune_snapshots",
    "write_snapshot",
]

log = get_logger("state.snapshots")

SNAPSHOT_FORMAT = 1
_PREFIX = "snap-"
_SUFFIX = ".json"
_MAX_HEADER = 4096


class SnapshotInvalidError(Exception):
    """A snapshot file is damaged, truncated or of an unknown version: use an older one."""


class SnapshotHeader(msgspec.Struct, frozen=True, kw_only=True):
    format: int
    seq: int
    ts: int
    length: int
    sha256: str


class LoadedSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The snapshot recovery starts from, and the newer files it had to skip (with why)."""

    snapshot: StateSnapshot
    path: Path
    skipped: tuple[tuple[Path, str], ...] = ()


def _name(seq: int) -> str:
    return f"{_PREFIX}{seq:020d}{_SUFFIX}"


def _seq_of(path: Path) -> int | None:
    name = path.name
    if not (name.startswith(_PREFIX) and name.endswith(_SUFFIX)):
        return None
    digits = name[len(_PREFIX) : -len(_SUFFIX)]
    return int(digits) if digits.isdigit() else None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def encode_snapshot(snapshot: StateSnapshot) -> bytes:
    """The file's bytes: header line + payload."""
    payload = msgspec.json.encode(snapshot)
    header = SnapshotHeader(
        format=SNAPSHOT_FORMAT,
        seq=snapshot.wal_seq,
        ts=snapshot.ts,
        length=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
    )
    return msgspec.json.encode(header) + b"\n" + payload


def write_snapshot(directory: Path, snapshot: StateSnapshot) -> Path:
    """Write ``snapshot`` atomically and durably (blocking: call it in a thread from async code)."""
    directory.mkdir(parents=True, exist_ok=True)
    data = encode_snapshot(snapshot)
    final = directory / _name(snapshot.wal_seq)
    tmp = directory / f".{final.name}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, final)
    _fsync_dir(directory)
    return final


def load_snapshot(path: Path) -> StateSnapshot:
    """Read and verify one snapshot file; raises :class:`SnapshotInvalidError` saying what is wrong."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SnapshotInvalidError(f"cannot read: {exc.strerror}") from None
    head, sep, payload = data.partition(b"\n")
    if not sep or len(head) > _MAX_HEADER:
        raise SnapshotInvalidError("no header line")
    try:
        header = msgspec.json.decode(head, type=SnapshotHeader)
    except msgspec.DecodeError as exc:
        raise SnapshotInvalidError(f"bad header: {exc}") from None
    if header.format != SNAPSHOT_FORMAT:
        raise SnapshotInvalidError(f"format {header.format}, this program reads {SNAPSHOT_FORMAT}")
    if len(payload) != header.length:
        raise SnapshotInvalidError(f"truncated: {len(payload)} of {header.length} bytes")
    if hashlib.sha256(payload).hexdigest() != header.sha256:
        raise SnapshotInvalidError("checksum mismatch")
    try:
        snapshot = msgspec.json.decode(payload, type=StateSnapshot)
    except msgspec.DecodeError as exc:
        raise SnapshotInvalidError(f"payload does not decode: {exc}") from None
    if snapshot.version != STATE_VERSION:
        raise SnapshotInvalidError(f"state version {snapshot.version}, this program reads {STATE_VERSION}")
    if snapshot.wal_seq != header.seq:
        raise SnapshotInvalidError(f"header says seq {header.seq}, payload {snapshot.wal_seq}")
    return snapshot


def list_snapshots(directory: Path) -> list[Path]:
    """Snapshot files, newest (highest WAL seq) first."""
    if not directory.is_dir():
        return []
    found = [(seq, p) for p in directory.iterdir() if (seq := _seq_of(p)) is not None]
    return [p for _, p in sorted(found, reverse=True)]


def load_latest(directory: Path) -> LoadedSnapshot | None:
    """The newest valid snapshot (``None`` if there is none); damaged newer ones are logged and skipped."""
    skipped: list[tuple[Path, str]] = []
    for path in list_snapshots(directory):
        try:
            snapshot = load_snapshot(path)
        except SnapshotInvalidError as exc:
            log.error("snapshot %s is unusable (%s): trying the previous one", path.name, exc)
            skipped.append((path, str(exc)))
            continue
        return LoadedSnapshot(snapshot=snapshot, path=path, skipped=tuple(skipped))
    if skipped:
        log.error("no valid snapshot in %s: recovering from the WAL alone", directory)
    return None


def prune_snapshots(directory: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` snapshots (and leftover temp files); returns the kept ones."""
    paths = list_snapshots(directory)
    kept, old = paths[:keep], paths[keep:]
    for path in old:
        path.unlink(missing_ok=True)
    for tmp in directory.glob(f".{_PREFIX}*.tmp"):
        tmp.unlink(missing_ok=True)
    return kept


class SnapshotWriter:
    """Writes a snapshot of ``state`` every ``interval_s`` seconds while :meth:`run` runs.

    Call :meth:`write_now` once more at a clean shutdown (after the last change).
    """

    def __init__(
        self,
        state: StateManager,
        directory: Path,
        *,
        wal: Wal | None = None,
        interval_s: float = 5.0,
        keep: int = 10,
    ) -> None:
        if interval_s <= 0 or keep < 1:
            raise ValueError("interval_s must be positive and keep at least 1")
        self._state = state
        self._dir = directory
        self._wal = wal
        self._interval = interval_s
        self._keep = keep
        self._last: StateSnapshot | None = None
        self._writing = asyncio.Lock()  # run() and a final write_now() must not share the temp file
        self.written = 0

    async def write_now(self) -> Path | None:
        """Write a snapshot if the state changed since the last one; returns its path."""
        async with self._writing:
            snapshot = self._state.get_snapshot()
            if snapshot is self._last:  # the manager hands out the same value until something changes
                return None
            path = await asyncio.to_thread(write_snapshot, self._dir, snapshot)
            self._last = snapshot
            self.written += 1
            kept = await asyncio.to_thread(prune_snapshots, self._dir, self._keep)
            if self._wal is not None:
                oldest = min(seq for p in kept if (seq := _seq_of(p)) is not None)
                await self._wal.rotate()
                await self._wal.compact(oldest)
            return path

    async def run(self) -> None:
        """Snapshot every interval until cancelled. A failed write is logged; the WAL still has everything."""
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.write_now()
            except OSError:
                log.exception("snapshot write failed in %s (state is still safe in the WAL)", self._dir)
