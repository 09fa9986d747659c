"""What every handler of the sandbox server needs, in one object built by the runner."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.clock import ScaledClock
    from exchanges.sandbox.engine.exchange import ExchangeCore
    from exchanges.sandbox.faults import Faults
    from exchanges.sandbox.market.replay import MarketReplay
    from exchanges.sandbox.server.listen_keys import ListenKeyRegistry
    from exchanges.sandbox.server.ratelimit import RateLimiter

__all__ = ["SandboxContext"]


@dataclass(slots=True)
class SandboxContext:
    """The exchange core, its market, its clock and the server-side services around them."""

    core: ExchangeCore
    market: MarketReplay
    clock: ScaledClock
    faults: Faults
    rate_limiter: RateLimiter
    listen_keys: ListenKeyRegistry
