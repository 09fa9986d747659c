"""ExchangeCore: the facade the sandbox server calls (contract in docs/SANDBOX.md).

Synchronous and free of I/O: market events and commands go in, ``ExchangeError`` or results come out,
and user-data events queue up for ``drain_events``. Same instruments, same seed and same inputs give the
same events. Closed orders stay queryable for the last 10,000 per account, fills for the last 20,000 per
symbol and account, income rows for the last 100,000 per account.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from itertools import islice

from core.clock import Clock
from core.types import (
    ZERO,
    Balance,
    BookTicker,
    ExecutionType,
    Fill,
    Income,
    IncomeType,
    Instrument,
    LeverageBracket,
    MarginType,
    MarkPrice,
    Order,
    OrderStatus,
    Position,
    Side,
    TimeInForce,
    Trade,
    WorkingType,
)
from exchanges.sandbox.engine.account import AccountState
from exchanges.sandbox.engine.algo import AlgoCore
from exchanges.sandbox.engine.book import levels
from exchanges.sandbox.engine.events import AccountConfigEvent
from exchanges.sandbox.engine.margin import max_leverage, max_notional_for_leverage
from exchanges.sandbox.engine.requests import NewOrder
from exchanges.sandbox.engine.state import DEFAULT_LEVERAGE, AccountTotals
from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.profile import BookProfile

__all__ = ["AccountTotals", "ExchangeCore"]


class ExchangeCore(AlgoCore):
    """A Binance USDⓈ-M venue in memory: accounts, matching, algo orders, margin, funding, liquidation."""

    def __init__(
        self,
        instruments: Sequence[Instrument],
        clock: Clock,
        *,
        maker_fee: Decimal = Decimal("0.0002"),
        taker_fee: Decimal = Decimal("0.0005"),
        profiles: Mapping[str, BookProfile] | None = None,
        seed: int = 0,
    ) -> None:
        super().__init__(
            instruments, clock, maker_fee=maker_fee, taker_fee=taker_fee, profiles=profiles, seed=seed
        )
        self._init_trading()
        self._init_algo()
        self._countdowns: dict[tuple[str, str], int] = {}
        self._last_trades: dict[str, Trade] = {}

    # -- market input ----------------------------------------------------------------------------------

    def on_trade(self, trade: Trade) -> None:
        """The public tape: maker fills of resting limits, CONTRACT_PRICE triggers."""
        self.instrument(trade.symbol)
        self._tick(trade.ts)
        self._last[trade.symbol] = trade.price
        self._last_trades[trade.symbol] = trade
        self._match_tape(trade)
        self._check_algo_triggers(trade.symbol, trade.price, WorkingType.CONTRACT_PRICE)

    def on_book_ticker(self, book: BookTicker) -> None:
        """The touch the synthetic book is centred on."""
        self.instrument(book.symbol)
        self._tick(book.ts)
        self._tickers[book.symbol] = book

    def on_mark_price(self, mark: MarkPrice) -> None:
        """Mark price: MARK_PRICE triggers, unrealized PnL, liquidation check."""
        self.instrument(mark.symbol)
        self._tick(mark.ts)
        self._marks[mark.symbol] = mark
        self._check_algo_triggers(mark.symbol, mark.mark_price, WorkingType.MARK_PRICE)
        self._check_liquidations(mark.symbol)

    def advance(self, now_ms: int) -> None:
        """Timers: countdownCancelAll, GTD expiry, and algo orders released from TRIGGERING."""
        self._tick(now_ms)
        now = self._now
        for key in [k for k, deadline in self._countdowns.items() if deadline <= now]:
            del self._countdowns[key]
            api_key, symbol = key
            acct = self._accounts.get(api_key)
            if acct is not None:
                self._cancel_symbol_orders(acct, symbol)
                self.cancel_all_algo_orders(api_key, symbol)
        self._expire_gtd(now)
        self._release_pending()

    # -- reads -----------------------------------------------------------------------------------------

    def depth(
        self, symbol: str, limit: int
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        """(bids, asks) of the synthetic book, best first, ``limit`` levels each."""
        inst = self.instrument(symbol)
        touch = self._touch(inst)
        if touch is None:
            return [], []
        prof = self._profile(inst, touch[0])
        tick = inst.filters.tick_size
        bids = list(islice(levels(touch, prof, tick, Side.SELL), limit))
        asks = list(islice(levels(touch, prof, tick, Side.BUY), limit))
        return bids, asks

    def last_trade(self, symbol: str) -> Trade | None:
        """The latest public trade of ``symbol`` (its quantity is the tickers' ``lastQty``)."""
        return self._last_trades.get(symbol)

    def leverage_brackets(self, symbol: str) -> tuple[LeverageBracket, ...]:
        return self.instrument(symbol).brackets

    def commission_rate(self, account: str, symbol: str) -> tuple[Decimal, Decimal]:
        """(maker, taker) fee rates."""
        self._account(account)
        self.instrument(symbol)
        return self.maker_fee, self.taker_fee

    # -- accounts --------------------------------------------------------------------------------------

    def add_account(self, api_key: str, secret: str, usdt_balance: Decimal) -> None:
        """Open an account funded with ``usdt_balance`` USDT (the ledger counts from there)."""
        if api_key in self._accounts:
            raise ValueError(f"account {api_key[:4]}… already exists")
        self._accounts[api_key] = AccountState(api_key, secret, usdt_balance, DEFAULT_LEVERAGE)

    def balances(self, account: str) -> list[Balance]:
        acct = self._account(account)
        return [self._balance(acct)]

    def positions(self, account: str, symbol: str | None) -> list[Position]:
        """Every symbol's position (flat ones with qty 0), as positionRisk lists them."""
        acct = self._account(account)
        symbols = [self.instrument(symbol).symbol] if symbol is not None else list(self._instruments)
        return [self._position(acct, acct.position(s)) for s in symbols]

    def account_totals(self, account: str) -> AccountTotals:
        return self._totals(self._account(account))

    def income(
        self,
        account: str,
        *,
        symbol: str | None = None,
        income_type: IncomeType | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 100,
    ) -> list[Income]:
        acct = self._account(account)
        rows = [
            r
            for r in acct.income
            if (symbol is None or r.symbol == symbol)
            and (income_type is None or r.income_type is income_type)
            and (start_time is None or r.ts >= start_time)
            and (end_time is None or r.ts <= end_time)
        ]
        return rows[:limit] if start_time is not None else rows[-limit:] if limit > 0 else []

    def set_leverage(self, account: str, symbol: str, leverage: int) -> tuple[int, Decimal]:
        """Set the symbol's leverage; returns (leverage, maxNotionalValue)."""
        acct = self._account(account)
        inst = self.instrument(symbol)
        if not 1 <= leverage <= max_leverage(inst.brackets):
            raise ExchangeError.invalid_leverage()
        cap = max_notional_for_leverage(inst.brackets, leverage)
        pos = acct.position(symbol)
        if pos.qty != 0 and abs(pos.qty) * self._mark_of(pos) > cap:
            raise ExchangeError.leverage_too_high_for_position()
        if pos.leverage != leverage:
            pos.leverage = leverage
            self._events.append(
                AccountConfigEvent(account=account, ts=self._tick(), symbol=symbol, leverage=leverage)
            )
        return leverage, cap

    def set_margin_type(self, account: str, symbol: str, margin_type: MarginType) -> None:
        acct = self._account(account)
        self.instrument(symbol)
        pos = acct.position(symbol)
        if pos.margin_type is margin_type:
            raise ExchangeError.no_need_to_change_margin_type()
        if acct.open_orders.get(symbol):
            raise ExchangeError.margin_type_with_open_orders()
        if pos.qty != 0:
            raise ExchangeError.margin_type_with_position()
        pos.margin_type = margin_type

    def set_position_mode(self, account: str, dual: bool) -> None:
        """One-way mode only: switching to hedge mode is refused (-1020) once nothing else forbids it."""
        acct = self._account(account)
        if not dual:
            raise ExchangeError.no_need_to_change_position_side()
        if any(acct.open_orders.values()):
            raise ExchangeError.position_mode_with_open_orders()
        if any(p.qty != 0 for p in acct.positions.values()):
            raise ExchangeError.position_mode_with_position()
        raise ExchangeError.unsupported_operation()

    def position_mode(self, account: str) -> bool:
        """``dualSidePosition``: always False (one-way mode)."""
        self._account(account)
        return False

    # -- orders ----------------------------------------------------------------------------------------

    def new_order(self, account: str, req: NewOrder) -> Order:
        acct = self._account(account)
        inst = self.instrument(req.symbol)
        self._tick()
        return self._place(acct, inst, req).snapshot()

    def test_order(self, account: str, req: NewOrder) -> Order:
        """Validate ``req`` as :meth:`new_order` would and place nothing (``POST /fapi/v1/order/test``).

        Returns the order as it would have been accepted: status NEW, nothing executed, ``order_id`` 0
        (no id is consumed, so nothing can later be looked up with it).
        """
        acct = self._account(account)
        inst = self.instrument(req.symbol)
        now = self._tick()
        plan = self._plan_order(acct, inst, req)
        return Order(
            symbol=inst.symbol,
            order_id=0,
            client_order_id=plan.client_id,
            side=req.side,
            type=req.type,
            orig_type=req.type,
            time_in_force=plan.tif,
            orig_qty=plan.qty,
            price=plan.price if plan.price is not None and not plan.is_market else ZERO,
            status=OrderStatus.NEW,
            reduce_only=req.reduce_only,
            price_match=req.price_match,
            self_trade_prevention_mode=req.self_trade_prevention_mode,
            good_till_date=req.good_till_date if plan.tif is TimeInForce.GTD else 0,
            time=now,
            update_time=now,
        )

    def cancel_order(
        self, account: str, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> Order:
        acct = self._account(account)
        self.instrument(symbol)
        self._tick()
        order = self._find_order(acct, symbol, order_id, client_order_id)
        if order is None or not order.status.is_open:
            raise ExchangeError.cancel_rejected()
        self._close(acct, order, OrderStatus.CANCELED, ExecutionType.CANCELED)
        return order.snapshot()

    def cancel_all_orders(self, account: str, symbol: str) -> None:
        acct = self._account(account)
        self.instrument(symbol)
        self._tick()
        self._cancel_symbol_orders(acct, symbol)

    def get_order(
        self, account: str, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> Order:
        acct = self._account(account)
        self.instrument(symbol)
        order = self._find_order(acct, symbol, order_id, client_order_id)
        if order is None:
            raise ExchangeError.no_such_order()
        return order.snapshot()

    def open_orders(self, account: str, symbol: str | None) -> list[Order]:
        acct = self._account(account)
        if symbol is not None:
            self.instrument(symbol)
            return [o.snapshot() for o in acct.open_orders.get(symbol, {}).values()]
        return [o.snapshot() for book in acct.open_orders.values() for o in book.values()]

    def all_orders(
        self,
        account: str,
        symbol: str,
        *,
        order_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[Order]:
        """Open and closed orders (within the kept history), oldest first."""
        acct = self._account(account)
        self.instrument(symbol)
        rows = sorted(
            (o for (s, _), o in acct.orders.items() if s == symbol),
            key=lambda o: o.order_id,
        )
        rows = [
            o
            for o in rows
            if (order_id is None or o.order_id >= order_id)
            and (start_time is None or o.time >= start_time)
            and (end_time is None or o.time <= end_time)
        ]
        chosen = rows[:limit] if (order_id is not None or start_time is not None) else rows[-limit:]
        return [o.snapshot() for o in chosen]

    def user_trades(
        self,
        account: str,
        symbol: str,
        *,
        order_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        from_id: int | None = None,
        limit: int = 500,
    ) -> list[Fill]:
        acct = self._account(account)
        self.instrument(symbol)
        rows = [
            f
            for f in acct.fills.get(symbol, ())
            if (order_id is None or f.order_id == order_id)
            and (from_id is None or f.trade_id >= from_id)
            and (start_time is None or f.ts >= start_time)
            and (end_time is None or f.ts <= end_time)
        ]
        return rows[:limit] if (from_id is not None or start_time is not None) else rows[-limit:]

    def countdown_cancel_all(self, account: str, symbol: str, countdown_ms: int) -> None:
        """Arm/refresh (``countdown_ms`` > 0) or disarm (0) the auto-cancel of every order of ``symbol``."""
        self._account(account)
        self.instrument(symbol)
        now = self._tick()
        if countdown_ms < 0:
            raise ExchangeError.countdown_invalid()
        key = (account, symbol)
        if countdown_ms == 0:
            self._countdowns.pop(key, None)
        else:
            self._countdowns[key] = now + countdown_ms
