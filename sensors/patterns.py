"""Candlestick pattern sensors (TA-Lib ``CDL*`` recognisers) on the last closed bar.

A sensor either wraps one two-sided recogniser (the sign of its output is the direction) or pairs a
bullish recogniser with its bearish twin (hammer / hanging man...). Strength is TA-Lib's own grading
divided by 200: a plain pattern (±100) → 0.5, a partial one (±80) → 0.4, a confirmed one (±200) → 1.

Patterns on bars narrower than ``min_range_atr`` × the mean true range of the last 14 bars are ignored:
in a dead market every tiny bar matches some template, and those matches carry no information.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import numpy as np
import talib

from sensors.base import F64, Bars, Param, SensorBase, ta_lookback

__all__ = [
    "BeltHold",
    "DojiStar",
    "DojiStarReversal",
    "DragonflyGravestone",
    "Engulfing",
    "HammerHangingMan",
    "Harami",
    "HaramiCross",
    "Hikkake",
    "InvertedHammerShootingStar",
    "Marubozu",
    "SeparatingLines",
    "SoldiersCrows",
    "Star",
    "ThreeInside",
    "ThreeLineStrike",
    "ThreeOutside",
    "XSideGapThreeMethods",
]

RANGE_PERIOD = 14
Recogniser = Callable[..., "np.ndarray[tuple[int], np.dtype[np.int32]]"]


class _Candlestick(SensorBase):
    family = "pattern"
    bullish: ClassVar[str]  # TA-Lib function; two-sided when ``bearish`` is empty
    bearish: ClassVar[str] = ""
    span: ClassVar[int]  # bars the pattern covers (the last of them is the signal bar)
    params: ClassVar[tuple[Param, ...]] = (
        Param("min_range_atr", 0.5, 0.0, 5.0, doc="ignore patterns spanning less than this × mean TR"),
    )

    def configure(self) -> None:
        self.min_range = self.float_("min_range_atr")
        self.recognisers: tuple[Recogniser, ...] = tuple(
            getattr(talib, name) for name in (self.bullish, self.bearish) if name
        )
        self.extra = self.options()

    def options(self) -> dict[str, float]:
        """Extra keyword arguments of the recognisers."""
        return {}

    def lookback(self) -> int:
        names = [name for name in (self.bullish, self.bearish) if name]
        return max(*(ta_lookback(name, **self.options()) for name in names), RANGE_PERIOD + 1) + 1

    def compute(self, bars: Bars) -> tuple[float, float]:
        n = self.n
        o, h, lo, c = bars.open[-n:], bars.high[-n:], bars.low[-n:], bars.close[-n:]
        if not self._wide_enough(h, lo, c):
            return 0, 0.0
        values = [int(fn(o, h, lo, c, **self.extra)[-1]) for fn in self.recognisers]
        if len(values) == 1:
            return values[0], abs(values[0]) / 200.0
        bull, bear = values
        if (bull != 0) == (bear != 0):  # neither, or (never seen) both at once
            return 0, 0.0
        return (1, abs(bull) / 200.0) if bull else (-1, abs(bear) / 200.0)

    def _wide_enough(self, h: F64, lo: F64, c: F64) -> bool:
        if self.min_range == 0:
            return True
        span = float(h[-self.span :].max() - lo[-self.span :].min())
        mean_true_range = float(talib.SMA(talib.TRANGE(h, lo, c), RANGE_PERIOD)[-1])
        return span >= self.min_range * mean_true_range


class _Penetrating(_Candlestick):
    params = (
        *_Candlestick.params,
        Param("penetration", 0.3, 0.0, 1.0, doc="how far the last bar must reach into the first one's body"),
    )

    def options(self) -> dict[str, float]:
        return {"penetration": self.float_("penetration")}


class Engulfing(_Candlestick):
    id = "cdl_engulfing"
    description = "Engulfing: a body that engulfs the previous opposite body; +1 bullish, -1 bearish."
    bullish, span = "CDLENGULFING", 2


class Harami(_Candlestick):
    id = "cdl_harami"
    description = "Harami: a small body inside the previous long opposite body; +1 bullish, -1 bearish."
    bullish, span = "CDLHARAMI", 2


class HaramiCross(_Candlestick):
    id = "cdl_harami_cross"
    description = (
        "Harami cross: a doji inside the previous long body; +1 after a black bar, -1 after a white."
    )
    bullish, span = "CDLHARAMICROSS", 2


class HammerHangingMan(_Candlestick):
    id = "cdl_hammer"
    description = (
        "Hammer (+1: small body, long lower shadow, at the lows of the previous bar) or its twin the "
        "hanging man (-1: the same shape at the highs)."
    )
    bullish, bearish, span = "CDLHAMMER", "CDLHANGINGMAN", 2


class InvertedHammerShootingStar(_Candlestick):
    id = "cdl_shooting_star"
    description = (
        "Inverted hammer (+1: long upper shadow gapping down from a black bar) or shooting star (-1: long "
        "upper shadow gapping up from a white bar)."
    )
    bullish, bearish, span = "CDLINVERTEDHAMMER", "CDLSHOOTINGSTAR", 2


class Star(_Penetrating):
    id = "cdl_star"
    description = (
        "Morning star (+1: long black, small star, white closing `penetration` into the first body) or "
        "evening star (-1: the mirror)."
    )
    bullish, bearish, span = "CDLMORNINGSTAR", "CDLEVENINGSTAR", 3


class DojiStarReversal(_Penetrating):
    id = "cdl_doji_star_reversal"
    description = (
        "Morning doji star (+1) or evening doji star (-1): a star pattern whose middle bar is a doji."
    )
    bullish, bearish, span = "CDLMORNINGDOJISTAR", "CDLEVENINGDOJISTAR", 3


class SoldiersCrows(_Candlestick):
    id = "cdl_soldiers_crows"
    description = "Three white soldiers (+1) or three black crows (-1): three strong bars stepping one way."
    bullish, bearish, span = "CDL3WHITESOLDIERS", "CDL3BLACKCROWS", 3


class ThreeInside(_Candlestick):
    id = "cdl_three_inside"
    description = "Three inside up/down: a harami confirmed by a third bar closing beyond the first body."
    bullish, span = "CDL3INSIDE", 3


class ThreeOutside(_Candlestick):
    id = "cdl_three_outside"
    description = "Three outside up/down: an engulfing confirmed by a third bar closing further the same way."
    bullish, span = "CDL3OUTSIDE", 3


class ThreeLineStrike(_Candlestick):
    id = "cdl_three_line_strike"
    description = (
        "Three-line strike: three bars one way, then one bar wiping them out; TA-Lib's sign (+1 when the "
        "three bars were white)."
    )
    bullish, span = "CDL3LINESTRIKE", 4


class Marubozu(_Candlestick):
    id = "cdl_marubozu"
    description = "Marubozu: a long body with (almost) no shadows; +1 white, -1 black."
    bullish, span = "CDLMARUBOZU", 1


class BeltHold(_Candlestick):
    id = "cdl_belt_hold"
    description = (
        "Belt hold: a long bar opening on its extreme (white from its low: +1; black from its high: -1)."
    )
    bullish, span = "CDLBELTHOLD", 1


class Hikkake(_Candlestick):
    id = "cdl_hikkake"
    description = (
        "Hikkake: a false break out of an inside bar; ±0.5 at the false break, ±1 when confirmed within "
        "three bars."
    )
    bullish, span = "CDLHIKKAKE", 5


class SeparatingLines(_Candlestick):
    id = "cdl_separating_lines"
    description = (
        "Separating lines: a bar opening where the previous opposite bar opened, continuing the trend."
    )
    bullish, span = "CDLSEPARATINGLINES", 2


class DojiStar(_Candlestick):
    id = "cdl_doji_star"
    description = (
        "Doji star: a doji gapping away from a long bar; -1 after a white bar, +1 after a black one."
    )
    bullish, span = "CDLDOJISTAR", 2


class DragonflyGravestone(_Candlestick):
    id = "cdl_dragonfly_gravestone"
    description = (
        "Dragonfly doji (+1: open = close = high, long lower shadow) or gravestone doji (-1: the mirror)."
    )
    bullish, bearish, span = "CDLDRAGONFLYDOJI", "CDLGRAVESTONEDOJI", 1


class XSideGapThreeMethods(_Candlestick):
    id = "cdl_xside_gap_three_methods"
    description = "Up/down-side gap three methods: a gap continuation partly filled by the third bar."
    bullish, span = "CDLXSIDEGAP3METHODS", 3
