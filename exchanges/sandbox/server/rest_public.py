"""Public market-data endpoints (and leverageBracket): ping, time, exchangeInfo, klines, aggTrades,
depth, tickers, premiumIndex.
"""

from __future__ import annotations

from core.types import ZERO, Candle, Instrument, MarkPrice
from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.market.marks import next_funding_time
from exchanges.sandbox.server.routing import Call, Route
from exchanges.sandbox.server.ticker_stats import TickerStats
from exchanges.sandbox.server.wire import fixed
from exchanges.sandbox.server.wire_market import (
    AggTradeWire,
    DepthWire,
    ExchangeInfoWire,
    PriceTickerWire,
    RateLimitWire,
    agg_trade_wire,
    assets_wire,
    book_ticker_wire,
    brackets_wire,
    kline_row,
    premium_index_wire,
    symbol_wire,
    ticker_24h_wire,
)

__all__ = ["ROUTES"]

KLINE_INTERVALS = frozenset(
    ("1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d", "1w", "1M")
)
DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
HOUR_MS = 3_600_000


def ping(call: Call) -> object:
    return {}


def server_time(call: Call) -> object:
    return {"serverTime": call.now_ms}


def exchange_info(call: Call) -> object:
    limiter = call.ctx.rate_limiter
    instruments = list(call.ctx.core.instruments.values())
    return ExchangeInfoWire(
        timezone="UTC",
        server_time=call.now_ms,
        futures_type="U_MARGINED",
        rate_limits=[
            RateLimitWire("REQUEST_WEIGHT", "MINUTE", 1, limiter.weight_limit),
            RateLimitWire("ORDERS", "MINUTE", 1, limiter.orders_1m_limit),
            RateLimitWire("ORDERS", "SECOND", 10, limiter.orders_10s_limit),
        ],
        exchange_filters=[],
        assets=assets_wire(instruments),
        symbols=[symbol_wire(inst) for inst in instruments],
    )


def _candles(call: Call, symbol: str) -> list[Candle]:
    p = call.params
    interval = p.req_str("interval")
    if interval not in KLINE_INTERVALS:
        raise ExchangeError.invalid_interval()
    start, end = p.opt_int("startTime"), p.opt_int("endTime")
    limit = p.limit(500, 1500)
    if start is not None and end is not None and start > end:
        raise ExchangeError.bad_param_combination()
    # The replay's history already ends with the candle still open, as Binance's does.
    return call.ctx.market.history_klines(symbol, interval, start_time=start, end_time=end, limit=limit)


def klines(call: Call) -> object:
    inst = call.instrument(call.params.req_symbol())
    return [kline_row(c, inst) for c in _candles(call, inst.symbol)]


def continuous_klines(call: Call) -> object:
    inst = call.instrument(call.params.req_str("pair").upper())
    if call.params.req_str("contractType") != "PERPETUAL":
        raise ExchangeError.bad_param("contractType", call.params.req_str("contractType"))
    return [kline_row(c, inst) for c in _candles(call, inst.symbol)]


def agg_trades(call: Call) -> object:
    p = call.params
    inst = call.instrument(p.req_symbol())
    from_id = p.opt_int("fromId")
    start, end = p.opt_int("startTime"), p.opt_int("endTime")
    limit = p.limit(500, 1000)
    if start is not None and end is not None and not 0 <= end - start < HOUR_MS:
        raise ExchangeError.window_too_long(1)
    trades = call.ctx.market.history_agg_trades(
        inst.symbol, from_id=from_id, start_time=start, end_time=end, limit=limit
    )
    out: list[AggTradeWire] = [agg_trade_wire(t, inst) for t in trades]
    return out


def depth(call: Call) -> object:
    p = call.params
    inst = call.instrument(p.req_symbol())
    limit = p.opt_int("limit")
    if limit is None:
        limit = 500
    elif limit not in DEPTH_LIMITS:
        raise ExchangeError.bad_param("limit", str(limit))
    bids, asks = call.ctx.core.depth(inst.symbol, limit)
    book = call.ctx.core.book_ticker(inst.symbol)
    pp, qp = inst.price_precision, inst.quantity_precision
    return DepthWire(
        lastUpdateId=book.update_id if book is not None and book.update_id else call.now_ms,
        E=call.now_ms,
        T=book.ts if book is not None else call.now_ms,
        bids=[(fixed(px, pp), fixed(q, qp)) for px, q in bids],
        asks=[(fixed(px, pp), fixed(q, qp)) for px, q in asks],
    )


def _one_or_all(call: Call, rows: list[object]) -> object:
    return rows[0] if call.params.present("symbol") else rows


def ticker_price(call: Call) -> object:
    rows: list[object] = []
    for inst in call.symbols(call.params.opt_symbol()):
        price = call.ctx.core.last_price(inst.symbol)
        rows.append(PriceTickerWire(inst.symbol, fixed(price or ZERO, inst.price_precision), call.now_ms))
    return _one_or_all(call, rows)


def book_ticker(call: Call) -> object:
    rows: list[object] = []
    for inst in call.symbols(call.params.opt_symbol()):
        book = call.ctx.core.book_ticker(inst.symbol)
        if book is not None:
            rows.append(book_ticker_wire(book, inst))
        elif call.params.present("symbol"):
            raise ExchangeError.unknown()
    return _one_or_all(call, rows)


def ticker_24h(call: Call) -> object:
    stats = TickerStats(call.ctx.market, call.ctx.core)
    rows: list[object] = [
        ticker_24h_wire(stats.get(inst, call.now_ms), inst) for inst in call.symbols(call.params.opt_symbol())
    ]
    return _one_or_all(call, rows)


def _mark(call: Call, inst: Instrument) -> MarkPrice:
    mark = call.ctx.core.mark_price(inst.symbol)
    if mark is not None:
        return mark
    # Before the symbol's first markPrice event (the first second after start): the last price, and the
    # funding schedule, which Binance always publishes.
    last = call.ctx.core.last_price(inst.symbol) or ZERO
    return MarkPrice(
        symbol=inst.symbol,
        mark_price=last,
        index_price=last,
        funding_rate=ZERO,
        next_funding_time=next_funding_time(call.now_ms),
        ts=call.now_ms,
        estimated_settle_price=last,
    )


def premium_index(call: Call) -> object:
    rows: list[object] = [
        premium_index_wire(_mark(call, inst)) for inst in call.symbols(call.params.opt_symbol())
    ]
    return _one_or_all(call, rows)


def leverage_bracket(call: Call) -> object:
    rows: list[object] = [
        brackets_wire(inst.symbol, call.ctx.core.leverage_brackets(inst.symbol))
        for inst in call.symbols(call.params.opt_symbol())
    ]
    return _one_or_all(call, rows)


ROUTES = (
    Route("GET", "/fapi/v1/ping", ping),
    Route("GET", "/fapi/v1/time", server_time),
    Route("GET", "/fapi/v1/exchangeInfo", exchange_info),
    Route("GET", "/fapi/v1/klines", klines),
    Route("GET", "/fapi/v1/continuousKlines", continuous_klines),
    Route("GET", "/fapi/v1/aggTrades", agg_trades),
    Route("GET", "/fapi/v1/depth", depth),
    Route("GET", "/fapi/v1/ticker/price", ticker_price),
    Route("GET", "/fapi/v2/ticker/price", ticker_price),
    Route("GET", "/fapi/v1/ticker/bookTicker", book_ticker),
    Route("GET", "/fapi/v1/ticker/24hr", ticker_24h),
    Route("GET", "/fapi/v1/premiumIndex", premium_index),
    Route("GET", "/fapi/v1/leverageBracket", leverage_bracket, signed=True),
)
