"""Market-data REST schemas: exchangeInfo (symbols, filters, rateLimits), klines, aggTrades, depth,
ticker/price, bookTicker, premiumIndex, leverageBracket, and their conversion to domain types.

Field names and JSON types follow Binance's USDⓈ-M documentation (developers.binance.com, "Market Data
Endpoints"): decimals are strings except in leverageBracket (numbers), ids and times are integers, a kline
is a 12-element array.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import msgspec

from core.types import BookTicker, Candle, Instrument, LeverageBracket, MarkPrice, SymbolFilters, Trade
from exchanges.adapter import DepthSnapshot
from exchanges.binance.schemas import Schema, SchemaError, dec

__all__ = [
    "AggTradeSchema",
    "BookTickerSchema",
    "BracketSchema",
    "DepthSchema",
    "ExchangeInfoSchema",
    "FilterSchema",
    "KlineRow",
    "PremiumIndexSchema",
    "PriceTickerSchema",
    "RateLimitSchema",
    "RateLimitsOnly",
    "SymbolBracketsSchema",
    "SymbolSchema",
    "kline_to_candle",
]

_INTERVAL_MS = {"SECOND": 1_000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


class RateLimitSchema(Schema, frozen=True):
    """One entry of exchangeInfo ``rateLimits``."""

    rate_limit_type: str
    interval: str
    interval_num: int
    limit: int

    @property
    def interval_ms(self) -> int:
        """The window length in milliseconds (``10 SECOND`` → 10000)."""
        try:
            return _INTERVAL_MS[self.interval] * self.interval_num
        except KeyError:
            raise SchemaError(f"unknown rate limit interval {self.interval!r}") from None


class RateLimitsOnly(Schema, frozen=True):
    """exchangeInfo read for its ``rateLimits`` only (the REST client's start; symbols are skipped)."""

    rate_limits: list[RateLimitSchema]


class FilterSchema(Schema, frozen=True):
    """One symbol filter; which fields are present depends on ``filterType``."""

    filter_type: str
    tick_size: Decimal | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    step_size: Decimal | None = None
    min_qty: Decimal | None = None
    max_qty: Decimal | None = None
    notional: Decimal | None = None
    limit: int | None = None
    multiplier_up: Decimal | None = None
    multiplier_down: Decimal | None = None
    multiplier_decimal: int | str | None = None


class SymbolSchema(Schema, frozen=True):
    """One contract of exchangeInfo ``symbols``."""

    symbol: str
    status: str
    base_asset: str
    quote_asset: str
    margin_asset: str
    price_precision: int
    quantity_precision: int
    base_asset_precision: int
    quote_precision: int
    filters: list[FilterSchema]
    contract_type: str = "PERPETUAL"
    onboard_date: int = 0
    trigger_protect: Decimal = Decimal("0.0500")
    liquidation_fee: Decimal = Decimal("0.0125")
    market_take_bound: Decimal = Decimal("0.05")
    order_types: list[str] = msgspec.field(default_factory=list)
    time_in_force: list[str] = msgspec.field(default_factory=list)

    def filter(self, kind: str) -> FilterSchema | None:
        """The filter of type ``kind`` (``PRICE_FILTER``...), or None when the symbol has none."""
        return next((f for f in self.filters if f.filter_type == kind), None)

    def to_filters(self) -> SymbolFilters:
        """The filters as :class:`SymbolFilters`; PRICE_FILTER, LOT_SIZE and PERCENT_PRICE are required."""
        price, lot, pct = self.filter("PRICE_FILTER"), self.filter("LOT_SIZE"), self.filter("PERCENT_PRICE")
        if price is None or lot is None or pct is None:
            raise SchemaError(f"{self.symbol}: PRICE_FILTER, LOT_SIZE and PERCENT_PRICE are required")
        market = self.filter("MARKET_LOT_SIZE") or lot
        notional = self.filter("MIN_NOTIONAL")
        orders, algos = self.filter("MAX_NUM_ORDERS"), self.filter("MAX_NUM_ALGO_ORDERS")
        return SymbolFilters(
            tick_size=dec(price.tick_size),
            min_price=dec(price.min_price),
            max_price=dec(price.max_price),
            step_size=dec(lot.step_size),
            min_qty=dec(lot.min_qty),
            max_qty=dec(lot.max_qty),
            market_step_size=dec(market.step_size),
            market_min_qty=dec(market.min_qty),
            market_max_qty=dec(market.max_qty),
            min_notional=dec(notional.notional) if notional is not None else Decimal(0),
            multiplier_up=dec(pct.multiplier_up),
            multiplier_down=dec(pct.multiplier_down),
            multiplier_decimal=int(pct.multiplier_decimal) if pct.multiplier_decimal is not None else 4,
            max_num_orders=orders.limit if orders is not None and orders.limit is not None else 200,
            max_num_algo_orders=algos.limit if algos is not None and algos.limit is not None else 10,
        )

    def to_instrument(self, brackets: Sequence[LeverageBracket] = ()) -> Instrument:
        return Instrument(
            symbol=self.symbol,
            base_asset=self.base_asset,
            quote_asset=self.quote_asset,
            margin_asset=self.margin_asset,
            price_precision=self.price_precision,
            quantity_precision=self.quantity_precision,
            base_asset_precision=self.base_asset_precision,
            quote_precision=self.quote_precision,
            filters=self.to_filters(),
            brackets=tuple(brackets),
            contract_type=self.contract_type,
            status=self.status,
            onboard_date=self.onboard_date,
            liquidation_fee=self.liquidation_fee,
            market_take_bound=self.market_take_bound,
            trigger_protect=self.trigger_protect,
        )


class ExchangeInfoSchema(Schema, frozen=True):
    """GET /fapi/v1/exchangeInfo."""

    server_time: int
    rate_limits: list[RateLimitSchema]
    symbols: list[SymbolSchema]
    timezone: str = "UTC"

    def to_instruments(self, *, contract_type: str | None = "PERPETUAL") -> list[Instrument]:
        """Every symbol of ``contract_type`` (all when None) as an :class:`Instrument`."""
        return [
            s.to_instrument()
            for s in self.symbols
            if contract_type is None or s.contract_type == contract_type
        ]


# open time, open, high, low, close, volume, close time, quote volume, trades, taker buy base volume,
# taker buy quote volume, ignore.
KlineRow = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal, int, Decimal, int, Decimal, Decimal, str]


def kline_to_candle(symbol: str, interval: str, row: KlineRow, now_ms: int | None = None) -> Candle:
    """One kline row as a :class:`Candle`; ``closed`` when its close time is before ``now_ms`` (server time).

    Without ``now_ms`` every candle is taken as closed; pass it so the still-open last kline is marked.
    """
    return Candle(
        symbol=symbol,
        interval=interval,
        open_time=row[0],
        open=row[1],
        high=row[2],
        low=row[3],
        close=row[4],
        volume=row[5],
        close_time=row[6],
        quote_volume=row[7],
        trades=row[8],
        taker_buy_volume=row[9],
        taker_buy_quote_volume=row[10],
        closed=now_ms is None or row[6] < now_ms,
    )


class AggTradeSchema(msgspec.Struct, frozen=True):
    """A row of GET /fapi/v1/aggTrades (Binance's one-letter names)."""

    a: int
    p: Decimal
    q: Decimal
    f: int
    l: int  # noqa: E741 - Binance's field name
    T: int
    m: bool

    def to_trade(self, symbol: str) -> Trade:
        return Trade(
            symbol=symbol,
            trade_id=self.a,
            price=self.p,
            qty=self.q,
            is_buyer_maker=self.m,
            ts=self.T,
            first_trade_id=self.f,
            last_trade_id=self.l,
        )


class DepthSchema(msgspec.Struct, frozen=True):
    """GET /fapi/v1/depth."""

    lastUpdateId: int  # noqa: N815 - Binance's field name
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]
    E: int = 0
    T: int = 0

    def to_snapshot(self, symbol: str) -> DepthSnapshot:
        return DepthSnapshot(
            symbol=symbol,
            last_update_id=self.lastUpdateId,
            ts=self.T or self.E,
            bids=tuple(self.bids),
            asks=tuple(self.asks),
        )


class PriceTickerSchema(Schema, frozen=True):
    """GET /fapi/v1/ticker/price (one symbol) or a row of it."""

    symbol: str
    price: Decimal
    time: int = 0


class BookTickerSchema(Schema, frozen=True):
    """GET /fapi/v1/ticker/bookTicker (one symbol) or a row of it."""

    symbol: str
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal
    time: int = 0
    last_update_id: int = 0

    def to_book_ticker(self) -> BookTicker:
        return BookTicker(
            symbol=self.symbol,
            bid_price=self.bid_price,
            bid_qty=self.bid_qty,
            ask_price=self.ask_price,
            ask_qty=self.ask_qty,
            ts=self.time,
            update_id=self.last_update_id,
        )


class PremiumIndexSchema(Schema, frozen=True):
    """GET /fapi/v1/premiumIndex (one symbol) or a row of it."""

    symbol: str
    mark_price: Decimal
    index_price: Decimal
    last_funding_rate: str
    next_funding_time: int
    time: int
    estimated_settle_price: str = ""

    def to_mark_price(self) -> MarkPrice:
        return MarkPrice(
            symbol=self.symbol,
            mark_price=self.mark_price,
            index_price=self.index_price,
            funding_rate=dec(self.last_funding_rate),
            next_funding_time=self.next_funding_time,
            ts=self.time,
            estimated_settle_price=dec(self.estimated_settle_price),
        )


class BracketSchema(Schema, frozen=True):
    """One notional tier of leverageBracket (amounts are JSON numbers there)."""

    bracket: int
    initial_leverage: int
    notional_cap: Decimal
    notional_floor: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal

    def to_bracket(self) -> LeverageBracket:
        return LeverageBracket(
            bracket=self.bracket,
            max_leverage=self.initial_leverage,
            notional_floor=self.notional_floor,
            notional_cap=self.notional_cap,
            maint_margin_ratio=self.maint_margin_ratio,
            cum=self.cum,
        )


class SymbolBracketsSchema(Schema, frozen=True):
    """GET /fapi/v1/leverageBracket: one symbol's tiers."""

    symbol: str
    brackets: list[BracketSchema]

    def to_brackets(self) -> tuple[LeverageBracket, ...]:
        return tuple(b.to_bracket() for b in self.brackets)
