"""The pool with the real sensor library (the default factory): every sensor answers on every candle."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from core.clock import ManualClock
from core.config_engine import SensorSettings
from core.types import Candle
from sensors.manager import SensorManager
from tests.sensor_manager_support import T0, TIMEFRAME_MS

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
TIMEFRAMES = ["5m", "1h"]


def walk(symbol: str, timeframe: str, bars: int, seed: int) -> list[Candle]:
    """A seeded random walk of closed candles ending at :data:`T0` + one 1h step."""
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.004, bars)))
    step = TIMEFRAME_MS[timeframe]
    end = T0 - 1 + TIMEFRAME_MS["1h"]
    out = []
    for i in range(bars):
        c = float(close[i])
        o = float(close[i - 1]) if i else c
        high, low = max(o, c) * 1.002, min(o, c) * 0.998
        volume = float(rng.gamma(2.0, 50.0))
        out.append(
            Candle(
                symbol=symbol,
                interval=timeframe,
                open_time=end - (bars - i) * step + 1,
                close_time=end - (bars - 1 - i) * step,
                open=Decimal(f"{o:.4f}"),
                high=Decimal(f"{high:.4f}"),
                low=Decimal(f"{low:.4f}"),
                close=Decimal(f"{c:.4f}"),
                volume=Decimal(f"{volume:.3f}"),
                taker_buy_volume=Decimal(f"{volume * float(rng.uniform(0.2, 0.8)):.3f}"),
            )
        )
    return out


async def test_every_library_sensor_signals_on_every_series() -> None:
    manager = SensorManager(SensorSettings(workers=1), timeframes=TIMEFRAMES, clock=ManualClock(T0))
    assert len(manager.specs) >= 50
    assert manager.capacity >= max(spec.lookback for spec in manager.specs)
    bars = manager.capacity + 1
    series = {
        (s, tf): walk(s, tf, bars, seed)
        for seed, (s, tf) in enumerate((s, tf) for s in SYMBOLS for tf in TIMEFRAMES)
    }
    await manager.start()
    try:
        await manager.warm_up([c for candles in series.values() for c in candles[:-1]])
        signals = await manager.evaluate([candles[-1] for candles in series.values()])
    finally:
        await manager.stop()
    expected = {
        (spec.id, s, tf)
        for spec in manager.specs
        for s in SYMBOLS
        for tf in TIMEFRAMES
        if not spec.timeframes or tf in spec.timeframes
    }
    assert manager.stats().sensor_failures == {}
    assert {(x.sensor_id, x.symbol, x.timeframe) for x in signals} == expected
    assert len(signals) == len(expected)
    assert all(x.direction in (-1, 0, 1) and 0.0 <= x.strength <= 1.0 for x in signals)
    assert {x.ts for x in signals} == {T0 - 1 + TIMEFRAME_MS["1h"]}
