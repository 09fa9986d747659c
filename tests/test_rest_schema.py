"""Every answer validated against the official Binance USDⓈ-M SDK's strict response models.

The SDK's pydantic models are generated from Binance's API specification and refuse a number where a
string is due (and the reverse), so this checks field names and JSON types independently of our code.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.rest_support import build_context, serve

models = pytest.importorskip("binance_sdk_derivatives_trading_usds_futures.rest_api.models")

BTC = "BTCUSDT"


@pytest.fixture
async def server():
    async for s in serve(build_context(with_market=False)):
        s.set_price(BTC, "60000")
        s.set_price("ETHUSDT", "3000")
        yield s


# Fields Binance's documentation examples show that the SDK's generated models do not declare.
DOCUMENTED_EXTRAS = {"tpTriggerPrice", "tpPrice", "slTriggerPrice", "slPrice", "avgPrice", "cumQuote"}


def check(model_name: str, body: object, *, list_model: bool = False) -> None:
    """Validate ``body`` (one object, or each item of a list) with the SDK model ``model_name``."""
    model = getattr(models, model_name)
    items: list[Any] = body if isinstance(body, list) else [body]
    assert items, model_name
    for item in items:
        parsed = model.from_dict([item] if list_model else item)
        assert parsed is not None
        extra = set(item) - {f.alias or name for name, f in model.model_fields.items()} - DOCUMENTED_EXTRAS
        assert not extra, f"{model_name}: fields the spec does not know: {extra}"


async def test_trade_answers_match_the_sdk_models(server):
    limit = {
        "symbol": BTC,
        "side": "BUY",
        "type": "LIMIT",
        "quantity": "0.010",
        "price": "59000",
        "timeInForce": "GTC",
    }
    new = await server.signed("POST", "/fapi/v1/order", limit)
    check("NewOrderResponse", new.body)
    oid = {"symbol": BTC, "orderId": new.body["orderId"]}
    check("QueryOrderResponse", (await server.signed("GET", "/fapi/v1/order", oid)).body)
    check("QueryCurrentOpenOrderResponse", (await server.signed("GET", "/fapi/v1/openOrder", oid)).body)
    check("CurrentAllOpenOrdersResponseInner", (await server.signed("GET", "/fapi/v1/openOrders")).body)
    check("AllOrdersResponseInner", (await server.signed("GET", "/fapi/v1/allOrders", {"symbol": BTC})).body)
    cancel = (await server.signed("DELETE", "/fapi/v1/order", oid)).body
    check("CancelOrderResponse", cancel)
    batch = await server.signed("POST", "/fapi/v1/batchOrders", {"batchOrders": json.dumps([limit])})
    check("PlaceMultipleOrdersResponse", batch.body, list_model=True)
    market = {"symbol": BTC, "side": "BUY", "type": "MARKET", "quantity": "0.010"}
    await server.signed("POST", "/fapi/v1/order", market)
    check(
        "AccountTradeListResponseInner",
        (await server.signed("GET", "/fapi/v1/userTrades", {"symbol": BTC})).body,
    )
    check("PositionInformationV2ResponseInner", (await server.signed("GET", "/fapi/v2/positionRisk")).body)
    check("PositionInformationV3ResponseInner", (await server.signed("GET", "/fapi/v3/positionRisk")).body)
    cd = await server.signed("POST", "/fapi/v1/countdownCancelAll", {"symbol": BTC, "countdownTime": 1000})
    check("AutoCancelAllOpenOrdersResponse", cd.body)
    check(
        "CancelAllOpenOrdersResponse",
        (await server.signed("DELETE", "/fapi/v1/allOpenOrders", {"symbol": BTC})).body,
    )


async def test_algo_answers_match_the_sdk_models(server):
    algo = {
        "algoType": "CONDITIONAL",
        "symbol": BTC,
        "side": "SELL",
        "type": "STOP_MARKET",
        "triggerPrice": "50000",
    }
    new = await server.signed("POST", "/fapi/v1/algoOrder", {**algo, "quantity": "0.010"})
    check("NewAlgoOrderResponse", new.body)
    ref = {"algoId": new.body["algoId"]}
    check("QueryAlgoOrderResponse", (await server.signed("GET", "/fapi/v1/algoOrder", ref)).body)
    check(
        "CurrentAllAlgoOpenOrdersResponseInner", (await server.signed("GET", "/fapi/v1/openAlgoOrders")).body
    )
    check("CancelAlgoOrderResponse", (await server.signed("DELETE", "/fapi/v1/algoOrder", ref)).body)
    check(
        "CancelAllAlgoOpenOrdersResponse",
        (await server.signed("DELETE", "/fapi/v1/algoOpenOrders", {"symbol": BTC})).body,
    )


async def test_account_answers_match_the_sdk_models(server):
    await server.signed(
        "POST", "/fapi/v1/order", {"symbol": BTC, "side": "BUY", "type": "MARKET", "quantity": "0.010"}
    )
    check("AccountInformationV2Response", (await server.signed("GET", "/fapi/v2/account")).body)
    check("AccountInformationV3Response", (await server.signed("GET", "/fapi/v3/account")).body)
    check("FuturesAccountBalanceV2ResponseInner", (await server.signed("GET", "/fapi/v2/balance")).body)
    check(
        "FuturesAccountBalanceV3Response",
        (await server.signed("GET", "/fapi/v3/balance")).body,
        list_model=True,
    )
    check("GetIncomeHistoryResponseInner", (await server.signed("GET", "/fapi/v1/income")).body)
    check(
        "UserCommissionRateResponse",
        (await server.signed("GET", "/fapi/v1/commissionRate", {"symbol": BTC})).body,
    )
    check(
        "ChangeInitialLeverageResponse",
        (await server.signed("POST", "/fapi/v1/leverage", {"symbol": BTC, "leverage": 5})).body,
    )
    check(
        "ChangeMarginTypeResponse",
        (
            await server.signed(
                "POST", "/fapi/v1/marginType", {"symbol": "ETHUSDT", "marginType": "ISOLATED"}
            )
        ).body,
    )
    check("GetCurrentPositionModeResponse", (await server.signed("GET", "/fapi/v1/positionSide/dual")).body)
    check(
        "GetCurrentMultiAssetsModeResponse", (await server.signed("GET", "/fapi/v1/multiAssetsMargin")).body
    )
    check(
        "NotionalAndLeverageBracketsResponse1Inner",
        (await server.signed("GET", "/fapi/v1/leverageBracket")).body,
    )


async def test_market_answers_match_the_sdk_models(server):
    check("CheckServerTimeResponse", (await server.request("GET", "/fapi/v1/time")).body)
    info = (await server.request("GET", "/fapi/v1/exchangeInfo")).body
    check("ExchangeInformationResponseRateLimitsInner", info["rateLimits"])
    check("ExchangeInformationResponseAssetsInner", info["assets"])
    for symbol in info["symbols"]:
        check("ExchangeInformationResponseSymbolsInnerFiltersInner", symbol["filters"])
        check(
            "ExchangeInformationResponseSymbolsInner",
            {k: v for k, v in symbol.items() if k != "maxMoveOrderLimit"},
        )
    check(
        "OrderBookResponse", (await server.request("GET", "/fapi/v1/depth", {"symbol": BTC, "limit": 5})).body
    )
    check(
        "SymbolPriceTickerResponse1",
        (await server.request("GET", "/fapi/v1/ticker/price", {"symbol": BTC})).body,
    )
    check(
        "SymbolPriceTickerV2Response1",
        (await server.request("GET", "/fapi/v2/ticker/price", {"symbol": BTC})).body,
    )
    check(
        "SymbolOrderBookTickerResponse1",
        (await server.request("GET", "/fapi/v1/ticker/bookTicker", {"symbol": BTC})).body,
    )
    check("MarkPriceResponse1", (await server.request("GET", "/fapi/v1/premiumIndex", {"symbol": BTC})).body)
