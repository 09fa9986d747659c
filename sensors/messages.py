"""IPC between the SensorManager (asyncio, parent) and its worker processes: msgspec tagged unions.

Every message is one msgpack-encoded frame. ``ToWorker`` travels parent → worker, ``FromWorker`` worker →
parent; ``batch_id`` matches a reply to its request (batch 0 is the worker's start-up handshake).

Candles cross the pipe as :class:`Bar`, a compact array-encoded struct of floats: the ``Decimal`` prices and
quantities of :class:`core.types.Candle` become ``float`` at this boundary because every indicator computes
in float64 (TA-Lib, numpy); nothing that leaves a worker is ever a price put on the wire, only signals.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from core.types import Candle, Signal

__all__ = [
    "Bar",
    "Evaluate",
    "Failed",
    "FromWorker",
    "Ready",
    "SensorFailure",
    "SignalGroup",
    "Signals",
    "Stop",
    "ToWorker",
    "Warmup",
    "bar_from_candle",
    "decode_from_worker",
    "decode_to_worker",
    "encode",
    "expand",
]


class Bar(msgspec.Struct, frozen=True, array_like=True):
    """One closed candle of one (symbol, timeframe), in floats: what a worker's ring buffer stores."""

    symbol: str
    timeframe: str
    close_time: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    taker_buy_volume: float


def bar_from_candle(candle: Candle) -> Bar:
    """The float form of a domain candle (exact ``Decimal`` → nearest float64)."""
    return Bar(
        symbol=candle.symbol,
        timeframe=candle.interval,
        close_time=candle.close_time,
        open=float(candle.open),
        high=float(candle.high),
        low=float(candle.low),
        close=float(candle.close),
        volume=float(candle.volume),
        taker_buy_volume=float(candle.taker_buy_volume),
    )


# --- parent → worker -------------------------------------------------------------------------------------


class Warmup(msgspec.Struct, frozen=True, tag="warmup", array_like=True):
    """History to load into the ring buffers, oldest first per (symbol, timeframe); no sensor runs."""

    batch_id: int
    bars: list[Bar]


class Evaluate(msgspec.Struct, frozen=True, tag="evaluate", array_like=True):
    """Candles that closed at the same moment: append each, run every applicable sensor on it."""

    batch_id: int
    bars: list[Bar]


class Stop(msgspec.Struct, frozen=True, tag="stop", array_like=True):
    """Finish: the worker exits its loop after the requests sent before this one."""


ToWorker = Warmup | Evaluate | Stop


# --- worker → parent -------------------------------------------------------------------------------------


class Ready(msgspec.Struct, frozen=True, tag="ready", array_like=True):
    """A warm-up was loaded (or, for batch 0, the worker has built its sensors and waits for work)."""

    batch_id: int
    loaded: int = 0
    skipped: int = 0  # bars not newer than what the ring already held
    sensor_ids: tuple[str, ...] = ()  # batch 0 only: the worker's sensors, in the order signals index them


class SensorFailure(msgspec.Struct, frozen=True, array_like=True):
    """A sensor that raised (or answered out of bounds) on one candle; it yields nothing for it."""

    sensor_id: str
    symbol: str
    timeframe: str
    error: str


class SignalGroup(msgspec.Struct, frozen=True, array_like=True, gc=False):
    """The signals of one candle, column-wise; ``sensors`` index the worker's ``sensor_ids``.

    Sending one row per signal with its ids and symbol repeated costs about 3× more to decode for a
    moment of 100 candles × 70 sensors; columns of small numbers are what msgpack reads fastest.
    """

    symbol: str
    timeframe: str
    ts: int  # close time of the candle
    sensors: list[int]
    directions: list[int]
    strengths: list[float]


def expand(groups: list[SignalGroup], sensor_ids: Sequence[str]) -> list[Signal]:
    """The domain signals of ``groups``."""
    out: list[Signal] = []
    for g in groups:
        symbol, timeframe, ts = g.symbol, g.timeframe, g.ts
        out.extend(
            [
                Signal(
                    sensor_id=sensor_ids[i],
                    symbol=symbol,
                    timeframe=timeframe,
                    direction=d,
                    strength=v,
                    ts=ts,
                )
                for i, d, v in zip(g.sensors, g.directions, g.strengths, strict=True)
            ]
        )
    return out


class Signals(msgspec.Struct, frozen=True, tag="signals", array_like=True):
    """The answer to an :class:`Evaluate`: every signal (per candle), and what computing them cost."""

    batch_id: int
    groups: list[SignalGroup]
    compute_ns: int  # wall time spent inside the worker on this batch (append + every sensor)
    evaluations: int  # sensor calls made
    skipped: int = 0  # bars not newer than the ring's last one: not evaluated again
    failures: list[SensorFailure] = msgspec.field(default_factory=list)


class Failed(msgspec.Struct, frozen=True, tag="failed", array_like=True):
    """The whole request could not be handled (start-up: the sensors could not be built)."""

    batch_id: int
    error: str


FromWorker = Ready | Signals | Failed

_ENCODER = msgspec.msgpack.Encoder()
_TO_WORKER: msgspec.msgpack.Decoder[Warmup | Evaluate | Stop] = msgspec.msgpack.Decoder(ToWorker)
_FROM_WORKER: msgspec.msgpack.Decoder[Ready | Signals | Failed] = msgspec.msgpack.Decoder(FromWorker)


def encode(message: Warmup | Evaluate | Stop | Ready | Signals | Failed) -> bytes:
    """One frame's payload."""
    return _ENCODER.encode(message)


def decode_to_worker(data: bytes) -> Warmup | Evaluate | Stop:
    """A parent → worker message (``msgspec.ValidationError`` on anything else)."""
    return _TO_WORKER.decode(data)


def decode_from_worker(data: bytes) -> Ready | Signals | Failed:
    """A worker → parent message (``msgspec.ValidationError`` on anything else)."""
    return _FROM_WORKER.decode(data)
