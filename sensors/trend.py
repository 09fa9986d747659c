"""Trend sensors: moving-average crosses and alignment, directional movement, Aroon, SAR, regression slope.

Positive direction means "the trend is (turning) up". Distances are measured in ATRs of the same window so
strengths mean the same on every symbol and timeframe.
"""

from __future__ import annotations

import talib

from sensors.base import Bars, Param, SensorBase, crossed, last_atr, ramp, warm

__all__ = [
    "AdxDmi",
    "Aroon",
    "EmaCross",
    "HtTrendline",
    "KamaTrend",
    "LinregSlope",
    "MaRibbon",
    "MacdCross",
    "MacdZero",
    "SarFlip",
    "SmaTrend",
    "TkCross",
    "TrixCross",
]

ATR_PERIOD = Param("atr_period", 14, 2, 100, doc="ATR period used to normalise distances")


class EmaCross(SensorBase):
    id = "ema_cross"
    family = "trend"
    description = (
        "Fast EMA crossing the slow EMA: +1 up, -1 down. Strength: the bar's change of the EMA spread "
        "in ATRs (0 → 0, 0.5 ATR → 1)."
    )
    params = (Param("fast", 9, 2, 200), Param("slow", 21, 3, 400), ATR_PERIOD)

    def configure(self) -> None:
        self.fast, self.slow, self.atr_period = self.int_("fast"), self.int_("slow"), self.int_("atr_period")
        self.require(self.fast < self.slow, "fast must be shorter than slow")

    def lookback(self) -> int:
        return warm(self.slow) + self.slow + 2

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        fast, slow = talib.EMA(c, self.fast), talib.EMA(c, self.slow)
        direction = crossed(fast, slow)
        if direction == 0:
            return 0, 0.0
        change = abs((fast[-1] - slow[-1]) - (fast[-2] - slow[-2]))
        return direction, ramp(change / last_atr(h, lo, c, self.atr_period), 0.0, 0.5)


class SmaTrend(SensorBase):
    id = "sma_trend"
    family = "trend"
    description = (
        "Close beyond its SMA by more than `band` ATRs: +1 above, -1 below. Strength: distance from `band` "
        "to `band` + 3 ATRs."
    )
    params = (Param("period", 50, 2, 500), Param("band", 0.5, 0.0, 10.0), ATR_PERIOD)

    def configure(self) -> None:
        self.period, self.band = self.int_("period"), self.float_("band")
        self.atr_period = self.int_("atr_period")

    def lookback(self) -> int:
        return max(self.period, warm(self.atr_period) + self.atr_period + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        distance = (c[-1] - talib.SMA(c, self.period)[-1]) / last_atr(h, lo, c, self.atr_period)
        if abs(distance) <= self.band:
            return 0, 0.0
        return distance, ramp(abs(distance), self.band, self.band + 3.0)


class _MacdBase(SensorBase):
    family = "trend"
    params = (Param("fast", 12, 2, 200), Param("slow", 26, 3, 400), Param("signal", 9, 2, 100), ATR_PERIOD)

    def configure(self) -> None:
        self.fast, self.slow, self.signal = self.int_("fast"), self.int_("slow"), self.int_("signal")
        self.atr_period = self.int_("atr_period")
        self.require(self.fast < self.slow, "fast must be shorter than slow")

    def lookback(self) -> int:
        return warm(self.slow) + self.slow + self.signal + 2

    def macd(self, bars: Bars) -> tuple[float, ...]:
        """(macd[-2], macd[-1], signal[-2], signal[-1], atr) on the window."""
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        macd, signal, _ = talib.MACD(c, self.fast, self.slow, self.signal)
        return macd[-2], macd[-1], signal[-2], signal[-1], last_atr(h, lo, c, self.atr_period)


class MacdCross(_MacdBase):
    id = "macd_cross"
    description = (
        "MACD line crossing its signal line: +1 up, -1 down. Strength: how far from zero the cross happens, "
        "against the direction (a bullish cross 1 ATR below zero → 1)."
    )

    def compute(self, bars: Bars) -> tuple[float, float]:
        m0, m1, s0, s1, atr = self.macd(bars)
        if m0 <= s0 and m1 > s1:
            return 1, ramp(-m1 / atr, 0.0, 1.0)
        if m0 >= s0 and m1 < s1:
            return -1, ramp(m1 / atr, 0.0, 1.0)
        return 0, 0.0


class MacdZero(_MacdBase):
    id = "macd_zero"
    description = (
        "MACD line crossing zero (the fast EMA overtaking the slow one): +1 up, -1 down. Strength: the MACD "
        "histogram in ATRs (0.5 ATR → 1)."
    )

    def compute(self, bars: Bars) -> tuple[float, float]:
        m0, m1, _, s1, atr = self.macd(bars)
        if m0 <= 0 < m1:
            return 1, ramp((m1 - s1) / atr, 0.0, 0.5)
        if m0 >= 0 > m1:
            return -1, ramp((s1 - m1) / atr, 0.0, 0.5)
        return 0, 0.0


class AdxDmi(SensorBase):
    id = "adx_dmi"
    family = "trend"
    description = (
        "ADX above `threshold` (a trending market): direction of +DI versus -DI. Strength: ADX from the "
        "threshold (0) to threshold + 25 (1)."
    )
    params = (Param("period", 14, 2, 100), Param("threshold", 25.0, 5.0, 80.0))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return warm(self.period) + 2 * self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        adx = talib.ADX(h, lo, c, self.period)[-1]
        if not adx > self.threshold:
            return 0, 0.0
        plus, minus = talib.PLUS_DI(h, lo, c, self.period)[-1], talib.MINUS_DI(h, lo, c, self.period)[-1]
        return plus - minus, ramp(adx, self.threshold, self.threshold + 25.0)


class Aroon(SensorBase):
    id = "aroon"
    family = "trend"
    description = (
        "Aroon up at least `threshold` while Aroon down is at most 100 - threshold: +1 (mirror: -1). "
        "Strength: |up - down| / 100."
    )
    params = (Param("period", 25, 2, 200), Param("threshold", 70.0, 50.0, 100.0))

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")

    def lookback(self) -> int:
        return self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        down, up = talib.AROON(bars.high[-self.n :], bars.low[-self.n :], self.period)
        d, u = down[-1], up[-1]
        weak = 100.0 - self.threshold
        if u >= self.threshold and d <= weak:
            return 1, (u - d) / 100.0
        if d >= self.threshold and u <= weak:
            return -1, (d - u) / 100.0
        return 0, 0.0


class SarFlip(SensorBase):
    id = "sar_flip"
    family = "trend"
    description = (
        "Parabolic SAR flipping sides on the last bar: +1 when it moves below price, -1 above. Strength: the "
        "gap between close and the new SAR in ATRs (2 ATR → 1)."
    )
    params = (
        Param("acceleration", 0.02, 0.001, 0.5),
        Param("maximum", 0.2, 0.01, 1.0),
        Param("window", 100, 20, 1000, doc="bars the SAR path is rebuilt from"),
        ATR_PERIOD,
    )

    def configure(self) -> None:
        self.acceleration, self.maximum = self.float_("acceleration"), self.float_("maximum")
        self.window, self.atr_period = self.int_("window"), self.int_("atr_period")
        self.require(self.acceleration <= self.maximum, "acceleration must not exceed maximum")
        self.require(self.window > self.atr_period + 2, "window must exceed atr_period + 2")

    def lookback(self) -> int:
        return self.window

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        sar = talib.SAR(h, lo, self.acceleration, self.maximum)
        direction = crossed(c, sar)
        if direction == 0:
            return 0, 0.0
        return direction, ramp(abs(c[-1] - sar[-1]) / last_atr(h, lo, c, self.atr_period), 0.0, 2.0)


class KamaTrend(SensorBase):
    id = "kama_trend"
    family = "trend"
    description = (
        "Kaufman adaptive MA: close more than `band` ATRs on one side of KAMA while KAMA slopes the same "
        "way → that direction. Strength: close-to-KAMA distance from `band` (0) to `band` + 2 ATRs (1)."
    )
    params = (Param("period", 10, 2, 200), Param("band", 0.25, 0.0, 10.0), ATR_PERIOD)

    def configure(self) -> None:
        self.period, self.atr_period = self.int_("period"), self.int_("atr_period")
        self.band = self.float_("band")

    def lookback(self) -> int:
        return max(warm(self.period) + self.period + 2, warm(self.atr_period) + self.atr_period + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        kama = talib.KAMA(c, self.period)
        side, slope = c[-1] - kama[-1], kama[-1] - kama[-2]
        distance = abs(side) / last_atr(h, lo, c, self.atr_period)
        if side * slope <= 0 or not distance > self.band:
            return 0, 0.0
        return side, ramp(distance, self.band, self.band + 2.0)


class LinregSlope(SensorBase):
    id = "linreg_slope"
    family = "trend"
    description = (
        "Least-squares slope of close over `period` bars, in ATRs per bar, beyond `threshold`: its sign. "
        "Strength: |slope| from threshold (0) to 4 × threshold (1)."
    )
    params = (Param("period", 20, 3, 500), Param("threshold", 0.05, 0.001, 5.0), ATR_PERIOD)

    def configure(self) -> None:
        self.period, self.threshold = self.int_("period"), self.float_("threshold")
        self.atr_period = self.int_("atr_period")

    def lookback(self) -> int:
        return max(self.period, warm(self.atr_period) + self.atr_period + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        slope = talib.LINEARREG_SLOPE(c[-self.period :], self.period)[-1]
        slope /= last_atr(h, lo, c, self.atr_period)
        if abs(slope) <= self.threshold:
            return 0, 0.0
        return slope, ramp(abs(slope), self.threshold, 4 * self.threshold)


class TkCross(SensorBase):
    id = "tk_cross"
    family = "trend"
    description = (
        "Ichimoku Tenkan-sen (mid-range of `tenkan` bars) crossing Kijun-sen (of `kijun` bars): +1 up, -1 "
        "down. Strength: close-to-Kijun distance in ATRs (2 ATR → 1)."
    )
    params = (Param("tenkan", 9, 2, 100), Param("kijun", 26, 3, 300), ATR_PERIOD)

    def configure(self) -> None:
        self.tenkan, self.kijun = self.int_("tenkan"), self.int_("kijun")
        self.atr_period = self.int_("atr_period")
        self.require(self.tenkan < self.kijun, "tenkan must be shorter than kijun")

    def lookback(self) -> int:
        return max(self.kijun + 1, warm(self.atr_period) + self.atr_period + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        tenkan, kijun = talib.MIDPRICE(h, lo, self.tenkan), talib.MIDPRICE(h, lo, self.kijun)
        direction = crossed(tenkan, kijun)
        if direction == 0:
            return 0, 0.0
        return direction, ramp(abs(c[-1] - kijun[-1]) / last_atr(h, lo, c, self.atr_period), 0.0, 2.0)


class MaRibbon(SensorBase):
    id = "ma_ribbon"
    family = "trend"
    description = (
        "Three EMAs stacked in order (fast > mid > slow: +1; fast < mid < slow: -1) and fanned out by more "
        "than `band` ATRs fast-to-slow. Strength: that spread from `band` (0) to `band` + 3 ATRs (1)."
    )
    params = (
        Param("fast", 8, 2, 100),
        Param("mid", 21, 3, 200),
        Param("slow", 55, 4, 400),
        Param("band", 0.25, 0.0, 10.0),
        ATR_PERIOD,
    )

    def configure(self) -> None:
        self.fast, self.mid, self.slow = self.int_("fast"), self.int_("mid"), self.int_("slow")
        self.atr_period, self.band = self.int_("atr_period"), self.float_("band")
        self.require(self.fast < self.mid < self.slow, "periods must satisfy fast < mid < slow")

    def lookback(self) -> int:
        return warm(self.slow) + self.slow

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        f, m, s = (talib.EMA(c, p)[-1] for p in (self.fast, self.mid, self.slow))
        spread = abs(f - s) / last_atr(h, lo, c, self.atr_period)
        if not (f > m > s or f < m < s) or not spread > self.band:
            return 0, 0.0
        return f - s, ramp(spread, self.band, self.band + 3.0)


class TrixCross(SensorBase):
    id = "trix_cross"
    family = "trend"
    description = (
        "TRIX (rate of change of a triple-smoothed EMA) crossing its EMA signal line: +1 up, -1 down. "
        "Strength: |TRIX| in percent per bar (0.05% → 1)."
    )
    params = (Param("period", 15, 2, 100), Param("signal", 9, 2, 50))

    def configure(self) -> None:
        self.period, self.signal = self.int_("period"), self.int_("signal")

    def lookback(self) -> int:
        return 3 * self.period + warm(self.period) + self.signal + 2

    def compute(self, bars: Bars) -> tuple[float, float]:
        trix = talib.TRIX(bars.close[-self.n :], self.period)
        signal = talib.EMA(trix, self.signal)
        return crossed(trix, signal), ramp(abs(trix[-1]), 0.0, 0.05)


class HtTrendline(SensorBase):
    id = "ht_trendline"
    family = "trend"
    description = (
        "Hilbert-transform instantaneous trendline, only while the Hilbert trend mode says 'trending': side "
        "of close against the trendline. Strength: distance in ATRs (2 ATR → 1)."
    )
    params = (Param("window", 150, 100, 1000, doc="bars the Hilbert transform is computed on"), ATR_PERIOD)

    def configure(self) -> None:
        self.window, self.atr_period = self.int_("window"), self.int_("atr_period")

    def lookback(self) -> int:
        return self.window

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        if talib.HT_TRENDMODE(c)[-1] != 1:
            return 0, 0.0
        gap = c[-1] - talib.HT_TRENDLINE(c)[-1]
        return gap, ramp(abs(gap) / last_atr(h, lo, c, self.atr_period), 0.0, 2.0)
