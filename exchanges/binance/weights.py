"""Binance USDⓈ-M rate limits as data: the pools, request priorities, and what each REST request costs.

Two kinds of pool (Binance's ``rateLimits`` in exchangeInfo):

- ``REQUEST_WEIGHT`` per IP (``X-MBX-USED-WEIGHT-1M``): every request, with the weight of its endpoint page
  in Binance's docs (:data:`ENDPOINT_WEIGHTS`). Some weights depend on the ``limit`` parameter (depth,
  klines) or on whether ``symbol`` was sent (openOrders 1 / 40, bookTicker 2 / 5, premiumIndex 1 / 10...).
- ``ORDERS`` per account (``X-MBX-ORDER-COUNT-10S`` / ``-1M``): only order placements. The count differs by
  window for batches: ``POST /fapi/v1/batchOrders`` counts 5 on the 10 s window and 1 on the 1 min window
  (and weighs 5 on the IP pool); a single ``POST /fapi/v1/order`` counts 1 and 1 and weighs 0 on the IP pool.
  ``POST /fapi/v1/algoOrder`` (conditional orders) weighs 0 and is counted like an order.

Endpoints not listed weigh 1 and count no orders.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from types import MappingProxyType

import msgspec

__all__ = [
    "DEFAULT_RULE",
    "DEFAULT_RULES",
    "ENDPOINT_WEIGHTS",
    "ORDER_COUNTS",
    "Priority",
    "RateLimitRule",
    "RequestCost",
    "WeightRule",
    "request_cost",
]

_NO_TOP = 1 << 62
_UNIT_MS = {"SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000}


class Priority(IntEnum):
    """Who goes first when the budget is tight: lower value first."""

    CRITICAL = 0  # cancels, protective stops, emergency closes
    ENTRY = 1  # new positions
    READ = 2  # queries


class RateLimitRule(msgspec.Struct, frozen=True):
    """One pool: ``limit`` units of ``kind`` (``REQUEST_WEIGHT`` or ``ORDERS``) per ``interval_ms``."""

    kind: str
    interval_ms: int
    limit: int

    def __post_init__(self) -> None:
        if self.interval_ms <= 0 or self.limit <= 0:
            raise ValueError(f"a rate limit needs a positive interval and limit: {self}")

    @classmethod
    def from_binance(
        cls, rate_limit_type: str, interval: str, interval_num: int, limit: int
    ) -> RateLimitRule:
        """A rule from an exchangeInfo ``rateLimits`` entry (``interval`` SECOND / MINUTE / HOUR / DAY)."""
        unit = _UNIT_MS.get(interval.upper())
        if unit is None:
            raise ValueError(f"unknown rate limit interval {interval!r}")
        return cls(rate_limit_type.upper(), unit * interval_num, limit)

    @property
    def name(self) -> str:
        """``KIND_<n><unit>`` as in Binance's headers, e.g. ``REQUEST_WEIGHT_1M``, ``ORDERS_10S``."""
        for suffix, ms in (("D", 86_400_000), ("H", 3_600_000), ("M", 60_000), ("S", 1000)):
            if self.interval_ms % ms == 0:
                return f"{self.kind}_{self.interval_ms // ms}{suffix}"
        return f"{self.kind}_{self.interval_ms}MS"


DEFAULT_RULES: tuple[RateLimitRule, ...] = (
    RateLimitRule("REQUEST_WEIGHT", 60_000, 2400),
    RateLimitRule("ORDERS", 10_000, 300),
    RateLimitRule("ORDERS", 60_000, 1200),
)


class WeightRule(msgspec.Struct, frozen=True):
    """The IP weight of one endpoint.

    ``by_limit`` is ``((max_limit_inclusive, weight), ...)`` in increasing order, looked up with the
    request's ``limit`` (``default_limit`` when absent or unreadable); otherwise ``without_symbol`` applies
    when the request has no ``symbol`` and ``base`` in every other case.
    """

    base: int
    without_symbol: int | None = None
    by_limit: tuple[tuple[int, int], ...] = ()
    default_limit: int = 500

    def weight(self, params: Mapping[str, str]) -> int:
        """The weight of a request with these parameters."""
        if self.by_limit:
            raw = params.get("limit", "")
            limit = int(raw) if raw.isdigit() and len(raw) < 12 else self.default_limit
            for top, weight in self.by_limit:
                if limit <= top:
                    return weight
            return self.by_limit[-1][1]
        if self.without_symbol is not None and not params.get("symbol"):
            return self.without_symbol
        return self.base


class RequestCost(msgspec.Struct, frozen=True):
    """What one request takes from each pool: IP weight, and orders on the short and long windows."""

    weight: int
    orders_10s: int = 0
    orders_1m: int = 0

    @property
    def orders(self) -> int:
        """The order count on the short window (the larger of the two for every Binance endpoint)."""
        return self.orders_10s


DEFAULT_RULE = WeightRule(1)
_KLINES = WeightRule(1, by_limit=((99, 1), (499, 2), (1000, 5), (_NO_TOP, 10)), default_limit=500)
_DEPTH = WeightRule(2, by_limit=((50, 2), (100, 5), (500, 10), (_NO_TOP, 20)), default_limit=500)

# (method, path) -> IP weight, from each endpoint's page in Binance's USDⓈ-M docs.
ENDPOINT_WEIGHTS: Mapping[tuple[str, str], WeightRule] = MappingProxyType(
    {
        # Market data.
        ("GET", "/fapi/v1/ping"): WeightRule(1),
        ("GET", "/fapi/v1/time"): WeightRule(1),
        ("GET", "/fapi/v1/exchangeInfo"): WeightRule(1),
        ("GET", "/fapi/v1/depth"): _DEPTH,
        ("GET", "/fapi/v1/trades"): WeightRule(5),
        ("GET", "/fapi/v1/historicalTrades"): WeightRule(20),
        ("GET", "/fapi/v1/aggTrades"): WeightRule(20),
        ("GET", "/fapi/v1/klines"): _KLINES,
        ("GET", "/fapi/v1/continuousKlines"): _KLINES,
        ("GET", "/fapi/v1/indexPriceKlines"): _KLINES,
        ("GET", "/fapi/v1/markPriceKlines"): _KLINES,
        ("GET", "/fapi/v1/premiumIndexKlines"): _KLINES,
        ("GET", "/fapi/v1/premiumIndex"): WeightRule(1, without_symbol=10),
        ("GET", "/fapi/v1/fundingRate"): WeightRule(1),
        ("GET", "/fapi/v1/fundingInfo"): WeightRule(1),
        ("GET", "/fapi/v1/ticker/24hr"): WeightRule(1, without_symbol=40),
        ("GET", "/fapi/v1/ticker/price"): WeightRule(1, without_symbol=2),
        ("GET", "/fapi/v2/ticker/price"): WeightRule(1, without_symbol=2),
        ("GET", "/fapi/v1/ticker/bookTicker"): WeightRule(2, without_symbol=5),
        ("GET", "/fapi/v1/openInterest"): WeightRule(1),
        # Orders: placements weigh 0 on the IP pool (they count on the ORDERS pools instead).
        ("POST", "/fapi/v1/order"): WeightRule(0),
        ("GET", "/fapi/v1/order"): WeightRule(1),
        ("DELETE", "/fapi/v1/order"): WeightRule(1),
        ("PUT", "/fapi/v1/order"): WeightRule(1),
        ("POST", "/fapi/v1/batchOrders"): WeightRule(5),
        ("PUT", "/fapi/v1/batchOrders"): WeightRule(5),
        ("DELETE", "/fapi/v1/batchOrders"): WeightRule(1),
        ("DELETE", "/fapi/v1/allOpenOrders"): WeightRule(1),
        ("POST", "/fapi/v1/countdownCancelAll"): WeightRule(10),
        ("GET", "/fapi/v1/openOrder"): WeightRule(1),
        ("GET", "/fapi/v1/openOrders"): WeightRule(1, without_symbol=40),
        ("GET", "/fapi/v1/allOrders"): WeightRule(5),
        ("POST", "/fapi/v1/algoOrder"): WeightRule(0),
        ("GET", "/fapi/v1/algoOrder"): WeightRule(1),
        ("DELETE", "/fapi/v1/algoOrder"): WeightRule(1),
        ("DELETE", "/fapi/v1/algoOpenOrders"): WeightRule(1),
        ("GET", "/fapi/v1/openAlgoOrders"): WeightRule(1, without_symbol=40),
        ("GET", "/fapi/v1/allAlgoOrders"): WeightRule(5),
        ("GET", "/fapi/v1/userTrades"): WeightRule(5),
        # Account.
        ("GET", "/fapi/v2/account"): WeightRule(5),
        ("GET", "/fapi/v3/account"): WeightRule(5),
        ("GET", "/fapi/v2/balance"): WeightRule(5),
        ("GET", "/fapi/v3/balance"): WeightRule(5),
        ("GET", "/fapi/v2/positionRisk"): WeightRule(5),
        ("GET", "/fapi/v3/positionRisk"): WeightRule(5),
        ("GET", "/fapi/v1/income"): WeightRule(30),
        ("GET", "/fapi/v1/commissionRate"): WeightRule(20),
        ("GET", "/fapi/v1/leverageBracket"): WeightRule(1),
        ("GET", "/fapi/v1/symbolConfig"): WeightRule(5),
        ("POST", "/fapi/v1/leverage"): WeightRule(1),
        ("POST", "/fapi/v1/marginType"): WeightRule(1),
        ("POST", "/fapi/v1/positionSide/dual"): WeightRule(1),
        ("GET", "/fapi/v1/positionSide/dual"): WeightRule(30),
        ("GET", "/fapi/v1/multiAssetsMargin"): WeightRule(30),
        ("GET", "/fapi/v1/apiTradingStatus"): WeightRule(1, without_symbol=10),
        ("POST", "/fapi/v1/listenKey"): WeightRule(1),
        ("PUT", "/fapi/v1/listenKey"): WeightRule(1),
        ("DELETE", "/fapi/v1/listenKey"): WeightRule(1),
    }
)

# (method, path) -> (orders counted on the 10 s window, on the 1 min window).
ORDER_COUNTS: Mapping[tuple[str, str], tuple[int, int]] = MappingProxyType(
    {
        ("POST", "/fapi/v1/order"): (1, 1),
        ("POST", "/fapi/v1/batchOrders"): (5, 1),
        ("POST", "/fapi/v1/algoOrder"): (1, 1),
    }
)


def request_cost(method: str, path: str, params: Mapping[str, str]) -> RequestCost:
    """The cost of ``method path`` with ``params`` (query string parameters, undecoded values)."""
    key = (method.upper(), path.split("?", 1)[0])
    weight = ENDPOINT_WEIGHTS.get(key, DEFAULT_RULE).weight(params)
    orders_10s, orders_1m = ORDER_COUNTS.get(key, (0, 0))
    return RequestCost(weight, orders_10s, orders_1m)
