"""Leverage brackets and margin arithmetic (pure functions).

Binance's tiered maintenance margin: for a notional ``N`` in bracket ``b``,
``maint = N * maintMarginRatio_b - cum_b``; the initial margin of a position is ``N / leverage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from core.types import ZERO, LeverageBracket

__all__ = [
    "bracket_for",
    "liquidation_price",
    "maint_margin",
    "max_leverage",
    "max_notional_for_leverage",
]


def bracket_for(brackets: Sequence[LeverageBracket], notional: Decimal) -> LeverageBracket:
    """The bracket whose notional range holds ``notional`` (the last one beyond every cap)."""
    n = abs(notional)
    for b in brackets:
        if n < b.notional_cap:
            return b
    return brackets[-1]


def maint_margin(brackets: Sequence[LeverageBracket], notional: Decimal) -> Decimal:
    """Maintenance margin of a position of absolute notional ``notional``."""
    if not brackets or notional == 0:
        return ZERO
    b = bracket_for(brackets, notional)
    return max(ZERO, abs(notional) * b.maint_margin_ratio - b.cum)


def max_leverage(brackets: Sequence[LeverageBracket]) -> int:
    return max((b.max_leverage for b in brackets), default=125)


def max_notional_for_leverage(brackets: Sequence[LeverageBracket], leverage: int) -> Decimal:
    """The largest position notional allowed at ``leverage`` (``maxNotionalValue`` of /leverage)."""
    cap = ZERO
    for b in brackets:
        if b.max_leverage >= leverage:
            cap = max(cap, b.notional_cap)
    return cap


def liquidation_price(
    *,
    qty: Decimal,
    entry_price: Decimal,
    wallet: Decimal,
    other_maint: Decimal,
    other_upnl: Decimal,
    brackets: Sequence[LeverageBracket],
    mark_price: Decimal,
) -> Decimal:
    """Price at which this position's margin balance meets its maintenance margin (0 when none).

    One-way mode formula: ``LP = (WB - TMM_other + UPNL_other + cum - q*EP) / (|q|*MMR - q)`` with ``q``
    signed. ``wallet`` is the cross wallet (cross) or the isolated wallet (isolated, others zero). The
    bracket is the one of the current notional at mark, as Binance's position risk shows it.
    """
    if qty == 0 or not brackets:
        return ZERO
    b = bracket_for(brackets, qty * mark_price)
    denom = abs(qty) * b.maint_margin_ratio - qty
    if denom == 0:
        return ZERO
    lp = (wallet - other_maint + other_upnl + b.cum - qty * entry_price) / denom
    return max(ZERO, lp)
