"""EntryFlow: one decision → bracket in state → MARKET entry → its fill → stop-loss and take-profit.

Order of operations (each step durable before the next is sent):

1. the bracket is stored in state as PENDING_ENTRY, naming the entry's deterministic client id;
2. the MARKET entry is sent (ENTRY priority). A refusal closes the bracket with the venue's reason
   (journaled as an alert); an unknown outcome leaves the bracket pending: the protection check protects
   the position if one appears, or settles the bracket once the entry is clearly not coming;
3. the fill: the RESULT answer when it says FILLED, else the user stream's final ORDER_TRADE_UPDATE, else
   (after ``entry_timeout_s``) the order queried by its client id. A partial fill keeps what filled and
   cancels the rest; no fill at all closes the bracket;
4. the stop (STOP_MARKET on MARK_PRICE, closePosition) from the actual average fill price, then the
   take-profit (TAKE_PROFIT_MARKET, closePosition); the bracket becomes PROTECTED. A stop that cannot be
   placed closes the position at market (see :mod:`croupier.guard`).
"""

from __future__ import annotations

import asyncio

from core.clock import Clock
from core.config_croupier import CroupierSettings
from core.decisions import Decision, RiskVerdict
from core.enums import OrderStatus
from core.logs import get_logger
from core.types import ZERO, Order
from croupier.guard import Guard
from croupier.model import BracketOutcome, OutcomeStatus
from croupier.reporter import Reporter
from exchanges.errors import RejectedError, UnknownOutcomeError, VenueError
from state.model import Bracket, BracketStatus

__all__ = ["EntryFlow", "EntryWaiters"]

log = get_logger("croupier")


class EntryWaiters:
    """Futures resolved by the user stream when an entry order reaches a final status."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[Order]] = {}

    def expect(self, client_order_id: str) -> asyncio.Future[Order]:
        fut: asyncio.Future[Order] = asyncio.get_running_loop().create_future()
        self._waiting[client_order_id] = fut
        return fut

    def discard(self, client_order_id: str) -> None:
        self._waiting.pop(client_order_id, None)

    def on_order(self, order: Order) -> None:
        """An order update from the stream: resolve its waiter once the order is done."""
        fut = self._waiting.get(order.client_order_id)
        if fut is not None and not order.status.is_open and not fut.done():
            fut.set_result(order)


class EntryFlow:
    """Runs one decision to a protected (or cleanly refused / closed) bracket; see the module docstring."""

    def __init__(
        self,
        guard: Guard,
        reporter: Reporter,
        waiters: EntryWaiters,
        clock: Clock,
        settings: CroupierSettings,
    ) -> None:
        self.guard = guard
        self.reporter = reporter
        self.waiters = waiters
        self.clock = clock
        self.settings = settings

    async def run(self, decision: Decision, verdict: RiskVerdict) -> BracketOutcome:
        guard, ex = self.guard, self.guard.executor
        symbol = decision.symbol
        try:
            req = ex.entry_request(decision, verdict)
        except (KeyError, ValueError) as err:
            return _outcome(decision, OutcomeStatus.REFUSED, str(err))
        # Planned triggers from the reference price; replaced by those from the actual fill price.
        planned = ex.protection_prices(
            symbol,
            decision.side,
            decision.reference_price,
            decision.stop_distance,
            decision.take_profit_distance,
        )
        now = self.clock.now_ms()
        cid = ex.entry_id(decision.decision_id)
        bracket = Bracket(
            decision_id=decision.decision_id,
            symbol=symbol,
            side=decision.side,
            qty=req.quantity or verdict.qty,
            entry_client_id=cid,
            tp_client_id=ex.tp_id(decision.decision_id),
            sl_client_id=ex.sl_id(decision.decision_id),
            tp_price=planned.tp,
            sl_price=planned.sl,
            status=BracketStatus.PENDING_ENTRY,
            opened_ts=now,
            updated_ts=now,
        )
        await guard.state.put_bracket(bracket)
        await self.reporter.decision(decision, verdict)
        waiter = self.waiters.expect(cid)
        sent = self.clock.now_ms()
        try:
            try:
                order = await ex.place(req)
            except RejectedError as err:
                reason = f"entry rejected ({err.code}): {err.msg}"
                await guard.state.close_bracket(symbol, reason)
                await self.reporter.alert("warning", symbol, f"{decision.decision_id}: {reason}")
                return _outcome(decision, OutcomeStatus.REJECTED, reason, code=err.code, sent=sent)
            except UnknownOutcomeError as err:
                await self.reporter.alert(
                    "critical", symbol, f"{decision.decision_id}: entry outcome unknown, left pending: {err}"
                )
                return _outcome(decision, OutcomeStatus.UNKNOWN, str(err), sent=sent)
            except VenueError as err:
                reason = f"entry not placed: {err}"
                await guard.state.close_bracket(symbol, reason)
                await self.reporter.alert("warning", symbol, f"{decision.decision_id}: {reason}")
                return _outcome(decision, OutcomeStatus.REJECTED, reason, code=err.code, sent=sent)
            await self.reporter.order(order)
            order = await self._final(order, waiter)
        finally:
            self.waiters.discard(cid)
        return await self._protect(decision, bracket, order, sent)

    async def _final(self, order: Order, waiter: asyncio.Future[Order]) -> Order:
        """The entry in a final status: from the answer, the stream, or a query; the rest cancelled."""
        if not order.status.is_open:
            return order
        timeout = self.clock.wall_seconds(self.settings.entry_timeout_s * 1000)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except TimeoutError:
            log.warning(
                "no final entry update on the stream: querying it", client_order_id=order.client_order_id
            )
        ex = self.guard.executor
        try:
            latest = await ex.adapter.get_order(order.symbol, client_order_id=order.client_order_id)
        except VenueError as err:
            log.error("entry query failed: %s", err, client_order_id=order.client_order_id)
            latest = order
        if latest.status.is_open:
            # Keep what filled, cancel the rest: the bracket protects the position that exists.
            cancelled = await ex.cancel_rest(order.symbol, order.client_order_id)
            latest = cancelled if cancelled is not None else latest
        return latest

    async def _protect(self, decision: Decision, bracket: Bracket, order: Order, sent: int) -> BracketOutcome:
        guard, ex = self.guard, self.guard.executor
        symbol = decision.symbol
        filled = order.executed_qty
        if filled <= 0:
            reason = f"entry {order.status.value.lower()} without a fill"
            await guard.state.close_bracket(symbol, reason)
            return _outcome(decision, OutcomeStatus.EXPIRED, reason, order=order, sent=sent)
        if order.status is not OrderStatus.FILLED:
            log.warning("entry partly filled: %s of %s", filled, order.orig_qty, symbol=symbol)
        prices = ex.protection_prices(
            symbol, decision.side, order.avg_price, decision.stop_distance, decision.take_profit_distance
        )
        bracket = await guard.put(
            bracket,
            status=BracketStatus.PROTECTING,
            entry_order_id=order.order_id,
            filled_qty=filled,
            qty=filled,
            tp_price=prices.tp,
            sl_price=prices.sl,
        )
        placed = await guard.place_stop(bracket, prices.sl, decision.stop_distance, 0)
        if placed is None:
            await self.reporter.alert(
                "critical", symbol, f"{decision.decision_id}: stop refused, closing at market"
            )
            await guard.close_at_market(symbol, "stop_refused", expected=filled * decision.side.sign)
            return _outcome(decision, OutcomeStatus.CLOSED, "stop refused", order=order, sent=sent)
        bracket = await guard.place_take_profit(placed, expected=filled * decision.side.sign)
        if bracket.status is BracketStatus.CLOSING:
            return _outcome(
                decision, OutcomeStatus.CLOSED, bracket.note, order=order, bracket=bracket, sent=sent
            )
        bracket = await guard.put(bracket, status=BracketStatus.PROTECTED)
        log.info(
            "protected: %s @ %s, tp %s, sl %s", filled, order.avg_price, bracket.tp_price, bracket.sl_price,
            symbol=symbol, client_order_id=order.client_order_id,
        )  # fmt: skip
        return _outcome(decision, OutcomeStatus.PROTECTED, "", order=order, bracket=bracket, sent=sent)


def _outcome(
    decision: Decision,
    status: OutcomeStatus,
    reason: str,
    *,
    code: int | None = None,
    order: Order | None = None,
    bracket: Bracket | None = None,
    sent: int = 0,
) -> BracketOutcome:
    return BracketOutcome(
        decision_id=decision.decision_id,
        symbol=decision.symbol,
        status=status,
        reason=reason,
        code=code,
        entry_order_id=order.order_id if order is not None else 0,
        filled_qty=order.executed_qty if order is not None else ZERO,
        avg_price=order.avg_price if order is not None else ZERO,
        tp_price=bracket.tp_price if bracket is not None else ZERO,
        sl_price=bracket.sl_price if bracket is not None else ZERO,
        tp_algo_id=bracket.tp_algo_id if bracket is not None else 0,
        sl_algo_id=bracket.sl_algo_id if bracket is not None else 0,
        sent_ts=sent,
    )
