"""PositionTracker: positions and PnL as the StateManager holds them, valued at the latest mark price.

The tracker owns no position: quantity, entry price, realized PnL, fees and funding are read from the
StateManager's snapshot on every call (the state layer is their only holder). What it adds is the mark
price per symbol, fed from the market stream, to value the open positions (unrealized PnL).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.types import ZERO, MarkPrice
from state.manager import StateManager
from state.model import PositionState, money

__all__ = ["PositionTracker", "PositionView"]


class PositionView(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol's position from state, with the mark it was valued at."""

    symbol: str
    qty: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    opened_ts: int


class PositionTracker:
    """Reads positions and PnL from state; keeps the latest mark per symbol for unrealized PnL."""

    def __init__(self, state: StateManager) -> None:
        self._state = state
        self._marks: dict[str, Decimal] = {}

    def on_mark(self, mark: MarkPrice) -> None:
        """The latest mark price of a symbol (from the market stream)."""
        self._marks[mark.symbol] = mark.mark_price

    def mark(self, symbol: str) -> Decimal | None:
        return self._marks.get(symbol)

    def position(self, symbol: str) -> PositionState:
        """The symbol's position as state holds it (flat if it never traded)."""
        return self._state.get_snapshot().position(symbol)

    def open_positions(self) -> dict[str, PositionState]:
        """Every non-flat position in state, by symbol."""
        return {s: p for s, p in self._state.get_snapshot().positions.items() if p.qty != 0}

    def view(self, symbol: str) -> PositionView:
        """The position valued at the latest mark (unrealized PnL 0 while no mark has been seen)."""
        return _view(self.position(symbol), self._marks.get(symbol))

    def views(self) -> list[PositionView]:
        """Every open position, valued."""
        return [_view(p, self._marks.get(s)) for s, p in sorted(self.open_positions().items())]

    def unrealized_total(self) -> Decimal:
        return sum((v.unrealized_pnl for v in self.views()), ZERO)

    def realized_total(self) -> Decimal:
        """Realized PnL since the state directory was created (before fees and funding)."""
        return self._state.get_snapshot().realized_pnl_total

    def fees_total(self) -> Decimal:
        return self._state.get_snapshot().fees_total


def _view(pos: PositionState, mark: Decimal | None) -> PositionView:
    unrealized = money((mark - pos.entry_price) * pos.qty) if mark is not None and pos.qty else ZERO
    return PositionView(
        symbol=pos.symbol,
        qty=pos.qty,
        entry_price=pos.entry_price,
        mark_price=mark if mark is not None else ZERO,
        unrealized_pnl=unrealized,
        realized_pnl=pos.realized_pnl,
        fees=pos.fees,
        funding=pos.funding,
        opened_ts=pos.opened_ts,
    )
