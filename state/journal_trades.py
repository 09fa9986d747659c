"""Round-trip trades rebuilt from fills: a pure function, no I/O.

Per symbol, fills in time order move a signed one-way position. A trade starts when the position leaves
zero and ends when it returns to zero. A fill that crosses zero (long → short in one execution) is split:
the part that flattens closes the old trade (with all of the fill's realized PnL, which Binance books
against the closed part) and the rest opens the next one; its commission is split pro rata, the two parts
summing to the original exactly.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from core.enums import Side
from core.types import ZERO
from state.journal_records import FundingPayment, JournalDecision, JournalFill, JournalTrade

__all__ = ["exit_reason", "reconstruct_trades"]

_EXIT_REASONS = {
    "TAKE_PROFIT_MARKET": "take_profit",
    "TAKE_PROFIT": "take_profit",
    "STOP_MARKET": "stop_loss",
    "STOP": "stop_loss",
    "TRAILING_STOP_MARKET": "trailing_stop",
    "LIQUIDATION": "liquidation",
    "MARKET": "market",
    "LIMIT": "limit",
}


def exit_reason(fill: JournalFill) -> str:
    """Why a position was reduced by ``fill``: its order's origin, or the venue's liquidation ids."""
    client_id = fill.fill.client_order_id
    if client_id.startswith("autoclose-"):
        return "liquidation"
    if client_id.startswith("adl_autoclose"):
        return "adl"
    return _EXIT_REASONS.get(fill.origin, fill.origin.lower() or "unknown")


@dataclass
class _Open:
    """A trade being built."""

    symbol: str
    side: Side
    opened_ts: int
    decision_id: str | None
    qty: Decimal = ZERO
    entry_notional: Decimal = ZERO
    exit_qty: Decimal = ZERO
    exit_notional: Decimal = ZERO
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    closed_ts: int = 0
    exit_reason: str = ""
    trade_ids: list[int] = field(default_factory=list)
    sessions: list[str] = field(default_factory=list)

    def touch(self, jf: JournalFill) -> None:
        if not self.trade_ids or self.trade_ids[-1] != jf.fill.trade_id:
            self.trade_ids.append(jf.fill.trade_id)
        if jf.session is not None and jf.session not in self.sessions:
            self.sessions.append(jf.session)

    def add_entry(self, jf: JournalFill, qty: Decimal, fee: Decimal, realized: Decimal) -> None:
        self.touch(jf)
        self.qty += qty
        self.entry_notional += jf.fill.price * qty
        self.fees += fee
        # An opening fill realizes nothing on the venue; keeping any it reports keeps totals whole.
        self.realized += realized

    def add_exit(self, jf: JournalFill, qty: Decimal, fee: Decimal) -> None:
        self.touch(jf)
        self.exit_qty += qty
        self.exit_notional += jf.fill.price * qty
        self.fees += fee
        self.realized += jf.fill.realized_pnl
        self.exit_reason = exit_reason(jf)


def _split_fee(commission: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """The share of ``commission`` for ``part`` of ``whole``, rounded no coarser than 1e-8."""
    exponent = commission.as_tuple().exponent
    places = min(exponent if isinstance(exponent, int) else -8, -8)
    return (commission * part / whole).quantize(Decimal(1).scaleb(places))


def _avg(notional: Decimal, qty: Decimal) -> Decimal:
    return notional / qty if qty else ZERO


def _finish(
    t: _Open, *, open_qty: Decimal, funding: Decimal, decisions: Mapping[str, JournalDecision]
) -> JournalTrade:
    is_open = open_qty != 0
    decision = decisions.get(t.decision_id) if t.decision_id else None
    reference = decision.decision.reference_price if decision else ZERO
    slippage = ZERO
    slippage_bps = 0.0
    if reference > 0 and t.qty > 0:
        slippage = t.side.sign * (t.entry_notional - reference * t.qty)
        slippage_bps = float(slippage / (reference * t.qty) * 10_000)
    return JournalTrade(
        symbol=t.symbol,
        side=t.side,
        status="open" if is_open else "closed",
        opened_ts=t.opened_ts,
        closed_ts=0 if is_open else t.closed_ts,
        holding_ms=0 if is_open else t.closed_ts - t.opened_ts,
        qty=t.qty,
        exit_qty=t.exit_qty,
        open_qty=abs(open_qty),
        entry_price=_avg(t.entry_notional, t.qty),
        exit_price=_avg(t.exit_notional, t.exit_qty),
        entry_notional=t.entry_notional,
        exit_notional=t.exit_notional,
        realized_pnl=t.realized,
        fees=t.fees,
        funding=funding,
        net_pnl=t.realized - t.fees + funding,
        decision_id=t.decision_id,
        decision=decision,
        reference_price=reference,
        slippage=slippage,
        slippage_bps=slippage_bps,
        exit_reason="" if is_open else t.exit_reason,
        trade_ids=tuple(t.trade_ids),
        sessions=tuple(t.sessions),
    )


def _round_trips(symbol: str, fills: list[JournalFill]) -> tuple[list[_Open], _Open | None, Decimal]:
    """The closed trades of ``symbol``, the one still open (if any) and the final signed position."""
    closed: list[_Open] = []
    position = ZERO
    current: _Open | None = None
    for jf in sorted(fills, key=lambda j: (j.fill.ts, j.fill.trade_id)):
        f = jf.fill
        if f.qty <= 0:
            continue
        signed = f.qty * f.side.sign
        if current is None:
            current = _Open(symbol=symbol, side=f.side, opened_ts=f.ts, decision_id=jf.decision_id)
        if position == 0 or (position > 0) == (signed > 0):
            current.add_entry(jf, f.qty, f.commission, f.realized_pnl)
            position += signed
            continue
        closing = min(f.qty, abs(position))
        opening = f.qty - closing
        close_fee = f.commission if opening == 0 else _split_fee(f.commission, closing, f.qty)
        current.add_exit(jf, closing, close_fee)
        position += signed
        if position * signed >= 0:  # flat, or crossed zero
            current.closed_ts = f.ts
            closed.append(current)
            current = None
        if opening > 0:
            current = _Open(symbol=symbol, side=f.side, opened_ts=f.ts, decision_id=jf.decision_id)
            current.add_entry(jf, opening, f.commission - close_fee, ZERO)
    return closed, current, position


def _attribute_funding(
    trades: list[_Open], still_open: _Open | None, payments: list[FundingPayment]
) -> list[Decimal]:
    """Funding per trade (``still_open`` last): each payment to the earliest trade open at its time."""
    owners = [*trades, *([still_open] if still_open else [])]
    opens = [t.opened_ts for t in owners]  # ascending: a symbol's trades never overlap
    totals = [ZERO] * len(owners)
    for p in payments:
        i = bisect.bisect_right(opens, p.ts) - 1
        # At a flip instant the trade that closed then is still "open": it, not its successor, is paid.
        while i > 0 and owners[i - 1].closed_ts >= p.ts:
            i -= 1
        if i < 0:
            continue
        owner = owners[i]
        if owner is still_open or owner.closed_ts >= p.ts:
            totals[i] += p.amount
    return totals


def reconstruct_trades(
    fills: Iterable[JournalFill],
    funding: Iterable[FundingPayment] = (),
    decisions: Mapping[str, JournalDecision] | None = None,
) -> tuple[JournalTrade, ...]:
    """Every round-trip trade in ``fills``, closed or still open, ordered by open time.

    A funding payment goes to the trade of its symbol that was open at its time; at the instant a fill
    flips the position it goes to the trade that closed. Payments while flat belong to no trade.
    """
    by_symbol: dict[str, list[JournalFill]] = {}
    for jf in fills:
        by_symbol.setdefault(jf.fill.symbol, []).append(jf)
    funding_by_symbol: dict[str, list[FundingPayment]] = {}
    for p in funding:
        funding_by_symbol.setdefault(p.symbol, []).append(p)
    known = decisions or {}
    trades: list[JournalTrade] = []
    for symbol, symbol_fills in by_symbol.items():
        closed, still_open, position = _round_trips(symbol, symbol_fills)
        paid = _attribute_funding(closed, still_open, funding_by_symbol.get(symbol, []))
        trades.extend(
            _finish(t, open_qty=ZERO, funding=paid[i], decisions=known) for i, t in enumerate(closed)
        )
        if still_open is not None:
            trades.append(_finish(still_open, open_qty=position, funding=paid[-1], decisions=known))
    trades.sort(key=lambda t: (t.opened_ts, t.symbol))
    return tuple(trades)
