"""The compact live status line of a session: equity, PnL, positions, decisions, last price per symbol.

Pure formatting over a :class:`~core.session_view.SessionView`; the session prints it every
``session.status_interval_s`` (rewriting one terminal line on a TTY, one line each otherwise).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TextIO

from core.session_view import SessionView

__all__ = ["StatusPrinter", "status_line"]

_WIDTH = 200


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _signed(value: Decimal) -> str:
    return f"{value:+,.2f}"


def _price(value: Decimal) -> str:
    """A price for the eye: cents from 1 up (mark prices carry many decimals), 6 decimals below."""
    return f"{value:,.2f}" if abs(value) >= 1 else f"{value:.6f}"


def status_line(view: SessionView) -> str:
    """One line: session time, equity and its change, realized PnL, open positions, decisions, prices."""
    now = datetime.fromtimestamp(view.now_ms() / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")
    parts = [now]
    sample, first = view.account(), view.account_start()
    if sample is not None:
        change = f" ({_signed(sample.equity - first.equity)})" if first is not None else ""
        parts.append(f"equity {_money(sample.equity)}{change}")
    state = view.state()
    parts.append(f"pnl {_signed(state.realized_pnl_session - state.fees_session)}")
    open_positions = [p for p in state.positions.values() if p.qty != 0]
    protected = sum(1 for p in view.protection() if p.qty != 0 and p.protected)
    parts.append(f"pos {len(open_positions)} ({protected} protected)")
    counters = view.counters()
    parts.append(f"dec {counters.decisions} ok {counters.executed} no {counters.rejected}")
    halts = view.halts()
    if halts:
        parts.append("HALTED " + ",".join(h.kind for h in halts))
    for symbol, price in sorted(view.last_prices().items()):
        parts.append(f"{symbol} {_price(price)}")
    return "  ".join(parts)


class StatusPrinter:
    """Prints status lines to ``out``: rewritten in place on a terminal, one per line otherwise."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._tty = out.isatty()
        self._dirty = False

    def show(self, line: str) -> None:
        if self._tty:
            self._out.write("\r" + line[:_WIDTH].ljust(_WIDTH))
            self._dirty = True
        else:
            self._out.write(line + "\n")
        self._out.flush()

    def say(self, text: str) -> None:
        """Print a message on its own line(s), without breaking the status line on a terminal."""
        if self._dirty:
            self._out.write("\n")
            self._dirty = False
        self._out.write(text if text.endswith("\n") else text + "\n")
        self._out.flush()
