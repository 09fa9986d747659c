"""Binance USDⓈ-M WebSocket market frames and control answers, with Binance's exact field names.

Field names and JSON types follow Binance's documentation and its official SDK's stream models:
decimals are strings in plain notation (never an exponent), ids and times are integers, flags are
booleans. Every function here is pure and returns the encoded payload (bytes), so one encoding is
shared by every subscriber.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import msgspec

from core.types import BookTicker, Candle, MarkPrice, Trade
from exchanges.sandbox.server.ticker_stats import Ticker24h

__all__ = [
    "combined",
    "control_error",
    "control_result",
    "dec",
    "encode_agg_trade",
    "encode_book_ticker",
    "encode_depth",
    "encode_kline",
    "encode_mark_price",
    "encode_mark_price_array",
    "encode_mini_ticker",
    "encode_mini_ticker_array",
    "encode_ticker",
    "encode_ticker_array",
]

_encoder = msgspec.json.Encoder()


def dec(value: Decimal) -> str:
    """A Decimal as Binance writes it: plain notation, no exponent, no float rounding."""
    text = format(value, "f")
    return "0" if text in ("-0", "") else text


# --- market streams -------------------------------------------------------------------------------------


class AggTradeFrame(msgspec.Struct):
    e: str
    E: int
    a: int
    s: str
    p: str
    q: str
    nq: str  # quantity without RPI orders: the sandbox has none, so it equals q
    f: int
    l: int  # noqa: E741 - Binance's field name
    T: int
    m: bool


class BookTickerFrame(msgspec.Struct):
    e: str
    u: int
    s: str
    b: str
    B: str
    a: str
    A: str
    T: int
    E: int


class MarkPriceFrame(msgspec.Struct):
    e: str
    E: int
    s: str
    p: str
    i: str
    P: str
    r: str
    T: int


class KlineBody(msgspec.Struct):
    t: int
    T: int
    s: str
    i: str
    f: int
    L: int
    o: str
    c: str
    h: str
    l: str  # noqa: E741 - Binance's field name
    v: str
    n: int
    x: bool
    q: str
    V: str
    Q: str
    B: str


class KlineFrame(msgspec.Struct):
    e: str
    E: int
    s: str
    k: KlineBody


class DepthFrame(msgspec.Struct):
    e: str
    E: int
    T: int
    s: str
    U: int
    u: int
    pu: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


def encode_agg_trade(trade: Trade) -> bytes:
    first = trade.first_trade_id or trade.trade_id
    last = trade.last_trade_id or first
    qty = dec(trade.qty)
    frame = AggTradeFrame(
        "aggTrade",
        trade.event_ts or trade.ts,
        trade.trade_id,
        trade.symbol,
        dec(trade.price),
        qty,
        qty,
        first,
        last,
        trade.ts,
        trade.is_buyer_maker,
    )
    return _encoder.encode(frame)


def encode_book_ticker(book: BookTicker, update_id: int, event_ms: int) -> bytes:
    frame = BookTickerFrame(
        "bookTicker",
        update_id,
        book.symbol,
        dec(book.bid_price),
        dec(book.bid_qty),
        dec(book.ask_price),
        dec(book.ask_qty),
        book.ts,
        event_ms,
    )
    return _encoder.encode(frame)


def _mark_frame(mark: MarkPrice) -> MarkPriceFrame:
    settle = mark.estimated_settle_price or mark.index_price
    return MarkPriceFrame(
        "markPriceUpdate",
        mark.ts,
        mark.symbol,
        dec(mark.mark_price),
        dec(mark.index_price),
        dec(settle),
        dec(mark.funding_rate),
        mark.next_funding_time,
    )


def encode_mark_price(mark: MarkPrice) -> bytes:
    return _encoder.encode(_mark_frame(mark))


def encode_mark_price_array(marks: Sequence[MarkPrice]) -> bytes:
    """``!markPrice@arr``: one array of every symbol's latest markPriceUpdate."""
    return _encoder.encode([_mark_frame(m) for m in marks])


def encode_kline(
    candle: Candle, *, event_ms: int, first_trade_id: int, last_trade_id: int, closed: bool
) -> bytes:
    body = KlineBody(
        candle.open_time,
        candle.close_time,
        candle.symbol,
        candle.interval,
        first_trade_id,
        last_trade_id,
        dec(candle.open),
        dec(candle.close),
        dec(candle.high),
        dec(candle.low),
        dec(candle.volume),
        candle.trades,
        closed,
        dec(candle.quote_volume),
        dec(candle.taker_buy_volume),
        dec(candle.taker_buy_quote_volume),
        "0",
    )
    return _encoder.encode(KlineFrame("kline", event_ms, candle.symbol, body))


def encode_depth(
    symbol: str,
    bids: Sequence[tuple[Decimal, Decimal]],
    asks: Sequence[tuple[Decimal, Decimal]],
    *,
    event_ms: int,
    transaction_ms: int,
    first_update_id: int,
    final_update_id: int,
    prev_final_update_id: int,
) -> bytes:
    """A ``depthUpdate`` frame (partial ``@depth<N>`` and diff ``@depth`` share the shape)."""
    frame = DepthFrame(
        "depthUpdate",
        event_ms,
        transaction_ms,
        symbol,
        first_update_id,
        final_update_id,
        prev_final_update_id,
        [(dec(p), dec(q)) for p, q in bids],
        [(dec(p), dec(q)) for p, q in asks],
    )
    return _encoder.encode(frame)


class TickerFrame(msgspec.Struct):
    e: str
    E: int
    s: str
    p: str
    P: str
    w: str
    c: str
    Q: str
    o: str
    h: str
    l: str  # noqa: E741 - Binance's field name
    v: str
    q: str
    O: int  # noqa: E741 - Binance's field name
    C: int
    F: int
    L: int
    n: int


class MiniTickerFrame(msgspec.Struct):
    e: str
    E: int
    s: str
    c: str
    o: str
    h: str
    l: str  # noqa: E741 - Binance's field name
    v: str
    q: str


def _ticker_frame(t: Ticker24h, event_ms: int) -> TickerFrame:
    return TickerFrame(
        "24hrTicker",
        event_ms,
        t.symbol,
        dec(t.price_change),
        dec(t.price_change_percent),
        dec(t.weighted_avg_price),
        dec(t.last_price),
        dec(t.last_qty),
        dec(t.open_price),
        dec(t.high_price),
        dec(t.low_price),
        dec(t.volume),
        dec(t.quote_volume),
        t.open_time,
        t.close_time,
        t.first_id,
        t.last_id,
        t.count,
    )


def _mini_frame(t: Ticker24h, event_ms: int) -> MiniTickerFrame:
    return MiniTickerFrame(
        "24hrMiniTicker",
        event_ms,
        t.symbol,
        dec(t.last_price),
        dec(t.open_price),
        dec(t.high_price),
        dec(t.low_price),
        dec(t.volume),
        dec(t.quote_volume),
    )


def encode_ticker(t: Ticker24h, event_ms: int) -> bytes:
    """``<symbol>@ticker``: a ``24hrTicker`` event."""
    return _encoder.encode(_ticker_frame(t, event_ms))


def encode_ticker_array(tickers: Sequence[Ticker24h], event_ms: int) -> bytes:
    """``!ticker@arr``: the ``24hrTicker`` events of the symbols that changed."""
    return _encoder.encode([_ticker_frame(t, event_ms) for t in tickers])


def encode_mini_ticker(t: Ticker24h, event_ms: int) -> bytes:
    """``<symbol>@miniTicker``: a ``24hrMiniTicker`` event."""
    return _encoder.encode(_mini_frame(t, event_ms))


def encode_mini_ticker_array(tickers: Sequence[Ticker24h], event_ms: int) -> bytes:
    """``!miniTicker@arr``: the ``24hrMiniTicker`` events of the symbols that changed."""
    return _encoder.encode([_mini_frame(t, event_ms) for t in tickers])


# --- envelopes and control answers ------------------------------------------------------------------------


def combined(stream: str, payload: bytes) -> bytes:
    """Wrap a raw payload as a combined-stream frame ``{"stream": name, "data": payload}``."""
    return b'{"stream":' + _encoder.encode(stream) + b',"data":' + payload + b"}"


RequestId = int | str | None


def control_result(result: object, request_id: RequestId) -> bytes:
    return _encoder.encode({"result": result, "id": request_id})


def control_error(code: int, msg: str, request_id: RequestId) -> bytes:
    return _encoder.encode({"error": {"code": code, "msg": msg}, "id": request_id})
