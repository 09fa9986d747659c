"""Against the real embedded sandbox over loopback: trades placed through the adapter, their fills journaled,
and the report's money equal to the sandbox account's to the cent; then the live report rendered from the
session's real view (T's LiveView over real components: state, recorder, adapter)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from core.clock import Clock
from core.config import SandboxSettings, Settings
from core.decisions import Decision, Reason, RiskVerdict
from core.report import AccountFacts, live_report, read_report, write_report
from core.secrets import Secret
from core.session_live import LiveView, SessionParts
from core.session_record import SessionRecorder
from core.session_view import AccountSample
from core.types import Fill, IncomeType, OrderRequest, OrderType, Side
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.factory import build_adapter
from exchanges.sandbox.runner import Sandbox
from state.journal import Journal
from state.manager import StateManager
from state.model import Bracket, BracketStatus, Halt

pytestmark = [pytest.mark.timeout(90), pytest.mark.asyncio(loop_scope="module")]

D = Decimal
SANDBOX = SandboxSettings(port=0, speed=10.0, history_days=0.05, seed=41)
SETTINGS = Settings(venue="sandbox", sandbox=SANDBOX)
SESSION = "paper-report"


@dataclass
class Traded:
    sb: Sandbox
    adapter: BinanceAdapter
    clock: Clock
    key: str
    start_ms: int
    wallet_start: Decimal
    wallet_end: Decimal
    fills: list[Fill]
    journal: Path


async def _market(adapter: BinanceAdapter, symbol: str, side: Side, qty: str, n: int) -> None:
    await adapter.place_order(
        OrderRequest(
            symbol=symbol,
            side=side,
            type=OrderType.MARKET,
            quantity=D(qty),
            client_order_id=f"report-test-{n}",
        )
    )


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def traded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Traded]:
    folder = tmp_path_factory.mktemp("paper")
    async with Sandbox(SANDBOX) as sb:
        key, secret = sb.demo_credentials
        clock = sb.context.clock
        adapter = build_adapter(
            SETTINGS, clock, rest_url=sb.rest_url, credentials=(Secret(key), Secret(secret))
        )
        adapter.api.settle_s = 0.0
        async with adapter:
            start = clock.now_ms()
            wallet_start = (await adapter.account()).wallet_balance
            journal = await Journal.open(folder / "journal.sqlite3")
            await journal.start_session(
                SESSION,
                started_ts=start,
                venue="sandbox",
                account="demo",
                symbols=("BTCUSDT", "ETHUSDT"),
                config={},
            )
            await journal.record_equity(ts=start, wallet=wallet_start, unrealized=D(0))
            # a closed BTC round trip in two exits, and an ETH position left open
            await _market(adapter, "BTCUSDT", Side.BUY, "0.010", 1)
            await _market(adapter, "BTCUSDT", Side.SELL, "0.004", 2)
            await _market(adapter, "BTCUSDT", Side.SELL, "0.006", 3)
            await _market(adapter, "ETHUSDT", Side.SELL, "0.100", 4)
            fills: list[Fill] = []
            for symbol in ("BTCUSDT", "ETHUSDT"):
                fills += await adapter.user_trades(symbol, start_time=start)
            for f in fills:
                await journal.record_fill(f)
            for row in sb.context.core.income(key, income_type=IncomeType.FUNDING_FEE, start_time=start):
                await journal.record_funding(row.symbol, row.income, row.ts)
            account = await adapter.account()
            await journal.record_equity(
                ts=clock.now_ms(), wallet=account.wallet_balance, unrealized=account.unrealized_pnl
            )
            await journal.end_session(ended_ts=clock.now_ms())
            await journal.close()
            yield Traded(
                sb,
                adapter,
                clock,
                key,
                start,
                wallet_start,
                account.wallet_balance,
                fills,
                folder / "journal.sqlite3",
            )


async def test_report_equals_the_sandbox_account(traded: Traded, tmp_path: Path) -> None:
    rows = traded.sb.context.core.income(traded.key, start_time=traded.start_ms, limit=1000)
    facts = AccountFacts.from_income(
        rows, source="sandbox account", wallet_start=traded.wallet_start, wallet_end=traded.wallet_end
    )
    paths = write_report(traded.journal, SESSION, tmp_path / "reports", account=facts)
    doc = read_report(paths.json)
    assert doc.cross_check.ok is True, doc.cross_check
    assert all(line.ok for line in doc.cross_check.lines)
    f = doc.figures
    assert f.net_pnl == traded.wallet_end - traded.wallet_start  # exact, not only to the cent
    assert f.fees > 0 and f.fills == len(traded.fills) == 4
    assert (f.closed_trades, f.open_trades) == (1, 1)
    assert [t.symbol for t in doc.trades if t.status == "open"] == ["ETHUSDT"]
    assert "equals the sandbox account to the cent" in paths.html.read_text()


def _decision(n: int, accepted: bool) -> tuple[Decision, RiskVerdict]:
    d = Decision(
        decision_id=f"BTCUSDT-{n}-BUY",
        symbol="BTCUSDT",
        side=Side.BUY,
        conviction=0.71,
        reference_price=D("30000.5"),
        stop_distance=D(150),
        take_profit_distance=D(300),
        ts=1_700_000_000_000 + n,
        timeframe="1m",
        reasons=(Reason(sensor_id="ema_cross", timeframe="1m", direction=1, strength=0.8, weight=1.2),),
    )
    if accepted:
        return d, RiskVerdict(
            decision_id=d.decision_id, accepted=True, qty=D("0.01"), notional=D(300), leverage=5
        )
    return d, RiskVerdict(decision_id=d.decision_id, accepted=False, reason="max_positions", detail="1 open")


async def test_live_report_from_the_session_view(traded: Traded) -> None:
    state = StateManager(traded.clock)
    for f in sorted(traded.fills, key=lambda f: (f.ts, f.trade_id)):
        await state.apply_fill(f)
    now = traded.clock.now_ms()
    await state.put_bracket(
        Bracket(
            decision_id="ETHUSDT-1-SELL",
            symbol="ETHUSDT",
            side=Side.SELL,
            qty=D("0.1"),
            entry_client_id="e",
            tp_client_id="tp",
            sl_client_id="sl",
            tp_price=D("1500.5"),
            sl_price=D("2500.25"),
            status=BracketStatus.PROTECTED,
            opened_ts=now,
            updated_ts=now,
        )
    )
    await state.add_halt(Halt(kind="daily_loss", reason="daily loss limit reached", since_ts=now))
    recorder = SessionRecorder()
    for n, accepted in ((1, True), (2, False)):
        d, v = _decision(n, accepted)
        recorder.decision(d, v, "pending" if accepted else "rejected", now)
    recorder.outcome("BTCUSDT-1-BUY", "executed", "", now)
    recorder.execution(0.042)
    recorder.sample(
        AccountSample(
            ts=now, wallet_balance=traded.wallet_start, unrealized_pnl=D(0), available_balance=D(9000)
        )
    )
    recorder.sample(
        AccountSample(
            ts=now, wallet_balance=traded.wallet_end, unrealized_pnl=D("-1.5"), available_balance=D(9000)
        )
    )
    parts = SessionParts(
        settings=SETTINGS,
        session_id=SESSION,
        clock=traded.clock,
        recorder=recorder,
        report_dir="reports",
        venue="sandbox (embedded)",
        started_ms=traded.start_ms,
        state=state,
        adapter=traded.adapter,
        symbols=("BTCUSDT", "ETHUSDT"),
    )
    text = live_report(LiveView(parts))
    assert text.startswith(f"Casino live report — session {SESSION} — sandbox (embedded) — HALTED")
    assert "HALTED (daily_loss): daily loss limit reached" in text
    eth = next(line for line in text.splitlines() if line.strip().startswith("ETHUSDT"))
    assert "SHORT" in eth and "1500.5" in eth and "2500.25" in eth and "PROTECTED" in eth and "yes" in eth
    assert "breakers: account CLOSED, market_data CLOSED, orders CLOSED" in text
    assert "REQUEST_WEIGHT" in text
    assert "decisions 2: accepted 1, rejected 1, executed 1" in text
    assert "BTCUSDT BUY 1m conviction 0.71 @ 30000.5 → executed" in text
    assert "rejected: max_positions" in text and "ema_cross@1m +0.80×1.20" in text
    assert "order execution: 1 brackets, median 42 ms" in text
    change = traded.wallet_end - D("1.5") - traded.wallet_start
    assert f"equity change since start {change.quantize(D('0.01')):+,.2f}" in text
