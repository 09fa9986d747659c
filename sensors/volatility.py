"""Volatility and breakout sensors: channel breaks, range expansion, squeezes releasing.

Direction is the side of the break (+1 up); strength measures how decisive it is, in ATRs of the window.
"""

from __future__ import annotations

import numpy as np
import talib

from sensors.base import Bars, Param, SensorBase, crossed, last_atr, ramp, warm

__all__ = [
    "AtrBreakout",
    "BbSqueezeBreakout",
    "Chandelier",
    "DonchianBreakout",
    "KeltnerBreakout",
    "Nr7Breakout",
    "RangeExpansion",
    "TtmSqueeze",
]

ATR_PERIOD = Param("atr_period", 14, 2, 100, doc="ATR period used to normalise distances")


def _atr_window(atr_period: int) -> int:
    return warm(atr_period) + atr_period + 1


class DonchianBreakout(SensorBase):
    id = "donchian_breakout"
    family = "volatility"
    description = (
        "Close above the highest high of the previous `period` bars: +1; below the lowest low: -1. "
        "Strength: the break in ATRs (1 ATR → 1)."
    )
    params = (Param("period", 20, 2, 1000), ATR_PERIOD)

    def configure(self) -> None:
        self.period, self.atr_period = self.int_("period"), self.int_("atr_period")

    def lookback(self) -> int:
        return max(self.period + 1, _atr_window(self.atr_period))

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        top, bottom = float(h[-self.period - 1 : -1].max()), float(lo[-self.period - 1 : -1].min())
        close = c[-1]
        if close > top:
            return 1, ramp((close - top) / last_atr(h, lo, c, self.atr_period), 0.0, 1.0)
        if close < bottom:
            return -1, ramp((bottom - close) / last_atr(h, lo, c, self.atr_period), 0.0, 1.0)
        return 0, 0.0


class BbSqueezeBreakout(SensorBase):
    id = "bb_squeeze_breakout"
    family = "volatility"
    description = (
        "Bollinger bandwidth in its lowest `quantile` of the last `history` bars on the previous bar (a "
        "squeeze), then a close outside the bands: the side of the break. Strength: overshoot / band width "
        "(a quarter width → 1)."
    )
    params = (
        Param("period", 20, 2, 500),
        Param("nbdev", 2.0, 0.5, 5.0),
        Param("history", 100, 10, 1000),
        Param("quantile", 0.2, 0.01, 0.5),
    )

    def configure(self) -> None:
        self.period, self.nbdev = self.int_("period"), self.float_("nbdev")
        self.history, self.quantile = self.int_("history"), self.float_("quantile")

    def lookback(self) -> int:
        return self.period + self.history

    def compute(self, bars: Bars) -> tuple[float, float]:
        c = bars.close[-self.n :]
        upper, middle, lower = talib.BBANDS(c, self.period, self.nbdev, self.nbdev)
        bandwidth = ((upper - lower) / middle)[-self.history :]
        # Rank of the previous bar's bandwidth in the history (np.quantile is 20× slower for the same test).
        if not np.count_nonzero(bandwidth < bandwidth[-2]) <= self.quantile * len(bandwidth):
            return 0, 0.0
        width, close = upper[-1] - lower[-1], c[-1]
        if not width > 0:
            return 0, 0.0
        if close > upper[-1]:
            return 1, ramp((close - upper[-1]) / width, 0.0, 0.25)
        if close < lower[-1]:
            return -1, ramp((lower[-1] - close) / width, 0.0, 0.25)
        return 0, 0.0


class AtrBreakout(SensorBase):
    id = "atr_breakout"
    family = "volatility"
    description = (
        "Close moved more than `mult` ATRs (ATR as of the previous bar) from the previous close: the "
        "direction of the move. Strength: from `mult` (0) to 2 × `mult` (1) ATRs."
    )
    params = (Param("mult", 1.5, 0.2, 10.0), ATR_PERIOD)

    def configure(self) -> None:
        self.mult, self.atr_period = self.float_("mult"), self.int_("atr_period")

    def lookback(self) -> int:
        return _atr_window(self.atr_period) + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        move = (c[-1] - c[-2]) / last_atr(h[:-1], lo[:-1], c[:-1], self.atr_period)
        if abs(move) <= self.mult:
            return 0, 0.0
        return move, ramp(abs(move), self.mult, 2 * self.mult)


class KeltnerBreakout(SensorBase):
    id = "keltner_breakout"
    family = "volatility"
    description = (
        "Close crossing out of the Keltner channel (EMA ± `mult` ATRs): +1 through the top, -1 through the "
        "bottom. Strength: the bar's move in ATRs (1 ATR → 1)."
    )
    params = (Param("period", 20, 2, 500), Param("mult", 1.5, 0.2, 10.0), ATR_PERIOD)

    def configure(self) -> None:
        self.period, self.mult, self.atr_period = (
            self.int_("period"),
            self.float_("mult"),
            self.int_("atr_period"),
        )

    def lookback(self) -> int:
        return max(warm(self.period) + self.period, _atr_window(self.atr_period)) + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        ema, atr = talib.EMA(c, self.period), talib.ATR(h, lo, c, self.atr_period)
        up = crossed(c, ema + self.mult * atr)
        down = crossed(c, ema - self.mult * atr)
        direction = 1 if up == 1 else -1 if down == -1 else 0
        if direction == 0:
            return 0, 0.0
        return direction, ramp(abs(c[-1] - c[-2]) / atr[-1], 0.0, 1.0)


class RangeExpansion(SensorBase):
    id = "range_expansion"
    family = "volatility"
    description = (
        "A wide-range bar: true range above `mult` × the previous bar's ATR; direction of its body. "
        "Strength: from `mult` (0) to 2 × `mult` (1)."
    )
    params = (Param("mult", 2.0, 1.0, 10.0), ATR_PERIOD)

    def configure(self) -> None:
        self.mult, self.atr_period = self.float_("mult"), self.int_("atr_period")

    def lookback(self) -> int:
        return _atr_window(self.atr_period) + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        true_range = max(h[-1], c[-2]) - min(lo[-1], c[-2])
        ratio = true_range / last_atr(h[:-1], lo[:-1], c[:-1], self.atr_period)
        body = c[-1] - bars.open[-1]
        if not ratio > self.mult or body == 0:
            return 0, 0.0
        return body, ramp(ratio, self.mult, 2 * self.mult)


class TtmSqueeze(SensorBase):
    id = "ttm_squeeze"
    family = "volatility"
    description = (
        "Squeeze release: Bollinger bands inside the Keltner channel on the previous bar and not on this "
        "one; direction of the momentum (regression slope of close minus the channel midline). Strength: "
        "the slope in ATRs per bar (0.1 → 1)."
    )
    params = (
        Param("period", 20, 2, 500),
        Param("bb_mult", 2.0, 0.5, 5.0),
        Param("kc_mult", 1.5, 0.5, 5.0),
        ATR_PERIOD,
    )

    def configure(self) -> None:
        self.period, self.atr_period = self.int_("period"), self.int_("atr_period")
        self.bb_mult, self.kc_mult = self.float_("bb_mult"), self.float_("kc_mult")

    def lookback(self) -> int:
        return max(warm(self.period) + 2 * self.period, _atr_window(self.atr_period) + 1)

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        upper, middle, _ = talib.BBANDS(c[-self.period - 1 :], self.period, self.bb_mult, self.bb_mult)
        ema, atr = talib.EMA(c, self.period), talib.ATR(h, lo, c, self.atr_period)
        squeezed = (upper[-2:] - middle[-2:]) < self.kc_mult * atr[-2:]
        if not (squeezed[0] and not squeezed[1]):
            return 0, 0.0
        momentum = c[-self.period :] - ema[-self.period :]
        slope = talib.LINEARREG_SLOPE(momentum, self.period)[-1] / atr[-1]
        return slope, ramp(abs(slope), 0.0, 0.1)


class Nr7Breakout(SensorBase):
    id = "nr7_breakout"
    family = "volatility"
    description = (
        "The previous bar was the narrowest of the last `period` (an NR7): closing above its high → +1, "
        "below its low → -1. Strength: the break over that narrow range (one range → 1)."
    )
    params = (Param("period", 7, 3, 50),)

    def configure(self) -> None:
        self.period = self.int_("period")

    def lookback(self) -> int:
        return self.period + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        ranges = h[:-1] - lo[:-1]
        narrow = ranges[-1]
        if not (narrow > 0 and narrow <= float(ranges.min())):
            return 0, 0.0
        if c[-1] > h[-2]:
            return 1, ramp((c[-1] - h[-2]) / narrow, 0.0, 1.0)
        if c[-1] < lo[-2]:
            return -1, ramp((lo[-2] - c[-1]) / narrow, 0.0, 1.0)
        return 0, 0.0


class Chandelier(SensorBase):
    id = "chandelier"
    family = "volatility"
    description = (
        "Chandelier stops flipping: close rising above the short stop (lowest low + `mult` ATRs of `period` "
        "bars) → +1; falling below the long stop (highest high - `mult` ATRs) → -1. Strength: the bar's "
        "move in ATRs (1 ATR → 1)."
    )
    params = (Param("period", 22, 2, 500), Param("mult", 3.0, 0.5, 10.0))

    def configure(self) -> None:
        self.period, self.mult = self.int_("period"), self.float_("mult")

    def lookback(self) -> int:
        return warm(self.period) + self.period + 2

    def compute(self, bars: Bars) -> tuple[float, float]:
        h, lo, c = bars.high[-self.n :], bars.low[-self.n :], bars.close[-self.n :]
        atr = talib.ATR(h, lo, c, self.period)
        short_stop = talib.MIN(lo, self.period) + self.mult * atr
        long_stop = talib.MAX(h, self.period) - self.mult * atr
        # Stops of the previous bar: the current bar's own extreme must not move the line it crosses.
        if c[-2] <= short_stop[-2] and c[-1] > short_stop[-2]:
            return 1, ramp(abs(c[-1] - c[-2]) / atr[-1], 0.0, 1.0)
        if c[-2] >= long_stop[-2] and c[-1] < long_stop[-2]:
            return -1, ramp(abs(c[-1] - c[-2]) / atr[-1], 0.0, 1.0)
        return 0, 0.0
