"""Prometheus metrics of one session, on their own registry, served at ``/metrics`` on loopback.

:class:`SessionMetrics` owns a :class:`prometheus_client.CollectorRegistry` (never the process-global
default one, so two sessions in one process, or the tests, never share a series). The session calls
:meth:`SessionMetrics.update_from` with its :class:`~core.session_view.SessionView` on the event loop —
:meth:`SessionMetrics.run` does it every ``interval_s`` — and the HTTP server (a daemon thread of
``prometheus_client``) only serves the values already set, so a scrape never touches the session's objects
from another thread and never blocks the loop.

The view's counts are cumulative since the session started; counters follow them by adding the increase
since the previous update (a count that went down — a component rebuilt — is taken as a restart from 0).

Metrics (all prefixed ``casino_``; see ``docs/grafana-dashboard.json``):

=========================================  =========  ==============================================
trades_total                               counter    fills (executions) applied to the state
api_requests_total / api_errors_total      counter    REST attempts / those that ended in an error
positions_open / positions_unprotected     gauge      non-flat symbols / of them without a working stop
balance_usdt, equity_usdt,                 gauge      wallet balance, wallet + unrealized, unrealized,
unrealized_pnl_usdt, available_usdt                   available balance (newest account sample)
session_realized_pnl_usdt, session_fees_usdt  gauge   from the state (fees positive = paid)
drawdown_usdt                              gauge      peak equity - equity
order_execution_duration_seconds           histogram  decision accepted → bracket placed or refused
rate_limit_usage_ratio{pool}               gauge      share of the pool's limit used in its window
breaker_state{group}                       gauge      0 closed, 1 half-open, 2 open
stream_connected{stream}                   gauge      1 connected (stream: market, user)
stream_messages_total / stream_reconnects_total{stream}  counter
stream_gaps_left_total                     counter    aggTrade ids missed and not recovered
data_rejected_total{reason}                counter    market events refused by validation
data_queue_full_total                      counter    market events lost to a full queue
sensor_latency_seconds{quantile}           gauge      candle-close batch evaluation, p50 and p99
sensor_restarts_total                      counter    sensor worker restarts
decisions_total{outcome}                   counter    accepted, rejected, executed, failed
player_evaluations_total{outcome}          counter    how the player's evaluations ended
risk_rejections_total{reason}              counter    decisions the RiskEngine refused, by reason
reconciliations_total                      counter
halt_active{kind}                          gauge      1 while a halt of that kind is active
session_info{session,venue}                gauge      always 1
=========================================  =========  ==============================================
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from decimal import Decimal
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

from core.logs import get_logger
from core.session_view import SessionView
from core.types import ZERO

__all__ = ["BREAKER_VALUES", "EXECUTION_BUCKETS", "MetricsServerError", "SessionMetrics"]

log = get_logger("core.metrics")

BREAKER_VALUES = {"CLOSED": 0.0, "HALF_OPEN": 1.0, "OPEN": 2.0}
EXECUTION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class MetricsServerError(OSError):
    """The metrics endpoint could not bind: choose another ``--metrics-port`` (0 turns it off)."""


def _f(value: Decimal) -> float:
    return float(value)


class SessionMetrics:
    """The session's metrics (see the module docstring for the list)."""

    def __init__(
        self, registry: CollectorRegistry | None = None, *, session_id: str = "", venue: str = ""
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._last: dict[tuple[Counter, tuple[str, ...]], float] = {}
        self._executions_seen = 0
        self._halt_kinds: set[str] = set()
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

        self.trades = Counter("casino_trades", "Fills (executions) applied to the state", registry=r)
        self.api_requests = Counter("casino_api_requests", "REST attempts", registry=r)
        self.api_errors = Counter("casino_api_errors", "REST attempts that ended in an error", registry=r)
        self.positions_open = Gauge("casino_positions_open", "Symbols with a non-flat position", registry=r)
        self.positions_unprotected = Gauge(
            "casino_positions_unprotected", "Open positions without a working stop on the venue", registry=r
        )
        self.balance = Gauge("casino_balance_usdt", "Wallet balance (USDT)", registry=r)
        self.equity = Gauge("casino_equity_usdt", "Wallet balance plus unrealized PnL (USDT)", registry=r)
        self.unrealized = Gauge("casino_unrealized_pnl_usdt", "Unrealized PnL (USDT)", registry=r)
        self.available = Gauge("casino_available_usdt", "Available balance (USDT)", registry=r)
        self.realized = Gauge("casino_session_realized_pnl_usdt", "Realized PnL this session", registry=r)
        self.fees = Gauge("casino_session_fees_usdt", "Fees paid this session (positive = paid)", registry=r)
        self.drawdown = Gauge("casino_drawdown_usdt", "Peak equity minus equity (USDT)", registry=r)
        self.execution = Histogram(
            "casino_order_execution_duration_seconds",
            "Decision accepted to bracket placed (or refused), seconds",
            buckets=EXECUTION_BUCKETS,
            registry=r,
        )
        self.rate_limit = Gauge(
            "casino_rate_limit_usage_ratio", "Share of a rate-limit pool used", ["pool"], registry=r
        )
        self.breaker = Gauge(
            "casino_breaker_state", "Circuit breaker: 0 closed, 1 half-open, 2 open", ["group"], registry=r
        )
        self.stream_connected = Gauge("casino_stream_connected", "1 when connected", ["stream"], registry=r)
        self.stream_messages = Counter(
            "casino_stream_messages", "Stream messages received", ["stream"], registry=r
        )
        self.reconnects = Counter("casino_stream_reconnects", "Stream reconnections", ["stream"], registry=r)
        self.gaps_left = Counter("casino_stream_gaps_left", "aggTrade ids missed, not recovered", registry=r)
        self.rejected = Counter(
            "casino_data_rejected", "Market events refused by validation", ["reason"], registry=r
        )
        self.queue_full = Counter("casino_data_queue_full", "Market events lost to a full queue", registry=r)
        self.sensor_latency = Gauge(
            "casino_sensor_latency_seconds", "Sensor batch evaluation time", ["quantile"], registry=r
        )
        self.sensor_restarts = Counter("casino_sensor_restarts", "Sensor worker restarts", registry=r)
        self.decisions = Counter("casino_decisions", "Decisions by outcome", ["outcome"], registry=r)
        self.evaluations = Counter(
            "casino_player_evaluations", "Player evaluations by outcome", ["outcome"], registry=r
        )
        self.risk_rejections = Counter(
            "casino_risk_rejections", "Decisions refused by the RiskEngine", ["reason"], registry=r
        )
        self.reconciliations = Counter("casino_reconciliations", "Reconciliations run", registry=r)
        self.halt = Gauge("casino_halt_active", "1 while a halt of this kind is active", ["kind"], registry=r)
        self.info = Gauge("casino_session_info", "The session (always 1)", ["session", "venue"], registry=r)
        if session_id or venue:
            self.info.labels(session=session_id, venue=venue).set(1)

    # --- updating --------------------------------------------------------------------------------------

    def _sync(self, counter: Counter, total: float, *labels: str) -> None:
        """Bring ``counter`` (with ``labels``) up to the cumulative ``total`` of its source."""
        key = (counter, labels)
        last = self._last.get(key, 0.0)
        child = counter.labels(*labels) if labels else counter
        increase = total - last if total >= last else total  # the source restarted from 0
        if increase > 0:
            child.inc(increase)
        self._last[key] = total

    def _sync_all(self, counter: Counter, totals: Mapping[str, int]) -> None:
        for label, total in totals.items():
            self._sync(counter, float(total), label)

    def update_from(self, view: SessionView) -> None:
        """Read the view (on the event loop: its answers are in-memory) and set every metric."""
        c = view.counters()
        self._sync(self.trades, c.fills)
        self._sync(self.api_requests, c.api_requests)
        self._sync(self.api_errors, c.api_errors)
        self._sync(self.reconciliations, c.reconciliations)
        outcomes = {
            "accepted": c.accepted,
            "rejected": c.rejected,
            "executed": c.executed,
            "failed": c.failed,
        }
        self._sync_all(self.decisions, outcomes)
        self._sync_all(self.evaluations, view.player_outcomes())
        self._sync_all(self.risk_rejections, view.risk_rejections())
        self._update_account(view)
        self._update_venue(view)
        self._update_engine(view)
        self._update_halts(view)
        ex = view.executions()
        fresh = ex.count - self._executions_seen if ex.count >= self._executions_seen else ex.count
        for seconds in ex.recent_s[-fresh:] if fresh > 0 else ():
            self.execution.observe(seconds)
        self._executions_seen = ex.count

    def _update_account(self, view: SessionView) -> None:
        protection = view.protection()
        open_positions = [p for p in protection if p.qty != 0]
        self.positions_open.set(len(open_positions))
        self.positions_unprotected.set(sum(1 for p in open_positions if not p.protected))
        state = view.state()
        self.realized.set(_f(state.realized_pnl_session))
        self.fees.set(_f(state.fees_session))
        sample = view.account()
        if sample is not None:
            self.balance.set(_f(sample.wallet_balance))
            self.equity.set(_f(sample.equity))
            self.unrealized.set(_f(sample.unrealized_pnl))
            self.available.set(_f(sample.available_balance))
            peak = max(state.peak_equity, sample.equity)
            self.drawdown.set(_f(max(ZERO, peak - sample.equity)))

    def _update_venue(self, view: SessionView) -> None:
        for pool, share in view.rate_limit_usage().items():
            self.rate_limit.labels(pool=pool).set(share)
        for group, state in view.breakers().items():
            self.breaker.labels(group=group).set(BREAKER_VALUES.get(state.upper(), -1.0))
        s = view.streams()
        self.stream_connected.labels(stream="market").set(1 if s.market_connected else 0)
        self.stream_connected.labels(stream="user").set(1 if s.user_connected else 0)
        self._sync(self.stream_messages, s.market_messages, "market")
        self._sync(self.stream_messages, s.user_messages, "user")
        self._sync(self.reconnects, s.market_reconnects, "market")
        self._sync(self.reconnects, s.user_reconnects, "user")
        self._sync(self.gaps_left, s.market_gaps_left)

    def _update_engine(self, view: SessionView) -> None:
        stats = view.engine_stats()
        if stats is not None:
            self._sync_all(self.rejected, stats.rejected)
            self._sync(self.queue_full, stats.queue_full)
        sensors = view.sensors()
        if sensors is not None:
            self._sync(self.sensor_restarts, sensors.restarts)
            for quantile, ms in (("0.5", sensors.evaluate_p50_ms), ("0.99", sensors.evaluate_p99_ms)):
                if ms is not None:
                    self.sensor_latency.labels(quantile=quantile).set(ms / 1000)

    def _update_halts(self, view: SessionView) -> None:
        active = {h.kind for h in view.halts()}
        self._halt_kinds |= active
        for kind in self._halt_kinds:
            self.halt.labels(kind=kind).set(1 if kind in active else 0)

    async def run(self, view: SessionView, interval_s: float = 1.0) -> None:
        """Update from ``view`` every ``interval_s`` wall seconds until cancelled."""
        while True:
            self.update_from(view)
            await asyncio.sleep(interval_s)

    # --- serving -----------------------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (what ``/metrics`` serves)."""
        return generate_latest(self.registry)

    @property
    def port(self) -> int | None:
        """The port ``/metrics`` is served on (None when not serving)."""
        return self._server.server_port if self._server is not None else None

    def start_http(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve ``/metrics`` on ``host:port`` from a daemon thread (0 picks a free port); returns the port.

        Raises :class:`MetricsServerError` when the address cannot be bound.
        """
        if self._server is not None:
            raise RuntimeError(f"metrics are already served on port {self.port}")
        try:
            server, thread = start_http_server(port, addr=host, registry=self.registry)
        except OSError as exc:
            raise MetricsServerError(
                f"cannot serve metrics on {host}:{port} ({exc.strerror or exc}): choose another"
                " --metrics-port (0 turns the endpoint off)"
            ) from None
        self._server, self._thread = server, thread
        log.info("metrics served at http://%s:%d/metrics", host, server.server_port)
        return int(server.server_port)

    def stop_http(self) -> None:
        """Stop serving (blocking briefly while the server thread exits). Idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
