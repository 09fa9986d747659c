"""The synthetic market (stylised facts, realistic prices) and calibration from the real data."""

from __future__ import annotations

import math
from decimal import Decimal

import msgspec
import numpy as np
import pytest

from core.clock import ManualClock
from core.types import MarkPrice, Trade
from exchanges.sandbox.market.calibration import DEFAULT_PROFILES, calibrate_market, calibrate_profile
from exchanges.sandbox.market.grid import Grid
from exchanges.sandbox.market.replay import MarketReplay
from exchanges.sandbox.market.synthetic import DEFAULT_MARKET_PARAMS, SyntheticExtender
from tests.market_support import MINUTE, NOW0, instruments, real_data_dir, real_klines_dir


def returns(seed: int, minutes: int = 30_000) -> np.ndarray:
    ext = SyntheticExtender(
        DEFAULT_MARKET_PARAMS, Grid(Decimal("0.10"), Decimal("0.001")), seed, "BTCUSDT", 1e5
    )
    bars = ext.generate(minutes)
    assert np.all(bars.high >= np.maximum(bars.open, bars.close))
    assert np.all(bars.low <= np.minimum(bars.open, bars.close))
    assert np.array_equal(bars.open[1:], bars.close[:-1])
    return np.diff(np.log(bars.close.astype(np.float64)))


@pytest.mark.parametrize("seed", [1, 2])
def test_synthetic_returns_have_the_stylised_facts(seed: int) -> None:
    r = returns(seed)
    centred = r - r.mean()
    kurtosis = float(np.mean(centred**4) / np.mean(centred**2) ** 2)
    assert kurtosis > 4.0, "fat tails"
    a = np.abs(centred)
    a = a - a.mean()
    acf = [float(np.dot(a[:-k], a[k:]) / np.dot(a, a)) for k in range(1, 11)]
    assert np.mean(acf) > 0.05, f"volatility clustering, got {acf}"
    raw_acf = float(np.dot(centred[:-1], centred[1:]) / np.dot(centred, centred))
    assert abs(raw_acf) < 0.05, "returns themselves are not predictable"
    # One-minute volatility of the order of the real BTC/ETH data (a few basis points).
    assert 0.0002 < float(r.std()) < 0.003


def test_synthetic_replay_serves_every_symbol_near_realistic_prices() -> None:
    clock = ManualClock(NOW0)
    market = MarketReplay(instruments("BTCUSDT", "ETHUSDT", "DOGEUSDT"), clock, seed=3)
    assert market.mode == "synthetic" and market.symbols == ("BTCUSDT", "ETHUSDT", "DOGEUSDT")
    assert "synthetic" in market.describe()
    for symbol, centre in (("BTCUSDT", 100_000), ("ETHUSDT", 2_500)):
        price = market.price_at(symbol, NOW0)
        assert centre * 0.6 < price < centre * 1.6
        history = market.history_klines(symbol, "1h", start_time=None, end_time=None, limit=1000)
        assert len(history) == 7 * 24 + 1  # seven days of history plus the open hour
    events = market.events_until(clock.advance(5 * MINUTE))
    assert {e.symbol for e in events if isinstance(e, Trade)} == set(market.symbols)
    assert sum(isinstance(e, MarkPrice) for e in events) == 3 * 300
    again = MarketReplay(instruments("BTCUSDT", "ETHUSDT", "DOGEUSDT"), ManualClock(NOW0), seed=3)
    assert msgspec.json.encode(again.events_until(NOW0 + 5 * MINUTE)) == msgspec.json.encode(events)


def test_default_market_params_are_the_calibration_of_the_real_data() -> None:
    params = calibrate_market([real_klines_dir()])
    for field in msgspec.structs.fields(params):
        got, shipped = getattr(params, field.name), getattr(DEFAULT_MARKET_PARAMS, field.name)
        assert math.isclose(got, shipped, rel_tol=1e-6), f"{field.name}: {got} != {shipped}"


def test_default_profiles_are_the_calibration_of_the_real_captures() -> None:
    ticks, wire = real_data_dir("ticks"), real_data_dir("wire/ws")
    for symbol, tick in (("BTCUSDT", "0.10"), ("ETHUSDT", "0.01")):
        profile = calibrate_profile(symbol, ticks, wire, tick_size=Decimal(tick), step_size=Decimal("0.001"))
        assert profile == DEFAULT_PROFILES[symbol]
        inferred = calibrate_profile(symbol, ticks, wire)  # tick size inferred from the capture
        assert inferred.spread_ticks == profile.spread_ticks and inferred.levels == profile.levels
        # Depth grows away from the touch: the far bands hold much more than the touch.
        assert profile.levels[-1][1] > 10 * profile.levels[0][1]
    without_snapshot = calibrate_profile("BTCUSDT", ticks, None, tick_size=Decimal("0.10"))
    assert without_snapshot.levels[0] == DEFAULT_PROFILES["BTCUSDT"].levels[0]
    assert len(without_snapshot.levels) == len(DEFAULT_PROFILES["BTCUSDT"].levels)
