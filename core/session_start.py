"""Starting a session: build every component in order, reconcile before trading, start the tasks, say so.

:func:`start_components` is the start half of :class:`core.session.Session` (its docstring gives the order);
:class:`Components` holds what was built, for the shutdown sequence and the view.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from core.config_trading import timeframe_ms
from core.engine import Engine
from core.events import AccountUpdate, ReconcileRequest, UserEvent
from core.logs import get_logger
from core.metrics import SessionMetrics
from core.risk import RiskEngine
from core.risk_limits import DAY_MS
from core.session_build import build_player, open_session_venue, pick_instruments
from core.session_loop import Housekeeper, marks_loop, status_loop
from core.session_trading import CandleTap, DecisionDesk
from core.session_view import AccountSample
from core.types import ZERO, Instrument
from croupier.croupier import Croupier
from croupier.model import Alert
from exchanges.binance.adapter import BinanceAdapter
from sensors.manager import SensorManager
from state.fills import FillApplied, FillProcessor
from state.journal import Journal
from state.reconcile import Reconciler, ReconcileReport
from state.recovery import RecoveryResult, recover
from state.snapshots import SnapshotWriter

if TYPE_CHECKING:
    from core.session import Session
    from exchanges.sandbox.runner import Sandbox

__all__ = ["Components", "start_components"]

log = get_logger("session")


@dataclass(kw_only=True)
class Components:
    """What a started session is made of (the shutdown sequence takes it apart in order)."""

    adapter: BinanceAdapter
    sandbox: Sandbox | None
    recovery: RecoveryResult
    journal: Journal
    snapshots: SnapshotWriter
    croupier: Croupier
    reconciler: Reconciler
    desk: DecisionDesk
    housekeeper: Housekeeper
    engine: Engine | None = None
    metrics: SessionMetrics | None = None
    journal_ended: bool = False
    croupier_stopped: bool = False


def _funding_prompts(
    on_event: Callable[[UserEvent], None], reconciler: Reconciler
) -> Callable[[UserEvent], None]:
    """Route user events to ``on_event``; a funding ACCOUNT_UPDATE also asks for a reconciliation round.

    Binance's cross-margin funding update names no symbol, so the reconciler books the payment from the
    income history; asking at once keeps the state's and the journal's funding current.
    """

    def route(event: UserEvent) -> None:
        on_event(event)
        if isinstance(event, AccountUpdate) and event.reason == "FUNDING_FEE":
            reconciler.request(ReconcileRequest(ts=event.ts, reason="funding"))

    return route


async def start_components(session: Session, stack: contextlib.AsyncExitStack) -> Components:
    """Build and start everything (see :mod:`core.session`); raises what prevents the start."""
    s = session.settings
    parts = session.parts
    venue = await stack.enter_async_context(open_session_venue(s, session.out))
    clock = parts.clock = venue.clock
    parts.venue = venue.description
    adapter = parts.adapter = venue.adapter
    recovery = await asyncio.to_thread(recover, Path(s.state.dir), clock)
    state = parts.state = recovery.state
    journal = await Journal.open(recovery.journal_path)
    # From here on the shutdown must save what was started, even if the rest of the start fails.
    session.recovery, session.journal = recovery, journal
    await adapter.start()
    instruments = pick_instruments(await adapter.instruments(), s.symbols)
    parts.started_ms = clock.now_ms()
    await state.start_session(parts.started_ms)
    await journal.start_session(
        session.session_id,
        started_ts=parts.started_ms,
        venue=venue.description,
        account=_account_name(s.venue, adapter),
        symbols=s.symbols,
        config=s.redacted(),
    )
    risk = parts.risk = RiskEngine(s.risk, clock, instruments)
    manager = parts.sensors = SensorManager(s.sensors, timeframes=s.engine.timeframes, clock=clock)
    player = parts.player = build_player(s, clock, weights=state.get_snapshot().weights, specs=manager.specs)
    desk_ref: list[DecisionDesk] = []

    def on_fill(event: FillApplied) -> None:
        session.recorder.counts["fills"] += 1
        fill, after = event.fill, event.result.position.qty
        if desk_ref:
            desk_ref[0].tally.on_fill(fill, after, after - fill.qty * fill.side.sign)

    def on_alert(alert: Alert) -> None:
        session.say(f"ALERT [{alert.level}] {alert.symbol}: {alert.message}")

    fills = FillProcessor(state, recovery.wal, on_event=on_fill)
    croupier = Croupier(
        adapter, state, fills, clock, instruments, s.croupier, journal=journal, on_alert=on_alert
    )
    parts.croupier = croupier
    housekeeper_ref: list[Housekeeper] = []

    async def refresh_account() -> AccountSample | None:
        return await housekeeper_ref[0].try_sample() if housekeeper_ref else None

    desk = DecisionDesk(
        player=player,
        risk=risk,
        executor=croupier,
        snapshot=state.get_snapshot,
        journal=journal,
        recorder=session.recorder,
        supervisor=session.supervisor,
        clock=clock,
        account=lambda: session.recorder.last_sample,
        refresh_account=refresh_account,
        marks=session.view.last_prices,
    )
    desk_ref.append(desk)
    housekeeper = Housekeeper(
        adapter=adapter,
        state=state,
        journal=journal,
        recorder=session.recorder,
        clock=clock,
        risk=risk,
        player=player,
        desk=desk,
        marks=session.view.last_prices,
        on_halt=session.say,
    )
    housekeeper_ref.append(housekeeper)
    await _seed_from_journal(journal, risk, desk, clock.now_ms())

    def on_report(report: ReconcileReport) -> None:
        session.recorder.counts["reconciliations"] += 1

    reconciler = Reconciler(
        adapter,
        state,
        fills,
        croupier,
        clock,
        s.symbols,
        journal=journal,
        prefix=s.croupier.client_id_prefix,
        on_report=on_report,
    )
    snapshots = SnapshotWriter(
        state,
        recovery.snapshot_dir,
        wal=recovery.wal,
        interval_s=s.state.snapshot_interval_s,
        keep=s.state.snapshots_kept,
    )
    parts_done = Components(
        adapter=adapter,
        sandbox=venue.sandbox,
        recovery=recovery,
        journal=journal,
        snapshots=snapshots,
        croupier=croupier,
        reconciler=reconciler,
        desk=desk,
        housekeeper=housekeeper,
    )
    session.components = parts_done
    await _set_leverage(adapter, instruments, s.risk.leverage)
    await housekeeper.sample_account()
    await croupier.start()
    user = adapter.user_stream(_funding_prompts(desk.on_user_event, reconciler), reconciler.request)
    await user.start()
    report = await reconciler.reconcile("start")
    session.say(_reconcile_line(report))
    sup = session.supervisor
    sup.spawn(snapshots.run(), "state-snapshots", critical=True)
    engine = parts.engine = parts_done.engine = Engine(
        s.engine, s.symbols, adapter, CandleTap(manager, player), clock, on_signals=desk.on_signals
    )
    await engine.start()
    sup.spawn(desk.run(), "desk", critical=True)
    sup.spawn(engine.join(), "engine-watch", critical=True)
    if venue.sandbox is not None:
        sup.spawn(venue.sandbox.run_forever(session.signals.stop), "sandbox-watch", critical=True)
    sup.spawn(reconciler.run(s.session.reconcile_interval_s), "reconcile-periodic", critical=True)
    sup.spawn(housekeeper.account_loop(s.session.equity_interval_s), "session-account", critical=True)
    sup.spawn(housekeeper.weights_loop(s.session.weights_interval_s), "session-weights", critical=True)
    sup.spawn(marks_loop(engine.mark_price, croupier.on_market_event, s.symbols), "session-marks")
    sup.spawn(status_loop(session.view, session.printer, s.session.status_interval_s), "session-status")
    parts_done.metrics = await _start_metrics(session)
    _banner(session, instruments_text=", ".join(s.symbols))
    return parts_done


def _account_name(venue: str, adapter: BinanceAdapter) -> str:
    return "demo account" if venue == "sandbox" else f"{adapter.venue.name} account"


async def _set_leverage(adapter: BinanceAdapter, instruments: dict[str, Instrument], leverage: int) -> None:
    """Set the risk's leverage on every traded symbol (capped by the symbol's brackets when known)."""
    for symbol, instrument in instruments.items():
        wanted = leverage
        if instrument.brackets:
            wanted = min(leverage, max(b.max_leverage for b in instrument.brackets))
        applied = await adapter.set_leverage(symbol, wanted)
        if applied != wanted:
            log.warning("leverage %d asked, %d applied", wanted, applied, symbol=symbol)


async def _seed_from_journal(journal: Journal, risk: RiskEngine, desk: DecisionDesk, now_ms: int) -> None:
    """Replay closed trades into the Kelly statistics and today's realized PnL into the daily tally."""
    day_start = now_ms // DAY_MS * DAY_MS

    def read() -> tuple[list[tuple[Decimal, Decimal]], Decimal]:
        with journal.reader() as reader:
            trades = reader.trades()
            fills = reader.fills()
        closed = []
        for trade in trades:
            if trade.status != "closed" or trade.decision is None:
                continue
            risk_amount = trade.decision.decision.stop_distance * trade.qty
            if risk_amount > 0:
                closed.append((trade.net_pnl, risk_amount))
        today = ZERO
        for jf in fills:
            if jf.fill.ts >= day_start:
                fee = jf.fill.commission if jf.fill.symbol.endswith(jf.fill.commission_asset) else ZERO
                today += jf.fill.realized_pnl - fee
        return closed, today

    closed, today = await asyncio.to_thread(read)
    for pnl, amount in closed:
        risk.record_trade(pnl, amount)
    desk.tally.seed_today(day_start, today)
    if closed:
        log.info("risk statistics seeded with %d closed trades from the journal", len(closed))


async def _start_metrics(session: Session) -> SessionMetrics | None:
    """The Prometheus endpoint and its updater task (``metrics.port`` 0: none)."""
    settings = session.settings.metrics
    if settings.port == 0:
        return None
    metrics = SessionMetrics(session_id=session.session_id, venue=session.parts.venue)
    metrics.start_http(settings.host, settings.port)

    async def update() -> None:
        while True:
            metrics.update_from(session.view)
            await asyncio.sleep(1.0)

    session.supervisor.spawn(update(), "session-metrics")
    return metrics


def _reconcile_line(report: ReconcileReport) -> str:
    found = len(report.differences)
    text = f"reconciled with the exchange: {found} difference{'s' if found != 1 else ''}"
    if report.adopted:
        text += f"; positions adopted: {', '.join(report.adopted)}"
    if report.protected:
        text += f"; protected: {', '.join(report.protected)}"
    if report.errors:
        text += f"; errors: {'; '.join(report.errors)}"
    return text


def _banner(session: Session, *, instruments_text: str) -> None:
    s = session.settings
    r = s.risk
    sample = session.recorder.last_sample
    lines = [
        f"Casino session {session.session_id}",
        f"  venue       {session.parts.venue}",
    ]
    if s.venue == "sandbox" and not s.url:
        speed = s.sandbox.speed
        lines.append(
            f"  sandbox     {speed:g}x real time (one {s.player.timeframe} candle every "
            f"{_wall(s.player.timeframe, speed)} s): paper sessions run the sandbox faster so trades come "
            "within two minutes; --speed 1 for real time"
        )
        lines.append(f"  market      {', '.join(s.sandbox.data) or 'synthetic (no data directory found)'}")
    if sample is not None:
        lines.append(
            f"  account     wallet {sample.wallet_balance:,.2f} USDT, "
            f"available {sample.available_balance:,.2f} USDT"
        )
    lines += [
        f"  symbols     {instruments_text}",
        f"  timeframes  {', '.join(s.engine.timeframes)} (decisions on {s.player.timeframe})",
        f"  risk        {_pct(r.risk_per_trade)} per trade, leverage {r.leverage}x, "
        f"max {r.max_positions} positions, daily loss {_pct(r.daily_loss_limit)}, "
        f"max drawdown {_pct(r.max_drawdown)}",
        f"  state       {Path(s.state.dir).resolve()}",
        "  metrics     " + (f"http://{s.metrics.host}:{s.metrics.port}/metrics" if s.metrics.port else "off"),
        f"  reports     {session.report_folder.resolve()}",
        "  on exit     "
        + ("leave positions open with their stops" if s.session.on_exit == "leave" else "sweep: close all"),
        f"  stop        Ctrl-C (twice: at once); live report: kill -USR2 {os.getpid()}",
    ]
    session.say("\n".join(lines))


def _pct(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}%"


def _wall(timeframe: str, speed: float) -> str:
    return f"{timeframe_ms(timeframe) / 1000 / speed:g}"
