"""The report as Markdown (GitHub flavour): the same content as the HTML page, plots linked beside it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from core.report.model import ReportDocument
from core.report.text import (
    TRADE_COLUMNS,
    exact,
    figure_rows,
    methodology_rows,
    money,
    percent,
    timestamp,
    trade_row,
)

__all__ = ["render_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def render_markdown(doc: ReportDocument) -> str:
    """The whole report as one Markdown document."""
    s = doc.session
    f = doc.figures
    check = doc.cross_check
    out = [
        f"# Casino session {s.session_id}",
        "",
        f"- Venue: {s.venue}; account: {s.account or '-'}; symbols: {', '.join(s.symbols)}",
        f"- Started {timestamp(s.started_ts)} UTC; ended {timestamp(s.ended_ts)} UTC; status: {s.status}",
        f"- Journal: `{doc.journal}`",
        "",
    ]
    if check.ok is False:
        out += [f"> **⚠ {check.message}**", ""]
    out += ["## Figures", "", *_table(("Figure", "Value"), figure_rows(doc))]
    out += [
        "## Journal against the account",
        "",
        f"{check.message} (tolerance {exact(check.tolerance)}).",
        "",
    ]
    out += _table(
        ("Check", "Journal", "Account", "Difference", "Result"),
        (
            (
                line.name,
                exact(line.journal),
                exact(line.account),
                exact(line.difference),
                "not checked" if line.ok is None else "OK" if line.ok else "MISMATCH",
            )
            for line in check.lines
        ),
    )
    out += ["## Plots", ""]
    out += [f"![{name}]({file})" for name, file in doc.plots.items()]
    out += ["", "## Per symbol", ""]
    out += _table(
        ("Symbol", "Fills", "Trades", "Closed", "Wins", "Realized", "Fees", "Funding", "Net PnL"),
        (
            (
                p.symbol,
                str(p.fills),
                str(p.trades),
                str(p.closed_trades),
                str(p.wins),
                money(p.realized_pnl),
                money(p.fees, signed=False),
                money(p.funding),
                money(p.net_pnl),
            )
            for p in f.per_symbol
        ),
    )
    out += ["## Attribution per sensor (closed trades)", ""]
    out += _table(
        ("Sensor", "Trades", "Win rate", "Net PnL share"),
        (
            (p.sensor_id, str(p.trades), percent(p.wins / p.trades if p.trades else None), money(p.net_pnl))
            for p in f.per_sensor
        ),
    )
    out += ["## Decisions", ""]
    out += [f"{f.decisions} decisions, {f.decisions_accepted} accepted by the risk engine.", ""]
    out += _table(("Rejection reason", "Count"), ((k, str(v)) for k, v in f.rejections.items()))
    out += _table(("Exit reason", "Trades"), ((k, str(v)) for k, v in f.exit_reasons.items()))
    if doc.halts:
        out += ["## Trading halts", ""]
        out += _table(
            ("Kind", "Reason", "Since (UTC)", "Until (UTC)"),
            ((h.kind, h.reason, timestamp(h.since_ts), timestamp(h.until_ts)) for h in doc.halts),
        )
    out += [f"## Trades ({len(doc.trades)})", ""]
    out += _table(TRADE_COLUMNS, (trade_row(i, t) for i, t in enumerate(doc.trades, 1)))
    out += ["## How the figures are computed", ""]
    out += [f"- **{name}**: {text}" for name, text in methodology_rows(doc.methodology)]
    return "\n".join(out) + "\n"
