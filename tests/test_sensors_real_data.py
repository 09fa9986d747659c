"""Every sensor on 50 days of real BTCUSDT perpetual klines (1m resampled to 5m) fires both ways.

A sensor that never fires, or fires only one way, on ~14,600 real 5-minute bars is broken (a wrong sign,
a threshold out of scale, a guard that always trips). The kline files carry no taker-buy column, so the
taker-buy volume is estimated per minute exactly as the sandbox serves it (``exchanges/sandbox/market/
candles.py``: a buy share of 0.5 + 0.4 × body / range): the order-flow sensors are exercised on the flow
they will see in sandbox sessions, not on real aggressor data.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from sensors.base import Bars, SensorBase
from sensors.library import SENSOR_CLASSES
from tests.market_support import real_klines_dir

WINDOW = 300  # what the engine keeps per (symbol, timeframe) after warm-up
STRIDE = 4  # first pass: every 4th bar; sensors still missing a direction get every bar


@pytest.fixture(scope="module")
def btc_5m() -> Bars:
    files = sorted(real_klines_dir().glob("BTCUSDT-PERP-1m-*.csv.gz"))
    if not files:
        pytest.skip("no BTCUSDT 1m klines")
    with gzip.open(files[0], "rt") as fh:
        rows = np.loadtxt(fh, delimiter=",", skiprows=1)
    first = int(np.flatnonzero(rows[:, 0].astype(np.int64) % 300_000 == 0)[0])
    rows = rows[first : first + (len(rows) - first) // 5 * 5].reshape(-1, 5, 7)
    o, h, lo, c, v = (rows[:, :, k] for k in range(1, 6))
    span = h - lo
    share = np.where(span > 0, 0.5 + 0.4 * (c - o) / np.where(span > 0, span, 1.0), 0.5)
    return Bars(
        open=o[:, 0].copy(),
        high=h.max(axis=1),
        low=lo.min(axis=1),
        close=c[:, -1].copy(),
        volume=v.sum(axis=1),
        taker_buy_volume=(v * share).sum(axis=1),
        close_time=rows[:, -1, 6].astype(np.int64),
    )


def window(b: Bars, end: int) -> Bars:
    start = max(end - WINDOW, 0)
    return Bars(
        open=b.open[start:end],
        high=b.high[start:end],
        low=b.low[start:end],
        close=b.close[start:end],
        volume=b.volume[start:end],
        taker_buy_volume=b.taker_buy_volume[start:end],
        close_time=b.close_time[start:end],
    )


def test_resampling_is_sane(btc_5m: Bars) -> None:
    assert len(btc_5m) > 14_000
    assert np.all(np.diff(btc_5m.close_time) == 300_000)
    assert np.all(btc_5m.low <= np.minimum(btc_5m.open, btc_5m.close))
    assert np.all(btc_5m.high >= np.maximum(btc_5m.open, btc_5m.close))
    assert np.all((btc_5m.taker_buy_volume >= 0) & (btc_5m.taker_buy_volume <= btc_5m.volume))


def test_every_sensor_fires_both_ways_on_real_data(btc_5m: Bars) -> None:
    sensors = [cls() for cls in SENSOR_CLASSES]
    seen: dict[str, set[int]] = {sensor.spec.id: set() for sensor in sensors}

    def sweep(active: list[SensorBase], ends: range) -> None:
        for end in ends:
            bars = window(btc_5m, end)
            for sensor in active:
                direction, strength = sensor.evaluate(bars)
                assert 0.0 <= strength <= 1.0
                seen[sensor.spec.id].add(direction)

    sweep(sensors, range(WINDOW, len(btc_5m) + 1, STRIDE))
    missing = [s for s in sensors if not {-1, 1} <= seen[s.spec.id]]
    # Rare patterns (a few dozen occurrences in 50 days) can fall between strided bars: look at every bar.
    sweep(missing, range(WINDOW, len(btc_5m) + 1))
    never_both = sorted(sid for sid, directions in seen.items() if not {-1, 1} <= directions)
    assert never_both == []
