"""Adaptive weights: outcome judging, online learning, persistence, and property tests of the player."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.clock import ManualClock
from core.config_trading import PlayerSettings
from core.player import AdaptivePlayer
from core.player_weights import OutcomeTracker, SensorWeights
from core.types import Candle, Signal

BAR = 300_000
T0 = 1_700_000_100_000
SYMBOL = "BTCUSDT"


def close_at(i: int) -> int:
    return T0 + (i + 1) * BAR - 1


def candle(i: int, close: Decimal, *, high: Decimal | None = None, low: Decimal | None = None) -> Candle:
    return Candle(
        symbol=SYMBOL,
        interval="5m",
        open_time=T0 + i * BAR,
        close_time=close_at(i),
        open=close,
        high=close if high is None else high,
        low=close if low is None else low,
        close=close,
        volume=Decimal(1),
    )


def sig(sensor: str, direction: int, i: int, strength: float = 1.0) -> Signal:
    return Signal(
        sensor_id=sensor,
        symbol=SYMBOL,
        timeframe="5m",
        direction=direction,
        strength=strength,
        ts=close_at(i),
    )


# --- SensorWeights ---------------------------------------------------------------------------------------


def test_a_sensor_always_right_gains_and_always_wrong_loses_within_bounds():
    w = SensorWeights(w_min=0.2, w_max=3.0, w_initial=1.0, learning_rate=0.1)
    for _ in range(200):
        w.update("right", True)
        w.update("wrong", False)
    assert 2.99 < w.get("right") <= 3.0
    assert 0.2 <= w.get("wrong") < 0.21
    assert w.get("unjudged") == 1.0
    assert w.hit_rates() == {"right": (200, 200), "wrong": (0, 200)}


def test_one_step_is_an_ema_towards_the_bound():
    w = SensorWeights(w_min=0.5, w_max=2.5, w_initial=1.0, learning_rate=0.25)
    assert w.update("s", True) == pytest.approx(1.0 + 0.25 * (2.5 - 1.0))
    assert w.update("s", False) == pytest.approx(1.375 + 0.25 * (0.5 - 1.375))


def test_stored_weights_are_restored_and_clamped_to_the_bounds():
    w = SensorWeights(
        w_min=0.2, w_max=3.0, w_initial=1.0, learning_rate=0.1, initial={"a": 2.5, "b": 9.0, "c": 0.0}
    )
    assert w.as_dict() == {"a": 2.5, "b": 3.0, "c": 0.2}
    with pytest.raises(ValueError, match="'d'"):
        SensorWeights(w_min=0.2, w_max=3.0, w_initial=1.0, learning_rate=0.1, initial={"d": math.nan})


# --- OutcomeTracker --------------------------------------------------------------------------------------


def tracker() -> OutcomeTracker:
    return OutcomeTracker(hit_pct=Decimal("0.01"), hit_bars=3)


def test_hit_when_the_favourable_move_comes_first():
    t = tracker()
    assert t.open(sig("long", 1, 0), Decimal(100), BAR)
    assert t.open(sig("short", -1, 0), Decimal(100), BAR)
    assert not t.open(sig("long", 1, 0), Decimal(100), BAR)  # the same (sensor, candle) once
    assert not t.open(sig("flat", 0, 0), Decimal(100), BAR)
    assert t.on_candle(candle(1, Decimal(100), high=Decimal("100.9"), low=Decimal("99.1"))) == []
    verdicts = t.on_candle(candle(2, Decimal(99), high=Decimal("100.5"), low=Decimal("99.0")))
    # The short reached its 1% first (the long's adverse move): one hit, one miss, in one candle.
    assert {(v.sensor_id, v.hit) for v in verdicts} == {("short", True), ("long", False)}
    t.open(sig("long", 1, 2), Decimal(99), BAR)
    (verdict,) = t.on_candle(candle(3, Decimal(100), high=Decimal("99.99"), low=Decimal("98.5")))
    assert (verdict.sensor_id, verdict.hit) == ("long", True)
    assert t.pending() == 0


def test_miss_when_adverse_first_or_both_in_one_candle_or_timeout():
    t = tracker()
    t.open(sig("adverse", 1, 0), Decimal(100), BAR)
    t.open(sig("both", -1, 0), Decimal(100), BAR)
    verdicts = t.on_candle(candle(1, Decimal(100), high=Decimal(102), low=Decimal(98)))
    assert {(v.sensor_id, v.hit) for v in verdicts} == {("adverse", False), ("both", False)}
    t.open(sig("slow", 1, 1), Decimal(100), BAR)
    assert t.on_candle(candle(2, Decimal("100.5"))) == []
    assert t.on_candle(candle(3, Decimal("100.5"))) == []
    (verdict,) = t.on_candle(candle(4, Decimal("100.9")))  # the third bar after the signal: timed out
    assert (verdict.sensor_id, verdict.hit) == ("slow", False)


def test_the_signal_candle_itself_never_judges_its_trial():
    t = tracker()
    t.open(sig("a", 1, 5), Decimal(100), BAR)
    assert t.on_candle(candle(5, Decimal(100), high=Decimal(110))) == []
    assert t.pending() == 1


def test_trials_left_behind_by_a_gap_in_candles_are_dropped_unjudged():
    t = tracker()
    t.open(sig("a", 1, 0), Decimal(100), BAR)
    t.open(sig("a", 1, 10), Decimal(100), BAR)  # bars 1..9 never came
    assert t.pending() == 1


# --- learning inside the player --------------------------------------------------------------------------


def _quiet_settings(**changes: object) -> PlayerSettings:
    base: dict[str, object] = {
        "confirm_closes": 1,
        "cooldown_s": 0,
        "min_agreeing": 1,
        "trend_timeframes": (),
        "hit_pct": Decimal("0.002"),
        "hit_bars": 3,
        "learning_rate": 0.1,
    }
    return PlayerSettings(**{**base, **changes})  # type: ignore[arg-type]


def test_player_learns_who_calls_a_rising_market():
    clock = ManualClock(close_at(0))
    player = AdaptivePlayer(_quiet_settings(), clock)
    price = Decimal(100)
    for i in range(60):
        price *= Decimal("1.003")  # every bar rises 0.3%: longs hit, shorts miss
        clock.set(close_at(i))
        player.on_candle(candle(i, price, high=price * Decimal("1.001"), low=price * Decimal("0.999")))
        player.on_signals([sig("bull", 1, i, 0.5), sig("bear", -1, i, 0.5), sig("idle", 0, i, 0.0)])
    weights = player.weights()
    assert weights["bull"] > 2.9 and weights["bear"] < 0.3
    assert "idle" not in weights
    hits, trials = player.hit_rates()["bull"]
    assert hits == trials >= 50
    # Persisted and restored, the learning carries on from where it was.
    restored = AdaptivePlayer(_quiet_settings(), clock, weights=weights)
    assert restored.weights() == weights
    # And the learned weights change the vote: equal and opposite signals now favour the bull.
    consensus = player.consensus(SYMBOL, close_at(59))
    assert consensus.score > 0


# --- properties ------------------------------------------------------------------------------------------

bounds = st.tuples(st.floats(0.01, 5.0), st.floats(0.0, 5.0)).map(lambda t: (t[0], t[0] + t[1]))


@given(bounds=bounds, rate=st.floats(0.001, 1.0), outcomes=st.lists(st.booleans(), max_size=300))
@settings(max_examples=100, deadline=None)
def test_weights_stay_within_bounds(bounds: tuple[float, float], rate: float, outcomes: list[bool]):
    low, high = bounds
    w = SensorWeights(w_min=low, w_max=high, w_initial=(low + high) / 2, learning_rate=rate)
    for hit in outcomes:
        value = w.update("s", hit)
        assert low <= value <= high


signal_draw = st.tuples(
    st.sampled_from(["a", "b", "c", "d", "e"]),
    st.sampled_from([-1, 0, 1]),
    st.floats(0.0, 1.0),
)


@given(
    rounds=st.lists(
        st.tuples(st.lists(signal_draw, max_size=6), st.integers(-300, 300)), min_size=1, max_size=40
    ),
    weights=st.dictionaries(st.sampled_from(["a", "b", "c", "d", "e"]), st.floats(0.0, 10.0)),
    cooldown_bars=st.integers(0, 6),
)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_conviction_bounded_and_no_decision_during_cooldown(
    rounds: list[tuple[list[tuple[str, int, float]], int]], weights: dict[str, float], cooldown_bars: int
):
    clock = ManualClock(close_at(0))
    player = AdaptivePlayer(
        _quiet_settings(cooldown_s=cooldown_bars * BAR / 1000, threshold=0.05, stop_mode="percent"),
        clock,
        weights=weights,
    )
    price = Decimal(1000)
    last_decision: int | None = None
    for i, (draws, move) in enumerate(rounds):
        price += Decimal(move) / 10
        clock.set(close_at(i))
        player.on_candle(candle(i, price, high=price + 2, low=price - 2))
        decisions = player.on_signals([sig(name, d, i, s) for name, d, s in draws])
        consensus = player.consensus(SYMBOL, close_at(i))
        assert -1.0 <= consensus.score <= 1.0
        for decision in decisions:
            assert 0.0 <= decision.conviction <= 1.0
            assert decision.stop_distance > 0 and decision.take_profit_distance > 0
            if last_decision is not None:
                assert decision.ts - last_decision >= cooldown_bars * BAR
            last_decision = decision.ts
        for value in player.weights().values():
            assert 0.2 <= value <= 3.0
