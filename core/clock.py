"""Clocks. One clock object is injected everywhere; nothing calls ``time.time()`` directly.

``LiveClock`` is the wall clock. ``ScaledClock`` runs ``speed`` times faster than the wall clock from
an anchor, which is how the sandbox replays history "now" at N×. ``ManualClock`` only moves when told
to, for tests and backtests.
"""

from __future__ import annotations

import time
from typing import Protocol

__all__ = ["Clock", "LiveClock", "ManualClock", "ScaledClock"]


class Clock(Protocol):
    """Exchange time in milliseconds since the epoch, and the rate it runs at."""

    def now_ms(self) -> int: ...

    @property
    def speed(self) -> float: ...

    def wall_seconds(self, clock_ms: float) -> float:
        """How many wall-clock seconds ``clock_ms`` of this clock's time take."""
        ...


class LiveClock:
    """The wall clock."""

    speed = 1.0

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def wall_seconds(self, clock_ms: float) -> float:
        return clock_ms / 1000.0


class ScaledClock:
    """A clock that starts at ``start_ms`` and runs ``speed``× faster than the wall clock."""

    def __init__(self, start_ms: int | None = None, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError(f"speed must be positive, got {speed}")
        self._speed = float(speed)
        self._wall0 = time.monotonic_ns()
        self._wall0_epoch_ms = time.time_ns() // 1_000_000
        self._start_ms = self._wall0_epoch_ms if start_ms is None else start_ms
        self._skew_ms = 0

    @property
    def speed(self) -> float:
        return self._speed

    def now_ms(self) -> int:
        elapsed_ms = (time.monotonic_ns() - self._wall0) / 1_000_000
        return self._start_ms + int(elapsed_ms * self._speed) + self._skew_ms

    def wall_seconds(self, clock_ms: float) -> float:
        return clock_ms / 1000.0 / self._speed

    def from_wall_ms(self, wall_ms: int) -> int:
        """What this clock, without any injected skew, read at wall-clock time ``wall_ms`` (epoch ms).

        A venue whose clock is skewed compares its skewed "now" against this: the skew shows as distance.
        """
        return self._start_ms + int((wall_ms - self._wall0_epoch_ms) * self._speed)

    def set_skew(self, skew_ms: int) -> None:
        """Shift what this clock reports (fault injection: a venue whose clock is off)."""
        self._skew_ms = skew_ms


class ManualClock:
    """A clock that only moves when ``advance``/``set`` is called."""

    speed = 1.0

    def __init__(self, start_ms: int = 0) -> None:
        self._now = start_ms

    def now_ms(self) -> int:
        return self._now

    def wall_seconds(self, clock_ms: float) -> float:
        return clock_ms / 1000.0

    def set(self, now_ms: int) -> None:
        if now_ms < self._now:
            raise ValueError("a clock never runs backwards")
        self._now = now_ms

    def advance(self, delta_ms: int) -> int:
        self.set(self._now + delta_ms)
        return self._now
