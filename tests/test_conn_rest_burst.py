"""A burst of 2,000 orders paced by the client's rate budget: the venue never answers 429.

The sandbox runs 10× faster than the wall clock and counts ORDERS (300 / 10 s, 1200 / min) and request weight
(2400 / min) on *its* clock, exactly like Binance. The client is given the same clock, as a paper session is,
so its budget (80 % of the limits exchangeInfo publishes) paces the burst in the same time base: 2,000 entries
take about 2,000 / (0.7 × 1200) minutes of exchange time, ~15 s of wall time at 10×.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from core.config import SandboxSettings
from core.precision import round_price
from core.secrets import Secret
from core.types import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchanges.binance.client_ids import Leg, client_order_id
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.rest_api import BinanceRestApi
from exchanges.binance.venues import venue_preset
from exchanges.sandbox.runner import Sandbox

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

ORDERS = 2000
WORKERS = 16


async def test_two_thousand_orders_without_a_429() -> None:
    settings = SandboxSettings(port=0, speed=10.0, history_days=0.02, seed=4, symbols=("BTCUSDT",))
    async with Sandbox(settings) as sb:
        key, secret = sb.demo_credentials
        client = BinanceRestClient(
            venue_preset("sandbox", sb.rest_url),
            sb.context.clock,
            api_key=Secret(key),
            api_secret=Secret(secret),
        )
        async with client:
            api = BinanceRestApi(client)
            rules = {(r.kind, r.interval_ms): r.limit for r in client.budget.rules}
            assert rules == {
                ("REQUEST_WEIGHT", 60_000): 2400,
                ("ORDERS", 10_000): 300,
                ("ORDERS", 60_000): 1200,
            }
            inst = (await api.exchange_info())[0]
            price = round_price(inst, (await api.book_ticker("BTCUSDT")).bid_price * Decimal("0.9"))
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(ORDERS):
                queue.put_nowait(n)
            placed: list[int] = []
            peak_1m = 0

            async def worker() -> None:
                nonlocal peak_1m
                while not queue.empty():
                    n = queue.get_nowait()
                    req = OrderRequest(
                        symbol="BTCUSDT",
                        side=Side.BUY,
                        type=OrderType.LIMIT,
                        quantity=Decimal("0.002"),
                        price=price,
                        time_in_force=TimeInForce.GTC,
                        client_order_id=client_order_id(f"burst-{n}", Leg.ENTRY),
                    )
                    order = await api.place_order(req)
                    assert order.status is OrderStatus.NEW
                    placed.append(order.order_id)
                    peak_1m = max(peak_1m, round(client.budget.usage()["ORDERS_1M"] * 1200))
                    await api.cancel_order("BTCUSDT", order_id=order.order_id)

            started = sb.context.clock.now_ms()
            await asyncio.gather(*(worker() for _ in range(WORKERS)))
            elapsed_min = (sb.context.clock.now_ms() - started) / 60_000
            assert len(placed) == len(set(placed)) == ORDERS
            assert client.stats.rate_limited == 0 and client.stats.errors == 0
            assert client.budget.banned_until_ms == 0
            assert peak_1m <= 0.8 * 1200
            # Paced, not merely lucky: at most ~840 entries fit in one exchange minute, so 2,000 span
            # at least two minute boundaries.
            assert elapsed_min > 1.0
            assert await api.open_orders("BTCUSDT") == []
