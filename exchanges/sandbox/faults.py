"""Fault injection settings for the sandbox: what to break, how often.

Set at start with ``--faults name=value,...`` and changed at runtime through the admin endpoint.
The REST layer reads the HTTP faults, the WebSocket layer the stream faults; the random draws come
from one seeded generator so a run with the same seed breaks the same way.
"""

from __future__ import annotations

import random

import msgspec

__all__ = ["FaultConfig", "FaultSpecError", "Faults", "parse_fault_spec"]


class FaultSpecError(ValueError):
    """A ``--faults`` specification names an unknown fault or gives it an invalid value."""


class FaultConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """All faults off by default. Probabilities are in [0, 1]; durations in the unit their name says."""

    latency_ms: int = 0  # added to every REST answer
    http_5xx: float = 0.0  # probability a REST request answers 503 (order NOT placed)
    http_429_burst: int = 0  # the next N requests answer 429 with Retry-After
    order_timeout_placed: float = 0.0  # probability an order is placed but the answer is a timeout
    ws_drop_every: float = 0.0  # seconds of wall time between forced WebSocket drops (0 = never)
    drop_frames: float = 0.0  # probability a market-stream frame is silently dropped
    user_drop: float = 0.0  # probability a user-data event is dropped
    user_dup: float = 0.0  # probability a user-data event is sent twice
    user_reorder: float = 0.0  # probability a user-data event is swapped with the next one
    listenkey_ttl: float = 3600.0  # seconds (exchange clock) a listenKey lives without a keepalive
    clock_skew_ms: int = 0  # added to serverTime and to the timestamp checks' idea of "now"


_PROBABILITIES = ("http_5xx", "order_timeout_placed", "drop_frames", "user_drop", "user_dup", "user_reorder")


def _parse_value(name: str, raw: str, current: object) -> object:
    text = raw.strip().lower()
    try:
        if name in ("ws_drop_every", "listenkey_ttl"):
            for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
                if text.endswith(suffix):
                    return float(text[: -len(suffix)]) * factor
            return float(text)
        if name == "latency_ms":
            return int(text[:-2] if text.endswith("ms") else text)
        if name == "clock_skew_ms":
            return int(text[:-2] if text.endswith("ms") else text)
        if isinstance(current, int) and not isinstance(current, bool):
            return int(text)
        return float(text)
    except ValueError as exc:
        raise FaultSpecError(f"fault '{name}': invalid value {raw!r}") from exc


def parse_fault_spec(spec: str, base: FaultConfig | None = None) -> FaultConfig:
    """Parse ``name=value,name=value`` into a :class:`FaultConfig` (on top of ``base``)."""
    cfg = msgspec.structs.replace(base) if base is not None else FaultConfig()
    fields = {f.name for f in msgspec.structs.fields(FaultConfig)}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep:
            raise FaultSpecError(f"fault '{item}': expected name=value")
        if name not in fields:
            raise FaultSpecError(f"unknown fault '{name}' (known: {', '.join(sorted(fields))})")
        value = _parse_value(name, raw, getattr(cfg, name))
        setattr(cfg, name, value)
    validate(cfg)
    return cfg


def validate(cfg: FaultConfig) -> None:
    for name in _PROBABILITIES:
        p = getattr(cfg, name)
        if not 0.0 <= p <= 1.0:
            raise FaultSpecError(f"fault '{name}': probability {p} is outside [0, 1]")
    for name in ("latency_ms", "http_429_burst", "ws_drop_every", "listenkey_ttl"):
        if getattr(cfg, name) < 0:
            raise FaultSpecError(f"fault '{name}': must not be negative")
    if cfg.listenkey_ttl == 0:
        raise FaultSpecError("fault 'listenkey_ttl': must be positive")


class Faults:
    """The live fault settings plus the seeded dice that decide each injection."""

    def __init__(self, config: FaultConfig | None = None, seed: int = 0) -> None:
        self.config = config or FaultConfig()
        self._rng = random.Random(seed ^ 0x5EED_FA17)

    def roll(self, probability: float) -> bool:
        """True with ``probability``; never draws when the fault is off, so off costs nothing."""
        return probability > 0.0 and self._rng.random() < probability

    def take_429(self) -> bool:
        """Consume one request of a pending 429 burst."""
        if self.config.http_429_burst > 0:
            self.config.http_429_burst -= 1
            return True
        return False

    def update(self, spec: str) -> FaultConfig:
        self.config = parse_fault_spec(spec, self.config)
        return self.config
