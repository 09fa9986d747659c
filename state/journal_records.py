"""What the journal's reads return: frozen msgspec Structs, exact Decimals, times in ms.

These are the report's inputs; ``msgspec.json.encode`` turns any of them into JSON (Decimals as strings).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.decisions import Decision, RiskVerdict
from core.enums import Side
from core.types import ZERO, Fill

__all__ = [
    "EquitySample",
    "FundingPayment",
    "JournalAlert",
    "JournalAlgoOrder",
    "JournalDecision",
    "JournalFill",
    "JournalHalt",
    "JournalOrder",
    "JournalSession",
    "JournalTotals",
    "JournalTrade",
    "PositionSample",
]


class JournalSession(msgspec.Struct, frozen=True, kw_only=True):
    """One run of Casino; ``ended_ts`` is 0 while it runs (or if it crashed before ending)."""

    session_id: str
    started_ts: int
    ended_ts: int
    venue: str
    account: str
    symbols: tuple[str, ...]
    config: dict[str, object]
    status: str


class JournalDecision(msgspec.Struct, frozen=True, kw_only=True):
    """A decision with its reasons, and what the RiskEngine answered."""

    decision: Decision
    verdict: RiskVerdict
    session: str | None


class JournalFill(msgspec.Struct, frozen=True, kw_only=True):
    """A fill and what the journal knows about it.

    ``decision_id`` is the one recorded with the fill, else the one of the order (or of the algo order that
    placed the order) it executed. ``origin`` is the algo order's type when an algo order placed the order
    (``TAKE_PROFIT_MARKET``, ``STOP_MARKET``...), else the order's type, else "" (order never journaled).
    """

    fill: Fill
    session: str | None
    decision_id: str | None
    origin: str


class JournalOrder(msgspec.Struct, frozen=True, kw_only=True):
    """The latest journaled state of an order."""

    client_order_id: str
    order_id: int
    session: str | None
    symbol: str
    side: Side
    type: str
    orig_type: str
    time_in_force: str
    qty: Decimal
    price: Decimal
    stop_price: Decimal
    executed_qty: Decimal
    avg_price: Decimal
    status: str
    reduce_only: bool
    close_position: bool
    decision_id: str | None
    ts: int
    update_ts: int


class JournalAlgoOrder(msgspec.Struct, frozen=True, kw_only=True):
    """The latest journaled state of a conditional (algo) order; ``reason`` is the venue's reject reason."""

    client_algo_id: str
    algo_id: int
    session: str | None
    symbol: str
    side: Side
    type: str
    qty: Decimal
    trigger_price: Decimal
    status: str
    close_position: bool
    reduce_only: bool
    actual_order_id: str
    decision_id: str | None
    ts: int
    update_ts: int
    reason: str


class PositionSample(msgspec.Struct, frozen=True, kw_only=True):
    session: str | None
    symbol: str
    qty: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    ts: int


class EquitySample(msgspec.Struct, frozen=True, kw_only=True):
    session: str | None
    ts: int
    wallet: Decimal
    unrealized: Decimal
    equity: Decimal


class FundingPayment(msgspec.Struct, frozen=True, kw_only=True):
    """A funding fee: positive received, negative paid."""

    session: str | None
    symbol: str
    amount: Decimal
    asset: str
    ts: int


class JournalAlert(msgspec.Struct, frozen=True, kw_only=True):
    session: str | None
    ts: int
    level: str
    component: str
    symbol: str
    message: str


class JournalHalt(msgspec.Struct, frozen=True, kw_only=True):
    """A trading halt; ``until_ts`` 0 means until cleared."""

    session: str | None
    kind: str
    reason: str
    since_ts: int
    until_ts: int


class JournalTotals(msgspec.Struct, frozen=True, kw_only=True):
    """What the fills and funding of a session did to the wallet: ``net_pnl`` is its exact change.

    ``fees`` are positive when paid; ``net_pnl = realized_pnl - fees + funding``.
    """

    fills: int
    volume: Decimal  # sum of |quote qty|
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal


class JournalTrade(msgspec.Struct, frozen=True, kw_only=True):
    """A round trip on one symbol: from flat, through any adds and partial exits, back to flat.

    ``side`` is the entry side (BUY = long). Prices are volume-weighted averages; ``realized_pnl`` is the
    exchange's realized PnL of the exits (what the wallet received, before fees), ``fees`` the commissions
    (positive = paid), ``funding`` the payments made while the trade was open. ``slippage`` is the cost, in
    quote, of entering at ``entry_price`` instead of the decision's reference price (positive = worse);
    0 without a decision. An open trade has ``closed_ts`` and ``holding_ms`` 0 and ``open_qty`` > 0.
    """

    symbol: str
    side: Side
    status: str  # "open" | "closed"
    opened_ts: int
    closed_ts: int
    holding_ms: int
    qty: Decimal  # everything the trade opened (adds included)
    exit_qty: Decimal  # everything it closed so far
    open_qty: Decimal  # qty - exit_qty
    entry_price: Decimal
    exit_price: Decimal
    entry_notional: Decimal
    exit_notional: Decimal
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal
    decision_id: str | None
    decision: JournalDecision | None
    reference_price: Decimal = ZERO
    slippage: Decimal = ZERO
    slippage_bps: float = 0.0
    exit_reason: str = ""
    trade_ids: tuple[int, ...] = ()
    sessions: tuple[str, ...] = ()
