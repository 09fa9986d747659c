"""The AdaptivePlayer: from the sensors' signals to consensus decisions, with weights learned online.

Pure: no I/O, no asyncio. The session feeds it every signal of one candle-close moment
(:meth:`AdaptivePlayer.on_signals`) and the closed candles (:meth:`AdaptivePlayer.on_candle`); it answers
with :class:`core.decisions.Decision`\\ s and exposes the weights to persist in state.

At each close of the decision timeframe, per symbol:

1. consensus over the latest fresh signal of every sensor on the decision and confirmation timeframes:
   ``score = Σ wᵢ·dᵢ·sᵢ / Σ wᵢ``; conviction ``|score|`` ∈ [0, 1], side ``sign(score)``;
2. gates: conviction ≥ ``threshold``; at least ``min_agreeing`` votes on the side; the higher-timeframe
   trend filter (the same score over trend-family sensors on ``trend_timeframes``) is not against the side
   by more than ``trend_veto`` (no fresh trend signal: no veto);
3. debounce: the gates held on ``confirm_closes`` consecutive closes with the same side;
4. cooldown: no decision on the symbol for ``cooldown_s`` of exchange time after the last one;
5. distances: ATR(``atr_period``) of the decision timeframe × ``sl_atr``/``tp_atr`` (or fixed percents).

Each evaluation ends with one outcome counted in :meth:`AdaptivePlayer.reasons`.
"""

from __future__ import annotations

import itertools
import math
import zlib
from collections import Counter, deque
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, localcontext

import msgspec

from core.clock import Clock
from core.config_trading import PlayerSettings, timeframe_ms
from core.decisions import Decision, Reason
from core.enums import Side
from core.player_weights import OutcomeTracker, SensorWeights
from core.types import Candle, Signal

__all__ = ["AdaptivePlayer", "Consensus", "atr", "decision_id"]

_ID_MAX = 24
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(value: int) -> str:
    if value < 0:
        raise ValueError(f"expected a non-negative integer, got {value}")
    digits = ""
    while True:
        value, rest = divmod(value, 36)
        digits = _B36[rest] + digits
        if value == 0:
            return digits


def decision_id(symbol: str, ts: int, side: Side) -> str:
    """Deterministic id of the decision on ``symbol`` at candle close ``ts``: ``BTCUSDT-mabc1234-L``.

    At most 24 characters (room for client-order-id suffixes within Binance's 36); a symbol too long for
    that is shortened and tagged with a checksum of its full name, so ids of different symbols never meet.
    """
    tail = f"-{_base36(ts)}-{'L' if side is Side.BUY else 'S'}"
    if len(symbol) + len(tail) <= _ID_MAX:
        return symbol + tail
    tag = _base36(zlib.crc32(symbol.encode()))[:4]
    return symbol[: _ID_MAX - len(tail) - len(tag)] + tag + tail


def atr(candles: Sequence[Candle], period: int) -> Decimal | None:
    """Wilder's average true range of the last candle (TA-Lib's seeding: SMA of the first ``period`` TRs).

    ``None`` with fewer than ``period + 1`` candles (the first true range needs a previous close).
    """
    if period < 1 or len(candles) < period + 1:
        return None
    with localcontext(prec=28):
        ranges = [
            max(c.high - c.low, abs(c.high - prev.close), abs(c.low - prev.close))
            for prev, c in itertools.pairwise(candles)
        ]
        value = sum(ranges[:period], Decimal(0)) / period
        for tr in ranges[period:]:
            value = (value * (period - 1) + tr) / period
    return value


class Consensus(msgspec.Struct, frozen=True, kw_only=True):
    """The weighted vote of the fresh signals of one symbol at one moment."""

    score: float  # in [-1, 1]
    voters: int  # fresh signals counted (neutral ones included)
    votes: tuple[Reason, ...]  # the non-neutral ones, strongest contribution first

    @property
    def side(self) -> Side | None:
        return Side.BUY if self.score > 0 else Side.SELL if self.score < 0 else None

    @property
    def conviction(self) -> float:
        return min(abs(self.score), 1.0)

    def agreeing(self, side: Side) -> int:
        return sum(1 for vote in self.votes if vote.direction == side.sign)


class _Streak(msgspec.Struct, kw_only=True):
    side: Side
    count: int
    last_ts: int


class AdaptivePlayer:
    """Weighted sensor consensus per symbol, with a trend filter, debounce, cooldown and learned weights.

    ``weights`` restores what :meth:`weights` returned before (from state). ``families`` maps sensor ids to
    their family (``SensorSpec.family``) so the trend filter counts only ``settings.trend_families``;
    without it every sensor on the trend timeframes votes in the filter.
    """

    def __init__(
        self,
        settings: PlayerSettings,
        clock: Clock,
        *,
        weights: Mapping[str, float] | None = None,
        families: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock
        self._families = dict(families) if families is not None else None
        self._weights = SensorWeights(
            w_min=settings.w_min,
            w_max=settings.w_max,
            w_initial=settings.w_initial,
            learning_rate=settings.learning_rate,
            initial=weights,
        )
        self._outcomes = OutcomeTracker(hit_pct=settings.hit_pct, hit_bars=settings.hit_bars)
        self._tracked = frozenset(settings.consensus_timeframes)
        self._window = max(settings.atr_period * 5 + 1, settings.hit_bars + 2)
        self._latest: dict[str, dict[tuple[str, str], Signal]] = {}  # symbol → (sensor, timeframe) → signal
        self._candles: dict[tuple[str, str], deque[Candle]] = {}
        self._streaks: dict[str, _Streak] = {}
        self._last_decision: dict[str, int] = {}
        self._outcome_counts: Counter[str] = Counter()

    # --- inputs -------------------------------------------------------------------------------------------

    def on_candle(self, candle: Candle) -> None:
        """A closed candle: kept for ATR and reference prices, and used to judge open signal trials."""
        if not candle.closed or candle.interval not in self._tracked:
            return
        window = self._candles.setdefault((candle.symbol, candle.interval), deque(maxlen=self._window))
        if window and candle.close_time <= window[-1].close_time:
            return  # already seen (the same candle may come through both inputs)
        window.append(candle)
        for verdict in self._outcomes.on_candle(candle):
            self._weights.update(verdict.sensor_id, verdict.hit)

    def on_signals(
        self, signals: Sequence[Signal], candles: Mapping[tuple[str, str], Candle] | None = None
    ) -> list[Decision]:
        """Every signal of one candle-close moment (and optionally its candles) → the decisions it makes."""
        for candle in sorted((candles or {}).values(), key=lambda c: c.close_time):
            self.on_candle(candle)
        moments: dict[str, int] = {}
        for signal in signals:
            latest = self._latest.setdefault(signal.symbol, {})
            key = (signal.sensor_id, signal.timeframe)
            previous = latest.get(key)
            if previous is not None and previous.ts > signal.ts:
                continue  # a late signal never replaces a newer one
            latest[key] = signal
            if signal.timeframe in self._tracked:
                self._open_trial(signal)
            if signal.timeframe == self._settings.timeframe:
                moments[signal.symbol] = max(moments.get(signal.symbol, 0), signal.ts)
        decisions = []
        for symbol, moment in sorted(moments.items()):
            decision = self._evaluate(symbol, moment)
            if decision is not None:
                decisions.append(decision)
        return decisions

    # --- outputs ------------------------------------------------------------------------------------------

    def weights(self) -> dict[str, float]:
        """The learned weights by sensor id, to persist in state and pass back as ``weights=``."""
        return self._weights.as_dict()

    def weight(self, sensor_id: str) -> float:
        """The current weight of one sensor."""
        return self._weights.get(sensor_id)

    def hit_rates(self) -> dict[str, tuple[int, int]]:
        """``(hits, trials)`` judged this session, by sensor id."""
        return self._weights.hit_rates()

    def reasons(self) -> dict[str, int]:
        """How evaluations ended, by outcome: ``decided``, ``below_threshold``, ``too_few_agreeing``,
        ``trend_veto``, ``debounce``, ``cooldown``, ``stale``, ``no_signals``, ``no_price``, ``no_atr``."""
        return dict(self._outcome_counts)

    def consensus(self, symbol: str, moment: int) -> Consensus:
        """The weighted vote of the decision and confirmation timeframes for ``symbol`` at ``moment``."""
        return self._vote(symbol, moment, self._settings.consensus_timeframes, None)

    def trend(self, symbol: str, moment: int) -> Consensus:
        """The trend filter's vote for ``symbol`` at ``moment``."""
        families = set(self._settings.trend_families)
        return self._vote(symbol, moment, self._settings.trend_timeframes, families)

    def atr(self, symbol: str) -> Decimal | None:
        """ATR of the decision timeframe from the candles seen so far (``None`` until enough)."""
        window = self._candles.get((symbol, self._settings.timeframe))
        return atr(list(window), self._settings.atr_period) if window else None

    # --- internals ----------------------------------------------------------------------------------------

    def _open_trial(self, signal: Signal) -> None:
        candle = self._candle_at(signal.symbol, signal.timeframe, signal.ts)
        if candle is not None:
            self._outcomes.open(signal, candle.close, timeframe_ms(signal.timeframe))

    def _candle_at(self, symbol: str, timeframe: str, close_time: int) -> Candle | None:
        for candle in reversed(self._candles.get((symbol, timeframe), ())):
            if candle.close_time == close_time:
                return candle
            if candle.close_time < close_time:
                return None
        return None

    def _fresh(self, symbol: str, moment: int, timeframes: Iterable[str]) -> Iterable[Signal]:
        wanted = set(timeframes)
        for (_, timeframe), signal in self._latest.get(symbol, {}).items():
            if timeframe not in wanted or signal.ts > moment:
                continue
            if moment - signal.ts < self._settings.stale_bars * timeframe_ms(timeframe):
                yield signal

    def _vote(
        self, symbol: str, moment: int, timeframes: Iterable[str], families: set[str] | None
    ) -> Consensus:
        total_weight = 0.0
        weighted = 0.0
        voters = 0
        votes: list[tuple[float, Reason]] = []
        for signal in self._fresh(symbol, moment, timeframes):
            if self._outside(signal.sensor_id, families):
                continue
            weight = self._weights.get(signal.sensor_id)
            direction = (signal.direction > 0) - (signal.direction < 0)
            # Sensors already bound their output; a NaN or out-of-range strength still must not skew the vote.
            strength = 0.0 if math.isnan(signal.strength) else min(max(signal.strength, 0.0), 1.0)
            total_weight += weight
            weighted += weight * direction * strength
            voters += 1
            if direction:
                reason = Reason(
                    sensor_id=signal.sensor_id,
                    timeframe=signal.timeframe,
                    direction=direction,
                    strength=strength,
                    weight=weight,
                )
                votes.append((weight * strength, reason))
        score = weighted / total_weight if total_weight > 0 else 0.0
        votes.sort(key=lambda item: (-item[0], item[1].sensor_id, item[1].timeframe))
        return Consensus(
            score=min(max(score, -1.0), 1.0), voters=voters, votes=tuple(reason for _, reason in votes)
        )

    def _outside(self, sensor_id: str, families: set[str] | None) -> bool:
        """True when a family filter applies and ``sensor_id`` is not of one of its families."""
        if families is None or self._families is None:
            return False
        return self._families.get(sensor_id) not in families

    def _evaluate(self, symbol: str, moment: int) -> Decision | None:
        outcome, decision = self._judge(symbol, moment)
        self._outcome_counts[outcome] += 1
        if outcome not in ("debounce", "cooldown", "decided"):
            self._streaks.pop(symbol, None)
        return decision

    def _judge(self, symbol: str, moment: int) -> tuple[str, Decision | None]:
        s = self._settings
        if self._clock.now_ms() - moment > s.max_lag_s * 1000:
            return "stale", None
        consensus = self.consensus(symbol, moment)
        side = consensus.side
        if side is None or consensus.voters == 0:
            return "no_signals", None
        if consensus.conviction < s.threshold:
            return "below_threshold", None
        if consensus.agreeing(side) < s.min_agreeing:
            return "too_few_agreeing", None
        if s.trend_timeframes and -side.sign * self.trend(symbol, moment).score > s.trend_veto:
            return "trend_veto", None
        if not self._hold(symbol, side, moment):
            return "debounce", None
        last = self._last_decision.get(symbol)
        if last is not None and moment - last < s.cooldown_s * 1000:
            return "cooldown", None
        candle = self._candle_at(symbol, s.timeframe, moment)
        if candle is None:
            return "no_price", None
        distances = self._distances(symbol, candle.close)
        if distances is None:
            return "no_atr", None
        stop, take, atr_value = distances
        self._last_decision[symbol] = moment
        self._streaks.pop(symbol, None)
        return "decided", Decision(
            decision_id=decision_id(symbol, moment, side),
            symbol=symbol,
            side=side,
            conviction=consensus.conviction,
            reference_price=candle.close,
            stop_distance=stop,
            take_profit_distance=take,
            ts=moment,
            timeframe=s.timeframe,
            reasons=consensus.votes,
            atr=atr_value,
        )

    def _hold(self, symbol: str, side: Side, moment: int) -> bool:
        """Count this close in the symbol's streak; True once it has held ``confirm_closes`` closes."""
        streak = self._streaks.get(symbol)
        if streak is None or streak.side is not side or moment - streak.last_ts > self._bar_ms():
            streak = _Streak(side=side, count=1, last_ts=moment)
        elif moment > streak.last_ts:  # a repeated call for the same close does not count twice
            streak.count += 1
            streak.last_ts = moment
        self._streaks[symbol] = streak
        return streak.count >= self._settings.confirm_closes

    def _bar_ms(self) -> int:
        return timeframe_ms(self._settings.timeframe)

    def _distances(self, symbol: str, price: Decimal) -> tuple[Decimal, Decimal, Decimal] | None:
        s = self._settings
        if s.stop_mode == "percent":
            return price * s.sl_pct, price * s.tp_pct, self.atr(symbol) or Decimal(0)
        value = self.atr(symbol)
        if value is None or value <= 0:
            return None
        return value * s.sl_atr, value * s.tp_atr, value
