"""Book profile: the shape of the synthetic order book the sandbox fills market orders against.

Calibrated by ``market/calibration.py`` from real bookTicker captures and depth snapshots; consumed by
the engine's synthetic book. Quantities are in base asset.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

__all__ = ["BookProfile"]


class BookProfile(msgspec.Struct, frozen=True, kw_only=True):
    """Spread and depth around the price, for one symbol.

    ``levels`` are ``(ticks_from_touch, qty)`` for each side (symmetric): level 0 is the touch.
    A market order walks these levels from the touch outwards, so size costs slippage.
    """

    symbol: str
    spread_ticks: int  # typical bid/ask spread, in ticks (>= 1)
    levels: tuple[tuple[int, Decimal], ...]

    def depth(self) -> Decimal:
        """Total quantity on one side of the profile."""
        return sum((q for _, q in self.levels), Decimal(0))
