"""Formatting shared by the Markdown, HTML and terminal renderings: money, ratios, times, and the rows of
the report's tables (so every rendering shows the same numbers the same way)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from core.decisions import Reason
from core.report.model import Methodology, ReportDocument
from state.journal_records import JournalTrade

__all__ = [
    "TRADE_COLUMNS",
    "duration",
    "exact",
    "figure_rows",
    "methodology_rows",
    "money",
    "number",
    "percent",
    "reasons_text",
    "timestamp",
    "trade_row",
]

_CENT = Decimal("0.01")


def money(value: Decimal | None, *, signed: bool = True) -> str:
    """``value`` rounded to the cent (half-even) with thousands separators; "n/a" for None."""
    if value is None:
        return "n/a"
    rounded = value.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.00"
    return f"{rounded:+,.2f}" if signed else f"{rounded:,.2f}"


def exact(value: Decimal | None) -> str:
    """``value`` exactly as the journal holds it (trailing zeros dropped); "n/a" for None."""
    if value is None:
        return "n/a"
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def number(value: float | None, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals ("0.00", never "-0.00"); "n/a" for None."""
    if value is None:
        return "n/a"
    text = f"{value:,.{digits}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.,") else text


def percent(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{value * 100:.{digits}f}%"


def duration(seconds: float | None) -> str:
    """``seconds`` as e.g. ``2h 05m``, ``3m 07s`` or ``12.5s``."""
    if seconds is None:
        return "n/a"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours:02d}h {minutes:02d}m"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def timestamp(ms: int) -> str:
    """A venue time (ms) as ``YYYY-MM-DD HH:MM:SS`` UTC; "-" for 0."""
    if ms <= 0:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def reasons_text(reasons: Sequence[Reason]) -> str:
    """Each sensor's vote: ``id@timeframe`` with direction (+ long, - short), strength × weight."""
    parts = []
    for r in reasons:
        sign = "+" if r.direction > 0 else "-" if r.direction < 0 else "0"
        parts.append(f"{r.sensor_id}@{r.timeframe} {sign}{r.strength:.2f}×{r.weight:.2f}")
    return ", ".join(parts)


def _ratio(value: float | None) -> str:
    return number(value, 2)


def figure_rows(doc: ReportDocument) -> list[tuple[str, str]]:
    """The summary table: (figure, value) in reading order."""
    f = doc.figures
    asset = doc.account.asset
    period = duration(f.return_period_s) if f.return_period_s else "n/a"
    profit_factor = (
        _ratio(f.profit_factor) if f.profit_factor is not None else ("∞" if f.gross_profit > 0 else "n/a")
    )
    return [
        (f"Net PnL ({asset})", money(f.net_pnl)),
        ("Realized PnL", money(f.realized_pnl)),
        ("Fees paid", money(f.fees, signed=False)),
        ("Funding (received +)", money(f.funding)),
        ("Volume traded", money(f.volume, signed=False)),
        ("Fills", str(f.fills)),
        ("Trades (closed / open)", f"{f.trades} ({f.closed_trades} / {f.open_trades})"),
        ("Win rate", f"{percent(f.win_rate)} ({f.wins} won, {f.losses} lost)"),
        ("Profit factor", profit_factor),
        ("Expectancy per closed trade", money(f.expectancy)),
        ("Average win / loss", f"{money(f.average_win)} / {money(f.average_loss)}"),
        ("Sharpe (annualised)", f"{_ratio(f.sharpe)} ({f.returns_used} returns of {period})"),
        ("Sortino (annualised)", _ratio(f.sortino)),
        ("Maximum drawdown", f"{money(f.max_drawdown, signed=False)} ({percent(f.max_drawdown_pct, 2)})"),
        (
            "Equity start → end",
            f"{money(f.equity_start, signed=False)} → {money(f.equity_end, signed=False)}",
        ),
        ("Time in market", percent(f.time_in_market)),
        ("Average notional (time-weighted)", money(f.average_notional, signed=False)),
        ("Average trade notional", money(f.average_trade_notional, signed=False)),
        ("Average holding time", duration(f.average_holding_s)),
        ("Slippage vs decision price", f"{money(f.slippage)} ({number(f.slippage_bps, 2)} bps)"),
        ("Decisions (accepted)", f"{f.decisions} ({f.decisions_accepted})"),
        ("Session duration", duration(f.duration_s)),
    ]


TRADE_COLUMNS = (
    "#",
    "Symbol",
    "Side",
    "Status",
    "Opened (UTC)",
    "Closed (UTC)",
    "Held",
    "Qty",
    "Entry",
    "Exit",
    "Net PnL",
    "Fees",
    "Funding",
    "Slippage bps",
    "Exit reason",
    "Decision and reasons",
)


def trade_row(index: int, t: JournalTrade) -> tuple[str, ...]:
    """One trade as table cells (see :data:`TRADE_COLUMNS`)."""
    if t.decision is not None:
        d = t.decision.decision
        why = f"{d.decision_id} (conviction {d.conviction:.2f}): {reasons_text(d.reasons)}"
    else:
        why = "no journaled decision"
    return (
        str(index),
        t.symbol,
        "LONG" if t.side.sign > 0 else "SHORT",
        t.status,
        timestamp(t.opened_ts),
        timestamp(t.closed_ts),
        duration(t.holding_ms / 1000) if t.status == "closed" else "open",
        exact(t.qty),
        exact(t.entry_price.quantize(Decimal("1e-8"))),
        exact(t.exit_price.quantize(Decimal("1e-8"))) if t.exit_qty else "-",
        money(t.net_pnl),
        money(t.fees, signed=False),
        money(t.funding),
        number(t.slippage_bps, 2) if t.reference_price > 0 else "n/a",
        t.exit_reason or "-",
        why,
    )


def methodology_rows(m: Methodology) -> list[tuple[str, str]]:
    """(topic, how it is computed) for the report's closing section."""
    return [(name.replace("_", " ").capitalize(), str(getattr(m, name))) for name in m.__struct_fields__]
