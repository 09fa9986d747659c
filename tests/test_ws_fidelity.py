"""Ticker streams on /market and the fuller user-data stream (TRADE_LITE, ACCOUNT_CONFIG_UPDATE, ``b``/``a``,
``er``, ``cr``) over real loopback WebSocket."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tests.ws_helpers import collect_until, listen_key, running, signed

pytestmark = pytest.mark.timeout(60)

TICKER_FIELDS = {"e", "E", "s", "p", "P", "w", "c", "Q", "o", "h", "l", "v", "q", "O", "C", "F", "L", "n"}
MINI_FIELDS = {"e", "E", "s", "c", "o", "h", "l", "v", "q"}


def _by_stream(frames: list[Any], name: str) -> list[Any]:
    return [f["data"] for f in frames if f["stream"] == name]


async def test_ticker_and_mini_ticker_streams() -> None:
    names = ["btcusdt@ticker", "btcusdt@miniTicker", "!ticker@arr", "!miniTicker@arr"]
    url = "/market/stream?streams=" + "/".join(names)
    async with running() as (sb, http), http.ws_connect(sb.ws_url + url) as ws:
        frames = await collect_until(
            ws, lambda f: len(_by_stream(f, names[0])) >= 3 and all(_by_stream(f, n) for n in names)
        )
    tickers = _by_stream(frames, "btcusdt@ticker")
    t = tickers[-1]
    assert set(t) == TICKER_FIELDS and t["e"] == "24hrTicker" and t["s"] == "BTCUSDT"
    assert all(isinstance(t[k], str) for k in ("p", "P", "w", "c", "Q", "o", "h", "l", "v", "q"))
    assert all(isinstance(t[k], int) for k in ("E", "O", "C", "F", "L", "n"))
    assert t["C"] - t["O"] == 86_400_000 and t["n"] == t["L"] - t["F"] + 1 > 0
    assert Decimal(t["l"]) <= Decimal(t["c"]) <= Decimal(t["h"]) and Decimal(t["Q"]) > 0
    assert Decimal(t["c"]) - Decimal(t["o"]) == Decimal(t["p"])
    # Every 2 s of exchange time: never two pushes in one 2-second slot.
    slots = [x["E"] // 2000 for x in tickers]
    assert slots == sorted(set(slots))
    mini = _by_stream(frames, "btcusdt@miniTicker")[-1]
    assert set(mini) == MINI_FIELDS and mini["e"] == "24hrMiniTicker"
    for name, fields in (("!ticker@arr", TICKER_FIELDS), ("!miniTicker@arr", MINI_FIELDS)):
        (row,) = _by_stream(frames, name)[0]  # one symbol served
        assert set(row) == fields and row["s"] == "BTCUSDT"


async def _best_bid(http: Any, sb: Any) -> Decimal:
    async with http.get(f"{sb.rest_url}/fapi/v1/ticker/bookTicker?symbol=BTCUSDT") as resp:
        return Decimal((await resp.json())["bidPrice"])


async def test_user_stream_trade_lite_config_update_and_fields() -> None:
    async with running() as (sb, http):
        key = (await listen_key(http, sb))[1]["listenKey"]
        async with http.ws_connect(f"{sb.ws_url}/private/ws/{key}") as ws:
            # A resting BUY: its own notional shows in ``b`` from NEW on.
            price = (await _best_bid(http, sb) * Decimal("0.9")).quantize(Decimal("0.1"))
            rest = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
            status, placed = await signed(
                http, sb, "POST", "/fapi/v1/order", {**rest, "quantity": "0.010", "price": str(price)}
            )
            assert status == 200, placed
            (new,) = await collect_until(ws, bool)
            assert new["o"]["x"] == "NEW" and Decimal(new["o"]["b"]) == price * Decimal("0.010")
            assert new["o"]["a"] == "0" and new["o"]["er"] == "0"

            # A MARKET fill: TRADE_LITE first, then its ORDER_TRADE_UPDATE.
            market = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010"}
            status, filled = await signed(http, sb, "POST", "/fapi/v1/order", market)
            assert status == 200, filled
            frames = await collect_until(
                ws, lambda f: any(x["e"] == "ACCOUNT_UPDATE" for x in f) and _filled(f, filled["orderId"])
            )
            lites = [x for x in frames if x["e"] == "TRADE_LITE"]
            assert lites and all(x["i"] == filled["orderId"] for x in lites)
            lite = lites[0]
            assert set(lite) == {"e", "E", "T", "s", "q", "p", "m", "c", "S", "L", "l", "t", "i"}
            assert (lite["s"], lite["S"], lite["q"], lite["p"], lite["m"]) == (
                "BTCUSDT",
                "BUY",
                "0.010",
                "0",
                False,
            )
            trade = next(x for x in frames if x["e"] == "ORDER_TRADE_UPDATE" and x["o"]["t"] == lite["t"])
            assert frames.index(lite) < frames.index(trade)
            assert (trade["o"]["L"], trade["o"]["l"]) == (lite["L"], lite["l"])
            assert Decimal(trade["o"]["b"]) == price * Decimal("0.010")  # the resting BUY is still open
            update = next(x for x in frames if x["e"] == "ACCOUNT_UPDATE")
            assert update["a"]["B"][0]["bc"] == "0" and update["a"]["P"][0]["cr"] == "0"

            # Leverage: ACCOUNT_CONFIG_UPDATE with the symbol's new leverage.
            status, _ = await signed(
                http, sb, "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 13}
            )
            assert status == 200
            (config,) = await collect_until(ws, lambda f: any(x["e"] == "ACCOUNT_CONFIG_UPDATE" for x in f))
            assert set(config) == {"e", "E", "T", "ac"} and config["ac"] == {"s": "BTCUSDT", "l": 13}

            # An IOC that cannot take anything (priced at the bid) expires with reason 2.
            ioc = {**rest, "timeInForce": "IOC", "quantity": "0.010", "price": str(await _best_bid(http, sb))}
            status, expired = await signed(http, sb, "POST", "/fapi/v1/order", ioc)
            assert status == 200, expired
            frames = await collect_until(ws, lambda f: any(x["o"]["X"] == "EXPIRED" for x in f if "o" in x))
            (gone,) = [x for x in frames if x.get("o", {}).get("X") == "EXPIRED"]
            assert gone["o"]["i"] == expired["orderId"] and gone["o"]["er"] == "2"

            # Closing the position realizes PnL: ``cr`` accumulates the fills' ``rp``.
            close = {**market, "side": "SELL"}
            status, closed = await signed(http, sb, "POST", "/fapi/v1/order", close)
            assert status == 200, closed
            frames = await collect_until(
                ws, lambda f: _filled(f, closed["orderId"]) and any(x["e"] == "ACCOUNT_UPDATE" for x in f)
            )
            realized = sum(
                Decimal(x["o"]["rp"])
                for x in frames
                if x["e"] == "ORDER_TRADE_UPDATE" and x["o"]["x"] == "TRADE"
            )
            last = [x for x in frames if x["e"] == "ACCOUNT_UPDATE"][-1]
            assert last["a"]["P"][0]["pa"] == "0" and Decimal(last["a"]["P"][0]["cr"]) == realized


def _filled(frames: list[Any], order_id: int) -> bool:
    return any(
        x["e"] == "ORDER_TRADE_UPDATE" and x["o"]["i"] == order_id and x["o"]["X"] == "FILLED" for x in frames
    )
