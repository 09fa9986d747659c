"""Pure tests of the RateLimiter: weights as data, 429 with Retry-After, 418 escalation, windows."""

from __future__ import annotations

import pytest

from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.server.ratelimit import RateLimiter

T0 = 1_700_000_080_000  # 40 s into a minute (and into a 10 s window: 0 s)


def test_weights_follow_the_docs():
    rl = RateLimiter()
    assert rl.weight_of("GET", "/fapi/v1/ping", {}) == 1
    assert rl.weight_of("GET", "/fapi/v1/klines", {}) == 5  # default limit 500
    assert rl.weight_of("GET", "/fapi/v1/klines", {"limit": "99"}) == 1
    assert rl.weight_of("GET", "/fapi/v1/klines", {"limit": "100"}) == 2
    assert rl.weight_of("GET", "/fapi/v1/klines", {"limit": "1000"}) == 5
    assert rl.weight_of("GET", "/fapi/v1/klines", {"limit": "1500"}) == 10
    assert rl.weight_of("GET", "/fapi/v1/depth", {"limit": "5"}) == 2
    assert rl.weight_of("GET", "/fapi/v1/depth", {"limit": "1000"}) == 20
    assert rl.weight_of("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}) == 1
    assert rl.weight_of("GET", "/fapi/v1/openOrders", {}) == 40
    assert rl.weight_of("GET", "/fapi/v1/ticker/bookTicker", {}) == 5
    assert rl.weight_of("POST", "/fapi/v1/order", {}) == 0
    assert rl.weight_of("POST", "/fapi/v1/batchOrders", {}) == 5
    assert rl.weight_of("GET", "/fapi/v1/unknown", {}) == 1
    assert rl.order_count_of("POST", "/fapi/v1/batchOrders") == (5, 1)
    assert rl.order_count_of("GET", "/fapi/v1/order") is None


def test_429_when_the_minute_is_used_up_then_the_window_rolls():
    rl = RateLimiter(weight_limit=10)
    assert rl.acquire_weight("ip", 6, T0) == 6
    assert rl.acquire_weight("ip", 4, T0 + 1) == 10
    with pytest.raises(ExchangeError) as info:
        rl.acquire_weight("ip", 1, T0 + 2)
    err = info.value
    assert (err.http_status, err.code) == (429, -1003)
    assert err.headers["Retry-After"] == "20"  # 20 s to the next minute
    assert err.headers["X-MBX-USED-WEIGHT-1M"] == "10"
    assert "10 request weight per 1 MINUTE" in err.msg
    assert rl.acquire_weight("other-ip", 5, T0 + 2) == 5  # per IP
    assert rl.acquire_weight("ip", 3, T0 + 20_000) == 3  # new minute
    assert rl.used_weight("ip", T0 + 20_001) == 3


def test_retry_after_is_in_wall_seconds_for_a_fast_clock():
    rl = RateLimiter(weight_limit=1, speed=10.0)
    rl.acquire_weight("ip", 1, T0)
    with pytest.raises(ExchangeError) as info:
        rl.acquire_weight("ip", 1, T0)
    assert info.value.headers["Retry-After"] == "2"  # 20 s of exchange time at 10x


def test_ban_after_ignoring_429_and_escalation():
    rl = RateLimiter(weight_limit=1, ban_after=2, ban_base_ms=120_000)
    rl.acquire_weight("ip", 1, T0)
    for _ in range(2):
        with pytest.raises(ExchangeError) as info:
            rl.acquire_weight("ip", 1, T0)
        assert info.value.http_status == 429
    with pytest.raises(ExchangeError) as info:
        rl.acquire_weight("ip", 1, T0)
    assert (info.value.http_status, info.value.code) == (418, -1003)
    assert info.value.headers["Retry-After"] == "120"
    assert str(T0 + 120_000) in info.value.msg
    with pytest.raises(ExchangeError) as info:  # even a new minute is refused while banned
        rl.acquire_weight("ip", 1, T0 + 60_000)
    assert info.value.http_status == 418
    t1 = T0 + 120_000
    assert rl.acquire_weight("ip", 1, t1) == 1  # ban over
    for _ in range(2):
        with pytest.raises(ExchangeError):
            rl.acquire_weight("ip", 1, t1)
    with pytest.raises(ExchangeError) as info:
        rl.acquire_weight("ip", 1, t1)
    assert info.value.http_status == 418
    assert info.value.headers["Retry-After"] == "240"  # doubled


def test_order_counts_per_account_and_windows():
    rl = RateLimiter(orders_10s_limit=3, orders_1m_limit=5)
    assert rl.acquire_orders("a", 1, 1, T0) == (1, 1)
    assert rl.acquire_orders("a", 1, 1, T0) == (2, 2)
    assert rl.acquire_orders("a", 1, 1, T0) == (3, 3)
    with pytest.raises(ExchangeError) as info:
        rl.acquire_orders("a", 1, 1, T0 + 1)
    err = info.value
    assert (err.http_status, err.code) == (429, -1015)
    assert "3 orders per 10 SECOND" in err.msg
    assert err.headers["Retry-After"] == "10"
    assert rl.acquire_orders("b", 1, 1, T0) == (1, 1)  # per account
    assert rl.acquire_orders("a", 1, 1, T0 + 10_000) == (1, 4)  # 10 s window rolled, minute did not
    assert rl.acquire_orders("a", 1, 1, T0 + 10_001) == (2, 5)
    with pytest.raises(ExchangeError) as info:
        rl.acquire_orders("a", 1, 1, T0 + 10_002)
    assert "5 orders per 1 MINUTE" in info.value.msg


def test_limits_must_be_positive():
    with pytest.raises(ValueError):
        RateLimiter(weight_limit=0)
