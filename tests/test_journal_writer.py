"""Journal writer: round trips of every record, idempotency, failures reported, loop never blocked."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from core.enums import AlgoStatus, OrderStatus, Side
from core.types import Position
from state.journal import Journal, JournalClosedError, JournalWriteError, SessionNotStartedError
from state.journal_queries import JournalReader
from tests.journal_support import algo, decision, fill, order, verdict

D = Decimal


@pytest.fixture
async def journal(tmp_path: Path):
    j = await Journal.open(tmp_path / "journal.sqlite")
    await j.start_session(
        "s1",
        started_ts=1,
        venue="paper",
        account="sandbox",
        symbols=["BTCUSDT"],
        config={"risk": {"max": "0.01"}},
    )
    yield j
    await j.close()


async def _read(j: Journal, what: str, *args: object) -> Any:
    def run() -> Any:
        with j.reader() as reader:
            return getattr(reader, what)(*args)

    return await asyncio.to_thread(run)


async def test_every_record_round_trips_exactly(journal: Journal) -> None:
    d = decision()
    await journal.record_decision(d, verdict(qty="0.010"))
    await journal.record_order(order("c1", order_id=11), decision_id=d.decision_id)
    await journal.record_algo(algo("tp1"), decision_id=d.decision_id)
    await journal.record_fill(fill(1, Side.BUY, "100.10", "0.010", 1500, order_id=11, client_id="c1"))
    pos = Position(
        symbol="BTCUSDT",
        qty=D("0.010"),
        entry_price=D("100.10"),
        mark_price=D("100.2"),
        unrealized_pnl=D("0.001"),
        update_time=1600,
    )
    await journal.record_position(pos)
    await journal.record_equity(ts=1700, wallet=D("1000.00000000"), unrealized=D("0.001"))
    await journal.record_funding("BTCUSDT", D("-0.00012345"), 1800)
    await journal.record_alert(
        ts=1900, level="warning", component="risk", message="close to limit", symbol="BTCUSDT"
    )
    await journal.record_halt(kind="daily_loss", reason="-3%", since_ts=2000)
    await journal.end_session(ended_ts=3000)
    await journal.flush()

    (session,) = await _read(journal, "sessions")
    assert (session.session_id, session.ended_ts, session.status) == ("s1", 3000, "ended")
    assert session.config == {"risk": {"max": "0.01"}}
    (jd,) = await _read(journal, "decisions", "s1")
    assert jd.decision == d
    assert jd.verdict == verdict(qty="0.010")
    (jo,) = await _read(journal, "orders", "s1")
    assert (jo.client_order_id, jo.order_id, jo.decision_id, jo.qty) == ("c1", 11, d.decision_id, D("0.010"))
    (ja,) = await _read(journal, "algo_orders", "s1")
    assert (ja.type, ja.trigger_price, ja.reduce_only) == ("TAKE_PROFIT_MARKET", D("105.0"), True)
    (jf,) = await _read(journal, "fills", "s1")
    assert jf.fill == fill(1, Side.BUY, "100.10", "0.010", 1500, order_id=11, client_id="c1")
    assert str(jf.fill.price) == "100.10"  # trailing zeros kept: stored as the exact string
    assert jf.decision_id == d.decision_id  # through the order it executed
    (p,) = await _read(journal, "positions", "s1")
    assert (p.qty, p.entry_price, p.ts) == (D("0.010"), D("100.10"), 1600)
    (e,) = await _read(journal, "equity", "s1")
    assert (e.wallet, e.equity) == (D("1000.00000000"), D("1000.00100000"))
    (f,) = await _read(journal, "funding", "s1")
    assert (f.amount, f.ts) == (D("-0.00012345"), 1800)
    (a,) = await _read(journal, "alerts", "s1")
    assert (a.level, a.symbol, a.message) == ("warning", "BTCUSDT", "close to limit")
    (h,) = await _read(journal, "halts", "s1")
    assert (h.kind, h.until_ts) == ("daily_loss", 0)
    assert msgspec.json.encode(jd)  # every record encodes for report.json


async def test_natural_keys_make_records_idempotent(journal: Journal) -> None:
    f = fill(5, Side.SELL, "99.5", "0.002", 1000)
    for _ in range(3):
        await journal.record_fill(f)
    await journal.record_fill(f, decision_id="D1")  # a later record may add the decision...
    await journal.record_fill(f, decision_id="D2")  # ...but never replace it
    await journal.record_order(order("c1", status=OrderStatus.NEW, update_time=1000))
    await journal.record_order(order("c1", status=OrderStatus.FILLED, update_time=3000, executed="0.010"))
    await journal.record_order(order("c1", status=OrderStatus.PARTIALLY_FILLED, update_time=2000))  # stale
    await journal.record_algo(algo("sl", status=AlgoStatus.NEW, update_time=1000), decision_id="D1")
    await journal.record_algo(algo("sl", status=AlgoStatus.FINISHED, actual_order_id="42", update_time=4000))
    await journal.record_funding("BTCUSDT", D("-1"), 8000)
    await journal.record_funding("BTCUSDT", D("-1"), 8000)
    await journal.record_halt(kind="ban", reason="418", since_ts=10)
    await journal.record_halt(kind="ban", reason="418", since_ts=10, until_ts=99)
    d = decision(reasons=3)
    await journal.record_decision(d, verdict())
    await journal.record_decision(msgspec.structs.replace(d, reasons=d.reasons[:1]), verdict(accepted=False))
    await journal.flush()

    (jf,) = await _read(journal, "fills")
    assert jf.decision_id == "D1"
    (jo,) = await _read(journal, "orders")
    assert (jo.status, jo.executed_qty, jo.update_ts) == ("FILLED", D("0.010"), 3000)
    (ja,) = await _read(journal, "algo_orders")
    assert (ja.status, ja.actual_order_id, ja.decision_id) == ("FINISHED", "42", "D1")
    assert len(await _read(journal, "funding")) == 1
    (h,) = await _read(journal, "halts")
    assert h.until_ts == 99
    (jd,) = await _read(journal, "decisions")
    assert (jd.verdict.accepted, jd.verdict.reason, len(jd.decision.reasons)) == (False, "max_positions", 1)


async def test_a_failing_record_is_reported_and_rolled_back_alone(journal: Journal) -> None:
    await journal.flush()
    conn = sqlite3.connect(journal.path)
    conn.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON alerts WHEN NEW.message = 'bad'"
        " BEGIN SELECT RAISE(ABORT, 'refused by test'); END"
    )
    conn.commit()
    conn.close()
    for message in ("one", "bad", "two"):
        await journal.record_alert(ts=1, level="info", component="test", message=message)
    with pytest.raises(JournalWriteError) as caught:
        await journal.flush()
    assert len(caught.value.failures) == 1 and "refused by test" in caught.value.failures[0]
    assert [a.message for a in await _read(journal, "alerts")] == ["one", "two"]
    assert journal.stats.failed == 1
    await journal.flush()  # failures are reported once


async def test_closed_journal_refuses_records(tmp_path: Path) -> None:
    j = await Journal.open(tmp_path / "j.sqlite")
    with pytest.raises(SessionNotStartedError):
        await j.end_session(ended_ts=1)
    await j.record_alert(ts=1, level="info", component="c", message="m")
    await j.close()
    await j.close()
    with pytest.raises(JournalClosedError):
        await j.record_alert(ts=2, level="info", component="c", message="m")
    with JournalReader.open(j.path) as reader:
        assert len(reader.alerts()) == 1  # close flushed what was queued
        assert reader.alerts()[0].session is None  # recorded before any session


async def test_many_writes_while_reading_in_a_thread(journal: Journal) -> None:
    total = 5000
    stop = threading.Event()
    seen: list[int] = []

    def reader_loop() -> None:
        with journal.reader() as reader:
            while not stop.is_set():
                fills = reader.fills()
                # Batches commit whole: the trade ids read are always a prefix 1..n.
                assert [jf.fill.trade_id for jf in fills] == list(range(1, len(fills) + 1))
                seen.append(len(fills))

    thread = asyncio.create_task(asyncio.to_thread(reader_loop))
    for i in range(1, total + 1):
        await journal.record_fill(fill(i, Side.BUY if i % 2 else Side.SELL, "100", "0.001", i))
        if i % 250 == 0:
            await asyncio.sleep(0)
    await journal.flush()
    stop.set()
    await thread
    assert journal.stats.committed >= total
    assert journal.stats.batches < total  # grouped into transactions
    assert len(seen) > 1
    assert len(await _read(journal, "fills")) == total


class _SlowJournal(Journal):
    """A writer on a slow disk: each batch takes 0.3 s."""

    def _commit(self, conn: sqlite3.Connection, records: list[Any]) -> None:
        time.sleep(0.3)
        super()._commit(conn, records)


async def test_writes_and_flush_never_block_the_loop(tmp_path: Path) -> None:
    j = await _SlowJournal.open(tmp_path / "slow.sqlite")
    gaps: list[float] = []
    running = True

    async def ticker() -> None:
        last = time.monotonic()
        while running:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    for i in range(2000):
        await j.record_fill(fill(i + 1, Side.BUY, "100", "0.001", i))
        if i % 100 == 0:
            await asyncio.sleep(0)
    enqueue_time = time.monotonic() - started
    await j.flush()
    await j.close()
    running = False
    await task
    assert enqueue_time < 0.3  # enqueuing did not wait for the slow disk
    assert max(gaps) < 0.2, f"event loop stalled for {max(gaps):.3f}s"
    assert len(gaps) > 20  # the loop kept ticking through at least one slow batch
    with JournalReader.open(j.path) as reader:
        assert len(reader.fills()) == 2000


async def test_backpressure_waits_for_the_writer(tmp_path: Path) -> None:
    j = await _SlowJournal.open(tmp_path / "bp.sqlite", max_batch=10, max_pending=20)
    for i in range(40):
        await j.record_alert(ts=i, level="info", component="c", message=str(i))
        assert j.stats.pending <= 21
    await j.close()


class _BuggyJournal(Journal):
    """A record whose application raises a non-SQL error (a bug), mid-batch."""

    def _apply(self, conn: sqlite3.Connection, record: Any) -> None:
        if record.label == "alert boom":
            raise ValueError("boom")
        super()._apply(conn, record)


async def test_a_non_sql_error_loses_its_batch_but_not_the_writer(tmp_path: Path) -> None:
    j = await _BuggyJournal.open(tmp_path / "bug.sqlite")
    await j.record_alert(ts=1, level="info", component="boom", message="m")
    with pytest.raises(JournalWriteError, match="boom"):
        await j.flush()
    await j.record_alert(ts=2, level="info", component="fine", message="m")
    await j.close()
    with JournalReader.open(j.path) as reader:
        assert [a.component for a in reader.alerts()] == ["fine"]
