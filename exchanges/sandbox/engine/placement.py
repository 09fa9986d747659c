"""Validation of a new regular order, everything short of executing it (shared by placement and order/test).

Rules follow Binance USDⓈ-M (one-way mode), in its order: parameters, client id, filters, reduce-only,
open-order count, FOK/GTX feasibility against the synthetic book, then margin. The result is the plan that
:class:`~exchanges.sandbox.engine.trading.TradingCore` executes; nothing here changes any state.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from core.types import (
    ZERO,
    Instrument,
    OrderType,
    PositionSide,
    PriceMatch,
    Side,
    TimeInForce,
)
from exchanges.sandbox.engine.account import AccountState
from exchanges.sandbox.engine.book import fill_levels, levels
from exchanges.sandbox.engine.filters import check_order_filters
from exchanges.sandbox.engine.ids import CLIENT_ID_PATTERN
from exchanges.sandbox.engine.margin import max_notional_for_leverage
from exchanges.sandbox.engine.requests import NewOrder
from exchanges.sandbox.engine.state import CoreState
from exchanges.sandbox.errors import ExchangeError

__all__ = ["OrderPlan", "PlacementCore"]

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


class OrderPlan(NamedTuple):
    """A validated order: what to book and what it takes from the synthetic book at once."""

    client_id: str
    qty: Decimal
    price: Decimal | None  # the limit price (priceMatch resolved); None for MARKET
    tif: TimeInForce
    is_market: bool
    takes: list[tuple[Decimal, Decimal]]  # (price, qty) taken as taker, best first


class PlacementCore(CoreState):
    """Order validation on top of :class:`CoreState`."""

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

    def _plan_order(self, acct: AccountState, inst: Instrument, req: NewOrder) -> OrderPlan:
        """Validate ``req`` as Binance does: the venue's ``ExchangeError`` for the first rule broken."""
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
        closable = acct.position(symbol).closable_by(req.side)
        if req.reduce_only:
            if closable == 0:
                raise ExchangeError.reduce_only_rejected()
            if is_market:
                qty = min(qty, closable)
        if not is_market and len(acct.open_orders.get(symbol, {})) >= inst.filters.max_num_orders:
            raise ExchangeError.max_open_orders()
        takes = self._takes(inst, side=req.side, qty=qty, price=price, tif=tif, is_market=is_market)
        if not req.reduce_only:
            self._check_margin(
                acct, inst, side=req.side, qty=qty, price=price, takes=takes, is_market=is_market
            )
        return OrderPlan(client_id, qty, price, tif, is_market, takes)

    def _takes(
        self,
        inst: Instrument,
        *,
        side: Side,
        qty: Decimal,
        price: Decimal | None,
        tif: TimeInForce,
        is_market: bool,
    ) -> list[tuple[Decimal, Decimal]]:
        """What the order takes from the synthetic book at once (-5022 post-only, -5021 FOK)."""
        touch = self._touch(inst)
        if touch is None:
            if is_market:
                raise ExchangeError.disconnected()  # nothing has traded yet: no market to take from
            return []
        prof = self._profile(inst, touch[0])
        tick = inst.filters.tick_size
        if is_market:
            return fill_levels(touch, prof, tick, side, qty, limit=None)
        assert price is not None
        crosses = price >= touch[2] if side is Side.BUY else price <= touch[0]
        if not crosses:
            takes: list[tuple[Decimal, Decimal]] = []
        elif tif is TimeInForce.GTX:
            raise ExchangeError.post_only_would_take()
        else:
            takes = fill_levels(touch, prof, tick, side, qty, limit=price)
        if tif is TimeInForce.FOK and sum((q for _, q in takes), ZERO) < qty:
            raise ExchangeError.fok_not_filled()
        return takes

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
