"""Crash recovery: lock the state directory, load the newest valid snapshot, replay the WAL after it.

A state directory holds ``wal/`` (the write-ahead log), ``snapshots/``, ``journal.sqlite3`` (the audit
journal, owned by :mod:`state.journal`) and ``LOCK``. Only one session may use it at a time: the lock is an
``fcntl.flock`` held for the session's life (the kernel drops it if the process dies, so a crash never
leaves a stale lock), and the file names the holder's pid for the error message.

Replay is idempotent: records at or below the snapshot's WAL sequence are skipped, and a fill whose trade id
the state already remembers is not applied twice. Reconciliation with the exchange comes after this step and
is not done here.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path

from core.clock import Clock
from core.logs import get_logger
from state.manager import StateManager
from state.model import StateSnapshot
from state.snapshots import load_latest, write_snapshot
from state.wal import SEGMENT_BYTES, Wal, WalGapError

__all__ = [
    "JOURNAL_FILE",
    "LOCK_FILE",
    "SNAPSHOT_DIR",
    "WAL_DIR",
    "RecoveryError",
    "RecoveryResult",
    "StateDirLock",
    "StateDirLockedError",
    "recover",
]

log = get_logger("state.recovery")

WAL_DIR = "wal"
SNAPSHOT_DIR = "snapshots"
JOURNAL_FILE = "journal.sqlite3"
LOCK_FILE = "LOCK"


class StateDirLockedError(Exception):
    """Another session holds the state directory: stop it, or give this session another ``--state-dir``."""

    def __init__(self, state_dir: Path, holder_pid: int | None) -> None:
        who = f"pid {holder_pid}" if holder_pid is not None else "another process"
        super().__init__(
            f"state directory {state_dir} is in use by {who}; stop that session or use another --state-dir"
        )
        self.state_dir = state_dir
        self.holder_pid = holder_pid


class RecoveryError(Exception):
    """The state cannot be rebuilt (records missing from the WAL): restore the directory from a backup, or
    start on a fresh state directory and let reconciliation adopt the exchange's positions."""


class StateDirLock:
    """An exclusive ``flock`` on ``<state_dir>/LOCK``, released by :meth:`release` or process exit."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_dir: Path) -> StateDirLock:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StateDirLockedError(state_dir, holder) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return cls(path, fd)

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> StateDirLock:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


@dataclass(frozen=True, slots=True)
class RecoveryResult:
    """What :func:`recover` rebuilt: the state (WAL attached), the open WAL and the held lock."""

    snapshot: StateSnapshot | None  # the snapshot it started from (None: replayed from an empty state)
    snapshot_path: Path | None
    skipped_snapshots: tuple[tuple[Path, str], ...]  # newer snapshots that were damaged, with the reason
    replayed: int  # WAL records applied after the snapshot
    state: StateManager
    wal: Wal
    lock: StateDirLock
    seconds: float

    @property
    def snapshot_dir(self) -> Path:
        return self.lock.path.parent / SNAPSHOT_DIR

    @property
    def journal_path(self) -> Path:
        return self.lock.path.parent / JOURNAL_FILE

    async def close(self) -> None:
        """Flush and close the WAL, then release the directory."""
        try:
            await self.wal.close()
        finally:
            self.lock.release()


def recover(state_dir: Path, clock: Clock, *, segment_bytes: int = SEGMENT_BYTES) -> RecoveryResult:
    """Lock ``state_dir``, then rebuild the StateManager from its newest valid snapshot and the WAL.

    Blocking (it reads files): call it before the session starts, or in a thread.
    Raises :class:`StateDirLockedError` or :class:`RecoveryError`.
    """
    started = time.perf_counter()
    lock = StateDirLock.acquire(state_dir)
    try:
        loaded = load_latest(state_dir / SNAPSHOT_DIR)
        base = loaded.snapshot if loaded is not None else None
        base_seq = base.wal_seq if base is not None else 0
        wal = Wal.open(state_dir / WAL_DIR, next_seq_floor=base_seq + 1, segment_bytes=segment_bytes)
        try:
            state = StateManager(clock, initial=base)
            replayed = 0
            for seq, record in wal.read_from(base_seq):
                state.apply_logged(seq, record)
                replayed += 1
        except WalGapError as exc:
            wal.close_sync()
            raise RecoveryError(f"cannot rebuild the state of {state_dir}: {exc}") from None
        except BaseException:
            wal.close_sync()
            raise
        state.attach_wal(wal)
        if loaded is None:
            # Pin what only exists in memory so far (the session start of a brand-new directory).
            write_snapshot(state_dir / SNAPSHOT_DIR, state.get_snapshot())
    except BaseException:
        lock.release()
        raise
    seconds = time.perf_counter() - started
    log.info(
        "state recovered from %s: snapshot seq %d, %d WAL records replayed in %.3f s",
        loaded.path.name if loaded is not None else "no snapshot",
        base_seq,
        replayed,
        seconds,
    )
    return RecoveryResult(
        snapshot=base,
        snapshot_path=loaded.path if loaded is not None else None,
        skipped_snapshots=loaded.skipped if loaded is not None else (),
        replayed=replayed,
        state=state,
        wal=wal,
        lock=lock,
        seconds=seconds,
    )
