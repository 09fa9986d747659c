"""The Engine's counters: what came in, what was rejected, what closed, and what evaluation cost."""

from __future__ import annotations

from collections import deque

import msgspec

__all__ = ["EngineStats", "LatencyWindow"]


class LatencyWindow:
    """The last ``size`` durations (ns), and their percentiles (nearest rank)."""

    def __init__(self, size: int = 1000) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._values: deque[int] = deque(maxlen=size)

    def add(self, duration_ns: int) -> None:
        self._values.append(duration_ns)

    def __len__(self) -> int:
        return len(self._values)

    def percentile(self, q: float) -> int | None:
        """The ``q``-th percentile (0 < q ≤ 100) of the window, None while it is empty."""
        if not 0 < q <= 100:
            raise ValueError(f"percentile must be in (0, 100], got {q}")
        if not self._values:
            return None
        ordered = sorted(self._values)
        rank = max(1, -(-len(ordered) * q // 100))  # ceil(n·q/100), at least the first
        return ordered[int(rank) - 1]


class EngineStats(msgspec.Struct, frozen=True, kw_only=True):
    """A snapshot of the Engine's counters since it started (times on the session clock, in ms)."""

    events_in: int  # every event the market stream delivered
    trades_in: int
    marks_in: int
    ignored: int  # event kinds the engine does not use (book tickers, klines)
    accepted: int  # trades and mark prices that passed validation
    rejected: dict[str, int]  # by reason, all symbols
    queue_full: int  # events lost because the queue was full (the consumer was too slow)
    queue_depth: int
    seam_overlap: int  # live trades already replayed from REST at start (dropped by aggTrade id)
    gaps: int  # aggTrade id gaps the stream reported (and backfilled)
    candles_closed: dict[str, int]  # by timeframe
    batches: int  # sensors.evaluate calls
    evaluate_errors: int  # batches whose signals were lost
    callback_errors: int  # on_signals raised
    evaluate_p50_ms: float | None  # over the last window of batches
    evaluate_p99_ms: float | None
    signals: int
    last_signal_ts: int | None  # close time of the candle of the newest signal
    last_signal_at_ms: int | None  # session time that signal was delivered
