"""Binance USDⓈ-M market-stream frames: wire Structs, decoded straight from bytes, and their domain form.

Field names and JSON types follow Binance's "Websocket Market Streams" pages: decimals are strings (decoded
exactly into ``Decimal``), ids and times are integers. Market payloads form a tagged union on ``"e"``
(``aggTrade``, ``markPriceUpdate``, ``bookTicker``, ``kline``), so one msgspec pass decodes the combined
envelope ``{"stream", "data"}`` and picks the payload type; unknown fields (``nq``, ``st``...) are ignored.

A frame that is not JSON, not a known payload, or not a control answer (``{"result", "id"}`` /
``{"error", "id"}``) raises :class:`FrameDecodeError`; the stream counts and logs it and reads on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from core.types import BookTicker, Candle, MarkPrice, Trade

__all__ = [
    "AggTradeMsg",
    "BookTickerMsg",
    "ControlAnswer",
    "ControlError",
    "FrameDecodeError",
    "KlineMsg",
    "MarkPriceMsg",
    "MarketEvent",
    "MarketFrameDecoder",
]

MarketEvent = Trade | MarkPrice | BookTicker | Candle


class FrameDecodeError(ValueError):
    """A stream frame could not be turned into an event.

    ``kind`` is ``"malformed"`` (not JSON, or a known frame with missing/mistyped fields) or ``"unknown"``
    (well-formed, but a payload type or shape this decoder does not handle).
    """

    def __init__(self, kind: str, detail: str, frame: bytes) -> None:
        super().__init__(f"{kind} frame: {detail}")
        self.kind = kind
        self.detail = detail
        # Only a prefix: enough to recognise the frame in a log line, bounded for garbage floods.
        self.excerpt = frame[:160]


class AggTradeMsg(msgspec.Struct, tag_field="e", tag="aggTrade", frozen=True):
    """``<symbol>@aggTrade``: one taker order's fills at one price."""

    event_time: int = msgspec.field(name="E")
    agg_id: int = msgspec.field(name="a")
    symbol: str = msgspec.field(name="s")
    price: Decimal = msgspec.field(name="p")
    qty: Decimal = msgspec.field(name="q")
    first_trade_id: int = msgspec.field(name="f")
    last_trade_id: int = msgspec.field(name="l")
    trade_time: int = msgspec.field(name="T")
    buyer_is_maker: bool = msgspec.field(name="m")

    def to_domain(self) -> Trade:
        return Trade(
            symbol=self.symbol,
            trade_id=self.agg_id,
            price=self.price,
            qty=self.qty,
            is_buyer_maker=self.buyer_is_maker,
            ts=self.trade_time,
            first_trade_id=self.first_trade_id,
            last_trade_id=self.last_trade_id,
            event_ts=self.event_time,
        )


class MarkPriceMsg(msgspec.Struct, tag_field="e", tag="markPriceUpdate", frozen=True):
    """``<symbol>@markPrice[@1s]``: mark and index price, funding rate and next funding time."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    mark_price: Decimal = msgspec.field(name="p")
    index_price: Decimal = msgspec.field(name="i")
    estimated_settle_price: Decimal = msgspec.field(name="P")
    funding_rate: Decimal = msgspec.field(name="r")
    next_funding_time: int = msgspec.field(name="T")

    def to_domain(self) -> MarkPrice:
        return MarkPrice(
            symbol=self.symbol,
            mark_price=self.mark_price,
            index_price=self.index_price,
            funding_rate=self.funding_rate,
            next_funding_time=self.next_funding_time,
            ts=self.event_time,
            estimated_settle_price=self.estimated_settle_price,
        )


class BookTickerMsg(msgspec.Struct, tag_field="e", tag="bookTicker", frozen=True):
    """``<symbol>@bookTicker``: best bid and ask; ``u`` increases with every book update."""

    update_id: int = msgspec.field(name="u")
    event_time: int = msgspec.field(name="E")
    transaction_time: int = msgspec.field(name="T")
    symbol: str = msgspec.field(name="s")
    bid_price: Decimal = msgspec.field(name="b")
    bid_qty: Decimal = msgspec.field(name="B")
    ask_price: Decimal = msgspec.field(name="a")
    ask_qty: Decimal = msgspec.field(name="A")

    def to_domain(self) -> BookTicker:
        return BookTicker(
            symbol=self.symbol,
            bid_price=self.bid_price,
            bid_qty=self.bid_qty,
            ask_price=self.ask_price,
            ask_qty=self.ask_qty,
            ts=self.transaction_time,
            update_id=self.update_id,
        )


class KlineBody(msgspec.Struct, frozen=True):
    open_time: int = msgspec.field(name="t")
    close_time: int = msgspec.field(name="T")
    symbol: str = msgspec.field(name="s")
    interval: str = msgspec.field(name="i")
    open: Decimal = msgspec.field(name="o")
    close: Decimal = msgspec.field(name="c")
    high: Decimal = msgspec.field(name="h")
    low: Decimal = msgspec.field(name="l")
    volume: Decimal = msgspec.field(name="v")
    trades: int = msgspec.field(name="n")
    closed: bool = msgspec.field(name="x")
    quote_volume: Decimal = msgspec.field(name="q")
    taker_buy_volume: Decimal = msgspec.field(name="V")
    taker_buy_quote_volume: Decimal = msgspec.field(name="Q")


class KlineMsg(msgspec.Struct, tag_field="e", tag="kline", frozen=True):
    """``<symbol>@kline_<interval>``: the current candle so far; ``x`` is true on its final update."""

    event_time: int = msgspec.field(name="E")
    symbol: str = msgspec.field(name="s")
    kline: KlineBody = msgspec.field(name="k")

    def to_domain(self) -> Candle:
        k = self.kline
        return Candle(
            symbol=self.symbol,
            interval=k.interval,
            open_time=k.open_time,
            close_time=k.close_time,
            open=k.open,
            high=k.high,
            low=k.low,
            close=k.close,
            volume=k.volume,
            quote_volume=k.quote_volume,
            trades=k.trades,
            taker_buy_volume=k.taker_buy_volume,
            taker_buy_quote_volume=k.taker_buy_quote_volume,
            closed=k.closed,
        )


MarketPayload = AggTradeMsg | MarkPriceMsg | BookTickerMsg | KlineMsg


class _Combined(msgspec.Struct, frozen=True):
    stream: str
    data: MarketPayload


class _LooseCombined(msgspec.Struct, frozen=True):
    stream: str
    data: msgspec.Raw


class _Tagged(msgspec.Struct, frozen=True):
    e: str


class ControlError(msgspec.Struct, frozen=True):
    code: int
    msg: str


class ControlAnswer(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The answer to SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS / SET_PROPERTY / GET_PROPERTY."""

    id: int | str | None
    result: Any = None
    error: ControlError | None = None


class MarketFrameDecoder:
    """Decodes combined-stream frames (and raw payloads, for ``/ws/<stream>`` connections).

    :meth:`decode` returns the domain event, or the :class:`ControlAnswer` for a control message; it raises
    :class:`FrameDecodeError` for anything else. Reusable and stateless apart from its msgspec decoders.
    """

    def __init__(self) -> None:
        self._combined = msgspec.json.Decoder(_Combined)
        self._raw: msgspec.json.Decoder[MarketPayload] = msgspec.json.Decoder(MarketPayload)
        self._control = msgspec.json.Decoder(ControlAnswer)
        self._loose = msgspec.json.Decoder(_LooseCombined)
        self._tagged = msgspec.json.Decoder(_Tagged)

    def decode(self, frame: bytes | str) -> MarketEvent | ControlAnswer:
        """One frame to a domain event or a control answer; :class:`FrameDecodeError` otherwise."""
        data = frame.encode() if isinstance(frame, str) else frame
        try:
            return self._combined.decode(data).data.to_domain()
        except msgspec.DecodeError:
            pass  # the common case failed: find out what the frame is on the slow path below
        return self._slow_path(data)

    def _slow_path(self, data: bytes) -> MarketEvent | ControlAnswer:
        try:
            return self._control.decode(data)
        except msgspec.DecodeError:
            pass
        try:
            return self._raw.decode(data).to_domain()
        except msgspec.DecodeError:
            pass
        raise self._classify(data)

    def _classify(self, data: bytes) -> FrameDecodeError:
        """Why a frame failed: an unknown payload type is "unknown", everything else "malformed"."""
        try:
            loose = self._loose.decode(data)
            payload = loose.data
        except msgspec.ValidationError:
            payload = msgspec.Raw(data)
        except msgspec.DecodeError as exc:
            return FrameDecodeError("malformed", str(exc), data)
        try:
            tag = self._tagged.decode(payload).e
        except msgspec.DecodeError as exc:
            return FrameDecodeError("unknown", f"no event type: {exc}", data)
        if tag in ("aggTrade", "markPriceUpdate", "bookTicker", "kline"):
            try:
                self._raw.decode(payload)
            except msgspec.DecodeError as exc:
                return FrameDecodeError("malformed", f"{tag}: {exc}", data)
        return FrameDecodeError("unknown", f"event type {tag!r}", data)
