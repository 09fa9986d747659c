"""Binance USDⓈ-M account response schemas: balance, account (v2/v3), income, commission rate.

Same conventions as :mod:`wire`. Totals are derived here from the balances and positions the core
reports, in single-asset mode (every symbol margined in its quote asset).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import msgspec

from core.types import ZERO, Balance, Income, Instrument, MarginType, Position
from exchanges.sandbox.server.wire import BALANCE_PLACES, fixed, plain

__all__ = [
    "AccountV2Wire",
    "AccountV3Wire",
    "BalanceWire",
    "IncomeWire",
    "SymbolConfigWire",
    "account_v2_wire",
    "account_v3_wire",
    "balance_wire",
    "income_wire",
]

ACCOUNT_ALIAS = "SgsR"


def _amount(value: Decimal) -> str:
    return fixed(value, BALANCE_PLACES)


class _Wire(msgspec.Struct, rename="camel", omit_defaults=False):
    pass


class BalanceWire(_Wire):
    """A row of GET /fapi/v2/balance and /fapi/v3/balance."""

    account_alias: str
    asset: str
    balance: str
    cross_wallet_balance: str
    cross_un_pnl: str
    available_balance: str
    max_withdraw_amount: str
    margin_available: bool
    update_time: int


def balance_wire(b: Balance) -> BalanceWire:
    return BalanceWire(
        account_alias=ACCOUNT_ALIAS,
        asset=b.asset,
        balance=_amount(b.wallet_balance),
        cross_wallet_balance=_amount(b.cross_wallet_balance),
        cross_un_pnl=_amount(b.cross_unrealized_pnl),
        available_balance=_amount(b.available_balance),
        max_withdraw_amount=_amount(b.max_withdraw_amount),
        margin_available=True,
        update_time=b.update_time,
    )


class AssetV3Wire(_Wire):
    asset: str
    wallet_balance: str
    unrealized_profit: str
    margin_balance: str
    maint_margin: str
    initial_margin: str
    position_initial_margin: str
    open_order_initial_margin: str
    cross_wallet_balance: str
    cross_un_pnl: str
    available_balance: str
    max_withdraw_amount: str
    update_time: int


class AssetV2Wire(AssetV3Wire):
    margin_available: bool = True


class PositionV3Wire(_Wire):
    symbol: str
    position_side: str
    position_amt: str
    unrealized_profit: str
    isolated_margin: str
    notional: str
    isolated_wallet: str
    initial_margin: str
    maint_margin: str
    update_time: int


class PositionV2Wire(_Wire):
    symbol: str
    initial_margin: str
    maint_margin: str
    unrealized_profit: str
    position_initial_margin: str
    open_order_initial_margin: str
    leverage: str
    isolated: bool
    entry_price: str
    max_notional: str
    bid_notional: str
    ask_notional: str
    position_side: str
    position_amt: str
    update_time: int


class AccountV3Wire(_Wire):
    total_initial_margin: str
    total_maint_margin: str
    total_wallet_balance: str
    total_unrealized_profit: str
    total_margin_balance: str
    total_position_initial_margin: str
    total_open_order_initial_margin: str
    total_cross_wallet_balance: str
    total_cross_un_pnl: str
    available_balance: str
    max_withdraw_amount: str
    assets: list[AssetV3Wire]
    positions: list[PositionV3Wire]


class AccountV2Wire(_Wire):
    fee_tier: int
    fee_burn: bool
    can_trade: bool
    can_deposit: bool
    can_withdraw: bool
    update_time: int
    multi_assets_margin: bool
    trade_group_id: int
    total_initial_margin: str
    total_maint_margin: str
    total_wallet_balance: str
    total_unrealized_profit: str
    total_margin_balance: str
    total_position_initial_margin: str
    total_open_order_initial_margin: str
    total_cross_wallet_balance: str
    total_cross_un_pnl: str
    available_balance: str
    max_withdraw_amount: str
    assets: list[AssetV2Wire]
    positions: list[PositionV2Wire]


def _asset_fields(b: Balance, positions: Sequence[Position]) -> dict[str, object]:
    mine = [p for p in positions if p.qty != 0]
    upnl = sum((p.unrealized_pnl for p in mine), ZERO)
    initial = sum((p.initial_margin for p in mine), ZERO)
    maint = sum((p.maint_margin for p in mine), ZERO)
    return {
        "asset": b.asset,
        "wallet_balance": _amount(b.wallet_balance),
        "unrealized_profit": _amount(upnl),
        "margin_balance": _amount(b.wallet_balance + upnl),
        "maint_margin": _amount(maint),
        "initial_margin": _amount(initial),
        "position_initial_margin": _amount(initial),
        "open_order_initial_margin": _amount(ZERO),
        "cross_wallet_balance": _amount(b.cross_wallet_balance),
        "cross_un_pnl": _amount(upnl),
        "available_balance": _amount(b.available_balance),
        "max_withdraw_amount": _amount(b.max_withdraw_amount),
        "update_time": b.update_time,
    }


def _totals(balances: Sequence[Balance], positions: Sequence[Position]) -> dict[str, str]:
    wallet = sum((b.wallet_balance for b in balances), ZERO)
    cross_wallet = sum((b.cross_wallet_balance for b in balances), ZERO)
    upnl = sum((p.unrealized_pnl for p in positions), ZERO)
    initial = sum((p.initial_margin for p in positions), ZERO)
    maint = sum((p.maint_margin for p in positions), ZERO)
    return {
        "total_initial_margin": _amount(initial),
        "total_maint_margin": _amount(maint),
        "total_wallet_balance": _amount(wallet),
        "total_unrealized_profit": _amount(upnl),
        "total_margin_balance": _amount(wallet + upnl),
        "total_position_initial_margin": _amount(initial),
        "total_open_order_initial_margin": _amount(ZERO),
        "total_cross_wallet_balance": _amount(cross_wallet),
        "total_cross_un_pnl": _amount(upnl),
        "available_balance": _amount(sum((b.available_balance for b in balances), ZERO)),
        "max_withdraw_amount": _amount(sum((b.max_withdraw_amount for b in balances), ZERO)),
    }


def account_v3_wire(balances: Sequence[Balance], positions: Sequence[Position]) -> AccountV3Wire:
    """GET /fapi/v3/account: only non-zero positions are listed."""
    open_positions = [p for p in positions if p.qty != 0]
    return AccountV3Wire(
        **_totals(balances, positions),
        assets=[AssetV3Wire(**_asset_fields(b, positions)) for b in balances],  # type: ignore[arg-type]
        positions=[
            PositionV3Wire(
                symbol=p.symbol,
                position_side=str(p.position_side),
                position_amt=plain(p.qty),
                unrealized_profit=_amount(p.unrealized_pnl),
                isolated_margin=plain(p.isolated_margin),
                notional=plain(p.notional),
                isolated_wallet=plain(p.isolated_margin),
                initial_margin=_amount(p.initial_margin),
                maint_margin=_amount(p.maint_margin),
                update_time=p.update_time,
            )
            for p in open_positions
        ],
    )


def account_v2_wire(
    balances: Sequence[Balance],
    positions: Sequence[Position],
    instruments: Mapping[str, Instrument],
    max_notional: Mapping[str, Decimal],
) -> AccountV2Wire:
    """GET /fapi/v2/account: every symbol's position, flat ones included."""
    return AccountV2Wire(
        fee_tier=0,
        fee_burn=False,
        can_trade=True,
        can_deposit=True,
        can_withdraw=True,
        update_time=0,
        multi_assets_margin=False,
        trade_group_id=-1,
        **_totals(balances, positions),
        assets=[AssetV2Wire(**_asset_fields(b, positions)) for b in balances],  # type: ignore[arg-type]
        positions=[
            PositionV2Wire(
                symbol=p.symbol,
                initial_margin=_amount(p.initial_margin),
                maint_margin=_amount(p.maint_margin),
                unrealized_profit=_amount(p.unrealized_pnl),
                position_initial_margin=_amount(p.initial_margin),
                open_order_initial_margin=_amount(ZERO),
                leverage=str(p.leverage),
                isolated=p.margin_type is MarginType.ISOLATED,
                entry_price=plain(p.entry_price),
                max_notional=plain(max_notional.get(p.symbol, ZERO)),
                bid_notional="0",
                ask_notional="0",
                position_side=str(p.position_side),
                position_amt=fixed(p.qty, instruments[p.symbol].quantity_precision)
                if p.symbol in instruments
                else plain(p.qty),
                update_time=p.update_time,
            )
            for p in positions
        ],
    )


class SymbolConfigWire(_Wire):
    """A row of GET /fapi/v1/symbolConfig."""

    symbol: str
    margin_type: str  # CROSSED / ISOLATED
    is_auto_add_margin: bool
    leverage: int
    max_notional_value: str


class IncomeWire(_Wire):
    symbol: str
    income_type: str
    income: str
    asset: str
    info: str
    time: int
    tran_id: int
    trade_id: str


def income_wire(i: Income) -> IncomeWire:
    return IncomeWire(
        symbol=i.symbol,
        income_type=str(i.income_type),
        income=plain(i.income),
        asset=i.asset,
        info=i.info,
        time=i.ts,
        tran_id=i.tran_id,
        trade_id=i.trade_id,
    )
