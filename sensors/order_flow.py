"""Order-flow sensors from the aggressor side of trades (aggTrade ``m`` flag → the candle's taker-buy volume).

Per bar, *delta* = taker-buy volume − taker-sell volume = 2 × taker_buy − volume, and the *buy ratio* =
taker_buy / volume (0.5 = balanced). Cumulative delta (CVD) is delta summed over the window. TA-Lib has
no order-flow indicators, so these are numpy on the window's tail.
"""

from __future__ import annotations

import numpy as np
import talib

from sensors.base import Bars, Param, SensorBase, ramp

__all__ = [
    "Absorption",
    "AggressiveBurst",
    "AggressorStreak",
    "CvdDivergence",
    "CvdSlope",
    "DeltaZScore",
    "TakerImbalance",
]


class TakerImbalance(SensorBase):
    id = "taker_imbalance"
    family = "order_flow"
    description = (
        "Buy ratio over the last `period` bars beyond 0.5 ± `threshold`: +1 when takers buy, -1 when they "
        "sell. Strength: the excess from threshold (0) to fully one-sided (1)."
    )
    params = (Param("period", 5, 1, 500), Param("threshold", 0.1, 0.01, 0.49))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return self.period

    def compute(self, bars: Bars) -> tuple[float, float]:
        volume = float(bars.volume[-self.n :].sum())
        if not volume > 0:
            return 0, 0.0
        excess = float(bars.taker_buy_volume[-self.n :].sum()) / volume - 0.5
        if abs(excess) <= self.threshold:
            return 0, 0.0
        return excess, ramp(abs(excess), self.threshold, 0.5)


class CvdSlope(SensorBase):
    id = "cvd_slope"
    family = "order_flow"
    description = (
        "Least-squares slope of cumulative delta over `period` bars, in mean volumes per bar, beyond "
        "±`threshold`: its sign. Strength: from threshold (0) to 3 × threshold (1)."
    )
    params = (Param("period", 30, 3, 1000), Param("threshold", 0.05, 0.005, 1.0))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")
        x = np.arange(self.period, dtype=np.float64)
        # Regression weights for a slope over a fixed-length window: slope = weights · y.
        self.weights = (x - x.mean()) / float(((x - x.mean()) ** 2).sum())

    def lookback(self) -> int:
        return self.period

    def compute(self, bars: Bars) -> tuple[float, float]:
        v, buy = bars.volume[-self.n :], bars.taker_buy_volume[-self.n :]
        mean = float(v.mean())
        if not mean > 0:
            return 0, 0.0
        slope = float(np.dot(self.weights, np.cumsum(2.0 * buy - v))) / mean
        if abs(slope) <= self.threshold:
            return 0, 0.0
        return slope, ramp(abs(slope), self.threshold, 3 * self.threshold)


class CvdDivergence(SensorBase):
    id = "cvd_divergence"
    family = "order_flow"
    description = (
        "Close at a new `period`-bar low while cumulative delta stays above its low of the window (sellers "
        "exhausted): +1; the mirror at highs: -1. Strength: the CVD gap in window volume (20% → 1)."
    )
    params = (Param("period", 20, 3, 1000),)

    def configure(self) -> None:
        self.period = self.int_("period")

    def lookback(self) -> int:
        return self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        c, v, buy = bars.close[-self.n :], bars.volume[-self.n :], bars.taker_buy_volume[-self.n :]
        total = float(v.sum())
        if not total > 0:
            return 0, 0.0
        cvd = np.cumsum(2.0 * buy - v)
        if c[-1] < float(c[:-1].min()):
            gap = cvd[-1] - float(cvd[:-1].min())
            return (1, ramp(gap / total, 0.0, 0.2)) if gap > 0 else (0, 0.0)
        if c[-1] > float(c[:-1].max()):
            gap = float(cvd[:-1].max()) - cvd[-1]
            return (-1, ramp(gap / total, 0.0, 0.2)) if gap > 0 else (0, 0.0)
        return 0, 0.0


class DeltaZScore(SensorBase):
    id = "delta_zscore"
    family = "order_flow"
    description = (
        "The last bar's delta as a z-score against the previous `period` bars beyond ±`threshold`: its sign "
        "(an unusual burst of one-sided aggression). Strength: from threshold (0) to threshold + 2 (1)."
    )
    params = (Param("period", 50, 5, 1000), Param("threshold", 2.5, 0.5, 10.0))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        delta = 2.0 * bars.taker_buy_volume[-self.n :] - bars.volume[-self.n :]
        history = delta[:-1]
        std = talib.STDDEV(history, self.period)[-1]
        if not std > 0:
            return 0, 0.0
        z = (delta[-1] - talib.SMA(history, self.period)[-1]) / std
        if abs(z) <= self.threshold:
            return 0, 0.0
        return z, ramp(abs(z), self.threshold, self.threshold + 2.0)


class AggressorStreak(SensorBase):
    id = "aggressor_streak"
    family = "order_flow"
    description = (
        "Each of the last `count` bars with a buy ratio above 0.5 + `margin`: +1 (all below 0.5 - margin: "
        "-1). Strength: the mean excess from margin (0) to fully one-sided (1)."
    )
    params = (Param("count", 3, 1, 50), Param("margin", 0.05, 0.0, 0.45))

    def configure(self) -> None:
        self.count, self.margin = self.int_("count"), self.float_("margin")

    def lookback(self) -> int:
        return self.count

    def compute(self, bars: Bars) -> tuple[float, float]:
        v, buy = bars.volume[-self.n :], bars.taker_buy_volume[-self.n :]
        if not float(v.min()) > 0:
            return 0, 0.0
        excess = buy / v - 0.5
        mean = float(excess.mean())
        if float(excess.min()) > self.margin:
            return 1, ramp(mean, self.margin, 0.5)
        if float(excess.max()) < -self.margin:
            return -1, ramp(-mean, self.margin, 0.5)
        return 0, 0.0


class Absorption(SensorBase):
    id = "absorption"
    family = "order_flow"
    description = (
        "Heavy bar (volume above `volume_mult` × the previous `period` bars' mean) dominated by taker "
        "sells (buy ratio below 0.5 - `imbalance`) that still closes in the upper half of its range: "
        "passive buyers absorbed the selling, +1; the mirror: -1. Strength: the imbalance from its "
        "threshold (0) to one-sided (1)."
    )
    params = (
        Param("period", 20, 2, 1000),
        Param("volume_mult", 1.5, 1.0, 20.0),
        Param("imbalance", 0.1, 0.01, 0.49),
    )

    def configure(self) -> None:
        self.period, self.mult = self.int_("period"), self.float_("volume_mult")
        self.imbalance = self.float_("imbalance")

    def lookback(self) -> int:
        return self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        v = bars.volume[-self.n :]
        volume, span = v[-1], bars.high[-1] - bars.low[-1]
        if not (volume > self.mult * float(v[:-1].mean()) and volume > 0 and span > 0):
            return 0, 0.0
        excess = bars.taker_buy_volume[-1] / volume - 0.5
        location = (bars.close[-1] - bars.low[-1]) / span
        if excess < -self.imbalance and location > 0.5:
            return 1, ramp(-excess, self.imbalance, 0.5)
        if excess > self.imbalance and location < 0.5:
            return -1, ramp(excess, self.imbalance, 0.5)
        return 0, 0.0


class AggressiveBurst(SensorBase):
    id = "aggressive_burst"
    family = "order_flow"
    description = (
        "Volume above `volume_mult` × the previous `period` bars' mean with a buy ratio beyond 0.5 ± "
        "`imbalance`: the aggressor's side. Strength: the volume multiple from `volume_mult` (0) to twice "
        "it (1)."
    )
    params = (
        Param("period", 20, 2, 1000),
        Param("volume_mult", 2.5, 1.0, 20.0),
        Param("imbalance", 0.15, 0.01, 0.49),
    )

    def configure(self) -> None:
        self.period, self.mult = self.int_("period"), self.float_("volume_mult")
        self.imbalance = self.float_("imbalance")

    def lookback(self) -> int:
        return self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        v = bars.volume[-self.n :]
        mean, volume = float(v[:-1].mean()), v[-1]
        if not (mean > 0 and volume > self.mult * mean):
            return 0, 0.0
        excess = bars.taker_buy_volume[-1] / volume - 0.5
        if abs(excess) <= self.imbalance:
            return 0, 0.0
        return excess, ramp(volume / mean, self.mult, 2 * self.mult)
