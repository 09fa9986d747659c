"""Binance's REST rate limits, as a pure accounting class fed the exchange time.

- REQUEST_WEIGHT per IP over a fixed 1-minute window (``X-MBX-USED-WEIGHT-1M``), every request, with
  per-endpoint weights as data (:data:`DEFAULT_WEIGHTS`, from the endpoint pages of Binance's docs).
- ORDERS per account over fixed 10-second and 1-minute windows (``X-MBX-ORDER-COUNT-10S/1M``).
- Over a limit: 429 with ``Retry-After`` (-1003 for weight, -1015 for orders). A client that keeps
  sending after its 429 is banned: 418 with ``Retry-After``, for a duration that doubles with each ban
  (2 minutes up to 3 days, as Binance describes its escalation).

Windows are aligned on the clock (the minute starts at ``now - now % 60000``) like Binance's counters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import NamedTuple

import msgspec

from exchanges.sandbox.errors import ExchangeError

__all__ = [
    "DEFAULT_ORDER_COUNTS",
    "DEFAULT_WEIGHTS",
    "OrderUsage",
    "RateLimiter",
    "WeightRule",
]

MINUTE_MS = 60_000
TEN_SECONDS_MS = 10_000
_INF = 1 << 62


class WeightRule(msgspec.Struct, frozen=True):
    """The IP weight of one endpoint.

    ``by_limit`` is ``((max_limit_inclusive, weight), ...)`` in increasing order, looked up with the
    request's ``limit`` (``default_limit`` when absent); otherwise ``without_symbol`` applies when the
    request has no ``symbol`` and ``base`` in every other case.
    """

    base: int
    without_symbol: int | None = None
    by_limit: tuple[tuple[int, int], ...] = ()
    default_limit: int = 500

    def weight(self, params: Mapping[str, str]) -> int:
        if self.by_limit:
            raw = params.get("limit") or ""
            limit = int(raw) if raw.isdigit() and len(raw) < 12 else self.default_limit
            for top, weight in self.by_limit:
                if limit <= top:
                    return weight
            return self.by_limit[-1][1]
        if self.without_symbol is not None and not params.get("symbol"):
            return self.without_symbol
        return self.base


_KLINES = WeightRule(1, by_limit=((99, 1), (499, 2), (1000, 5), (_INF, 10)), default_limit=500)
_DEPTH = WeightRule(2, by_limit=((50, 2), (100, 5), (500, 10), (_INF, 20)), default_limit=500)

# (method, path) -> weight. Endpoints not listed weigh 1.
DEFAULT_WEIGHTS: Mapping[tuple[str, str], WeightRule] = {
    ("GET", "/fapi/v1/ping"): WeightRule(1),
    ("GET", "/fapi/v1/time"): WeightRule(1),
    ("GET", "/fapi/v1/exchangeInfo"): WeightRule(1),
    ("GET", "/fapi/v1/klines"): _KLINES,
    ("GET", "/fapi/v1/continuousKlines"): _KLINES,
    ("GET", "/fapi/v1/markPriceKlines"): _KLINES,
    ("GET", "/fapi/v1/depth"): _DEPTH,
    ("GET", "/fapi/v1/aggTrades"): WeightRule(20),
    ("GET", "/fapi/v1/ticker/price"): WeightRule(1, without_symbol=2),
    ("GET", "/fapi/v2/ticker/price"): WeightRule(1, without_symbol=2),
    ("GET", "/fapi/v1/ticker/bookTicker"): WeightRule(2, without_symbol=5),
    ("GET", "/fapi/v1/ticker/24hr"): WeightRule(1, without_symbol=40),
    ("GET", "/fapi/v1/premiumIndex"): WeightRule(1, without_symbol=10),
    ("GET", "/fapi/v1/fundingRate"): WeightRule(1),
    ("GET", "/fapi/v1/leverageBracket"): WeightRule(1),
    ("GET", "/fapi/v1/symbolConfig"): WeightRule(5),
    ("POST", "/fapi/v1/order"): WeightRule(0),
    ("GET", "/fapi/v1/order"): WeightRule(1),
    ("DELETE", "/fapi/v1/order"): WeightRule(1),
    ("POST", "/fapi/v1/batchOrders"): WeightRule(5),
    ("DELETE", "/fapi/v1/batchOrders"): WeightRule(1),
    ("GET", "/fapi/v1/openOrder"): WeightRule(1),
    ("GET", "/fapi/v1/openOrders"): WeightRule(1, without_symbol=40),
    ("DELETE", "/fapi/v1/allOpenOrders"): WeightRule(1),
    ("GET", "/fapi/v1/allOrders"): WeightRule(5),
    ("GET", "/fapi/v1/userTrades"): WeightRule(5),
    ("POST", "/fapi/v1/algoOrder"): WeightRule(0),
    ("GET", "/fapi/v1/algoOrder"): WeightRule(1),
    ("DELETE", "/fapi/v1/algoOrder"): WeightRule(1),
    ("GET", "/fapi/v1/openAlgoOrders"): WeightRule(1, without_symbol=40),
    ("DELETE", "/fapi/v1/algoOpenOrders"): WeightRule(1),
    ("GET", "/fapi/v1/allAlgoOrders"): WeightRule(5),
    ("POST", "/fapi/v1/leverage"): WeightRule(1),
    ("POST", "/fapi/v1/marginType"): WeightRule(1),
    ("POST", "/fapi/v1/positionSide/dual"): WeightRule(1),
    ("GET", "/fapi/v1/positionSide/dual"): WeightRule(30),
    ("GET", "/fapi/v1/multiAssetsMargin"): WeightRule(30),
    ("GET", "/fapi/v2/account"): WeightRule(5),
    ("GET", "/fapi/v3/account"): WeightRule(5),
    ("GET", "/fapi/v2/balance"): WeightRule(5),
    ("GET", "/fapi/v3/balance"): WeightRule(5),
    ("GET", "/fapi/v2/positionRisk"): WeightRule(5),
    ("GET", "/fapi/v3/positionRisk"): WeightRule(5),
    ("GET", "/fapi/v1/income"): WeightRule(30),
    ("GET", "/fapi/v1/commissionRate"): WeightRule(20),
    ("POST", "/fapi/v1/countdownCancelAll"): WeightRule(10),
    ("GET", "/fapi/v1/apiTradingStatus"): WeightRule(1, without_symbol=10),
    ("POST", "/fapi/v1/listenKey"): WeightRule(1),
    ("PUT", "/fapi/v1/listenKey"): WeightRule(1),
    ("DELETE", "/fapi/v1/listenKey"): WeightRule(1),
}

# (method, path) -> (count on the 10 s window, count on the 1 min window), per Binance's docs.
DEFAULT_ORDER_COUNTS: Mapping[tuple[str, str], tuple[int, int]] = {
    ("POST", "/fapi/v1/order"): (1, 1),
    ("POST", "/fapi/v1/batchOrders"): (5, 1),
    ("POST", "/fapi/v1/algoOrder"): (1, 1),
}

_DEFAULT_RULE = WeightRule(1)


class _Window:
    """A fixed window counter: resets when the clock enters the next window."""

    __slots__ = ("count", "length", "start")

    def __init__(self, length: int) -> None:
        self.length = length
        self.start = -1
        self.count = 0

    def roll(self, now_ms: int) -> None:
        start = now_ms - now_ms % self.length
        if start != self.start:
            self.start = start
            self.count = 0

    def retry_after_ms(self, now_ms: int) -> int:
        return self.start + self.length - now_ms


class _IpState:
    __slots__ = ("ban_until", "bans", "strikes", "weight")

    def __init__(self) -> None:
        self.weight = _Window(MINUTE_MS)
        self.strikes = 0  # requests refused with 429 in the current window
        self.ban_until = 0
        self.bans = 0


class _AccountState:
    __slots__ = ("m1", "s10")

    def __init__(self) -> None:
        self.s10 = _Window(TEN_SECONDS_MS)
        self.m1 = _Window(MINUTE_MS)


class OrderUsage(NamedTuple):
    """Orders counted for an account in the current 10 s and 1 min windows."""

    count_10s: int
    count_1m: int


class RateLimiter:
    """Request-weight and order-count accounting with Binance's answers when a limit is hit.

    ``speed`` is the exchange clock's speed, so ``Retry-After`` is given in wall-clock seconds.
    """

    def __init__(
        self,
        *,
        weight_limit: int = 2400,
        orders_10s_limit: int = 300,
        orders_1m_limit: int = 1200,
        weights: Mapping[tuple[str, str], WeightRule] | None = None,
        order_counts: Mapping[tuple[str, str], tuple[int, int]] | None = None,
        ban_after: int = 10,
        ban_base_ms: int = 120_000,
        ban_max_ms: int = 3 * 24 * 3600 * 1000,
        speed: float = 1.0,
    ) -> None:
        if min(weight_limit, orders_10s_limit, orders_1m_limit) <= 0:
            raise ValueError("rate limits must be positive")
        self.weight_limit = weight_limit
        self.orders_10s_limit = orders_10s_limit
        self.orders_1m_limit = orders_1m_limit
        self._weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
        self._order_counts = dict(DEFAULT_ORDER_COUNTS if order_counts is None else order_counts)
        self._ban_after = ban_after
        self._ban_base_ms = ban_base_ms
        self._ban_max_ms = ban_max_ms
        self._speed = speed
        self._ips: dict[str, _IpState] = {}
        self._accounts: dict[str, _AccountState] = {}

    # --- data ---------------------------------------------------------------------------------------

    def weight_of(self, method: str, path: str, params: Mapping[str, str]) -> int:
        """The IP weight a request to ``method path`` with ``params`` costs."""
        return self._weights.get((method, path), _DEFAULT_RULE).weight(params)

    def order_count_of(self, method: str, path: str) -> tuple[int, int] | None:
        """``(10 s, 1 min)`` order counts of an order-placing endpoint; None for every other one."""
        return self._order_counts.get((method, path))

    # --- accounting ---------------------------------------------------------------------------------

    def used_weight(self, ip: str, now_ms: int) -> int:
        state = self._ips.get(ip)
        if state is None:
            return 0
        state.weight.roll(now_ms)
        return state.weight.count

    def acquire_weight(self, ip: str, weight: int, now_ms: int) -> int:
        """Charge ``weight`` to ``ip``; returns the used weight. Raises 429/418 when refused."""
        state = self._ips.get(ip)
        if state is None:
            state = self._ips[ip] = _IpState()
        if now_ms < state.ban_until:
            raise self._banned(state, now_ms)
        window = state.weight
        if window.start != now_ms - now_ms % window.length:
            window.roll(now_ms)
            state.strikes = 0
        if window.count + weight > self.weight_limit:
            state.strikes += 1
            if state.strikes > self._ban_after:
                duration = min(self._ban_base_ms * (2**state.bans), self._ban_max_ms)
                state.bans += 1
                state.ban_until = now_ms + duration
                state.strikes = 0
                raise self._banned(state, now_ms)
            err = ExchangeError.too_many_requests(self.weight_limit, "1 MINUTE")
            err.headers.update(
                {
                    "Retry-After": self._seconds(window.retry_after_ms(now_ms)),
                    "X-MBX-USED-WEIGHT-1M": str(window.count),
                }
            )
            raise err
        window.count += weight
        return window.count

    def acquire_orders(self, account: str, count_10s: int, count_1m: int, now_ms: int) -> OrderUsage:
        """Count new orders for ``account``; raises 429 -1015 (with Retry-After) over either limit."""
        state = self._accounts.get(account)
        if state is None:
            state = self._accounts[account] = _AccountState()
        state.s10.roll(now_ms)
        state.m1.roll(now_ms)
        for window, extra, limit, label in (
            (state.s10, count_10s, self.orders_10s_limit, "10 SECOND"),
            (state.m1, count_1m, self.orders_1m_limit, "1 MINUTE"),
        ):
            if window.count + extra > limit:
                err = ExchangeError.too_many_orders(limit, label)
                err.headers.update(
                    {
                        "Retry-After": self._seconds(window.retry_after_ms(now_ms)),
                        "X-MBX-ORDER-COUNT-10S": str(state.s10.count),
                        "X-MBX-ORDER-COUNT-1M": str(state.m1.count),
                    }
                )
                raise err
        state.s10.count += count_10s
        state.m1.count += count_1m
        return OrderUsage(state.s10.count, state.m1.count)

    # --- helpers ------------------------------------------------------------------------------------

    def _banned(self, state: _IpState, now_ms: int) -> ExchangeError:
        err = ExchangeError.banned(state.ban_until)
        err.headers["Retry-After"] = self._seconds(state.ban_until - now_ms)
        return err

    def _seconds(self, exchange_ms: int) -> str:
        return str(max(1, math.ceil(exchange_ms / 1000.0 / self._speed)))
