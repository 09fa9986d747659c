"""The tick and step grid of one instrument: market data lives as integer ticks and steps internally.

Keeping prices as integer ticks (and quantities as integer steps) makes every generated value exact
and on the exchange's grid by construction; ``Decimal`` values are made only for the events served.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import numpy.typing as npt

from core.types import Instrument

__all__ = ["Grid"]


class Grid:
    """Conversions between Decimal prices/quantities and integer ticks/steps for one instrument."""

    __slots__ = ("step", "step_f", "tick", "tick_f")

    def __init__(self, tick: Decimal, step: Decimal) -> None:
        if tick <= 0 or step <= 0:
            raise ValueError(f"tick and step sizes must be positive, got {tick} and {step}")
        self.tick = tick
        self.step = step
        self.tick_f = float(tick)
        self.step_f = float(step)

    @classmethod
    def of(cls, instrument: Instrument) -> Grid:
        return cls(instrument.filters.tick_size, instrument.filters.step_size)

    def price(self, ticks: int) -> Decimal:
        """The exact price of ``ticks`` ticks (carries the tick size's decimals, e.g. ``61800.30``)."""
        return self.tick * ticks

    def qty(self, steps: int) -> Decimal:
        return self.step * steps

    def price_ticks(self, prices: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        """Float prices rounded to the nearest tick (file prices are already on a grid: this is exact)."""
        return np.rint(prices / self.tick_f).astype(np.int64)

    def qty_steps(self, qtys: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
        return np.rint(qtys / self.step_f).astype(np.int64)

    def ticks_of(self, price: Decimal) -> int:
        return int((price / self.tick).to_integral_value())
