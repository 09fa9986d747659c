"""Domain types shared by every package.

All domain values are frozen ``msgspec.Struct``s. Prices and quantities are ``Decimal`` and already
exact: anything that came from the wire was decoded from its decimal string, and anything computed
here was rounded by :mod:`core.precision` with the instrument's filters.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.enums import (
    AlgoStatus,
    AlgoType,
    ExecutionType,
    IncomeType,
    MarginType,
    OrderStatus,
    OrderType,
    PositionSide,
    PriceMatch,
    Side,
    TimeInForce,
    WorkingType,
)

__all__ = [
    "ZERO",
    "AlgoOrder",
    "AlgoOrderRequest",
    "AlgoStatus",
    "AlgoType",
    "Balance",
    "BookTicker",
    "Candle",
    "ExecutionType",
    "Fill",
    "Income",
    "IncomeType",
    "Instrument",
    "LeverageBracket",
    "MarginType",
    "MarkPrice",
    "Order",
    "OrderRequest",
    "OrderStatus",
    "OrderType",
    "Position",
    "PositionSide",
    "PriceMatch",
    "Side",
    "Signal",
    "SymbolFilters",
    "TimeInForce",
    "Trade",
    "WorkingType",
]

ZERO = Decimal(0)


class SymbolFilters(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange filters of one symbol, as exchangeInfo publishes them."""

    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_step_size: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    multiplier_up: Decimal
    multiplier_down: Decimal
    multiplier_decimal: int = 4
    max_num_orders: int = 200
    max_num_algo_orders: int = 10


class LeverageBracket(msgspec.Struct, frozen=True, kw_only=True):
    """One notional tier: up to ``notional_cap`` a position may use ``max_leverage``."""

    bracket: int
    max_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """A USDⓈ-M perpetual contract and the rules its orders must satisfy."""

    symbol: str
    base_asset: str
    quote_asset: str
    margin_asset: str
    price_precision: int
    quantity_precision: int
    base_asset_precision: int
    quote_precision: int
    filters: SymbolFilters
    brackets: tuple[LeverageBracket, ...] = ()
    contract_type: str = "PERPETUAL"
    status: str = "TRADING"
    onboard_date: int = 1569398400000
    liquidation_fee: Decimal = Decimal("0.0125")
    market_take_bound: Decimal = Decimal("0.05")
    trigger_protect: Decimal = Decimal("0.0500")


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """A public trade on the tape (aggregated: one taker order at one price)."""

    symbol: str
    trade_id: int
    price: Decimal
    qty: Decimal
    is_buyer_maker: bool
    ts: int  # trade time, ms
    first_trade_id: int = 0
    last_trade_id: int = 0
    event_ts: int = 0


class BookTicker(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal
    ts: int
    update_id: int = 0


class MarkPrice(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    mark_price: Decimal
    index_price: Decimal
    funding_rate: Decimal
    next_funding_time: int
    ts: int
    estimated_settle_price: Decimal = ZERO


class Candle(msgspec.Struct, frozen=True, kw_only=True):
    symbol: str
    interval: str
    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal = ZERO
    trades: int = 0
    taker_buy_volume: Decimal = ZERO
    taker_buy_quote_volume: Decimal = ZERO
    closed: bool = True


class Order(msgspec.Struct, frozen=True, kw_only=True):
    """A regular order on the exchange's matching engine."""

    symbol: str
    order_id: int
    client_order_id: str
    side: Side
    type: OrderType
    orig_type: OrderType
    time_in_force: TimeInForce
    orig_qty: Decimal
    price: Decimal
    status: OrderStatus
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    avg_price: Decimal = ZERO
    stop_price: Decimal = ZERO
    reduce_only: bool = False
    close_position: bool = False
    position_side: PositionSide = PositionSide.BOTH
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    price_protect: bool = False
    price_match: PriceMatch = PriceMatch.NONE
    self_trade_prevention_mode: str = "EXPIRE_MAKER"
    good_till_date: int = 0
    time: int = 0
    update_time: int = 0


class AlgoOrder(msgspec.Struct, frozen=True, kw_only=True):
    """A conditional order held by the Algo Service until its trigger fires."""

    symbol: str
    algo_id: int
    client_algo_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    trigger_price: Decimal
    status: AlgoStatus
    algo_type: AlgoType = AlgoType.CONDITIONAL
    price: Decimal = ZERO
    time_in_force: TimeInForce = TimeInForce.GTC
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    position_side: PositionSide = PositionSide.BOTH
    close_position: bool = False
    reduce_only: bool = False
    price_protect: bool = False
    price_match: PriceMatch = PriceMatch.NONE
    activate_price: Decimal = ZERO
    callback_rate: Decimal = ZERO
    self_trade_prevention_mode: str = "EXPIRE_MAKER"
    good_till_date: int = 0
    create_time: int = 0
    update_time: int = 0
    trigger_time: int = 0
    actual_order_id: str = ""
    actual_price: Decimal = ZERO  # average fill price of the order it placed
    actual_qty: Decimal = ZERO  # filled quantity of the order it placed
    reject_reason: str = ""


class Fill(msgspec.Struct, frozen=True, kw_only=True):
    """One execution of one of our orders (a row of userTrades)."""

    symbol: str
    trade_id: int
    order_id: int
    client_order_id: str
    side: Side
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    realized_pnl: Decimal
    is_maker: bool
    ts: int
    position_side: PositionSide = PositionSide.BOTH


class Position(msgspec.Struct, frozen=True, kw_only=True):
    """A one-way-mode position: ``qty`` is signed (long > 0, short < 0)."""

    symbol: str
    qty: Decimal
    entry_price: Decimal
    break_even_price: Decimal = ZERO
    mark_price: Decimal = ZERO
    unrealized_pnl: Decimal = ZERO
    liquidation_price: Decimal = ZERO
    leverage: int = 20
    margin_type: MarginType = MarginType.CROSSED
    isolated_margin: Decimal = ZERO
    initial_margin: Decimal = ZERO
    maint_margin: Decimal = ZERO
    notional: Decimal = ZERO
    position_side: PositionSide = PositionSide.BOTH
    update_time: int = 0
    accumulated_realized: Decimal = ZERO  # realized PnL (before fees) booked on this symbol so far

    @property
    def is_flat(self) -> bool:
        return self.qty == 0


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    asset: str
    wallet_balance: Decimal
    available_balance: Decimal
    cross_wallet_balance: Decimal = ZERO
    cross_unrealized_pnl: Decimal = ZERO
    margin_balance: Decimal = ZERO
    max_withdraw_amount: Decimal = ZERO
    update_time: int = 0


class Income(msgspec.Struct, frozen=True, kw_only=True):
    """A row of the income history: every change of the wallet balance has one."""

    symbol: str
    income_type: IncomeType
    income: Decimal
    asset: str
    ts: int
    tran_id: int
    trade_id: str = ""
    info: str = ""


class OrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What we ask a venue to place on its matching engine (prices and quantities already rounded)."""

    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None = None
    price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    client_order_id: str | None = None
    position_side: PositionSide = PositionSide.BOTH
    price_match: PriceMatch = PriceMatch.NONE
    good_till_date: int = 0


class AlgoOrderRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What we ask a venue's Algo Service to hold: a conditional order (TP/SL) and its trigger."""

    symbol: str
    side: Side
    type: OrderType  # STOP_MARKET, TAKE_PROFIT_MARKET, STOP, TAKE_PROFIT, TRAILING_STOP_MARKET
    trigger_price: Decimal | None = None
    quantity: Decimal | None = None
    price: Decimal | None = None
    close_position: bool = False
    reduce_only: bool = False
    working_type: WorkingType = WorkingType.CONTRACT_PRICE
    time_in_force: TimeInForce = TimeInForce.GTC
    price_protect: bool = False
    client_algo_id: str | None = None
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None
    position_side: PositionSide = PositionSide.BOTH


class Signal(msgspec.Struct, frozen=True, kw_only=True):
    """One sensor's verdict on one closed candle: a direction in {-1, 0, +1} and a strength in [0, 1]."""

    sensor_id: str
    symbol: str
    timeframe: str
    direction: int
    strength: float
    ts: int  # close time of the candle it was computed on
