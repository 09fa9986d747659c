"""The dead-man switch: ``countdownCancelAll`` per symbol, refreshed every cycle, disarmed on a clean stop.

Why it is *not* armed for a symbol with an open position: on expiry the venue cancels every open order of
the symbol, and Binance does not document that the Algo Service's conditional orders are spared (our sandbox
cancels them too, the cautious reading). A switch that fired after the bot died would then cancel the
position's stop-loss and take-profit and leave the position naked at the worst moment — the opposite of
what a dead-man switch is for. Resting stops are exactly what must survive the bot.

So the switch covers what a dead bot must not leave behind and a position does not need: regular orders
resting on a symbol with no position (an entry in flight, a limit that was never filled). For those, the
switch is armed and refreshed every ``deadman_interval_s``; when the orders are gone, or a position opens
and its protection must stay, the symbol is disarmed (countdown 0). :meth:`DeadmanSwitch.disarm_all` runs on
a clean stop.

:class:`DeadmanPlan` is the pure decision; :class:`DeadmanSwitch` sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import msgspec

from core.clock import Clock
from core.logs import get_logger
from exchanges.adapter import ExchangeAdapter
from exchanges.errors import VenueError

__all__ = ["DeadmanPlan", "DeadmanStep", "DeadmanSwitch"]

log = get_logger("croupier")


class DeadmanStep(msgspec.Struct, frozen=True, kw_only=True):
    """Symbols to arm (or refresh) and symbols to disarm in one cycle."""

    arm: tuple[str, ...]
    disarm: tuple[str, ...]


class DeadmanPlan:
    """Which symbols the switch covers (pure; see the module docstring for the rule)."""

    def __init__(self) -> None:
        self.armed: set[str] = set()

    def step(self, with_orders: Iterable[str], with_positions: Iterable[str]) -> DeadmanStep:
        """Arm symbols with resting regular orders and no position; disarm the rest of the armed ones."""
        held = set(with_positions)
        wanted = {s for s in with_orders if s not in held}
        step = DeadmanStep(arm=tuple(sorted(wanted)), disarm=tuple(sorted(self.armed - wanted)))
        return step

    def applied(self, symbol: str, armed: bool) -> None:
        """Record the venue's acknowledgement of an arm or disarm."""
        if armed:
            self.armed.add(symbol)
        else:
            self.armed.discard(symbol)


class DeadmanSwitch:
    """Sends the plan: one ``countdownCancelAll`` per symbol and cycle (the connector sends it CRITICAL)."""

    def __init__(
        self,
        adapter: ExchangeAdapter,
        clock: Clock,
        *,
        countdown_s: float,
        with_orders: Callable[[], Iterable[str]],
        with_positions: Callable[[], Iterable[str]],
    ) -> None:
        self._adapter = adapter
        self._clock = clock
        self._countdown_ms = int(countdown_s * 1000)
        self._with_orders = with_orders
        self._with_positions = with_positions
        self.plan = DeadmanPlan()
        self.refreshes = 0
        self.failures = 0

    @property
    def armed(self) -> tuple[str, ...]:
        return tuple(sorted(self.plan.armed))

    async def refresh(self) -> DeadmanStep:
        """One cycle: arm/refresh and disarm as planned. A failed call is logged and retried next cycle."""
        step = self.plan.step(self._with_orders(), self._with_positions())
        for symbol in step.arm:
            await self._send(symbol, self._countdown_ms)
        for symbol in step.disarm:
            await self._send(symbol, 0)
        return step

    async def disarm_all(self) -> None:
        """Clean stop: no countdown left running on the venue."""
        for symbol in sorted(self.plan.armed):
            await self._send(symbol, 0)

    async def _send(self, symbol: str, countdown_ms: int) -> None:
        try:
            await self._adapter.countdown_cancel_all(symbol, countdown_ms)
        except VenueError as err:
            self.failures += 1
            log.warning("countdownCancelAll(%d) failed: %s", countdown_ms, err, symbol=symbol)
            return
        self.refreshes += 1
        self.plan.applied(symbol, countdown_ms > 0)
