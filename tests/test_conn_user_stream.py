"""UserStream against the running sandbox: domain events for REST-placed orders, listenKey expiry and -1125
recovered with a ReconcileRequest, and (locally) undecodable user frames asking for reconciliation."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

from aiohttp import web

from core.clock import LiveClock
from core.events import AccountUpdate, OrderUpdate, ReconcileRequest, UserEvent
from core.secrets import Secret
from core.types import ExecutionType, OrderRequest, OrderStatus, OrderType, Side
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.rest_api import BinanceRestApi
from exchanges.binance.userstream import UserStream
from exchanges.binance.venues import Venue, venue_preset
from exchanges.errors import RejectedError
from exchanges.sandbox.runner import Sandbox
from tests.conn_ws_support import local_exchange
from tests.helpers import eventually
from tests.test_conn_ws_schemas import DOC_ACCOUNT_UPDATE
from tests.ws_helpers import settings


@asynccontextmanager
async def connected_sandbox(**kw: Any) -> AsyncIterator[tuple[Sandbox, Venue, BinanceRestApi]]:
    async with Sandbox(settings(**kw)) as sb:
        venue = venue_preset("sandbox", sb.rest_url)
        key, secret = sb.demo_credentials
        client = BinanceRestClient(venue, sb.context.clock, api_key=Secret(key), api_secret=Secret(secret))
        await client.start()
        try:
            yield sb, venue, BinanceRestApi(client)
        finally:
            await client.close()


class Recorder:
    def __init__(self) -> None:
        self.events: list[UserEvent] = []
        self.reconciles: list[ReconcileRequest] = []

    def orders(self, cid: str) -> list[OrderUpdate]:
        return [e for e in self.events if isinstance(e, OrderUpdate) and e.order.client_order_id == cid]

    def filled(self, cid: str) -> bool:
        return any(e.order.status is OrderStatus.FILLED for e in self.orders(cid))


def _market_buy(cid: str) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT", side=Side.BUY, type=OrderType.MARKET, quantity=Decimal("0.010"), client_order_id=cid
    )


async def test_user_events_for_a_rest_placed_order() -> None:
    async with connected_sandbox(speed=10.0) as (sb, venue, api):
        rec = Recorder()
        stream = UserStream(
            venue, sb.context.clock, api, on_event=rec.events.append, on_reconcile=rec.reconciles.append
        )
        await stream.start()
        await eventually(lambda: bool(rec.reconciles), timeout=10, message="the stream to open")
        order = await api.place_order(_market_buy("conn-user-1"))
        await eventually(lambda: rec.filled("conn-user-1"), timeout=10, message="the fill event")
        await eventually(
            lambda: any(isinstance(e, AccountUpdate) for e in rec.events),
            timeout=10,
            message="account update",
        )
        stats = stream.stats
        await stream.stop()
    updates = rec.orders("conn-user-1")
    assert updates[0].order.order_id == order.order_id
    assert [u.execution_type for u in updates] == [
        ExecutionType.NEW,
        *[ExecutionType.TRADE] * (len(updates) - 1),
    ]
    fills = [u.fill for u in updates if u.fill is not None]
    assert sum(f.qty for f in fills) == Decimal("0.010") and all(f.commission > 0 for f in fills)
    account = next(e for e in rec.events if isinstance(e, AccountUpdate))
    assert account.reason == "ORDER"
    assert [(p.symbol, p.qty) for p in account.positions] == [("BTCUSDT", Decimal("0.010"))]
    assert [r.reason for r in rec.reconciles] == ["stream opened"]
    assert stats.malformed == 0 and stats.reconnects == 0


async def test_listen_key_expiry_is_recovered() -> None:
    # 20 s of exchange time at 10x: the key expires about 2 s after creation; keepalives are off.
    async with connected_sandbox(speed=10.0, faults="listenkey_ttl=20s") as (sb, venue, api):
        rec = Recorder()
        stream = UserStream(
            venue,
            sb.context.clock,
            api,
            on_event=rec.events.append,
            on_reconcile=rec.reconciles.append,
            keepalive_s=None,
        )
        await stream.start()
        first_key = stream.listen_key
        await eventually(lambda: stream.stats.recreated >= 1, timeout=15, message="the key to be recreated")
        sb.context.faults.update("listenkey_ttl=1h")  # the new key lives on
        await eventually(
            lambda: any(r.reason == "listenKeyExpired" for r in rec.reconciles),
            timeout=10,
            message="reconcile",
        )
        await eventually(lambda: stream.connected, timeout=10)
        await api.place_order(_market_buy("conn-user-2"))
        await eventually(lambda: rec.filled("conn-user-2"), timeout=10, message="events on the new key")
        await stream.stop()
    assert stream.listen_key != first_key


async def test_keepalive_minus_1125_recreates_the_key() -> None:
    async with connected_sandbox(speed=10.0) as (sb, venue, api):
        rec = Recorder()
        stream = UserStream(
            venue,
            sb.context.clock,
            api,
            on_event=rec.events.append,
            on_reconcile=rec.reconciles.append,
            keepalive_s=0.3,
        )
        await stream.start()
        await eventually(lambda: stream.stats.keepalives >= 1, timeout=10, message="a keepalive")
        await api.delete_listen_key()  # from now on the venue answers -1125 for this account's key
        await eventually(
            lambda: any("-1125" in r.reason for r in rec.reconciles), timeout=10, message="-1125 recovery"
        )
        await eventually(lambda: stream.connected, timeout=10)
        await api.place_order(_market_buy("conn-user-3"))
        await eventually(lambda: rec.filled("conn-user-3"), timeout=10, message="events on the new key")
        stats = stream.stats
        await stream.stop(delete_key=True)
    assert stats.recreated == 1


class _StaticKeys:
    """A ListenKeyApi for the local server: keys ``k…k``, then ``2…2``; ``expired``: keepalives get -1125."""

    def __init__(self) -> None:
        self.created = 0
        self.expired = False

    async def create_listen_key(self) -> str:
        self.created += 1
        self.expired = False
        return str(self.created) * 64 if self.created > 1 else "k" * 64

    async def keepalive_listen_key(self) -> None:
        if self.expired:
            raise RejectedError("This listenKey does not exist.", status=400, code=-1125)

    async def delete_listen_key(self) -> None:
        return None


async def test_undecodable_user_frames_ask_for_reconciliation_and_the_stream_goes_on() -> None:
    async def serve(ws: web.WebSocketResponse, index: int) -> None:
        await ws.send_str("garbage")
        await ws.send_str('{"e":"TRADE_LITE","E":1,"T":1,"s":"BTCUSDT"}')
        await ws.send_str(json.dumps(DOC_ACCOUNT_UPDATE))
        await ws.send_str('{"e":"ORDER_TRADE_UPDATE","E":1,"T":1,"o":{}}')

    async with local_exchange(serve) as ex:
        rec = Recorder()
        keys = _StaticKeys()
        stream = UserStream(
            ex.venue, LiveClock(), keys, on_event=rec.events.append, on_reconcile=rec.reconciles.append
        )
        await stream.start()
        await eventually(lambda: len(rec.reconciles) == 3, timeout=10, message="three reconcile requests")
        stats = stream.stats
        await stream.stop()
    assert ex.requests == ["/private/ws/" + "k" * 64]
    assert [r.reason for r in rec.reconciles] == [
        "stream opened",
        "undecodable user event (malformed)",
        "undecodable user event (malformed)",
    ]
    assert [type(e) for e in rec.events] == [AccountUpdate]
    assert stats.malformed == 2 and stats.ignored == 1 and stats.messages == 1


async def test_scheduled_keepalive_answered_minus_1125_recreates_and_reconnects() -> None:
    async def serve(ws: web.WebSocketResponse, index: int) -> None:
        return None  # quiet, like an account with no activity

    async with local_exchange(serve) as ex:
        rec = Recorder()
        keys = _StaticKeys()
        stream = UserStream(
            ex.venue,
            LiveClock(),
            keys,
            on_event=rec.events.append,
            on_reconcile=rec.reconciles.append,
            keepalive_s=0.2,
        )
        await stream.start()
        await eventually(lambda: stream.stats.keepalives >= 1, timeout=5, message="a keepalive")
        keys.expired = True
        await eventually(lambda: len(ex.requests) == 2, timeout=5, message="a connection on the new key")
        await eventually(lambda: len(rec.reconciles) == 2, timeout=5)
        await stream.stop()
    assert ex.requests == ["/private/ws/" + "k" * 64, "/private/ws/" + "2" * 64]
    assert [r.reason for r in rec.reconciles] == ["stream opened", "listenKey does not exist (-1125)"]


async def test_a_reconnect_checks_the_key_at_once() -> None:
    async def serve(ws: web.WebSocketResponse, index: int) -> None:
        if index == 0:
            await ws.close()  # the connection drops; the key expired meanwhile

    async with local_exchange(serve) as ex:
        rec = Recorder()
        keys = _StaticKeys()
        stream = UserStream(
            ex.venue,
            LiveClock(),
            keys,
            on_event=rec.events.append,
            on_reconcile=rec.reconciles.append,
            keepalive_s=3600,
        )
        await stream.start()
        keys.expired = True  # creation reset it; the key dies right away
        await eventually(lambda: len(ex.requests) >= 3, timeout=10, message="reconnect, then the new key")
        await eventually(lambda: stream.stats.recreated == 1, timeout=5)
        await stream.stop()
    assert ex.requests[-1] == "/private/ws/" + "2" * 64
    assert [r.reason for r in rec.reconciles][:2] == ["stream opened", "reconnect"]
    assert "listenKey does not exist (-1125)" in [r.reason for r in rec.reconciles]
