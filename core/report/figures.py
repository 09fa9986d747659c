"""The figures of a session report, computed from the journal's records. Pure: no I/O, no clock.

Money figures are exact Decimal sums of the session's own fills and funding (they are the journal's
:class:`~state.journal_records.JournalTotals`), so they equal the account's wallet change to the cent.
Trade statistics (win rate, profit factor, expectancy, holding time) are over the session's *closed*
round trips; a trade spanning a restart counts with its whole PnL in each session it touched.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from decimal import Decimal

import msgspec

from core.report.model import (
    AccountFacts,
    CrossCheck,
    CrossCheckLine,
    Methodology,
    ReportFigures,
    SensorFigures,
    SymbolFigures,
)
from core.report.stats import YEAR_S, choose_period, max_drawdown, sharpe_ratio, sortino_ratio
from core.types import ZERO
from state.journal_records import (
    EquitySample,
    FundingPayment,
    JournalDecision,
    JournalFill,
    JournalHalt,
    JournalSession,
    JournalTotals,
    JournalTrade,
)

__all__ = [
    "CENT",
    "METHODOLOGY",
    "NO_DECISION",
    "ReportInput",
    "attribute_to_sensors",
    "compute_figures",
    "cross_check",
    "equity_curve",
    "exposure",
    "session_window",
]

CENT = Decimal("0.01")
NO_DECISION = "(no decision)"
_Q8 = Decimal("1e-8")

METHODOLOGY = Methodology(
    sharpe=(
        "Simple returns of the equity curve over a fixed period: the longest of 1d, 4h, 1h, 15m, 5m, 1m that "
        "gives at least 30 returns and is not shorter than the curve's median sampling interval (the period "
        "used is stated). Zero risk-free rate and target; sample standard deviation; annualised by "
        "sqrt(periods per 365-day year). Sortino uses the downside deviation sqrt(mean(min(r,0)^2))."
    ),
    drawdown="Largest fall of the equity curve from its running peak, in money and as a share of that peak.",
    exposure=(
        "Time in market: share of the session with at least one trade open. Average notional: each trade's "
        "entry notional weighted by the time it was open in the session, over the session's duration."
    ),
    attribution=(
        "Each closed trade's net PnL is split among the sensors of its decision that voted its direction, "
        "in proportion to weight x strength (equally when those are all zero); trades without a journaled "
        "decision are listed as '(no decision)'. The rows sum to the closed trades' net PnL."
    ),
    win_rate=(
        "Over closed round trips (flat to flat): a win has net PnL > 0 after fees and funding. Profit factor "
        "= gross profit / gross loss of closed trades; expectancy = their mean net PnL."
    ),
)


class ReportInput(msgspec.Struct, frozen=True, kw_only=True):
    """What the journal holds about one session (see :func:`core.report.source.load_input`)."""

    session: JournalSession
    totals: JournalTotals
    trades: tuple[JournalTrade, ...]
    fills: tuple[JournalFill, ...]
    funding: tuple[FundingPayment, ...]
    equity: tuple[EquitySample, ...]
    decisions: tuple[JournalDecision, ...]
    halts: tuple[JournalHalt, ...] = ()


def session_window(inp: ReportInput) -> tuple[int, int]:
    """The session's start and end (ms); a session without an end runs to its last journaled event."""
    start = inp.session.started_ts
    if inp.session.ended_ts > 0:
        return start, max(start, inp.session.ended_ts)
    stamps = [f.fill.ts for f in inp.fills]
    stamps += (
        [e.ts for e in inp.equity] + [p.ts for p in inp.funding] + [d.decision.ts for d in inp.decisions]
    )
    return start, max([start, *stamps])


def equity_curve(inp: ReportInput, account: AccountFacts) -> tuple[str, list[tuple[int, Decimal]]]:
    """The equity curve and where it came from: the journal's equity samples when there are any, else
    the wallet moved by each fill (realized PnL - commission) and funding payment from the account's
    starting balance (0 when unknown)."""
    if inp.equity:
        return "journal equity samples", [(e.ts, e.equity) for e in inp.equity]
    moves = [(jf.fill.ts, jf.fill.realized_pnl - jf.fill.commission) for jf in inp.fills]
    moves += [(p.ts, p.amount) for p in inp.funding]
    if not moves:
        return "none", []
    moves.sort(key=lambda m: m[0])
    start, _ = session_window(inp)
    level = account.wallet_start if account.wallet_start is not None else ZERO
    curve = [(min(start, moves[0][0]), level)]
    for ts, amount in moves:
        level += amount
        curve.append((ts, level))
    return "fills and funding", curve


def _clipped(trade: JournalTrade, start: int, end: int) -> tuple[int, int]:
    close = trade.closed_ts if trade.status == "closed" else end
    return max(trade.opened_ts, start), min(close, end)


def exposure(trades: Sequence[JournalTrade], start: int, end: int) -> tuple[float | None, Decimal]:
    """Share of ``[start, end]`` with at least one trade open, and the time-weighted entry notional."""
    duration = end - start
    if duration <= 0:
        return None, ZERO
    spans = sorted(s for s in (_clipped(t, start, end) for t in trades) if s[1] > s[0])
    covered = 0
    cursor = start
    for lo, hi in spans:
        begin = max(lo, cursor)
        if hi > begin:
            covered += hi - begin
            cursor = hi
    weighted = sum(
        (t.entry_notional * (hi - lo) for t in trades for lo, hi in [_clipped(t, start, end)] if hi > lo),
        ZERO,
    )
    return covered / duration, (weighted / duration).quantize(_Q8)


def attribute_to_sensors(trades: Iterable[JournalTrade]) -> tuple[SensorFigures, ...]:
    """Closed trades' net PnL split among their decision's sensors (see :data:`METHODOLOGY`)."""
    pnl: dict[str, Decimal] = {}
    count: Counter[str] = Counter()
    wins: Counter[str] = Counter()
    for t in trades:
        if t.status != "closed":
            continue
        reasons = t.decision.decision.reasons if t.decision is not None else ()
        voters = [r for r in reasons if r.direction == t.side.sign] or list(reasons)
        if not voters:
            shares = {NO_DECISION: t.net_pnl}
        else:
            raw = {r.sensor_id: Decimal(0) for r in voters}
            for r in voters:
                raw[r.sensor_id] += Decimal(repr(max(r.weight * r.strength, 0.0)))
            total = sum(raw.values(), ZERO)
            if total == 0:
                raw = dict.fromkeys(raw, Decimal(1))
                total = Decimal(len(raw))
            shares = {sid: (t.net_pnl * w / total).quantize(_Q8) for sid, w in raw.items()}
            # The rounding residue goes to the largest share, so the split sums to the trade exactly.
            top = max(raw, key=lambda sid: (raw[sid], sid))
            shares[top] += t.net_pnl - sum(shares.values(), ZERO)
        for sid, amount in shares.items():
            pnl[sid] = pnl.get(sid, ZERO) + amount
            count[sid] += 1
            wins[sid] += t.net_pnl > 0
    return tuple(
        SensorFigures(sensor_id=sid, trades=count[sid], wins=wins[sid], net_pnl=pnl[sid])
        for sid in sorted(pnl, key=lambda s: (-pnl[s], s))
    )


def _per_symbol(inp: ReportInput) -> tuple[SymbolFigures, ...]:
    symbols = sorted({jf.fill.symbol for jf in inp.fills} | {p.symbol for p in inp.funding})
    out = []
    for symbol in symbols:
        fills = [jf.fill for jf in inp.fills if jf.fill.symbol == symbol]
        trades = [t for t in inp.trades if t.symbol == symbol]
        realized = sum((f.realized_pnl for f in fills), ZERO)
        fees = sum((f.commission for f in fills), ZERO)
        funding = sum((p.amount for p in inp.funding if p.symbol == symbol), ZERO)
        closed = [t for t in trades if t.status == "closed"]
        out.append(
            SymbolFigures(
                symbol=symbol,
                fills=len(fills),
                trades=len(trades),
                closed_trades=len(closed),
                wins=sum(1 for t in closed if t.net_pnl > 0),
                realized_pnl=realized,
                fees=fees,
                funding=funding,
                net_pnl=realized - fees + funding,
                volume=sum((abs(f.quote_qty) for f in fills), ZERO),
            )
        )
    return tuple(out)


def _line(name: str, journal: Decimal, account: Decimal | None, tolerance: Decimal) -> CrossCheckLine:
    if account is None:
        return CrossCheckLine(name=name, journal=journal, account=None, difference=None, ok=None)
    diff = journal - account
    return CrossCheckLine(
        name=name, journal=journal, account=account, difference=diff, ok=abs(diff) < tolerance
    )


def cross_check(totals: JournalTotals, account: AccountFacts, *, tolerance: Decimal = CENT) -> CrossCheck:
    """The journal's net PnL, realized PnL, fees and funding against the account's (to ``tolerance``)."""
    wallet_change = (
        account.wallet_end - account.wallet_start
        if account.wallet_start is not None and account.wallet_end is not None
        else None
    )
    fees_paid = -account.commission if account.commission is not None else None
    lines = (
        _line("net PnL vs wallet balance change", totals.net_pnl, wallet_change, tolerance),
        _line("realized PnL vs income REALIZED_PNL", totals.realized_pnl, account.realized_pnl, tolerance),
        _line("fees vs income COMMISSION (paid)", totals.fees, fees_paid, tolerance),
        _line("funding vs income FUNDING_FEE", totals.funding, account.funding, tolerance),
    )
    checked = [line for line in lines if line.ok is not None]
    if not checked:
        return CrossCheck(
            tolerance=tolerance, lines=lines, ok=None, message="no account figures were given: not checked"
        )
    bad = [line.name for line in checked if not line.ok]
    if bad:
        message = (
            f"MISMATCH with the {account.source or 'exchange account'}: {', '.join(bad)}. The journal may be "
            "missing fills or funding (check reconciliation), or the account moved for other reasons "
            "(transfers, another program trading it)."
        )
        return CrossCheck(tolerance=tolerance, lines=lines, ok=False, message=message)
    return CrossCheck(
        tolerance=tolerance,
        lines=lines,
        ok=True,
        message=f"the journal equals the {account.source or 'exchange account'} to the cent",
    )


def _mean(values: Sequence[Decimal]) -> Decimal | None:
    return (sum(values, ZERO) / len(values)).quantize(_Q8) if values else None


def compute_figures(inp: ReportInput, account: AccountFacts) -> ReportFigures:
    """Every figure of the report (see :data:`METHODOLOGY` for the definitions)."""
    totals = inp.totals
    start, end = session_window(inp)
    closed = [t for t in inp.trades if t.status == "closed"]
    pnls = [t.net_pnl for t in closed]
    winners = [p for p in pnls if p > 0]
    losers = [p for p in pnls if p < 0]
    gross_profit = sum(winners, ZERO)
    gross_loss = -sum(losers, ZERO)
    source, curve = equity_curve(inp, account)
    period, returns = choose_period(curve)
    per_year = YEAR_S / period if period else 0.0
    dd, dd_pct = max_drawdown(curve)
    in_market, avg_notional = exposure(inp.trades, start, end)
    priced = [t for t in inp.trades if t.reference_price > 0 and t.qty > 0]
    slippage = sum((t.slippage for t in priced), ZERO)
    reference_notional = sum((t.reference_price * t.qty for t in priced), ZERO)
    rejected = Counter(d.verdict.reason or "unspecified" for d in inp.decisions if not d.verdict.accepted)
    holding = [t.holding_ms / 1000 for t in closed]
    return ReportFigures(
        net_pnl=totals.net_pnl,
        realized_pnl=totals.realized_pnl,
        fees=totals.fees,
        funding=totals.funding,
        volume=totals.volume,
        fills=totals.fills,
        trades=len(inp.trades),
        closed_trades=len(closed),
        open_trades=len(inp.trades) - len(closed),
        wins=len(winners),
        losses=len(losers),
        win_rate=len(winners) / len(closed) if closed else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        profit_factor=float(gross_profit / gross_loss) if gross_loss > 0 else None,
        expectancy=_mean(pnls),
        average_win=_mean(winners),
        average_loss=_mean(losers),
        average_holding_s=sum(holding) / len(holding) if holding else None,
        sharpe=sharpe_ratio(returns, per_year) if period else None,
        sortino=sortino_ratio(returns, per_year) if period else None,
        return_period_s=period,
        returns_used=len(returns),
        equity_start=curve[0][1] if curve else None,
        equity_end=curve[-1][1] if curve else None,
        equity_source=source,
        max_drawdown=dd,
        max_drawdown_pct=dd_pct,
        duration_s=(end - start) / 1000,
        time_in_market=in_market,
        average_notional=avg_notional,
        average_trade_notional=_mean([t.entry_notional for t in inp.trades]),
        slippage=slippage,
        slippage_bps=float(slippage / reference_notional * 10_000) if reference_notional > 0 else None,
        decisions=len(inp.decisions),
        decisions_accepted=sum(1 for d in inp.decisions if d.verdict.accepted),
        rejections=dict(sorted(rejected.items())),
        exit_reasons=dict(sorted(Counter(t.exit_reason or "unknown" for t in closed).items())),
        per_symbol=_per_symbol(inp),
        per_sensor=attribute_to_sensors(inp.trades),
    )
