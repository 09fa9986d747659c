"""Funding settlement and liquidation.

Liquidation (checked on every mark price): a cross account is liquidated when its cross margin balance
(cross wallet + cross unrealized PnL) is at or below the cross maintenance margin; an isolated position when
its isolated wallet + unrealized PnL is at or below its maintenance margin. The core then cancels the
account's open orders on the symbol, closes the position at the mark price with a LIQUIDATION order
(client id ``autoclose-<ts>``, execution type CALCULATED), books the realized PnL capped so the wallet never
goes below zero (the insurance fund absorbs the rest) and charges the clearance fee
(``notional * liquidationFee``, also capped at the remaining wallet) as INSURANCE_CLEAR.
"""

from __future__ import annotations

from decimal import Decimal

from core.types import (
    ZERO,
    ExecutionType,
    Fill,
    IncomeType,
    MarginType,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from exchanges.sandbox.engine.account import AccountState, PositionState, money
from exchanges.sandbox.engine.orders import OrderState
from exchanges.sandbox.engine.trading import TradingCore

__all__ = ["RiskCore"]


class RiskCore(TradingCore):
    """Funding payments and the liquidation engine on top of :class:`TradingCore`."""

    def settle_funding(self, symbol: str, rate: Decimal, ts: int) -> None:
        """Pay or charge ``notional_at_mark * rate`` on every open position (longs pay when rate > 0)."""
        self.instrument(symbol)
        self._tick(ts)
        for api_key in list(self._holders[symbol]):
            acct = self._accounts[api_key]
            pos = acct.position(symbol)
            if pos.qty == 0:
                continue
            amount = money(-pos.qty * self._mark_of(pos) * rate)
            # A payment can never take the wallet below zero.
            amount = max(amount, -acct.wallet)
            if acct.credit(amount, IncomeType.FUNDING_FEE, symbol, ts=self._now, tran_id=self._ids.tran_id()):
                # Binance: cross funding pushes the balance only; isolated funding also its position.
                shown = (symbol,) if pos.margin_type is MarginType.ISOLATED else ()
                self._emit_account(acct, "FUNDING_FEE", shown, balance_change=amount)

    # -- liquidation -----------------------------------------------------------------------------------

    def _cross_breached(self, acct: AccountState) -> bool:
        margin = acct.wallet
        maint = ZERO
        has_cross = False
        for pos in acct.positions.values():
            if pos.qty == 0:
                continue
            if pos.margin_type is MarginType.ISOLATED:
                margin -= pos.isolated_wallet
                continue
            has_cross = True
            _, _, upnl, mm = self._position_figures(pos)
            margin += upnl
            maint += mm
        return has_cross and margin <= maint

    def _isolated_breached(self, pos: PositionState) -> bool:
        _, _, upnl, mm = self._position_figures(pos)
        return pos.isolated_wallet + upnl <= mm

    def _check_liquidations(self, symbol: str) -> None:
        for api_key in list(self._holders[symbol]):
            acct = self._accounts[api_key]
            pos = acct.position(symbol)
            if pos.qty == 0:
                continue
            if pos.margin_type is MarginType.ISOLATED:
                if self._isolated_breached(pos):
                    self._liquidate(acct, pos)
                continue
            if not self._cross_breached(acct):
                continue
            self._liquidate(acct, pos)
            # Still below maintenance: close the account's other cross positions too, largest first.
            others = sorted(
                (p for p in acct.positions.values() if p.qty != 0 and p.margin_type is MarginType.CROSSED),
                key=lambda p: -abs(p.qty * self._mark_of(p)),
            )
            for other in others:
                if not self._cross_breached(acct):
                    break
                self._liquidate(acct, other)

    def _liquidate(self, acct: AccountState, pos: PositionState) -> None:
        symbol = pos.symbol
        inst = self._instruments[symbol]
        self._cancel_symbol_orders(acct, symbol)
        mark = self._mark_of(pos)
        qty = abs(pos.qty)
        side = Side.SELL if pos.qty > 0 else Side.BUY
        order = OrderState(
            account=acct.api_key,
            symbol=symbol,
            order_id=self._ids.order_id(symbol),
            client_order_id=f"autoclose-{self._now}",
            side=side,
            type=OrderType.LIQUIDATION,
            orig_type=OrderType.LIQUIDATION,
            time_in_force=TimeInForce.IOC,
            orig_qty=qty,
            price=mark,
            reduce_only=True,
            time=self._now,
        )
        acct.add_order(order)
        pnl = pos.apply_fill(side, qty, mark)
        pos.update_time = self._now
        pnl = max(pnl, -acct.wallet)
        pos.realized += pnl
        trade_id = self._ids.trade_id(symbol)
        acct.credit(
            pnl,
            IncomeType.REALIZED_PNL,
            symbol,
            ts=self._now,
            tran_id=self._ids.tran_id(),
            trade_id=str(trade_id),
        )
        order.executed_qty = qty
        order.cum_quote = qty * mark
        order.status = OrderStatus.FILLED
        order.update_time = self._now
        fill = Fill(
            symbol=symbol,
            trade_id=trade_id,
            order_id=order.order_id,
            client_order_id=order.client_order_id,
            side=side,
            price=mark,
            qty=qty,
            quote_qty=qty * mark,
            commission=ZERO,
            commission_asset="USDT",
            realized_pnl=pnl,
            is_maker=False,
            ts=self._now,
        )
        acct.add_fill(fill)
        self._set_holder(acct, pos)
        self._emit_order(order, ExecutionType.CALCULATED, fill)
        acct.record_closed(order)
        self._emit_account(acct, "ORDER", (symbol,))
        fee = min(money(qty * mark * inst.liquidation_fee), max(ZERO, acct.wallet))
        if acct.credit(-fee, IncomeType.INSURANCE_CLEAR, symbol, ts=self._now, tran_id=self._ids.tran_id()):
            self._emit_account(acct, "INSURANCE_CLEAR", (symbol,), balance_change=-fee)
        self._expire_reduce_only(acct, symbol)
