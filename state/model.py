"""The state model: immutable values held by :class:`state.manager.StateManager` (contract in docs/STATE.md).

Every value here is a frozen ``msgspec.Struct``. A :class:`StateSnapshot` is built by the manager after an
update and handed out as is; the dicts it holds are its own copies, so a reader cannot change the manager's
state through them (they must still be treated as read-only: other readers share the same snapshot).

Position math (:func:`apply_to_position`) is the venue's: one-way mode, signed quantity, volume-weighted
average entry price kept to 10 decimals, realized PnL of the reducing part booked to 8 decimals (half up),
and a flip re-opens the remainder at the fill price. The sandbox exchange core does the same sums, which the
tests check fill by fill.
"""

from __future__ import annotations

import enum
from decimal import ROUND_HALF_UP, Decimal

import msgspec

from core.types import ZERO, Fill, Side

__all__ = [
    "ENTRY_QUANT",
    "MONEY_QUANT",
    "STATE_VERSION",
    "ApplyResult",
    "Bracket",
    "BracketClosedRecord",
    "BracketRecord",
    "BracketStatus",
    "EquityRecord",
    "FillRecord",
    "FundingRecord",
    "Halt",
    "HaltClearedRecord",
    "HaltRecord",
    "InvalidFillError",
    "PositionRecord",
    "PositionState",
    "SessionRecord",
    "StateChange",
    "StateSnapshot",
    "WalRecord",
    "WeightsRecord",
    "apply_to_position",
    "check_fill",
    "fill_fee_in_quote",
    "is_forced_close",
    "money",
    "record_kind",
]

# Format version of StateSnapshot; a snapshot file with another version is not loaded.
STATE_VERSION = 1
ENTRY_QUANT = Decimal("0.0000000001")
MONEY_QUANT = Decimal("0.00000001")


def money(x: Decimal) -> Decimal:
    """An amount of the settlement asset rounded as Binance books it: 8 decimals, half up."""
    q = x.quantize(MONEY_QUANT, rounding=ROUND_HALF_UP)
    return q if q != 0 else ZERO


class PositionState(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol's one-way position and its running totals.

    ``qty`` is signed (long > 0, short < 0); ``entry_price`` is 0 when flat. ``realized_pnl``, ``fees``
    and ``funding`` are the symbol's totals since the state directory was created (they survive flat
    periods). ``opened_ts`` is when the current non-flat position opened (a flip re-opens it; 0 when flat),
    ``updated_ts`` the time of the last change.
    """

    symbol: str
    qty: Decimal = ZERO
    entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    funding: Decimal = ZERO
    opened_ts: int = 0
    updated_ts: int = 0

    @property
    def is_flat(self) -> bool:
        return self.qty == 0

    @property
    def side(self) -> Side | None:
        """BUY for a long, SELL for a short, ``None`` when flat."""
        if self.qty == 0:
            return None
        return Side.BUY if self.qty > 0 else Side.SELL


class BracketStatus(enum.StrEnum):
    """Where an entry and its take-profit/stop-loss pair stand."""

    PENDING_ENTRY = "PENDING_ENTRY"  # entry order sent, not (fully) filled yet
    PROTECTING = "PROTECTING"  # entry filled, TP/SL being placed
    PROTECTED = "PROTECTED"  # TP and SL working on the venue
    CLOSING = "CLOSING"  # one leg fired or an exit was sent; the sibling is being cancelled
    CLOSED = "CLOSED"


class Bracket(msgspec.Struct, frozen=True, kw_only=True):
    """An entry with its take-profit and stop-loss (one per symbol while open)."""

    decision_id: str
    symbol: str
    side: Side
    qty: Decimal
    entry_client_id: str
    tp_client_id: str
    sl_client_id: str
    tp_price: Decimal
    sl_price: Decimal
    status: BracketStatus
    opened_ts: int
    updated_ts: int
    entry_order_id: int = 0
    tp_algo_id: int = 0
    sl_algo_id: int = 0
    filled_qty: Decimal = ZERO
    note: str = ""


class Halt(msgspec.Struct, frozen=True, kw_only=True):
    """A reason to stop opening positions: ``kind`` is "daily_loss", "drawdown", "ban", "manual", ...

    ``until_ts`` 0 means until cleared; otherwise the halt lapses at that time (exchange clock, ms).
    """

    kind: str
    reason: str
    since_ts: int
    until_ts: int = 0

    def active(self, now_ms: int) -> bool:
        return self.until_ts == 0 or now_ms < self.until_ts


class StateSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the manager holds, at one instant (also the payload of a snapshot file).

    ``wal_seq`` is the sequence number of the last write-ahead-log record applied: the snapshot is exactly
    the result of applying records 1..``wal_seq``. ``recent_trade_ids`` and ``dedup_floor`` are the fill
    de-duplication memory (the last trade ids applied per symbol, and per symbol the highest id that fell
    out of that window). ``fees_other`` holds commissions paid in an asset other than the symbol's quote
    asset (BNB fee discount), which ``fees_total`` cannot add up.
    """

    version: int
    ts: int
    positions: dict[str, PositionState]
    realized_pnl_session: Decimal
    realized_pnl_total: Decimal
    fees_total: Decimal
    funding_total: Decimal
    last_fill_ts: dict[str, int]
    brackets: dict[str, Bracket]
    halts: tuple[Halt, ...]
    weights: dict[str, float]
    peak_equity: Decimal
    session_start_ts: int
    applied_fills: int
    wal_seq: int = 0
    fees_session: Decimal = ZERO
    fees_other: dict[str, Decimal] = msgspec.field(default_factory=dict)
    last_funding_ts: dict[str, int] = msgspec.field(default_factory=dict)
    recent_trade_ids: dict[str, tuple[int, ...]] = msgspec.field(default_factory=dict)
    dedup_floor: dict[str, int] = msgspec.field(default_factory=dict)

    def position(self, symbol: str) -> PositionState:
        """The symbol's position (a flat one if it never traded)."""
        return self.positions.get(symbol) or PositionState(symbol=symbol)

    def active_halts(self, now_ms: int) -> tuple[Halt, ...]:
        return tuple(h for h in self.halts if h.active(now_ms))

    @classmethod
    def empty(cls, ts: int) -> StateSnapshot:
        """The state of a brand-new state directory."""
        return cls(
            version=STATE_VERSION,
            ts=ts,
            positions={},
            realized_pnl_session=ZERO,
            realized_pnl_total=ZERO,
            fees_total=ZERO,
            funding_total=ZERO,
            last_fill_ts={},
            brackets={},
            halts=(),
            weights={},
            peak_equity=ZERO,
            session_start_ts=ts,
            applied_fills=0,
        )


class ApplyResult(msgspec.Struct, frozen=True, kw_only=True):
    """What applying one fill did.

    ``applied`` is False for a duplicate (``duplicate``) or a fill beyond the de-duplication horizon
    (``beyond_horizon``: older than every trade id still remembered, so it cannot be told from a
    duplicate; reconciliation with the venue settles it). ``out_of_order`` marks a new fill older than the
    symbol's last applied fill: it *is* applied (the position must equal the venue's) but the last fill
    time does not move back. ``realized_pnl`` is the venue's figure from the fill, ``computed_pnl`` ours.
    """

    applied: bool
    position: PositionState
    realized_pnl: Decimal = ZERO
    computed_pnl: Decimal = ZERO
    duplicate: bool = False
    beyond_horizon: bool = False
    out_of_order: bool = False
    seq: int = 0


class StateChange(msgspec.Struct, frozen=True, kw_only=True):
    """A notification to subscribers: what changed (``kind``), for which symbol ("" if none), when."""

    kind: (
        str  # fill, funding, position, bracket, bracket_closed, halt, halt_cleared, weights, equity, session
    )
    symbol: str
    ts: int
    seq: int = 0


class InvalidFillError(ValueError):
    """A fill that cannot be applied (non-positive quantity or price, missing symbol): reject and log it."""


def check_fill(fill: Fill) -> None:
    """Raise :class:`InvalidFillError` unless the fill's numbers are usable."""
    if not fill.symbol:
        raise InvalidFillError(f"fill {fill.trade_id} has no symbol")
    for name, value in (("qty", fill.qty), ("price", fill.price)):
        if not value.is_finite() or value <= 0:
            raise InvalidFillError(f"fill {fill.symbol}/{fill.trade_id}: {name} must be > 0, got {value}")
    for name, value in (("commission", fill.commission), ("realized_pnl", fill.realized_pnl)):
        if not value.is_finite():
            raise InvalidFillError(f"fill {fill.symbol}/{fill.trade_id}: {name} is not finite")


def is_forced_close(fill: Fill) -> bool:
    """A fill of the venue's own order: liquidation ("autoclose-..."), ADL ("adl_autoclose") or delisting
    settlement ("settlement_autoclose-..."), as Binance names their client order ids."""
    cid = fill.client_order_id
    return cid.startswith(("autoclose-", "settlement_autoclose-")) or cid == "adl_autoclose"


def fill_fee_in_quote(fill: Fill) -> bool:
    """Whether the fill's commission is in the symbol's quote asset (USDT for BTCUSDT), so it adds to PnL."""
    return bool(fill.commission_asset) and fill.symbol.endswith(fill.commission_asset)


def apply_to_position(
    pos: PositionState, side: Side, qty: Decimal, price: Decimal, ts: int
) -> tuple[PositionState, Decimal]:
    """The position after a fill of ``qty`` at ``price`` on ``side``, and the realized PnL it books.

    Only quantity, entry price and the open/update times change here; the caller adds PnL, fees and funding.
    """
    signed = qty * side.sign
    old = pos.qty
    if old == 0 or (old > 0) == (signed > 0):
        new = old + signed
        entry = ((abs(old) * pos.entry_price + qty * price) / abs(new)).quantize(ENTRY_QUANT)
        opened = ts if old == 0 else pos.opened_ts
        return msgspec.structs.replace(pos, qty=new, entry_price=entry, opened_ts=opened, updated_ts=ts), ZERO
    closed = min(qty, abs(old))
    direction = 1 if old > 0 else -1
    pnl = money((price - pos.entry_price) * closed * direction)
    new = old + signed
    if new == 0:
        entry, opened = ZERO, 0
    elif (new > 0) != (old > 0):
        entry, opened = price, ts  # flipped: the remainder opens a new position at the fill price
    else:
        entry, opened = pos.entry_price, pos.opened_ts
    return msgspec.structs.replace(pos, qty=new, entry_price=entry, opened_ts=opened, updated_ts=ts), pnl


# --- write-ahead-log records: one per state change, replayed in order at recovery ------------------------


class FillRecord(msgspec.Struct, frozen=True, kw_only=True, tag="fill", tag_field="k"):
    fill: Fill


class FundingRecord(msgspec.Struct, frozen=True, kw_only=True, tag="funding", tag_field="k"):
    symbol: str
    amount: Decimal
    ts: int


class PositionRecord(msgspec.Struct, frozen=True, kw_only=True, tag="position", tag_field="k"):
    position: PositionState
    source: str


class BracketRecord(msgspec.Struct, frozen=True, kw_only=True, tag="bracket", tag_field="k"):
    bracket: Bracket


class BracketClosedRecord(msgspec.Struct, frozen=True, kw_only=True, tag="bracket_closed", tag_field="k"):
    symbol: str
    note: str
    ts: int


class HaltRecord(msgspec.Struct, frozen=True, kw_only=True, tag="halt", tag_field="k"):
    halt: Halt


class HaltClearedRecord(msgspec.Struct, frozen=True, kw_only=True, tag="halt_cleared", tag_field="k"):
    kind: str
    ts: int


class WeightsRecord(msgspec.Struct, frozen=True, kw_only=True, tag="weights", tag_field="k"):
    weights: dict[str, float]
    ts: int


class EquityRecord(msgspec.Struct, frozen=True, kw_only=True, tag="equity", tag_field="k"):
    peak_equity: Decimal
    ts: int


class SessionRecord(msgspec.Struct, frozen=True, kw_only=True, tag="session", tag_field="k"):
    start_ts: int


WalRecord = (
    FillRecord
    | FundingRecord
    | PositionRecord
    | BracketRecord
    | BracketClosedRecord
    | HaltRecord
    | HaltClearedRecord
    | WeightsRecord
    | EquityRecord
    | SessionRecord
)


def record_kind(record: WalRecord) -> str:
    """The record's tag ("fill", "funding", ...), which is also the StateChange kind."""
    return str(type(record).__struct_config__.tag)
