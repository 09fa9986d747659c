"""The SQLite journal: the audit trail of a session and the source of its reports.

Writes never block the event loop. Every ``record_*`` call turns its argument into SQL statements and puts
them on a queue; one writer thread owns the connection, drains the queue and commits whatever it drained in
one transaction (each record inside its own savepoint, so a bad record is rolled back alone and reported
instead of taking its batch with it). ``await flush()`` returns once everything enqueued before it is
committed; ``await close()`` flushes and stops the thread.

Records with a natural key are idempotent: fills by (symbol, trade id), orders by client order id and algo
orders by client algo id (upserted to their latest update), decisions by id, funding by (symbol, time),
halts by (kind, since). Replaying a session's events after a crash therefore never duplicates a row.

Reads go through :class:`state.journal_queries.JournalReader` on its own connection (WAL lets it read while
the writer writes).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import msgspec

from core.decisions import Decision, RiskVerdict
from core.types import AlgoOrder, Fill, Order, Position
from state import journal_statements as sql
from state.journal_queries import JournalReader
from state.journal_schema import configure, migrate
from state.journal_statements import Statement

__all__ = ["Journal", "JournalClosedError", "JournalStats", "JournalWriteError", "SessionNotStartedError"]

_log = logging.getLogger(__name__)
_MAX_KEPT_FAILURES = 1000


class JournalClosedError(RuntimeError):
    """The journal was closed (or its writer died): open a new :class:`Journal` to record more."""


class SessionNotStartedError(RuntimeError):
    """``end_session`` without a session: call ``start_session`` first."""


class JournalWriteError(RuntimeError):
    """Some records were rolled back by SQLite; their rows are missing from the journal: fix the cause.

    ``failures`` holds one line per record: what it was and the error SQLite gave.
    """

    def __init__(self, failures: Sequence[str]) -> None:
        self.failures = tuple(failures)
        super().__init__(f"{len(self.failures)} journal record(s) failed: " + "; ".join(self.failures[:5]))


class JournalStats(msgspec.Struct, frozen=True, kw_only=True):
    """Writer counters: records enqueued, committed and failed, and transactions committed."""

    enqueued: int
    committed: int
    failed: int
    batches: int

    @property
    def pending(self) -> int:
        return self.enqueued - self.committed - self.failed


@dataclass(frozen=True, slots=True)
class _Record:
    """One ``record_*`` call: applied atomically (all its statements or none)."""

    label: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class _Barrier:
    """A flush waiter, woken once every record queued before it is committed."""

    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[None]


@dataclass(frozen=True, slots=True)
class _Stop:
    """Tells the writer thread to finish."""


_Item = _Record | _Barrier | _Stop


class Journal:
    """Asynchronous, non-blocking writer of the journal at ``path``. Create it with :meth:`open`."""

    def __init__(self, path: Path, *, max_batch: int = 1000, max_pending: int = 50_000) -> None:
        self._path = path
        self._max_batch = max_batch
        self._max_pending = max_pending
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._session: str | None = None
        self._closed = False
        self._lock = threading.Lock()
        self._failures: list[str] = []
        self._enqueued = 0
        self._committed = 0
        self._failed = 0
        self._batches = 0

    @classmethod
    async def open(cls, path: str | Path, *, max_batch: int = 1000, max_pending: int = 50_000) -> Journal:
        """Open (creating or migrating forward) the journal at ``path`` and start its writer thread."""
        journal = cls(Path(path), max_batch=max_batch, max_pending=max_pending)
        ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        journal._thread = threading.Thread(
            target=journal._run, args=(ready,), name=f"journal-writer:{journal._path.name}", daemon=True
        )
        journal._thread.start()
        await asyncio.wrap_future(ready)
        return journal

    @property
    def path(self) -> Path:
        return self._path

    @property
    def session_id(self) -> str | None:
        """The session every record is attributed to (set by :meth:`start_session`)."""
        return self._session

    @property
    def stats(self) -> JournalStats:
        with self._lock:
            return JournalStats(
                enqueued=self._enqueued, committed=self._committed, failed=self._failed, batches=self._batches
            )

    def reader(self) -> JournalReader:
        """A read connection on the same file (blocking: call it, and its queries, in a thread)."""
        return JournalReader.open(self._path, migrate=False)

    # -- lifecycle ------------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Wait until every record enqueued before this call is committed (or failed).

        Raises :class:`JournalWriteError` if records failed since the previous flush.
        """
        self._check_open()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._queue.put(_Barrier(loop, future))
        await future
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            raise JournalWriteError(failures)

    async def close(self) -> None:
        """Flush, stop the writer thread and close the connection. Idempotent."""
        if self._closed:
            return
        try:
            await self.flush()
        finally:
            self._closed = True
            self._queue.put(_Stop())
            if self._thread is not None:
                await asyncio.to_thread(self._thread.join)

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sessions -------------------------------------------------------------------------------------

    async def start_session(
        self,
        session_id: str,
        *,
        started_ts: int,
        venue: str,
        account: str,
        symbols: Iterable[str],
        config: Mapping[str, object] | msgspec.Struct,
    ) -> None:
        """Begin (or resume) a session; every later record is attributed to it.

        ``config`` is stored as JSON; the caller redacts its secrets first.
        """
        self._session = session_id
        await self._put(
            f"session {session_id}",
            sql.start_session(
                session_id,
                started_ts=started_ts,
                venue=venue,
                account=account,
                symbols=symbols,
                config=config,
            ),
        )

    async def end_session(self, *, ended_ts: int, status: str = "ended") -> None:
        """Mark the current session finished (``status`` e.g. "ended", "aborted")."""
        if self._session is None:
            raise SessionNotStartedError("no session to end: call start_session first")
        await self._put(
            f"end session {self._session}",
            sql.end_session(self._session, ended_ts=ended_ts, status=status),
        )

    # -- decisions and orders -------------------------------------------------------------------------

    async def record_decision(self, decision: Decision, verdict: RiskVerdict) -> None:
        """A decision, its reasons and the RiskEngine's verdict (re-recording the same id updates it)."""
        await self._put(f"decision {decision.decision_id}", sql.decision(decision, verdict, self._session))

    async def record_order(self, order: Order, decision_id: str | None = None) -> None:
        """An order's state; the row keeps the latest update (by update time) per client order id."""
        await self._put(f"order {order.client_order_id}", sql.order(order, decision_id, self._session))

    async def record_algo(self, algo: AlgoOrder, decision_id: str | None = None) -> None:
        """A conditional order's state, upserted to its latest update per client algo id."""
        await self._put(f"algo {algo.client_algo_id}", sql.algo_order(algo, decision_id, self._session))

    async def record_fill(self, fill: Fill, decision_id: str | None = None) -> None:
        """A fill, once per (symbol, trade id); a later record may only add the decision it belongs to."""
        await self._put(f"fill {fill.symbol}#{fill.trade_id}", sql.fill(fill, decision_id, self._session))

    # -- account samples ------------------------------------------------------------------------------

    async def record_position(self, position: Position, *, ts: int | None = None) -> None:
        """A position snapshot (``ts`` defaults to the position's update time)."""
        when = position.update_time if ts is None else ts
        await self._put(f"position {position.symbol}", sql.position(position, when, self._session))

    async def record_equity(self, *, ts: int, wallet: Decimal, unrealized: Decimal) -> None:
        """An equity sample: wallet balance, unrealized PnL and their sum."""
        await self._put("equity", sql.equity(ts, wallet, unrealized, self._session))

    async def record_funding(self, symbol: str, amount: Decimal, ts: int, *, asset: str = "USDT") -> None:
        """A funding payment (positive received, negative paid); once per (symbol, funding time)."""
        await self._put(f"funding {symbol}@{ts}", sql.funding(symbol, amount, ts, asset, self._session))

    async def record_alert(
        self, *, ts: int, level: str, component: str, message: str, symbol: str = ""
    ) -> None:
        """An operator-facing alert (level e.g. "warning", "critical")."""
        await self._put(
            f"alert {component}", sql.alert(ts, level, component, symbol, message, session=self._session)
        )

    async def record_halt(self, *, kind: str, reason: str, since_ts: int, until_ts: int = 0) -> None:
        """A trading halt; re-recording the same (kind, since) updates its reason and end (0 = open)."""
        await self._put(f"halt {kind}@{since_ts}", sql.halt(kind, reason, since_ts, until_ts, self._session))

    # -- queue ------------------------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise JournalClosedError(f"journal {self._path} is closed: open a new Journal to record more")
        if self._thread is None or not self._thread.is_alive():
            raise JournalClosedError(f"journal writer for {self._path} is not running: reopen the journal")

    async def _put(self, label: str, statements: tuple[Statement, ...]) -> None:
        self._check_open()
        with self._lock:
            self._enqueued += 1
            backlog = self._enqueued - self._committed - self._failed
        self._queue.put(_Record(label, statements))
        # Backpressure: a writer far behind makes producers wait for it rather than grow memory unbounded.
        if backlog > self._max_pending:
            await self.flush()

    # -- writer thread ----------------------------------------------------------------------------------

    def _run(self, ready: concurrent.futures.Future[None]) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, isolation_level=None)
        except BaseException as exc:
            ready.set_exception(exc)
            return
        try:
            configure(conn)
            migrate(conn)
        except BaseException as exc:
            conn.close()
            ready.set_exception(exc)
            return
        ready.set_result(None)
        try:
            self._drain(conn)
        finally:
            conn.close()

    def _drain(self, conn: sqlite3.Connection) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            while len(items) < self._max_batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            records = [i for i in items if isinstance(i, _Record)]
            if records:
                try:
                    self._commit(conn, records)
                except Exception as exc:
                    # Not an SQL error (or the rollback failed): the batch is lost, the writer carries on.
                    _rollback_quietly(conn)
                    self._count(records, [f"{r.label}: {exc!r}" for r in records])
            for item in items:
                if isinstance(item, _Barrier):
                    _resolve(item)
                elif isinstance(item, _Stop):
                    stop = True

    def _commit(self, conn: sqlite3.Connection, records: list[_Record]) -> None:
        """Commit ``records`` in one transaction; a failing record rolls back to its savepoint alone."""
        failures: list[str] = []
        try:
            conn.execute("BEGIN")
            for record in records:
                conn.execute("SAVEPOINT record")
                try:
                    self._apply(conn, record)
                except sqlite3.Error as exc:
                    conn.execute("ROLLBACK TO record")
                    failures.append(f"{record.label}: {exc}")
                conn.execute("RELEASE record")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # The transaction itself failed (disk full, I/O error): nothing of this batch was kept.
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failures = [f"{r.label}: {exc}" for r in records]
        self._count(records, failures)

    def _count(self, records: list[_Record], failures: list[str]) -> None:
        for failure in failures:
            _log.error("journal record failed: %s", failure)
        with self._lock:
            # Keep the latest messages only: ``failed`` counts them all if nobody flushes for a while.
            self._failures = [*self._failures, *failures][-_MAX_KEPT_FAILURES:]
            self._failed += len(failures)
            self._committed += len(records) - len(failures)
            self._batches += 1

    def _apply(self, conn: sqlite3.Connection, record: _Record) -> None:
        """Execute one record's statements (inside the batch transaction)."""
        for text, params in record.statements:
            conn.execute(text, params)


def _rollback_quietly(conn: sqlite3.Connection) -> None:
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        # The connection is unusable; the next batch's BEGIN will fail and be reported the same way.
        _log.error("journal rollback failed: %s", exc)


def _resolve(barrier: _Barrier) -> None:
    def done() -> None:
        if not barrier.future.done():
            barrier.future.set_result(None)

    try:
        barrier.loop.call_soon_threadsafe(done)
    except RuntimeError:
        # The waiting loop was closed meanwhile: nobody is left to wake.
        _log.debug("journal flush waiter's loop is closed")
