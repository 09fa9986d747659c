"""Binance USDⓈ-M public market-data response schemas (exchangeInfo, klines, trades, tickers...).

Same conventions as :mod:`wire`: decimals as exact strings, ids and times as integers. Leverage
brackets are the exception Binance makes: their amounts are JSON numbers, written here from the exact
decimal text through ``msgspec.Raw`` (never through a float).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.types import BookTicker, Candle, Instrument, LeverageBracket, MarkPrice, Trade
from exchanges.sandbox.server.ticker_stats import Ticker24h
from exchanges.sandbox.server.wire import fixed, plain

__all__ = [
    "AggTradeWire",
    "BookTickerWire",
    "BracketWire",
    "DepthWire",
    "ExchangeInfoWire",
    "PremiumIndexWire",
    "PriceTickerWire",
    "RateLimitWire",
    "SymbolBracketsWire",
    "SymbolWire",
    "Ticker24hWire",
    "agg_trade_wire",
    "book_ticker_wire",
    "brackets_wire",
    "kline_row",
    "premium_index_wire",
    "symbol_wire",
    "ticker_24h_wire",
]

ORDER_TYPES = (
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
)
TIME_IN_FORCE = ("GTC", "IOC", "FOK", "GTX", "GTD")
# Far-future delivery date Binance publishes for perpetuals.
PERPETUAL_DELIVERY = 4133404800000
INTEREST_RATE = "0.00010000"


def _given(value: Decimal) -> str:
    """The decimal as configured (``0.10`` stays ``0.10``), plain notation."""
    return format(value, "f")


class _Wire(msgspec.Struct, rename="camel", omit_defaults=False):
    pass


class RateLimitWire(_Wire):
    rate_limit_type: str
    interval: str
    interval_num: int
    limit: int


class AssetWire(_Wire):
    asset: str
    margin_available: bool
    auto_asset_exchange: str


class SymbolWire(_Wire):
    symbol: str
    pair: str
    contract_type: str
    delivery_date: int
    onboard_date: int
    status: str
    maint_margin_percent: str
    required_margin_percent: str
    base_asset: str
    quote_asset: str
    margin_asset: str
    price_precision: int
    quantity_precision: int
    base_asset_precision: int
    quote_precision: int
    underlying_type: str
    underlying_sub_type: list[str]
    settle_plan: int
    trigger_protect: str
    liquidation_fee: str
    market_take_bound: str
    max_move_order_limit: int
    filters: list[dict[str, str | int]]
    order_types: list[str]
    time_in_force: list[str]


class ExchangeInfoWire(_Wire):
    timezone: str
    server_time: int
    futures_type: str
    rate_limits: list[RateLimitWire]
    exchange_filters: list[str]
    assets: list[AssetWire]
    symbols: list[SymbolWire]


def symbol_wire(inst: Instrument) -> SymbolWire:
    f = inst.filters
    filters: list[dict[str, str | int]] = [
        {
            "minPrice": _given(f.min_price),
            "maxPrice": _given(f.max_price),
            "filterType": "PRICE_FILTER",
            "tickSize": _given(f.tick_size),
        },
        {
            "stepSize": _given(f.step_size),
            "filterType": "LOT_SIZE",
            "maxQty": _given(f.max_qty),
            "minQty": _given(f.min_qty),
        },
        {
            "stepSize": _given(f.market_step_size),
            "filterType": "MARKET_LOT_SIZE",
            "maxQty": _given(f.market_max_qty),
            "minQty": _given(f.market_min_qty),
        },
        {"limit": f.max_num_orders, "filterType": "MAX_NUM_ORDERS"},
        {"limit": f.max_num_algo_orders, "filterType": "MAX_NUM_ALGO_ORDERS"},
        {"notional": _given(f.min_notional), "filterType": "MIN_NOTIONAL"},
        {
            "multiplierDown": _given(f.multiplier_down),
            "multiplierUp": _given(f.multiplier_up),
            "multiplierDecimal": str(f.multiplier_decimal),
            "filterType": "PERCENT_PRICE",
        },
    ]
    return SymbolWire(
        symbol=inst.symbol,
        pair=inst.symbol,
        contract_type=inst.contract_type,
        delivery_date=PERPETUAL_DELIVERY,
        onboard_date=inst.onboard_date,
        status=inst.status,
        maint_margin_percent="2.5000",
        required_margin_percent="5.0000",
        base_asset=inst.base_asset,
        quote_asset=inst.quote_asset,
        margin_asset=inst.margin_asset,
        price_precision=inst.price_precision,
        quantity_precision=inst.quantity_precision,
        base_asset_precision=inst.base_asset_precision,
        quote_precision=inst.quote_precision,
        underlying_type="COIN",
        underlying_sub_type=[],
        settle_plan=0,
        trigger_protect=_given(inst.trigger_protect),
        liquidation_fee=_given(inst.liquidation_fee),
        market_take_bound=_given(inst.market_take_bound),
        max_move_order_limit=10000,
        filters=filters,
        order_types=list(ORDER_TYPES),
        time_in_force=list(TIME_IN_FORCE),
    )


def assets_wire(instruments: list[Instrument]) -> list[AssetWire]:
    margin_assets = sorted({inst.margin_asset for inst in instruments})
    return [AssetWire(asset=a, margin_available=True, auto_asset_exchange="-10000") for a in margin_assets]


KlineRow = tuple[int, str, str, str, str, str, int, str, int, str, str, str]


def kline_row(c: Candle, inst: Instrument) -> KlineRow:
    """One kline as Binance's 12-element array, prices and volumes at the symbol's precision."""
    px, qty = inst.price_precision, inst.quantity_precision
    return (
        c.open_time,
        fixed(c.open, px),
        fixed(c.high, px),
        fixed(c.low, px),
        fixed(c.close, px),
        fixed(c.volume, qty),
        c.close_time,
        plain(c.quote_volume),
        c.trades,
        fixed(c.taker_buy_volume, qty),
        plain(c.taker_buy_quote_volume),
        "0",
    )


class AggTradeWire(msgspec.Struct):
    a: int
    p: str
    q: str
    nq: str
    f: int
    l: int  # noqa: E741 - Binance's field name
    T: int
    m: bool


def agg_trade_wire(t: Trade, inst: Instrument) -> AggTradeWire:
    qty = fixed(t.qty, inst.quantity_precision)
    return AggTradeWire(
        a=t.trade_id,
        p=fixed(t.price, inst.price_precision),
        q=qty,
        nq=qty,
        f=t.first_trade_id or t.trade_id,
        l=t.last_trade_id or t.trade_id,
        T=t.ts,
        m=t.is_buyer_maker,
    )


class DepthWire(msgspec.Struct):
    lastUpdateId: int  # noqa: N815
    E: int
    T: int
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]


class PriceTickerWire(_Wire):
    symbol: str
    price: str
    time: int


class BookTickerWire(_Wire):
    symbol: str
    bid_price: str
    bid_qty: str
    ask_price: str
    ask_qty: str
    time: int


def book_ticker_wire(b: BookTicker, inst: Instrument) -> BookTickerWire:
    pp, qp = inst.price_precision, inst.quantity_precision
    return BookTickerWire(
        symbol=b.symbol,
        bid_price=fixed(b.bid_price, pp),
        bid_qty=fixed(b.bid_qty, qp),
        ask_price=fixed(b.ask_price, pp),
        ask_qty=fixed(b.ask_qty, qp),
        time=b.ts,
    )


class Ticker24hWire(_Wire):
    symbol: str
    price_change: str
    price_change_percent: str
    weighted_avg_price: str
    last_price: str
    last_qty: str
    open_price: str
    high_price: str
    low_price: str
    volume: str
    quote_volume: str
    open_time: int
    close_time: int
    first_id: int
    last_id: int
    count: int


def ticker_24h_wire(t: Ticker24h, inst: Instrument) -> Ticker24hWire:
    """GET /fapi/v1/ticker/24hr row: prices and ``lastQty`` at the symbol's precision."""
    pp = inst.price_precision
    return Ticker24hWire(
        symbol=t.symbol,
        price_change=fixed(t.price_change, pp),
        price_change_percent=fixed(t.price_change_percent, 3),
        weighted_avg_price=fixed(t.weighted_avg_price, pp),
        last_price=fixed(t.last_price, pp),
        last_qty=fixed(t.last_qty, inst.quantity_precision),
        open_price=fixed(t.open_price, pp),
        high_price=fixed(t.high_price, pp),
        low_price=fixed(t.low_price, pp),
        volume=plain(t.volume),
        quote_volume=plain(t.quote_volume),
        open_time=t.open_time,
        close_time=t.close_time,
        first_id=t.first_id,
        last_id=t.last_id,
        count=t.count,
    )


class PremiumIndexWire(_Wire):
    symbol: str
    mark_price: str
    index_price: str
    estimated_settle_price: str
    last_funding_rate: str
    interest_rate: str
    next_funding_time: int
    time: int


def premium_index_wire(m: MarkPrice) -> PremiumIndexWire:
    return PremiumIndexWire(
        symbol=m.symbol,
        mark_price=fixed(m.mark_price, 8),
        index_price=fixed(m.index_price, 8),
        estimated_settle_price=fixed(m.estimated_settle_price, 8),
        last_funding_rate=fixed(m.funding_rate, 8),
        interest_rate=INTEREST_RATE,
        next_funding_time=m.next_funding_time,
        time=m.ts,
    )


class BracketWire(_Wire):
    bracket: int
    initial_leverage: int
    notional_cap: msgspec.Raw
    notional_floor: msgspec.Raw
    maint_margin_ratio: msgspec.Raw
    cum: msgspec.Raw


class SymbolBracketsWire(_Wire):
    symbol: str
    notional_coef: msgspec.Raw
    brackets: list[BracketWire]


def _number(value: Decimal) -> msgspec.Raw:
    return msgspec.Raw(plain(value).encode())


def brackets_wire(symbol: str, brackets: tuple[LeverageBracket, ...]) -> SymbolBracketsWire:
    return SymbolBracketsWire(
        symbol=symbol,
        notional_coef=msgspec.Raw(b"1.0"),
        brackets=[
            BracketWire(
                bracket=b.bracket,
                initial_leverage=b.max_leverage,
                notional_cap=_number(b.notional_cap),
                notional_floor=_number(b.notional_floor),
                maint_margin_ratio=_number(b.maint_margin_ratio),
                cum=_number(b.cum),
            )
            for b in brackets
        ],
    )
