"""The crash test's invariant checker (pure; no tests here): DESIGN.md's invariants 1-5 over one state and
one exchange account, as a list of :class:`Violation`.

1. every open position has a working stop (an open stop on the closing side covering the whole position);
2. no client order id or client algo id was used twice on the exchange (an order sent twice);
3. every exchange fill applied exactly once: the same trade ids, the same count, realized PnL equal to the
   trades' and to the income ledger's, fees equal to the commissions, the last fill time the latest trade's;
4. no orphan: no algo order open on a flat symbol (unless its bracket waits for a working entry), no order
   of ours outside the symbol's open bracket;
5. the state's positions (quantity and entry price) are the exchange's.

The facts come from :func:`tests.crash_support.fetch_facts`, the state from
:func:`tests.crash_support.read_state`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.types import ZERO
from exchanges.binance.client_ids import parse_client_id
from state.manager import DEDUP_WINDOW
from state.model import BracketStatus, StateSnapshot

D = Decimal
STOPS = frozenset({"STOP", "STOP_MARKET", "TRAILING_STOP_MARKET"})


# --- what the exchange holds --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trade:
    trade_id: int
    ts: int
    realized_pnl: Decimal
    commission: Decimal


@dataclass(frozen=True)
class OpenOrder:
    symbol: str
    client_id: str
    order_id: int


@dataclass(frozen=True)
class OpenAlgo:
    symbol: str
    client_id: str
    side: str
    order_type: str
    close_position: bool
    quantity: Decimal


@dataclass(frozen=True)
class ExchangeFacts:
    """The account on the exchange: positions ``symbol -> (qty, entry)`` (non-flat only), open orders and
    algo orders, every client id ever used per symbol, every trade, and the income ledger's sums."""

    positions: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    open_orders: tuple[OpenOrder, ...] = ()
    open_algos: tuple[OpenAlgo, ...] = ()
    order_ids: dict[str, list[str]] = field(default_factory=dict)
    algo_ids: dict[str, list[str]] = field(default_factory=dict)
    trades: dict[str, list[Trade]] = field(default_factory=dict)
    income_realized: Decimal = ZERO
    income_commission: Decimal = ZERO

    @property
    def trade_count(self) -> int:
        return sum(len(t) for t in self.trades.values())


# --- the invariants -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    invariant: int  # DESIGN.md's number
    symbol: str
    detail: str

    def __str__(self) -> str:
        return f"invariant {self.invariant} [{self.symbol}]: {self.detail}"


def _body(client_id: str, prefix: str) -> str | None:
    parts = parse_client_id(client_id)
    return parts.body if parts is not None and parts.prefix == prefix else None


def _protected(qty: Decimal, algos: Sequence[OpenAlgo]) -> bool:
    closing = "SELL" if qty > 0 else "BUY"
    return any(
        a.order_type in STOPS and a.side == closing and (a.close_position or a.quantity >= abs(qty))
        for a in algos
    )


def check_invariants(
    state: StateSnapshot | None,
    facts: ExchangeFacts,
    *,
    prefix: str = "cas",
    entry_tolerance: str = "0.000001",
) -> list[Violation]:
    """DESIGN.md's invariants 1-5 for one state and one exchange account (see the module docstring)."""
    st = state if state is not None else StateSnapshot.empty(0)
    out: list[Violation] = []
    symbols = sorted(set(facts.positions) | set(facts.trades) | {s for s, p in st.positions.items() if p.qty})
    for s in symbols:
        qty, entry = facts.positions.get(s, (D(0), D(0)))
        algos = [a for a in facts.open_algos if a.symbol == s]
        # 1: every open position has a working stop.
        if qty and not _protected(qty, algos):
            out.append(Violation(1, s, f"position {qty} has no working stop"))
        # 5: the state's position is the exchange's.
        mine = st.position(s)
        if mine.qty != qty:
            out.append(Violation(5, s, f"state position {mine.qty}, exchange {qty}"))
        elif qty and abs(mine.entry_price - entry) > entry * D(entry_tolerance):
            out.append(Violation(5, s, f"state entry {mine.entry_price}, exchange {entry}"))
    # 2: no client id used twice (an order sent twice), regular or algo.
    for kind, ids in (("order", facts.order_ids), ("algo order", facts.algo_ids)):
        for s, used in ids.items():
            for cid, n in Counter(i for i in used if i).items():
                if n > 1:
                    out.append(Violation(2, s, f"{kind} client id {cid} used {n} times"))
    out.extend(_fills_once(st, facts))
    out.extend(_orphans(st, facts, prefix))
    return out


def _fills_once(st: StateSnapshot, facts: ExchangeFacts) -> list[Violation]:
    """3: every exchange fill applied once and nothing else: trade ids, counts, PnL and fee sums."""
    out: list[Violation] = []
    for s, trades in facts.trades.items():
        ids = {t.trade_id for t in trades}
        known = set(st.recent_trade_ids.get(s, ()))
        if len(trades) <= DEDUP_WINDOW:  # beyond it the state remembers only the latest ids
            missing, extra = sorted(ids - known), sorted(known - ids)
            if missing:
                out.append(Violation(3, s, f"{len(missing)} exchange fill(s) not applied: {missing[:5]}"))
            if extra:
                out.append(
                    Violation(3, s, f"{len(extra)} applied fill(s) the exchange does not have: {extra[:5]}")
                )
        if trades and st.last_fill_ts.get(s) != max(t.ts for t in trades):
            out.append(
                Violation(
                    3, s, f"last fill time {st.last_fill_ts.get(s)}, exchange {max(t.ts for t in trades)}"
                )
            )
    if st.applied_fills != facts.trade_count:
        out.append(
            Violation(3, "*", f"{st.applied_fills} fills applied, the exchange has {facts.trade_count}")
        )
    trade_pnl = sum((t.realized_pnl for ts in facts.trades.values() for t in ts), D(0))
    if not (st.realized_pnl_total == trade_pnl == facts.income_realized):
        out.append(
            Violation(
                3,
                "*",
                f"realized PnL: state {st.realized_pnl_total}, trades {trade_pnl}, "
                f"income {facts.income_realized}",
            )
        )
    fees = sum((t.commission for ts in facts.trades.values() for t in ts), D(0))
    if not (st.fees_total == fees == -facts.income_commission):
        out.append(
            Violation(3, "*", f"fees: state {st.fees_total}, trades {fees}, income {facts.income_commission}")
        )
    return out


def _orphans(st: StateSnapshot, facts: ExchangeFacts, prefix: str) -> list[Violation]:
    """4: no TP/SL without a position, no order of ours outside an open bracket."""
    out: list[Violation] = []
    for a in facts.open_algos:
        if a.symbol in facts.positions:
            continue
        b = st.brackets.get(a.symbol)
        waiting = (
            b is not None
            and b.status is BracketStatus.PENDING_ENTRY
            and any(o.client_id == b.entry_client_id for o in facts.open_orders)
        )
        if not waiting:
            out.append(Violation(4, a.symbol, f"{a.order_type} {a.client_id} open without a position"))
    for o in facts.open_orders:
        body = _body(o.client_id, prefix)
        if body is None:
            continue
        b = st.brackets.get(o.symbol)
        if b is None or body != _body(b.entry_client_id, prefix):
            out.append(Violation(4, o.symbol, f"order {o.client_id} belongs to no open bracket"))
    return out


def converge(
    probe: Callable[[], list[Violation]], *, timeout: float, interval: float = 0.3
) -> tuple[list[Violation], float]:
    """Call ``probe`` until it finds no violation or ``timeout`` wall seconds pass.

    Answers the last violations found (empty once converged) and the seconds it took.
    """
    start = time.monotonic()
    while True:
        found = probe()
        elapsed = time.monotonic() - start
        if not found or elapsed > timeout:
            return found, elapsed
        time.sleep(interval)
