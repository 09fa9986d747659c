"""Mean-reversion sensors: stretched prices are expected to snap back.

Every sensor here is contrarian: a close far *below* its mean gives +1, far *above* gives -1, with strength
growing with the stretch.
"""

from __future__ import annotations

import numpy as np
import talib

from sensors.base import Bars, Param, SensorBase, last_atr, ramp, warm

__all__ = [
    "BbandsReversion",
    "CciReversion",
    "ConnorsRsi2",
    "Ibs",
    "KeltnerReversion",
    "Streak",
    "VwapDistance",
    "ZScore",
]


class BbandsReversion(SensorBase):
    id = "bbands_reversion"
    family = "mean_reversion"
    description = (
        "Close below the lower Bollinger band: +1; above the upper: -1. Strength: the overshoot as a "
        "fraction of the band width (half a width → 1)."
    )
    params = (Param("period", 20, 2, 500), Param("nbdev", 2.0, 0.5, 5.0))

    def configure(self) -> None:
        self.period, self.nbdev = self.int_("period"), self.float_("nbdev")

    def lookback(self) -> int:
        return self.period

    def compute(self, bars: Bars) -> tuple[float, float]:
        c = bars.close[-self.n :]
        upper, _, lower = talib.BBANDS(c, self.period, self.nbdev, self.nbdev)
        width, close = upper[-1] - lower[-1], c[-1]
        if not width > 0:
            return 0, 0.0
        if close < lower[-1]:
            return 1, ramp((lower[-1] - close) / width, 0.0, 0.5)
        if close > upper[-1]:
            return -1, ramp((close - upper[-1]) / width, 0.0, 0.5)
        return 0, 0.0


class ZScore(SensorBase):
    id = "zscore"
    family = "mean_reversion"
    description = (
        "z-score of close against its `period` mean and standard deviation beyond ±`threshold`: the "
        "opposite sign. Strength: |z| from threshold (0) to threshold + 2 (1)."
    )
    params = (Param("period", 50, 5, 1000), Param("threshold", 2.0, 0.5, 6.0))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return self.period

    def compute(self, bars: Bars) -> tuple[float, float]:
        c = bars.close[-self.n :]
        std = talib.STDDEV(c, self.period)[-1]  # population σ, like numpy's default; faster on short arrays
        if not std > 0:
            return 0, 0.0
        z = (c[-1] - talib.SMA(c, self.period)[-1]) / std
        if abs(z) <= self.threshold:
            return 0, 0.0
        return -z, ramp(abs(z), self.threshold, self.threshold + 2.0)


class VwapDistance(SensorBase):
    id = "vwap_distance"
    family = "mean_reversion"
    description = (
        "Close away from the rolling volume-weighted average price of `period` bars by more than "
        "`threshold` ATRs: the opposite sign. Strength: from threshold (0) to 2 × threshold (1)."
    )
    params = (
        Param("period", 48, 2, 1000),
        Param("threshold", 2.0, 0.1, 20.0),
        Param("atr_period", 14, 2, 100),
    )

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")
        self.atr_period = self.int_("atr_period")

    def lookback(self) -> int:
        return max(self.period, warm(self.atr_period) + self.atr_period + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        v = bars.volume[-self.period :]
        total = float(v.sum())
        if not total > 0:
            return 0, 0.0
        typical = (h[-self.period :] + lo[-self.period :] + c[-self.period :]) / 3.0
        vwap = float(np.dot(typical, v)) / total
        distance = (c[-1] - vwap) / last_atr(h, lo, c, self.atr_period)
        if abs(distance) <= self.threshold:
            return 0, 0.0
        return -distance, ramp(abs(distance), self.threshold, 2 * self.threshold)


class KeltnerReversion(SensorBase):
    id = "keltner_reversion"
    family = "mean_reversion"
    description = (
        "Close outside the Keltner channel (EMA ± `mult` ATRs): +1 below, -1 above. Strength: the "
        "overshoot in ATRs (1 ATR beyond → 1)."
    )
    params = (Param("period", 20, 2, 500), Param("mult", 2.0, 0.5, 10.0), Param("atr_period", 14, 2, 100))

    def configure(self) -> None:
        self.period, self.mult = self.int_("period"), self.float_("mult")
        self.atr_period = self.int_("atr_period")

    def lookback(self) -> int:
        return max(warm(self.period) + self.period, warm(self.atr_period) + self.atr_period + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        atr = last_atr(h, lo, c, self.atr_period)
        offset = (c[-1] - talib.EMA(c, self.period)[-1]) / atr
        if abs(offset) <= self.mult:
            return 0, 0.0
        return -offset, ramp(abs(offset) - self.mult, 0.0, 1.0)


class ConnorsRsi2(SensorBase):
    id = "connors_rsi2"
    family = "mean_reversion"
    description = (
        "Connors' RSI(2): in an uptrend (close above its `trend` SMA) a short-term RSI below `oversold` "
        "→ +1; in a downtrend an RSI above `overbought` → -1. Strength: depth beyond the level."
    )
    params = (
        Param("period", 2, 2, 20),
        Param("trend", 200, 10, 1000),
        Param("oversold", 10.0, 1.0, 50.0),
        Param("overbought", 90.0, 50.0, 99.0),
    )

    def configure(self) -> None:
        self.period, self.trend = self.int_("period"), self.int_("trend")
        self.low, self.high = self.float_("oversold"), self.float_("overbought")
        self.require(self.low < self.high, "oversold must be below overbought")

    def lookback(self) -> int:
        return max(self.trend, warm(self.period) + self.period + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        c = bars.close[-self.n :]
        rsi = talib.RSI(c[-(warm(self.period) + self.period + 1) :], self.period)[-1]
        above = c[-1] > float(c[-self.trend :].mean())
        if above and rsi < self.low:
            return 1, ramp(self.low - rsi, 0.0, self.low)
        if not above and rsi > self.high:
            return -1, ramp(rsi - self.high, 0.0, 100.0 - self.high)
        return 0, 0.0


class Streak(SensorBase):
    id = "streak"
    family = "mean_reversion"
    description = (
        "`count` or more consecutive lower closes: +1 (higher closes: -1). Strength: the streak length from "
        "`count` (0.5) to 2 × `count` (1)."
    )
    params = (Param("count", 4, 2, 50),)

    def configure(self) -> None:
        self.count = self.int_("count")

    def lookback(self) -> int:
        return 2 * self.count + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        steps = np.sign(np.diff(bars.close[-self.n :]))[::-1]  # most recent first
        last = steps[0]
        if last == 0:
            return 0, 0.0
        breaks = np.flatnonzero(steps != last)
        length = int(breaks[0]) if breaks.size else len(steps)
        if length < self.count:
            return 0, 0.0
        return -last, 0.5 + 0.5 * ramp(length, self.count, 2 * self.count)


class CciReversion(SensorBase):
    id = "cci_reversion"
    family = "mean_reversion"
    description = (
        "CCI coming back above -`level` from below: +1; back below +`level` from above: -1. Strength: the "
        "extreme CCI of the last `period` bars, from `level` (0) to 3 × `level` (1)."
    )
    params = (Param("period", 20, 2, 500), Param("level", 100.0, 20.0, 400.0))

    def configure(self) -> None:
        self.period, self.level = self.int_("period"), self.float_("level")

    def lookback(self) -> int:
        return 2 * self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        cci = talib.CCI(h, lo, c, self.period)
        recent = cci[-self.period :]
        if cci[-2] < -self.level <= cci[-1]:
            return 1, ramp(-float(recent.min()), self.level, 3 * self.level)
        if cci[-2] > self.level >= cci[-1]:
            return -1, ramp(float(recent.max()), self.level, 3 * self.level)
        return 0, 0.0


class Ibs(SensorBase):
    id = "ibs"
    family = "mean_reversion"
    description = (
        "Internal bar strength (close - low) / (high - low), averaged over `period` bars: below "
        "`threshold` → +1, above 1 - threshold → -1. Strength: depth beyond the level / threshold."
    )
    params = (Param("period", 1, 1, 20), Param("threshold", 0.15, 0.01, 0.49))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return self.period

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        span = h - lo
        if not float(span.min()) > 0:
            return 0, 0.0
        ibs = float(((c - lo) / span).mean())
        if ibs < self.threshold:
            return 1, ramp(self.threshold - ibs, 0.0, self.threshold)
        if ibs > 1.0 - self.threshold:
            return -1, ramp(ibs - (1.0 - self.threshold), 0.0, self.threshold)
        return 0, 0.0
