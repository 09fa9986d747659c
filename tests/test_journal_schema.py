"""Journal schema: creation on a new file, pragmas, forward migration of an older file, refusal of newer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from state.journal import Journal
from state.journal_queries import JournalNotFoundError, JournalReader, JournalVersionError
from state.journal_schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    JournalTooNewError,
    configure,
    migrate,
    schema_version,
)

TABLES = {
    "sessions",
    "decisions",
    "decision_reasons",
    "orders",
    "algo_orders",
    "fills",
    "positions",
    "equity",
    "funding",
    "alerts",
    "halts",
}


def _raw(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    configure(conn)
    return conn


def _names(conn: sqlite3.Connection, kind: str) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,)).fetchall()
    return {r[0] for r in rows if not r[0].startswith("sqlite_")}


async def test_open_creates_every_table_at_the_current_version(tmp_path: Path) -> None:
    path = tmp_path / "state" / "journal.sqlite"
    journal = await Journal.open(path)
    await journal.close()
    conn = sqlite3.connect(path)
    try:
        assert _names(conn, "table") == TABLES
        assert schema_version(conn) == SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert "fills_symbol_ts" in _names(conn, "index")
        columns = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(fills)")}
        assert columns["price"] == "TEXT" and columns["ts"] == "INTEGER"
    finally:
        conn.close()


def test_foreign_keys_are_enforced(tmp_path: Path) -> None:
    conn = _raw(tmp_path / "j.sqlite")
    migrate(conn)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO decision_reasons VALUES ('nope', 's', '1m', 1, 0.5, 1.0)")
    conn.close()


async def test_a_v1_file_migrates_forward_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = _raw(path)
    assert migrate(conn, target=1) == 1
    conn.execute(
        "INSERT INTO sessions VALUES"
        " ('old', 1, 2, 'paper', 'acct', '[\"BTCUSDT\"]', '{\"risk\": 1}', 'ended')"
    )
    conn.execute(
        "INSERT INTO fills (session, symbol, trade_id, order_id, client_order_id, side, price, qty,"
        " quote_qty, commission, commission_asset, realized_pnl, maker, ts) VALUES"
        " ('old', 'BTCUSDT', 7, 70, 'c7', 'BUY', '100.10', '0.010', '1.0010', '0.0004004', 'USDT', '0', 0, 5)"
    )
    assert "fills_symbol_ts" not in _names(conn, "index")
    conn.close()

    journal = await Journal.open(path)
    await journal.close()
    with JournalReader.open(path) as reader:
        (session,) = reader.sessions()
        assert (session.session_id, session.symbols, session.config) == ("old", ("BTCUSDT",), {"risk": 1})
        (jf,) = reader.fills()
        assert str(jf.fill.price) == "100.10" and str(jf.fill.qty) == "0.010"
    conn = sqlite3.connect(path)
    assert schema_version(conn) == SCHEMA_VERSION
    assert "fills_symbol_ts" in _names(conn, "index")
    conn.close()


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
def test_every_version_reaches_the_current_one(tmp_path: Path, start: int) -> None:
    conn = _raw(tmp_path / "j.sqlite")
    migrate(conn, target=start)
    assert schema_version(conn) == start
    assert migrate(conn) == SCHEMA_VERSION
    assert _names(conn, "table") == TABLES
    assert migrate(conn) == SCHEMA_VERSION  # idempotent
    conn.close()


def test_a_failing_step_leaves_the_previous_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conn = _raw(tmp_path / "j.sqlite")
    migrate(conn, target=1)
    broken = (MIGRATIONS[0], ("CREATE INDEX ok_index ON fills (ts)", "CREATE INDEX bad ON nowhere (x)"))
    monkeypatch.setattr("state.journal_schema.MIGRATIONS", broken)
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, target=2)
    assert schema_version(conn) == 1
    assert "ok_index" not in _names(conn, "index")
    conn.close()


async def test_a_newer_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    conn = _raw(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(JournalTooNewError):
        await Journal.open(path)
    with pytest.raises(JournalTooNewError):
        JournalReader.open(path)


def test_reader_needs_an_existing_current_file(tmp_path: Path) -> None:
    with pytest.raises(JournalNotFoundError):
        JournalReader.open(tmp_path / "missing.sqlite")
    path = tmp_path / "v1.sqlite"
    conn = _raw(path)
    migrate(conn, target=1)
    conn.close()
    with pytest.raises(JournalVersionError):
        JournalReader.open(path, migrate=False)
    JournalReader.open(path).close()  # migrating is the default
