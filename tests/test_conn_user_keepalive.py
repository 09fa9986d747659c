"""listenKey keepalives run on the injected clock: a key lives 60 minutes of *exchange* time, so against a
sandbox replaying N× faster the stream must keep it alive N× more often (in wall time) with the default
settings, and survive many key lifetimes on the same key."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiohttp import web

from core.clock import ScaledClock
from core.secrets import Secret
from core.types import OrderRequest, OrderType, Side
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.userstream import UserStream
from exchanges.binance.venues import venue_preset
from exchanges.sandbox.runner import Sandbox
from tests.conn_ws_support import local_exchange
from tests.helpers import eventually
from tests.test_conn_user_stream import Recorder
from tests.ws_helpers import settings

pytestmark = pytest.mark.timeout(60)

SPEED = 3600.0  # a 60-minute key lives one wall second
KEY_LIFE_MS = 3_600_000


async def test_default_keepalive_outlives_several_key_lifetimes_on_a_fast_sandbox() -> None:
    async with Sandbox(settings(speed=SPEED)) as sb:
        venue = venue_preset("sandbox", sb.rest_url)
        key, secret = sb.demo_credentials
        clock = sb.context.clock
        # The adapter as the session builds it: every knob at its default.
        adapter = BinanceAdapter(
            BinanceRestClient(venue, clock, api_key=Secret(key), api_secret=Secret(secret))
        )
        await adapter.client.start()
        try:
            rec = Recorder()
            stream = adapter.user_stream(rec.events.append, rec.reconciles.append)
            await stream.start()
            first_key = stream.listen_key
            await eventually(lambda: stream.connected, timeout=10, message="the stream to open")
            until = clock.now_ms() + 4 * KEY_LIFE_MS
            await eventually(
                lambda: clock.now_ms() >= until, timeout=20, message="four listenKey lifetimes to pass"
            )
            assert stream.listen_key == first_key
            # Still delivering on the original key: an order's events arrive.
            order = OrderRequest(
                symbol="BTCUSDT",
                side=Side.BUY,
                type=OrderType.MARKET,
                quantity=Decimal("0.010"),
                client_order_id="conn-keepalive-1",
            )
            await adapter.api.place_order(order)
            await eventually(lambda: rec.filled("conn-keepalive-1"), timeout=10, message="events on the key")
            stats = stream.stats
            await stream.stop()
        finally:
            await adapter.client.close()
    assert stats.recreated == 0
    assert [r.reason for r in rec.reconciles] == ["stream opened"]
    # One keepalive per 30 exchange minutes over at least four hours of exchange time.
    assert stats.keepalives >= 7


class _CountingKeys:
    def __init__(self) -> None:
        self.keepalives = 0

    async def create_listen_key(self) -> str:
        return "k" * 64

    async def keepalive_listen_key(self) -> None:
        self.keepalives += 1

    async def delete_listen_key(self) -> None:
        return None


async def test_keepalive_interval_is_exchange_time() -> None:
    async def serve(ws: web.WebSocketResponse, index: int) -> None:
        return None  # a quiet account

    clock = ScaledClock(speed=1000.0)
    async with local_exchange(serve) as ex:
        keys = _CountingKeys()
        rec = Recorder()
        # 60 s of exchange time between keepalives is 60 ms of wall time at 1000×.
        stream = UserStream(
            ex.venue,
            clock,
            keys,
            on_event=rec.events.append,
            on_reconcile=rec.reconciles.append,
            keepalive_s=60.0,
        )
        start = clock.now_ms()
        await stream.start()
        await eventually(lambda: keys.keepalives >= 5, timeout=5, message="five keepalives")
        elapsed = clock.now_ms() - start
        await stream.stop()
    # Never ahead of schedule in exchange time: the fifth one came at least five intervals in.
    assert elapsed >= 5 * 60_000
