"""SessionMetrics: set from a real SessionView (T's LiveView over a real StateManager, SessionRecorder and
RiskEngine), served by ``start_http`` on a free loopback port, scraped over HTTP and parsed with
prometheus_client's own parser; counters follow the view's cumulative counts without double counting."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from core.clock import ManualClock
from core.config import Settings
from core.config_trading import RiskSettings
from core.decisions import Decision, RiskVerdict
from core.metrics import MetricsServerError, SessionMetrics
from core.risk import RiskEngine
from core.risk_limits import RiskInputs
from core.session_live import LiveView, SessionParts
from core.session_record import SessionRecorder
from core.session_view import AccountSample
from core.types import Fill, Side
from state.manager import StateManager
from state.model import Halt

D = Decimal
T0 = 1_700_000_000_000


def _fill(trade_id: int, side: Side, qty: str, price: str = "100", realized: str = "0") -> Fill:
    return Fill(
        symbol="BTCUSDT",
        trade_id=trade_id,
        order_id=trade_id,
        client_order_id=f"c{trade_id}",
        side=side,
        price=D(price),
        qty=D(qty),
        quote_qty=D(price) * D(qty),
        commission=D("0.04"),
        commission_asset="USDT",
        realized_pnl=D(realized),
        is_maker=False,
        ts=T0 + trade_id,
    )


def _decision(n: int, symbol: str = "BTCUSDT") -> Decision:
    return Decision(
        decision_id=f"{symbol}-{n}",
        symbol=symbol,
        side=Side.BUY,
        conviction=0.7,
        reference_price=D(100),
        stop_distance=D(1),
        take_profit_distance=D(2),
        ts=T0 + n,
        timeframe="1m",
    )


class Session:
    """The pieces a session's view reads, driven by hand."""

    def __init__(self) -> None:
        self.clock = ManualClock(T0)
        self.state = StateManager(self.clock)
        self.recorder = SessionRecorder()
        self.risk = RiskEngine(RiskSettings(), self.clock, {})
        parts = SessionParts(
            settings=Settings(),
            session_id="metrics-1",
            clock=self.clock,
            recorder=self.recorder,
            report_dir="reports",
            venue="sandbox",
            started_ms=T0,
            state=self.state,
            risk=self.risk,
            symbols=("BTCUSDT", "ETHUSDT"),
        )
        self.view = LiveView(parts)

    def decide(self, n: int, symbol: str) -> RiskVerdict:
        decision = _decision(n, symbol)
        verdict = self.risk.allow(decision, RiskInputs(equity=D(1000), available=D(1000)))
        self.recorder.decision(decision, verdict, "pending" if verdict.accepted else "rejected", T0)
        return verdict


async def _scrape(port: int) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


@pytest.fixture
async def session() -> Session:
    s = Session()
    await s.state.apply_fill(_fill(1, Side.BUY, "2"))
    await s.state.apply_fill(_fill(2, Side.SELL, "1", "110", "10"))
    s.recorder.counts["fills"] += 2
    s.recorder.sample(
        AccountSample(ts=T0, wallet_balance=D(1000), unrealized_pnl=D(0), available_balance=D(900))
    )
    s.recorder.sample(
        AccountSample(
            ts=T0 + 5, wallet_balance=D("1009.92"), unrealized_pnl=D("-3.5"), available_balance=D(800)
        )
    )
    await s.state.observe_equity(D(1010))
    s.decide(1, "DOGEUSDT")  # no instrument: refused, "unknown_symbol"
    s.decide(2, "DOGEUSDT")
    s.recorder.execution(0.03)
    await s.state.add_halt(Halt(kind="drawdown", reason="test", since_ts=T0))
    return s


async def test_metrics_scraped_over_http(session: Session) -> None:
    metrics = SessionMetrics(session_id="metrics-1", venue="sandbox")
    metrics.update_from(session.view)
    port = metrics.start_http("127.0.0.1", 0)
    try:
        assert metrics.port == port
        v = await _scrape(port)
        assert v["casino_trades_total"] == 2
        assert v["casino_positions_open"] == 1 and v["casino_positions_unprotected"] == 1
        assert v["casino_balance_usdt"] == pytest.approx(1009.92)
        assert v["casino_equity_usdt"] == pytest.approx(1006.42)
        assert v["casino_drawdown_usdt"] == pytest.approx(1010 - 1006.42)
        assert v["casino_session_realized_pnl_usdt"] == pytest.approx(10)
        assert v["casino_session_fees_usdt"] == pytest.approx(0.08)
        assert v["casino_decisions_total{outcome=rejected}"] == 2
        assert v["casino_decisions_total{outcome=accepted}"] == 0
        assert v["casino_risk_rejections_total{reason=unknown_symbol}"] == 2
        assert v["casino_order_execution_duration_seconds_count"] == 1
        assert v["casino_order_execution_duration_seconds_bucket{le=0.05}"] == 1
        assert v["casino_halt_active{kind=drawdown}"] == 1
        assert v["casino_stream_connected{stream=market}"] == 0
        assert v["casino_session_info{session=metrics-1,venue=sandbox}"] == 1

        # more activity: counters move by exactly the increase, however often the view is read
        session.decide(3, "DOGEUSDT")
        session.recorder.execution(0.2)
        session.recorder.execution(4.0)
        session.recorder.counts["fills"] += 3
        await session.state.clear_halt("drawdown")
        metrics.update_from(session.view)
        metrics.update_from(session.view)
        v = await _scrape(port)
        assert v["casino_trades_total"] == 5
        assert v["casino_risk_rejections_total{reason=unknown_symbol}"] == 3
        assert v["casino_order_execution_duration_seconds_count"] == 3
        assert v["casino_order_execution_duration_seconds_sum"] == pytest.approx(4.23)
        assert v["casino_halt_active{kind=drawdown}"] == 0
    finally:
        metrics.stop_http()
    with pytest.raises(aiohttp.ClientConnectionError):
        await _scrape(port)


async def test_each_session_has_its_own_registry(session: Session) -> None:
    a, b = SessionMetrics(), SessionMetrics()
    a.update_from(session.view)
    assert b"casino_trades_total 2.0" in a.exposition()
    assert b"casino_trades_total 0.0" in b.exposition()
    assert not any(name.startswith("casino_") for name in REGISTRY._names_to_collectors)


async def test_run_updates_periodically(session: Session) -> None:
    metrics = SessionMetrics()
    task = asyncio.create_task(metrics.run(session.view, interval_s=0.01))
    try:
        session.recorder.counts["fills"] += 40
        deadline = asyncio.get_running_loop().time() + 5
        while b"casino_trades_total 42.0" not in metrics.exposition():
            assert asyncio.get_running_loop().time() < deadline, "metrics never caught up"
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def test_busy_port_is_refused_with_the_action() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        metrics = SessionMetrics()
        with pytest.raises(MetricsServerError, match="choose another --metrics-port"):
            metrics.start_http("127.0.0.1", busy.getsockname()[1])
        assert metrics.port is None


def test_grafana_dashboard_uses_only_metrics_we_export() -> None:
    dashboard = json.loads((Path(__file__).parent.parent / "docs" / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    used = {name for e in exprs for name in re.findall(r"\bcasino_[a-z_]+", e)}
    exported = {
        sample.name
        for family in text_string_to_metric_families(SessionMetrics().exposition().decode())
        for sample in family.samples
    }
    # labelled series only appear once set: their HELP/TYPE lines still name them
    exported |= set(re.findall(r"^# TYPE (\S+)", SessionMetrics().exposition().decode(), re.M))
    exported |= {f"{name}_total" for name in exported} | {f"{name}_bucket" for name in exported}
    assert used and used <= exported, used - exported
