"""Reads of the journal for reports: synchronous, on their own connection (run them in a thread).

SQLite's WAL mode lets this connection read while the writer thread commits; it only ever sees whole
committed batches, and each composite read (trades, totals, decisions) runs on one consistent snapshot.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from core.decisions import Reason
from core.types import ZERO
from state.journal_records import (
    EquitySample,
    FundingPayment,
    JournalAlert,
    JournalAlgoOrder,
    JournalDecision,
    JournalFill,
    JournalHalt,
    JournalOrder,
    JournalSession,
    JournalTotals,
    JournalTrade,
    PositionSample,
)
from state.journal_rows import (
    Row,
    algo_row,
    dec,
    decision_row,
    fill_row,
    integer,
    opt_text,
    order_row,
    reason_row,
    session_row,
    text,
)
from state.journal_schema import SCHEMA_VERSION, configure, schema_version
from state.journal_schema import migrate as migrate_schema
from state.journal_trades import reconstruct_trades

__all__ = ["JournalNotFoundError", "JournalReader", "JournalVersionError"]

T = TypeVar("T")


class JournalNotFoundError(FileNotFoundError):
    """No journal at this path: check ``--state-dir`` (or the session id) given to the report."""


class JournalVersionError(RuntimeError):
    """The journal's schema is not this Casino's: open it with ``migrate=True`` (or upgrade Casino)."""


_FILL_SELECT = """
    SELECT f.session, f.symbol, f.trade_id, f.order_id, f.client_order_id, f.side, f.price, f.qty,
           f.quote_qty, f.commission, f.commission_asset, f.realized_pnl, f.maker, f.ts,
           COALESCE(
               f.decision_id,
               (SELECT a.decision_id FROM algo_orders a
                 WHERE a.symbol = f.symbol AND a.actual_order_id = CAST(f.order_id AS TEXT) LIMIT 1),
               (SELECT o.decision_id FROM orders o
                 WHERE o.client_order_id = f.client_order_id AND o.symbol = f.symbol)
           ),
           COALESCE(
               (SELECT a.type FROM algo_orders a
                 WHERE a.symbol = f.symbol AND a.actual_order_id = CAST(f.order_id AS TEXT) LIMIT 1),
               (SELECT o.type FROM orders o
                 WHERE o.client_order_id = f.client_order_id AND o.symbol = f.symbol),
               ''
           )
      FROM fills f
"""


def _where_session(session: str | None, column: str = "session") -> tuple[str, tuple[object, ...]]:
    return ("", ()) if session is None else (f" WHERE {column} = ?", (session,))


class JournalReader:
    """Read-only view of a journal file. Thread-safe: queries are serialized on one connection."""

    def __init__(self, conn: sqlite3.Connection, path: Path) -> None:
        self._conn = conn
        self._path = path
        self._lock = threading.RLock()
        self._depth = 0

    @classmethod
    def open(cls, path: str | Path, *, migrate: bool = True) -> JournalReader:
        """Open the journal at ``path``; with ``migrate`` an older schema is first brought forward."""
        file = Path(path)
        if not file.is_file():
            raise JournalNotFoundError(f"no journal at {file}")
        conn = sqlite3.connect(file, isolation_level=None, check_same_thread=False)
        try:
            configure(conn)
            if migrate:
                migrate_schema(conn)
            version = schema_version(conn)
            if version != SCHEMA_VERSION:
                raise JournalVersionError(
                    f"journal {file} is at schema v{version}, expected v{SCHEMA_VERSION}"
                )
            conn.execute("PRAGMA query_only=ON")
        except BaseException:
            conn.close()
            raise
        return cls(conn, file)

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> JournalReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Run several reads on one consistent snapshot of the file (reentrant)."""
        with self._lock:
            if self._depth == 0:
                self._conn.execute("BEGIN")
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self._conn.execute("COMMIT")

    def _rows(self, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
        with self._lock:
            return [tuple(r) for r in self._conn.execute(sql, params).fetchall()]

    def _map(self, convert: Callable[[Row], T], sql: str, params: tuple[object, ...] = ()) -> tuple[T, ...]:
        return tuple(convert(r) for r in self._rows(sql, params))

    # -- sessions ---------------------------------------------------------------------------------------

    def sessions(self) -> tuple[JournalSession, ...]:
        """Every session, oldest first."""
        return self._map(
            session_row,
            "SELECT id, started_ts, ended_ts, venue, account, symbols, config, status FROM sessions"
            " ORDER BY started_ts, id",
        )

    def session(self, session_id: str) -> JournalSession | None:
        found = self._map(
            session_row,
            "SELECT id, started_ts, ended_ts, venue, account, symbols, config, status FROM sessions"
            " WHERE id = ?",
            (session_id,),
        )
        return found[0] if found else None

    def latest_session(self) -> JournalSession | None:
        found = self.sessions()
        return found[-1] if found else None

    # -- decisions, orders, fills ---------------------------------------------------------------------

    def decisions(self, session: str | None = None) -> tuple[JournalDecision, ...]:
        """Decisions (accepted or not) with their reasons and verdicts, in time order."""
        where, params = _where_session(session)
        with self.snapshot():
            rows = self._rows(
                "SELECT id, session, symbol, side, conviction, reference_price, stop_distance,"
                " take_profit_distance, atr, ts, timeframe, accepted, risk_reason, risk_detail, qty,"
                f" notional, leverage FROM decisions{where} ORDER BY ts, id",
                params,
            )
            reason_rows = self._rows(
                "SELECT decision_id, sensor_id, timeframe, direction, strength, weight FROM decision_reasons"
                " ORDER BY rowid"
            )
        reasons: dict[str, list[Reason]] = {}
        for r in reason_rows:
            reasons.setdefault(text(r[0]), []).append(reason_row(r[1:]))
        return tuple(decision_row(r, tuple(reasons.get(text(r[0]), ()))) for r in rows)

    def fills(self, session: str | None = None, symbol: str | None = None) -> tuple[JournalFill, ...]:
        """Fills in execution order, each with the decision and order origin the journal links to it."""
        clauses, params = [], []
        if session is not None:
            clauses.append("f.session = ?")
            params.append(session)
        if symbol is not None:
            clauses.append("f.symbol = ?")
            params.append(symbol)
        where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
        return self._map(
            fill_row, f"{_FILL_SELECT}{where} ORDER BY f.ts, f.symbol, f.trade_id", tuple(params)
        )

    def orders(self, session: str | None = None) -> tuple[JournalOrder, ...]:
        where, params = _where_session(session)
        return self._map(
            order_row,
            "SELECT client_order_id, order_id, session, symbol, side, type, orig_type, time_in_force, qty,"
            " price, stop_price, executed_qty, avg_price, status, reduce_only, close_position, decision_id,"
            f" ts, update_ts FROM orders{where} ORDER BY ts, client_order_id",
            params,
        )

    def algo_orders(self, session: str | None = None) -> tuple[JournalAlgoOrder, ...]:
        where, params = _where_session(session)
        return self._map(
            algo_row,
            "SELECT client_algo_id, algo_id, session, symbol, side, type, qty, trigger_price, status,"
            " close_position, reduce_only, actual_order_id, decision_id, ts, update_ts, reason"
            f" FROM algo_orders{where} ORDER BY ts, client_algo_id",
            params,
        )

    # -- samples ----------------------------------------------------------------------------------------

    def positions(self, session: str | None = None) -> tuple[PositionSample, ...]:
        where, params = _where_session(session)
        return self._map(
            lambda r: PositionSample(
                session=opt_text(r[0]),
                symbol=text(r[1]),
                qty=dec(r[2]),
                entry_price=dec(r[3]),
                mark_price=dec(r[4]),
                unrealized_pnl=dec(r[5]),
                ts=integer(r[6]),
            ),
            "SELECT session, symbol, qty, entry_price, mark_price, unrealized_pnl, ts"
            f" FROM positions{where} ORDER BY ts, id",
            params,
        )

    def equity(self, session: str | None = None) -> tuple[EquitySample, ...]:
        """The equity curve, in time order."""
        where, params = _where_session(session)
        return self._map(
            lambda r: EquitySample(
                session=opt_text(r[0]),
                ts=integer(r[1]),
                wallet=dec(r[2]),
                unrealized=dec(r[3]),
                equity=dec(r[4]),
            ),
            f"SELECT session, ts, wallet, unrealized, equity FROM equity{where} ORDER BY ts, id",
            params,
        )

    def funding(self, session: str | None = None) -> tuple[FundingPayment, ...]:
        where, params = _where_session(session)
        return self._map(
            lambda r: FundingPayment(
                session=opt_text(r[0]),
                symbol=text(r[1]),
                amount=dec(r[2]),
                asset=text(r[3]),
                ts=integer(r[4]),
            ),
            f"SELECT session, symbol, amount, asset, ts FROM funding{where} ORDER BY ts, symbol",
            params,
        )

    def alerts(self, session: str | None = None) -> tuple[JournalAlert, ...]:
        where, params = _where_session(session)
        return self._map(
            lambda r: JournalAlert(
                session=opt_text(r[0]),
                ts=integer(r[1]),
                level=text(r[2]),
                component=text(r[3]),
                symbol=text(r[4]),
                message=text(r[5]),
            ),
            f"SELECT session, ts, level, component, symbol, message FROM alerts{where} ORDER BY ts, id",
            params,
        )

    def halts(self, session: str | None = None) -> tuple[JournalHalt, ...]:
        where, params = _where_session(session)
        return self._map(
            lambda r: JournalHalt(
                session=opt_text(r[0]),
                kind=text(r[1]),
                reason=text(r[2]),
                since_ts=integer(r[3]),
                until_ts=integer(r[4]),
            ),
            f"SELECT session, kind, reason, since_ts, until_ts FROM halts{where} ORDER BY since_ts, id",
            params,
        )

    # -- derived ----------------------------------------------------------------------------------------

    def totals(self, session: str | None = None) -> JournalTotals:
        """The wallet change from the session's fills and funding (all sessions when ``None``)."""
        with self.snapshot():
            fills = [jf.fill for jf in self.fills(session)]
            payments = self.funding(session)
        realized = sum((f.realized_pnl for f in fills), ZERO)
        fees = sum((f.commission for f in fills), ZERO)
        funding = sum((p.amount for p in payments), ZERO)
        return JournalTotals(
            fills=len(fills),
            volume=sum((abs(f.quote_qty) for f in fills), ZERO),
            realized_pnl=realized,
            fees=fees,
            funding=funding,
            net_pnl=realized - fees + funding,
        )

    def trades(self, session: str | None = None) -> tuple[JournalTrade, ...]:
        """Round-trip trades; with ``session``, those with at least one fill in it.

        Trades are rebuilt from every journaled fill, so a position opened before a restart and closed
        after it is one trade, listed under both sessions.
        """
        with self.snapshot():
            decisions = {jd.decision.decision_id: jd for jd in self.decisions()}
            fills = self.fills()
            payments = self.funding()
        trades = reconstruct_trades(fills, payments, decisions)
        if session is None:
            return trades
        return tuple(t for t in trades if session in t.sessions)
