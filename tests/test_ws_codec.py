"""Stream frames carry Binance's exact field names and JSON types.

Checked three ways: against the real captured frames in shared/data/wire/ws (same keys), against the
official Binance USDⓈ-M SDK's stream models (strict types, no unknown fields), and by value.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
import pytest

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
    WorkingType,
)
from exchanges.sandbox.engine.events import AccountEvent, AlgoEvent, OrderEvent
from exchanges.sandbox.server import user_codec
from exchanges.sandbox.server import ws_codec as codec
from tests.helpers import require_shared_data

sdk = pytest.importorskip("binance_sdk_derivatives_trading_usds_futures.websocket_streams.models")

TRADE = Trade(
    symbol="BTCUSDT",
    trade_id=42,
    price=Decimal("61800.30"),
    qty=Decimal("0.006"),
    is_buyer_maker=False,
    ts=1723161256322,
    first_trade_id=100,
    last_trade_id=102,
    event_ts=1723161256330,
)
BOOK = BookTicker(
    symbol="BTCUSDT",
    bid_price=Decimal("61800.20"),
    bid_qty=Decimal("2.507"),
    ask_price=Decimal("61800.30"),
    ask_qty=Decimal("2.510"),
    ts=1723161256313,
    update_id=7,
)
MARK = MarkPrice(
    symbol="BTCUSDT",
    mark_price=Decimal("61801.12"),
    index_price=Decimal("61799.50"),
    funding_rate=Decimal("0.00010000"),
    next_funding_time=1723190400000,
    ts=1723161257000,
)


def _sdk_parse(model: Any, payload: bytes) -> Any:
    """Parse with the SDK model; fail on any field the model does not know (besides the event type)."""
    obj = model.from_json(payload.decode())
    extra = set(obj.additional_properties) - {"e"}
    assert not extra, f"fields unknown to Binance's SDK: {extra}"
    return obj


def _sample_keys(name: str) -> set[str]:
    data = json.loads(require_shared_data("wire", "ws", name).read_text())
    return set(data["data"])


def test_agg_trade_frame() -> None:
    payload = codec.encode_agg_trade(TRADE)
    got = json.loads(payload)
    assert got == {
        "e": "aggTrade",
        "E": 1723161256330,
        "a": 42,
        "s": "BTCUSDT",
        "p": "61800.30",
        "q": "0.006",
        "nq": "0.006",
        "f": 100,
        "l": 102,
        "T": 1723161256322,
        "m": False,
    }
    _sdk_parse(sdk.AggregateTradeStreamsResponse, payload)


def test_agg_trade_keys_match_the_real_capture() -> None:
    # the 2021 capture predates "nq" (normal quantity, added with RPI orders)
    assert set(json.loads(codec.encode_agg_trade(TRADE))) - {"nq"} == _sample_keys("sample_ws_aggTrade.json")


def test_book_ticker_frame_matches_the_real_capture() -> None:
    payload = codec.encode_book_ticker(BOOK, 7, 1723161256313)
    got = json.loads(payload)
    assert set(got) == _sample_keys("sample_btcusdt_bookTicker.json")
    assert got["b"] == "61800.20" and got["A"] == "2.510" and got["u"] == 7
    _sdk_parse(sdk.IndividualSymbolBookTickerStreamsResponse, payload)


def test_mark_price_frames() -> None:
    payload = codec.encode_mark_price(MARK)
    got = json.loads(payload)
    assert got["e"] == "markPriceUpdate" and got["p"] == "61801.12" and got["r"] == "0.00010000"
    assert got["T"] == 1723190400000 and got["P"] == "61799.50"  # no settle estimate: the index price
    _sdk_parse(sdk.MarkPriceStreamResponse, payload)
    arr = json.loads(codec.encode_mark_price_array([MARK, msgspec.structs.replace(MARK, symbol="ETHUSDT")]))
    assert [m["s"] for m in arr] == ["BTCUSDT", "ETHUSDT"]


def test_kline_frame_matches_the_real_capture() -> None:
    candle = Candle(
        symbol="BTCUSDT",
        interval="1m",
        open_time=1626992700000,
        close_time=1626992759999,
        open=Decimal("1.01000"),
        high=Decimal("1.01100"),
        low=Decimal("1.01000"),
        close=Decimal("1.01100"),
        volume=Decimal("3917"),
        quote_volume=Decimal("3957.89900"),
        trades=48,
        taker_buy_volume=Decimal("1729"),
        taker_buy_quote_volume=Decimal("1748.01900"),
        closed=False,
    )
    payload = codec.encode_kline(
        candle, event_ms=1626992741424, first_trade_id=1, last_trade_id=48, closed=False
    )
    got = json.loads(payload)
    sample = json.loads(require_shared_data("wire", "ws", "sample_ws_kline_1m.json").read_text())["data"]
    assert set(got) == set(sample) and set(got["k"]) == set(sample["k"])
    assert got["k"]["o"] == "1.01000" and got["k"]["x"] is False and got["k"]["n"] == 48
    _sdk_parse(sdk.KlineCandlestickStreamsResponse, payload)


def test_depth_frame_matches_the_real_capture() -> None:
    payload = codec.encode_depth(
        "BTCUSDT",
        [(Decimal("61800.20"), Decimal("2.5"))],
        [(Decimal("61800.30"), Decimal("0"))],
        event_ms=2,
        transaction_ms=1,
        first_update_id=10,
        final_update_id=12,
        prev_final_update_id=9,
    )
    got = json.loads(payload)
    assert set(got) == _sample_keys("sample_btcusdt_depth_0ms.json")
    assert got["b"] == [["61800.20", "2.5"]] and got["a"] == [["61800.30", "0"]]
    assert (got["U"], got["u"], got["pu"]) == (10, 12, 9)
    _sdk_parse(sdk.PartialBookDepthStreamsResponse, payload)


def test_decimals_never_use_exponents() -> None:
    assert codec.dec(Decimal("1E+2")) == "100"
    assert codec.dec(Decimal("0E-8")) == "0.00000000"
    assert codec.dec(Decimal("-0")) == "0"
    assert codec.dec(Decimal("0.00001")) == "0.00001"


def _order(**kw: Any) -> Order:
    base: dict[str, Any] = dict(
        symbol="BTCUSDT",
        order_id=8886774,
        client_order_id="TEST",
        side=Side.SELL,
        type=OrderType.LIMIT,
        orig_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        orig_qty=Decimal("0.010"),
        price=Decimal("65000.0"),
        status=OrderStatus.NEW,
        time=1,
        update_time=1568879465650,
    )
    base.update(kw)
    return Order(**base)


def test_order_trade_update_new_and_trade() -> None:
    new = user_codec.encode_order_update(
        OrderEvent(account="k", ts=1568879465651, order=_order(), execution_type=ExecutionType.NEW)
    )
    got = json.loads(new)
    assert got["e"] == "ORDER_TRADE_UPDATE" and got["E"] == 1568879465651 and got["T"] == 1568879465650
    o = got["o"]
    assert (o["s"], o["c"], o["S"], o["o"], o["f"], o["x"], o["X"], o["i"]) == (
        "BTCUSDT",
        "TEST",
        "SELL",
        "LIMIT",
        "GTC",
        "NEW",
        "NEW",
        8886774,
    )
    assert (o["q"], o["p"], o["l"], o["z"], o["L"], o["t"], o["m"], o["R"]) == (
        "0.010",
        "65000.0",
        "0",
        "0",
        "0",
        0,
        False,
        False,
    )
    _sdk_parse(sdk.OrderTradeUpdate, new)

    fill = Fill(
        symbol="BTCUSDT",
        trade_id=555,
        order_id=8886774,
        client_order_id="TEST",
        side=Side.SELL,
        price=Decimal("65000.0"),
        qty=Decimal("0.004"),
        quote_qty=Decimal("260.0"),
        commission=Decimal("0.052"),
        commission_asset="USDT",
        realized_pnl=Decimal("1.5"),
        is_maker=True,
        ts=1568879466000,
    )
    order = _order(
        status=OrderStatus.PARTIALLY_FILLED, executed_qty=Decimal("0.004"), avg_price=Decimal("65000.0")
    )
    traded = user_codec.encode_order_update(
        OrderEvent(account="k", ts=1568879466001, order=order, execution_type=ExecutionType.TRADE, fill=fill)
    )
    o = json.loads(traded)["o"]
    assert (o["x"], o["X"], o["l"], o["z"], o["L"], o["n"], o["N"], o["t"], o["m"], o["rp"], o["T"]) == (
        "TRADE",
        "PARTIALLY_FILLED",
        "0.004",
        "0.004",
        "65000.0",
        "0.052",
        "USDT",
        555,
        True,
        "1.5",
        1568879466000,
    )
    _sdk_parse(sdk.OrderTradeUpdate, traded)


def test_account_update() -> None:
    event = AccountEvent(
        account="k",
        ts=5,
        reason="ORDER",
        balances=(
            Balance(
                asset="USDT",
                wallet_balance=Decimal("9999.5"),
                available_balance=Decimal("9000"),
                cross_wallet_balance=Decimal("9999.5"),
            ),
        ),
        positions=(
            Position(
                symbol="BTCUSDT",
                qty=Decimal("-0.004"),
                entry_price=Decimal("65000.0"),
                break_even_price=Decimal("64970.0"),
                unrealized_pnl=Decimal("-0.2"),
            ),
        ),
    )
    payload = user_codec.encode_account_update(event)
    got = json.loads(payload)
    assert got["e"] == "ACCOUNT_UPDATE" and got["a"]["m"] == "ORDER"
    assert got["a"]["B"] == [{"a": "USDT", "wb": "9999.5", "cw": "9999.5", "bc": "0"}]
    p = got["a"]["P"][0]
    assert (p["s"], p["pa"], p["ep"], p["bep"], p["up"], p["mt"], p["ps"]) == (
        "BTCUSDT",
        "-0.004",
        "65000.0",
        "64970.0",
        "-0.2",
        "cross",
        "BOTH",
    )
    _sdk_parse(sdk.AccountUpdate, payload)
    assert set(json.loads(payload)["a"]["P"][0]) == {"s", "pa", "ep", "bep", "cr", "up", "mt", "iw", "ps"}


def test_algo_update_before_and_after_trigger() -> None:
    algo = AlgoOrder(
        symbol="BTCUSDT",
        algo_id=2148719,
        client_algo_id="Q5xaq5",
        side=Side.SELL,
        order_type=OrderType.STOP_MARKET,
        quantity=Decimal("0.010"),
        trigger_price=Decimal("60000.0"),
        status=AlgoStatus.NEW,
        working_type=WorkingType.MARK_PRICE,
        create_time=1,
        update_time=1,
    )
    new = user_codec.encode_algo_update(AlgoEvent(account="k", ts=10, algo=algo))
    o = json.loads(new)["o"]
    assert (o["caid"], o["aid"], o["at"], o["o"], o["X"], o["tp"], o["wt"]) == (
        "Q5xaq5",
        2148719,
        "CONDITIONAL",
        "STOP_MARKET",
        "NEW",
        "60000.0",
        "MARK_PRICE",
    )
    assert "ai" not in o  # not placed in the matching engine yet
    _sdk_parse(sdk.AlgoUpdate, new)
    done = msgspec.structs.replace(
        algo,
        status=AlgoStatus.FINISHED,
        actual_order_id="777",
        actual_price=Decimal("59990.0"),
        actual_qty=Decimal("0.010"),
        trigger_time=20,
    )
    o = json.loads(user_codec.encode_algo_update(AlgoEvent(account="k", ts=21, algo=done)))["o"]
    assert (o["X"], o["ai"], o["ap"], o["aq"], o["act"], o["tt"]) == (
        "FINISHED",
        "777",
        "59990.0",
        "0.010",
        "MARKET",
        20,
    )
    _sdk_parse(sdk.AlgoUpdate, user_codec.encode_algo_update(AlgoEvent(account="k", ts=21, algo=done)))


def test_listen_key_expired_and_envelopes() -> None:
    payload = user_codec.encode_listen_key_expired("abc", 99)
    assert json.loads(payload) == {"e": "listenKeyExpired", "E": 99, "listenKey": "abc"}
    # the SDK model maps the alias "listenKey" (its additional_properties check is keyed differently)
    assert sdk.ListenKeyExpired.from_json(payload.decode()).listen_key == "abc"
    assert json.loads(codec.combined("btcusdt@aggTrade", b'{"x":1}')) == {
        "stream": "btcusdt@aggTrade",
        "data": {"x": 1},
    }
    assert json.loads(codec.control_result(None, 1)) == {"result": None, "id": 1}
    assert json.loads(codec.control_error(2, "bad", "u-1")) == {
        "error": {"code": 2, "msg": "bad"},
        "id": "u-1",
    }
