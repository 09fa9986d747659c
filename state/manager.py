"""StateManager: the single source of truth for positions, PnL, fees, funding, brackets, halts and weights.

Every other component reads :meth:`StateManager.get_snapshot` (an immutable value, rebuilt lazily after a
change, so reads are free between updates) and changes state only through the methods below.

Durability: with a write-ahead log attached, every change is first appended to the WAL and only applied
once the record is on disk. The WAL writer applies durable records synchronously on the event loop, in
sequence order, before waking their writers, so the live state is always exactly "records 1..wal_seq
applied in order" — the same state a replay after a crash rebuilds. Fills reach the WAL through
:class:`state.fills.FillProcessor` (which de-duplicates first); the other changes are logged here.

Updates hold an ``asyncio.Lock`` and never await inside it, so an update is atomic with respect to every
other coroutine; a durable record applied by the WAL writer runs synchronously on the loop and is atomic
for the same reason.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import msgspec

from core.clock import Clock
from core.logs import get_logger
from core.types import ZERO, Fill
from state.model import (
    STATE_VERSION,
    ApplyResult,
    Bracket,
    BracketClosedRecord,
    BracketRecord,
    BracketStatus,
    EquityRecord,
    FillRecord,
    FundingRecord,
    Halt,
    HaltClearedRecord,
    HaltRecord,
    InvalidFillError,
    PositionRecord,
    PositionState,
    SessionRecord,
    StateChange,
    StateSnapshot,
    WalRecord,
    WeightsRecord,
    apply_to_position,
    check_fill,
    fill_fee_in_quote,
    is_forced_close,
    record_kind,
)

if TYPE_CHECKING:
    from state.wal import Wal

__all__ = ["DEDUP_WINDOW", "FillVerdict", "InvalidFillError", "StateManager", "check_fill"]

# Trade ids remembered per symbol for de-duplication (and saved in every snapshot).
DEDUP_WINDOW = 2000

FillVerdict = Literal["new", "duplicate", "beyond_horizon"]

log = get_logger("state")


class StateManager:
    """The only holder of trading state. See the module docstring for the update rules."""

    def __init__(
        self,
        clock: Clock,
        *,
        initial: StateSnapshot | None = None,
        wal: Wal | None = None,
        dedup_window: int = DEDUP_WINDOW,
    ) -> None:
        snap = initial if initial is not None else StateSnapshot.empty(clock.now_ms())
        if snap.version != STATE_VERSION:
            raise ValueError(f"state version {snap.version} is not {STATE_VERSION}")
        self._clock = clock
        self._wal = wal
        self._lock = asyncio.Lock()
        self._window = dedup_window
        self._subscribers: list[Callable[[StateChange], None]] = []
        self._ts = snap.ts
        self._seq = snap.wal_seq
        self._positions = dict(snap.positions)
        self._pnl_session = snap.realized_pnl_session
        self._pnl_total = snap.realized_pnl_total
        self._fees_total = snap.fees_total
        self._fees_session = snap.fees_session
        self._fees_other = dict(snap.fees_other)
        self._funding_total = snap.funding_total
        self._last_fill_ts = dict(snap.last_fill_ts)
        self._last_funding_ts = dict(snap.last_funding_ts)
        self._brackets = dict(snap.brackets)
        self._halts = {h.kind: h for h in snap.halts}
        self._weights = dict(snap.weights)
        self._peak_equity = snap.peak_equity
        self._session_start = snap.session_start_ts
        self._applied_fills = snap.applied_fills
        self._recent: dict[str, deque[int]] = {
            s: deque(ids[-dedup_window:], maxlen=dedup_window) for s, ids in snap.recent_trade_ids.items()
        }
        self._recent_set = {s: set(ids) for s, ids in self._recent.items()}
        self._recent_tuples = {s: tuple(ids) for s, ids in self._recent.items()}
        self._dedup_floor = dict(snap.dedup_floor)
        self._cached: StateSnapshot | None = None

    # -- reads -------------------------------------------------------------------------------------------

    def get_snapshot(self) -> StateSnapshot:
        """The whole state as an immutable value (atomic: no update is ever half-visible)."""
        if self._cached is None:
            self._cached = self._build()
        return self._cached

    @property
    def wal_seq(self) -> int:
        """Sequence number of the last WAL record applied."""
        return self._seq

    @property
    def wal(self) -> Wal | None:
        return self._wal

    def attach_wal(self, wal: Wal) -> None:
        """Log every later change to ``wal`` (recovery attaches it after replaying the log)."""
        self._wal = wal

    def classify_fill(self, fill: Fill) -> FillVerdict:
        """Whether a fill is new, already applied, or too old to tell (beyond the de-duplication window)."""
        if fill.trade_id in self._recent_set.get(fill.symbol, ()):
            return "duplicate"
        if fill.trade_id <= self._dedup_floor.get(fill.symbol, -1):
            return "beyond_horizon"
        return "new"

    def subscribe(self, callback: Callable[[StateChange], None]) -> None:
        """Call ``callback`` after every change (synchronously; it must not block or raise)."""
        self._subscribers.append(callback)

    # -- fills and funding -------------------------------------------------------------------------------

    async def apply_fill(self, fill: Fill) -> ApplyResult:
        """Apply one fill: logged to the WAL first when one is attached, like every other change.

        Live fills should come through :class:`state.fills.FillProcessor`, which also drops duplicates
        before they reach the WAL and follows the order state machine; this is the bare state update.
        """
        check_fill(fill)
        if self._wal is None:
            async with self._lock:
                return self._apply_fill(fill, 0)
        record = FillRecord(fill=fill)
        results: list[ApplyResult | None] = []
        await self._wal.append(record, on_durable=lambda seq: results.append(self.apply_logged(seq, record)))
        result = results[0]
        if result is None:
            raise RuntimeError(f"WAL seq is not after the state's ({self._seq})")
        return result

    def apply_logged(self, seq: int, record: WalRecord) -> ApplyResult | None:
        """Apply a record the WAL made durable as ``seq`` (live, in sequence order, or at replay).

        A record at or below the last applied sequence is skipped (replay over a snapshot is idempotent);
        returns the fill's result for a :class:`FillRecord`, else ``None``.
        """
        if seq <= self._seq:
            return None
        self._seq = seq  # first: subscribers notified during the apply see the new sequence
        self._cached = None  # even a no-op record (a duplicate) moves the snapshot's wal_seq
        return self._apply(record, seq)

    async def apply_funding(self, symbol: str, amount: Decimal, ts: int) -> None:
        """Book a funding fee (``amount`` signed: negative = paid). Times only move forward per symbol."""
        if not amount.is_finite():
            raise ValueError(f"funding amount for {symbol} is not finite")
        await self._commit(FundingRecord(symbol=symbol, amount=amount, ts=ts))

    # -- reconciliation, brackets, halts, weights, equity ---------------------------------------------------

    async def set_position(self, position: PositionState, *, source: str) -> None:
        """Adopt a position from elsewhere (reconciliation with the venue's truth)."""
        await self._commit(PositionRecord(position=position, source=source))

    async def put_bracket(self, bracket: Bracket) -> None:
        """Insert or update the symbol's bracket (a CLOSED one is removed, as :meth:`close_bracket`)."""
        await self._commit(BracketRecord(bracket=bracket))

    async def close_bracket(self, symbol: str, note: str) -> None:
        await self._commit(BracketClosedRecord(symbol=symbol, note=note, ts=self._clock.now_ms()))

    async def add_halt(self, halt: Halt) -> None:
        """Add a halt (replacing one of the same kind)."""
        await self._commit(HaltRecord(halt=halt))

    async def clear_halt(self, kind: str) -> None:
        await self._commit(HaltClearedRecord(kind=kind, ts=self._clock.now_ms()))

    async def set_weights(self, weights: dict[str, float]) -> None:
        """Replace the player's sensor weights."""
        for key, value in weights.items():
            if not math.isfinite(value):
                raise ValueError(f"weight of {key} is not finite")
        await self._commit(WeightsRecord(weights=dict(weights), ts=self._clock.now_ms()))

    async def observe_equity(self, equity: Decimal) -> None:
        """Track peak equity (for drawdown); only a new peak is a change worth logging."""
        if equity.is_finite() and equity > self._peak_equity:
            await self._commit(EquityRecord(peak_equity=equity, ts=self._clock.now_ms()))

    async def start_session(self, ts: int | None = None) -> None:
        """Start a new session: session PnL and fees count from zero again."""
        await self._commit(SessionRecord(start_ts=self._clock.now_ms() if ts is None else ts))

    # -- internals ------------------------------------------------------------------------------------------

    async def _commit(self, record: WalRecord) -> None:
        if self._wal is None:
            async with self._lock:
                self._apply(record, 0)
            return
        await self._wal.append(record, on_durable=lambda seq: self.apply_logged(seq, record))

    def _apply(self, record: WalRecord, seq: int) -> ApplyResult | None:
        symbol = ""
        match record:
            case FillRecord(fill=fill):
                return self._apply_fill(fill, seq)  # it notifies subscribers (or not, for a duplicate)
            case FundingRecord():
                symbol = record.symbol
                if not self._apply_funding(record):
                    return None
            case PositionRecord(position=pos, source=source):
                symbol = pos.symbol
                old = self._positions.get(symbol)
                log.warning(
                    "position adopted from %s: qty %s @ %s (was %s @ %s)",
                    source,
                    pos.qty,
                    pos.entry_price,
                    old.qty if old else ZERO,
                    old.entry_price if old else ZERO,
                    symbol=symbol,
                )
                self._positions[symbol] = pos
            case BracketRecord(bracket=bracket):
                symbol = bracket.symbol
                if bracket.status is BracketStatus.CLOSED:
                    self._brackets.pop(symbol, None)
                else:
                    self._brackets[symbol] = bracket
            case BracketClosedRecord():
                symbol = record.symbol
                self._brackets.pop(symbol, None)
            case HaltRecord(halt=halt):
                self._halts[halt.kind] = halt
            case HaltClearedRecord(kind=kind):
                self._halts.pop(kind, None)
            case WeightsRecord(weights=weights):
                self._weights = dict(weights)
            case EquityRecord(peak_equity=peak):
                self._peak_equity = max(self._peak_equity, peak)
            case SessionRecord(start_ts=start):
                self._session_start = start
                self._pnl_session = ZERO
                self._fees_session = ZERO
        self._changed(record_kind(record), symbol, seq)
        return None

    def _apply_fill(self, fill: Fill, seq: int) -> ApplyResult:
        symbol = fill.symbol
        pos = self._positions.get(symbol) or PositionState(symbol=symbol)
        verdict = self.classify_fill(fill)
        if verdict != "new":
            log.warning("fill %s not applied: %s", fill.trade_id, verdict, symbol=symbol)
            return ApplyResult(
                applied=False,
                position=pos,
                duplicate=verdict == "duplicate",
                beyond_horizon=verdict == "beyond_horizon",
                seq=seq,
            )
        new_pos, computed = apply_to_position(pos, fill.side, fill.qty, fill.price, fill.ts)
        if computed != fill.realized_pnl:
            # The venue's figure is what the wallet booked, so it is the one we add up. A liquidation's may
            # differ by design (a loss beyond the wallet goes to the insurance fund); any other difference
            # means our position had drifted from the venue's before this fill (reconciliation will tell).
            log.log(
                logging.INFO if is_forced_close(fill) else logging.WARNING,
                "fill %s: venue realized PnL %s, computed %s",
                fill.trade_id,
                fill.realized_pnl,
                computed,
                symbol=symbol,
            )
        fee_quote = fill_fee_in_quote(fill)
        fee = fill.commission if fee_quote else ZERO
        new_pos = msgspec.structs.replace(
            new_pos, realized_pnl=new_pos.realized_pnl + fill.realized_pnl, fees=new_pos.fees + fee
        )
        self._positions[symbol] = new_pos
        self._pnl_total += fill.realized_pnl
        self._pnl_session += fill.realized_pnl
        self._fees_total += fee
        self._fees_session += fee
        if not fee_quote and fill.commission:
            asset = fill.commission_asset or "?"
            self._fees_other[asset] = self._fees_other.get(asset, ZERO) + fill.commission
        last = self._last_fill_ts.get(symbol)
        out_of_order = last is not None and fill.ts < last
        if out_of_order:
            log.warning(
                "fill %s at %d is older than the last applied fill (%s): applied, watermark kept",
                fill.trade_id,
                fill.ts,
                last,
                symbol=symbol,
            )
        else:
            self._last_fill_ts[symbol] = fill.ts
        self._remember(symbol, fill.trade_id)
        self._applied_fills += 1
        self._changed("fill", symbol, seq)
        return ApplyResult(
            applied=True,
            position=new_pos,
            realized_pnl=fill.realized_pnl,
            computed_pnl=computed,
            out_of_order=out_of_order,
            seq=seq,
        )

    def _apply_funding(self, record: FundingRecord) -> bool:
        symbol = record.symbol
        last = self._last_funding_ts.get(symbol)
        if last is not None and record.ts <= last:
            log.warning("funding at %d ignored: not after the last one (%d)", record.ts, last, symbol=symbol)
            return False
        self._last_funding_ts[symbol] = record.ts
        pos = self._positions.get(symbol) or PositionState(symbol=symbol)
        self._positions[symbol] = msgspec.structs.replace(
            pos, funding=pos.funding + record.amount, updated_ts=max(pos.updated_ts, record.ts)
        )
        self._funding_total += record.amount
        return True

    def _remember(self, symbol: str, trade_id: int) -> None:
        ids = self._recent.get(symbol)
        if ids is None:
            ids = self._recent[symbol] = deque(maxlen=self._window)
            self._recent_set[symbol] = set()
        seen = self._recent_set[symbol]
        if len(ids) == self._window:
            evicted = ids[0]
            seen.discard(evicted)
            self._dedup_floor[symbol] = max(self._dedup_floor.get(symbol, -1), evicted)
        ids.append(trade_id)
        seen.add(trade_id)
        self._recent_tuples.pop(symbol, None)

    def _changed(self, kind: str, symbol: str, seq: int) -> None:
        self._ts = self._clock.now_ms()
        self._cached = None
        change = StateChange(kind=kind, symbol=symbol, ts=self._ts, seq=seq)
        for callback in self._subscribers:
            try:
                callback(change)
            except Exception:
                log.exception("state subscriber %r failed on %s", callback, kind)

    def _build(self) -> StateSnapshot:
        for symbol, ids in self._recent.items():
            if symbol not in self._recent_tuples:
                self._recent_tuples[symbol] = tuple(ids)
        return StateSnapshot(
            version=STATE_VERSION,
            ts=self._ts,
            positions=dict(self._positions),
            realized_pnl_session=self._pnl_session,
            realized_pnl_total=self._pnl_total,
            fees_total=self._fees_total,
            funding_total=self._funding_total,
            last_fill_ts=dict(self._last_fill_ts),
            brackets=dict(self._brackets),
            halts=tuple(self._halts.values()),
            weights=dict(self._weights),
            peak_equity=self._peak_equity,
            session_start_ts=self._session_start,
            applied_fills=self._applied_fills,
            wal_seq=self._seq,
            fees_session=self._fees_session,
            fees_other=dict(self._fees_other),
            last_funding_ts=dict(self._last_funding_ts),
            recent_trade_ids=dict(self._recent_tuples),
            dedup_floor=dict(self._dedup_floor),
        )
