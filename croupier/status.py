"""The Croupier's status for reports and the live status line: open brackets, and each position's stop."""

from __future__ import annotations

from croupier.model import CroupierStatus, StopHealth, SymbolProtection
from croupier.oco import OcoBook
from croupier.tracker import PositionTracker
from state.model import StateSnapshot

__all__ = ["build_status"]


def build_status(
    snap: StateSnapshot, tracker: PositionTracker, oco: OcoBook, now_ms: int, **counters: object
) -> CroupierStatus:
    """Brackets from ``snap``, every open position valued by ``tracker`` with its stop's health from ``oco``;
    ``counters`` are the remaining :class:`CroupierStatus` fields."""
    protection = []
    for view in tracker.views():
        bracket = snap.brackets.get(view.symbol)
        stop_id = bracket.sl_client_id if bracket is not None else ""
        protection.append(
            SymbolProtection(
                symbol=view.symbol,
                qty=view.qty,
                entry_price=view.entry_price,
                stop=oco.stop_health(stop_id, now_ms) if stop_id else StopHealth.MISSING,
                stop_client_id=stop_id,
                bracket_status=bracket.status.value if bracket is not None else "",
                mark_price=view.mark_price,
                unrealized_pnl=view.unrealized_pnl,
            )
        )
    brackets = tuple(snap.brackets[s] for s in sorted(snap.brackets))
    return CroupierStatus(ts=now_ms, brackets=brackets, protection=tuple(protection), **counters)  # type: ignore[arg-type]
