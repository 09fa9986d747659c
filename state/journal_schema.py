"""The journal's SQLite schema: numbered forward migrations, applied on open.

The version lives in ``PRAGMA user_version``. Each step moves the file from version ``n - 1`` to ``n`` in
one transaction, so a crash during a migration leaves the previous version intact. Steps are never edited
once released: a change to the schema is a new step appended to :data:`MIGRATIONS`.

Decimals are stored as TEXT (their exact ``str``), times as INTEGER milliseconds, booleans as 0/1.
"""

from __future__ import annotations

import sqlite3

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "JournalTooNewError", "configure", "migrate", "schema_version"]

_V1 = (
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        started_ts INTEGER NOT NULL,
        ended_ts INTEGER,
        venue TEXT NOT NULL,
        account TEXT NOT NULL,
        symbols TEXT NOT NULL,
        config TEXT NOT NULL,
        status TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE decisions (
        id TEXT PRIMARY KEY,
        session TEXT REFERENCES sessions(id),
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        conviction REAL NOT NULL,
        reference_price TEXT NOT NULL,
        stop_distance TEXT NOT NULL,
        take_profit_distance TEXT NOT NULL,
        atr TEXT NOT NULL,
        ts INTEGER NOT NULL,
        timeframe TEXT NOT NULL,
        accepted INTEGER NOT NULL,
        risk_reason TEXT NOT NULL,
        risk_detail TEXT NOT NULL,
        qty TEXT NOT NULL,
        notional TEXT NOT NULL,
        leverage INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE decision_reasons (
        decision_id TEXT NOT NULL REFERENCES decisions(id) ON DELETE CASCADE,
        sensor_id TEXT NOT NULL,
        timeframe TEXT NOT NULL,
        direction INTEGER NOT NULL,
        strength REAL NOT NULL,
        weight REAL NOT NULL,
        PRIMARY KEY (decision_id, sensor_id, timeframe)
    )
    """,
    """
    CREATE TABLE orders (
        client_order_id TEXT PRIMARY KEY,
        order_id INTEGER NOT NULL,
        session TEXT REFERENCES sessions(id),
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        type TEXT NOT NULL,
        orig_type TEXT NOT NULL,
        time_in_force TEXT NOT NULL,
        qty TEXT NOT NULL,
        price TEXT NOT NULL,
        stop_price TEXT NOT NULL,
        executed_qty TEXT NOT NULL,
        avg_price TEXT NOT NULL,
        status TEXT NOT NULL,
        reduce_only INTEGER NOT NULL,
        close_position INTEGER NOT NULL,
        decision_id TEXT,
        ts INTEGER NOT NULL,
        update_ts INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE algo_orders (
        client_algo_id TEXT PRIMARY KEY,
        algo_id INTEGER NOT NULL,
        session TEXT REFERENCES sessions(id),
        symbol TEXT NOT NULL,
        side TEXT NOT NULL,
        type TEXT NOT NULL,
        qty TEXT NOT NULL,
        trigger_price TEXT NOT NULL,
        status TEXT NOT NULL,
        close_position INTEGER NOT NULL,
        reduce_only INTEGER NOT NULL,
        actual_order_id TEXT NOT NULL,
        decision_id TEXT,
        ts INTEGER NOT NULL,
        update_ts INTEGER NOT NULL,
        reason TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE fills (
        id INTEGER PRIMARY KEY,
        session TEXT REFERENCES sessions(id),
        symbol TEXT NOT NULL,
        trade_id INTEGER NOT NULL,
        order_id INTEGER NOT NULL,
        client_order_id TEXT NOT NULL,
        side TEXT NOT NULL,
        price TEXT NOT NULL,
        qty TEXT NOT NULL,
        quote_qty TEXT NOT NULL,
        commission TEXT NOT NULL,
        commission_asset TEXT NOT NULL,
        realized_pnl TEXT NOT NULL,
        maker INTEGER NOT NULL,
        ts INTEGER NOT NULL,
        decision_id TEXT,
        UNIQUE (symbol, trade_id)
    )
    """,
    """
    CREATE TABLE positions (
        id INTEGER PRIMARY KEY,
        session TEXT REFERENCES sessions(id),
        symbol TEXT NOT NULL,
        qty TEXT NOT NULL,
        entry_price TEXT NOT NULL,
        mark_price TEXT NOT NULL,
        unrealized_pnl TEXT NOT NULL,
        ts INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE equity (
        id INTEGER PRIMARY KEY,
        session TEXT REFERENCES sessions(id),
        ts INTEGER NOT NULL,
        wallet TEXT NOT NULL,
        unrealized TEXT NOT NULL,
        equity TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE funding (
        id INTEGER PRIMARY KEY,
        session TEXT REFERENCES sessions(id),
        symbol TEXT NOT NULL,
        amount TEXT NOT NULL,
        asset TEXT NOT NULL,
        ts INTEGER NOT NULL,
        UNIQUE (symbol, ts)
    )
    """,
    """
    CREATE TABLE alerts (
        id INTEGER PRIMARY KEY,
        session TEXT REFERENCES sessions(id),
        ts INTEGER NOT NULL,
        level TEXT NOT NULL,
        component TEXT NOT NULL,
        symbol TEXT NOT NULL,
        message TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE halts (
        id INTEGER PRIMARY KEY,
        session TEXT REFERENCES sessions(id),
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        since_ts INTEGER NOT NULL,
        until_ts INTEGER NOT NULL,
        UNIQUE (kind, since_ts)
    )
    """,
)

# Version 2: the indexes the report reads need once a journal holds weeks of samples.
_V2 = (
    "CREATE INDEX fills_symbol_ts ON fills (symbol, ts, trade_id)",
    "CREATE INDEX fills_session ON fills (session)",
    "CREATE INDEX decisions_session_ts ON decisions (session, ts)",
    "CREATE INDEX orders_order_id ON orders (symbol, order_id)",
    "CREATE INDEX algo_orders_actual ON algo_orders (symbol, actual_order_id)",
    "CREATE INDEX positions_session_ts ON positions (session, ts)",
    "CREATE INDEX equity_session_ts ON equity (session, ts)",
    "CREATE INDEX funding_session ON funding (session, ts)",
    "CREATE INDEX alerts_session_ts ON alerts (session, ts)",
)

MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1, _V2)
"""``MIGRATIONS[n - 1]`` holds the statements that move a file from version ``n - 1`` to ``n``."""

SCHEMA_VERSION = len(MIGRATIONS)


class JournalTooNewError(RuntimeError):
    """The file was written by a newer Casino: upgrade Casino to open it (a journal never migrates back)."""


def configure(conn: sqlite3.Connection) -> None:
    """Apply the connection pragmas: WAL journal, NORMAL sync (durable at checkpoints), foreign keys."""
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    # Readers and the writer share the file; wait briefly on a lock instead of failing at once.
    conn.execute("PRAGMA busy_timeout=5000")


def schema_version(conn: sqlite3.Connection) -> int:
    """The version the file is at (0 for a new, empty file)."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, *, target: int = SCHEMA_VERSION) -> int:
    """Apply every step after the file's version up to ``target``; return the version reached.

    ``conn`` must be in autocommit mode (``isolation_level=None``): each step runs in its own explicit
    transaction together with its ``user_version`` bump.
    """
    if not 0 <= target <= SCHEMA_VERSION:
        raise ValueError(f"schema target {target} outside 0..{SCHEMA_VERSION}")
    current = schema_version(conn)
    if current > SCHEMA_VERSION:
        raise JournalTooNewError(
            f"journal schema v{current} is newer than this Casino's v{SCHEMA_VERSION}: upgrade Casino"
        )
    for version in range(current + 1, target + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[version - 1]:
                conn.execute(statement)
            # PRAGMA does not take parameters; version is an int we computed.
            conn.execute(f"PRAGMA user_version = {version:d}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return max(current, target)
