"""OrderExecutor: the Croupier's only way to the venue — requests built, rounded and sent with their ids.

Every order carries a deterministic client id from :mod:`exchanges.binance.client_ids` (the decision id, the
leg, an attempt index), so a lost answer is resolved by the connector without ever placing a twin. Prices
are rounded by :mod:`core.precision` only: trigger prices with :func:`~core.precision.round_trigger_price`
(a stop never fires before its level), quantities floored to the market step.

Priorities follow from the request: the connector sends reduce-only and close-position orders (stops,
take-profits, market closes) and every cancel at CRITICAL priority, entries at ENTRY priority, so a burst
of entries can never starve a stop.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import msgspec

from core.clock import Clock
from core.config_croupier import CroupierSettings
from core.decisions import Decision, RiskVerdict
from core.enums import OrderType, Side, WorkingType
from core.precision import Rounding, round_price, round_qty, round_trigger_price
from core.types import AlgoOrder, AlgoOrderRequest, Instrument, Order, OrderRequest
from exchanges.adapter import ExchangeAdapter
from exchanges.binance.client_ids import Leg, client_algo_id, client_order_id
from exchanges.errors import RejectedError

__all__ = ["NOT_FOUND_CODES", "WOULD_TRIGGER", "OrderExecutor", "ProtectionPrices"]

WOULD_TRIGGER = -2021  # "Order would immediately trigger."
NOT_FOUND_CODES = frozenset({-2011, -2013})  # unknown order / order does not exist


class ProtectionPrices(msgspec.Struct, frozen=True, kw_only=True):
    """Take-profit and stop-loss trigger prices of one position, rounded to the tick."""

    tp: Decimal
    sl: Decimal


class OrderExecutor:
    """Builds and sends the Croupier's orders (see the module docstring)."""

    def __init__(
        self,
        adapter: ExchangeAdapter,
        instruments: Mapping[str, Instrument],
        settings: CroupierSettings,
        clock: Clock,
    ) -> None:
        self.adapter = adapter
        self.instruments = instruments
        self.settings = settings
        self.clock = clock
        self._prefix = settings.client_id_prefix
        self._tp_working = WorkingType(settings.tp_working_type)

    def instrument(self, symbol: str) -> Instrument:
        inst = self.instruments.get(symbol)
        if inst is None:
            raise KeyError(f"{symbol} is not a known instrument: add it to the session's symbols")
        return inst

    # -- ids -------------------------------------------------------------------------------------------

    def entry_id(self, decision_id: str) -> str:
        return client_order_id(decision_id, Leg.ENTRY, prefix=self._prefix)

    def tp_id(self, decision_id: str, attempt: int = 0) -> str:
        return client_algo_id(decision_id, Leg.TAKE_PROFIT, attempt, prefix=self._prefix)

    def sl_id(self, decision_id: str, attempt: int = 0) -> str:
        return client_algo_id(decision_id, Leg.STOP, attempt, prefix=self._prefix)

    def close_id(self, decision_id: str, attempt: int = 0) -> str:
        return client_order_id(decision_id, Leg.CLOSE, attempt, prefix=self._prefix)

    # -- prices ----------------------------------------------------------------------------------------

    def protection_prices(
        self, symbol: str, side: Side, avg_price: Decimal, stop_distance: Decimal, tp_distance: Decimal
    ) -> ProtectionPrices:
        """Triggers at ``avg_price`` ± the distances, rounded so neither fires before its level."""
        inst = self.instrument(symbol)
        close = side.opposite
        tp_raw = avg_price + tp_distance * side.sign
        sl_raw = avg_price - stop_distance * side.sign
        tp = round_trigger_price(inst, self._positive(inst, tp_raw), close, OrderType.TAKE_PROFIT_MARKET)
        sl = round_trigger_price(inst, self._positive(inst, sl_raw), close, OrderType.STOP_MARKET)
        return ProtectionPrices(tp=tp, sl=sl)

    def adjusted_stop(self, symbol: str, side: Side, mark: Decimal, stop_distance: Decimal) -> Decimal:
        """A stop trigger just beyond the current mark, after the first one was refused with -2021.

        The original level is already passed, so the position has lost more than planned; the new stop sits
        a quarter of the planned distance (at least one tick) beyond the mark, tight enough to cap the damage
        and far enough not to be refused again at once.
        """
        inst = self.instrument(symbol)
        gap = max(stop_distance / 4, inst.filters.tick_size)
        raw = mark - gap * side.sign
        return round_trigger_price(inst, self._positive(inst, raw), side.opposite, OrderType.STOP_MARKET)

    @staticmethod
    def _positive(inst: Instrument, price: Decimal) -> Decimal:
        floor = max(inst.filters.min_price, inst.filters.tick_size)
        return price if price > floor else floor

    # -- requests --------------------------------------------------------------------------------------

    def entry_request(self, decision: Decision, verdict: RiskVerdict) -> OrderRequest:
        """The MARKET entry; the quantity floored to the market step (the venue judges the notional).

        Raises ``ValueError`` when the sized quantity rounds to nothing.
        """
        inst = self.instrument(decision.symbol)
        qty = round_qty(inst, verdict.qty, market=True)
        if qty <= 0:
            raise ValueError(f"{decision.symbol}: quantity {verdict.qty} rounds to 0 at the market step")
        return OrderRequest(
            symbol=decision.symbol,
            side=decision.side,
            type=OrderType.MARKET,
            quantity=qty,
            client_order_id=self.entry_id(decision.decision_id),
        )

    def tp_request(self, symbol: str, side: Side, trigger: Decimal, cid: str) -> AlgoOrderRequest:
        """TAKE_PROFIT_MARKET closing the whole position of ``side`` at ``trigger``."""
        return AlgoOrderRequest(
            symbol=symbol,
            side=side.opposite,
            type=OrderType.TAKE_PROFIT_MARKET,
            trigger_price=trigger,
            close_position=True,
            working_type=self._tp_working,
            client_algo_id=cid,
        )

    def sl_request(self, symbol: str, side: Side, trigger: Decimal, cid: str) -> AlgoOrderRequest:
        """STOP_MARKET on the mark price, closing the whole position of ``side`` (a wick of the last price
        does not stop us out; a manipulated last price cannot either)."""
        return AlgoOrderRequest(
            symbol=symbol,
            side=side.opposite,
            type=OrderType.STOP_MARKET,
            trigger_price=trigger,
            close_position=True,
            working_type=WorkingType.MARK_PRICE,
            client_algo_id=cid,
        )

    def close_request(self, symbol: str, position_qty: Decimal, cid: str) -> OrderRequest:
        """A reduce-only MARKET order flattening ``position_qty`` (signed), capped at the market maximum."""
        inst = self.instrument(symbol)
        qty = round_qty(inst, abs(position_qty), market=True, mode=Rounding.UP)
        qty = min(qty, inst.filters.market_max_qty)
        return OrderRequest(
            symbol=symbol,
            side=Side.SELL if position_qty > 0 else Side.BUY,
            type=OrderType.MARKET,
            quantity=qty,
            reduce_only=True,
            client_order_id=cid,
        )

    # -- calls -----------------------------------------------------------------------------------------

    async def place(self, req: OrderRequest) -> Order:
        return await self.adapter.place_order(req)

    async def place_algo(self, req: AlgoOrderRequest) -> AlgoOrder:
        return await self.adapter.place_algo_order(req)

    async def cancel_algo(self, client_algo_id: str) -> bool:
        """Cancel one of our algo orders; False if the venue no longer has it open (already done)."""
        try:
            await self.adapter.cancel_algo_order(client_algo_id=client_algo_id)
        except RejectedError as err:
            if err.code in NOT_FOUND_CODES:
                return False
            raise
        return True

    async def cancel_rest(self, symbol: str, client_order_id: str) -> Order | None:
        """Cancel what is left of a regular order; ``None`` if it is no longer open."""
        try:
            return await self.adapter.cancel_order(symbol, client_order_id=client_order_id)
        except RejectedError as err:
            if err.code in NOT_FOUND_CODES:
                return None
            raise

    async def mark_price(self, symbol: str) -> Decimal:
        return (await self.adapter.mark_price(symbol)).mark_price

    def round_price(self, symbol: str, price: Decimal) -> Decimal:
        return round_price(self.instrument(symbol), price)
