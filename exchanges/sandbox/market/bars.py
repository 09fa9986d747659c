"""Virtual 1-minute bars of one symbol, on the tick/step grid, that grow on demand.

Minute ``v`` of the store is the ``v``-th minute of the replay's timeline (minute 0 is the first bar
of history). Trade counts per minute and their cumulative sum are kept beside the bars, so the first
aggTrade id of any minute is an O(1) lookup and ids stay contiguous across minutes and loops.

Real data that runs out is continued by ``LoopExtender``: the same bars again, every price scaled by
``last close / first open`` so the series stays continuous, re-rounded to the tick grid. Volumes are
unchanged. The synthetic market extends the store with freshly generated bars instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from exchanges.sandbox.market.synth import trade_counts

__all__ = ["BarChunk", "Extender", "LoopExtender", "MinuteBars"]

I64 = npt.NDArray[np.int64]


class BarChunk(NamedTuple):
    """Consecutive bars in integer ticks (prices) and steps (volume)."""

    open: I64
    high: I64
    low: I64
    close: I64
    volume: I64


Extender = Callable[["MinuteBars"], BarChunk]


class MinuteBars:
    """Bars, per-minute trade counts and cumulative trade offsets for minutes ``[0, n)``."""

    def __init__(self, first: BarChunk, typical_steps: float, extend: Extender) -> None:
        if first.open.shape[0] == 0:
            raise ValueError("a bar store needs at least one bar")
        self.typical_steps = typical_steps
        self._extend = extend
        self.open = first.open.copy()
        self.high = first.high.copy()
        self.low = first.low.copy()
        self.close = first.close.copy()
        self.volume = first.volume.copy()
        self.count = trade_counts(self.volume, typical_steps)
        self.offset = np.zeros(self.count.shape[0] + 1, dtype=np.int64)
        np.cumsum(self.count, out=self.offset[1:])

    @property
    def n(self) -> int:
        return int(self.open.shape[0])

    def ensure(self, v: int) -> None:
        """Make minute ``v`` exist (extending the store as often as needed)."""
        while v >= self.n:
            self._append(self._extend(self))

    def _append(self, chunk: BarChunk) -> None:
        if chunk.open.shape[0] == 0:
            raise ValueError("a bar extender returned no bars")
        counts = trade_counts(chunk.volume, self.typical_steps)
        self.open = np.concatenate([self.open, chunk.open])
        self.high = np.concatenate([self.high, chunk.high])
        self.low = np.concatenate([self.low, chunk.low])
        self.close = np.concatenate([self.close, chunk.close])
        self.volume = np.concatenate([self.volume, chunk.volume])
        self.count = np.concatenate([self.count, counts])
        self.offset = np.concatenate([self.offset, self.offset[-1] + np.cumsum(counts)])

    def bar(self, v: int) -> tuple[int, int, int, int, int]:
        """(open, high, low, close, volume) of minute ``v``."""
        self.ensure(v)
        return (
            int(self.open[v]),
            int(self.high[v]),
            int(self.low[v]),
            int(self.close[v]),
            int(self.volume[v]),
        )

    def minute_of_offset(self, offset: int) -> int:
        """The minute holding the trade with cumulative ``offset`` (0 is the first trade of minute 0)."""
        while offset >= int(self.offset[-1]):
            self._append(self._extend(self))
        return int(np.searchsorted(self.offset, offset, side="right")) - 1


class LoopExtender:
    """Replays the base bars again and again, scaled to continue from the last close."""

    def __init__(self, base: BarChunk) -> None:
        self._base = base
        self._first_open = float(base.open[0])
        self.loops = 0

    def __call__(self, bars: MinuteBars) -> BarChunk:
        self.loops += 1
        scale = float(bars.close[-1]) / self._first_open

        def scaled(arr: I64) -> I64:
            out: I64 = np.maximum(np.rint(arr * scale), 1).astype(np.int64)
            return out

        b = self._base
        return BarChunk(scaled(b.open), scaled(b.high), scaled(b.low), scaled(b.close), b.volume.copy())
