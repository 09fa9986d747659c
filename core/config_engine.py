"""Settings sections of the data path: the Engine (candles, validation) and the sensors.

Composed into :class:`core.config.Settings`; kept here so the settings module stays one screen per concern.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

__all__ = ["INTERVALS", "EngineSettings", "SensorSettings"]

# Binance kline intervals the engine can aggregate to (from 1-minute candles).
INTERVALS = ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d")

Timeframe = Annotated[str, Meta(pattern=r"^(1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d)$")]
ParamValue = int | float | str | bool


class EngineSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Candle building and data validation."""

    timeframes: Annotated[
        tuple[Timeframe, ...], Meta(min_length=1, description="timeframes rolled up from 1-minute candles")
    ] = ("1m", "5m", "15m", "1h", "4h")
    stale_after_s: Annotated[
        float, Meta(gt=0, description="events older than this (session clock) are rejected as stale")
    ] = 120.0
    warmup_bars: Annotated[
        int,
        Meta(ge=0, le=1500, description="closed candles per symbol and timeframe loaded at start"),
    ] = 300


class SensorSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The sensor library and the SensorManager process pool."""

    workers: Annotated[int, Meta(ge=0, le=64, description="worker processes; 0 = CPUs - 1, at least 1")] = 0
    enabled: Annotated[
        tuple[str, ...], Meta(description="sensor ids to run; empty = every sensor of the library")
    ] = ()
    disabled: Annotated[tuple[str, ...], Meta(description="sensor ids to leave out")] = ()
    params: Annotated[
        dict[str, dict[str, ParamValue]],
        Meta(description="per-sensor parameters: TOML [sensors.params.rsi] period = 21, or JSON"),
    ] = msgspec.field(default_factory=dict)
