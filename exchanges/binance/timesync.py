"""Server-time offset with round-trip compensation.

A sample is one ``GET /fapi/v1/time``: the local clock when the request left (``sent``), the server's time
in the answer, and the local clock when the answer arrived (``received``). Assuming the server stamped
its time half-way through the round trip, ``offset = server - (sent + received) / 2``, with an error of at
most half the round trip. So among the last ``window`` samples the one with the smallest round trip is
trusted: a sample delayed by a slow network or a busy event loop is outvoted by a quick one, and old
samples age out so a drifting clock is followed.
"""

from __future__ import annotations

from collections import deque
from typing import NamedTuple

__all__ = ["TimeSample", "TimeSync"]


class TimeSample(NamedTuple):
    """One measurement: local send and receive times around a server timestamp, all in ms."""

    sent_local_ms: int
    server_ms: int
    received_local_ms: int

    @property
    def round_trip_ms(self) -> int:
        return self.received_local_ms - self.sent_local_ms

    @property
    def offset_ms(self) -> int:
        """``server - midpoint``, rounded to the nearest ms (ties away from zero)."""
        doubled = 2 * self.server_ms - self.sent_local_ms - self.received_local_ms
        sign = 1 if doubled >= 0 else -1
        return sign * ((abs(doubled) + 1) // 2)


class TimeSync:
    """The offset between the venue's clock and ours, from the best of the recent samples.

    ``offset_ms`` is ``server - local``: ``server_time(local) = local + offset_ms``. It is 0 until the
    first sample arrives.
    """

    def __init__(self, window: int = 8) -> None:
        if window < 1:
            raise ValueError(f"window must be at least 1, got {window}")
        self._samples: deque[TimeSample] = deque(maxlen=window)
        self._best: TimeSample | None = None

    def add_sample(self, sent_local_ms: int, server_ms: int, received_local_ms: int) -> None:
        """Record one ``/time`` round trip (local times from the same clock that signs requests)."""
        if received_local_ms < sent_local_ms:
            raise ValueError(f"answer received ({received_local_ms}) before it was sent ({sent_local_ms})")
        self._samples.append(TimeSample(sent_local_ms, server_ms, received_local_ms))
        # On equal round trips the newest sample wins (min keeps the first one it meets).
        self._best = min(reversed(self._samples), key=lambda s: s.round_trip_ms)

    def reset(self) -> None:
        """Forget every sample (after a -1021, the old ones are evidently wrong)."""
        self._samples.clear()
        self._best = None

    @property
    def offset_ms(self) -> int:
        """Server time minus local time, in ms, from the sample with the smallest round trip."""
        return 0 if self._best is None else self._best.offset_ms

    @property
    def round_trip_ms(self) -> int | None:
        """The round trip of the trusted sample (its offset is off by at most half of this)."""
        return None if self._best is None else self._best.round_trip_ms

    @property
    def samples(self) -> int:
        """How many samples are in the window."""
        return len(self._samples)

    def server_time(self, local_ms: int) -> int:
        """The venue's time when our clock reads ``local_ms``."""
        return local_ms + self.offset_ms
