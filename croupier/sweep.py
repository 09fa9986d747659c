"""The emergency sweep: cancel everything, close everything in parallel, then prove the account is flat.

The sweep asks the venue, not our state, what is open: it is the last resort when our view may be wrong.
Each round: list positions, open orders and open algo orders; cancel regular and algo orders of every
symbol involved and close every position with a reduce-only MARKET order (CRITICAL priority), at most
``sweep_concurrency`` symbols at a time; then ask again. It stops when the venue shows no position and no
order, or after ``sweep_attempts`` rounds. Close orders carry deterministic ids (sweep start time, symbol,
round), so a lost answer is resolved by the connector instead of doubling a close.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.clock import Clock
from core.logs import get_logger
from core.types import Position
from croupier.executor import OrderExecutor
from croupier.model import SweepResult
from exchanges.adapter import ExchangeAdapter
from exchanges.errors import VenueError
from state.fills import OrderTracker

__all__ = ["EmergencySweep", "until_final"]

log = get_logger("croupier")
_POLL_S = 0.005


class EmergencySweep:
    """One sweep of the whole account (see the module docstring)."""

    def __init__(
        self,
        adapter: ExchangeAdapter,
        executor: OrderExecutor,
        clock: Clock,
        *,
        concurrency: int,
        attempts: int,
    ) -> None:
        if concurrency < 1 or attempts < 1:
            raise ValueError("concurrency and attempts must be at least 1")
        self._adapter = adapter
        self._executor = executor
        self._clock = clock
        self._concurrency = concurrency
        self._attempts = attempts

    async def run(self) -> SweepResult:
        """Sweep until the venue shows the account flat, or ``attempts`` rounds have been tried."""
        tally = _Tally(started=time.monotonic())
        sweep_ts = self._clock.now_ms()
        gate = asyncio.Semaphore(self._concurrency)
        for attempt in range(1, self._attempts + 1):
            tally.attempts = attempt
            try:
                positions, tally.open_orders, symbols = await self._survey()
            except VenueError as err:
                tally.errors.append(f"survey {attempt}: {err}")
                log.error("sweep round %d: cannot list the account: %s", attempt, err)
                continue
            tally.remaining = [p.symbol for p in positions]
            if not positions and tally.open_orders == 0:
                return tally.result(flat=True)
            log.warning(
                "sweep round %d: %d position(s), %d open order(s) on %s",
                attempt,
                len(positions),
                tally.open_orders,
                ", ".join(symbols),
            )
            # Cancels first: a stop firing into our own close would flip the position the other way.
            await _all([self._cancel(s, gate, tally) for s in symbols], tally.errors, "cancel")
            closes = [self._close(p, f"sweep-{p.symbol}-{sweep_ts}", attempt, gate, tally) for p in positions]
            await _all(closes, tally.errors, "close")
        try:
            positions, tally.open_orders, _ = await self._survey()
            tally.remaining = [p.symbol for p in positions]
        except VenueError as err:
            tally.errors.append(f"final survey: {err}")
        return tally.result(flat=not tally.remaining and tally.open_orders == 0)

    async def _cancel(self, symbol: str, gate: asyncio.Semaphore, tally: _Tally) -> None:
        async with gate:
            await self._adapter.cancel_all_orders(symbol)
            await self._adapter.cancel_all_algo_orders(symbol)
        tally.cancelled.add(symbol)

    async def _close(
        self, pos: Position, decision_id: str, attempt: int, gate: asyncio.Semaphore, tally: _Tally
    ) -> None:
        cid = self._executor.close_id(decision_id, min(attempt, 99))
        async with gate:
            await self._executor.place(self._executor.close_request(pos.symbol, pos.qty, cid))
        tally.closed.append((pos.symbol, pos.qty))
        tally.close_ids.append(cid)

    async def _survey(self) -> tuple[list[Position], int, list[str]]:
        """Open positions, the number of open (regular + algo) orders, and every symbol involved."""
        positions, orders, algos = await asyncio.gather(
            self._adapter.positions(), self._adapter.open_orders(), self._adapter.open_algo_orders()
        )
        held = [p for p in positions if p.qty != 0]
        symbols = sorted({p.symbol for p in held} | {o.symbol for o in orders} | {a.symbol for a in algos})
        return held, len(orders) + len(algos), symbols


@dataclass
class _Tally:
    """What a sweep did so far."""

    started: float
    attempts: int = 0
    open_orders: int = 0
    closed: list[tuple[str, Decimal]] = field(default_factory=list)
    close_ids: list[str] = field(default_factory=list)
    cancelled: set[str] = field(default_factory=set)
    remaining: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def result(self, *, flat: bool) -> SweepResult:
        return SweepResult(
            flat=flat,
            attempts=self.attempts,
            closed=tuple(self.closed),
            close_client_ids=tuple(self.close_ids),
            cancelled_symbols=tuple(sorted(self.cancelled)),
            remaining_positions=() if flat else tuple(self.remaining),
            remaining_orders=0 if flat else self.open_orders,
            errors=tuple(self.errors),
            seconds=time.monotonic() - self.started,
        )


async def _all(calls: list[Coroutine[Any, Any, None]], errors: list[str], what: str) -> None:
    """Run every call concurrently; a venue failure is recorded and logged, the others go on."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, VenueError):
            errors.append(f"{what}: {result}")
            log.error("sweep %s failed: %s", what, result)
        elif isinstance(result, BaseException):
            raise result


async def until_final(orders: OrderTracker, client_ids: tuple[str, ...], timeout_s: float) -> bool:
    """Wait (bounded) until the user stream has brought every one of these orders to a final status, so
    state holds their fills (and, the stream being ordered, every fill before them); False on timeout."""
    for _ in range(max(1, int(timeout_s / _POLL_S))):
        if all((t := orders.get(cid)) is not None and not t.status.is_open for cid in client_ids):
            return True
        await asyncio.sleep(_POLL_S)
    log.warning("sweep: close orders not all confirmed by the user stream yet; state may lag")
    return False
