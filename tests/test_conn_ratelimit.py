"""Rate limiting: endpoint weights as data, the pure RateBudget, and the async RateLimiter."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import ManualClock, ScaledClock
from exchanges.binance.ratelimit import DEFAULT_RULES, Priority, RateBudget, RateLimiter, RateLimitRule
from exchanges.binance.weights import ENDPOINT_WEIGHTS, ORDER_COUNTS, RequestCost, request_cost
from exchanges.errors import BannedError
from exchanges.sandbox.server import ratelimit as sandbox_ratelimit

MIN = 60_000

# --- weights -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "expected"),
    [
        ("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "5"}, RequestCost(2)),
        ("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "100"}, RequestCost(5)),
        ("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT"}, RequestCost(10)),  # default limit 500
        ("GET", "/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "1000"}, RequestCost(20)),
        ("GET", "/fapi/v1/klines", {"symbol": "BTCUSDT", "limit": "99"}, RequestCost(1)),
        ("GET", "/fapi/v1/klines", {"symbol": "BTCUSDT", "limit": "1500"}, RequestCost(10)),
        ("GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"}, RequestCost(1)),
        ("GET", "/fapi/v1/openOrders", {}, RequestCost(40)),
        ("GET", "/fapi/v1/ticker/bookTicker", {}, RequestCost(5)),
        ("GET", "/fapi/v1/premiumIndex", {}, RequestCost(10)),
        ("GET", "/fapi/v1/aggTrades", {"symbol": "BTCUSDT"}, RequestCost(20)),
        ("GET", "/fapi/v3/positionRisk", {}, RequestCost(5)),
        ("GET", "/fapi/v1/income", {}, RequestCost(30)),
        ("POST", "/fapi/v1/order", {"symbol": "BTCUSDT"}, RequestCost(0, 1, 1)),
        ("POST", "/fapi/v1/batchOrders", {}, RequestCost(5, 5, 1)),
        ("POST", "/fapi/v1/algoOrder", {}, RequestCost(0, 1, 1)),
        ("DELETE", "/fapi/v1/order", {}, RequestCost(1)),
        ("POST", "/fapi/v1/countdownCancelAll", {}, RequestCost(10)),
        ("get", "/fapi/v1/time?x=1", {}, RequestCost(1)),
        ("GET", "/fapi/v1/notAnEndpoint", {}, RequestCost(1)),
    ],
)
def test_request_cost(method, path, params, expected):
    assert request_cost(method, path, params) == expected


def test_weights_agree_with_the_sandbox_table():
    """Both tables were read from Binance's endpoint pages; a disagreement means one of them is wrong."""
    probes = [{}, {"symbol": "BTCUSDT"}] + [{"limit": str(n)} for n in (5, 50, 99, 100, 499, 500, 1000, 1500)]
    for key, rule in sandbox_ratelimit.DEFAULT_WEIGHTS.items():
        assert key in ENDPOINT_WEIGHTS, f"{key} missing from exchanges.binance.weights"
        for params in probes:
            assert ENDPOINT_WEIGHTS[key].weight(params) == rule.weight(params), (key, params)
    assert dict(ORDER_COUNTS) == dict(sandbox_ratelimit.DEFAULT_ORDER_COUNTS)


# --- rules ---------------------------------------------------------------------------------------------


def test_rules_from_exchange_info():
    assert RateLimitRule.from_binance("REQUEST_WEIGHT", "MINUTE", 1, 2400) == DEFAULT_RULES[0]
    assert RateLimitRule.from_binance("ORDERS", "SECOND", 10, 300) == DEFAULT_RULES[1]
    assert [r.name for r in DEFAULT_RULES] == ["REQUEST_WEIGHT_1M", "ORDERS_10S", "ORDERS_1M"]
    with pytest.raises(ValueError):
        RateLimitRule.from_binance("ORDERS", "FORTNIGHT", 1, 1)
    with pytest.raises(ValueError):
        RateLimitRule("ORDERS", 0, 10)


# --- the pure budget -----------------------------------------------------------------------------------


def budget_at(now: int, **kw) -> tuple[RateBudget, ManualClock]:
    clock = ManualClock(now)
    return RateBudget(DEFAULT_RULES, clock, **kw), clock


def test_budget_caps_and_critical_reserve():
    budget, _ = budget_at(10 * MIN)
    budget.commit(1_680, 0)  # 70 % of 2400: the cap of entries and reads
    assert budget.wait_time(1, 0, Priority.READ) == 60.0
    assert budget.wait_time(1, 0, Priority.ENTRY) == 60.0
    assert budget.wait_time(240, 0, Priority.CRITICAL) == 0.0  # the reserve, up to 80 %
    budget.commit(240, 0)
    assert budget.wait_time(1, 0, Priority.CRITICAL) == 60.0
    assert budget.usage()["REQUEST_WEIGHT_1M"] == pytest.approx(0.8)


def test_windows_are_aligned_on_the_clock():
    budget, clock = budget_at(10 * MIN + 59_000)
    budget.commit(1_680, 0)
    assert budget.wait_time(1, 0, Priority.READ) == 1.0  # the minute ends in 1 s, not in 60 s
    clock.advance(1_000)
    assert budget.wait_time(1, 0, Priority.READ) == 0.0
    assert budget.usage()["REQUEST_WEIGHT_1M"] == 0.0


def test_order_windows_count_batches_differently():
    budget, clock = budget_at(0)
    batch = RequestCost(5, 5, 1)
    for _ in range(42):  # 42 batches x 5 = 210 = 70 % of 300 on the 10 s window
        assert budget.wait_for(batch, Priority.ENTRY) == 0.0
        budget.commit_cost(batch)
    assert budget.wait_for(batch, Priority.ENTRY) == 10.0
    assert budget.usage()["ORDERS_10S"] == pytest.approx(0.7)
    assert budget.usage()["ORDERS_1M"] == pytest.approx(42 / 1200)
    clock.advance(10_000)
    assert budget.wait_for(batch, Priority.ENTRY) == 0.0


def test_contract_style_cost_wait_commit():
    budget, _ = budget_at(0)
    weight, orders = budget.cost("POST", "/fapi/v1/batchOrders", {})
    assert (weight, orders) == (5, 5)
    budget.commit(weight, orders, orders_1m=1)
    assert budget.usage()["ORDERS_1M"] == pytest.approx(1 / 1200)
    assert budget.wait_time(weight, orders, Priority.ENTRY, orders_1m=1) == 0.0


def test_headers_correct_upwards_only():
    budget, _ = budget_at(0)
    budget.commit(10, 0)
    budget.observe_headers({"x-mbx-used-weight-1m": "1700", "X-MBX-ORDER-COUNT-10S": "200", "Other": "9"})
    assert budget.usage()["REQUEST_WEIGHT_1M"] == pytest.approx(1700 / 2400)
    assert budget.wait_time(1, 0, Priority.READ) == 60.0
    assert budget.wait_time(0, 11, Priority.ENTRY) == 10.0
    budget.observe_headers({"X-MBX-USED-WEIGHT-1M": "5", "X-MBX-ORDER-COUNT-1M": "junk"})
    assert budget.usage()["REQUEST_WEIGHT_1M"] == pytest.approx(1700 / 2400)


def test_header_counts_expire_with_their_window():
    budget, clock = budget_at(0)
    budget.observe_headers({"X-MBX-USED-WEIGHT-1M": "2000"})
    clock.advance(MIN)
    assert budget.wait_time(1, 0, Priority.READ) == 0.0


def test_429_holds_everything_for_retry_after():
    budget, clock = budget_at(0)
    budget.on_429(2.5)
    for priority in Priority:
        assert budget.wait_time(0, 0, priority) == 2.5
    assert not budget.entries_halted()
    clock.advance(2_500)
    assert budget.wait_time(1, 0, Priority.READ) == 0.0


def test_429_retry_after_is_wall_seconds():
    clock = ScaledClock(start_ms=0, speed=10.0)
    budget = RateBudget(DEFAULT_RULES, clock)
    budget.on_429(1.0)  # one wall second = ten clock seconds
    assert 9.5 < budget.wait_time(1, 0, Priority.READ) <= 10.0


def test_418_halts_entries_and_alerts(caplog):
    budget, clock = budget_at(1_000)
    with caplog.at_level(logging.ERROR, logger="casino.ratelimit"):
        budget.on_418(120.0)
    assert budget.entries_halted()
    assert budget.banned_until_ms == 121_000
    assert budget.wait_time(0, 0, Priority.CRITICAL) == 120.0
    assert any("banned" in r.getMessage() and r.levelno >= logging.ERROR for r in caplog.records)
    clock.advance(120_000)
    assert not budget.entries_halted()


def test_update_rules_keeps_counts_of_unchanged_pools():
    budget, _ = budget_at(0)
    budget.commit(100, 3)
    budget.update_rules([RateLimitRule("REQUEST_WEIGHT", MIN, 1200), RateLimitRule("ORDERS", 10_000, 50)])
    usage = budget.usage()
    assert set(usage) == {"REQUEST_WEIGHT_1M", "ORDERS_10S"}
    assert usage["REQUEST_WEIGHT_1M"] == pytest.approx(100 / 1200)
    assert usage["ORDERS_10S"] == pytest.approx(3 / 50)


def test_invalid_budget_settings():
    clock = ManualClock()
    with pytest.raises(ValueError):
        RateBudget(DEFAULT_RULES, clock, budget=0.0)
    with pytest.raises(ValueError):
        RateBudget(DEFAULT_RULES, clock, budget=0.5, critical_reserve=0.5)


requests = st.tuples(
    st.integers(0, 3_000),  # ms to wait before trying
    st.integers(0, 40),  # weight
    st.integers(0, 5),  # orders on the 10 s window
    st.sampled_from(list(Priority)),
)


@settings(max_examples=150, deadline=None)
@given(ops=st.lists(requests, min_size=1, max_size=300), budget_share=st.sampled_from([0.5, 0.8, 1.0]))
def test_obeying_wait_time_never_exceeds_the_budget(ops, budget_share):
    rules = [RateLimitRule("REQUEST_WEIGHT", MIN, 400), RateLimitRule("ORDERS", 10_000, 30)]
    clock = ManualClock(123)
    budget = RateBudget(rules, clock, budget=budget_share, critical_reserve=0.1)
    spent: dict[tuple[str, int], int] = {}
    for delay, weight, orders, priority in ops:
        clock.advance(delay)
        cost = RequestCost(weight, orders, orders)
        wait = budget.wait_for(cost, priority)
        if wait > 0:
            clock.advance(round(wait * 1000))
            assert budget.wait_for(cost, priority) == 0.0  # waiting as told is always enough here
        share = budget_share if priority is Priority.CRITICAL else budget_share - 0.1
        now = clock.now_ms()
        for rule, need in ((rules[0], weight), (rules[1], orders)):
            key = (rule.kind, now - now % rule.interval_ms)
            if need:
                # The caller was admitted: within its share of the limit, whatever came before.
                assert spent.get(key, 0) + need <= share * rule.limit + 1e-9
                spent[key] = spent.get(key, 0) + need
        budget.commit_cost(cost)
    for (kind, _), used in spent.items():
        limit = rules[0].limit if kind == "REQUEST_WEIGHT" else rules[1].limit
        assert used <= budget_share * limit


# --- the async limiter ---------------------------------------------------------------------------------


async def wait_until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.001)


def tiny_limiter(clock, *, weight_limit: int = 1, orders_limit: int = 100) -> RateLimiter:
    rules = [
        RateLimitRule("REQUEST_WEIGHT", MIN, weight_limit),
        RateLimitRule("ORDERS", 10_000, orders_limit),
    ]
    return RateLimiter(RateBudget(rules, clock, budget=1.0, critical_reserve=0.0), clock)


async def test_priority_first_then_fifo():
    clock = ManualClock(0)
    limiter = tiny_limiter(clock)
    await limiter.acquire("GET", "/fapi/v1/time", {}, Priority.READ)  # the window is now full
    done: list[str] = []

    async def go(name: str, priority: Priority) -> None:
        await limiter.acquire("GET", "/fapi/v1/time", {}, priority)
        done.append(name)

    tasks = []
    for name, priority in [("r1", Priority.READ), ("r2", Priority.READ), ("e1", Priority.ENTRY)]:
        tasks.append(asyncio.create_task(go(name, priority)))
        count = len(tasks)
        await wait_until(lambda c=count: limiter.waiting == c)
    tasks.append(asyncio.create_task(go("c1", Priority.CRITICAL)))  # arrives last, goes first
    await wait_until(lambda: limiter.waiting == 4)
    for expected in (["c1"], ["c1", "e1"], ["c1", "e1", "r1"], ["c1", "e1", "r1", "r2"]):
        clock.advance(MIN)
        limiter.wake()  # a ManualClock does not tell sleepers that it moved
        await wait_until(lambda e=expected: done == e)
        await asyncio.sleep(0.01)
        assert done == expected  # exactly one per window
    await asyncio.gather(*tasks)


async def test_reads_are_not_held_up_by_an_exhausted_order_count():
    clock = ManualClock(0)
    limiter = tiny_limiter(clock, weight_limit=100, orders_limit=1)
    await limiter.acquire("POST", "/fapi/v1/order", {}, Priority.ENTRY)
    entry = asyncio.create_task(limiter.acquire("POST", "/fapi/v1/order", {}, Priority.ENTRY))
    await wait_until(lambda: limiter.waiting == 1)
    await asyncio.wait_for(limiter.acquire("GET", "/fapi/v3/account", {}, Priority.READ), 1.0)
    assert not entry.done()
    clock.advance(10_000)
    limiter.wake()
    await asyncio.wait_for(entry, 1.0)


async def test_a_read_waits_behind_an_entry_on_a_shared_pool():
    clock = ManualClock(0)
    limiter = tiny_limiter(clock, weight_limit=2)
    await limiter.acquire("GET", "/fapi/v1/time", {}, Priority.READ)
    entry = asyncio.create_task(limiter.acquire("GET", "/fapi/v3/account", {}, Priority.ENTRY))  # weight 5
    await wait_until(lambda: limiter.waiting == 1)
    read = asyncio.create_task(limiter.acquire("GET", "/fapi/v1/time", {}, Priority.READ))  # would fit
    await wait_until(lambda: limiter.waiting == 2)
    await asyncio.sleep(0.01)
    assert not read.done()  # it would take weight the entry ahead of it is waiting for
    clock.advance(MIN)
    limiter.wake()
    await asyncio.wait_for(entry, 1.0)
    clock.advance(MIN)
    limiter.wake()
    await asyncio.wait_for(read, 1.0)


async def test_banned_raises_at_once_and_wakes_waiters():
    clock = ManualClock(0)
    limiter = tiny_limiter(clock)
    await limiter.acquire("GET", "/fapi/v1/time", {}, Priority.READ)
    waiting = asyncio.create_task(limiter.acquire("GET", "/fapi/v1/time", {}, Priority.CRITICAL))
    await wait_until(lambda: limiter.waiting == 1)
    limiter.budget.on_418(300.0)
    with pytest.raises(BannedError) as info:
        await asyncio.wait_for(waiting, 1.0)
    assert info.value.until_ms == 300_000 and info.value.retry_after == 300.0
    with pytest.raises(BannedError):
        await limiter.acquire("POST", "/fapi/v1/order", {}, Priority.ENTRY)
    assert limiter.waiting == 0


async def test_429_makes_acquire_wait_in_wall_time():
    clock = ScaledClock(start_ms=0, speed=100.0)
    limiter = RateLimiter(RateBudget(DEFAULT_RULES, clock), clock)
    limiter.budget.on_429(0.05)  # 50 wall ms
    started = time.monotonic()
    await asyncio.wait_for(limiter.acquire("GET", "/fapi/v1/time", {}, Priority.CRITICAL), 2.0)
    assert time.monotonic() - started >= 0.045
    assert clock.now_ms() >= limiter.budget.backoff_until_ms


async def test_cancelled_waiter_leaves_the_queue():
    clock = ManualClock(0)
    limiter = tiny_limiter(clock)
    await limiter.acquire("GET", "/fapi/v1/time", {}, Priority.READ)
    first = asyncio.create_task(limiter.acquire("GET", "/fapi/v1/time", {}, Priority.CRITICAL))
    await wait_until(lambda: limiter.waiting == 1)
    second = asyncio.create_task(limiter.acquire("GET", "/fapi/v1/time", {}, Priority.READ))
    await wait_until(lambda: limiter.waiting == 2)
    first.cancel()
    await wait_until(lambda: limiter.waiting == 1)
    clock.advance(MIN)
    limiter.wake()
    await asyncio.wait_for(second, 1.0)
    assert limiter.waiting == 0


async def test_burst_of_orders_stays_within_every_window():
    """2,000 orders through a fast clock: none over 80 % of any published limit, in order, no stall."""
    clock = ScaledClock(start_ms=1_000_000, speed=2_000.0)
    budget = RateBudget(DEFAULT_RULES, clock)
    limiter = RateLimiter(budget, clock)
    commits: list[tuple[int, RequestCost]] = []
    original = budget.commit_cost

    def recording(cost: RequestCost) -> None:
        commits.append((clock.now_ms(), cost))
        original(cost)

    budget.commit_cost = recording  # type: ignore[method-assign]

    async def place() -> None:
        await limiter.acquire("POST", "/fapi/v1/order", {"symbol": "BTCUSDT"}, Priority.ENTRY)

    await asyncio.wait_for(asyncio.gather(*(place() for _ in range(2_000))), 30.0)
    assert len(commits) == 2_000
    for rule in DEFAULT_RULES:
        if rule.kind != "ORDERS":
            continue
        per_window: dict[int, int] = {}
        for at, _ in commits:
            start = at - at % rule.interval_ms
            per_window[start] = per_window.get(start, 0) + 1
        assert max(per_window.values()) <= 0.8 * rule.limit


# --- against the sandbox on loopback -------------------------------------------------------------------


async def test_limiter_keeps_a_real_venue_below_its_limit_and_honours_429():
    """Real HTTP: 200 requests against a 100-weight/min sandbox, plus one injected 429, and none refused."""
    import aiohttp

    from core.config import SandboxSettings
    from exchanges.sandbox.runner import Sandbox

    # At 15x a 1-minute window lasts 4 wall seconds: long enough that a request budgeted at the end of one
    # window cannot, delayed by a loaded machine, land in the next one (at 60x a window is 1 s and it can).
    settings = SandboxSettings(
        port=0, symbols=("BTCUSDT",), speed=15.0, history_days=0.01, seed=5, rate_limit_weight_1m=100
    )
    async with Sandbox(settings) as sb, aiohttp.ClientSession() as http:
        clock = sb.context.clock  # the venue's clock: our windows line up with its windows
        rules = [RateLimitRule("REQUEST_WEIGHT", MIN, 100), *DEFAULT_RULES[1:]]
        budget = RateBudget(rules, clock)
        limiter = RateLimiter(budget, clock)
        statuses: list[int] = []
        seen_weights: list[int] = []

        async def call(i: int) -> None:
            while True:
                await limiter.acquire("GET", "/fapi/v1/time", {}, Priority.READ)
                async with http.get(f"{sb.rest_url}/fapi/v1/time") as resp:
                    await resp.read()
                    statuses.append(resp.status)
                    budget.observe_headers(resp.headers)
                    if resp.status == 429:
                        budget.on_429(float(resp.headers.get("Retry-After", "1")))
                        continue
                    seen_weights.append(int(resp.headers["X-MBX-USED-WEIGHT-1M"]))
                    return

        sb.context.faults.update("http_429_burst=1")
        await asyncio.wait_for(asyncio.gather(*(call(i) for i in range(200))), 60.0)
        assert statuses.count(429) == 1  # the injected one; the limiter caused none
        assert statuses.count(200) == 200
        assert max(seen_weights) <= 100
