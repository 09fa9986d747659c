"""Pure tests of the REST parameter parser and the order parsers built on it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.types import OrderType, PositionSide, Side, TimeInForce
from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.server.params import Params, parse_decimal
from exchanges.sandbox.server.rest_algo import parse_new_algo_order
from exchanges.sandbox.server.rest_trade import parse_new_order


def code_of(fn, *args) -> int:
    with pytest.raises(ExchangeError) as info:
        fn(*args)
    return info.value.code


def test_query_string_wins_over_body_and_values_are_decoded():
    p = Params.from_request("symbol=BTCUSDT&side=BUY", "symbol=ETHUSDT&price=1%2E5&note=a+b")
    assert p["symbol"] == "BTCUSDT"
    assert p["side"] == "BUY"
    assert p.req_decimal("price") == Decimal("1.5")
    assert p["note"] == "a b"


def test_missing_and_empty_mandatory_are_1102():
    p = Params.from_request("symbol=&side=BUY", "")
    assert code_of(p.req_str, "symbol") == -1102
    assert code_of(p.req_str, "quantity") == -1102
    assert p.opt_str("symbol") is None


@pytest.mark.parametrize("text", ["1e3", "abc", "1.2.3", " 1", "NaN", "Infinity", "0x10", "1,5", ""])
def test_malformed_decimals_are_refused(text):
    if text == "":
        assert Params({"q": text}).opt_decimal("q") is None
    else:
        assert code_of(parse_decimal, "q", text) == -1100


def test_ints_bools_limits():
    p = Params({"a": "12", "b": "x1", "t": "TRUE", "f": "false", "bad": "yes", "limit": "2000"})
    assert p.req_int("a") == 12
    assert code_of(p.req_int, "b") == -1100
    assert p.flag("t") is True and p.flag("f") is False and p.flag("missing") is False
    assert code_of(p.opt_bool, "bad") == -1130
    assert code_of(p.limit, 500, 1000) == -1130
    assert Params({}).limit(500, 1000) == 500


def test_enum_errors_follow_binance_codes():
    p = Params({"side": "BUYY", "type": "LIMITED", "timeInForce": "XYZ", "positionSide": "UP"})
    assert code_of(p.req_enum, "side", Side) == -1117
    assert code_of(p.req_enum, "type", OrderType) == -1116
    assert code_of(p.req_enum, "timeInForce", TimeInForce) == -1115
    assert code_of(p.req_enum, "positionSide", PositionSide) == -1130


def test_client_id_rule():
    assert Params({"c": "abc-_.:/9"}).client_id("c") == "abc-_.:/9"
    assert code_of(Params({"c": "bad id"}).client_id, "c") == -1130
    assert code_of(Params({"c": "x" * 37}).client_id, "c") == -1130


def test_json_list_parameter():
    assert Params({"l": "[1,2]"}).json_list("l", 5) == [1, 2]
    for bad in ("[1,2", "{}", "[]", "[1,2,3,4,5,6]"):
        assert code_of(Params({"l": bad}).json_list, "l", 5) == -1130


def test_batch_item_values_become_strings():
    p = Params.from_json_object({"quantity": 0.001, "reduceOnly": True, "symbol": "BTCUSDT"}, "batchOrders")
    assert p["quantity"] == "0.001" and p["reduceOnly"] == "true"
    assert code_of(Params.from_json_object, [1], "batchOrders") == -1130
    assert code_of(Params.from_json_object, {"x": {"y": 1}}, "batchOrders") == -1130


BASE = {
    "symbol": "btcusdt",
    "side": "BUY",
    "type": "LIMIT",
    "quantity": "0.010",
    "price": "100.5",
    "timeInForce": "GTC",
}


def test_parse_new_order_limit():
    req = parse_new_order(Params(BASE | {"newClientOrderId": "my-1", "newOrderRespType": "RESULT"}))
    assert req.symbol == "BTCUSDT" and req.type is OrderType.LIMIT
    assert req.quantity == Decimal("0.010") and req.price == Decimal("100.5")
    assert req.new_client_order_id == "my-1" and req.new_order_resp_type == "RESULT"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"type": "STOP_MARKET"}, -4120),
        ({"type": "TAKE_PROFIT"}, -4120),
        ({"type": "TRAILING_STOP_MARKET"}, -4120),
        ({"type": "MARKET"}, -1106),  # price sent with a MARKET order
        ({"price": None}, -1102),
        ({"timeInForce": None}, -1102),
        ({"quantity": None}, -1102),
        ({"quantity": "0.0.1"}, -1100),
        ({"side": "HOLD"}, -1117),
        ({"type": "FOO"}, -1116),
        ({"timeInForce": "GTE"}, -1115),
        ({"newOrderRespType": "FULL"}, -1130),
        ({"selfTradePreventionMode": "X"}, -1130),
        ({"timeInForce": "GTD"}, -1102),  # without goodTillDate
    ],
)
def test_parse_new_order_errors(change, code):
    params = {k: v for k, v in (BASE | change).items() if v is not None}
    assert code_of(parse_new_order, Params(params)) == code


ALGO = {
    "algoType": "CONDITIONAL",
    "symbol": "BTCUSDT",
    "side": "SELL",
    "type": "STOP_MARKET",
    "triggerPrice": "90",
}


def test_parse_algo_order_close_position_and_quantity():
    req = parse_new_algo_order(Params(ALGO | {"closePosition": "true", "workingType": "MARK_PRICE"}))
    assert req.close_position and req.quantity is None and req.trigger_price == Decimal(90)
    req = parse_new_algo_order(Params(ALGO | {"quantity": "0.5", "reduceOnly": "true"}))
    assert req.quantity == Decimal("0.5") and req.reduce_only


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"closePosition": "true", "quantity": "1"}, -1106),
        ({"closePosition": "true", "reduceOnly": "true"}, -1106),
        ({"quantity": None}, -1102),
        ({"quantity": "1", "triggerPrice": None}, -1102),
        ({"quantity": "1", "type": "LIMIT"}, -1116),
        ({"quantity": "1", "algoType": "OCO"}, -1130),
        ({"quantity": "1", "type": "STOP"}, -1102),  # STOP needs a price
        ({"quantity": "1", "price": "5"}, -1106),  # STOP_MARKET takes no price
        ({"quantity": "1", "type": "TRAILING_STOP_MARKET", "triggerPrice": None}, -1102),  # callbackRate
        ({"quantity": "1", "workingType": "LAST"}, -1130),
    ],
)
def test_parse_algo_order_errors(change, code):
    params = {k: v for k, v in (ALGO | change).items() if v is not None}
    assert code_of(parse_new_algo_order, Params(params)) == code


@given(
    st.dictionaries(
        st.sampled_from([*sorted(BASE), "reduceOnly", "priceMatch", "goodTillDate"]), st.text(max_size=12)
    )
)
def test_parsers_only_ever_raise_exchange_errors(values):
    for parser in (parse_new_order, parse_new_algo_order):
        try:
            parser(Params(values))
        except ExchangeError as err:
            assert err.code < 0 and err.msg
