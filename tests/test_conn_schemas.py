"""REST schemas: real recorded Binance bodies and bodies captured from our sandbox decode straight into
the schema Structs and convert to domain types, decimals exact."""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from core.config import load_settings
from core.secrets import Secret
from core.types import AlgoStatus, OrderStatus, OrderType, Side, TimeInForce
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.schemas import (
    CodeMsg,
    ErrorBody,
    ListenKeyBody,
    SchemaError,
    ServerTime,
    decode,
    error_of_body,
    retry_after_of,
)
from exchanges.binance.schemas_account import (
    AccountV3Schema,
    BalanceSchema,
    IncomeSchema,
    LeverageSchema,
    PositionRiskSchema,
)
from exchanges.binance.schemas_market import (
    AggTradeSchema,
    BookTickerSchema,
    DepthSchema,
    ExchangeInfoSchema,
    KlineRow,
    PremiumIndexSchema,
    PriceTickerSchema,
    SymbolBracketsSchema,
    kline_to_candle,
)
from exchanges.binance.schemas_orders import (
    AlgoCancelSchema,
    AlgoOrderSchema,
    CountdownSchema,
    OrderSchema,
    UserTradeSchema,
    decode_batch,
)
from exchanges.binance.signing import ParamValue
from exchanges.binance.venues import venue_preset
from exchanges.sandbox.runner import Sandbox
from tests.helpers import require_shared_data

pytestmark = pytest.mark.timeout(60)


def wire(name: str) -> bytes:
    path: Path = require_shared_data("wire", "rest", name)
    return path.read_bytes()


# --- recorded Binance bodies ---------------------------------------------------------------------------


def test_recorded_exchange_info() -> None:
    info = decode(wire("fapi_v1_exchangeInfo_20210721.json"), ExchangeInfoSchema)
    assert [(r.rate_limit_type, r.interval_ms, r.limit) for r in info.rate_limits] == [
        ("REQUEST_WEIGHT", 60_000, 2400),
        ("ORDERS", 60_000, 1200),
        ("ORDERS", 10_000, 300),
    ]
    instruments = {i.symbol: i for i in info.to_instruments(contract_type=None)}
    assert len(instruments) == len(info.symbols) == 122
    btc = instruments["BTCUSDT"]
    f = btc.filters
    assert (f.tick_size, f.min_price, f.step_size, f.min_qty) == (
        Decimal("0.01"),
        Decimal("556.72"),
        Decimal("0.001"),
        Decimal("0.001"),
    )
    assert (f.min_notional, f.multiplier_up, f.multiplier_down, f.multiplier_decimal) == (
        Decimal(5),
        Decimal("1.1500"),
        Decimal("0.8500"),
        4,
    )
    assert (f.max_num_orders, f.max_num_algo_orders) == (200, 10)
    assert (btc.price_precision, btc.quantity_precision, btc.liquidation_fee) == (2, 3, Decimal("0.012000"))
    assert all(i.contract_type == "PERPETUAL" for i in info.to_instruments())


def test_recorded_order_bodies_need_lenient_ints() -> None:
    # ccxt transcribed ids and times as strings; the real API sends numbers (strict decoding refuses).
    body = wire("get_fapi_v1_openOrder_LTCUSDT_GTX_20240214.json")
    with pytest.raises(SchemaError, match="orderId"):
        decode(body, OrderSchema)
    order = decode(body, OrderSchema, strict=False).to_order()
    assert order.order_id == 664082074 and order.time_in_force is TimeInForce.GTX
    assert (order.price, order.orig_qty, order.avg_price) == (Decimal("50.00"), Decimal("0.200"), Decimal(0))
    assert order.status is OrderStatus.NEW and order.update_time == 1707907323991


def test_recorded_batch_answer() -> None:
    (item,) = decode_batch(wire("post_fapi_v1_batchOrders_BTCUSDT_limit_sell_20250217.json"))
    assert isinstance(item, OrderSchema)
    order = item.to_order()
    assert (order.order_id, order.side, order.price) == (4087922044, Side.SELL, Decimal("110001.00"))


def test_recorded_user_trades_account_and_positions() -> None:
    (trade,) = decode(
        wire("get_fapi_v1_userTrades_BTCUSDT_20231114.json"), list[UserTradeSchema], strict=False
    )
    fill = trade.to_fill()
    assert (fill.trade_id, fill.order_id, fill.qty, fill.commission) == (
        272536245,
        3524852987,
        Decimal("0.010"),
        Decimal("0.14626840"),
    )
    assert fill.is_maker is False and fill.ts == 1699972836419
    account = decode(wire("get_fapi_v3_account_20240728.json"), AccountV3Schema, strict=False).to_snapshot()
    assert account.wallet_balance == Decimal("25.72610060")
    assert {b.asset: b.wallet_balance for b in account.balances}["USDC"] == Decimal("22.00000000")
    (pos,) = decode(
        wire("get_fapi_v3_positionRisk_BTCUSDT_20240728.json"), list[PositionRiskSchema], strict=False
    )
    position = pos.to_position()
    assert (position.qty, position.entry_price, position.break_even_price) == (
        Decimal("0.009"),
        Decimal("67445.9"),
        Decimal("67479.62295"),
    )
    assert position.mark_price == Decimal("67502.68519858")


def test_recorded_depth_and_errors() -> None:
    depth = decode(wire("sample_rest_fapi_v1_depth_SUSHIUSDT_limit1000.json"), DepthSchema).to_snapshot(
        "SUSHIUSDT"
    )
    assert depth.bids[0] == (Decimal("7.6110"), Decimal(6)) and depth.last_update_id == 600859605926
    assert all(a[0] > b[0] for a, b in zip(depth.bids, depth.bids[1:], strict=False))
    catalogue = json.loads(wire("binance_usdm_error_bodies.json"))
    for entry in catalogue["errors"]:
        raw = json.dumps(entry["body"]).encode()
        body = decode(raw, ErrorBody)
        assert body.code == entry["code"] and body.msg
        assert error_of_body(raw) == (entry["code"], entry["body"]["msg"])


def test_error_bodies_that_are_not_json() -> None:
    assert error_of_body(b"<html>502 Bad Gateway</html>") == (None, "")
    assert error_of_body(b'{"unexpected": true}') == (None, "")
    assert retry_after_of({"Retry-After": "3"}) == 3.0
    assert retry_after_of({"Retry-After": "soon"}) is None and retry_after_of({}) is None


def test_bad_bodies_raise_schema_errors_naming_the_schema() -> None:
    with pytest.raises(SchemaError, match="ServerTime"):
        decode(b'{"serverTime": "x"}', ServerTime)
    with pytest.raises(SchemaError, match="malformed"):
        decode(b"{", ServerTime)


def test_kline_rows_are_exact_and_mark_the_open_candle() -> None:
    raw = b'[[1000,"1.10","1.30","1.00","1.20","5.000",60999,"6.0",3,"2.000","2.4","0"]]'
    (row,) = decode(raw, list[KlineRow])
    closed = kline_to_candle("X", "1m", row, now_ms=61_000)
    assert closed.closed and closed.open == Decimal("1.10") and closed.volume == Decimal("5.000")
    assert not kline_to_candle("X", "1m", row, now_ms=60_000).closed


# --- bodies captured from the sandbox ------------------------------------------------------------------


async def test_sandbox_bodies_decode_strictly() -> None:
    settings = load_settings(
        overrides={"sandbox.port": 0, "sandbox.speed": 10, "sandbox.history_days": 1}
    ).sandbox
    async with Sandbox(settings) as sb:
        key, secret = sb.demo_credentials
        client = BinanceRestClient(
            venue_preset("sandbox", sb.rest_url),
            sb.context.clock,
            api_key=Secret(key),
            api_secret=Secret(secret),
        )
        async with client:
            get = client.request

            async def signed(method: str, path: str, params: Mapping[str, ParamValue] | None = None) -> bytes:
                return await client.request(method, path, params, signed=True)

            assert decode(await get("GET", "/fapi/v1/time"), ServerTime).server_time > 0
            info = decode(await get("GET", "/fapi/v1/exchangeInfo"), ExchangeInfoSchema)
            instruments = {i.symbol: i for i in info.to_instruments()}
            assert set(instruments) == {"BTCUSDT", "ETHUSDT"}
            rows = decode(
                await get("GET", "/fapi/v1/klines", {"symbol": "BTCUSDT", "interval": "1m"}), list[KlineRow]
            )
            assert len(rows) == 500 and all(r[2] >= max(r[1], r[4]) for r in rows)
            trades = decode(
                await get("GET", "/fapi/v1/aggTrades", {"symbol": "BTCUSDT"}), list[AggTradeSchema]
            )
            assert trades and [t.a for t in trades] == sorted(t.a for t in trades)
            decode(await get("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": 5}), DepthSchema)
            price = decode(
                await get("GET", "/fapi/v1/ticker/price", {"symbol": "BTCUSDT"}), PriceTickerSchema
            )
            book = decode(
                await get("GET", "/fapi/v1/ticker/bookTicker", {"symbol": "BTCUSDT"}), BookTickerSchema
            )
            assert book.bid_price < book.ask_price and price.price > 0
            mark = decode(
                await get("GET", "/fapi/v1/premiumIndex", {"symbol": "BTCUSDT"}), PremiumIndexSchema
            )
            assert mark.to_mark_price().mark_price > 0
            brackets = decode(await signed("GET", "/fapi/v1/leverageBracket"), list[SymbolBracketsSchema])
            assert all(b.to_brackets() for b in brackets)
            assert (
                decode(await signed("GET", "/fapi/v3/account"), AccountV3Schema).to_snapshot().wallet_balance
                > 0
            )
            assert decode(await signed("GET", "/fapi/v3/balance"), list[BalanceSchema])
            lev = decode(
                await signed("POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 7}),
                LeverageSchema,
            )
            assert lev.leverage == 7
            market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.002"}
            filled = decode(
                await signed("POST", "/fapi/v1/order", {**market, "newOrderRespType": "RESULT"}), OrderSchema
            )
            assert filled.to_order().status is OrderStatus.FILLED
            positions = decode(
                await signed("GET", "/fapi/v3/positionRisk", {"symbol": "BTCUSDT"}), list[PositionRiskSchema]
            )
            assert positions[0].to_position().qty == Decimal("0.002")
            fills = decode(
                await signed("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT"}), list[UserTradeSchema]
            )
            assert fills[-1].to_fill().order_id == filled.order_id
            assert decode(await signed("GET", "/fapi/v1/income"), list[IncomeSchema])
            stop = {
                "algoType": "CONDITIONAL",
                "symbol": "BTCUSDT",
                "side": "SELL",
                "type": "STOP_MARKET",
                "triggerPrice": str(int(book.bid_price * Decimal("0.5"))),
                "closePosition": "true",
                "clientAlgoId": "schema-stop-1",
            }
            algo = decode(await signed("POST", "/fapi/v1/algoOrder", stop), AlgoOrderSchema).to_algo_order()
            assert algo.status is AlgoStatus.NEW and algo.order_type is OrderType.STOP_MARKET
            queried = decode(
                await signed("GET", "/fapi/v1/algoOrder", {"clientAlgoId": "schema-stop-1"}), AlgoOrderSchema
            )
            assert queried.algo_id == algo.algo_id
            assert decode(await signed("GET", "/fapi/v1/openAlgoOrders"), list[AlgoOrderSchema])
            cancel = decode(
                await signed("DELETE", "/fapi/v1/algoOrder", {"algoId": algo.algo_id}), AlgoCancelSchema
            )
            assert cancel.client_algo_id == "schema-stop-1"
            batch = decode_batch(
                await signed(
                    "POST",
                    "/fapi/v1/batchOrders",
                    {
                        "batchOrders": [
                            {
                                **market,
                                "type": "LIMIT",
                                "price": str(int(book.bid_price * Decimal("0.9"))),
                                "timeInForce": "GTC",
                            },
                            {"symbol": "NOPE"},
                        ]
                    },
                )
            )
            assert isinstance(batch[0], OrderSchema) and isinstance(batch[1], ErrorBody)
            assert (
                decode(await signed("DELETE", "/fapi/v1/allOpenOrders", {"symbol": "BTCUSDT"}), CodeMsg).code
                == 200
            )
            countdown: dict[str, ParamValue] = {"symbol": "BTCUSDT", "countdownTime": 0}
            assert (
                decode(
                    await signed("POST", "/fapi/v1/countdownCancelAll", countdown), CountdownSchema
                ).countdown_ms
                == 0
            )
            key_body = await client.request("POST", "/fapi/v1/listenKey", api_key_only=True)
            assert decode(key_body, ListenKeyBody).listen_key
            assert (
                msgspec.json.decode(await client.request("DELETE", "/fapi/v1/listenKey", api_key_only=True))
                == {}
            )
