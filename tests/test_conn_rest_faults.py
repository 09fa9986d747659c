"""The REST client under the sandbox's fault injection: -1021 resync, 429 bursts, circuit breakers, and
order placements with lost answers that never produce a duplicate order."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import TypeVar

import aiohttp
import pytest

from core.clock import Clock, LiveClock
from core.config import SandboxSettings
from core.events import BreakerTransition
from core.precision import round_price
from core.secrets import Secret
from core.types import AlgoOrderRequest, OrderRequest, OrderType, Side, TimeInForce, Trade
from exchanges.binance.breaker import BreakerSet, BreakerState, CircuitBreaker
from exchanges.binance.client_ids import Leg, client_algo_id, client_order_id
from exchanges.binance.market_cache import MarketCache
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.rest_api import BinanceRestApi
from exchanges.binance.retry import RetryPolicy
from exchanges.binance.venues import venue_preset
from exchanges.errors import BreakerOpenError, RetryableError, UnknownOutcomeError, VenueError
from exchanges.sandbox.runner import Sandbox
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(90)

R = TypeVar("R")
T = TypeVar("T")
FAST_RETRY = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@asynccontextmanager
async def session(
    *, speed: float = 10.0, clock: Clock | None = None, breakers: BreakerSet | None = None
) -> AsyncIterator[tuple[Sandbox, BinanceRestApi]]:
    settings = SandboxSettings(port=0, speed=speed, history_days=0.02, seed=5, symbols=("BTCUSDT",))
    async with Sandbox(settings) as sb:
        key, secret = sb.demo_credentials
        client = BinanceRestClient(
            venue_preset("sandbox", sb.rest_url),
            clock or sb.context.clock,
            api_key=Secret(key),
            api_secret=Secret(secret),
            breakers=breakers,
            retry=FAST_RETRY,
        )
        async with client:
            yield sb, BinanceRestApi(client, settle_s=0.0)


async def set_faults(sb: Sandbox, spec: str) -> None:
    """Change the sandbox's faults through its admin endpoint, as an operator would."""
    async with aiohttp.ClientSession() as http, http.post(f"{sb.rest_url}/admin/faults", data=spec) as resp:
        assert resp.status == 200, await resp.text()


async def test_invalid_timestamp_is_recovered_by_one_resync() -> None:
    # Live conditions: a venue at 1x and our own wall clock, so a venue clock jump is a real -1021. (At
    # other speeds the sandbox also accepts wall-clock stamps, for third-party clients.)
    async with session(speed=1.0, clock=LiveClock()) as (sb, api):
        client = api.client
        assert (await api.account()).wallet_balance > 0
        # Our timestamps 3 s ahead (beyond the 1 s tolerance), then 8 s behind (beyond recvWindow).
        for skew in (-3000, 8000):
            await set_faults(sb, f"clock_skew_ms={skew}")
            resyncs = client.stats.resyncs
            assert (await api.account()).wallet_balance > 0
            assert client.stats.resyncs == resyncs + 1
            assert abs(client.server_time_ms() - sb.context.clock.now_ms()) < 1000
        assert client.stats.errors == 2  # exactly one -1021 per jump, nothing else


async def test_offset_is_measured_periodically_by_a_named_task() -> None:
    async with Sandbox(SandboxSettings(port=0, speed=10.0, history_days=0.02, symbols=("BTCUSDT",))) as sb:
        client = BinanceRestClient(
            venue_preset("sandbox", sb.rest_url), sb.context.clock, resync_interval_s=0.05
        )
        async with client:
            assert client.stats.syncs == 1
            (task,) = [t for t in asyncio.all_tasks() if t.get_name() == "rest-timesync"]
            await eventually(lambda: client.stats.syncs >= 3, timeout=10.0, message="periodic time syncs")
            assert client.time_sync.samples >= 3 and abs(client.time_sync.offset_ms) < 1000
        assert task.done() and not [t for t in asyncio.all_tasks() if t.get_name() == "rest-timesync"]


async def test_429_burst_is_honoured_without_a_ban() -> None:
    async with session() as (sb, api):
        await set_faults(sb, "http_429_burst=2")
        started = time.monotonic()
        assert (await api.account()).wallet_balance > 0  # a read: waits Retry-After (1 s) twice, then passes
        elapsed = time.monotonic() - started
        assert elapsed >= 1.9, f"Retry-After not honoured: {elapsed:.2f}s"
        assert api.client.stats.rate_limited == 2
        assert api.client.budget.banned_until_ms == 0 and not api.client.budget.entries_halted()
        assert (await api.last_price("BTCUSDT")) > 0


async def test_breaker_opens_half_opens_and_closes() -> None:
    events: list[BreakerTransition] = []
    async with Sandbox(SandboxSettings(port=0, speed=10.0, history_days=0.02, symbols=("BTCUSDT",))) as sb:
        breakers = BreakerSet(sb.context.clock, recovery_timeout=3.0, on_transition=events.append)
        client = BinanceRestClient(
            venue_preset("sandbox", sb.rest_url), sb.context.clock, breakers=breakers, retry=FAST_RETRY
        )
        async with client:
            api = BinanceRestApi(client)
            market = breakers.breakers["market_data"]
            await set_faults(sb, "http_5xx=1.0")
            with pytest.raises(RetryableError):
                await api.last_price("BTCUSDT")  # 4 attempts, 4 failures: still CLOSED
            assert state(market) is BreakerState.CLOSED and market.consecutive_failures == 4
            with pytest.raises(BreakerOpenError):
                await api.last_price("BTCUSDT")  # the 5th failure opens it; the retry is refused locally
            assert state(market) is BreakerState.OPEN
            sent = client.stats.requests
            with pytest.raises(BreakerOpenError):
                await api.klines("BTCUSDT", "1m", limit=5)
            assert client.stats.requests == sent  # nothing reached the venue
            # Meanwhile market reads are served from the streams' cache where it has them.
            cache = MarketCache()
            cache.on_event(
                Trade(
                    symbol="BTCUSDT",
                    trade_id=1,
                    price=Decimal("42000.5"),
                    qty=Decimal(1),
                    is_buyer_maker=False,
                    ts=1,
                )
            )
            cached = BinanceRestApi(client, cache=cache)
            assert await cached.last_price("BTCUSDT") == Decimal("42000.5")
            with pytest.raises(BreakerOpenError):
                await cached.book_ticker("BTCUSDT")  # nothing cached for it
            assert client.stats.requests == sent
            assert breakers.breakers["orders"].state is BreakerState.CLOSED  # other groups unaffected
            await set_faults(sb, "http_5xx=0")
            deadline = time.monotonic() + 5.0
            while state(market) is BreakerState.OPEN:  # 3 clock seconds = 0.3 s wall
                assert time.monotonic() < deadline, "breaker never half-opened"
                with pytest.raises(BreakerOpenError):
                    await api.last_price("BTCUSDT")
                await _tick()
            assert state(market) is BreakerState.HALF_OPEN
            for _ in range(3):
                assert await api.last_price("BTCUSDT") > 0
            assert state(market) is BreakerState.CLOSED
    assert [(e.name, e.old, e.new) for e in events] == [
        ("market_data", "CLOSED", "OPEN"),
        ("market_data", "OPEN", "HALF_OPEN"),
        ("market_data", "HALF_OPEN", "CLOSED"),
    ]


async def _tick() -> None:
    await asyncio.sleep(0.02)


async def test_lost_answers_never_duplicate_an_order() -> None:
    decisions = [f"dup-{i}" for i in range(24)]
    async with Sandbox(
        SandboxSettings(port=0, speed=10.0, history_days=0.02, seed=9, symbols=("BTCUSDT",))
    ) as sb:
        key, secret = sb.demo_credentials
        # Failures come in runs here; a quick recovery keeps the test short (the orders breaker will open).
        breakers = BreakerSet(sb.context.clock, recovery_timeout=2.0)
        client = BinanceRestClient(
            venue_preset("sandbox", sb.rest_url),
            sb.context.clock,
            api_key=Secret(key),
            api_secret=Secret(secret),
            breakers=breakers,
            retry=FAST_RETRY,
            seed=3,
        )
        async with client:
            api = BinanceRestApi(client, settle_s=0.0, seed=3)
            inst = {i.symbol: i for i in await api.exchange_info()}["BTCUSDT"]
            book = await api.book_ticker("BTCUSDT")
            price = round_price(inst, book.bid_price * Decimal("0.9"))
            trigger = round_price(inst, book.bid_price * Decimal("0.8"))
            await set_faults(sb, "order_timeout_placed=0.5,http_5xx=0.2")
            outcomes: Counter[str] = Counter()
            placed: dict[str, int] = {}
            algos: dict[str, int] = {}
            for decision in decisions:
                cid = client_order_id(decision, Leg.ENTRY)
                req = OrderRequest(
                    symbol="BTCUSDT",
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=Decimal("0.002"),
                    price=price,
                    # IOC far from the touch expires at once: Binance's own duplicate-id check (open orders
                    # only) cannot catch a blind resend, so only the client's resolution keeps ids unique.
                    time_in_force=TimeInForce.IOC,
                    client_order_id=cid,
                )
                placed[cid] = (await _until_done(api.place_order, req, outcomes)).order_id
                if len(algos) >= 8:  # MAX_NUM_ALGO_ORDERS is 10 per symbol
                    continue
                acid = client_algo_id(decision, Leg.STOP)
                stop = AlgoOrderRequest(
                    symbol="BTCUSDT",
                    side=Side.SELL,
                    type=OrderType.STOP_MARKET,
                    trigger_price=trigger,
                    quantity=Decimal("0.002"),
                    client_algo_id=acid,
                )
                algos[acid] = (await _until_done(api.place_algo_order, stop, outcomes)).algo_id
            await set_faults(sb, "order_timeout_placed=0,http_5xx=0")
            # The faults did bite (answers were lost and resolved by query); every decision got its order.
            assert client.stats.errors > 10 and outcomes["ok"] == len(placed) + len(algos)
            assert sb.context.faults.config.order_timeout_placed == 0
            orders = await api.all_orders("BTCUSDT", limit=1000)
            per_id = Counter(o.client_order_id for o in orders)
            assert per_id == Counter(list(placed)), "an entry was placed twice or not at all"
            assert {o.client_order_id: o.order_id for o in orders} == placed
            open_algos = await api.open_algo_orders("BTCUSDT")
            assert Counter(a.client_algo_id for a in open_algos) == Counter(list(algos))
            assert {a.client_algo_id: a.algo_id for a in open_algos} == algos
            assert api.unresolved == frozenset()


def state(breaker: CircuitBreaker) -> BreakerState:
    return breaker.state  # a call, so the type checker does not pin a property's value between awaits


async def _until_done(place: Callable[[R], Awaitable[T]], req: R, outcomes: Counter[str]) -> T:
    """Call ``place(req)`` until it yields an order, as a caller retrying the same decision would."""
    for _ in range(40):
        try:
            result = await place(req)
        except (UnknownOutcomeError, BreakerOpenError, RetryableError) as err:
            outcomes[type(err).__name__] += 1
            await _tick()
            continue
        except VenueError as err:  # pragma: no cover - a failure message for the assertion below
            raise AssertionError(f"unexpected refusal: {err!r}") from err
        outcomes["ok"] += 1
        return result
    raise AssertionError(f"{req} never placed")


async def test_a_batch_with_a_lost_answer_is_resolved_item_by_item() -> None:
    async with session() as (sb, api):
        inst = (await api.exchange_info())[0]
        price = round_price(inst, (await api.book_ticker("BTCUSDT")).bid_price * Decimal("0.9"))
        reqs = [
            OrderRequest(
                symbol="BTCUSDT",
                side=Side.BUY,
                type=OrderType.LIMIT,
                quantity=Decimal("0.002"),
                price=price,
                time_in_force=TimeInForce.IOC,  # expires at once: a blind resend would make a twin
                client_order_id=client_order_id("batch-lost", Leg.ENTRY, i),
            )
            for i in range(3)
        ]
        await set_faults(sb, "order_timeout_placed=1.0")  # every batch is placed, every answer lost
        results = await api.place_orders(reqs)
        await set_faults(sb, "order_timeout_placed=0")
        assert [getattr(r, "client_order_id", r) for r in results] == [r.client_order_id for r in reqs]
        orders = await api.all_orders("BTCUSDT")
        assert Counter(o.client_order_id for o in orders) == Counter(r.client_order_id for r in reqs)
        assert api.unresolved == frozenset()
