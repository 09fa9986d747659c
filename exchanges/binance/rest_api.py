"""``BinanceRestApi``: typed Binance USDⓈ-M REST calls returning domain types.

Market data (exchangeInfo, klines, aggTrades, depth, tickers, mark prices, leverage brackets), the account
(account v3, balances, positions, income, leverage), the listenKey lifecycle, and — inherited from
:class:`~exchanges.binance.rest_orders.OrderCalls` — order reads, placements that are never resent blindly,
cancels and the countdown switch. Every answer is decoded straight into a schema Struct and converted to
domain types; no Binance JSON leaves this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import msgspec

from core.types import (
    Balance,
    BookTicker,
    Candle,
    Income,
    Instrument,
    LeverageBracket,
    MarkPrice,
    Position,
    Trade,
)
from exchanges.adapter import AccountSnapshot, DepthSnapshot
from exchanges.binance.market_cache import MarketCache
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.rest_orders import OrderCalls
from exchanges.binance.schemas import ListenKeyBody, ServerTime, decode
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
from exchanges.binance.signing import ParamValue
from exchanges.errors import BreakerOpenError

__all__ = ["BinanceRestApi"]

T = TypeVar("T")


class BinanceRestApi(OrderCalls):
    """Typed calls on a :class:`~exchanges.binance.rest.BinanceRestClient` (which must be started).

    It satisfies the user stream's ``ListenKeyApi`` and, with the streams, most of ``ExchangeAdapter``.
    ``cache`` (the streams' :class:`MarketCache`) serves last price, book ticker and mark price while the
    market-data circuit breaker refuses calls; the placement knobs are :class:`OrderCalls`'.
    """

    def __init__(
        self,
        client: BinanceRestClient,
        *,
        cache: MarketCache | None = None,
        max_placements: int = 3,
        max_queries: int = 6,
        settle_s: float = 0.25,
        seed: int = 0,
    ) -> None:
        super().__init__(
            client, max_placements=max_placements, max_queries=max_queries, settle_s=settle_s, seed=seed
        )
        self.cache = cache

    async def _or_cached(
        self, fetch: Callable[[], Awaitable[T]], cached: Callable[[MarketCache], T | None]
    ) -> T:
        """``fetch()``; while the breaker refuses it, the stream cache's value when it has one."""
        try:
            return await fetch()
        except BreakerOpenError:
            value = None if self.cache is None else cached(self.cache)
            if value is None:
                raise
            return value

    # --- market data -----------------------------------------------------------------------------------

    async def server_time(self) -> int:
        return decode(await self._get("/fapi/v1/time"), ServerTime).server_time

    async def exchange_info(self, *, contract_type: str | None = "PERPETUAL") -> list[Instrument]:
        """Every contract of ``contract_type`` (all when None) with its filters; brackets not included."""
        info = decode(await self._get("/fapi/v1/exchangeInfo"), ExchangeInfoSchema)
        return info.to_instruments(contract_type=contract_type)

    async def instruments(self) -> list[Instrument]:
        """Perpetual contracts with their filters and, when keys are configured, leverage brackets."""
        instruments = await self.exchange_info()
        if not self.client.has_credentials:
            return instruments
        brackets = await self.leverage_brackets()
        return [_with_brackets(i, brackets.get(i.symbol, ())) for i in instruments]

    async def leverage_brackets(self, symbol: str | None = None) -> dict[str, tuple[LeverageBracket, ...]]:
        body = await self._get("/fapi/v1/leverageBracket", {"symbol": symbol}, signed=True)
        rows = [decode(body, SymbolBracketsSchema)] if symbol else decode(body, list[SymbolBracketsSchema])
        return {r.symbol: r.to_brackets() for r in rows}

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 500,
    ) -> list[Candle]:
        """Candles oldest first; the one still open at the venue's current time has ``closed=False``."""
        params: dict[str, ParamValue] = {
            "symbol": symbol,
            "interval": interval,
            "startTime": start_time,
            "endTime": end_time,
            "limit": limit,
        }
        rows = decode(await self._get("/fapi/v1/klines", params), list[KlineRow])
        now = self.client.server_time_ms()
        return [kline_to_candle(symbol, interval, row, now) for row in rows]

    async def agg_trades(
        self,
        symbol: str,
        *,
        from_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 1000,
    ) -> list[Trade]:
        params: dict[str, ParamValue] = {
            "symbol": symbol,
            "fromId": from_id,
            "startTime": start_time,
            "endTime": end_time,
            "limit": limit,
        }
        rows = decode(await self._get("/fapi/v1/aggTrades", params), list[AggTradeSchema])
        return [r.to_trade(symbol) for r in rows]

    async def depth(self, symbol: str, limit: int = 100) -> DepthSnapshot:
        body = await self._get("/fapi/v1/depth", {"symbol": symbol, "limit": limit})
        return decode(body, DepthSchema).to_snapshot(symbol)

    async def last_price(self, symbol: str) -> Decimal:
        async def fetch() -> Decimal:
            body = await self._get("/fapi/v1/ticker/price", {"symbol": symbol})
            return decode(body, PriceTickerSchema).price

        return await self._or_cached(fetch, lambda cache: cache.last_price(symbol))

    async def book_ticker(self, symbol: str) -> BookTicker:
        async def fetch() -> BookTicker:
            body = await self._get("/fapi/v1/ticker/bookTicker", {"symbol": symbol})
            return decode(body, BookTickerSchema).to_book_ticker()

        return await self._or_cached(fetch, lambda cache: cache.book_ticker(symbol))

    async def mark_price(self, symbol: str) -> MarkPrice:
        async def fetch() -> MarkPrice:
            body = await self._get("/fapi/v1/premiumIndex", {"symbol": symbol})
            return decode(body, PremiumIndexSchema).to_mark_price()

        return await self._or_cached(fetch, lambda cache: cache.mark_price(symbol))

    async def mark_prices(self) -> list[MarkPrice]:
        rows = decode(await self._get("/fapi/v1/premiumIndex"), list[PremiumIndexSchema])
        return [r.to_mark_price() for r in rows]

    # --- account ---------------------------------------------------------------------------------------

    async def account(self) -> AccountSnapshot:
        return decode(await self._get("/fapi/v3/account", signed=True), AccountV3Schema).to_snapshot()

    async def balances(self) -> list[Balance]:
        rows = decode(await self._get("/fapi/v3/balance", signed=True), list[BalanceSchema])
        return [r.to_balance() for r in rows]

    async def positions(self, symbol: str | None = None) -> list[Position]:
        body = await self._get("/fapi/v3/positionRisk", {"symbol": symbol}, signed=True)
        return [r.to_position() for r in decode(body, list[PositionRiskSchema])]

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        params: dict[str, ParamValue] = {"symbol": symbol, "leverage": leverage}
        body = await self.client.request("POST", "/fapi/v1/leverage", params, signed=True)
        return decode(body, LeverageSchema).leverage

    async def income(
        self,
        *,
        symbol: str | None = None,
        income_type: str | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        limit: int = 100,
    ) -> list[Income]:
        params: dict[str, ParamValue] = {
            "symbol": symbol,
            "incomeType": income_type,
            "startTime": start_time,
            "endTime": end_time,
            "limit": limit,
        }
        rows = decode(await self._get("/fapi/v1/income", params, signed=True), list[IncomeSchema])
        return [r.to_income() for r in rows]

    async def create_listen_key(self) -> str:
        body = await self.client.request("POST", "/fapi/v1/listenKey", api_key_only=True)
        return decode(body, ListenKeyBody).listen_key

    async def keepalive_listen_key(self) -> None:
        await self.client.request("PUT", "/fapi/v1/listenKey", api_key_only=True)

    async def delete_listen_key(self) -> None:
        await self.client.request("DELETE", "/fapi/v1/listenKey", api_key_only=True)


def _with_brackets(inst: Instrument, brackets: tuple[LeverageBracket, ...]) -> Instrument:
    return msgspec.structs.replace(inst, brackets=brackets)
