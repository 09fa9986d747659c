"""Shared state of the exchange core and the read-side arithmetic on it (margins, snapshots, events).

The core is split by responsibility into a small class chain: ``CoreState`` (this module: state, prices,
margin and snapshots) → ``TradingCore`` (orders and fills) → ``RiskCore`` (funding, liquidation) →
``AlgoCore`` (conditional orders) → ``ExchangeCore`` (the facade the server calls).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import msgspec

from core.clock import Clock
from core.types import (
    ZERO,
    Balance,
    BookTicker,
    ExecutionType,
    Fill,
    Instrument,
    MarginType,
    MarkPrice,
    Position,
    Side,
)
from exchanges.sandbox.engine.account import AccountState, PositionState, money
from exchanges.sandbox.engine.book import Touch, default_profile, touch_from_price, touch_from_ticker
from exchanges.sandbox.engine.events import AccountEvent, OrderEvent, UserEvent
from exchanges.sandbox.engine.ids import IdSource
from exchanges.sandbox.engine.margin import liquidation_price, maint_margin
from exchanges.sandbox.engine.matching import RestingBook
from exchanges.sandbox.engine.orders import OrderState
from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.profile import BookProfile

__all__ = ["DEFAULT_LEVERAGE", "AccountTotals", "CoreState"]

DEFAULT_LEVERAGE = 20


class AccountTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Account-wide margin figures (the totals of GET /fapi/v3/account), USDT, 8 decimals."""

    total_wallet_balance: Decimal
    total_unrealized_profit: Decimal
    total_margin_balance: Decimal
    total_initial_margin: Decimal
    total_maint_margin: Decimal
    total_position_initial_margin: Decimal
    total_open_order_initial_margin: Decimal
    total_cross_wallet_balance: Decimal
    total_cross_un_pnl: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal


class CoreState:
    """State shared by every layer of the core, plus prices, margin arithmetic and snapshots."""

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
        self._instruments: dict[str, Instrument] = {i.symbol: i for i in instruments}
        self._clock = clock
        self.maker_fee = maker_fee
        self.taker_fee = taker_fee
        self._profiles: dict[str, BookProfile] = dict(profiles or {})
        self._ids = IdSource(seed)
        self._accounts: dict[str, AccountState] = {}
        self._events: list[UserEvent] = []
        self._now = 0
        self._last: dict[str, Decimal] = {}
        self._tickers: dict[str, BookTicker] = {}
        self._marks: dict[str, MarkPrice] = {}
        self._books: dict[str, RestingBook] = {s: RestingBook() for s in self._instruments}
        # Accounts holding a non-zero position, per symbol (funding and liquidation visit only these).
        self._holders: dict[str, dict[str, None]] = {s: {} for s in self._instruments}

    # -- reads -----------------------------------------------------------------------------------------

    @property
    def instruments(self) -> Mapping[str, Instrument]:
        return self._instruments

    def instrument(self, symbol: str) -> Instrument:
        """The instrument of ``symbol`` (-1121 when the venue does not list it)."""
        inst = self._instruments.get(symbol)
        if inst is None:
            raise ExchangeError.invalid_symbol()
        return inst

    def last_price(self, symbol: str) -> Decimal | None:
        return self._last.get(symbol)

    def book_ticker(self, symbol: str) -> BookTicker | None:
        return self._tickers.get(symbol)

    def mark_price(self, symbol: str) -> MarkPrice | None:
        return self._marks.get(symbol)

    def secret_of(self, api_key: str) -> str | None:
        acct = self._accounts.get(api_key)
        return acct.secret if acct is not None else None

    def drain_events(self) -> list[UserEvent]:
        """User-data events produced since the last drain, in order."""
        out, self._events = self._events, []
        return out

    # -- helpers ---------------------------------------------------------------------------------------

    def _tick(self, ts: int | None = None) -> int:
        """Advance core time to the clock (commands) or to a market event's stamp; never backwards."""
        t = self._clock.now_ms() if ts is None else ts
        self._now = max(self._now, t)
        return self._now

    def _account(self, api_key: str) -> AccountState:
        acct = self._accounts.get(api_key)
        if acct is None:
            raise ExchangeError.rejected_api_key()
        return acct

    def _reference_price(self, symbol: str) -> Decimal | None:
        """Mark price, else last trade, else the touch mid: what margins and filters are measured at."""
        m = self._marks.get(symbol)
        if m is not None:
            return m.mark_price
        last = self._last.get(symbol)
        if last is not None:
            return last
        t = self._tickers.get(symbol)
        if t is not None:
            return (t.bid_price + t.ask_price) / 2
        return None

    def _mark_of(self, pos: PositionState) -> Decimal:
        ref = self._reference_price(pos.symbol)
        return ref if ref is not None else pos.entry_price

    def _profile(self, inst: Instrument, price: Decimal) -> BookProfile:
        prof = self._profiles.get(inst.symbol)
        if prof is None:
            prof = self._profiles[inst.symbol] = default_profile(inst, price)
        return prof

    def _touch(self, inst: Instrument) -> Touch | None:
        t = self._tickers.get(inst.symbol)
        if t is not None and t.bid_price > 0 and t.ask_price > t.bid_price:
            return touch_from_ticker(t)
        ref = self._last.get(inst.symbol) or self._reference_price(inst.symbol)
        if ref is None:
            return None
        return touch_from_price(ref, self._profile(inst, ref), inst.filters.tick_size)

    def _set_holder(self, acct: AccountState, pos: PositionState) -> None:
        holders = self._holders[pos.symbol]
        if pos.qty != 0:
            holders[acct.api_key] = None
        else:
            holders.pop(acct.api_key, None)

    # -- margin ----------------------------------------------------------------------------------------

    def _order_margin(
        self, acct: AccountState, symbol: str, extra: tuple[Side, Decimal, Decimal] | None = None
    ) -> Decimal:
        """Initial margin of the open orders of ``symbol``: the larger side, net of the position it closes."""
        buy = sell = ZERO
        for o in acct.open_orders.get(symbol, {}).values():
            if o.reduce_only:
                continue
            n = o.remaining * o.price
            if o.side is Side.BUY:
                buy += n
            else:
                sell += n
        if extra is not None:
            side, qty, price = extra
            if side is Side.BUY:
                buy += qty * price
            else:
                sell += qty * price
        if buy == 0 and sell == 0:
            return ZERO
        pos = acct.positions.get(symbol)
        lev = pos.leverage if pos is not None else acct.default_leverage
        if pos is not None and pos.qty != 0:
            held = abs(pos.qty) * self._mark_of(pos)
            if pos.qty > 0:
                sell = max(ZERO, sell - held)
            else:
                buy = max(ZERO, buy - held)
        return max(buy, sell) / lev

    def _position_figures(self, pos: PositionState) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        """(mark, notional signed, unrealized PnL, maintenance margin) of one position."""
        mark = self._mark_of(pos)
        notional = pos.qty * mark
        upnl = (mark - pos.entry_price) * pos.qty
        mm = maint_margin(self._instruments[pos.symbol].brackets, notional)
        return mark, notional, upnl, mm

    def _totals(self, acct: AccountState) -> AccountTotals:
        upnl_all = cross_upnl = pos_im = mm_all = order_im = iso_wallets = ZERO
        for pos in acct.positions.values():
            if pos.qty != 0:
                _, notional, upnl, mm = self._position_figures(pos)
                upnl_all += upnl
                mm_all += mm
                pos_im += abs(notional) / pos.leverage
                if pos.margin_type is MarginType.ISOLATED:
                    iso_wallets += pos.isolated_wallet
                else:
                    cross_upnl += upnl
        for symbol in acct.open_orders:
            order_im += self._order_margin(acct, symbol)
        cross_wallet = acct.wallet - iso_wallets
        cross_pos_im = sum(
            (
                abs(p.qty) * self._mark_of(p) / p.leverage
                for p in acct.positions.values()
                if p.qty != 0 and p.margin_type is MarginType.CROSSED
            ),
            ZERO,
        )
        available = max(ZERO, cross_wallet + cross_upnl - cross_pos_im - order_im)
        return AccountTotals(
            total_wallet_balance=money(acct.wallet),
            total_unrealized_profit=money(upnl_all),
            total_margin_balance=money(acct.wallet + upnl_all),
            total_initial_margin=money(pos_im + order_im),
            total_maint_margin=money(mm_all),
            total_position_initial_margin=money(pos_im),
            total_open_order_initial_margin=money(order_im),
            total_cross_wallet_balance=money(cross_wallet),
            total_cross_un_pnl=money(cross_upnl),
            available_balance=money(available),
            max_withdraw_amount=money(max(ZERO, min(available, cross_wallet))),
        )

    # -- snapshots -------------------------------------------------------------------------------------

    def _balance(self, acct: AccountState) -> Balance:
        t = self._totals(acct)
        return Balance(
            asset="USDT",
            wallet_balance=t.total_wallet_balance,
            available_balance=t.available_balance,
            cross_wallet_balance=t.total_cross_wallet_balance,
            cross_unrealized_pnl=t.total_cross_un_pnl,
            margin_balance=t.total_margin_balance,
            max_withdraw_amount=t.max_withdraw_amount,
            update_time=self._now,
        )

    def _liq_price(self, acct: AccountState, pos: PositionState) -> Decimal:
        inst = self._instruments[pos.symbol]
        mark = self._mark_of(pos)
        if pos.margin_type is MarginType.ISOLATED:
            return liquidation_price(
                qty=pos.qty,
                entry_price=pos.entry_price,
                wallet=pos.isolated_wallet,
                other_maint=ZERO,
                other_upnl=ZERO,
                brackets=inst.brackets,
                mark_price=mark,
            )
        other_mm = other_upnl = iso = ZERO
        for p in acct.positions.values():
            if p.qty == 0:
                continue
            if p.margin_type is MarginType.ISOLATED:
                iso += p.isolated_wallet
            elif p is not pos:
                _, _, upnl, mm = self._position_figures(p)
                other_mm += mm
                other_upnl += upnl
        return liquidation_price(
            qty=pos.qty,
            entry_price=pos.entry_price,
            wallet=acct.wallet - iso,
            other_maint=other_mm,
            other_upnl=other_upnl,
            brackets=inst.brackets,
            mark_price=mark,
        )

    def _position(self, acct: AccountState, pos: PositionState) -> Position:
        if pos.qty == 0:
            mark = self._reference_price(pos.symbol) or ZERO
            return Position(
                symbol=pos.symbol,
                qty=ZERO,
                entry_price=ZERO,
                mark_price=mark,
                leverage=pos.leverage,
                margin_type=pos.margin_type,
                update_time=pos.update_time,
                accumulated_realized=pos.realized,
            )
        mark, notional, upnl, mm = self._position_figures(pos)
        fee = self.taker_fee
        # Break-even: the price at which closing with a taker fee also pays back the opening taker fee.
        be = (
            pos.entry_price * (1 + fee) / (1 - fee)
            if pos.qty > 0
            else pos.entry_price * (1 - fee) / (1 + fee)
        )
        return Position(
            symbol=pos.symbol,
            qty=pos.qty,
            entry_price=pos.entry_price,
            break_even_price=money(be),
            mark_price=mark,
            unrealized_pnl=money(upnl),
            liquidation_price=money(self._liq_price(acct, pos)),
            leverage=pos.leverage,
            margin_type=pos.margin_type,
            isolated_margin=money(pos.isolated_wallet + upnl)
            if pos.margin_type is MarginType.ISOLATED
            else ZERO,
            initial_margin=money(abs(notional) / pos.leverage),
            maint_margin=money(mm),
            notional=money(notional),
            update_time=pos.update_time,
            accumulated_realized=pos.realized,
        )

    # -- events ----------------------------------------------------------------------------------------

    def _emit_order(
        self,
        order: OrderState,
        execution_type: ExecutionType,
        fill: Fill | None = None,
        *,
        expire_reason: int = 0,
    ) -> None:
        bids = asks = ZERO
        acct = self._accounts.get(order.account)
        book = acct.open_orders.get(order.symbol, {}) if acct is not None else {}
        for o in book.values():
            if o.status.is_open:
                if o.side is Side.BUY:
                    bids += o.price * o.remaining
                else:
                    asks += o.price * o.remaining
        self._events.append(
            OrderEvent(
                account=order.account,
                ts=self._now,
                order=order.snapshot(),
                execution_type=execution_type,
                fill=fill,
                bids_notional=bids,
                asks_notional=asks,
                expire_reason=expire_reason,
            )
        )

    def _emit_account(
        self, acct: AccountState, reason: str, symbols: Sequence[str], balance_change: Decimal = ZERO
    ) -> None:
        positions = tuple(self._position(acct, acct.position(s)) for s in symbols)
        self._events.append(
            AccountEvent(
                account=acct.api_key,
                ts=self._now,
                reason=reason,
                balances=(self._balance(acct),),
                positions=positions,
                balance_change=balance_change,
            )
        )
