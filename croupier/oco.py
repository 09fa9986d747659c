"""OcoBook: the one-cancels-the-other logic Binance futures lack, as a pure state machine.

Binance USDⓈ-M has no OCO order. A bracket is an entry plus two independent algo orders (take-profit and
stop-loss, both ``closePosition``); this book watches what the venue reports about them and says what must
happen next. It does no I/O and holds no bracket of its own: the bracket (ids, status) lives in the
StateManager and is passed in with each event, so the book only remembers what it *observed*:

- the latest state of every algo order of ours (forward only: a late NEW never undoes a TRIGGERING);
- which cancels we asked for (a CANCELED we caused is not an accident);
- why the position is being closed (the leg that fired, a liquidation, our own market close).

Rules:

- a leg that fires (TRIGGERED or FINISHED) → cancel the other leg (sibling cancel);
- the position found flat (after state has shown it open under this bracket) while the bracket is
  PROTECTED or CLOSING → cancel every leg still open and finish the bracket with the exit reason (the leg
  that fired, ``liquidation`` for the venue's ``autoclose-`` orders, or ``closed_externally`` for a manual
  close);
- the stop ending without firing (REJECTED, EXPIRED, CANCELED by someone else) while the position is open →
  re-protect;
- stop health: NEW is working; TRIGGERING/TRIGGERED is working for ``triggering_timeout_ms`` after its
  trigger time, then stuck (the venue did not close the position: close it ourselves).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.enums import AlgoStatus, OrderType, Side
from core.types import AlgoOrder, Fill
from croupier.model import StopHealth
from exchanges.binance.client_ids import Leg, parse_client_id
from state.model import Bracket, BracketStatus

__all__ = ["Action", "CancelLeg", "Finish", "OcoBook", "Reprotect", "exit_reason_of_fill"]

_RANK = {
    AlgoStatus.NEW: 0,
    AlgoStatus.TRIGGERING: 1,
    AlgoStatus.TRIGGERED: 2,
    AlgoStatus.FINISHED: 3,
    AlgoStatus.CANCELED: 3,
    AlgoStatus.EXPIRED: 3,
    AlgoStatus.REJECTED: 3,
}
_FIRED = (AlgoStatus.TRIGGERED, AlgoStatus.FINISHED)
_ENDED_UNFIRED = (AlgoStatus.CANCELED, AlgoStatus.EXPIRED, AlgoStatus.REJECTED)
_LIVE_BRACKET = (BracketStatus.PROTECTED, BracketStatus.CLOSING)


class CancelLeg(msgspec.Struct, frozen=True, kw_only=True):
    """Cancel our algo order ``client_algo_id`` (a sibling, or a leaf left after the position closed)."""

    symbol: str
    client_algo_id: str
    reason: str


class Finish(msgspec.Struct, frozen=True, kw_only=True):
    """The position is flat: close the bracket with ``reason`` (after the cancels listed before it)."""

    symbol: str
    reason: str


class Reprotect(msgspec.Struct, frozen=True, kw_only=True):
    """The stop ended without firing while the position is open: give the position a new stop."""

    symbol: str
    reason: str


Action = CancelLeg | Finish | Reprotect


def exit_reason_of_fill(fill: Fill, bracket: Bracket | None) -> str | None:
    """Why a fill reduced the position, or ``None`` when it did not reduce it (an entry fill)."""
    cid = fill.client_order_id
    if cid.startswith(("autoclose-", "settlement_autoclose-")):
        return "liquidation"
    if cid == "adl_autoclose":
        return "adl"
    if bracket is not None and fill.side is bracket.side:
        return None  # adds to the bracket's position: its entry
    if bracket is not None and cid == bracket.tp_client_id:
        return "take_profit"
    if bracket is not None and cid == bracket.sl_client_id:
        return "stop_loss"
    parts = parse_client_id(cid)
    if parts is not None:
        if parts.leg is Leg.TAKE_PROFIT:
            return "take_profit"
        if parts.leg is Leg.STOP:
            return "stop_loss"
        if parts.leg is Leg.CLOSE:
            return "closed_at_market"
    return "closed_externally" if bracket is not None else None


class OcoBook:
    """Observed algo states and exit reasons; decides sibling cancels, finishes and re-protects (pure)."""

    def __init__(self, triggering_timeout_ms: int) -> None:
        if triggering_timeout_ms <= 0:
            raise ValueError("triggering_timeout_ms must be positive")
        self.triggering_timeout_ms = triggering_timeout_ms
        self._algos: dict[str, AlgoOrder] = {}
        self._cancelling: set[str] = set()
        self._cancel_confirmed: set[str] = set()  # the venue answered our cancel: nothing left to cancel
        self._exit: dict[str, str] = {}
        # Per symbol, the decision id of the bracket under which state has shown the position open. Keyed
        # by bracket, not just symbol: a bracket closed elsewhere (reconciliation closes stale brackets
        # without telling the book) must not make the symbol's next bracket count as "seen open" before
        # its own entry fill reaches state.
        self._opened: dict[str, str] = {}

    # -- observations ------------------------------------------------------------------------------------

    def algo(self, client_algo_id: str) -> AlgoOrder | None:
        """The latest state seen of one of our algo orders."""
        return self._algos.get(client_algo_id)

    def observe(self, algo: AlgoOrder) -> bool:
        """Remember ``algo`` unless it is older than what was seen; True if it moved the order forward."""
        old = self._algos.get(algo.client_algo_id)
        if old is not None:
            if _RANK[old.status] == 3:
                return False  # final is final
            if _RANK[algo.status] < _RANK[old.status]:
                return False
            if algo.status is old.status and algo.update_time < old.update_time:
                return False
        self._algos[algo.client_algo_id] = algo
        return True

    def expect_cancel(self, client_algo_id: str) -> None:
        """We are cancelling this order: its CANCELED is no accident."""
        self._cancelling.add(client_algo_id)

    def confirm_cancel(self, client_algo_id: str) -> None:
        """The venue answered our cancel (cancelled, or already gone): don't cancel it again before its
        ALGO_UPDATE arrives."""
        self._cancel_confirmed.add(client_algo_id)

    def set_exit(self, symbol: str, reason: str) -> None:
        """Why the symbol's position is going flat (first reason wins)."""
        self._exit.setdefault(symbol, reason)

    def exit_reason(self, symbol: str) -> str | None:
        return self._exit.get(symbol)

    def seen_open(self, bracket: Bracket) -> bool:
        """Whether state has shown the position open under ``bracket`` (not a previous one of its symbol)."""
        return self._opened.get(bracket.symbol) == bracket.decision_id

    def forget(self, symbol: str, client_ids: tuple[str, ...] = ()) -> None:
        """The bracket is finished: drop its exit reason (and the given orders' memory)."""
        self._exit.pop(symbol, None)
        self._opened.pop(symbol, None)
        for cid in client_ids:
            self._cancelling.discard(cid)
            self._cancel_confirmed.discard(cid)

    # -- events --------------------------------------------------------------------------------------------

    def on_algo(self, bracket: Bracket | None, algo: AlgoOrder, position_qty: Decimal) -> list[Action]:
        """An ALGO_UPDATE (or a placement answer) for ``algo``; ``bracket`` is its symbol's open bracket."""
        if not self.observe(algo):
            return []
        if bracket is None or bracket.symbol != algo.symbol:
            return []
        cid = algo.client_algo_id
        symbol = bracket.symbol
        if cid == bracket.tp_client_id:
            if algo.status in _FIRED:
                self.set_exit(symbol, "take_profit")
                return self._cancel_open(bracket, (bracket.sl_client_id,), "take-profit fired")
            return []
        if cid != bracket.sl_client_id:
            return []
        if algo.status in _FIRED:
            self.set_exit(symbol, "stop_loss")
            return self._cancel_open(bracket, (bracket.tp_client_id,), "stop-loss fired")
        if algo.status in _ENDED_UNFIRED and cid not in self._cancelling and position_qty != 0:
            why = f"stop {algo.status.value.lower()}" + (
                f": {algo.reject_reason}" if algo.reject_reason else ""
            )
            return [Reprotect(symbol=symbol, reason=why)]
        return []

    def on_fill(self, bracket: Bracket | None, fill: Fill) -> None:
        """A fill of ours: remember why the position is being reduced, if it is."""
        reason = exit_reason_of_fill(fill, bracket)
        if reason is not None:
            self.set_exit(fill.symbol, reason)

    def on_position(self, bracket: Bracket | None, position_qty: Decimal) -> list[Action]:
        """The symbol's position after a change: flat under a live bracket → cancel legs and finish.

        Flat only counts once state has shown the position open under *this* bracket: the REST answer of
        the entry may run ahead of the user stream, so a bracket can be PROTECTED before its entry fill
        reaches state, and a previous bracket's "seen open" says nothing about this one.
        """
        if bracket is None:
            return []
        if position_qty != 0:
            self._opened[bracket.symbol] = bracket.decision_id
            return []
        if bracket.status not in _LIVE_BRACKET or not self.seen_open(bracket):
            return []
        reason = self._exit.get(bracket.symbol, "closed_externally")
        legs = (bracket.tp_client_id, bracket.sl_client_id)
        actions: list[Action] = list(self._cancel_open(bracket, legs, f"position closed ({reason})"))
        actions.append(Finish(symbol=bracket.symbol, reason=reason))
        return actions

    # -- health --------------------------------------------------------------------------------------------

    def stop_health(self, client_algo_id: str, now_ms: int) -> StopHealth:
        """Whether the stop ``client_algo_id`` is working at ``now_ms`` (see the module docstring)."""
        algo = self._algos.get(client_algo_id)
        if algo is None or _RANK[algo.status] == 3:
            return StopHealth.MISSING
        if algo.status is AlgoStatus.NEW:
            return StopHealth.WORKING
        since = algo.trigger_time or algo.update_time
        return StopHealth.WORKING if now_ms - since < self.triggering_timeout_ms else StopHealth.STUCK

    def is_open(self, client_algo_id: str) -> bool:
        """Whether the order may still be cancelled at the venue (unknown ids count: cancel them).

        A TRIGGERED leg has already placed its order: there is nothing left to cancel."""
        if client_algo_id in self._cancel_confirmed:
            return False
        algo = self._algos.get(client_algo_id)
        return algo is None or algo.status.is_open

    @staticmethod
    def is_stop_of(algo: AlgoOrder, position_qty: Decimal) -> bool:
        """Whether ``algo`` is a stop closing a position of ``position_qty`` (ours or anyone's)."""
        closing = Side.SELL if position_qty > 0 else Side.BUY
        return (
            algo.order_type in (OrderType.STOP_MARKET, OrderType.STOP)
            and algo.side is closing
            and (algo.close_position or algo.reduce_only)
        )

    def _cancel_open(self, bracket: Bracket, client_ids: tuple[str, ...], reason: str) -> list[Action]:
        out: list[Action] = []
        for cid in client_ids:
            if cid and cid not in self._cancelling and self.is_open(cid):
                self._cancelling.add(cid)
                out.append(CancelLeg(symbol=bracket.symbol, client_algo_id=cid, reason=reason))
        return out
