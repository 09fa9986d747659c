"""Report reads over a real journal file: trades with their decisions and exits, totals, sessions."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from core.enums import AlgoStatus, OrderStatus, OrderType, Side
from state.journal import Journal
from state.journal_queries import JournalReader
from tests.journal_support import algo, decision, fill, order, verdict

D = Decimal


async def _session_one(j: Journal) -> None:
    await j.start_session("s1", started_ts=0, venue="paper", account="a", symbols=["BTCUSDT"], config={})
    d = decision("BTCUSDT-1000-BUY", reference="100", ts=1000)
    await j.record_decision(d, verdict(d.decision_id))
    await j.record_decision(decision("BTCUSDT-2000-SELL", side=Side.SELL, ts=2000), verdict(accepted=False))
    await j.record_order(order("entry-1", order_id=10), decision_id=d.decision_id)
    # Two partial fills of the entry; the journal links them to the decision through the order.
    await j.record_fill(fill(1, Side.BUY, "100.2", "0.004", 1100, order_id=10, client_id="entry-1"))
    await j.record_fill(fill(2, Side.BUY, "100.4", "0.006", 1200, order_id=10, client_id="entry-1"))
    await j.record_algo(algo("tp-1"), decision_id=d.decision_id)
    await j.record_algo(algo("sl-1", order_type=OrderType.STOP_MARKET), decision_id=d.decision_id)
    await j.record_funding("BTCUSDT", D("-0.01"), 1500)
    # The take-profit fires: the Algo Service places order 900, which fills.
    await j.record_algo(algo("tp-1", status=AlgoStatus.FINISHED, actual_order_id="900", update_time=3000))
    await j.record_fill(
        fill(3, Side.SELL, "105", "0.010", 3000, order_id=900, client_id="algo-900", realized="0.0468")
    )
    await j.record_algo(algo("sl-1", order_type=OrderType.STOP_MARKET, status=AlgoStatus.CANCELED))
    # A second trade opens, and is still open when the session ends.
    await j.record_order(order("entry-2", order_id=11, side=Side.SELL, status=OrderStatus.FILLED))
    await j.record_fill(
        fill(4, Side.SELL, "104", "0.020", 4000, order_id=11, client_id="entry-2"), decision_id="manual"
    )
    await j.record_equity(ts=4000, wallet=D("1000.03"), unrealized=D("-0.01"))
    await j.end_session(ended_ts=5000)


async def _session_two(j: Journal) -> None:
    await j.start_session("s2", started_ts=6000, venue="paper", account="a", symbols=["BTCUSDT"], config={})
    await j.record_funding("BTCUSDT", D("0.02"), 7000)
    await j.record_order(order("close-2", order_id=12, status=OrderStatus.FILLED, update_time=8000))
    await j.record_fill(
        fill(5, Side.BUY, "103", "0.020", 8000, order_id=12, client_id="close-2", realized="0.02")
    )
    await j.end_session(ended_ts=9000)


async def test_trades_link_decisions_exits_funding_and_sessions(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    async with await Journal.open(path) as j:
        await _session_one(j)
    async with await Journal.open(path) as j:  # a restart on the same state directory
        await _session_two(j)

    def read() -> tuple[Any, ...]:
        with JournalReader.open(path) as r:
            return r.trades("s1"), r.trades("s2"), r.trades(), r.totals("s1"), r.totals("s2"), r.totals()

    s1, s2, every, t1, t2, tall = await asyncio.to_thread(read)
    first, second = every
    assert s1 == (first, second)
    assert s2 == (second,)  # opened in s1, closed in s2: listed under both

    assert (first.side, first.status, first.qty, first.exit_reason) == (
        Side.BUY,
        "closed",
        D("0.010"),
        "take_profit",
    )
    assert first.entry_price == D("100.32")
    assert first.decision_id == "BTCUSDT-1000-BUY"
    assert first.decision is not None and len(first.decision.decision.reasons) == 2
    assert first.decision.verdict.accepted
    assert first.slippage == D("0.0032")  # (100.32 - 100) * 0.010
    assert first.funding == D("-0.01")
    assert first.realized_pnl == D("0.0468")
    assert first.net_pnl == D("0.0468") - first.fees - D("0.01")
    assert first.sessions == ("s1",)

    assert (second.side, second.status, second.exit_reason, second.decision_id) == (
        Side.SELL,
        "closed",
        "market",
        "manual",
    )
    assert second.decision is None
    assert second.funding == D("0.02")
    assert second.sessions == ("s1", "s2")
    assert (second.opened_ts, second.closed_ts, second.holding_ms) == (4000, 8000, 4000)

    executions = [("100.2", "0.004"), ("100.4", "0.006"), ("105", "0.010"), ("104", "0.020")]
    fees_s1 = sum((D(p) * D(q) * D("0.0004") for p, q in executions), D(0))
    assert (t1.fills, t1.realized_pnl, t1.fees, t1.funding) == (4, D("0.0468"), fees_s1, D("-0.01"))
    assert t1.net_pnl == D("0.0468") - fees_s1 - D("0.01")
    assert (t2.fills, t2.realized_pnl, t2.funding) == (1, D("0.02"), D("0.02"))
    assert tall.net_pnl == t1.net_pnl + t2.net_pnl
    assert sum((t.net_pnl for t in every), D(0)) == tall.net_pnl  # every cent attributed to a trade

    encoded = msgspec.json.decode(msgspec.json.encode(first))
    assert encoded["entry_price"] == "100.32" and encoded["side"] == "BUY"


async def test_sessions_and_rejected_decisions_are_listed(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    async with await Journal.open(path) as j:
        await _session_one(j)
        await j.flush()
        reader = await asyncio.to_thread(j.reader)
        try:
            sessions = await asyncio.to_thread(reader.sessions)
            decisions = await asyncio.to_thread(reader.decisions, "s1")
            fills = await asyncio.to_thread(reader.fills, None, "BTCUSDT")
            latest = await asyncio.to_thread(reader.latest_session)
        finally:
            reader.close()
    assert [(s.session_id, s.status, s.ended_ts) for s in sessions] == [("s1", "ended", 5000)]
    assert latest is not None and latest.session_id == "s1"
    rejected = [d for d in decisions if not d.verdict.accepted]
    assert [(d.decision.decision_id, d.verdict.reason) for d in rejected] == [
        ("BTCUSDT-2000-SELL", "max_positions")
    ]
    assert [jf.origin for jf in fills] == ["MARKET", "MARKET", "TAKE_PROFIT_MARKET", "MARKET"]
    assert [jf.decision_id for jf in fills] == ["BTCUSDT-1000-BUY"] * 3 + ["manual"]
