"""The live report (SIGUSR2): what a running session is doing, as plain text for a terminal.

Rendered only from the :class:`~core.session_view.SessionView`'s in-memory answers (no I/O), so it can be
asked for at any moment without disturbing trading. Sections: account and PnL, positions with their
protection, risk and halts, decisions, connectivity (breakers, rate limits, streams, API errors), engine and
sensors, execution, and the last decisions with their reasons.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from core.report.text import duration, money, number, reasons_text, timestamp
from core.session_view import SessionView
from core.types import ZERO

__all__ = ["LAST_DECISIONS", "live_report"]

LAST_DECISIONS = 10
_WIDTH = 100


def _columns(rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Rows as left-aligned columns (the first row is the header)."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def _pairs(items: Mapping[str, object] | Iterable[tuple[str, object]], empty: str = "none") -> str:
    pairs = list(items.items()) if isinstance(items, Mapping) else list(items)
    return ", ".join(f"{k} {v}" for k, v in pairs) if pairs else empty


def _price(value: Decimal | None) -> str:
    return "-" if value is None else format(value.normalize(), "f")


def _section(title: str) -> list[str]:
    return ["", f"── {title} " + "─" * max(0, _WIDTH - len(title) - 4)]


def _account(view: SessionView) -> list[str]:
    state = view.state()
    now = view.account()
    start = view.account_start()
    out = _section("ACCOUNT")
    if now is None:
        out.append("  no account sample yet")
    else:
        change = now.equity - start.equity if start is not None else None
        out.append(
            f"  equity {money(now.equity, signed=False)} USDT"
            f" (wallet {money(now.wallet_balance, signed=False)}, unrealized {money(now.unrealized_pnl)},"
            f" available {money(now.available_balance, signed=False)})"
        )
        out.append(f"  equity change since start {money(change)}")
    net = state.realized_pnl_session - state.fees_session
    out.append(
        f"  session PnL: realized {money(state.realized_pnl_session)},"
        f" fees {money(state.fees_session, signed=False)}, net of fees {money(net)};"
        f" funding (all time) {money(state.funding_total)}"
    )
    if now is not None and state.peak_equity > 0:
        drawdown = max(ZERO, state.peak_equity - now.equity)
        share = float(drawdown / state.peak_equity) * 100
        out.append(
            f"  peak equity {money(state.peak_equity, signed=False)},"
            f" drawdown {money(drawdown, signed=False)} ({share:.2f}%)"
        )
    return out


def _positions(view: SessionView) -> list[str]:
    rows = [p for p in view.protection() if p.qty != 0 or p.bracket_status]
    out = _section(f"POSITIONS ({sum(1 for p in rows if p.qty != 0)} open)")
    if not rows:
        return [*out, "  flat on every symbol"]
    table = [
        ["symbol", "side", "qty", "entry", "mark", "uPnL", "bracket", "take-profit", "stop-loss", "protected"]
    ]
    for p in rows:
        side = "LONG" if p.qty > 0 else "SHORT" if p.qty < 0 else "flat"
        table.append(
            [
                p.symbol,
                side,
                _price(abs(p.qty)),
                _price(p.entry_price) if p.qty else "-",
                _price(p.mark_price),
                money(p.unrealized_pnl),
                p.bracket_status or "none",
                _price(p.take_profit),
                _price(p.stop_loss),
                "yes" if p.protected else "NO — UNPROTECTED",
            ]
        )
    return out + _columns(table)


def _risk(view: SessionView) -> list[str]:
    c = view.counters()
    halts = view.halts()
    out = _section("RISK AND DECISIONS")
    if halts:
        for h in halts:
            until = "until cleared" if h.until_ts == 0 else f"until {timestamp(h.until_ts)} UTC"
            out.append(f"  HALTED ({h.kind}): {h.reason}, since {timestamp(h.since_ts)} UTC, {until}")
    else:
        out.append("  trading: no halt active")
    out.append(
        f"  decisions {c.decisions}: accepted {c.accepted}, rejected {c.rejected}, executed {c.executed},"
        f" failed {c.failed}; fills {c.fills}; reconciliations {c.reconciliations};"
        f" halts raised {c.halts_raised}"
    )
    out.append(f"  risk rejections: {_pairs(sorted(view.risk_rejections().items()))}")
    out.append(f"  player evaluations: {_pairs(sorted(view.player_outcomes().items()))}")
    return out


def _connectivity(view: SessionView) -> list[str]:
    c = view.counters()
    s = view.streams()
    usage = sorted(view.rate_limit_usage().items())
    out = _section("CONNECTIVITY")
    out.append(f"  breakers: {_pairs(view.breakers(), 'not connected')}")
    out.append(f"  rate limits used: {_pairs((k, f'{v * 100:.1f}%') for k, v in usage)}")
    out.append(
        f"  market stream: {'connected' if s.market_connected else 'DISCONNECTED'},"
        f" {s.market_messages} messages, {s.market_reconnects} reconnects,"
        f" gaps backfilled {s.market_gaps_backfilled}, left {s.market_gaps_left}"
    )
    out.append(
        f"  user stream: {'connected' if s.user_connected else 'DISCONNECTED'}, {s.user_messages} messages,"
        f" {s.user_reconnects} reconnects, {s.user_reconciles} reconciliations asked"
    )
    out.append(f"  REST: {c.api_requests} requests, {c.api_errors} errors")
    return out


def _engine(view: SessionView) -> list[str]:
    out = _section("ENGINE AND SENSORS")
    stats = view.engine_stats()
    if stats is None:
        out.append("  engine not started")
    else:
        out.append(
            f"  events {stats.events_in} (accepted {stats.accepted}, queue depth {stats.queue_depth},"
            f" lost to a full queue {stats.queue_full}); candles closed {_pairs(stats.candles_closed)}"
        )
        out.append(f"  rejected data: {_pairs(sorted(stats.rejected.items()))}")
        out.append(f"  signals {stats.signals}; evaluation errors {stats.evaluate_errors}")
    sensors = view.sensors()
    if sensors is not None:
        out.append(
            f"  sensor latency per batch p50 {number(sensors.evaluate_p50_ms, 1)} ms, p99"
            f" {number(sensors.evaluate_p99_ms, 1)} ms over {sensors.batches} batches;"
            f" {sensors.workers} workers, {sensors.restarts} restarts"
        )
    executions = view.executions()
    if executions.recent_s:
        recent = sorted(executions.recent_s)
        median = recent[len(recent) // 2]
        out.append(
            f"  order execution: {executions.count} brackets, median {median * 1000:.0f} ms,"
            f" slowest recent {recent[-1] * 1000:.0f} ms"
        )
    return out


def _decisions(view: SessionView) -> list[str]:
    records = view.decisions(LAST_DECISIONS)
    out = _section(f"LAST {len(records)} DECISIONS (newest last)")
    if not records:
        return [*out, "  none yet"]
    for r in records:
        d, v = r.decision, r.verdict
        verdict = (
            f"accepted qty {_price(v.qty)} notional {money(v.notional, signed=False)} x{v.leverage}"
            if v.accepted
            else f"rejected: {v.reason}"
        )
        out.append(
            f"  {timestamp(d.ts)} {d.symbol} {d.side} {d.timeframe} conviction {d.conviction:.2f} @"
            f" {_price(d.reference_price)} → {r.outcome} ({verdict})"
        )
        detail = f"; {r.detail}" if r.detail else ""
        out.append(f"      reasons: {reasons_text(d.reasons) or 'none'}{detail}")
    return out


def live_report(view: SessionView) -> str:
    """The live report of a running session, as text lines for a terminal (ends with a newline)."""
    now = view.now_ms()
    running = max(0, now - view.started_ms) / 1000
    halted = " — HALTED" if view.halts() else ""
    lines = [
        f"Casino live report — session {view.session_id} — {view.venue}{halted}",
        f"session clock {timestamp(now)} UTC, running {duration(running)} (exchange time);"
        f" symbols {', '.join(view.settings.symbols)}",
    ]
    for part in (_account, _positions, _risk, _connectivity, _engine, _decisions):
        lines += part(view)
    return "\n".join(lines) + "\n"
