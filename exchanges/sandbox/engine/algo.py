"""Conditional (algo) orders: STOP, STOP_MARKET, TAKE_PROFIT, TAKE_PROFIT_MARKET, TRAILING_STOP_MARKET.

Lifecycle as ALGO_UPDATE reports it: NEW → TRIGGERING (the trigger price was crossed) → TRIGGERED (the
order was placed; ``actual_order_id``) → FINISHED (that order is done; ``actual_price``/``actual_qty``).
Side exits: CANCELED; EXPIRED when a closePosition/reduceOnly order finds no position to reduce at trigger
time; REJECTED when the placed order is refused (margin, filters...). ``stall_triggering(symbol, True)``
leaves triggered algo orders in TRIGGERING until it is switched off and ``advance`` runs (reliability tests
need an algo order stuck there).

Trigger rules (price = last trade for CONTRACT_PRICE, mark price for MARK_PRICE): STOP/STOP_MARKET fire when
a BUY's price rises to the trigger or a SELL's falls to it; TAKE_PROFIT(_MARKET) the other way round.
TRAILING_STOP_MARKET activates at ``activatePrice`` (at once without one), then tracks the best price and
fires when the price retraces ``callbackRate`` percent from it.
"""

from __future__ import annotations

from decimal import Decimal

from core.types import (
    ZERO,
    AlgoOrder,
    AlgoStatus,
    Instrument,
    OrderType,
    PositionSide,
    Side,
    TimeInForce,
    WorkingType,
)
from exchanges.sandbox.engine.account import AccountState
from exchanges.sandbox.engine.events import AlgoEvent
from exchanges.sandbox.engine.filters import check_order_filters, check_price_filter, percent_price_bounds
from exchanges.sandbox.engine.ids import CLIENT_ID_PATTERN
from exchanges.sandbox.engine.orders import AlgoState, OrderState, avg_price
from exchanges.sandbox.engine.requests import NewAlgoOrder, NewOrder
from exchanges.sandbox.engine.risk import RiskCore
from exchanges.sandbox.errors import ExchangeError

__all__ = ["ALGO_HISTORY_WINDOW_MS", "AlgoCore"]

_STOP_LIKE = (OrderType.STOP, OrderType.STOP_MARKET)
_TP_LIKE = (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET)
ALGO_HISTORY_WINDOW_MS = 7 * 86_400_000  # allAlgoOrders' default time window: the last 7 days
_MIN_CALLBACK = Decimal("0.1")
_MAX_CALLBACK = Decimal("10")


def _hit(state: AlgoState, price: Decimal) -> bool:
    """Whether ``price`` fires the algo order (updates a trailing stop's tracked extreme)."""
    a = state.order
    if a.order_type is OrderType.TRAILING_STOP_MARKET:
        if state.extreme is None:
            act = a.activate_price
            if act > 0 and (price < act if a.side is Side.SELL else price > act):
                return False
            state.extreme = price
        rate = a.callback_rate / 100
        if a.side is Side.SELL:
            state.extreme = max(state.extreme, price)
            return price <= state.extreme * (1 - rate)
        state.extreme = min(state.extreme, price)
        return price >= state.extreme * (1 + rate)
    up = (a.side is Side.BUY) == (a.order_type in _STOP_LIKE)
    return price >= a.trigger_price if up else price <= a.trigger_price


class AlgoCore(RiskCore):
    """The Algo Service on top of :class:`RiskCore`."""

    _stalled: set[str]
    _pending: dict[int, AlgoState]
    _algo_index: dict[str, dict[int, AlgoState]]

    def _init_algo(self) -> None:
        self._stalled = set()
        self._pending = {}  # TRIGGERING, waiting for a stalled symbol to be released
        self._algo_index = {s: {} for s in self._instruments}  # open algo orders per symbol, every account

    # -- commands --------------------------------------------------------------------------------------

    def new_algo_order(self, account: str, req: NewAlgoOrder) -> AlgoOrder:
        """Accept a conditional order (-2021 when it would trigger at once, -4045 beyond the limit)."""
        acct = self._account(account)
        inst = self.instrument(req.symbol)
        self._tick()
        self._validate_algo(acct, inst, req)
        working = self._working_price(req.symbol, req.working_type)
        client_id = req.client_algo_id or self._ids.client_id()
        order = AlgoOrder(
            symbol=req.symbol,
            algo_id=self._ids.algo_id(),
            client_algo_id=client_id,
            side=req.side,
            order_type=req.type,
            quantity=req.quantity or ZERO,
            trigger_price=req.trigger_price or ZERO,
            status=AlgoStatus.NEW,
            price=req.price or ZERO,
            time_in_force=req.time_in_force,
            working_type=req.working_type,
            close_position=req.close_position,
            reduce_only=req.reduce_only,
            price_protect=req.price_protect,
            price_match=req.price_match,
            activate_price=req.activate_price or ZERO,
            callback_rate=req.callback_rate or ZERO,
            self_trade_prevention_mode=req.self_trade_prevention_mode,
            good_till_date=req.good_till_date,
            create_time=self._now,
            update_time=self._now,
        )
        state = AlgoState(account, order)
        if working is not None and req.type is not OrderType.TRAILING_STOP_MARKET and _hit(state, working):
            raise ExchangeError.would_trigger_immediately()
        if working is not None and req.type is OrderType.TRAILING_STOP_MARKET:
            _hit(state, working)  # activation and the starting extreme
        acct.add_algo(state)
        self._algo_index[req.symbol][order.algo_id] = state
        self._emit_algo(state)
        return order

    def _validate_algo(self, acct: AccountState, inst: Instrument, req: NewAlgoOrder) -> None:
        t = req.type
        if not t.is_conditional:
            raise ExchangeError.invalid_order_type()
        if req.position_side is not PositionSide.BOTH:
            raise ExchangeError.position_side_mismatch()
        if req.close_position:
            if t not in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET):
                raise ExchangeError.bad_param("closePosition", "true")
            if req.quantity is not None:
                raise ExchangeError.quantity_with_close_position()
            if req.reduce_only:
                raise ExchangeError.param_not_required("reduceOnly")
        elif req.quantity is None:
            raise ExchangeError.mandatory_missing("quantity")
        is_limit = t in (OrderType.STOP, OrderType.TAKE_PROFIT)
        if is_limit and req.price is None:
            raise ExchangeError.mandatory_missing("price")
        if t is OrderType.TRAILING_STOP_MARKET:
            rate = req.callback_rate
            if rate is None:
                raise ExchangeError.mandatory_missing("callbackRate")
            if not _MIN_CALLBACK <= rate <= _MAX_CALLBACK:
                raise ExchangeError.bad_param("callbackRate", str(rate))
            if req.activate_price is not None:
                if req.activate_price <= 0:
                    raise ExchangeError.invalid_activation_price()
                check_price_filter(inst, req.activate_price)
        else:
            if req.trigger_price is None:
                raise ExchangeError.mandatory_missing("triggerPrice")
            if req.trigger_price <= 0:
                raise ExchangeError.stop_price_below_zero()
            check_price_filter(inst, req.trigger_price)
        cid = req.client_algo_id
        if cid is not None:
            if not CLIENT_ID_PATTERN.match(cid):
                raise ExchangeError.duplicate_client_id()
            if acct.open_algo_client_id_taken(cid):
                raise ExchangeError.client_id_duplicate()
        if len(acct.open_algos.get(inst.symbol, {})) >= inst.filters.max_num_algo_orders:
            raise ExchangeError.max_algo_orders()
        if req.quantity is not None:
            ref = req.trigger_price or req.activate_price or self._reference_price(inst.symbol) or ZERO
            check_order_filters(
                inst,
                quantity=req.quantity,
                price=req.price if is_limit else None,
                is_market=not is_limit,
                reduce_only=req.reduce_only,
                # A limit's notional is its own price; its price band is measured from the trigger below.
                reference_price=ZERO if is_limit else ref,
                side=req.side,
            )
        if is_limit and req.price is not None and req.trigger_price is not None:
            low, high = percent_price_bounds(inst.filters, req.trigger_price)
            if req.side is Side.BUY and req.price > high:
                raise ExchangeError.stop_price_multiplier(True, high)
            if req.side is Side.SELL and req.price < low:
                raise ExchangeError.stop_price_multiplier(False, low)

    def cancel_algo_order(self, account: str, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        acct = self._account(account)
        self._tick()
        state = self._find_algo(acct, algo_id, client_algo_id)
        if state is None or not state.is_open:
            raise ExchangeError.algo_not_found()
        self._finish_algo(state, AlgoStatus.CANCELED)
        return state.order

    def get_algo_order(self, account: str, algo_id: int | None, client_algo_id: str | None) -> AlgoOrder:
        acct = self._account(account)
        state = self._find_algo(acct, algo_id, client_algo_id)
        if state is None:
            raise ExchangeError.no_such_order()
        return state.order

    def open_algo_orders(self, account: str, symbol: str | None) -> list[AlgoOrder]:
        acct = self._account(account)
        if symbol is not None:
            self.instrument(symbol)
            return [s.order for s in acct.open_algos.get(symbol, {}).values()]
        return [s.order for book in acct.open_algos.values() for s in book.values()]

    def all_algo_orders(
        self,
        account: str,
        symbol: str,
        *,
        algo_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        page: int | None = None,
        limit: int = 500,
    ) -> list[AlgoOrder]:
        """Open and finished algo orders of ``symbol`` (the last 5,000 finished ones are kept), oldest first.

        Binance's rules: from ``algo_id`` (inclusive) when given, else the most recent ones; the time filter
        applies to the creation time and defaults to the last 7 days; ``page`` (1-based) pages through the
        matches ``limit`` at a time, oldest first.
        """
        acct = self._account(account)
        self.instrument(symbol)
        if algo_id is None and start_time is None and end_time is None:
            start_time = self._tick() - ALGO_HISTORY_WINDOW_MS
        rows = sorted(
            (
                s.order
                for s in acct.algos.values()
                if s.order.symbol == symbol
                and (algo_id is None or s.order.algo_id >= algo_id)
                and (start_time is None or s.order.create_time >= start_time)
                and (end_time is None or s.order.create_time <= end_time)
            ),
            key=lambda a: a.algo_id,
        )
        if page is not None:
            return rows[(page - 1) * limit : page * limit]
        return rows[:limit] if algo_id is not None else rows[-limit:]

    def cancel_all_algo_orders(self, account: str, symbol: str) -> None:
        acct = self._account(account)
        self.instrument(symbol)
        self._tick()
        for state in list(acct.open_algos.get(symbol, {}).values()):
            self._finish_algo(state, AlgoStatus.CANCELED)

    def stall_triggering(self, symbol: str, on: bool) -> None:
        """Hold (``on``) triggered algo orders of ``symbol`` in TRIGGERING, or release them at advance."""
        self.instrument(symbol)
        if on:
            self._stalled.add(symbol)
        else:
            self._stalled.discard(symbol)

    # -- internals -------------------------------------------------------------------------------------

    def _find_algo(
        self, acct: AccountState, algo_id: int | None, client_algo_id: str | None
    ) -> AlgoState | None:
        if algo_id is None:
            if client_algo_id is None:
                raise ExchangeError.mandatory_missing("algoId")
            algo_id = acct.algo_client_index.get(client_algo_id)
            if algo_id is None:
                return None
        state = acct.algos.get(algo_id)
        if state is not None and client_algo_id is not None and state.order.client_algo_id != client_algo_id:
            return None
        return state

    def _working_price(self, symbol: str, working: WorkingType) -> Decimal | None:
        if working is WorkingType.MARK_PRICE:
            m = self._marks.get(symbol)
            return m.mark_price if m is not None else None
        return self._last.get(symbol)

    def _emit_algo(self, state: AlgoState) -> None:
        self._events.append(AlgoEvent(account=state.account, ts=self._now, algo=state.order))

    def _finish_algo(self, state: AlgoState, status: AlgoStatus, **changes: object) -> None:
        """Move an algo order to a final or TRIGGERED status: off the open books, event emitted."""
        state.update(status=status, update_time=self._now, **changes)
        acct = self._accounts[state.account]
        acct.close_algo(state)
        self._algo_index[state.order.symbol].pop(state.order.algo_id, None)
        self._pending.pop(state.order.algo_id, None)
        self._emit_algo(state)

    def _check_algo_triggers(self, symbol: str, price: Decimal, working: WorkingType) -> None:
        index = self._algo_index.get(symbol)
        if not index:
            return
        fired = [
            s
            for s in index.values()
            if s.status is AlgoStatus.NEW and s.order.working_type is working and _hit(s, price)
        ]
        for state in fired:
            state.update(status=AlgoStatus.TRIGGERING, trigger_time=self._now, update_time=self._now)
            self._emit_algo(state)
            if symbol in self._stalled:
                self._pending[state.order.algo_id] = state
            else:
                self._fire(state)

    def _release_pending(self) -> None:
        for state in [s for s in self._pending.values() if s.order.symbol not in self._stalled]:
            del self._pending[state.order.algo_id]
            if state.status is AlgoStatus.TRIGGERING:
                self._fire(state)

    def _fire(self, state: AlgoState) -> None:
        """Place the order a triggered algo order stands for (TRIGGERED, or EXPIRED/REJECTED)."""
        acct = self._accounts[state.account]
        a = state.order
        inst = self._instruments[a.symbol]
        closable = acct.position(a.symbol).closable_by(a.side)
        reducing = a.close_position or a.reduce_only
        if reducing and closable == 0:
            self._finish_algo(state, AlgoStatus.EXPIRED)
            return
        qty = closable if a.close_position else (min(a.quantity, closable) if a.reduce_only else a.quantity)
        is_market = a.order_type.is_market_on_trigger
        client_id = a.client_algo_id if not acct.open_client_id_taken(a.symbol, a.client_algo_id) else None
        req = NewOrder(
            symbol=a.symbol,
            side=a.side,
            type=OrderType.MARKET if is_market else OrderType.LIMIT,
            quantity=qty,
            price=None if is_market else a.price,
            time_in_force=None if is_market else a.time_in_force,
            reduce_only=reducing,
            new_client_order_id=client_id,
            good_till_date=a.good_till_date if a.time_in_force is TimeInForce.GTD else 0,
            self_trade_prevention_mode=a.self_trade_prevention_mode,
        )
        order_id = self._ids.order_id(a.symbol)
        self._finish_algo(state, AlgoStatus.TRIGGERED, actual_order_id=str(order_id))
        triggered_at = len(self._events) - 1
        try:
            order = self._place(
                acct,
                inst,
                req,
                orig_type=a.order_type,
                algo_id=a.algo_id,
                stop_price=a.trigger_price,
                working_type=a.working_type,
                order_id=order_id,
            )
        except ExchangeError as e:
            # The order never existed: drop the TRIGGERED report and say why it was refused.
            del self._events[triggered_at]
            state.update(
                status=AlgoStatus.REJECTED, update_time=self._now, actual_order_id="", reject_reason=e.msg
            )
            self._emit_algo(state)
            return
        del order  # FINISHED is reported by _on_order_done when the order is done

    def _on_order_done(self, acct: AccountState, order: OrderState) -> None:
        if not order.algo_id:
            return
        state = acct.algos.get(order.algo_id)
        if state is None or state.status is not AlgoStatus.TRIGGERED:
            return
        state.update(
            status=AlgoStatus.FINISHED,
            update_time=self._now,
            actual_price=avg_price(order.cum_quote, order.executed_qty),
            actual_qty=order.executed_qty,
        )
        self._emit_algo(state)
