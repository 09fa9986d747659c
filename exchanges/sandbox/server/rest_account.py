"""Account endpoints: leverage, marginType, symbolConfig, positionSide/dual, account, balance, positionRisk,
income, commissionRate, multiAssetsMargin, apiTradingStatus.
"""

from __future__ import annotations

from decimal import Decimal

from core.types import IncomeType, MarginType
from exchanges.sandbox.engine.margin import max_notional_for_leverage as max_notional
from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.server.routing import Call, Route
from exchanges.sandbox.server.wire import plain, position_v2_wire, position_v3_wire
from exchanges.sandbox.server.wire_account import (
    SymbolConfigWire,
    account_v2_wire,
    account_v3_wire,
    balance_wire,
    income_wire,
)

__all__ = ["ROUTES"]

SUCCESS = {"code": 200, "msg": "success"}


def _symbol(call: Call) -> str:
    return call.instrument(call.params.req_symbol()).symbol


def change_leverage(call: Call) -> object:
    symbol = _symbol(call)
    leverage = call.params.req_int("leverage")
    if not 1 <= leverage <= 125:
        raise ExchangeError.invalid_leverage()
    lev, cap = call.ctx.core.set_leverage(call.account, symbol, leverage)
    return {"leverage": lev, "maxNotionalValue": plain(cap), "symbol": symbol}


def symbol_config(call: Call) -> object:
    """GET /fapi/v1/symbolConfig: margin type, leverage and max notional of one symbol or of every symbol."""
    symbol = call.params.opt_symbol()
    if symbol is not None:
        symbol = call.instrument(symbol).symbol
    core = call.ctx.core
    return [
        SymbolConfigWire(
            symbol=pos.symbol,
            margin_type=str(pos.margin_type),
            # A JSON boolean, as the official SDK's model types it (the doc's example shows "false").
            is_auto_add_margin=False,
            leverage=pos.leverage,
            max_notional_value=plain(max_notional(core.leverage_brackets(pos.symbol), pos.leverage)),
        )
        for pos in core.positions(call.account, symbol)
    ]


def change_margin_type(call: Call) -> object:
    symbol = _symbol(call)
    margin_type = call.params.req_enum("marginType", MarginType)
    call.ctx.core.set_margin_type(call.account, symbol, margin_type)
    return SUCCESS


def change_position_mode(call: Call) -> object:
    dual = call.params.opt_bool("dualSidePosition")
    if dual is None:
        raise ExchangeError.mandatory_missing("dualSidePosition")
    call.ctx.core.set_position_mode(call.account, dual)
    return SUCCESS


def position_mode(call: Call) -> object:
    return {"dualSidePosition": call.ctx.core.position_mode(call.account)}


def multi_assets_mode(call: Call) -> object:
    return {"multiAssetsMargin": False}


def _max_notionals(call: Call) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for pos in call.ctx.core.positions(call.account, None):
        brackets = call.ctx.core.leverage_brackets(pos.symbol)
        out[pos.symbol] = max_notional(brackets, pos.leverage)
    return out


def account_v2(call: Call) -> object:
    core = call.ctx.core
    instruments = dict(core.instruments)
    positions = core.positions(call.account, None)
    return account_v2_wire(core.balances(call.account), positions, instruments, _max_notionals(call))


def account_v3(call: Call) -> object:
    core = call.ctx.core
    return account_v3_wire(core.balances(call.account), core.positions(call.account, None))


def balance(call: Call) -> object:
    return [balance_wire(b) for b in call.ctx.core.balances(call.account)]


def position_risk_v2(call: Call) -> object:
    symbol = call.params.opt_symbol()
    if symbol is not None:
        symbol = call.instrument(symbol).symbol
    out: list[object] = []
    for pos in call.ctx.core.positions(call.account, symbol):
        inst = call.instrument(pos.symbol)
        cap = max_notional(call.ctx.core.leverage_brackets(pos.symbol), pos.leverage)
        out.append(position_v2_wire(pos, inst, cap))
    return out


def position_risk_v3(call: Call) -> object:
    """Only symbols with a position or open orders, as Binance's v3 documents."""
    core = call.ctx.core
    symbol = call.params.opt_symbol()
    if symbol is not None:
        symbol = call.instrument(symbol).symbol
    with_orders = {o.symbol for o in core.open_orders(call.account, symbol)}
    return [
        position_v3_wire(pos, call.instrument(pos.symbol))
        for pos in core.positions(call.account, symbol)
        if pos.qty != 0 or pos.symbol in with_orders
    ]


def income(call: Call) -> object:
    p = call.params
    symbol = p.opt_symbol()
    if symbol is not None:
        symbol = call.instrument(symbol).symbol
    rows = call.ctx.core.income(
        call.account,
        symbol=symbol,
        income_type=p.opt_enum("incomeType", IncomeType),
        start_time=p.opt_int("startTime"),
        end_time=p.opt_int("endTime"),
        limit=p.limit(100, 1000),
    )
    return [income_wire(i) for i in rows]


def commission_rate(call: Call) -> object:
    symbol = _symbol(call)
    maker, taker = call.ctx.core.commission_rate(call.account, symbol)
    return {
        "symbol": symbol,
        "makerCommissionRate": plain(maker),
        "takerCommissionRate": plain(taker),
        "rpiCommissionRate": "0",
    }


def api_trading_status(call: Call) -> object:
    return {"indicators": {}, "updateTime": call.now_ms}


ROUTES = (
    Route("POST", "/fapi/v1/leverage", change_leverage, signed=True),
    Route("POST", "/fapi/v1/marginType", change_margin_type, signed=True),
    Route("GET", "/fapi/v1/symbolConfig", symbol_config, signed=True),
    Route("POST", "/fapi/v1/positionSide/dual", change_position_mode, signed=True),
    Route("GET", "/fapi/v1/positionSide/dual", position_mode, signed=True),
    Route("GET", "/fapi/v1/multiAssetsMargin", multi_assets_mode, signed=True),
    Route("GET", "/fapi/v2/account", account_v2, signed=True),
    Route("GET", "/fapi/v3/account", account_v3, signed=True),
    Route("GET", "/fapi/v2/balance", balance, signed=True),
    Route("GET", "/fapi/v3/balance", balance, signed=True),
    Route("GET", "/fapi/v2/positionRisk", position_risk_v2, signed=True),
    Route("GET", "/fapi/v3/positionRisk", position_risk_v3, signed=True),
    Route("GET", "/fapi/v1/income", income, signed=True),
    Route("GET", "/fapi/v1/commissionRate", commission_rate, signed=True),
    Route("GET", "/fapi/v1/apiTradingStatus", api_trading_status, signed=True),
)
