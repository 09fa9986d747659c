"""FillProcessor: every fill goes through here — de-duplicated, made durable in the WAL, then applied once.

Rules (DESIGN.md invariant 3, seed 001 section 8):

- De-duplication by (symbol, trade id): the StateManager remembers the last trade ids applied per symbol
  (saved in every snapshot, so it survives restarts); fills in flight are remembered here until applied.
- A fill older than the symbol's last applied fill but with a trade id never seen is a genuinely new fill
  that arrived late (a REST backfill after a stream gap, a reordered frame): it *is* applied, because the
  position must equal the venue's, and it is logged; the per-symbol last fill time never moves backwards.
- A fill whose trade id is older than anything still remembered cannot be told from a duplicate: it is
  refused, counted and logged as an error; reconciliation with the venue settles the position.
- WAL first: the fill is appended and fsynced (group commit) before the state changes; the WAL writer
  applies it on the loop in sequence order, even if the caller was cancelled meanwhile.

The processor also follows each order's status from ORDER_TRADE_UPDATE events (:class:`OrderTracker`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal

import msgspec

from core.enums import OrderStatus
from core.events import OrderUpdate
from core.logs import get_logger
from core.types import Fill, Order
from state.manager import InvalidFillError, StateManager, check_fill
from state.model import ApplyResult, FillRecord
from state.wal import Wal

__all__ = ["FillApplied", "FillProcessor", "FillStats", "OrderTracker", "OrderTransition", "TrackedOrder"]

log = get_logger("state.fills")

# Rank of a status in the order state machine: an update may only move an order forward.
_RANK = {
    OrderStatus.NEW: 0,
    OrderStatus.PARTIALLY_FILLED: 1,
    OrderStatus.FILLED: 2,
    OrderStatus.CANCELED: 2,
    OrderStatus.REJECTED: 2,
    OrderStatus.EXPIRED: 2,
    OrderStatus.EXPIRED_IN_MATCH: 2,
}
CLOSED_ORDERS_KEPT = 10_000


class FillApplied(msgspec.Struct, frozen=True, kw_only=True):
    """Event: a fill was made durable (WAL ``seq``) and applied; ``result`` holds the position after it."""

    fill: Fill
    seq: int
    result: ApplyResult


class FillStats(msgspec.Struct, kw_only=True):
    """Counters of what the processor did with the fills it received."""

    received: int = 0
    applied: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    beyond_horizon: int = 0
    rejected: int = 0


class TrackedOrder(msgspec.Struct, frozen=True, kw_only=True):
    client_order_id: str
    symbol: str
    order_id: int
    status: OrderStatus
    executed_qty: Decimal
    orig_qty: Decimal
    update_ts: int


class OrderTransition(msgspec.Struct, frozen=True, kw_only=True):
    """Event: an order moved forward in its state machine (``old`` is ``None`` for the first sighting)."""

    order: TrackedOrder
    old: OrderStatus | None


class OrderTracker:
    """Status per client order id: NEW → PARTIALLY_FILLED → FILLED, or CANCELED / EXPIRED / REJECTED.

    Updates only move an order forward: a late NEW after a partial fill, or a partial fill reporting less
    executed quantity than already seen, is ignored (events can arrive out of order after a reconnect).
    Open orders are kept; closed ones only for the last ``closed_kept`` (to recognise late updates).
    """

    def __init__(self, closed_kept: int = CLOSED_ORDERS_KEPT) -> None:
        self._open: dict[str, TrackedOrder] = {}
        self._closed: OrderedDict[str, TrackedOrder] = OrderedDict()
        self._closed_kept = closed_kept

    def get(self, client_order_id: str) -> TrackedOrder | None:
        return self._open.get(client_order_id) or self._closed.get(client_order_id)

    def open_orders(self) -> tuple[TrackedOrder, ...]:
        return tuple(self._open.values())

    def on_order(self, order: Order, ts: int) -> OrderTransition | None:
        """Apply an order's reported state; the transition, or ``None`` if it was stale or unchanged."""
        cid = order.client_order_id
        old = self.get(cid)
        if old is not None and not _advances(old, order):
            return None
        new = TrackedOrder(
            client_order_id=cid,
            symbol=order.symbol,
            order_id=order.order_id,
            status=order.status,
            executed_qty=order.executed_qty,
            orig_qty=order.orig_qty,
            update_ts=order.update_time or ts,
        )
        if order.status.is_open:
            self._open[cid] = new
        else:
            self._open.pop(cid, None)
            self._closed[cid] = new
            self._closed.move_to_end(cid)
            while len(self._closed) > self._closed_kept:
                self._closed.popitem(last=False)
        return OrderTransition(order=new, old=old.status if old is not None else None)


def _advances(old: TrackedOrder, order: Order) -> bool:
    old_rank, new_rank = _RANK[old.status], _RANK[order.status]
    if old_rank == 2:
        return False  # closed is final
    if new_rank != old_rank:
        return new_rank > old_rank and order.executed_qty >= old.executed_qty
    return order.executed_qty > old.executed_qty


class FillProcessor:
    """De-duplicates fills, writes them to the WAL and applies them to the StateManager (see module doc)."""

    def __init__(
        self,
        state: StateManager,
        wal: Wal,
        *,
        on_event: Callable[[FillApplied], None] | None = None,
        on_order: Callable[[OrderTransition], None] | None = None,
    ) -> None:
        if state.wal is not None and state.wal is not wal:
            raise ValueError("the FillProcessor must write to the StateManager's own WAL")
        self._state = state
        self._wal = wal
        self._on_event = on_event
        self._on_order = on_order
        self._inflight: set[tuple[str, int]] = set()
        self.orders = OrderTracker()
        self.stats = FillStats()

    async def process(self, fill: Fill) -> bool:
        """Make ``fill`` durable and apply it; False if it was a duplicate, invalid or beyond the horizon.

        Raises :class:`state.wal.WalFailedError` if the WAL cannot write (the fill is then not applied).
        """
        self.stats.received += 1
        try:
            check_fill(fill)
        except InvalidFillError as exc:
            self.stats.rejected += 1
            log.error("fill rejected: %s", exc, symbol=fill.symbol)
            return False
        key = (fill.symbol, fill.trade_id)
        verdict = "duplicate" if key in self._inflight else self._state.classify_fill(fill)
        if verdict == "duplicate":
            self.stats.duplicates += 1
            log.info("duplicate fill %d ignored", fill.trade_id, symbol=fill.symbol)
            return False
        if verdict == "beyond_horizon":
            self.stats.beyond_horizon += 1
            log.error(
                "fill %d is older than every remembered trade id: not applied; reconcile the position",
                fill.trade_id,
                symbol=fill.symbol,
            )
            return False
        record = FillRecord(fill=fill)
        outcome: list[ApplyResult] = []

        def on_durable(seq: int) -> None:
            self._inflight.discard(key)
            result = self._state.apply_logged(seq, record)
            if result is None:
                raise RuntimeError(f"WAL seq {seq} is not after the state's ({self._state.wal_seq})")
            outcome.append(result)
            self._count(fill, seq, result)

        self._inflight.add(key)
        try:
            await self._wal.submit(record, on_durable)
        except Exception:
            # The WAL failed or the apply raised: the fill is not applied, so a retry must be possible. (A
            # cancelled caller keeps the key: the WAL still applies the record and then releases it.)
            self._inflight.discard(key)
            raise
        return outcome[0].applied

    async def process_order_update(self, update: OrderUpdate) -> bool:
        """Follow the order's status and process its fill, if it has one; True if a fill was applied."""
        applied = await self.process(update.fill) if update.fill is not None else False
        transition = self.orders.on_order(update.order, update.ts)
        if transition is not None and self._on_order is not None:
            try:
                self._on_order(transition)
            except Exception:
                log.exception("order listener failed", client_order_id=update.order.client_order_id)
        return applied

    def _count(self, fill: Fill, seq: int, result: ApplyResult) -> None:
        if not result.applied:
            self.stats.duplicates += 1
            return
        self.stats.applied += 1
        if result.out_of_order:
            self.stats.out_of_order += 1
        if self._on_event is not None:
            try:
                self._on_event(FillApplied(fill=fill, seq=seq, result=result))
            except Exception:
                log.exception("fill listener failed", symbol=fill.symbol)
