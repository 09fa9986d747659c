"""The report as one self-contained HTML page: inline CSS, plots embedded as base64 PNG, no external
reference of any kind (it opens the same offline, from a mail attachment or a CI artifact)."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping, Sequence
from html import escape

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

__all__ = ["render_html"]

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px auto;
       max-width: 1200px; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 28px; border-bottom: 1px solid #ddd; }
.meta { color: #555; } code { background: #f3f3f5; padding: 1px 4px; border-radius: 3px; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eee; text-align: left; vertical-align: top; }
th { background: #f6f7f9; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.pos { color: #1a7f45; } .neg { color: #b3261e; }
.alert { background: #fde7e7; border: 2px solid #b3261e; color: #7a1111; padding: 12px 16px; font-weight: 600;
         font-size: 16px; border-radius: 6px; }
.ok { background: #e6f4ea; border: 1px solid #1a7f45; color: #0f5132; padding: 8px 12px; border-radius: 6px; }
.plots img { max-width: 100%; border: 1px solid #eee; margin: 6px 0; }
.trades td { font-size: 12px; } .small { font-size: 12px; color: #555; }
"""


def _cls(text: str) -> str:
    if text.startswith("+") and text.strip("+0.,") != "":
        return ' class="num pos"'
    if text.startswith("-") and text.strip("-0.,") != "":
        return ' class="num neg"'
    return ' class="num"' if text[:1].isdigit() else ""


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], css: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td{_cls(cell)}>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    klass = f' class="{css}"' if css else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(doc: ReportDocument, plots: Mapping[str, bytes]) -> str:
    """The whole report as an HTML document; ``plots`` are the PNG bytes by name, embedded inline."""
    s = doc.session
    f = doc.figures
    check = doc.cross_check
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Casino session {escape(s.session_id)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Casino session {escape(s.session_id)}</h1>",
        f'<p class="meta">Venue <b>{escape(s.venue)}</b>, account {escape(s.account or "-")}, symbols '
        f"{escape(', '.join(s.symbols))}<br>Started {timestamp(s.started_ts)} UTC, ended "
        f"{timestamp(s.ended_ts)} UTC, status {escape(s.status)}<br>"
        f"Journal <code>{escape(doc.journal)}</code></p>",
    ]
    if check.ok is False:
        parts.append(f'<div class="alert">⚠ {escape(check.message)}</div>')
    elif check.ok:
        parts.append(f'<div class="ok">✓ {escape(check.message)}</div>')
    parts += ["<h2>Figures</h2>", _table(("Figure", "Value"), figure_rows(doc))]
    parts += [
        "<h2>Journal against the account</h2>",
        f"<p>{escape(check.message)} (tolerance {escape(exact(check.tolerance))}).</p>",
        _table(
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
        ),
    ]
    parts.append('<h2>Plots</h2><div class="plots">')
    for name, png in plots.items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f'<img alt="{escape(name)}" src="data:image/png;base64,{data}"><br>')
    parts.append("</div>")
    parts += [
        "<h2>Per symbol</h2>",
        _table(
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
        ),
        "<h2>Attribution per sensor (closed trades)</h2>",
        _table(
            ("Sensor", "Trades", "Win rate", "Net PnL share"),
            (
                (
                    p.sensor_id,
                    str(p.trades),
                    percent(p.wins / p.trades if p.trades else None),
                    money(p.net_pnl),
                )
                for p in f.per_sensor
            ),
        ),
        "<h2>Decisions</h2>",
        f"<p>{f.decisions} decisions, {f.decisions_accepted} accepted by the risk engine.</p>",
        _table(("Rejection reason", "Count"), ((k, str(v)) for k, v in f.rejections.items())),
        _table(("Exit reason", "Trades"), ((k, str(v)) for k, v in f.exit_reasons.items())),
    ]
    if doc.halts:
        parts += [
            "<h2>Trading halts</h2>",
            _table(
                ("Kind", "Reason", "Since (UTC)", "Until (UTC)"),
                ((h.kind, h.reason, timestamp(h.since_ts), timestamp(h.until_ts)) for h in doc.halts),
            ),
        ]
    parts += [
        f"<h2>Trades ({len(doc.trades)})</h2>",
        _table(TRADE_COLUMNS, (trade_row(i, t) for i, t in enumerate(doc.trades, 1)), "trades"),
        "<h2>How the figures are computed</h2><ul>",
        *(f"<li><b>{escape(n)}</b>: {escape(t)}</li>" for n, t in methodology_rows(doc.methodology)),
        "</ul>",
        '<p class="small">Money figures are exact sums of the journal; report.json holds them unrounded.</p>',
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
