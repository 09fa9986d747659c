"""Reconciliation as a pure function: the state's view and the exchange's view in, the actions out.

:func:`plan_reconcile` compares a :class:`state.model.StateSnapshot` (taken after missing fills were fed
through the FillProcessor) with an :class:`ExchangeView` (positions, open orders and open algo orders read
from the venue) and answers a :class:`ReconcilePlan`: which positions to adopt from the exchange, which
symbols need a working stop, which orders are orphans to cancel, which brackets to close, and every
difference found. :class:`state.reconcile.Reconciler` does the I/O around it.

Rules (DESIGN.md invariants 1, 4, 5):

- The exchange is the truth for positions. A symbol whose position moved while it was being read
  (``ExchangeView.unstable``) is left alone this round: a fill in flight would otherwise be counted twice.
- An open position needs a working stop: an open STOP / STOP_MARKET / TRAILING_STOP_MARKET algo order on
  the closing side that closes the whole position (``closePosition`` or a quantity covering it).
- Orders are "ours" when their client id was built by :mod:`exchanges.binance.client_ids` with our prefix;
  anything else (manual orders, other software) is reported and never touched.
- An algo order of ours on a flat symbol is an orphan (unless it is a leg of a bracket still waiting for
  its entry), and so is one on the opening side of a position (it would add to it). A regular order of
  ours that belongs to no open bracket is an orphan.
- A bracket whose position is flat is closed, unless it is still waiting for its working entry order.
- Anything younger than ``grace_ms`` (orders by creation time, brackets by their last update) may be the
  croupier's work in flight: it is reported as such and left for the next round.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import TypeVar

import msgspec

from core.types import ZERO, AlgoOrder, Order, OrderType, Position, Side
from exchanges.binance.client_ids import DEFAULT_PREFIX, parse_client_id
from state.model import Bracket, BracketStatus, PositionState, StateSnapshot

__all__ = [
    "ENTRY_TOLERANCE",
    "STOP_TYPES",
    "DiffKind",
    "Difference",
    "ExchangeView",
    "ReconcilePlan",
    "decision_body",
    "has_working_stop",
    "is_ours",
    "plan_reconcile",
]

_T = TypeVar("_T", Order, AlgoOrder)

STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_MARKET, OrderType.TRAILING_STOP_MARKET})
# Relative difference of entry prices below which the two are the same (the venue rounds differently).
ENTRY_TOLERANCE = Decimal("0.000001")


class DiffKind(enum.StrEnum):
    """What kind of difference between the state and the exchange was found."""

    MISSED_FILLS = "missed_fills"  # fills on the exchange that the state had not applied (now applied)
    POSITION_MISMATCH = "position_mismatch"  # quantity differs: the exchange's is adopted
    ENTRY_MISMATCH = "entry_price_mismatch"  # same quantity, different entry price: adopted
    POSITION_MOVING = "position_moving"  # changed while being read: left for the next round
    UNPROTECTED = "unprotected_position"  # no working stop: the croupier is asked to protect it
    PROTECTION_PENDING = "protection_pending"  # no stop yet, but the croupier is placing one right now
    POSITION_WITHOUT_BRACKET = "position_without_bracket"
    STALE_BRACKET = "stale_bracket"  # bracket open in state, position flat: closed
    ORPHAN_ALGO = "orphan_algo_order"  # cancelled
    ORPHAN_ORDER = "orphan_order"  # cancelled
    FOREIGN_ORDER = "foreign_order"  # not placed by us: reported, left alone
    IN_FLIGHT = "in_flight"  # too young to judge: left for the next round


class Difference(msgspec.Struct, frozen=True, kw_only=True):
    """One difference: its kind, symbol, a human-readable detail and the alert level it deserves."""

    kind: DiffKind
    symbol: str
    detail: str
    level: str = "warning"  # "info", "warning" or "critical"


class ExchangeView(msgspec.Struct, frozen=True, kw_only=True):
    """What the exchange says, read at ``now_ms`` (exchange clock).

    ``positions`` holds non-flat positions only, by symbol; ``unstable`` the symbols whose position changed
    between two reads of the same reconciliation.
    """

    now_ms: int
    positions: dict[str, Position]
    open_orders: tuple[Order, ...] = ()
    open_algos: tuple[AlgoOrder, ...] = ()
    unstable: frozenset[str] = frozenset()

    @classmethod
    def of(
        cls,
        now_ms: int,
        positions: Iterable[Position],
        open_orders: Iterable[Order] = (),
        open_algos: Iterable[AlgoOrder] = (),
        unstable: Iterable[str] = (),
    ) -> ExchangeView:
        """A view from the adapter's lists (flat positions dropped, closed orders ignored)."""
        return cls(
            now_ms=now_ms,
            positions={p.symbol: p for p in positions if not p.is_flat},
            open_orders=tuple(o for o in open_orders if o.status.is_open),
            open_algos=tuple(a for a in open_algos if a.status.is_open),
            unstable=frozenset(unstable),
        )


class ReconcilePlan(msgspec.Struct, frozen=True, kw_only=True):
    """The actions that make the state and the exchange agree, and every difference behind them."""

    differences: tuple[Difference, ...] = ()
    adopt: tuple[PositionState, ...] = ()
    protect: tuple[str, ...] = ()
    cancel_orders: tuple[Order, ...] = ()
    cancel_algos: tuple[AlgoOrder, ...] = ()
    close_brackets: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when nothing has to be done (differences may still have been reported)."""
        return not (
            self.adopt or self.protect or self.cancel_orders or self.cancel_algos or self.close_brackets
        )


def is_ours(client_id: str, prefix: str = DEFAULT_PREFIX) -> bool:
    """Whether a client (algo) id was built by our client-id scheme with ``prefix``."""
    parts = parse_client_id(client_id)
    return parts is not None and parts.prefix == prefix


def decision_body(client_id: str) -> str | None:
    """The decision part of one of our client ids (readable id or digest), or ``None`` for another id."""
    parts = parse_client_id(client_id)
    return None if parts is None else parts.body


def has_working_stop(qty: Decimal, algos: Iterable[AlgoOrder]) -> bool:
    """Whether a position of signed ``qty`` has an open stop on the closing side that closes all of it."""
    if qty == 0:
        return True
    closing = Side.SELL if qty > 0 else Side.BUY
    return any(
        a.status.is_open
        and a.order_type in STOP_TYPES
        and a.side is closing
        and (a.close_position or a.quantity >= abs(qty))
        for a in algos
    )


def _young(ts: int, now_ms: int, grace_ms: int) -> bool:
    return ts > 0 and now_ms - ts < grace_ms


def _belongs(client_id: str, bracket: Bracket | None) -> bool:
    if bracket is None:
        return False
    body = decision_body(client_id)
    if body is None:
        return False
    ids = (bracket.entry_client_id, bracket.tp_client_id, bracket.sl_client_id)
    return client_id in ids or any(decision_body(i) == body for i in ids if i)


def _adopted(state: PositionState, ex: Position | None, now_ms: int) -> PositionState:
    """The exchange's quantity and entry price; the state's running totals are kept."""
    if ex is None:
        return msgspec.structs.replace(state, qty=ZERO, entry_price=ZERO, opened_ts=0, updated_ts=now_ms)
    same_side = state.qty != 0 and (state.qty > 0) == (ex.qty > 0)
    opened = state.opened_ts if same_side and state.opened_ts else (ex.update_time or now_ms)
    return msgspec.structs.replace(
        state, qty=ex.qty, entry_price=ex.entry_price, opened_ts=opened, updated_ts=now_ms
    )


def _entry_differs(a: Decimal, b: Decimal) -> bool:
    if a == b:
        return False
    scale = max(abs(a), abs(b))
    return abs(a - b) > scale * ENTRY_TOLERANCE


class _Planner:
    def __init__(self, state: StateSnapshot, view: ExchangeView, prefix: str, grace_ms: int) -> None:
        self.state, self.view, self.prefix, self.grace_ms = state, view, prefix, grace_ms
        self.diffs: list[Difference] = []
        self.adopt: list[PositionState] = []
        self.protect: list[str] = []
        self.cancel_orders: list[Order] = []
        self.cancel_algos: list[AlgoOrder] = []
        self.close: list[str] = []

    def diff(self, kind: DiffKind, symbol: str, detail: str, level: str = "warning") -> None:
        self.diffs.append(Difference(kind=kind, symbol=symbol, detail=detail, level=level))

    def young(self, ts: int) -> bool:
        return _young(ts, self.view.now_ms, self.grace_ms)

    def symbols(self) -> list[str]:
        st, view = self.state, self.view
        found = {s for s, p in st.positions.items() if not p.is_flat}
        found.update(st.brackets, view.positions)
        found.update(o.symbol for o in view.open_orders)
        found.update(a.symbol for a in view.open_algos)
        return sorted(found)

    def plan_symbol(self, symbol: str, orders: list[Order], algos: list[AlgoOrder]) -> None:
        view = self.view
        ex = view.positions.get(symbol)
        if symbol in view.unstable:
            self.diff(
                DiffKind.POSITION_MOVING, symbol, "position changed while it was read; next round", "info"
            )
            return
        self.position(symbol, ex)
        ex_qty = ex.qty if ex is not None else ZERO
        bracket = self.bracket(symbol, ex_qty, orders, algos)
        self.protection(symbol, ex_qty, algos, bracket)
        self.orphan_algos(symbol, ex_qty, algos, bracket)
        self.orphan_orders(symbol, orders, bracket)

    def position(self, symbol: str, ex: Position | None) -> None:
        st = self.state.position(symbol)
        ex_qty = ex.qty if ex is not None else ZERO
        if st.qty != ex_qty:
            level = "critical" if st.qty != 0 and ex_qty != 0 and (st.qty > 0) != (ex_qty > 0) else "warning"
            ex_entry = ex.entry_price if ex is not None else ZERO
            self.diff(
                DiffKind.POSITION_MISMATCH,
                symbol,
                f"state {st.qty} @ {st.entry_price}, exchange {ex_qty} @ {ex_entry}: exchange adopted",
                level,
            )
            self.adopt.append(_adopted(st, ex, self.view.now_ms))
        elif ex is not None and _entry_differs(st.entry_price, ex.entry_price):
            self.diff(
                DiffKind.ENTRY_MISMATCH,
                symbol,
                f"entry price state {st.entry_price}, exchange {ex.entry_price}: exchange adopted",
                "info",
            )
            self.adopt.append(_adopted(st, ex, self.view.now_ms))

    def bracket(
        self, symbol: str, ex_qty: Decimal, orders: list[Order], algos: list[AlgoOrder]
    ) -> Bracket | None:
        """The symbol's bracket if it stays open after this round, else ``None`` (closed or absent)."""
        bracket = self.state.brackets.get(symbol)
        if bracket is None:
            if ex_qty != 0:
                # Once it has a working stop nothing more is needed: reported for the record only.
                level = "info" if has_working_stop(ex_qty, algos) else "warning"
                detail = f"position {ex_qty} has no bracket in state"
                self.diff(DiffKind.POSITION_WITHOUT_BRACKET, symbol, detail, level)
            return None
        if ex_qty != 0:
            return bracket
        entry_open = any(o.client_order_id == bracket.entry_client_id for o in orders)
        if bracket.status is BracketStatus.PENDING_ENTRY and entry_open:
            return bracket  # waiting for its entry to fill: not stale
        if self.young(bracket.updated_ts):
            self.diff(DiffKind.IN_FLIGHT, symbol, f"bracket {bracket.decision_id} changed just now", "info")
            return bracket
        self.diff(
            DiffKind.STALE_BRACKET,
            symbol,
            f"bracket {bracket.decision_id} is {bracket.status} but the position is flat: closed",
        )
        self.close.append(symbol)
        return None

    def protection(
        self, symbol: str, ex_qty: Decimal, algos: list[AlgoOrder], bracket: Bracket | None
    ) -> None:
        if has_working_stop(ex_qty, algos):
            return
        busy = bracket is not None and bracket.status in (
            BracketStatus.PENDING_ENTRY,
            BracketStatus.PROTECTING,
        )
        if busy and bracket is not None and self.young(bracket.updated_ts):
            self.diff(DiffKind.PROTECTION_PENDING, symbol, f"position {ex_qty}: stop being placed", "info")
            return
        self.diff(DiffKind.UNPROTECTED, symbol, f"position {ex_qty} has no working stop", "critical")
        self.protect.append(symbol)

    def orphan_algos(
        self, symbol: str, ex_qty: Decimal, algos: list[AlgoOrder], bracket: Bracket | None
    ) -> None:
        opening = None if ex_qty == 0 else (Side.BUY if ex_qty > 0 else Side.SELL)
        for algo in algos:
            cid = algo.client_algo_id
            if not is_ours(cid, self.prefix):
                self.diff(
                    DiffKind.FOREIGN_ORDER, symbol, f"algo order {algo.algo_id} ({cid!r}) is not ours", "info"
                )
                continue
            if ex_qty == 0:
                pre_placed = (
                    bracket is not None
                    and bracket.status is BracketStatus.PENDING_ENTRY
                    and _belongs(cid, bracket)
                )
                if pre_placed:
                    continue
                why = "the position is flat"
            elif algo.side is opening:
                why = f"it would add to the position {ex_qty}"
            else:
                continue
            if self.young(algo.create_time):
                self.diff(DiffKind.IN_FLIGHT, symbol, f"algo order {cid} is new: {why}", "info")
                continue
            self.diff(DiffKind.ORPHAN_ALGO, symbol, f"{algo.order_type} {algo.side} {cid}: {why}; cancelled")
            self.cancel_algos.append(algo)

    def orphan_orders(self, symbol: str, orders: list[Order], bracket: Bracket | None) -> None:
        for order in orders:
            cid = order.client_order_id
            if not is_ours(cid, self.prefix):
                self.diff(
                    DiffKind.FOREIGN_ORDER, symbol, f"order {order.order_id} ({cid!r}) is not ours", "info"
                )
                continue
            if _belongs(cid, bracket):
                continue
            if self.young(order.time):
                self.diff(DiffKind.IN_FLIGHT, symbol, f"order {cid} is new and belongs to no bracket", "info")
                continue
            self.diff(
                DiffKind.ORPHAN_ORDER,
                symbol,
                f"{order.type} {order.side} {cid} belongs to no open bracket; cancelled",
            )
            self.cancel_orders.append(order)


def plan_reconcile(
    state: StateSnapshot, view: ExchangeView, *, prefix: str = DEFAULT_PREFIX, grace_ms: int = 10_000
) -> ReconcilePlan:
    """The actions that bring the state and the exchange into agreement (see the module docstring).

    ``state`` must be taken after the exchange's missing fills were applied; ``grace_ms`` (exchange time) is
    how long an order or a bracket change is considered the croupier's work in flight.
    """
    planner = _Planner(state, view, prefix, grace_ms)
    orders: Mapping[str, list[Order]] = _by_symbol(view.open_orders)
    algos: Mapping[str, list[AlgoOrder]] = _by_symbol(view.open_algos)
    for symbol in planner.symbols():
        planner.plan_symbol(symbol, orders.get(symbol, []), algos.get(symbol, []))
    return ReconcilePlan(
        differences=tuple(planner.diffs),
        adopt=tuple(planner.adopt),
        protect=tuple(planner.protect),
        cancel_orders=tuple(planner.cancel_orders),
        cancel_algos=tuple(planner.cancel_algos),
        close_brackets=tuple(planner.close),
    )


def _by_symbol(items: Iterable[_T]) -> dict[str, list[_T]]:
    out: dict[str, list[_T]] = {}
    for item in items:
        out.setdefault(item.symbol, []).append(item)
    return out
