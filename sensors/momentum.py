"""Momentum sensors: bounded oscillators (RSI, stochastics, Williams %R, Ultimate) and rate-of-change family.

Oscillators read as exhaustion: oversold → +1, overbought → -1, strength growing with the depth beyond the
level. Rate-of-change sensors read as continuation: strong rise → +1.
"""

from __future__ import annotations

import talib
from talib._ta_lib import MA_Type  # the public alias is untyped; the stub types matype as this enum

from sensors.base import Bars, Param, SensorBase, crossed, flat, last_atr, ramp, warm

__all__ = [
    "ApoCross",
    "Bop",
    "Cmo",
    "Mom",
    "PpoTurn",
    "Roc",
    "Rsi",
    "RsiMidline",
    "Stoch",
    "StochRsi",
    "UltOsc",
    "WillR",
]


def _zone(value: float, low: float, high: float, floor: float, ceiling: float) -> tuple[float, float]:
    """Oversold (< low) → +1, overbought (> high) → -1; strength = depth beyond the level / room left."""
    if value < low:
        return 1, ramp(low - value, 0.0, low - floor)
    if value > high:
        return -1, ramp(value - high, 0.0, ceiling - high)
    return 0, 0.0


class _Oscillator(SensorBase):
    """Base for sensors in the 0..100 (or shifted) band with oversold/overbought levels."""

    floor, ceiling = 0.0, 100.0

    def configure(self) -> None:
        self.low, self.high = self.float_("oversold"), self.float_("overbought")
        self.require(self.low < self.high, "oversold must be below overbought")

    def zone(self, value: float) -> tuple[float, float]:
        return _zone(value, self.low, self.high, self.floor, self.ceiling)


class Rsi(_Oscillator):
    id = "rsi"
    family = "momentum"
    description = (
        "RSI below `oversold`: +1; above `overbought`: -1. Strength: depth beyond the level over the room "
        "left to 0 (or 100)."
    )
    params = (
        Param("period", 14, 2, 200),
        Param("oversold", 30.0, 1.0, 50.0),
        Param("overbought", 70.0, 50.0, 99.0),
    )

    def configure(self) -> None:
        super().configure()
        self.period = self.int_("period")

    def lookback(self) -> int:
        return warm(self.period) + self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        c = bars.close[-self.n :]
        if flat(c[-self.period - 1 :]):  # no change at all: TA-Lib reports RSI 0, which is not "oversold"
            return 0, 0.0
        return self.zone(talib.RSI(c, self.period)[-1])


class RsiMidline(SensorBase):
    id = "rsi_midline"
    family = "momentum"
    description = "RSI crossing 50: +1 up, -1 down. Strength: distance of RSI from 50 (20 points → 1)."
    params = (Param("period", 14, 2, 200),)

    def configure(self) -> None:
        self.period = self.int_("period")

    def lookback(self) -> int:
        return warm(self.period) + self.period + 2

    def compute(self, bars: Bars) -> tuple[float, float]:
        rsi = talib.RSI(bars.close[-self.n :], self.period)
        return crossed(rsi, 50.0), ramp(abs(rsi[-1] - 50.0), 0.0, 20.0)


class Stoch(_Oscillator):
    id = "stoch"
    family = "momentum"
    description = (
        "Slow stochastic %K crossing %D up while %D is below `oversold`: +1 (mirror above `overbought`: -1). "
        "Strength: depth of %D beyond the level."
    )
    params = (
        Param("fastk_period", 14, 2, 200),
        Param("slowk_period", 3, 1, 50),
        Param("slowd_period", 3, 1, 50),
        Param("oversold", 20.0, 1.0, 50.0),
        Param("overbought", 80.0, 50.0, 99.0),
    )

    def configure(self) -> None:
        super().configure()
        self.k, self.sk, self.sd = (
            self.int_("fastk_period"),
            self.int_("slowk_period"),
            self.int_("slowd_period"),
        )

    def lookback(self) -> int:
        return self.k + self.sk + self.sd + 2

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        sma = MA_Type.SMA
        k, d = talib.STOCH(h, lo, c, self.k, self.sk, sma, self.sd, sma)
        direction, strength = self.zone(d[-2])
        if direction == 0 or crossed(k, d) != direction:
            return 0, 0.0
        return direction, strength


class StochRsi(_Oscillator):
    id = "stochrsi"
    family = "momentum"
    description = (
        "Stochastic RSI %K (where RSI sits in its range of the last `fastk_period` bars) below "
        "`oversold`: +1; above `overbought`: -1. Strength: depth beyond the level."
    )
    params = (
        Param("period", 14, 2, 200),
        Param("fastk_period", 5, 2, 50),
        Param("oversold", 10.0, 1.0, 50.0),
        Param("overbought", 90.0, 50.0, 99.0),
    )

    def configure(self) -> None:
        super().configure()
        self.period, self.fk = self.int_("period"), self.int_("fastk_period")

    def lookback(self) -> int:
        return warm(self.period) + self.period + self.fk

    def compute(self, bars: Bars) -> tuple[float, float]:
        # %K from TA-Lib's RSI directly (what STOCHRSI computes) so a constant RSI, whose stochastic is
        # undefined and which TA-Lib reports as 0 ("oversold"), can be told apart.
        rsi = talib.RSI(bars.close[-self.n :], self.period)[-self.fk :]
        low, high = float(rsi.min()), float(rsi.max())
        if not high > low:
            return 0, 0.0
        return self.zone(100.0 * (rsi[-1] - low) / (high - low))


class WillR(_Oscillator):
    id = "willr"
    family = "momentum"
    description = (
        "Williams %R below `oversold` (near the period low): +1; above `overbought`: -1. Strength: depth "
        "beyond the level."
    )
    floor, ceiling = -100.0, 0.0
    params = (
        Param("period", 14, 2, 200),
        Param("oversold", -80.0, -99.0, -50.0),
        Param("overbought", -20.0, -50.0, -1.0),
    )

    def configure(self) -> None:
        super().configure()
        self.period = self.int_("period")

    def lookback(self) -> int:
        return self.period

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        if not float(h.max()) > float(lo.min()):  # no range: %R is undefined (TA-Lib says 0)
            return 0, 0.0
        return self.zone(talib.WILLR(h, lo, c, self.period)[-1])


class UltOsc(_Oscillator):
    id = "ultosc"
    family = "momentum"
    description = (
        "Ultimate Oscillator (buying pressure over three horizons) below `oversold`: +1; above "
        "`overbought`: -1. Strength: depth beyond the level."
    )
    params = (
        Param("period1", 7, 1, 100),
        Param("period2", 14, 2, 200),
        Param("period3", 28, 3, 400),
        Param("oversold", 30.0, 1.0, 50.0),
        Param("overbought", 70.0, 50.0, 99.0),
    )

    def configure(self) -> None:
        super().configure()
        self.p1, self.p2, self.p3 = self.int_("period1"), self.int_("period2"), self.int_("period3")
        self.require(self.p1 < self.p2 < self.p3, "periods must satisfy period1 < period2 < period3")

    def lookback(self) -> int:
        return self.p3 + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        if not float(h.max()) > float(lo.min()):  # no range at all: the oscillator is undefined
            return 0, 0.0
        return self.zone(talib.ULTOSC(h, lo, c, self.p1, self.p2, self.p3)[-1])


class Roc(SensorBase):
    id = "roc"
    family = "momentum"
    description = (
        "Rate of change over `period` bars beyond ±`threshold` percent: its sign (continuation). Strength: "
        "|ROC| from threshold (0) to 3 × threshold (1)."
    )
    params = (Param("period", 10, 1, 500), Param("threshold", 1.0, 0.01, 50.0))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        roc = talib.ROC(bars.close[-self.n :], self.period)[-1]
        if abs(roc) <= self.threshold:
            return 0, 0.0
        return roc, ramp(abs(roc), self.threshold, 3 * self.threshold)


class Mom(SensorBase):
    id = "mom"
    family = "momentum"
    description = (
        "Momentum (close minus close `period` bars ago) in ATRs beyond ±`threshold`: its sign. Strength: "
        "from threshold (0) to 2 × threshold (1)."
    )
    params = (
        Param("period", 10, 1, 500),
        Param("threshold", 2.0, 0.1, 20.0),
        Param("atr_period", 14, 2, 100),
    )

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")
        self.atr_period = self.int_("atr_period")

    def lookback(self) -> int:
        return max(self.period + 1, warm(self.atr_period) + self.atr_period + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        mom = talib.MOM(c, self.period)[-1] / last_atr(h, lo, c, self.atr_period)
        if abs(mom) <= self.threshold:
            return 0, 0.0
        return mom, ramp(abs(mom), self.threshold, 2 * self.threshold)


class Cmo(SensorBase):
    id = "cmo"
    family = "momentum"
    description = (
        "Chande Momentum Oscillator beyond ±`threshold`: its sign (continuation). Strength: from threshold "
        "(0) to 100 (1)."
    )
    params = (Param("period", 14, 2, 200), Param("threshold", 50.0, 5.0, 95.0))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return warm(self.period) + self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        cmo = talib.CMO(bars.close[-self.n :], self.period)[-1]
        if abs(cmo) <= self.threshold:
            return 0, 0.0
        return cmo, ramp(abs(cmo), self.threshold, 100.0)


class PpoTurn(SensorBase):
    id = "ppo_turn"
    family = "momentum"
    description = (
        "PPO histogram (PPO minus its EMA signal) turning up from a trough below -`threshold` percent: "
        "+1; turning down from a peak above +`threshold`: -1. Strength: |trough| from threshold (0) to "
        "threshold + 0.2% (1)."
    )
    params = (
        Param("fast", 12, 2, 200),
        Param("slow", 26, 3, 400),
        Param("signal", 9, 2, 100),
        Param("threshold", 0.02, 0.0, 5.0, doc="minimum |histogram| (percent) of the turning point"),
    )

    def configure(self) -> None:
        self.fast, self.slow, self.signal = self.int_("fast"), self.int_("slow"), self.int_("signal")
        self.threshold = self.float_("threshold")
        self.require(self.fast < self.slow, "fast must be shorter than slow")

    def lookback(self) -> int:
        return warm(self.slow) + self.slow + self.signal + 3

    def compute(self, bars: Bars) -> tuple[float, float]:
        ppo = talib.PPO(bars.close[-self.n :], self.fast, self.slow, MA_Type.EMA)  # like MACD
        hist = ppo - talib.EMA(ppo, self.signal)
        h2, h1, h0 = hist[-3], hist[-2], hist[-1]
        if h1 < -self.threshold and h1 < h2 and h0 > h1:
            return 1, ramp(-h1, self.threshold, self.threshold + 0.2)
        if h1 > self.threshold and h1 > h2 and h0 < h1:
            return -1, ramp(h1, self.threshold, self.threshold + 0.2)
        return 0, 0.0


class ApoCross(SensorBase):
    id = "apo_cross"
    family = "momentum"
    description = (
        "Absolute price oscillator (fast SMA minus slow SMA) crossing zero: +1 up, -1 down. Strength: the "
        "bar's change of APO in ATRs (0.5 ATR → 1)."
    )
    params = (Param("fast", 10, 2, 200), Param("slow", 30, 3, 400), Param("atr_period", 14, 2, 100))

    def configure(self) -> None:
        self.fast, self.slow = self.int_("fast"), self.int_("slow")
        self.atr_period = self.int_("atr_period")
        self.require(self.fast < self.slow, "fast must be shorter than slow")

    def lookback(self) -> int:
        return max(self.slow + 1, warm(self.atr_period) + self.atr_period + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        apo = talib.APO(c, self.fast, self.slow, MA_Type.SMA)
        direction = crossed(apo, 0.0)
        if direction == 0:
            return 0, 0.0
        return direction, ramp(abs(apo[-1] - apo[-2]) / last_atr(h, lo, c, self.atr_period), 0.0, 0.5)


class Bop(SensorBase):
    id = "bop"
    family = "momentum"
    description = (
        "Balance of power ((close - open) / range) averaged over `period` bars beyond ±`threshold`: its "
        "sign. Strength: from threshold (0) to 1 (1)."
    )
    params = (Param("period", 14, 1, 200), Param("threshold", 0.3, 0.01, 0.99))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return self.period

    def compute(self, bars: Bars) -> tuple[float, float]:
        bop = talib.BOP(
            bars.open[-self.n :], bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        )
        mean = float(bop.mean())
        if abs(mean) <= self.threshold:
            return 0, 0.0
        return mean, ramp(abs(mean), self.threshold, 1.0)
