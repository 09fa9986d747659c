"""Fixed-capacity ring buffer of closed candles for ONE (symbol, timeframe), read as contiguous numpy views.

The double-write trick: storage is ``2 × capacity`` long and every value is written at ``i`` and at
``i + capacity``, so the last ``n ≤ capacity`` values always sit contiguously in
``[p + 1 + capacity - n, p + 1 + capacity)`` where ``p`` is the slot just written. ``append`` is O(1) (two
writes per field) and :meth:`RingBuffer.bars` slices views, never copies: sensors read the buffer itself.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from sensors.base import Bars
from sensors.messages import Bar

__all__ = ["RingBuffer"]

_OPEN, _HIGH, _LOW, _CLOSE, _VOLUME, _TAKER = range(6)


class RingBuffer:
    """The last ``capacity`` closed candles of one (symbol, timeframe), oldest first.

    Candles must arrive in ``close_time`` order; one whose ``close_time`` is not after the last appended
    is refused (``append`` returns ``False``), which makes replaying an overlapping history harmless.
    """

    __slots__ = ("_bars", "_capacity", "_count", "_floats", "_last_close_time", "_slot", "_times")

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"ring capacity must be at least 1, got {capacity}")
        self._capacity = capacity
        self._floats: npt.NDArray[np.float64] = np.zeros((6, 2 * capacity), dtype=np.float64)
        self._times: npt.NDArray[np.int64] = np.zeros(2 * capacity, dtype=np.int64)
        self._count = 0  # candles ever appended
        self._slot = capacity - 1  # slot of the newest candle, so the first append lands in slot 0
        self._last_close_time: int | None = None
        self._bars: Bars | None = None  # views of the current window, built on first read after a write

    @property
    def capacity(self) -> int:
        """How many candles the buffer keeps."""
        return self._capacity

    @property
    def last_close_time(self) -> int | None:
        """Close time of the newest candle, ``None`` while empty."""
        return self._last_close_time

    def __len__(self) -> int:
        return min(self._count, self._capacity)

    def append(self, bar: Bar) -> bool:
        """Add the newest closed candle; ``False`` (and nothing changes) if it is not newer than the last."""
        if self._last_close_time is not None and bar.close_time <= self._last_close_time:
            return False
        slot = (self._slot + 1) % self._capacity
        mirror = slot + self._capacity
        column = (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.taker_buy_volume)
        self._floats[:, slot] = column
        self._floats[:, mirror] = column
        self._times[slot] = bar.close_time
        self._times[mirror] = bar.close_time
        self._slot = slot
        self._count += 1
        self._last_close_time = bar.close_time
        self._bars = None
        return True

    def bars(self) -> Bars:
        """Read-only views of the window, oldest first (no copy; valid until the next ``append``)."""
        if self._bars is None:
            end = self._slot + 1 + self._capacity
            start = end - len(self)
            f = self._floats
            self._bars = Bars(
                open=f[_OPEN, start:end],
                high=f[_HIGH, start:end],
                low=f[_LOW, start:end],
                close=f[_CLOSE, start:end],
                volume=f[_VOLUME, start:end],
                taker_buy_volume=f[_TAKER, start:end],
                close_time=self._times[start:end],
            )
        return self._bars
