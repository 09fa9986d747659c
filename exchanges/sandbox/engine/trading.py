"""Regular orders: execution of validated orders, resting, maker fills from the tape, cancels.

Validation (:mod:`placement`) follows Binance USDⓈ-M (one-way mode): filters first, then reduce-only,
open-order count, margin; MARKET orders walk the synthetic book (taker); LIMIT orders take what their
price allows and then rest (GTC/GTD/GTX), expire (IOC) or are refused whole (FOK -5021, GTX -5022).
"""

from __future__ import annotations

import heapq
from decimal import Decimal

from core.types import (
    ZERO,
    ExecutionType,
    Fill,
    IncomeType,
    Instrument,
    OrderStatus,
    OrderType,
    TimeInForce,
    Trade,
    WorkingType,
)
from exchanges.sandbox.engine.account import AccountState, money
from exchanges.sandbox.engine.orders import OrderState
from exchanges.sandbox.engine.placement import PlacementCore
from exchanges.sandbox.engine.requests import NewOrder
from exchanges.sandbox.errors import ExchangeError

__all__ = ["TradingCore"]

# Binance's ORDER_TRADE_UPDATE expiry reasons (``er``) the sandbox produces.
_ER_IOC = 2  # IOC order could not be filled completely, remaining quantity is canceled
_ER_REDUCE_ONLY = 4  # reduce-only order knocked out: nothing left to reduce
_ER_MARKET = 9  # market order could not be filled completely


class TradingCore(PlacementCore):
    """Order placement, fills and cancellation on top of :class:`PlacementCore` (validation)."""

    _gtd_heap: list[tuple[int, str, str, int]]

    def _init_trading(self) -> None:
        self._gtd_heap = []

    # -- placement -------------------------------------------------------------------------------------

    def _place(
        self,
        acct: AccountState,
        inst: Instrument,
        req: NewOrder,
        *,
        orig_type: OrderType | None = None,
        algo_id: int = 0,
        stop_price: Decimal = ZERO,
        working_type: WorkingType = WorkingType.CONTRACT_PRICE,
        order_id: int | None = None,
    ) -> OrderState:
        """Validate and execute one order; no event is emitted unless it is accepted."""
        plan = self._plan_order(acct, inst, req)
        symbol = inst.symbol
        tif = plan.tif
        order = OrderState(
            account=acct.api_key,
            symbol=symbol,
            order_id=order_id if order_id is not None else self._ids.order_id(symbol),
            client_order_id=plan.client_id,
            side=req.side,
            type=req.type,
            orig_type=orig_type or req.type,
            time_in_force=tif,
            orig_qty=plan.qty,
            price=plan.price if plan.price is not None and not plan.is_market else ZERO,
            reduce_only=req.reduce_only,
            time=self._now,
            stop_price=stop_price,
            working_type=working_type,
            price_match=req.price_match,
            self_trade_prevention_mode=req.self_trade_prevention_mode,
            good_till_date=req.good_till_date if tif is TimeInForce.GTD else 0,
            algo_id=algo_id,
        )
        acct.add_order(order)
        self._emit_order(order, ExecutionType.NEW)
        for fill_price, fill_qty in plan.takes:
            self._fill(acct, order, fill_price, fill_qty, is_maker=False)
            if not order.status.is_open:
                break
        if order.status.is_open:
            if plan.is_market or tif in (TimeInForce.IOC, TimeInForce.FOK):
                reason = _ER_MARKET if plan.is_market else _ER_IOC
                self._close(acct, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED, expire_reason=reason)
            else:
                self._books[symbol].add(
                    order.side, order.price, (acct.api_key, order.order_id), order.remaining
                )
                if tif is TimeInForce.GTD:
                    heapq.heappush(
                        self._gtd_heap, (order.good_till_date, acct.api_key, symbol, order.order_id)
                    )
        return order

    # -- fills -----------------------------------------------------------------------------------------

    def _fill(
        self, acct: AccountState, order: OrderState, price: Decimal, qty: Decimal, *, is_maker: bool
    ) -> None:
        """Apply one execution: position, realized PnL, commission, order state, events."""
        symbol = order.symbol
        pos = acct.position(symbol)
        pnl = pos.apply_fill(order.side, qty, price)
        pos.update_time = self._now
        pos.realized += pnl
        rate = self.maker_fee if is_maker else self.taker_fee
        commission = money(price * qty * rate)
        trade_id = self._ids.trade_id(symbol)
        acct.credit(
            pnl,
            IncomeType.REALIZED_PNL,
            symbol,
            ts=self._now,
            tran_id=self._ids.tran_id(),
            trade_id=str(trade_id),
        )
        acct.credit(
            -commission,
            IncomeType.COMMISSION,
            symbol,
            ts=self._now,
            tran_id=self._ids.tran_id(),
            trade_id=str(trade_id),
        )
        order.executed_qty += qty
        order.cum_quote += price * qty
        order.update_time = self._now
        order.status = OrderStatus.FILLED if order.remaining <= 0 else OrderStatus.PARTIALLY_FILLED
        fill = Fill(
            symbol=symbol,
            trade_id=trade_id,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            side=order.side,
            price=price,
            qty=qty,
            quote_qty=price * qty,
            commission=commission,
            commission_asset="USDT",
            realized_pnl=pnl,
            is_maker=is_maker,
            ts=self._now,
        )
        acct.add_fill(fill)
        self._set_holder(acct, pos)
        self._emit_order(order, ExecutionType.TRADE, fill)
        self._emit_account(acct, "ORDER", (symbol,))
        if order.status is OrderStatus.FILLED:
            self._close(acct, order, OrderStatus.FILLED, None)
        if pos.qty == 0:
            self._expire_reduce_only(acct, symbol)

    def _close(
        self,
        acct: AccountState,
        order: OrderState,
        status: OrderStatus,
        execution: ExecutionType | None,
        *,
        expire_reason: int = 0,
    ) -> None:
        """Take an order off the book with its final status (emitting ``execution`` if given)."""
        if order.type is OrderType.LIMIT:  # no-op when it never rested
            self._books[order.symbol].remove(order.side, order.price, (acct.api_key, order.order_id))
        order.status = status
        order.update_time = self._now
        if execution is not None:
            self._emit_order(order, execution, expire_reason=expire_reason)
        acct.record_closed(order)
        self._on_order_done(acct, order)

    def _on_order_done(self, acct: AccountState, order: OrderState) -> None:
        """Hook for layers that follow orders (algo orders finish when the order they placed is done)."""

    def _expire_reduce_only(self, acct: AccountState, symbol: str) -> None:
        """A flat position leaves nothing to reduce: Binance expires the resting reduce-only orders."""
        book = acct.open_orders.get(symbol)
        if not book:
            return
        for order in [o for o in book.values() if o.reduce_only]:
            self._close(
                acct, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED, expire_reason=_ER_REDUCE_ONLY
            )

    def _match_tape(self, trade: Trade) -> None:
        """Maker fills of resting orders the tape trade traded through (see matching.py for the rule)."""
        book = self._books.get(trade.symbol)
        if book is None:
            return
        for (api_key, order_id), side, price, qty in book.match(trade):
            acct = self._accounts[api_key]
            order = acct.open_orders.get(trade.symbol, {}).get(order_id)
            if order is None or not order.status.is_open:
                continue
            take = min(qty, order.remaining)
            if order.reduce_only:
                take = min(take, acct.position(trade.symbol).closable_by(side))
                if take <= 0:
                    self._close(
                        acct, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED, expire_reason=_ER_REDUCE_ONLY
                    )
                    continue
            self._fill(acct, order, price, take, is_maker=True)
            if order.status.is_open:
                book.reduce(side, price, (api_key, order_id), order.remaining)

    # -- cancels ---------------------------------------------------------------------------------------

    def _find_order(
        self, acct: AccountState, symbol: str, order_id: int | None, client_order_id: str | None
    ) -> OrderState | None:
        if order_id is None and client_order_id is None:
            raise ExchangeError.mandatory_missing("orderId")
        if order_id is None:
            assert client_order_id is not None
            order_id = acct.client_index.get((symbol, client_order_id))
            if order_id is None:
                return None
        order = acct.orders.get((symbol, order_id))
        if order is not None and client_order_id is not None and order.client_order_id != client_order_id:
            return None
        return order

    def _cancel_symbol_orders(self, acct: AccountState, symbol: str) -> None:
        for order in list(acct.open_orders.get(symbol, {}).values()):
            self._close(acct, order, OrderStatus.CANCELED, ExecutionType.CANCELED)

    def _expire_gtd(self, now_ms: int) -> None:
        heap = self._gtd_heap
        while heap and heap[0][0] <= now_ms:
            _, api_key, symbol, order_id = heapq.heappop(heap)
            acct = self._accounts.get(api_key)
            order = acct.open_orders.get(symbol, {}).get(order_id) if acct is not None else None
            if acct is not None and order is not None and order.status.is_open:
                self._close(acct, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED)
