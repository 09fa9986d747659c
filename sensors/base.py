"""The sensor contract: ``Bars`` (the data a sensor reads), ``SensorSpec`` (what it declares), ``Sensor``.

A sensor turns the closed candles of one (symbol, timeframe) into a verdict ``(direction, strength)``:
direction in {-1, 0, +1}, strength in [0, 1]. Concrete sensors derive from :class:`SensorBase`, which
validates parameters against their declared :class:`Param` ranges, builds the spec, and guarantees the
output bounds (NaN or out-of-range results become ``(0, 0.0)`` / are clipped), so a family module only
writes the indicator arithmetic.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Protocol, TypeVar, get_args

import msgspec
import numpy as np
import numpy.typing as npt
import talib
from talib import abstract

from core.config_engine import INTERVALS

__all__ = [
    "FAMILIES",
    "NEUTRAL",
    "Bars",
    "Family",
    "Param",
    "ParamValue",
    "Sensor",
    "SensorBase",
    "SensorSpec",
    "crossed",
    "flat",
    "last_atr",
    "ramp",
    "ta_lookback",
    "verdict",
    "warm",
]

Family = Literal["trend", "momentum", "mean_reversion", "volatility", "volume", "pattern", "order_flow"]
FAMILIES: tuple[Family, ...] = get_args(Family)
ParamValue = int | float | str | bool
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
NEUTRAL: tuple[int, float] = (0, 0.0)
WARMUP_FACTOR = 3
_A = TypeVar("_A", bound="np.ndarray[Any, Any]")


class Bars:
    """Read-only float64 views of the closed candles of ONE (symbol, timeframe), oldest first.

    All arrays have the same length. The constructor takes views (no copy) and marks them read-only so a
    sensor can never corrupt the ring buffer it reads from.
    """

    __slots__ = ("close", "close_time", "high", "low", "open", "taker_buy_volume", "volume")

    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    taker_buy_volume: F64
    close_time: I64

    def __init__(
        self,
        *,
        open: F64,  # the candle field's name, shadowing the builtin on purpose
        high: F64,
        low: F64,
        close: F64,
        volume: F64,
        taker_buy_volume: F64,
        close_time: I64,
    ) -> None:
        n = len(close)
        arrays = (open, high, low, close, volume, taker_buy_volume, close_time)
        if any(len(a) != n for a in arrays):
            raise ValueError(f"Bars arrays must have the same length, got {[len(a) for a in arrays]}")
        self.open = _readonly(open)
        self.high = _readonly(high)
        self.low = _readonly(low)
        self.close = _readonly(close)
        self.volume = _readonly(volume)
        self.taker_buy_volume = _readonly(taker_buy_volume)
        self.close_time = _readonly(close_time)

    def __len__(self) -> int:
        return len(self.close)

    def tail(self, n: int) -> Bars:
        """The last ``n`` bars (all of them if fewer), as views."""
        start = max(len(self) - n, 0)
        # Slices of read-only views are read-only views: skip the constructor's checks (hot path).
        tail = Bars.__new__(Bars)
        tail.open, tail.high, tail.low = self.open[start:], self.high[start:], self.low[start:]
        tail.close, tail.volume = self.close[start:], self.volume[start:]
        tail.taker_buy_volume, tail.close_time = self.taker_buy_volume[start:], self.close_time[start:]
        return tail


def _readonly(array: _A) -> _A:
    view = array.view()
    view.flags.writeable = False
    return view


class SensorSpec(msgspec.Struct, frozen=True):
    """What a sensor declares: identity, family, where it runs, how much history it needs, its parameters."""

    id: str
    family: str
    timeframes: tuple[str, ...]  # empty = every engine timeframe
    lookback: int  # bars needed before evaluate() may be called
    params: dict[str, ParamValue]
    description: str


class Sensor(Protocol):
    """A configured sensor: ``evaluate`` maps closed bars to ``(direction, strength)``."""

    spec: SensorSpec

    def evaluate(self, bars: Bars) -> tuple[int, float]:
        """``(direction in {-1, 0, 1}, strength in [0, 1])`` on the latest closed bar; needs lookback bars."""
        ...


class Param(msgspec.Struct, frozen=True):
    """A declared parameter: its default fixes the type; ``lo``/``hi`` bound numbers, ``choices`` strings."""

    name: str
    default: ParamValue
    lo: float | None = None
    hi: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""

    def check(self, sensor_id: str, value: object) -> ParamValue:
        """The value converted to this parameter's type, or ``ValueError`` naming sensor and parameter."""
        where = f"sensor {sensor_id!r} param {self.name!r}"
        if isinstance(self.default, bool):
            if not isinstance(value, bool):
                raise ValueError(f"{where}: expected a boolean, got {value!r}")
            return value
        if isinstance(self.default, int):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where}: expected an integer, got {value!r}")
            self._check_range(where, value)
            return value
        if isinstance(self.default, float):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{where}: expected a finite number, got {value!r}")
            self._check_range(where, float(value))
            return float(value)
        if not isinstance(value, str):
            raise ValueError(f"{where}: expected a string, got {value!r}")
        if self.choices and value not in self.choices:
            raise ValueError(f"{where}: {value!r} is not one of {list(self.choices)}")
        return value

    def _check_range(self, where: str, value: float) -> None:
        if self.lo is not None and value < self.lo:
            raise ValueError(f"{where}: {value!r} is below the minimum {self.lo:g}")
        if self.hi is not None and value > self.hi:
            raise ValueError(f"{where}: {value!r} is above the maximum {self.hi:g}")


# Every sensor accepts this one: a comma-separated subset of the engine's timeframes ("" = all).
TIMEFRAMES_PARAM = Param("timeframes", "", doc="comma-separated timeframes to run on; empty = all")


class SensorBase(ABC):
    """Shared machinery of the library's sensors.

    Subclasses declare ``id``, ``family``, ``description`` and ``params``; implement ``lookback()`` (from
    ``self.p``, the validated parameters), ``configure()`` (read parameters into attributes, check
    combinations with :meth:`require`) and ``compute(bars)``, which receives at least ``lookback`` bars
    and may return any float direction/strength: :func:`verdict` normalises it.
    """

    id: ClassVar[str]
    family: ClassVar[Family]
    description: ClassVar[str]
    params: ClassVar[tuple[Param, ...]] = ()

    spec: SensorSpec
    p: dict[str, ParamValue]
    n: int

    def __init__(self, overrides: Mapping[str, ParamValue] | None = None) -> None:
        declared = {param.name: param for param in (*self.params, TIMEFRAMES_PARAM)}
        values: dict[str, ParamValue] = {name: param.default for name, param in declared.items()}
        for name, value in (overrides or {}).items():
            if name not in declared:
                raise ValueError(f"sensor {self.id!r} has no param {name!r} (known: {sorted(declared)})")
            values[name] = declared[name].check(self.id, value)
        timeframes = _parse_timeframes(self.id, str(values.pop("timeframes")))
        self.p = values
        self.configure()
        lookback = self.lookback()
        self.n = lookback  # the tail length compute() slices: results do not depend on older history
        self.spec = SensorSpec(
            id=self.id,
            family=self.family,
            timeframes=timeframes,
            lookback=lookback,
            params=dict(values),
            description=self.description,
        )

    @abstractmethod
    def configure(self) -> None:
        """Read ``self.p`` into attributes; raise ``ValueError`` on inconsistent combinations."""

    @abstractmethod
    def lookback(self) -> int:
        """Bars needed (including indicator warm-up) for one meaningful verdict."""

    @abstractmethod
    def compute(self, bars: Bars) -> tuple[float, float]:
        """Raw ``(direction, strength)``; called with ``len(bars) >= lookback``."""

    def evaluate(self, bars: Bars) -> tuple[int, float]:
        """The verdict on the last bar; ``(0, 0.0)`` without enough history or on NaN."""
        if len(bars) < self.spec.lookback:
            return NEUTRAL
        direction, strength = self.compute(bars)
        return verdict(direction, strength)

    def int_(self, name: str) -> int:
        """A validated integer parameter."""
        value = self.p[name]
        assert isinstance(value, int)
        return value

    def float_(self, name: str) -> float:
        """A validated float parameter."""
        value = self.p[name]
        assert isinstance(value, float)
        return value

    def str_(self, name: str) -> str:
        """A validated string parameter."""
        value = self.p[name]
        assert isinstance(value, str)
        return value

    def require(self, condition: bool, message: str) -> None:
        """Cross-parameter check: ``ValueError`` naming the sensor when ``condition`` is false."""
        if not condition:
            raise ValueError(f"sensor {self.id!r}: {message}")


def _parse_timeframes(sensor_id: str, text: str) -> tuple[str, ...]:
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        if name not in INTERVALS:
            raise ValueError(f"sensor {sensor_id!r} param 'timeframes': unknown timeframe {name!r}")
    return names


def verdict(direction: float, strength: float) -> tuple[int, float]:
    """Normalise a raw result: sign of ``direction``, strength clipped to [0, 1]; NaN anywhere → neutral.

    A zero direction always carries zero strength, and a non-zero direction with zero strength stays a
    (weak) directional verdict.
    """
    if not (math.isfinite(direction) and math.isfinite(strength)) or direction == 0:
        return NEUTRAL
    return (1 if direction > 0 else -1), min(max(float(strength), 0.0), 1.0)


def ramp(x: float, lo: float, hi: float) -> float:
    """Linear map of ``x`` from [lo, hi] onto [0, 1], clipped (NaN stays NaN, caught by :func:`verdict`)."""
    if hi == lo:
        return 1.0 if x >= hi else 0.0
    return min(max((x - lo) / (hi - lo), 0.0), 1.0)


def crossed(a: F64, b: F64 | float) -> int:
    """+1 if ``a`` crossed above ``b`` on the last bar, -1 if below, else 0 (NaN → 0)."""
    b_prev, b_last = (b[-2], b[-1]) if isinstance(b, np.ndarray) else (b, b)
    a_prev, a_last = a[-2], a[-1]
    if a_prev <= b_prev and a_last > b_last:
        return 1
    if a_prev >= b_prev and a_last < b_last:
        return -1
    return 0


def warm(period: int) -> int:
    """Extra bars so an EMA/Wilder-smoothed indicator of ``period`` has forgotten its seed (e^-3 ≈ 5%)."""
    return WARMUP_FACTOR * period


def ta_lookback(name: str, **params: float) -> int:
    """Bars TA-Lib needs for the first output of ``name`` with these parameters (its lookback + 1)."""
    function = abstract.Function(name)  # type: ignore[attr-defined]
    if params:
        function.set_parameters(**params)
    return int(function.lookback) + 1


def last_atr(high: F64, low: F64, close: F64, period: int) -> float:
    """The latest Average True Range (TA-Lib ATR, Wilder smoothing): the volatility unit most sensors use.

    NaN when the market did not move at all: distances in ATRs are then undefined (and ``verdict`` turns them
    into "no opinion" instead of dividing by zero).
    """
    atr = float(talib.ATR(high, low, close, timeperiod=period)[-1])
    return atr if atr > 0 else math.nan


def flat(values: F64) -> bool:
    """True when a window holds a single value: bounded oscillators degenerate to 0 there (TA-Lib's guard)."""
    return not float(values.max()) > float(values.min())
