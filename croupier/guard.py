"""Guard: the protective operations — stops placed with a fallback, market closes, re-protects, settles.

Every operation here runs with its symbol's lock held by the caller (the Croupier), so two of them never
race on one position. The bracket in the StateManager is updated *before* each order is sent (the id the
order will carry is known first), so a crash between the two leaves a bracket that names the order.

The rule that matters: a position must never stay without a stop. A stop refused with -2021 (the price is
already beyond it) is placed again at a trigger adjusted from the current mark (``stop_adjust_retries``
times); a stop that cannot be placed at all means the position is closed at market, with a critical alert.
A take-profit refused with -2021 means the target is already reached: the position is closed at market.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.clock import Clock
from core.config_croupier import CroupierSettings
from core.enums import Side
from core.logs import get_logger
from core.types import ZERO, AlgoOrder
from croupier.executor import WOULD_TRIGGER, OrderExecutor
from croupier.oco import OcoBook
from croupier.reporter import Reporter
from exchanges.binance.client_ids import parse_client_id
from exchanges.errors import RejectedError, VenueError
from state.manager import StateManager
from state.model import Bracket, BracketStatus, PositionState

__all__ = ["Guard"]

log = get_logger("croupier")
_REDUCE_ONLY_REJECTED = -2022


class Guard:
    """Protective operations on one venue (see the module docstring)."""

    def __init__(
        self,
        executor: OrderExecutor,
        state: StateManager,
        *,
        oco: OcoBook,
        reporter: Reporter,
        clock: Clock,
        settings: CroupierSettings,
    ) -> None:
        self.executor = executor
        self.state = state
        self.oco = oco
        self.reporter = reporter
        self.clock = clock
        self.settings = settings
        self.reprotects = 0
        self.market_closes = 0
        self._close_attempts: dict[str, int] = {}

    def position(self, symbol: str) -> PositionState:
        return self.state.get_snapshot().position(symbol)

    def bracket(self, symbol: str) -> Bracket | None:
        return self.state.get_snapshot().brackets.get(symbol)

    async def put(self, bracket: Bracket, **changes: object) -> Bracket:
        """Store the bracket with ``changes`` (and a fresh update time) in state; returns it."""
        new = msgspec.structs.replace(bracket, updated_ts=self.clock.now_ms(), **changes)
        await self.state.put_bracket(new)
        return new

    # -- stops -----------------------------------------------------------------------------------------

    async def place_stop(
        self, bracket: Bracket, trigger: Decimal, distance: Decimal, index: int
    ) -> Bracket | None:
        """Give the bracket's position a stop at ``trigger``; after -2021, at an adjusted trigger.

        ``index`` is the attempt number the first client id carries (each attempt takes the next). Returns
        the stored bracket naming the working stop, or ``None`` when no stop could be placed.
        """
        symbol, side = bracket.symbol, bracket.side
        for attempt in range(self.settings.stop_adjust_retries + 1):
            cid = self.executor.sl_id(bracket.decision_id, min(index + attempt, 99))
            bracket = await self.put(bracket, sl_client_id=cid, sl_price=trigger, sl_algo_id=0)
            try:
                algo = await self.executor.place_algo(self.executor.sl_request(symbol, side, trigger, cid))
            except RejectedError as err:
                last_try = attempt == self.settings.stop_adjust_retries
                log.warning("stop at %s refused: %s", trigger, err, symbol=symbol, client_algo_id=cid)
                if err.code != WOULD_TRIGGER or last_try:
                    return None
                try:
                    mark = await self.executor.mark_price(symbol)
                except VenueError as read_err:
                    log.error("no mark price to adjust the stop: %s", read_err, symbol=symbol)
                    return None
                trigger = self.executor.adjusted_stop(symbol, side, mark, distance)
                await self.reporter.alert(
                    "warning", symbol, f"stop refused (-2021, price already beyond it): retrying at {trigger}"
                )
                continue
            except VenueError as err:
                log.error("stop placement failed: %s", err, symbol=symbol, client_algo_id=cid)
                return None
            await self._observe_placed(algo)
            return await self.put(bracket, sl_algo_id=algo.algo_id, sl_price=algo.trigger_price or trigger)
        return None

    async def place_take_profit(self, bracket: Bracket, *, expected: Decimal = ZERO) -> Bracket:
        """Place the take-profit; -2021 (target already reached) closes at market; other refusals alert."""
        symbol = bracket.symbol
        req = self.executor.tp_request(symbol, bracket.side, bracket.tp_price, bracket.tp_client_id)
        try:
            algo = await self.executor.place_algo(req)
        except RejectedError as err:
            if err.code == WOULD_TRIGGER:
                await self.reporter.alert(
                    "warning",
                    symbol,
                    "take-profit refused (-2021, target already reached): closing at market",
                )
                await self.close_at_market(symbol, "take_profit_passed", expected=expected)
                return self.bracket(symbol) or bracket
            await self.reporter.alert("warning", symbol, f"take-profit refused, the stop stays alone: {err}")
            return bracket
        except VenueError as err:
            await self.reporter.alert(
                "warning", symbol, f"take-profit not placed, the stop stays alone: {err}"
            )
            return bracket
        await self._observe_placed(algo)
        return await self.put(bracket, tp_algo_id=algo.algo_id)

    async def _observe_placed(self, algo: AlgoOrder) -> None:
        self.oco.observe(algo)
        await self.reporter.algo(algo)

    # -- re-protect, close, settle -----------------------------------------------------------------------

    async def reprotect(self, symbol: str, reason: str) -> bool:
        """Give the open position of ``symbol`` a new stop, or close it at market; True if protected."""
        pos = self.position(symbol)
        if pos.qty == 0:
            return True
        side = Side.BUY if pos.qty > 0 else Side.SELL
        bracket = self.bracket(symbol)
        fallback = pos.entry_price * self.settings.fallback_stop_pct
        if bracket is None or bracket.side is not side:
            decision_id = f"protect-{symbol}-{pos.opened_ts}"
            bracket = Bracket(
                decision_id=decision_id,
                symbol=symbol,
                side=side,
                qty=abs(pos.qty),
                entry_client_id="",
                tp_client_id="",
                sl_client_id=self.executor.sl_id(decision_id, 0),
                tp_price=Decimal(0),
                sl_price=Decimal(0),
                status=BracketStatus.PROTECTING,
                opened_ts=pos.opened_ts,
                updated_ts=self.clock.now_ms(),
                filled_qty=abs(pos.qty),
                note=reason,
            )
            index = 0
        else:
            parts = parse_client_id(bracket.sl_client_id)
            index = parts.index + 1 if parts is not None else 1
        distance = abs(pos.entry_price - bracket.sl_price) if bracket.sl_price > 0 else fallback
        trigger = bracket.sl_price if bracket.sl_price > 0 else self._fallback_trigger(symbol, side, pos)
        self.reprotects += 1
        await self.reporter.alert(
            "warning", symbol, f"position without a working stop ({reason}): re-protecting"
        )
        placed = await self.place_stop(bracket, trigger, distance or fallback, index)
        if placed is not None:
            await self.put(placed, status=BracketStatus.PROTECTED)
            log.info("re-protected with stop %s at %s", placed.sl_client_id, placed.sl_price, symbol=symbol)
            return True
        await self.reporter.alert(
            "critical", symbol, f"no stop could be placed ({reason}): closing at market"
        )
        await self.close_at_market(symbol, "unprotectable")
        return False

    def _fallback_trigger(self, symbol: str, side: Side, pos: PositionState) -> Decimal:
        raw = pos.entry_price * (1 - self.settings.fallback_stop_pct * side.sign)
        return self.executor.protection_prices(symbol, side, raw, Decimal(0), Decimal(0)).sl

    async def close_stuck(self, symbol: str, reason: str) -> None:
        """The stop fired but the venue did not close the position: cancel it and close at market."""
        bracket = self.bracket(symbol)
        await self.reporter.alert("critical", symbol, f"{reason}: closing at market")
        if bracket is not None and bracket.sl_client_id:
            await self.cancel_leg(symbol, bracket.sl_client_id)
        await self.close_at_market(symbol, "stop_stuck")

    async def close_at_market(self, symbol: str, reason: str, *, expected: Decimal = ZERO) -> bool:
        """Flatten the position with a reduce-only MARKET order (CRITICAL); False if it could not be sent.

        ``expected`` (signed) is the position the caller knows of when state may not show it yet (the
        entry's own fill, answered by REST before the user stream delivered it).
        """
        pos = self.position(symbol)
        if pos.qty == 0 and expected != 0:
            pos = msgspec.structs.replace(pos, qty=expected)
        if pos.qty == 0:
            return True
        self.oco.set_exit(symbol, reason)
        bracket = self.bracket(symbol)
        decision_id = bracket.decision_id if bracket is not None else f"close-{symbol}-{pos.opened_ts}"
        attempt = self._close_attempts.get(decision_id, 0)
        self._close_attempts[decision_id] = attempt + 1
        if bracket is not None:
            await self.put(bracket, status=BracketStatus.CLOSING, note=reason)
        cid = self.executor.close_id(decision_id, min(attempt, 99))
        self.market_closes += 1
        try:
            order = await self.executor.place(self.executor.close_request(symbol, pos.qty, cid))
        except RejectedError as err:
            if err.code == _REDUCE_ONLY_REJECTED:
                log.info("close refused as the position is already flat: %s", err, symbol=symbol)
                return True
            await self.reporter.alert("critical", symbol, f"market close refused: {err}")
            return False
        except VenueError as err:
            await self.reporter.alert("critical", symbol, f"market close failed: {err}")
            return False
        await self.reporter.order(order)
        log.info("closed at market (%s): %s %s", reason, order.status, order.executed_qty, symbol=symbol)
        return True

    async def cancel_leg(self, symbol: str, client_algo_id: str) -> None:
        """Cancel one of our algo orders; one already gone is fine, a failure is logged (the protection
        check and reconciliation find an orphan again)."""
        self.oco.expect_cancel(client_algo_id)
        try:
            gone = await self.executor.cancel_algo(client_algo_id)
        except VenueError as err:
            log.error("cancel failed: %s", err, symbol=symbol, client_algo_id=client_algo_id)
            return
        self.oco.confirm_cancel(client_algo_id)
        log.info("cancelled" if gone else "already gone", symbol=symbol, client_algo_id=client_algo_id)

    async def settle(
        self, symbol: str, default_reason: str, *, stale_ms: int = 0, force: bool = False
    ) -> None:
        """The position is flat: cancel whatever leg may still be open and close the bracket.

        Unless ``force`` (the venue itself was seen flat), a bracket whose position state has not shown
        open yet is left alone until it is older than ``stale_ms``: its entry fill may still be on its way.
        """
        bracket = self.bracket(symbol)
        if bracket is None or self.position(symbol).qty != 0:
            return
        young = self.clock.now_ms() - bracket.updated_ts <= stale_ms
        if not force and not self.oco.seen_open(bracket) and young:
            return
        for cid in (bracket.tp_client_id, bracket.sl_client_id):
            if cid and self.oco.is_open(cid):
                await self.cancel_leg(symbol, cid)
        reason = self.oco.exit_reason(symbol) or default_reason
        await self.state.close_bracket(symbol, reason)
        self.oco.forget(symbol, (bracket.tp_client_id, bracket.sl_client_id))
        log.info("bracket %s closed: %s", bracket.decision_id, reason, symbol=symbol)
