"""The player and the risk engine on real BTCUSDT klines, with real sensors voting.

Five-minute candles are rolled up from the shared 1-minute perpetual klines; the trend and momentum families
of the sensor library vote at every close; the player decides, learns, and every decision is sized by the
RiskEngine and checked against the sandbox's own filters. Skipped when the shared data is absent.
"""

from __future__ import annotations

import gzip
import itertools
from decimal import Decimal

import numpy as np
import pytest

from core.clock import ManualClock
from core.config_trading import PlayerSettings, RiskSettings
from core.player import AdaptivePlayer, atr
from core.risk import RiskEngine
from core.risk_limits import RiskInputs
from core.types import Candle, Signal
from exchanges.sandbox.engine.filters import check_order_filters, default_instruments
from sensors.base import Bars
from sensors.library import SENSOR_CLASSES
from tests.market_support import real_klines_dir

WARMUP = 300  # bars a sensor sees, as the engine keeps them
BARS = 900  # 5m closes the player is fed after warm-up (~3 days)
BAR = 300_000


def five_minute_candles(limit: int) -> list[Candle]:
    files = sorted(real_klines_dir().glob("BTCUSDT-PERP-1m-*.csv.gz"))
    if not files:
        pytest.skip("no BTCUSDT 1m klines")
    with gzip.open(files[0], "rt") as fh:
        rows = [line.rstrip("\n").split(",") for line in itertools.islice(fh, 1, 5 * limit + 5)]
    start = next(i for i, row in enumerate(rows) if int(row[0]) % BAR == 0)
    out = []
    for i in range(start, len(rows) - 4, 5):
        group = rows[i : i + 5]
        out.append(
            Candle(
                symbol="BTCUSDT",
                interval="5m",
                open_time=int(group[0][0]),
                close_time=int(group[-1][6]),
                open=Decimal(group[0][1]),
                high=max(Decimal(r[2]) for r in group),
                low=min(Decimal(r[3]) for r in group),
                close=Decimal(group[-1][4]),
                volume=sum((Decimal(r[5]) for r in group), Decimal(0)),
            )
        )
    return out[:limit]


def bars_of(candles: list[Candle]) -> Bars:
    def column(name: str) -> np.ndarray:
        return np.array([float(getattr(c, name)) for c in candles])

    volume = column("volume")
    return Bars(
        open=column("open"),
        high=column("high"),
        low=column("low"),
        close=column("close"),
        volume=volume,
        taker_buy_volume=volume * 0.5,
        close_time=np.array([c.close_time for c in candles], dtype=np.int64),
    )


def test_player_and_risk_on_real_klines():
    candles = five_minute_candles(WARMUP + BARS)
    sensors = [cls() for cls in SENSOR_CLASSES if cls().spec.family in ("trend", "momentum")]
    settings = PlayerSettings(confirm_timeframes=(), trend_timeframes=())
    clock = ManualClock(candles[0].close_time)
    player = AdaptivePlayer(settings, clock, families={s.spec.id: s.spec.family for s in sensors})
    instruments = {i.symbol: i for i in default_instruments()}
    risk = RiskEngine(RiskSettings(), clock, instruments)
    for c in candles[:WARMUP]:
        player.on_candle(c)
    decisions = []
    for end in range(WARMUP, len(candles)):
        current = candles[end]
        clock.set(current.close_time)
        bars = bars_of(candles[end - WARMUP + 1 : end + 1])
        signals = []
        for sensor in sensors:
            direction, strength = sensor.evaluate(bars)
            signals.append(
                Signal(
                    sensor_id=sensor.spec.id,
                    symbol="BTCUSDT",
                    timeframe="5m",
                    direction=direction,
                    strength=strength,
                    ts=current.close_time,
                )
            )
        decisions += player.on_signals(signals, {("BTCUSDT", "5m"): current})

    assert decisions, player.reasons()
    assert len({d.decision_id for d in decisions}) == len(decisions)
    by_ts = {c.close_time: i for i, c in enumerate(candles)}
    for previous, d in itertools.pairwise(decisions):
        assert d.ts - previous.ts >= settings.cooldown_s * 1000
    for d in decisions:
        i = by_ts[d.ts]
        assert d.reference_price == candles[i].close
        window = candles[max(0, i + 1 - 71) : i + 1]
        assert d.atr == atr(window, 14) and d.stop_distance == d.atr * settings.sl_atr
        assert d.conviction >= settings.threshold
        assert sum(1 for r in d.reasons if r.direction == d.side.sign) >= settings.min_agreeing
        verdict = risk.allow(d, RiskInputs(equity=Decimal(10000), available=Decimal(10000)))
        assert verdict.accepted, verdict.detail
        check_order_filters(
            instruments["BTCUSDT"],
            quantity=verdict.qty,
            price=None,
            is_market=True,
            reduce_only=False,
            reference_price=d.reference_price,
            side=d.side,
        )
    weights = player.weights()
    assert len(weights) == len(sensors)  # every sensor fired and was judged
    assert all(settings.w_min <= w <= settings.w_max for w in weights.values())
    assert max(weights.values()) - min(weights.values()) > 0.3  # the learning tells them apart
