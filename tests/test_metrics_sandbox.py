"""SessionMetrics over a real connector: breaker states, rate-limit use, REST requests and the market stream
of a BinanceAdapter talking to the embedded sandbox, read through the session's view and scraped over HTTP."""

from __future__ import annotations

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.config import SandboxSettings, Settings
from core.metrics import SessionMetrics
from core.secrets import Secret
from core.session_live import LiveView, SessionParts
from core.session_record import SessionRecorder
from exchanges.adapter import MarketEvent
from exchanges.binance.factory import build_adapter
from exchanges.sandbox.runner import Sandbox
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(60)

SANDBOX = SandboxSettings(port=0, speed=10.0, history_days=0.05, seed=43)
SETTINGS = Settings(venue="sandbox", sandbox=SANDBOX)


async def test_connector_metrics_scraped(unused_tcp_port: int) -> None:
    events: list[MarketEvent] = []
    async with Sandbox(SANDBOX) as sb:
        key, secret = sb.demo_credentials
        adapter = build_adapter(
            SETTINGS, sb.context.clock, rest_url=sb.rest_url, credentials=(Secret(key), Secret(secret))
        )
        async with adapter:
            await adapter.account()
            stream = adapter.market_stream(events.append)
            stream.subscribe(["BTCUSDT"])
            await stream.start()
            try:
                await eventually(lambda: len(events) >= 3, timeout=20, message="market events")
                parts = SessionParts(
                    settings=SETTINGS,
                    session_id="metrics-sb",
                    clock=sb.context.clock,
                    recorder=SessionRecorder(),
                    report_dir="reports",
                    adapter=adapter,
                    symbols=("BTCUSDT",),
                )
                metrics = SessionMetrics()
                metrics.update_from(LiveView(parts))
                port = metrics.start_http("127.0.0.1", unused_tcp_port)
                try:
                    async with (
                        aiohttp.ClientSession() as http,
                        http.get(f"http://127.0.0.1:{port}/metrics") as resp,
                    ):
                        text = await resp.text()
                finally:
                    metrics.stop_http()
            finally:
                await stream.stop()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    breakers = {dict(k[1])["group"]: v for k, v in samples.items() if k[0] == "casino_breaker_state"}
    assert breakers == {"market_data": 0.0, "orders": 0.0, "account": 0.0}
    usage = {dict(k[1])["pool"]: v for k, v in samples.items() if k[0] == "casino_rate_limit_usage_ratio"}
    assert usage and 0 < max(usage.values()) < 1
    assert samples[("casino_api_requests_total", ())] >= 1
    assert samples[("casino_api_errors_total", ())] == 0
    assert samples[("casino_stream_connected", (("stream", "market"),))] == 1
    assert samples[("casino_stream_messages_total", (("stream", "market"),))] >= 3
    assert samples[("casino_stream_reconnects_total", (("stream", "market"),))] == 0
