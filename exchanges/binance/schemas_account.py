"""Account REST schemas: account v3, balance v3, positionRisk v3, income, leverage, and their conversion
to domain types (:class:`Balance`, :class:`Position`, :class:`Income`, :class:`AccountSnapshot`).

Field names follow Binance's USDⓈ-M "Account Endpoints" pages. positionRisk v3 no longer carries
``leverage`` and ``marginType`` (v2 did): the schema reads them when present, otherwise the position keeps
the domain defaults and the margin type is inferred from ``isolatedWallet`` (non-zero only when isolated).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.types import ZERO, Balance, Income, IncomeType, MarginType, Position, PositionSide
from exchanges.adapter import AccountSnapshot
from exchanges.binance.schemas import Schema, dec, enum_of

__all__ = [
    "AccountAssetSchema",
    "AccountV3Schema",
    "BalanceSchema",
    "IncomeSchema",
    "LeverageSchema",
    "PositionRiskSchema",
]


class AccountAssetSchema(Schema, frozen=True):
    """One asset of account v3."""

    asset: str
    wallet_balance: Decimal
    available_balance: Decimal
    unrealized_profit: Decimal = ZERO
    margin_balance: Decimal = ZERO
    cross_wallet_balance: Decimal = ZERO
    cross_un_pnl: Decimal = ZERO
    max_withdraw_amount: Decimal = ZERO
    update_time: int = 0

    def to_balance(self) -> Balance:
        return Balance(
            asset=self.asset,
            wallet_balance=self.wallet_balance,
            available_balance=self.available_balance,
            cross_wallet_balance=self.cross_wallet_balance,
            cross_unrealized_pnl=self.cross_un_pnl,
            margin_balance=self.margin_balance,
            max_withdraw_amount=self.max_withdraw_amount,
            update_time=self.update_time,
        )


class AccountV3Schema(Schema, frozen=True):
    """GET /fapi/v3/account (its ``positions`` lack entry prices: use positionRisk for positions)."""

    total_initial_margin: Decimal
    total_maint_margin: Decimal
    total_wallet_balance: Decimal
    total_unrealized_profit: Decimal
    total_margin_balance: Decimal
    available_balance: Decimal
    max_withdraw_amount: Decimal
    assets: list[AccountAssetSchema]

    def to_snapshot(self) -> AccountSnapshot:
        return AccountSnapshot(
            wallet_balance=self.total_wallet_balance,
            unrealized_pnl=self.total_unrealized_profit,
            margin_balance=self.total_margin_balance,
            initial_margin=self.total_initial_margin,
            maint_margin=self.total_maint_margin,
            available_balance=self.available_balance,
            max_withdraw_amount=self.max_withdraw_amount,
            balances=tuple(a.to_balance() for a in self.assets),
        )


class BalanceSchema(Schema, frozen=True):
    """A row of GET /fapi/v3/balance (``balance`` is the wallet balance)."""

    asset: str
    balance: Decimal
    available_balance: Decimal
    cross_wallet_balance: Decimal = ZERO
    cross_un_pnl: Decimal = ZERO
    max_withdraw_amount: Decimal = ZERO
    update_time: int = 0

    def to_balance(self) -> Balance:
        return Balance(
            asset=self.asset,
            wallet_balance=self.balance,
            available_balance=self.available_balance,
            cross_wallet_balance=self.cross_wallet_balance,
            cross_unrealized_pnl=self.cross_un_pnl,
            margin_balance=self.balance + self.cross_un_pnl,
            max_withdraw_amount=self.max_withdraw_amount,
            update_time=self.update_time,
        )


class PositionRiskSchema(Schema, frozen=True):
    """A row of GET /fapi/v3/positionRisk (v2 rows decode too)."""

    symbol: str
    position_amt: Decimal
    entry_price: Decimal
    position_side: str = "BOTH"
    break_even_price: str = "0"
    mark_price: str = "0"
    un_realized_profit: str = "0"
    liquidation_price: str = "0"
    isolated_margin: str = "0"
    isolated_wallet: str = "0"
    notional: str = "0"
    initial_margin: str = "0"
    maint_margin: str = "0"
    update_time: int = 0
    leverage: str | int | None = None  # v2 only
    margin_type: str | None = None  # v2 only: "cross" / "isolated"

    def to_position(self) -> Position:
        if self.margin_type is not None:
            isolated = self.margin_type.lower() == "isolated"
        else:
            isolated = dec(self.isolated_wallet) != 0
        position = Position(
            symbol=self.symbol,
            qty=self.position_amt,
            entry_price=self.entry_price,
            break_even_price=dec(self.break_even_price),
            mark_price=dec(self.mark_price),
            unrealized_pnl=dec(self.un_realized_profit),
            liquidation_price=dec(self.liquidation_price),
            margin_type=MarginType.ISOLATED if isolated else MarginType.CROSSED,
            isolated_margin=dec(self.isolated_margin),
            initial_margin=dec(self.initial_margin),
            maint_margin=dec(self.maint_margin),
            notional=dec(self.notional),
            position_side=enum_of(PositionSide, self.position_side),
            update_time=self.update_time,
        )
        if self.leverage is not None:
            position = msgspec.structs.replace(position, leverage=int(self.leverage))
        return position


class IncomeSchema(Schema, frozen=True):
    """A row of GET /fapi/v1/income."""

    symbol: str
    income_type: str
    income: Decimal
    asset: str
    time: int
    tran_id: int
    info: str = ""
    trade_id: str = ""

    def to_income(self) -> Income:
        return Income(
            symbol=self.symbol,
            income_type=enum_of(IncomeType, self.income_type),
            income=self.income,
            asset=self.asset,
            ts=self.time,
            tran_id=self.tran_id,
            trade_id=self.trade_id,
            info=self.info,
        )


class LeverageSchema(Schema, frozen=True):
    """POST /fapi/v1/leverage: ``{"leverage": 21, "maxNotionalValue": "1000000", "symbol": "BTCUSDT"}``."""

    leverage: int
    max_notional_value: Decimal
    symbol: str
