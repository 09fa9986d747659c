"""Settings sections of the decision path: the AdaptivePlayer (consensus) and the RiskEngine (sizing, limits).

Composed into :class:`core.config.Settings` as ``player`` and ``risk``. Money and price ratios are ``Decimal``
(they end up in order sizes); the player's learning rates and thresholds are floats (they only rank votes).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from core.config_engine import INTERVALS
from core.config_sources import field_error

__all__ = ["PlayerSettings", "RiskSettings", "timeframe_ms"]

Timeframe = Annotated[str, Meta(pattern=r"^(1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d)$")]
Fraction01 = Annotated[float, Meta(ge=0, le=1)]

_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000}


def timeframe_ms(timeframe: str) -> int:
    """Length of one ``timeframe`` candle in ms (``15m`` → 900000); ``ValueError`` for an unknown one."""
    if timeframe not in INTERVALS:
        raise ValueError(f"unknown timeframe {timeframe!r}; expected one of {', '.join(INTERVALS)}")
    return int(timeframe[:-1]) * _UNIT_MS[timeframe[-1]]


def _positive(value: Decimal) -> bool:
    return value.is_finite() and value > 0


class PlayerSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The AdaptivePlayer: weighted consensus of the sensors, trend filter, debounce, cooldown, learning.

    A decision is evaluated at every close of ``timeframe`` (the decision timeframe) over the latest fresh
    signals of ``timeframe`` and ``confirm_timeframes``; the trend filter reads ``trend_timeframes``.

    Neutral signals count in the consensus denominator, so with the whole library voting the conviction is
    small: on real BTCUSDT 5m klines with equal weights it reached 0.05 on ~30% of closes, 0.1 on ~4% and
    never 0.2; the trend family alone (the filter) has a median |score| near 0.15. Hence the defaults.
    """

    timeframe: Annotated[
        Timeframe, Meta(description="decision timeframe: decisions happen at its closes")
    ] = "5m"
    confirm_timeframes: Annotated[
        tuple[Timeframe, ...], Meta(description="other timeframes whose signals join the consensus")
    ] = ("15m",)
    trend_timeframes: Annotated[
        tuple[Timeframe, ...], Meta(description="higher timeframes of the trend filter (empty = no filter)")
    ] = ("1h", "4h")
    trend_families: Annotated[
        tuple[str, ...], Meta(description="sensor families that vote in the trend filter")
    ] = ("trend",)
    threshold: Annotated[Fraction01, Meta(description="minimum conviction |weighted score| to act")] = 0.08
    min_agreeing: Annotated[int, Meta(ge=1, le=1000, description="minimum sensors voting the side")] = 5
    trend_veto: Annotated[
        Fraction01, Meta(description="trend score against the side beyond which the decision is vetoed")
    ] = 0.25
    confirm_closes: Annotated[
        int, Meta(ge=1, le=100, description="consecutive closes the consensus must hold (debounce)")
    ] = 2
    cooldown_s: Annotated[
        float, Meta(ge=0, le=7 * 86400, description="exchange seconds without a new decision per symbol")
    ] = 900.0
    stale_bars: Annotated[
        float, Meta(gt=0, le=100, description="a signal older than this many of its bars is ignored")
    ] = 1.5
    max_lag_s: Annotated[
        float, Meta(gt=0, description="skip closes older than this (exchange seconds), e.g. catch-up")
    ] = 120.0
    stop_mode: Annotated[
        Literal["atr", "percent"], Meta(description="stop/take-profit distances from ATR or fixed percents")
    ] = "atr"
    atr_period: Annotated[int, Meta(ge=1, le=500, description="ATR period on the decision timeframe")] = 14
    sl_atr: Annotated[Decimal, Meta(description="stop-loss distance in ATRs")] = Decimal("1.5")
    tp_atr: Annotated[Decimal, Meta(description="take-profit distance in ATRs")] = Decimal("3")
    sl_pct: Annotated[
        Decimal, Meta(description="stop-loss distance as a fraction of price (percent mode)")
    ] = Decimal("0.01")
    tp_pct: Annotated[
        Decimal, Meta(description="take-profit distance as a fraction of price (percent mode)")
    ] = Decimal("0.02")
    hit_pct: Annotated[
        Decimal, Meta(description="move (fraction of price) that makes a signal a hit or a miss")
    ] = Decimal("0.003")
    hit_bars: Annotated[int, Meta(ge=1, le=500, description="bars a signal has to reach its hit move")] = 6
    learning_rate: Annotated[
        float, Meta(gt=0, le=1, description="weight step towards w_max on a hit, w_min on a miss")
    ] = 0.05
    w_min: Annotated[float, Meta(gt=0, le=1000, description="lowest sensor weight")] = 0.2
    w_max: Annotated[float, Meta(gt=0, le=1000, description="highest sensor weight")] = 3.0
    w_initial: Annotated[float, Meta(gt=0, le=1000, description="weight of a sensor not yet judged")] = 1.0

    def __post_init__(self) -> None:
        if self.timeframe in self.confirm_timeframes:
            raise field_error("confirm_timeframes", "must not repeat the decision timeframe")
        if self.w_min > self.w_max:
            raise field_error("w_min", "must not exceed w_max")
        if not self.w_min <= self.w_initial <= self.w_max:
            raise field_error("w_initial", "must lie in [w_min, w_max]")
        for name in ("sl_atr", "tp_atr", "sl_pct", "tp_pct", "hit_pct"):
            if not _positive(getattr(self, name)):
                raise field_error(name, "must be a positive number")

    @property
    def consensus_timeframes(self) -> tuple[str, ...]:
        """The decision timeframe, then the confirmation timeframes."""
        return (self.timeframe, *self.confirm_timeframes)


class RiskSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The RiskEngine: position sizing and the limits that refuse or halt new entries."""

    risk_per_trade: Annotated[Decimal, Meta(description="equity share lost if the stop is hit")] = Decimal(
        "0.01"
    )
    leverage: Annotated[int, Meta(ge=1, le=125, description="leverage set on traded symbols")] = 10
    max_leverage: Annotated[Decimal, Meta(description="position notional cap as a multiple of equity")] = (
        Decimal(3)
    )
    max_notional: Annotated[Decimal, Meta(description="position notional cap, USDT")] = Decimal(50000)
    max_positions: Annotated[int, Meta(ge=1, le=1000, description="concurrent positions (and brackets)")] = 5
    max_exposure: Annotated[
        Decimal, Meta(description="sum of position notionals as a multiple of equity")
    ] = Decimal(5)
    daily_loss_limit: Annotated[
        Decimal, Meta(description="realized loss today (UTC), equity share, that halts entries (0 = none)")
    ] = Decimal("0.03")
    max_drawdown: Annotated[
        Decimal, Meta(description="drop from peak equity (share) that halts entries until cleared (0 = none)")
    ] = Decimal("0.10")
    max_orders_per_minute: Annotated[
        int, Meta(ge=1, le=100000, description="orders sent in the last minute beyond which entries wait")
    ] = 30
    kelly_fraction: Annotated[Decimal, Meta(description="share of the Kelly bet the risk may reach")] = (
        Decimal("0.5")
    )
    kelly_min_trades: Annotated[
        int, Meta(ge=1, le=100000, description="closed trades before the Kelly bound applies")
    ] = 30
    kelly_window: Annotated[
        int, Meta(ge=1, le=100000, description="latest closed trades the Kelly statistics use")
    ] = 200
    kelly_floor: Annotated[
        Decimal, Meta(description="lowest risk share the Kelly bound may impose (keeps learning)")
    ] = Decimal("0.0025")
    notional_buffer: Annotated[
        Decimal, Meta(description="price drop (share) the minimum-notional check must survive")
    ] = Decimal("0.01")

    def __post_init__(self) -> None:
        for name in ("risk_per_trade", "max_leverage", "max_notional", "max_exposure"):
            if not _positive(getattr(self, name)):
                raise field_error(name, "must be a positive number")
        for name in ("daily_loss_limit", "max_drawdown", "kelly_fraction", "kelly_floor", "notional_buffer"):
            value: Decimal = getattr(self, name)
            if not (value.is_finite() and 0 <= value <= 1):
                raise field_error(name, "must be a share in [0, 1]")
        if self.risk_per_trade > 1:
            raise field_error("risk_per_trade", "must be a share in (0, 1]")
        if self.kelly_floor > self.risk_per_trade:
            raise field_error("kelly_floor", "must not exceed risk_per_trade")
