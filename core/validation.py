"""Market-data validation: what may reach the candle aggregator and the sensors.

Pure (no I/O, no clock of its own: the caller passes the session time at which an event was *received*, so
time spent in our own queue never makes an event stale). A rejected event is counted per (reason, symbol)
and logged with its symbol; the log is rate-limited per (reason, symbol): the first occurrence, then one
line per ``log_every`` more (a broken feed rejects every event, and logging each would bury everything else).

Rules, per symbol:

- ``not_finite``: a NaN or infinite price, quantity or rate;
- ``non_positive``: a price or quantity that is zero or negative (a funding rate may be either sign);
- ``out_of_order``: a trade older than the last accepted trade, or whose aggTrade id is not above the last
  accepted one (a duplicate or a replay); a mark price older than the last accepted one;
- ``stale``: received more than ``stale_after_s`` (session clock) after its own timestamp;
- other reasons decided elsewhere (e.g. ``late``: a trade for a candle already closed) are counted through
  :meth:`Validator.reject` so every rejection is in one place.

Only accepted events move the per-symbol "last accepted" marks, so one bad event cannot shift the window.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from enum import StrEnum

from core.logs import ContextLogger, get_logger
from core.types import MarkPrice, Trade

__all__ = ["Reason", "Validator"]


class Reason(StrEnum):
    """Why an event was rejected."""

    NOT_FINITE = "not_finite"
    NON_POSITIVE = "non_positive"
    OUT_OF_ORDER = "out_of_order"
    STALE = "stale"
    LATE = "late"


def _finite(*values: Decimal) -> bool:
    return all(v.is_finite() for v in values)


class Validator:
    """Checks trades and mark prices; counts and logs every rejection (see the module docstring)."""

    def __init__(
        self, stale_after_s: float, *, log_every: int = 1000, logger: ContextLogger | None = None
    ) -> None:
        if stale_after_s <= 0:
            raise ValueError(f"stale_after_s must be positive, got {stale_after_s}")
        if log_every < 1:
            raise ValueError(f"log_every must be at least 1, got {log_every}")
        self._stale_ms = stale_after_s * 1000.0
        self._log_every = log_every
        self._log = logger or get_logger("validation")
        self._counts: Counter[tuple[str, str]] = Counter()
        self._last_trade: dict[str, tuple[int, int]] = {}  # symbol -> (ts, aggTrade id)
        self._last_mark: dict[str, int] = {}
        self.accepted = 0

    # --- checks ----------------------------------------------------------------------------------------

    def check_trade(self, trade: Trade, received_ms: int | None) -> Reason | None:
        """None if the trade is accepted (and becomes the symbol's last), else the counted reason.

        ``received_ms``: session time the trade arrived; None skips the staleness rule (history replayed
        on purpose, e.g. the trades of the current minute fetched at start).
        """
        reason = self._trade_reason(trade, received_ms)
        if reason is not None:
            self._count(
                reason, trade.symbol, f"trade {trade.trade_id} at {trade.ts}: {trade.price} x {trade.qty}"
            )
            return reason
        self._last_trade[trade.symbol] = (trade.ts, trade.trade_id)
        self.accepted += 1
        return None

    def check_mark(self, mark: MarkPrice, received_ms: int | None) -> Reason | None:
        """None if the mark price is accepted, else the counted reason (``received_ms`` as for trades)."""
        reason = self._mark_reason(mark, received_ms)
        if reason is not None:
            self._count(reason, mark.symbol, f"mark price at {mark.ts}: {mark.mark_price}")
            return reason
        self._last_mark[mark.symbol] = mark.ts
        self.accepted += 1
        return None

    def reject(self, reason: Reason, symbol: str, detail: str) -> None:
        """Count and log a rejection decided elsewhere (``detail`` says which event)."""
        self._count(reason, symbol, detail)

    def last_trade(self, symbol: str) -> tuple[int, int] | None:
        """(time, aggTrade id) of the last accepted trade of ``symbol``."""
        return self._last_trade.get(symbol)

    # --- counters --------------------------------------------------------------------------------------

    @property
    def rejected(self) -> int:
        """Every rejection so far."""
        return sum(self._counts.values())

    def counts(self) -> dict[tuple[str, str], int]:
        """Rejections per (reason, symbol): the metrics' labels."""
        return dict(self._counts)

    def by_reason(self) -> dict[str, int]:
        """Rejections per reason, over all symbols."""
        totals: Counter[str] = Counter()
        for (reason, _), n in self._counts.items():
            totals[reason] += n
        return dict(totals)

    # --- internals -------------------------------------------------------------------------------------

    def _stale(self, ts: int, received_ms: int | None) -> bool:
        return received_ms is not None and received_ms - ts > self._stale_ms

    def _trade_reason(self, trade: Trade, received_ms: int | None) -> Reason | None:
        if not _finite(trade.price, trade.qty):
            return Reason.NOT_FINITE
        if trade.price <= 0 or trade.qty <= 0:
            return Reason.NON_POSITIVE
        last = self._last_trade.get(trade.symbol)
        if last is not None and (trade.ts < last[0] or trade.trade_id <= last[1]):
            return Reason.OUT_OF_ORDER
        if self._stale(trade.ts, received_ms):
            return Reason.STALE
        return None

    def _mark_reason(self, mark: MarkPrice, received_ms: int | None) -> Reason | None:
        if not _finite(mark.mark_price, mark.index_price, mark.funding_rate, mark.estimated_settle_price):
            return Reason.NOT_FINITE
        if mark.mark_price <= 0 or mark.index_price <= 0:
            return Reason.NON_POSITIVE
        last = self._last_mark.get(mark.symbol)
        if last is not None and mark.ts < last:
            return Reason.OUT_OF_ORDER
        if self._stale(mark.ts, received_ms):
            return Reason.STALE
        return None

    def _count(self, reason: Reason, symbol: str, detail: str) -> None:
        key = (reason.value, symbol)
        self._counts[key] += 1
        n = self._counts[key]
        if n == 1 or n % self._log_every == 0:
            self._log.warning(
                "rejected %s event (%d so far for this symbol): %s", reason.value, n, detail, symbol=symbol
            )
