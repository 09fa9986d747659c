"""Regular orders: validation, taking from the synthetic book, resting, maker fills from the tape, cancels.

Rules follow Binance USDⓈ-M (one-way mode): filters first, then reduce-only, open-order count, margin;
MARKET orders walk the synthetic book (taker); LIMIT orders take what their price allows and then rest
(GTC/GTD/GTX), expire (IOC) or are refused whole (FOK -5021, GTX that would take -5022).
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
    PositionSide,
    PriceMatch,
    Side,
    TimeInForce,
    Trade,
    WorkingType,
)
from exchanges.sandbox.engine.account import AccountState, money
from exchanges.sandbox.engine.book import fill_levels, levels
from exchanges.sandbox.engine.filters import check_order_filters
from exchanges.sandbox.engine.ids import CLIENT_ID_PATTERN
from exchanges.sandbox.engine.margin import max_notional_for_leverage
from exchanges.sandbox.engine.orders import OrderState
from exchanges.sandbox.engine.requests import NewOrder
from exchanges.sandbox.engine.state import CoreState
from exchanges.sandbox.errors import ExchangeError

__all__ = ["TradingCore"]

_GTD_MIN_AHEAD_MS = 600_000
_GTD_MAX = 253_402_300_799_000
_MATCH_DEPTH = {
    PriceMatch.OPPONENT: (False, 1),
    PriceMatch.OPPONENT_5: (False, 5),
    PriceMatch.OPPONENT_10: (False, 10),
    PriceMatch.OPPONENT_20: (False, 20),
    PriceMatch.QUEUE: (True, 1),
    PriceMatch.QUEUE_5: (True, 5),
    PriceMatch.QUEUE_10: (True, 10),
    PriceMatch.QUEUE_20: (True, 20),
}


class TradingCore(CoreState):
    """Order placement, fills and cancellation on top of :class:`CoreState`."""

    _gtd_heap: list[tuple[int, str, str, int]]

    def _init_trading(self) -> None:
        self._gtd_heap = []

    # -- placement -------------------------------------------------------------------------------------

    def _client_id(self, acct: AccountState, symbol: str, wanted: str | None) -> str:
        if wanted is None or wanted == "":
            return self._ids.client_id()
        if not CLIENT_ID_PATTERN.match(wanted):
            raise ExchangeError.duplicate_client_id()  # -4015 "Client order id is not valid."
        if acct.open_client_id_taken(symbol, wanted):
            raise ExchangeError.client_id_duplicate()
        return wanted

    def _match_price(self, inst: Instrument, side: Side, match: PriceMatch) -> Decimal:
        """The limit price a priceMatch mode picks from the book (-5041 when there is no book)."""
        touch = self._touch(inst)
        if touch is None:
            raise ExchangeError.bbo_no_depth()
        same_side, n = _MATCH_DEPTH[match]
        book_side = side.opposite if same_side else side  # a BUY takes asks: levels(BUY) walks the asks
        ref = touch[2] if book_side is Side.BUY else touch[0]
        prof = self._profile(inst, ref)
        for i, (price, _) in enumerate(levels(touch, prof, inst.filters.tick_size, book_side)):
            if i == n - 1:
                return price
        raise ExchangeError.bbo_no_depth()

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
        symbol = inst.symbol
        if req.type.is_conditional:
            raise ExchangeError.conditional_on_order_endpoint()
        if req.type not in (OrderType.LIMIT, OrderType.MARKET):
            raise ExchangeError.invalid_order_type()
        if req.position_side is not PositionSide.BOTH:
            raise ExchangeError.position_side_mismatch()
        if req.quantity is None:
            raise ExchangeError.mandatory_missing("quantity")
        is_market = req.type is OrderType.MARKET
        qty = req.quantity
        price: Decimal | None = req.price
        tif = TimeInForce.GTC
        if is_market:
            if price is not None:
                raise ExchangeError.param_not_required("price")
        else:
            if req.time_in_force is None:
                raise ExchangeError.mandatory_missing("timeInForce")
            tif = req.time_in_force
            if req.price_match is not PriceMatch.NONE:
                if price is not None:
                    raise ExchangeError.param_not_required("price")
                price = self._match_price(inst, req.side, req.price_match)
            elif price is None:
                raise ExchangeError.mandatory_missing("price")
            if tif is TimeInForce.GTD:
                gtd = req.good_till_date
                if gtd <= self._now + _GTD_MIN_AHEAD_MS or gtd >= _GTD_MAX:
                    raise ExchangeError.good_till_date_invalid()
        client_id = self._client_id(acct, symbol, req.new_client_order_id)
        ref = self._reference_price(symbol)
        if is_market and ref is None:
            # Nothing has traded yet: there is no market to take from.
            raise ExchangeError.disconnected()
        check_order_filters(
            inst,
            quantity=qty,
            price=price,
            is_market=is_market,
            reduce_only=req.reduce_only,
            reference_price=ref if ref is not None else (price or ZERO),
            side=req.side,
        )
        pos = acct.position(symbol)
        closable = pos.closable_by(req.side)
        if req.reduce_only:
            if closable == 0:
                raise ExchangeError.reduce_only_rejected()
            if is_market:
                qty = min(qty, closable)
        open_book = acct.open_orders.get(symbol, {})
        if not is_market and len(open_book) >= inst.filters.max_num_orders:
            raise ExchangeError.max_open_orders()

        touch = self._touch(inst)
        takes: list[tuple[Decimal, Decimal]] = []
        if touch is not None:
            prof = self._profile(inst, touch[0])
            tick = inst.filters.tick_size
            if is_market:
                takes = fill_levels(touch, prof, tick, req.side, qty, limit=None)
            else:
                assert price is not None
                crosses = price >= touch[2] if req.side is Side.BUY else price <= touch[0]
                if crosses and tif is TimeInForce.GTX:
                    raise ExchangeError.post_only_would_take()
                if crosses:
                    takes = fill_levels(touch, prof, tick, req.side, qty, limit=price)
        elif is_market:
            # Nothing has traded yet: there is no market to take from.
            raise ExchangeError.disconnected()
        taken = sum((q for _, q in takes), ZERO)
        if tif is TimeInForce.FOK and not is_market and taken < qty:
            raise ExchangeError.fok_not_filled()
        if not req.reduce_only:
            self._check_margin(
                acct, inst, side=req.side, qty=qty, price=price, takes=takes, is_market=is_market
            )

        order = OrderState(
            account=acct.api_key,
            symbol=symbol,
            order_id=order_id if order_id is not None else self._ids.order_id(symbol),
            client_order_id=client_id,
            side=req.side,
            type=req.type,
            orig_type=orig_type or req.type,
            time_in_force=tif,
            orig_qty=qty,
            price=price if price is not None and not is_market else ZERO,
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
        for fill_price, fill_qty in takes:
            self._fill(acct, order, fill_price, fill_qty, is_maker=False)
            if not order.status.is_open:
                break
        if order.status.is_open:
            if is_market or tif in (TimeInForce.IOC, TimeInForce.FOK):
                self._close(acct, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED)
            else:
                self._books[symbol].add(
                    order.side, order.price, (acct.api_key, order.order_id), order.remaining
                )
                if tif is TimeInForce.GTD:
                    heapq.heappush(
                        self._gtd_heap, (order.good_till_date, acct.api_key, symbol, order.order_id)
                    )
        return order

    def _check_margin(
        self,
        acct: AccountState,
        inst: Instrument,
        *,
        side: Side,
        qty: Decimal,
        price: Decimal | None,
        takes: list[tuple[Decimal, Decimal]],
        is_market: bool,
    ) -> None:
        """-2019 when the order's initial margin and taker fees exceed the available balance; -2027 when the
        resulting position would exceed the notional allowed at the current leverage."""
        pos = acct.position(inst.symbol)
        available = self._totals(acct).available_balance
        fee = sum((p * q for p, q in takes), ZERO) * self.taker_fee
        closable = pos.closable_by(side)
        if is_market:
            cost = sum((p * q for p, q in takes), ZERO)
            est = cost / qty if qty > 0 else ZERO
            opening = max(ZERO, qty - closable)
            required = opening * est / pos.leverage + fee
        else:
            assert price is not None
            est = price
            before = self._order_margin(acct, inst.symbol)
            after = self._order_margin(acct, inst.symbol, (side, qty, price))
            required = after - before + fee
        if required > available:
            raise ExchangeError.margin_insufficient()
        new_qty = abs(pos.qty + side.sign * qty)
        if new_qty > abs(pos.qty) and new_qty * est > max_notional_for_leverage(inst.brackets, pos.leverage):
            raise ExchangeError.leverage_too_high_for_position()

    # -- fills -----------------------------------------------------------------------------------------

    def _fill(
        self, acct: AccountState, order: OrderState, price: Decimal, qty: Decimal, *, is_maker: bool
    ) -> None:
        """Apply one execution: position, realized PnL, commission, order state, events."""
        symbol = order.symbol
        pos = acct.position(symbol)
        pnl = pos.apply_fill(order.side, qty, price)
        pos.update_time = self._now
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
        self, acct: AccountState, order: OrderState, status: OrderStatus, execution: ExecutionType | None
    ) -> None:
        """Take an order off the book with its final status (emitting ``execution`` if given)."""
        if order.type is OrderType.LIMIT:  # no-op when it never rested
            self._books[order.symbol].remove(order.side, order.price, (acct.api_key, order.order_id))
        order.status = status
        order.update_time = self._now
        if execution is not None:
            self._emit_order(order, execution)
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
            self._close(acct, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED)

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
                    self._close(acct, order, OrderStatus.EXPIRED, ExecutionType.EXPIRED)
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
