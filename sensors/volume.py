"""Volume sensors: accumulation/distribution, money flow, volume spikes, VWAP.

Volumes are normalised by the window's mean volume so thresholds hold across symbols and timeframes.
"""

from __future__ import annotations

import numpy as np
import talib

from sensors.base import F64, Bars, Param, SensorBase, crossed, flat, last_atr, ramp, warm

__all__ = ["AdCross", "Adosc", "Cmf", "ForceIndex", "Mfi", "ObvTrend", "VolumeSpike", "VwapCross"]


def _mean_positive(values: F64) -> float:
    """Mean of a volume series, or NaN if there was no volume at all (caught by ``verdict``)."""
    mean = float(values.mean())
    return mean if mean > 0 else float("nan")


class ObvTrend(SensorBase):
    id = "obv_trend"
    family = "volume"
    description = (
        "Regression slope of on-balance volume over `period` bars, in mean volumes per bar, beyond "
        "±`threshold`: its sign. Strength: from threshold (0) to 3 × threshold (1)."
    )
    params = (Param("period", 20, 3, 500), Param("threshold", 0.3, 0.01, 5.0))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return self.period

    def compute(self, bars: Bars) -> tuple[float, float]:
        v = bars.volume[-self.n :]
        obv = talib.OBV(bars.close[-self.n :], v)
        slope = talib.LINEARREG_SLOPE(obv, self.period)[-1] / _mean_positive(v)
        if not abs(slope) > self.threshold:
            return 0, 0.0
        return slope, ramp(abs(slope), self.threshold, 3 * self.threshold)


class AdCross(SensorBase):
    id = "ad_cross"
    family = "volume"
    description = (
        "Chaikin accumulation/distribution line crossing its `period` EMA: +1 up, -1 down. Strength: the "
        "bar's A/D change in mean volumes (1 → 1)."
    )
    params = (Param("period", 20, 2, 500),)

    def configure(self) -> None:
        self.period = self.int_("period")

    def lookback(self) -> int:
        return warm(self.period) + self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c, v = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :], bars.volume[-self.n :]
        ad = talib.AD(h, lo, c, v)
        direction = crossed(ad, talib.EMA(ad, self.period))
        if direction == 0:
            return 0, 0.0
        return direction, ramp(abs(ad[-1] - ad[-2]) / _mean_positive(v), 0.0, 1.0)


class Adosc(SensorBase):
    id = "adosc"
    family = "volume"
    description = (
        "Chaikin oscillator (fast minus slow EMA of the A/D line) crossing zero: +1 up, -1 down. Strength: "
        "|oscillator| in mean volumes (1 → 1)."
    )
    params = (Param("fast", 3, 2, 100), Param("slow", 10, 3, 300))

    def configure(self) -> None:
        self.fast, self.slow = self.int_("fast"), self.int_("slow")
        self.require(self.fast < self.slow, "fast must be shorter than slow")

    def lookback(self) -> int:
        return warm(self.slow) + self.slow + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c, v = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :], bars.volume[-self.n :]
        osc = talib.ADOSC(h, lo, c, v, self.fast, self.slow)
        direction = crossed(osc, 0.0)
        if direction == 0:
            return 0, 0.0
        return direction, ramp(abs(osc[-1]) / _mean_positive(v), 0.0, 1.0)


class Mfi(SensorBase):
    id = "mfi"
    family = "volume"
    description = (
        "Money flow index (volume-weighted RSI) below `oversold`: +1; above `overbought`: -1. Strength: "
        "depth beyond the level over the room left to 0 (or 100)."
    )
    params = (
        Param("period", 14, 2, 200),
        Param("oversold", 20.0, 1.0, 50.0),
        Param("overbought", 80.0, 50.0, 99.0),
    )

    def configure(self) -> None:
        self.period, self.low, self.high = (
            self.int_("period"),
            self.float_("oversold"),
            self.float_("overbought"),
        )
        self.require(self.low < self.high, "oversold must be below overbought")

    def lookback(self) -> int:
        return self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c, v = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :], bars.volume[-self.n :]
        if flat(h + lo + c) or not float(v[1:].max()) > 0:  # no money flow either way: MFI is undefined
            return 0, 0.0
        mfi = talib.MFI(h, lo, c, v, self.period)[-1]
        if mfi < self.low:
            return 1, ramp(self.low - mfi, 0.0, self.low)
        if mfi > self.high:
            return -1, ramp(mfi - self.high, 0.0, 100.0 - self.high)
        return 0, 0.0


class VolumeSpike(SensorBase):
    id = "volume_spike"
    family = "volume"
    description = (
        "Volume above `mult` × the mean of the previous `period` bars: direction of the bar's body. "
        "Strength: from `mult` (0) to 2 × `mult` (1)."
    )
    params = (Param("period", 20, 2, 1000), Param("mult", 3.0, 1.0, 50.0))

    def configure(self) -> None:
        self.period, self.mult = self.int_("period"), self.float_("mult")

    def lookback(self) -> int:
        return self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        v = bars.volume[-self.n :]
        ratio = v[-1] / _mean_positive(v[:-1])
        body = bars.close[-1] - bars.open[-1]
        if not ratio > self.mult or body == 0:
            return 0, 0.0
        return body, ramp(ratio, self.mult, 2 * self.mult)


class Cmf(SensorBase):
    id = "cmf"
    family = "volume"
    description = (
        "Chaikin money flow (volume-weighted close location in the bar's range) over `period` bars beyond "
        "±`threshold`: its sign. Strength: from threshold (0) to 3 × threshold (1)."
    )
    params = (Param("period", 20, 2, 1000), Param("threshold", 0.1, 0.01, 0.9))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return self.period

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c, v = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :], bars.volume[-self.n :]
        span = h - lo
        # A bar without range carries no location information: weight it as neutral (0) without dividing by 0.
        location = np.divide((c - lo) - (h - c), span, out=np.zeros_like(span), where=span > 0)
        cmf = float(np.dot(location, v)) / _mean_positive(v) / len(v)
        if not abs(cmf) > self.threshold:
            return 0, 0.0
        return cmf, ramp(abs(cmf), self.threshold, 3 * self.threshold)


class ForceIndex(SensorBase):
    id = "force_index"
    family = "volume"
    description = (
        "Elder's force index (EMA of price change × volume), in ATR × mean volume, beyond ±`threshold`: its "
        "sign. Strength: from threshold (0) to 3 × threshold (1)."
    )
    params = (
        Param("period", 13, 1, 200),
        Param("threshold", 0.2, 0.01, 5.0),
        Param("atr_period", 14, 2, 100),
    )

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")
        self.atr_period = self.int_("atr_period")

    def lookback(self) -> int:
        return max(warm(self.period) + self.period + 1, warm(self.atr_period) + self.atr_period + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c, v = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :], bars.volume[-self.n :]
        force = talib.EMA(np.diff(c) * v[1:], self.period)[-1]
        force /= last_atr(h, lo, c, self.atr_period) * _mean_positive(v)
        if not abs(force) > self.threshold:
            return 0, 0.0
        return force, ramp(abs(force), self.threshold, 3 * self.threshold)


class VwapCross(SensorBase):
    id = "vwap_cross"
    family = "volume"
    description = (
        "Close crossing the rolling VWAP of `period` bars: +1 up, -1 down. Strength: the bar's volume over "
        "the window's mean volume (2× → 1)."
    )
    params = (Param("period", 48, 2, 1000),)

    def configure(self) -> None:
        self.period = self.int_("period")

    def lookback(self) -> int:
        return self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c, v = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :], bars.volume[-self.n :]
        weighted = (h + lo + c) / 3.0 * v
        previous_volume, last_volume = float(v[:-1].sum()), float(v[1:].sum())
        if not (previous_volume > 0 and last_volume > 0):
            return 0, 0.0
        # VWAP as of the previous bar (its window) and as of this bar (the window shifted by one).
        vwap = np.array([weighted[:-1].sum() / previous_volume, weighted[1:].sum() / last_volume])
        direction = crossed(c[-2:], vwap)
        if direction == 0:
            return 0, 0.0
        return direction, ramp(v[-1] / _mean_positive(v), 0.0, 2.0)
