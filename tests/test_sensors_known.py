"""Known answers: every sensor on a series crafted to trigger it, its mirror image, and a neutral series.

The mirror image (prices reflected, taker buys and sells swapped) must give the opposite direction, except
where the pattern has its own bearish template (hammer / hanging man...) or the indicator is a relative
rate of change whose reflection is not symmetric (TRIX): those get an explicit bearish series.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from sensors.base import Bars, SensorBase
from sensors.library import SENSOR_CLASSES, sensor_class
from tests.sensors_support import bars, candles, concat, first_signal, from_closes, mirror, path, prefix

Builder = Callable[[], Bars]


@dataclass(frozen=True)
class Case:
    sensor_id: str
    bullish: Builder
    scan_from: int | None = None  # None: the verdict on the last bar; else the first verdict from here on
    bearish: Builder | None = None  # None: the mirror image of ``bullish``
    neutral: Builder | None = None  # a series on which the last bar's verdict must be neutral
    within: int = 20  # scan mode: the signal must come at most this many bars after ``scan_from``


# -- scenario series ------------------------------------------------------------------------------------


def up() -> Bars:
    return from_closes(path(100, (200, 300), noise=0.05))


def up_buying() -> Bars:
    return from_closes(path(100, (200, 300), noise=0.05), wick=0.02, buy=0.7)


def down_then_flat() -> Bars:
    return from_closes(np.r_[path(200, (100, 250), noise=0.05), [100.0] * 3])


def quiet() -> Bars:
    return from_closes(path(100, (100, 300), noise=0.02), wick=0.3)


def flat_then_drop() -> Bars:
    return from_closes(path(100, (100, 290), (96, 5), noise=0.2))


def flat_then_drop_prefix() -> Bars:
    return prefix(flat_then_drop(), 291)


def flat_then_breakout() -> Bars:
    base = from_closes(path(100, (100, 299), noise=0.2))
    return concat(base, bars([100.0], [104.1], [99.9], [104.0], [60.0], [0.9]))


def v_shape() -> Bars:
    return from_closes(path(200, (100, 200), (160, 100), noise=0.05))


V_BOTTOM = 200


def trix_v() -> Bars:
    return from_closes(path(100, (100, 150), (90, 30), (100, 30), noise=0.05))


def trix_inverted_v() -> Bars:
    return from_closes(path(100, (100, 150), (110, 30), (100, 30), noise=0.05))


def flat_then_decline() -> Bars:
    return from_closes(path(100, (100, 150), (80, 60), noise=0.05))


def uptrend_then_pullback() -> Bars:
    return from_closes(np.r_[path(100, (200, 250), noise=0.05), [199.0, 197.5]])


def decline_bought() -> Bars:
    return from_closes(path(120, (100, 40), noise=0.05), buy=0.7)


def decline_balanced() -> Bars:
    return from_closes(path(120, (100, 40), noise=0.05), buy=0.5)


def calm(n: int = 40) -> Bars:
    share = np.where(np.arange(n + 1) % 2 == 0, 0.45, 0.55)
    return from_closes(path(100, (100, n), noise=0.05), buy=share)


def absorbed_selling() -> Bars:
    return concat(calm(), bars([100.0], [100.1], [98.0], [99.8], [30.0], [0.2]))


def buy_burst() -> Bars:
    return concat(calm(60), bars([100.0], [100.2], [99.9], [100.1], [20.0], [0.9]))


def close_at_low() -> Bars:
    return concat(calm(), bars([100.0], [100.2], [99.0], [99.05]))


def losing_streak() -> Bars:
    return from_closes(np.r_[path(100, (100, 40), noise=0.05), [99.5, 99.0, 98.5, 98.0, 97.5]])


def narrow_then_break() -> Bars:
    base = from_closes(path(100, (100, 40), noise=0.3))
    return concat(base, bars([100.0], [100.1], [99.95], [100.05]), bars([100.05], [100.6], [100.0], [100.5]))


def drop_last(builder: Builder, count: int = 1) -> Builder:
    def build() -> Bars:
        b = builder()
        return prefix(b, len(b) - count)

    return build


# -- candlestick templates --------------------------------------------------------------------------------

Candle = tuple[float, float, float, float]


def falling(n: int = 20, top: float = 130.0) -> list[Candle]:
    """Context: a steady decline of small black candles."""
    return [
        (top - i * 0.5, top - i * 0.5 + 0.25, top - i * 0.5 - 0.75, top - i * 0.5 - 0.5) for i in range(n)
    ]


def rising(n: int = 20, bottom: float = 100.0) -> list[Candle]:
    """Context: a steady rise of small white candles."""
    return [
        (bottom + i * 0.5, bottom + i * 0.5 + 0.75, bottom + i * 0.5 - 0.25, bottom + i * 0.5 + 0.5)
        for i in range(n)
    ]


D, DL = falling(), falling()[-1][3]  # the context and its last close (120.5)
U, UL = rising(), rising()[-1][3]  # (110.0)

TEMPLATES: dict[str, list[Candle]] = {
    "cdl_engulfing": [*D, (DL, DL + 0.1, DL - 1.1, DL - 1.0), (DL - 1.2, DL + 0.4, DL - 1.3, DL + 0.3)],
    "cdl_harami": [*D, (DL, DL + 0.1, DL - 3.1, DL - 3.0), (DL - 2.0, DL - 1.3, DL - 2.1, DL - 1.4)],
    "cdl_harami_cross": [*D, (DL, DL + 0.1, DL - 3.1, DL - 3.0), (DL - 1.5, DL - 1.3, DL - 1.7, DL - 1.5)],
    "cdl_hammer": [*D, (DL, DL + 0.1, DL - 1.1, DL - 1.0), (DL - 1.1, DL - 0.98, DL - 3.0, DL - 1.0)],
    "cdl_shooting_star": [*D, (DL, DL + 0.1, DL - 2.1, DL - 2.0), (DL - 2.4, DL - 0.9, DL - 2.42, DL - 2.3)],
    "cdl_star": [
        *D,
        (DL, DL + 0.1, DL - 3.1, DL - 3.0),
        (DL - 3.3, DL - 3.1, DL - 3.6, DL - 3.4),
        (DL - 3.1, DL - 0.9, DL - 3.2, DL - 1.0),
    ],
    "cdl_doji_star_reversal": [
        *D,
        (DL, DL + 0.1, DL - 3.1, DL - 3.0),
        (DL - 3.3, DL - 3.2, DL - 3.45, DL - 3.3),
        (DL - 3.1, DL - 0.9, DL - 3.2, DL - 1.0),
    ],
    "cdl_soldiers_crows": [
        *D,
        (DL, DL + 1.55, DL - 0.05, DL + 1.5),
        (DL + 1.0, DL + 3.05, DL + 0.95, DL + 3.0),
        (DL + 2.5, DL + 4.55, DL + 2.45, DL + 4.5),
    ],
    "cdl_three_inside": [
        *D,
        (DL, DL + 0.1, DL - 3.1, DL - 3.0),
        (DL - 2.0, DL - 1.3, DL - 2.1, DL - 1.4),
        (DL - 1.4, DL + 0.6, DL - 1.5, DL + 0.5),
    ],
    "cdl_three_outside": [
        *D,
        (DL, DL + 0.1, DL - 1.1, DL - 1.0),
        (DL - 1.2, DL + 0.4, DL - 1.3, DL + 0.3),
        (DL + 0.3, DL + 1.5, DL + 0.2, DL + 1.4),
    ],
    "cdl_three_line_strike": [
        *U,
        (UL, UL + 1.05, UL - 0.05, UL + 1.0),
        (UL + 0.9, UL + 2.05, UL + 0.85, UL + 2.0),
        (UL + 1.9, UL + 3.05, UL + 1.85, UL + 3.0),
        (UL + 3.2, UL + 3.3, UL - 0.5, UL - 0.4),
    ],
    "cdl_marubozu": [*D, (DL, DL + 3.0, DL, DL + 3.0)],
    "cdl_belt_hold": [*D, (DL - 0.3, DL + 2.5, DL - 0.3, DL + 2.4)],
    "cdl_hikkake": [
        *D,
        (DL, DL + 1.0, DL - 1.0, DL - 0.5),
        (DL - 0.5, DL + 0.5, DL - 0.5, DL),
        (DL - 0.2, DL + 0.3, DL - 1.3, DL - 0.8),
    ],
    "cdl_separating_lines": [
        *U,
        (UL + 1.0, UL + 1.1, UL - 0.1, UL),
        (UL + 1.0, UL + 3.0, UL + 1.0, UL + 2.9),
    ],
    "cdl_doji_star": [*D, (DL, DL + 0.1, DL - 3.1, DL - 3.0), (DL - 3.3, DL - 3.2, DL - 3.45, DL - 3.3)],
    "cdl_dragonfly_gravestone": [*D, (DL, DL + 0.01, DL - 2.0, DL)],
    "cdl_xside_gap_three_methods": [
        *U,
        (UL, UL + 1.55, UL - 0.05, UL + 1.5),
        (UL + 2.0, UL + 3.55, UL + 1.95, UL + 3.5),
        (UL + 3.0, UL + 3.05, UL + 0.95, UL + 1.0),
    ],
}
# Bearish twins that are not mirror images: the same shapes at the top of a rise.
BEARISH_TEMPLATES: dict[str, list[Candle]] = {
    "cdl_hammer": [*U, (UL, UL + 1.1, UL - 0.1, UL + 1.0), (UL + 1.1, UL + 1.12, UL - 0.9, UL + 1.0)],
    "cdl_shooting_star": [*U, (UL, UL + 2.1, UL - 0.1, UL + 2.0), (UL + 2.4, UL + 3.9, UL + 2.38, UL + 2.5)],
}


def template(sensor_id: str, table: dict[str, list[Candle]]) -> Builder:
    return lambda: candles(*table[sensor_id])


def pattern_case(sensor_id: str) -> Case:
    bearish = template(sensor_id, BEARISH_TEMPLATES) if sensor_id in BEARISH_TEMPLATES else None
    bullish = template(sensor_id, TEMPLATES)
    return Case(sensor_id, bullish, bearish=bearish, neutral=drop_last(bullish))


# -- the table --------------------------------------------------------------------------------------------

CASES: list[Case] = [
    # trend / momentum / volume in a steady rise; a quiet market is neutral
    *(
        Case(sensor_id, up, neutral=quiet)
        for sensor_id in (
            "adx_dmi",
            "aroon",
            "ht_trendline",
            "kama_trend",
            "linreg_slope",
            "ma_ribbon",
            "sma_trend",
            "bop",
            "cmo",
            "mom",
            "roc",
            "cmf",
            "force_index",
            "obv_trend",
        )
    ),
    # order flow: the same rise with takers buying 70%; with balanced takers it is neutral
    *(
        Case(sensor_id, up_buying, neutral=up)
        for sensor_id in ("aggressor_streak", "cvd_slope", "taker_imbalance")
    ),
    # oversold oscillators after a long decline that stopped
    *(Case(sensor_id, down_then_flat, neutral=quiet) for sensor_id in ("rsi", "ultosc", "mfi")),
    Case("willr", down_then_flat),
    # stretched below the mean after a sudden drop; the series before the drop is neutral
    *(
        Case(sensor_id, flat_then_drop, neutral=flat_then_drop_prefix)
        for sensor_id in ("bbands_reversion", "zscore", "vwap_distance", "keltner_reversion")
    ),
    # StochRSI: RSI at the bottom of its recent range; a constant RSI (a perfectly steady rise) is neutral
    Case("stochrsi", flat_then_drop, neutral=lambda: from_closes(path(100, (200, 300)))),
    # breakouts of a quiet range by one wide, heavy, bought bar; the range itself is neutral
    *(
        Case(sensor_id, flat_then_breakout, neutral=drop_last(flat_then_breakout))
        for sensor_id in (
            "atr_breakout",
            "bb_squeeze_breakout",
            "donchian_breakout",
            "range_expansion",
            "ttm_squeeze",
            "volume_spike",
            "aggressive_burst",
        )
    ),
    # crosses and flips right after the bottom of a V
    *(
        Case(sensor_id, v_shape, scan_from=V_BOTTOM)
        for sensor_id in (
            "ema_cross",
            "macd_cross",
            "macd_zero",
            "sar_flip",
            "tk_cross",
            "apo_cross",
            "rsi_midline",
            "stoch",
            "cci_reversion",
            "chandelier",
            "keltner_breakout",
            "ad_cross",
            "adosc",
            "vwap_cross",
        )
    ),
    Case("trix_cross", trix_v, scan_from=180, bearish=trix_inverted_v),
    Case("ppo_turn", flat_then_decline, scan_from=150, neutral=lambda: prefix(flat_then_decline(), 150)),
    Case("connors_rsi2", uptrend_then_pullback, neutral=drop_last(uptrend_then_pullback, 2)),
    Case("cvd_divergence", decline_bought, neutral=decline_balanced),
    Case("absorption", absorbed_selling, neutral=drop_last(absorbed_selling)),
    Case("delta_zscore", buy_burst, neutral=drop_last(buy_burst)),
    Case("ibs", close_at_low, neutral=drop_last(close_at_low)),
    Case("streak", losing_streak, neutral=drop_last(losing_streak, 2)),
    Case("nr7_breakout", narrow_then_break, neutral=drop_last(narrow_then_break)),
    *(pattern_case(sensor_id) for sensor_id in TEMPLATES),
]
BY_ID = {case.sensor_id: case for case in CASES}


def verdict_of(sensor: SensorBase, b: Bars, scan_from: int | None) -> tuple[int, float, int]:
    """(direction, strength, index) of the verdict under test."""
    if scan_from is None:
        direction, strength = sensor.evaluate(b)
        return direction, strength, len(b) - 1
    index, direction = first_signal(sensor, b, scan_from)
    _, strength = sensor.evaluate(prefix(b, index + 1)) if index >= 0 else (0, 0.0)
    return direction, strength, index


def test_every_sensor_has_a_known_answer_case() -> None:
    assert len(BY_ID) == len(CASES), "a sensor is listed twice"
    assert sorted(BY_ID) == sorted(cls.id for cls in SENSOR_CLASSES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.sensor_id)
def test_bullish_series_gives_long(case: Case) -> None:
    sensor = sensor_class(case.sensor_id)()
    b = case.bullish()
    assert len(b) >= sensor.spec.lookback
    direction, strength, index = verdict_of(sensor, b, case.scan_from)
    assert direction == 1, f"{case.sensor_id} gave {direction} on its bullish series"
    assert 0.0 <= strength <= 1.0
    if case.scan_from is not None:
        assert case.scan_from <= index <= case.scan_from + case.within


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.sensor_id)
def test_bearish_series_gives_short(case: Case) -> None:
    sensor = sensor_class(case.sensor_id)()
    b = case.bearish() if case.bearish else mirror(case.bullish())
    direction, strength, index = verdict_of(sensor, b, case.scan_from)
    assert direction == -1, f"{case.sensor_id} gave {direction} on its bearish series"
    assert 0.0 <= strength <= 1.0
    if case.scan_from is not None:
        assert case.scan_from <= index <= case.scan_from + case.within


@pytest.mark.parametrize("case", [c for c in CASES if c.neutral], ids=lambda case: case.sensor_id)
def test_neutral_series_gives_no_signal(case: Case) -> None:
    assert case.neutral is not None
    sensor = sensor_class(case.sensor_id)()
    b = case.neutral()
    assert len(b) >= sensor.spec.lookback
    assert sensor.evaluate(b) == (0, 0.0)


@pytest.mark.parametrize("cls", SENSOR_CLASSES, ids=lambda cls: cls.id)
def test_a_market_that_never_moves_gives_no_signal(cls: type[SensorBase]) -> None:
    # Degenerate input: oscillators read 0 there (TA-Lib's guard) and ATR-scaled distances are 0/0.
    sensor = cls()
    for volume in (10.0, 0.0):
        price = np.full(400, 100.0)
        assert sensor.evaluate(bars(price, price, price, price, volume)) == (0, 0.0)


@pytest.mark.parametrize("cls", SENSOR_CLASSES, ids=lambda cls: cls.id)
def test_too_little_history_gives_no_signal(cls: type[SensorBase]) -> None:
    sensor = cls()
    b = v_shape()
    assert sensor.evaluate(prefix(b, sensor.spec.lookback - 1)) == (0, 0.0)


def test_rsi_case_really_is_below_its_threshold() -> None:
    # Guards the crafted series itself: the known answer must follow from the indicator, not the series.
    import talib

    assert talib.RSI(down_then_flat().close, 14)[-1] < 30


def test_confirmed_hikkake_is_full_strength() -> None:
    confirmed = [*TEMPLATES["cdl_hikkake"], (DL - 0.8, DL + 0.8, DL - 0.9, DL + 0.7)]
    assert sensor_class("cdl_hikkake")().evaluate(candles(*confirmed)) == (1, 1.0)


def test_patterns_on_dead_bars_are_ignored() -> None:
    # The engulfing template shrunk a hundredfold inside a normal-sized context: too small to count.
    tiny = [*D, (DL, DL + 0.001, DL - 0.011, DL - 0.01), (DL - 0.012, DL + 0.004, DL - 0.013, DL + 0.003)]
    sensor = sensor_class("cdl_engulfing")
    assert sensor({"min_range_atr": 0.0}).evaluate(candles(*tiny))[0] == 1
    assert sensor().evaluate(candles(*tiny)) == (0, 0.0)


def test_cross_fires_once_on_the_up_leg() -> None:
    sensor = sensor_class("ema_cross")()
    b = v_shape()
    directions = [sensor.evaluate(prefix(b, end))[0] for end in range(V_BOTTOM + 1, len(b) + 1)]
    assert directions.count(1) == 1
    assert directions.count(-1) == 0
