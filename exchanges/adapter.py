"""The exchange-agnostic boundary: what the engine may ask of any venue, in domain types only.

An :class:`ExchangeAdapter` hides one venue's wire protocol. Everything that crosses it is a
:mod:`core.types` / :mod:`core.events` value or one of the small Structs below; no venue JSON, no venue
enum spellings beyond the domain's own. Failures surface as :class:`exchanges.errors.VenueError`
subclasses, named by the action they require (retry, back off, reject, unknown outcome, fatal).

Contracts every implementation keeps:

- prices and quantities are exact ``Decimal``s, sent as given (the caller has already rounded them to the
  instrument's filters with :mod:`core.precision`);
- an order placement carries a client id (``OrderRequest.client_order_id`` /
  ``AlgoOrderRequest.client_algo_id``), deterministic per decision; a placement whose outcome is unknown is
  resolved by querying that id before anything else is sent, so an order is never placed twice;
- times are the venue's, in ms since the epoch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Protocol

import msgspec

from core.events import ReconcileRequest, StreamGap, UserEvent
from core.types import (
    AlgoOrder,
    AlgoOrderRequest,
    Balance,
    BookTicker,
    Candle,
    Fill,
    Income,
    IncomeType,
    Instrument,
    MarkPrice,
    Order,
    OrderRequest,
    Position,
    Trade,
)
from exchanges.errors import VenueError

__all__ = [
    "AccountSnapshot",
    "DepthSnapshot",
    "ExchangeAdapter",
    "MarketDataStream",
    "MarketEvent",
    "UserDataStream",
]

MarketEvent = Trade | MarkPrice | BookTicker | Candle


class AccountSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """The account's totals (in its margin asset) and per-asset balances at one moment."""

    wallet_balance: Decimal
    unrealized_pnl: Decimal
    margin_balance: Decimal
    initial_margin: Decimal
    maint_margin: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal
    balances: tuple[Balance, ...] = ()


class DepthSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """An order-book snapshot: ``(price, qty)`` levels, best first on each side."""

    symbol: str
    last_update_id: int
    ts: int
    bids: tuple[tuple[Decimal, Decimal], ...]
    asks: tuple[tuple[Decimal, Decimal], ...]


class MarketDataStream(Protocol):
    """Live market data for subscribed symbols, delivered as domain events, gaps backfilled."""

    def subscribe(
        self,
        symbols: Sequence[str],
        *,
        agg_trades: bool = True,
        mark_price: bool = True,
        book_ticker: bool = False,
        klines: Sequence[str] = (),
    ) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class UserDataStream(Protocol):
    """The account's order, balance/position and algo-order events; a gap asks for reconciliation."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class ExchangeAdapter(Protocol):
    """One venue, seen through domain types. See the module docstring for the contracts."""

    async def start(self) -> None:
        """Connect (sessions, clock offset, rate limits); call before anything else."""
        ...

    async def close(self) -> None: ...

    # --- reference and history ------------------------------------------------------------------------

    async def instruments(self) -> list[Instrument]:
        """Every tradable contract with its filters (and leverage brackets when the venue gives them)."""
        ...

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[Candle]:
        """Candles oldest first; the still-open last one has ``closed=False``."""
        ...

    async def agg_trades(
        self,
        symbol: str,
        *,
        from_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 1000,
    ) -> list[Trade]:
        """Aggregated public trades oldest first (``from_id``: ids from there on)."""
        ...

    async def last_price(self, symbol: str) -> Decimal: ...

    async def book_ticker(self, symbol: str) -> BookTicker: ...

    async def mark_price(self, symbol: str) -> MarkPrice: ...

    async def depth(self, symbol: str, limit: int = 100) -> DepthSnapshot: ...

    # --- account --------------------------------------------------------------------------------------

    async def account(self) -> AccountSnapshot: ...

    async def balances(self) -> list[Balance]: ...

    async def positions(self, symbol: str | None = None) -> list[Position]:
        """Open positions (a venue may also list flat ones, ``qty == 0``)."""
        ...

    async def open_orders(self, symbol: str | None = None) -> list[Order]: ...

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]: ...

    async def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order: ...

    async def get_algo_order(
        self, *, algo_id: int | None = None, client_algo_id: str | None = None
    ) -> AlgoOrder: ...

    async def user_trades(
        self,
        symbol: str,
        *,
        order_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        from_id: int | None = None,
        limit: int = 500,
    ) -> list[Fill]: ...

    async def income(
        self,
        *,
        symbol: str | None = None,
        income_type: IncomeType | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 100,
    ) -> list[Income]:
        """The account's income history (funding fees, realized PnL, commissions...), oldest first.

        With ``start_time`` (inclusive) every row from there on up to ``end_time`` is returned, fetched in
        pages of ``limit`` rows; without it, only the venue's recent rows (at most ``limit``).
        """
        ...

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        """Set the symbol's leverage; returns the leverage the venue applied."""
        ...

    # --- trading --------------------------------------------------------------------------------------

    async def place_order(self, req: OrderRequest) -> Order:
        """Place one order (its client id required); never placed twice, whatever the network does."""
        ...

    async def place_orders(self, reqs: Sequence[OrderRequest]) -> list[Order | VenueError]:
        """Place a batch; each item is the order or the error that refused it, in request order."""
        ...

    async def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order: ...

    async def cancel_all_orders(self, symbol: str) -> None: ...

    async def place_algo_order(self, req: AlgoOrderRequest) -> AlgoOrder:
        """Place one conditional order (its client algo id required); never placed twice."""
        ...

    async def cancel_algo_order(
        self, *, algo_id: int | None = None, client_algo_id: str | None = None
    ) -> None: ...

    async def cancel_all_algo_orders(self, symbol: str) -> None: ...

    async def countdown_cancel_all(self, symbol: str, countdown_ms: int) -> None:
        """Dead-man switch: cancel every open order of ``symbol`` unless called again within the countdown
        (0 disables it)."""
        ...

    # --- streams --------------------------------------------------------------------------------------

    def market_stream(
        self,
        on_event: Callable[[MarketEvent], None],
        *,
        on_gap: Callable[[StreamGap], None] | None = None,
    ) -> MarketDataStream:
        """A market-data stream delivering to ``on_event`` (subscribe, then start)."""
        ...

    def user_stream(
        self,
        on_event: Callable[[UserEvent], None],
        on_reconcile: Callable[[ReconcileRequest], None],
    ) -> UserDataStream:
        """The account's user-data stream; ``on_reconcile`` is called whenever events may have been missed."""
        ...
