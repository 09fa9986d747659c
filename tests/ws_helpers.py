"""Helpers for the WebSocket/listenKey integration tests: a running Sandbox, signed REST, frame collection."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from core.config import SandboxSettings
from exchanges.sandbox.runner import Sandbox


def settings(**kw: Any) -> SandboxSettings:
    """Fast sandbox settings: free port, one symbol, a fast clock, little history."""
    base: dict[str, Any] = dict(port=0, symbols=("BTCUSDT",), speed=20.0, history_days=0.01, seed=7)
    base.update(kw)
    return SandboxSettings(**base)


@asynccontextmanager
async def running(**kw: Any) -> AsyncIterator[tuple[Sandbox, aiohttp.ClientSession]]:
    async with Sandbox(settings(**kw)) as sb, aiohttp.ClientSession() as http:
        yield sb, http


async def signed(
    http: aiohttp.ClientSession, sb: Sandbox, method: str, path: str, params: dict[str, Any]
) -> tuple[int, Any]:
    key, secret = sb.demo_credentials
    # The sandbox clock runs fast; sign with its own time so the timestamp is inside recvWindow.
    query = urllib.parse.urlencode({**params, "timestamp": str(sb.context.clock.now_ms())})
    sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    url = f"{sb.rest_url}{path}?{query}&signature={sig}"
    async with http.request(method, url, headers={"X-MBX-APIKEY": key}) as resp:
        return resp.status, await resp.json()


async def listen_key(
    http: aiohttp.ClientSession, sb: Sandbox, method: str = "POST", api_key: str | None = None
) -> tuple[int, Any]:
    key = sb.demo_credentials[0] if api_key is None else api_key
    headers = {"X-MBX-APIKEY": key} if key else {}
    async with http.request(method, f"{sb.rest_url}/fapi/v1/listenKey", headers=headers) as resp:
        return resp.status, await resp.json()


async def next_json(ws: aiohttp.ClientWebSocketResponse, within: float = 10.0) -> Any:
    """The next text frame as JSON (fails on close or timeout)."""
    msg = await ws.receive(timeout=within)
    assert msg.type is aiohttp.WSMsgType.TEXT, f"expected a text frame, got {msg.type} {msg.data!r}"
    return json.loads(msg.data)


async def collect_until(ws: aiohttp.ClientWebSocketResponse, done: Any, within: float = 15.0) -> list[Any]:
    """Frames until ``done(frames)`` is true; fails after ``within`` seconds."""
    frames: list[Any] = []
    deadline = time.monotonic() + within
    while not done(frames):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out; got {len(frames)} frames: {frames[-3:]}"
        frames.append(await next_json(ws, within=left))
    return frames


async def wait_closed(ws: aiohttp.ClientWebSocketResponse, within: float = 10.0) -> aiohttp.WSMessage:
    """Read until the server closes the connection; returns the closing message."""
    deadline = time.monotonic() + within
    while True:
        left = deadline - time.monotonic()
        assert left > 0, "the server did not close the connection in time"
        msg = await ws.receive(timeout=left)
        if msg.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.CLOSING,
            aiohttp.WSMsgType.ERROR,
        ):
            return msg
