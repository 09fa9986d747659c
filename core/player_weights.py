"""How the AdaptivePlayer learns whom to trust: signal outcomes judged on later candles, and bounded weights.

A signal with a direction opens a *trial* at the close of its candle. Each later candle of the same symbol and
timeframe is checked: if price reaches ``entry × (1 ± hit_pct)`` in the signal's favour first, it is a hit; if
it reaches the same move against it first, or ``hit_bars`` pass with neither, a miss. A candle that touches
both levels is a miss, since its intrabar order is unknown and the conservative reading protects the weights.

Each sensor's weight is an exponential moving average of its hits mapped onto ``[w_min, w_max]``: a hit
moves it a step ``learning_rate`` towards ``w_max``, a miss towards ``w_min``. The weight itself is the
learned state, so persisting ``as_dict()`` and restoring it loses nothing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal

import msgspec

from core.types import Candle, Signal

__all__ = ["OutcomeTracker", "SensorWeights", "Trial", "Verdict"]


class SensorWeights:
    """Per-sensor weights in ``[w_min, w_max]``, learned online from hits and misses."""

    def __init__(
        self,
        *,
        w_min: float,
        w_max: float,
        w_initial: float,
        learning_rate: float,
        initial: Mapping[str, float] | None = None,
    ) -> None:
        if not 0 < w_min <= w_initial <= w_max:
            raise ValueError(f"need 0 < w_min <= w_initial <= w_max, got {w_min}, {w_initial}, {w_max}")
        if not 0 < learning_rate <= 1:
            raise ValueError(f"learning_rate must be in (0, 1], got {learning_rate}")
        self._min = w_min
        self._max = w_max
        self._initial = w_initial
        self._rate = learning_rate
        self._weights: dict[str, float] = {}
        self._hits: dict[str, int] = {}
        self._trials: dict[str, int] = {}
        for sensor_id, weight in (initial or {}).items():
            if not math.isfinite(weight):
                raise ValueError(f"stored weight of sensor {sensor_id!r} is not a finite number: {weight!r}")
            # Bounds may have been changed in the settings since the weights were saved: clamp, keep the rank.
            self._weights[sensor_id] = self._clamp(float(weight))

    def _clamp(self, weight: float) -> float:
        return min(max(weight, self._min), self._max)

    def get(self, sensor_id: str) -> float:
        """The weight of ``sensor_id`` (``w_initial`` until it has been judged)."""
        return self._weights.get(sensor_id, self._initial)

    def update(self, sensor_id: str, hit: bool) -> float:
        """Learn one outcome of ``sensor_id``; returns its new weight."""
        current = self.get(sensor_id)
        target = self._max if hit else self._min
        # Clamped because float rounding may step one ulp past the target.
        weight = self._clamp(current + self._rate * (target - current))
        self._weights[sensor_id] = weight
        self._trials[sensor_id] = self._trials.get(sensor_id, 0) + 1
        if hit:
            self._hits[sensor_id] = self._hits.get(sensor_id, 0) + 1
        return weight

    def as_dict(self) -> dict[str, float]:
        """Every learned weight, by sensor id (sensors never judged are absent: they weigh ``w_initial``)."""
        return dict(self._weights)

    def hit_rates(self) -> dict[str, tuple[int, int]]:
        """``(hits, trials)`` judged in this session, by sensor id, for reports."""
        return {sensor_id: (self._hits.get(sensor_id, 0), n) for sensor_id, n in self._trials.items()}


class Trial(msgspec.Struct, frozen=True, kw_only=True):
    """One signal waiting for its outcome."""

    sensor_id: str
    direction: int
    signal_ts: int
    up: Decimal  # price that proves a long right (a short wrong)
    down: Decimal  # price that proves a short right (a long wrong)
    deadline_ts: int  # close time of the last candle that may still decide it


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """A judged trial."""

    sensor_id: str
    hit: bool
    signal_ts: int


class OutcomeTracker:
    """Open trials per (symbol, timeframe), judged by the candles that close after their signal."""

    def __init__(self, *, hit_pct: Decimal, hit_bars: int) -> None:
        if not (hit_pct.is_finite() and hit_pct > 0):
            raise ValueError(f"hit_pct must be positive, got {hit_pct}")
        if hit_bars < 1:
            raise ValueError(f"hit_bars must be at least 1, got {hit_bars}")
        self._pct = hit_pct
        self._bars = hit_bars
        self._open: dict[tuple[str, str], dict[tuple[str, int], Trial]] = {}

    def open(self, signal: Signal, entry_price: Decimal, bar_ms: int) -> bool:
        """Start a trial for ``signal`` at ``entry_price`` (the close of its candle); False if not tracked.

        Neutral signals are not trials; the same (sensor, candle) is opened once.
        """
        if signal.direction == 0 or entry_price <= 0:
            return False
        trials = self._open.setdefault((signal.symbol, signal.timeframe), {})
        key = (signal.sensor_id, signal.ts)
        if key in trials:
            return False
        # Trials whose deciding candles never came (a gap in the feed) cannot be judged: drop them unjudged.
        for old_key in [k for k, t in trials.items() if t.deadline_ts < signal.ts - bar_ms]:
            del trials[old_key]
        trials[key] = Trial(
            sensor_id=signal.sensor_id,
            direction=1 if signal.direction > 0 else -1,
            signal_ts=signal.ts,
            up=entry_price * (1 + self._pct),
            down=entry_price * (1 - self._pct),
            deadline_ts=signal.ts + self._bars * bar_ms,
        )
        return True

    def on_candle(self, candle: Candle) -> list[Verdict]:
        """Judge the open trials of the candle's symbol and timeframe that this candle decides."""
        trials = self._open.get((candle.symbol, candle.interval))
        if not trials:
            return []
        verdicts: list[Verdict] = []
        for key, trial in list(trials.items()):
            if candle.close_time <= trial.signal_ts:
                continue
            reached_up = candle.high >= trial.up
            reached_down = candle.low <= trial.down
            favourable, adverse = (
                (reached_up, reached_down) if trial.direction > 0 else (reached_down, reached_up)
            )
            if favourable or adverse or candle.close_time >= trial.deadline_ts:
                verdicts.append(
                    Verdict(
                        sensor_id=trial.sensor_id, hit=favourable and not adverse, signal_ts=trial.signal_ts
                    )
                )
                del trials[key]
        return verdicts

    def pending(self) -> int:
        """How many trials are open (for metrics and tests)."""
        return sum(len(trials) for trials in self._open.values())
