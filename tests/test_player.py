"""AdaptivePlayer: consensus math, gates (threshold, agreeing, trend veto), debounce, cooldown, distances."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
import talib

from core.clock import ManualClock
from core.config_trading import PlayerSettings
from core.enums import Side
from core.player import AdaptivePlayer, atr, decision_id
from core.types import Candle, Signal

BAR = 300_000  # 5m
T0 = 1_700_000_100_000  # a 5m boundary
SYMBOL = "BTCUSDT"

BASE = PlayerSettings(
    confirm_closes=1,
    cooldown_s=0,
    min_agreeing=1,
    threshold=0.1,
    trend_timeframes=(),
)


def close_at(i: int, bar: int = BAR) -> int:
    return T0 + (i + 1) * bar - 1


def candle(
    i: int,
    *,
    close: str = "100",
    high: str = "105",
    low: str = "95",
    tf: str = "5m",
    bar: int = BAR,
    symbol: str = SYMBOL,
) -> Candle:
    return Candle(
        symbol=symbol,
        interval=tf,
        open_time=T0 + i * bar,
        close_time=close_at(i, bar),
        open=Decimal(close),
        high=Decimal(high),
        low=Decimal(low),
        close=Decimal(close),
        volume=Decimal(1),
    )


def sig(
    sensor: str, direction: int, strength: float, ts: int, tf: str = "5m", symbol: str = SYMBOL
) -> Signal:
    return Signal(
        sensor_id=sensor, symbol=symbol, timeframe=tf, direction=direction, strength=strength, ts=ts
    )


def make(
    settings: PlayerSettings = BASE, *, bars: int = 20, **kwargs: object
) -> tuple[AdaptivePlayer, ManualClock]:
    """A player that has seen ``bars`` 5m candles of range 10 (so ATR = 10) and a clock at the last close."""
    clock = ManualClock(close_at(bars - 1))
    player = AdaptivePlayer(settings, clock, **kwargs)  # type: ignore[arg-type]
    for i in range(bars):
        player.on_candle(candle(i))
    return player, clock


def step(player: AdaptivePlayer, clock: ManualClock, i: int, signals: list[tuple[str, int, float]]):
    """Close bar ``i`` (candle, then its signals) and return the decisions."""
    clock.set(max(clock.now_ms(), close_at(i)))
    player.on_candle(candle(i))
    return player.on_signals([sig(name, d, s, close_at(i)) for name, d, s in signals])


def test_weighted_consensus_score_and_reasons():
    player, _ = make(weights={"a": 2.0, "b": 1.0, "c": 1.0})
    moment = close_at(19)
    decisions = player.on_signals(
        [
            sig("a", 1, 0.5, moment),
            sig("b", 1, 1.0, moment),
            sig("c", -1, 0.5, moment),
            sig("d", 0, 0.0, moment),
        ]
    )
    assert len(decisions) == 1
    d = decisions[0]
    # (2*0.5 + 1*1.0 - 1*0.5) / (2 + 1 + 1 + 1): the neutral sensor "d" weighs in the denominator.
    assert d.conviction == pytest.approx(1.5 / 5)
    assert d.side is Side.BUY
    assert d.symbol == SYMBOL and d.ts == moment and d.timeframe == "5m"
    assert d.reference_price == Decimal(100)
    assert [(r.sensor_id, r.direction, r.weight) for r in d.reasons] == [
        ("a", 1, 2.0),
        ("b", 1, 1.0),
        ("c", -1, 1.0),
    ]
    assert d.decision_id == decision_id(SYMBOL, moment, Side.BUY)
    assert player.reasons() == {"decided": 1}


def test_short_consensus():
    player, _ = make()
    (d,) = player.on_signals([sig("a", -1, 0.8, close_at(19)), sig("b", -1, 0.6, close_at(19))])
    assert d.side is Side.SELL
    assert d.conviction == pytest.approx(0.7)
    assert d.decision_id.endswith("-S")


def test_stale_and_unrelated_timeframes_do_not_vote():
    player, _ = make()
    moment = close_at(19)
    player.on_signals([sig("old", -1, 1.0, close_at(17))])  # two bars old at the moment: stale
    player.on_signals([sig("htf", -1, 1.0, moment, tf="1m")])  # not a consensus timeframe
    (d,) = player.on_signals([sig("a", 1, 0.5, moment), sig("slow", 1, 1.0, moment - BAR, tf="15m")])
    # "slow" (15m, one 5m bar old, fresh for its own timeframe) votes; "old" and the 1m signal do not.
    assert {r.sensor_id for r in d.reasons} == {"a", "slow"}
    assert d.conviction == pytest.approx(0.75)


def test_a_late_signal_never_replaces_a_newer_one():
    player, _ = make()
    player.on_signals([sig("a", 1, 1.0, close_at(19))])
    player.on_signals([sig("a", -1, 1.0, close_at(18))])
    consensus = player.consensus(SYMBOL, close_at(19))
    assert consensus.score == pytest.approx(1.0)


def test_threshold_gate():
    player, _ = make(_with(threshold=0.5))
    assert player.on_signals([sig("a", 1, 0.4, close_at(19)), sig("b", 0, 0.0, close_at(19))]) == []
    assert player.reasons() == {"below_threshold": 1}


def test_min_agreeing_gate():
    settings = _with(min_agreeing=3)
    player, clock = make(settings)
    assert step(player, clock, 20, [("a", 1, 1.0), ("b", 1, 1.0)]) == []
    assert player.reasons() == {"too_few_agreeing": 1}
    assert len(step(player, clock, 21, [("a", 1, 1.0), ("b", 1, 1.0), ("c", 1, 0.2)])) == 1


def test_trend_filter_vetoes_against_the_higher_timeframe():
    settings = _with(trend_timeframes=("1h",), trend_veto=0.3)
    families = {"a": "momentum", "b": "momentum", "t1": "trend", "v": "volume"}
    player, clock = make(settings, families=families)
    moment = close_at(19)
    htf = moment - 10 * 60_000  # the latest 1h close, 10 minutes ago: fresh
    player.on_signals([sig("t1", -1, 0.8, htf, tf="1h"), sig("v", 1, 1.0, htf, tf="1h")])
    # Only trend-family sensors vote in the filter: "v" is ignored, the trend score is -0.8 against a long.
    assert player.on_signals([sig("a", 1, 1.0, moment), sig("b", 1, 1.0, moment)]) == []
    assert player.reasons() == {"trend_veto": 1}
    # A short agrees with the trend: allowed.
    (d,) = step(player, clock, 20, [("a", -1, 1.0), ("b", -1, 1.0)])
    assert d.side is Side.SELL


def test_trend_filter_below_veto_or_absent_lets_through():
    settings = _with(trend_timeframes=("1h",), trend_veto=0.5)
    player, _ = make(settings, families={"t1": "trend"})
    moment = close_at(19)
    player.on_signals([sig("t1", -1, 0.4, moment - 60_000, tf="1h")])
    assert len(player.on_signals([sig("a", 1, 1.0, moment)])) == 1
    # No fresh trend signal (the 1h one is now 2.5 hours old): no veto either.
    player2, _ = make(settings, families={"t1": "trend"})
    player2.on_signals([sig("t1", -1, 1.0, close_at(19) - 9_000_000, tf="1h")])
    assert len(player2.on_signals([sig("a", 1, 1.0, close_at(19))])) == 1


def test_without_families_every_htf_sensor_votes_in_the_filter():
    player, _ = make(_with(trend_timeframes=("1h",), trend_veto=0.3))
    moment = close_at(19)
    player.on_signals([sig("v", -1, 1.0, moment - 60_000, tf="1h")])
    assert player.on_signals([sig("a", 1, 1.0, moment)]) == []
    assert player.reasons() == {"trend_veto": 1}


def test_debounce_needs_consecutive_closes_on_the_same_side():
    player, clock = make(_with(confirm_closes=2))
    assert step(player, clock, 20, [("a", 1, 1.0)]) == []
    assert player.reasons() == {"debounce": 1}
    assert step(player, clock, 21, [("a", -1, 1.0)]) == []  # side flipped: the streak restarts
    assert step(player, clock, 22, [("a", 1, 1.0)]) == []
    (d,) = step(player, clock, 23, [("a", 1, 1.0)])
    assert d.side is Side.BUY and d.ts == close_at(23)
    # The streak resets after a decision.
    assert step(player, clock, 24, [("a", 1, 1.0)]) == []


def test_debounce_breaks_on_a_missed_close_or_a_failed_gate():
    player, clock = make(_with(confirm_closes=2, threshold=0.5))
    assert step(player, clock, 20, [("a", 1, 1.0)]) == []
    # Bar 21 had no evaluation (no signal of the symbol): bar 22 starts a new streak.
    player.on_candle(candle(21))
    assert step(player, clock, 22, [("a", 1, 1.0)]) == []
    assert step(player, clock, 23, [("a", 1, 0.2)]) == []  # below the threshold: streak broken
    assert step(player, clock, 24, [("a", 1, 1.0)]) == []
    assert len(step(player, clock, 25, [("a", 1, 1.0)])) == 1


def test_a_repeated_call_for_the_same_close_does_not_count_twice():
    player, clock = make(_with(confirm_closes=2))
    assert step(player, clock, 20, [("a", 1, 1.0)]) == []
    assert player.on_signals([sig("b", 1, 1.0, close_at(20))]) == []
    assert len(step(player, clock, 21, [("a", 1, 1.0)])) == 1


def test_cooldown_per_symbol_in_exchange_time():
    player, clock = make(_with(cooldown_s=900))  # three 5m bars
    assert len(step(player, clock, 20, [("a", 1, 1.0)])) == 1
    for i in (21, 22):
        assert step(player, clock, i, [("a", 1, 1.0)]) == []
    assert player.reasons()["cooldown"] == 2
    (d,) = step(player, clock, 23, [("a", -1, 1.0)])
    assert d.ts - close_at(20) == 900_000


def test_cooldown_is_per_symbol():
    player, clock = make(_with(cooldown_s=3600))
    for i in range(20):
        player.on_candle(candle(i, symbol="ETHUSDT"))
    assert len(step(player, clock, 20, [("a", 1, 1.0)])) == 1
    player.on_candle(candle(20, symbol="ETHUSDT"))
    (d,) = player.on_signals([sig("a", 1, 1.0, close_at(20), symbol="ETHUSDT")])
    assert d.symbol == "ETHUSDT"


def test_atr_distances_and_percent_mode():
    player, _ = make(_with(sl_atr=Decimal(2), tp_atr=Decimal("3.5")))
    (d,) = player.on_signals([sig("a", 1, 1.0, close_at(19))])
    assert d.atr == Decimal(10)
    assert d.stop_distance == Decimal(20) and d.take_profit_distance == Decimal(35)
    player, _ = make(_with(stop_mode="percent", sl_pct=Decimal("0.01"), tp_pct=Decimal("0.025")))
    (d,) = player.on_signals([sig("a", 1, 1.0, close_at(19))])
    assert d.stop_distance == Decimal(1) and d.take_profit_distance == Decimal("2.5")


def test_no_decision_without_price_or_atr():
    player, _ = make(bars=10)  # ATR(14) needs 15 candles
    assert player.on_signals([sig("a", 1, 1.0, close_at(9))]) == []
    assert player.reasons() == {"no_atr": 1}
    player, clock = make()
    clock.set(close_at(20))
    assert player.on_signals([sig("a", 1, 1.0, close_at(20))]) == []  # the 20th candle was never seen
    assert player.reasons() == {"no_price": 1}


def test_candles_given_with_the_signals_are_used():
    player, clock = make()
    clock.set(close_at(20))
    bar = candle(20, close="101")
    (d,) = player.on_signals([sig("a", 1, 1.0, close_at(20))], {(SYMBOL, "5m"): bar})
    assert d.reference_price == Decimal(101)
    player.on_candle(bar)  # the same candle again through the other input: ignored
    assert player.atr(SYMBOL) == Decimal(10)


def test_stale_moments_are_skipped():
    player, clock = make()
    clock.set(close_at(19) + 121_000)  # past max_lag_s = 120 s
    assert player.on_signals([sig("a", 1, 1.0, close_at(19))]) == []
    assert player.reasons() == {"stale": 1}


def test_decision_id_is_deterministic_and_short():
    ts = 1_747_000_000_000
    assert decision_id("BTCUSDT", ts, Side.BUY) == decision_id("BTCUSDT", ts, Side.BUY)
    assert decision_id("BTCUSDT", ts, Side.BUY) != decision_id("BTCUSDT", ts, Side.SELL)
    assert decision_id("BTCUSDT", ts, Side.BUY) != decision_id("BTCUSDT", ts + 1, Side.BUY)
    assert decision_id("BTCUSDT", ts, Side.BUY).startswith("BTCUSDT-")
    long_a = decision_id("1000000BABYDOGEUSDTXYZ", ts, Side.SELL)
    long_b = decision_id("1000000BABYDOGEUSDTXYW", ts, Side.SELL)
    assert len(long_a) <= 24 and len(long_b) <= 24 and long_a != long_b
    assert int(decision_id("BTCUSDT", ts, Side.BUY).split("-")[1], 36) == ts


def test_atr_matches_talib():
    rng = np.random.default_rng(7)
    close = 100 + np.cumsum(rng.normal(0, 1, 80))
    high = close + rng.uniform(0, 2, 80)
    low = close - rng.uniform(0, 2, 80)
    candles = [
        candle(i, close=f"{c:.4f}", high=f"{h:.4f}", low=f"{lo:.4f}")
        for i, (c, h, lo) in enumerate(zip(close, high, low, strict=True))
    ]
    closes = np.array([float(c.close) for c in candles])
    highs = np.array([float(c.high) for c in candles])
    lows = np.array([float(c.low) for c in candles])
    expected = talib.ATR(highs, lows, closes, timeperiod=14)
    for n in (15, 40, 80):
        value = atr(candles[:n], 14)
        assert value is not None
        assert float(value) == pytest.approx(expected[n - 1], rel=1e-9)
    assert atr(candles[:14], 14) is None


def _fields(settings: PlayerSettings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in settings.__struct_fields__}


def _with(**changes: object) -> PlayerSettings:
    return PlayerSettings(**{**_fields(BASE), **changes})  # type: ignore[arg-type]
