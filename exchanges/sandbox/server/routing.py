"""What a REST handler is: a route description and the parsed call it receives.

Handlers are plain synchronous functions ``(Call) -> object`` that read parameters, ask the exchange
core and return a response schema (or a list of them); :mod:`rest` wraps them with authentication,
order-rate accounting, fault injection and JSON encoding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.types import Instrument

if TYPE_CHECKING:
    from exchanges.sandbox.server.context import SandboxContext
    from exchanges.sandbox.server.params import Params

__all__ = ["Call", "Handler", "Route"]


@dataclass(slots=True)
class Call:
    """One parsed request: the context, its parameters, the account (API key) and the exchange time."""

    ctx: SandboxContext
    params: Params
    account: str
    now_ms: int

    def instrument(self, symbol: str) -> Instrument:
        """The instrument of ``symbol`` (-1121 when unknown)."""
        return self.ctx.core.instrument(symbol)

    def symbols(self, symbol: str | None) -> Sequence[Instrument]:
        """The instrument of ``symbol``, or every instrument when ``symbol`` is None."""
        if symbol is None:
            return list(self.ctx.core.instruments.values())
        return [self.instrument(symbol)]


Handler = Callable[[Call], object]


@dataclass(frozen=True, slots=True)
class Route:
    """``method path`` served by ``handler``.

    ``signed``: TRADE / USER_DATA security (API key, timestamp, signature).
    ``places_orders``: the order-placing endpoints, where the "timeout but placed" fault applies.
    """

    method: str
    path: str
    handler: Handler
    signed: bool = False
    places_orders: bool = False
