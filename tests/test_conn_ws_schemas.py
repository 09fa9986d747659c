"""Stream frame decoding: recorded Binance payloads, the sandbox's encoders, Binance's documented user events,
and malformed frames (which must raise FrameDecodeError, never anything else)."""

from __future__ import annotations

import json
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.events import AccountUpdate, AlgoUpdate, OrderUpdate
from core.types import (
    AlgoOrder,
    AlgoStatus,
    Balance,
    BookTicker,
    Candle,
    ExecutionType,
    Fill,
    MarkPrice,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
    TimeInForce,
    Trade,
)
from exchanges.binance.ws_schemas import ControlAnswer, FrameDecodeError, MarketFrameDecoder
from exchanges.binance.ws_user_schemas import ListenKeyExpired, UserFrameDecoder
from exchanges.sandbox.engine.events import AccountEvent, AlgoEvent, OrderEvent
from exchanges.sandbox.server.user_codec import (
    encode_account_update,
    encode_algo_update,
    encode_listen_key_expired,
    encode_order_update,
)
from exchanges.sandbox.server.ws_codec import (
    combined,
    control_error,
    control_result,
    encode_agg_trade,
    encode_book_ticker,
    encode_kline,
    encode_mark_price,
)
from tests.helpers import require_shared_data

market = MarketFrameDecoder()
user = UserFrameDecoder()


def _sample(name: str) -> bytes:
    return require_shared_data("wire", "ws", name).read_bytes()


# --- recorded payloads --------------------------------------------------------------------------------------


def test_recorded_agg_trade() -> None:
    event = market.decode(_sample("sample_ws_aggTrade.json"))
    assert event == Trade(
        symbol="CTKUSDT",
        trade_id=16599292,
        price=Decimal("1.01100"),
        qty=Decimal("10"),
        is_buyer_maker=False,
        ts=1626992741421,
        first_trade_id=23961322,
        last_trade_id=23961322,
        event_ts=1626992741575,
    )


@pytest.mark.parametrize(
    "name", ["sample_ws_bookTicker.json", "sample_btcusdt_bookTicker.json", "sample_ethusdt_bookTicker.json"]
)
def test_recorded_book_tickers(name: str) -> None:
    raw = json.loads(_sample(name))["data"]
    event = market.decode(_sample(name))
    assert isinstance(event, BookTicker)
    assert event.symbol == raw["s"]
    assert event.bid_price == Decimal(raw["b"]) and event.ask_qty == Decimal(raw["A"])
    assert str(event.bid_price) == raw["b"]  # exact text, no float on the way
    assert event.update_id == raw["u"] and event.ts == raw["T"]


def test_recorded_kline() -> None:
    event = market.decode(_sample("sample_ws_kline_1m.json"))
    assert isinstance(event, Candle)
    assert (event.symbol, event.interval, event.open_time, event.close_time) == (
        "CTKUSDT",
        "1m",
        1626992700000,
        1626992759999,
    )
    assert (event.open, event.high, event.low, event.close) == tuple(
        Decimal(x) for x in ("1.01000", "1.01100", "1.01000", "1.01100")
    )
    assert event.volume == Decimal("3917") and event.trades == 48 and not event.closed
    assert event.taker_buy_quote_volume == Decimal("1748.01900")


@pytest.mark.parametrize(
    "name", ["sample_btcusdt_trade.json", "sample_ws_depth_100ms.json", "sample_btcusdt_depth_0ms.json"]
)
def test_recorded_streams_we_do_not_decode_are_unknown(name: str) -> None:
    with pytest.raises(FrameDecodeError) as info:
        market.decode(_sample(name))
    assert info.value.kind == "unknown"


def test_raw_payload_without_envelope() -> None:
    data = json.dumps(json.loads(_sample("sample_ws_aggTrade.json"))["data"]).encode()
    event = market.decode(data)
    assert isinstance(event, Trade) and event.trade_id == 16599292


# --- the sandbox's encoders (what the integration tests will see) -------------------------------------------


decimals = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("1000000"), places=8)


@given(
    trade_id=st.integers(min_value=1, max_value=2**53),
    price=decimals,
    qty=decimals,
    maker=st.booleans(),
    ts=st.integers(min_value=0, max_value=2**42),
)
def test_agg_trade_round_trip(trade_id: int, price: Decimal, qty: Decimal, maker: bool, ts: int) -> None:
    trade = Trade(
        symbol="BTCUSDT",
        trade_id=trade_id,
        price=price,
        qty=qty,
        is_buyer_maker=maker,
        ts=ts,
        first_trade_id=trade_id * 3,
        last_trade_id=trade_id * 3 + 2,
        event_ts=ts + 5,
    )
    frame = combined("btcusdt@aggTrade", encode_agg_trade(trade))
    assert market.decode(frame) == trade


def test_mark_price_and_book_ticker_from_sandbox_encoders() -> None:
    mark = MarkPrice(
        symbol="ETHUSDT",
        mark_price=Decimal("2500.12000000"),
        index_price=Decimal("2499.9"),
        funding_rate=Decimal("0.00010000"),
        next_funding_time=1_700_000_000_000,
        ts=1_699_999_000_000,
        estimated_settle_price=Decimal("2500.01"),
    )
    assert market.decode(combined("ethusdt@markPrice@1s", encode_mark_price(mark))) == mark
    book = BookTicker(
        symbol="ETHUSDT",
        bid_price=Decimal("2500.10"),
        bid_qty=Decimal("3.5"),
        ask_price=Decimal("2500.20"),
        ask_qty=Decimal("1"),
        ts=1_699_999_000_001,
        update_id=42,
    )
    decoded = market.decode(combined("ethusdt@bookTicker", encode_book_ticker(book, 42, 1_699_999_000_002)))
    assert decoded == book


def test_kline_from_sandbox_encoder() -> None:
    candle = Candle(
        symbol="BTCUSDT",
        interval="1m",
        open_time=60_000,
        close_time=119_999,
        open=Decimal("100.1"),
        high=Decimal("101"),
        low=Decimal("99.5"),
        close=Decimal("100.7"),
        volume=Decimal("12.345"),
        quote_volume=Decimal("1234.5"),
        trades=17,
        taker_buy_volume=Decimal("6"),
        taker_buy_quote_volume=Decimal("600.6"),
        closed=True,
    )
    frame = encode_kline(candle, event_ms=120_000, first_trade_id=1, last_trade_id=17, closed=True)
    assert market.decode(combined("btcusdt@kline_1m", frame)) == candle


def test_control_answers() -> None:
    ok = market.decode(control_result(None, 7))
    assert ok == ControlAnswer(id=7, result=None, error=None)
    listed = market.decode(control_result(["btcusdt@aggTrade"], "abc"))
    assert isinstance(listed, ControlAnswer) and listed.result == ["btcusdt@aggTrade"]
    err = market.decode(control_error(2, "Invalid request", 3))
    assert isinstance(err, ControlAnswer) and err.error is not None and err.error.code == 2


# --- malformed frames ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        (b"", "malformed"),
        (b"not json at all", "malformed"),
        (b'{"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade", "a": 1', "malformed"),
        (b'{"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade", "E": 1, "s": "BTCUSDT"}}', "malformed"),
        (
            b'{"stream":"x","data":{"e":"aggTrade","E":1,"a":"one","s":"B","p":"1","q":"1","f":1,"l":1,'
            b'"T":1,"m":false}}',
            "malformed",
        ),
        (
            b'{"stream":"x","data":{"e":"aggTrade","E":1,"a":1,"s":"B","p":"abc","q":"1","f":1,"l":1,'
            b'"T":1,"m":false}}',
            "malformed",
        ),
        (b'{"stream": "x", "data": {"e": "forceOrder"}}', "unknown"),
        (b'{"hello": "world"}', "unknown"),
        (b"[1, 2, 3]", "unknown"),
        (b"null", "unknown"),
        (b"\xff\xfe\x00garbage", "malformed"),
    ],
)
def test_malformed_frames_raise_frame_decode_error(frame: bytes, kind: str) -> None:
    with pytest.raises(FrameDecodeError) as info:
        market.decode(frame)
    assert info.value.kind == kind
    assert info.value.excerpt == frame[:160]


@given(st.binary(max_size=200))
def test_any_bytes_decode_or_raise_frame_decode_error(frame: bytes) -> None:
    """Whatever arrives, the decoders either decode it or raise FrameDecodeError (nothing else escapes)."""
    for decode in (market.decode, user.decode):
        try:
            decode(frame)
        except FrameDecodeError as exc:
            assert exc.kind in ("malformed", "unknown")


# --- user events: Binance's documented examples -------------------------------------------------------------

# From Binance's USDⓈ-M "Event: Order Update" page (a partially filled LIMIT with a trade).
DOC_ORDER_TRADE_UPDATE = {
    "e": "ORDER_TRADE_UPDATE",
    "E": 1568879465651,
    "T": 1568879465650,
    "o": {
        "s": "BTCUSDT",
        "c": "TEST",
        "S": "SELL",
        "o": "TRAILING_STOP_MARKET",
        "f": "GTC",
        "q": "0.001",
        "p": "0",
        "ap": "0",
        "sp": "7103.04",
        "x": "TRADE",
        "X": "PARTIALLY_FILLED",
        "i": 8886774,
        "l": "0.0005",
        "z": "0.0005",
        "L": "7100.5",
        "N": "USDT",
        "n": "0.00177512",
        "T": 1568879465650,
        "t": 123,
        "b": "0",
        "a": "9.91",
        "m": False,
        "R": False,
        "wt": "CONTRACT_PRICE",
        "ot": "TRAILING_STOP_MARKET",
        "ps": "LONG",
        "cp": False,
        "AP": "7476.89",
        "cr": "5.0",
        "pP": False,
        "si": 0,
        "ss": 0,
        "rp": "0",
        "V": "EXPIRE_TAKER",
        "pm": "OPPONENT",
        "gtd": 0,
        "er": "0",
    },
}

DOC_ACCOUNT_UPDATE = {
    "e": "ACCOUNT_UPDATE",
    "E": 1564745798939,
    "T": 1564745798938,
    "a": {
        "m": "ORDER",
        "B": [
            {"a": "USDT", "wb": "122624.12345678", "cw": "100.12345678", "bc": "50.12345678"},
            {"a": "BUSD", "wb": "1.00000000", "cw": "0.00000000", "bc": "-49.12345678"},
        ],
        "P": [
            {
                "s": "BTCUSDT",
                "pa": "0",
                "ep": "0.00000",
                "bep": "0",
                "cr": "200",
                "up": "0",
                "mt": "isolated",
                "iw": "0.00000000",
                "ps": "BOTH",
            },
            {
                "s": "BTCUSDT",
                "pa": "20",
                "ep": "6563.66500",
                "bep": "6563.6",
                "cr": "0",
                "up": "2850.21200",
                "mt": "isolated",
                "iw": "13200.70726908",
                "ps": "LONG",
            },
        ],
    },
}

DOC_ALGO_UPDATE = {
    "e": "ALGO_UPDATE",
    "T": 1750515742297,
    "E": 1750515742303,
    "o": {
        "caid": "Q5xaq5EGKgXXa0fD7fs0Ip",
        "aid": 2148719,
        "at": "CONDITIONAL",
        "o": "TAKE_PROFIT",
        "s": "BNBUSDT",
        "S": "SELL",
        "ps": "BOTH",
        "f": "GTC",
        "q": "0.01",
        "X": "CANCELED",
        "ai": "",
        "ap": "0.00000",
        "aq": "0.00000",
        "act": "0",
        "tp": "750",
        "p": "750",
        "V": "EXPIRE_MAKER",
        "wt": "CONTRACT_PRICE",
        "pm": "NONE",
        "cp": False,
        "pP": False,
        "R": False,
        "tt": 0,
        "gtd": 0,
        "rm": "Reduce Only reject",
    },
}


def test_doc_order_trade_update() -> None:
    event = user.decode(json.dumps(DOC_ORDER_TRADE_UPDATE).encode())
    assert isinstance(event, OrderUpdate)
    assert event.ts == 1568879465651 and event.execution_type is ExecutionType.TRADE
    o = event.order
    assert (o.symbol, o.order_id, o.client_order_id, o.side, o.type) == (
        "BTCUSDT",
        8886774,
        "TEST",
        Side.SELL,
        OrderType.TRAILING_STOP_MARKET,
    )
    assert o.status is OrderStatus.PARTIALLY_FILLED and o.executed_qty == Decimal("0.0005")
    assert o.stop_price == Decimal("7103.04") and o.update_time == 1568879465650
    assert event.fill == Fill(
        symbol="BTCUSDT",
        trade_id=123,
        order_id=8886774,
        client_order_id="TEST",
        side=Side.SELL,
        price=Decimal("7100.5"),
        qty=Decimal("0.0005"),
        quote_qty=Decimal("3.55025"),
        commission=Decimal("0.00177512"),
        commission_asset="USDT",
        realized_pnl=Decimal("0"),
        is_maker=False,
        ts=1568879465650,
        position_side=o.position_side,
    )


def test_doc_account_update() -> None:
    event = user.decode(json.dumps(DOC_ACCOUNT_UPDATE).encode())
    assert isinstance(event, AccountUpdate)
    assert event.reason == "ORDER" and len(event.balances) == 2 and len(event.positions) == 2
    assert event.balances[0].wallet_balance == Decimal("122624.12345678")
    assert event.balances[0].cross_wallet_balance == Decimal("100.12345678")
    long = event.positions[1]
    assert (long.qty, long.entry_price, long.isolated_margin) == (
        Decimal("20"),
        Decimal("6563.66500"),
        Decimal("13200.70726908"),
    )
    assert long.margin_type.value == "ISOLATED" and long.position_side.value == "LONG"


def test_doc_algo_update() -> None:
    event = user.decode(json.dumps(DOC_ALGO_UPDATE).encode())
    assert isinstance(event, AlgoUpdate)
    a = event.algo
    assert (a.algo_id, a.client_algo_id, a.status, a.order_type) == (
        2148719,
        "Q5xaq5EGKgXXa0fD7fs0Ip",
        AlgoStatus.CANCELED,
        OrderType.TAKE_PROFIT,
    )
    assert a.trigger_price == Decimal("750") and a.quantity == Decimal("0.01")
    assert a.reject_reason == "Reduce Only reject" and a.actual_order_id == ""


def test_listen_key_expired_with_string_and_integer_event_time() -> None:
    live = user.decode(b'{"e":"listenKeyExpired","E":"1736996475556","listenKey":"abc"}')
    assert isinstance(live, ListenKeyExpired) and live.ts == 1736996475556 and live.listen_key == "abc"
    older = user.decode(encode_listen_key_expired("k" * 64, 1576653824250))
    assert isinstance(older, ListenKeyExpired) and older.ts == 1576653824250


def test_ignored_and_unknown_user_events() -> None:
    assert user.decode(b'{"e":"TRADE_LITE","E":1,"T":1,"s":"BTCUSDT"}') is None
    assert user.decode(b'{"e":"ACCOUNT_CONFIG_UPDATE","E":1,"T":1,"ac":{"s":"BTCUSDT","l":25}}') is None
    with pytest.raises(FrameDecodeError) as info:
        user.decode(b'{"e":"SOMETHING_NEW","E":1}')
    assert info.value.kind == "unknown"
    with pytest.raises(FrameDecodeError) as info:
        user.decode(b'{"e":"ORDER_TRADE_UPDATE","E":1,"T":1,"o":{"s":"BTCUSDT"}}')
    assert info.value.kind == "malformed"
    bad_status = json.loads(json.dumps(DOC_ORDER_TRADE_UPDATE))
    bad_status["o"]["X"] = "NOT_A_STATUS"
    with pytest.raises(FrameDecodeError):
        user.decode(json.dumps(bad_status).encode())


def test_combined_user_frame() -> None:
    frame = combined("k" * 64, json.dumps(DOC_ACCOUNT_UPDATE).encode())
    assert isinstance(user.decode(frame), AccountUpdate)


# --- user events: the sandbox's encoders --------------------------------------------------------------------


def _order(**kw: object) -> Order:
    base: dict[str, object] = dict(
        symbol="BTCUSDT",
        order_id=77,
        client_order_id="casino-1",
        side=Side.BUY,
        type=OrderType.LIMIT,
        orig_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        orig_qty=Decimal("0.010"),
        price=Decimal("60000.10"),
        status=OrderStatus.PARTIALLY_FILLED,
        executed_qty=Decimal("0.004"),
        avg_price=Decimal("60000.1"),
        update_time=1000,
    )
    base.update(kw)
    return msgspec.convert(base, Order)


def test_sandbox_order_update_round_trip() -> None:
    order = _order()
    fill = Fill(
        symbol="BTCUSDT",
        trade_id=9,
        order_id=77,
        client_order_id="casino-1",
        side=Side.BUY,
        price=Decimal("60000.1"),
        qty=Decimal("0.004"),
        quote_qty=Decimal("240.0004"),
        commission=Decimal("0.04800008"),
        commission_asset="USDT",
        realized_pnl=Decimal("0"),
        is_maker=True,
        ts=1000,
    )
    frame = encode_order_update(
        OrderEvent(account="k", ts=1001, order=order, execution_type=ExecutionType.TRADE, fill=fill)
    )
    event = user.decode(frame)
    assert isinstance(event, OrderUpdate)
    assert event.fill == fill
    assert event.order == msgspec.structs.replace(order, cum_quote=Decimal("240.0004"))


def test_sandbox_account_and_algo_updates() -> None:
    balance = Balance(
        asset="USDT",
        wallet_balance=Decimal("9999.5"),
        available_balance=Decimal("9999.5"),
        cross_wallet_balance=Decimal("9999.5"),
        update_time=5,
    )
    position = Position(
        symbol="BTCUSDT", qty=Decimal("-0.004"), entry_price=Decimal("60000.1"), update_time=5
    )
    frame = encode_account_update(
        AccountEvent(account="k", ts=5, reason="ORDER", balances=(balance,), positions=(position,))
    )
    event = user.decode(frame)
    assert event == AccountUpdate(ts=5, reason="ORDER", balances=(balance,), positions=(position,))
    algo = AlgoOrder(
        symbol="BTCUSDT",
        algo_id=3,
        client_algo_id="sl-1",
        side=Side.SELL,
        order_type=OrderType.STOP_MARKET,
        quantity=Decimal("0.004"),
        trigger_price=Decimal("59000"),
        status=AlgoStatus.NEW,
        update_time=6,
    )
    decoded = user.decode(encode_algo_update(AlgoEvent(account="k", ts=6, algo=algo)))
    assert decoded == AlgoUpdate(ts=6, algo=algo)
