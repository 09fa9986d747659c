"""What the connector costs: aggTrade frames decoded per second, and client-side latency per REST order.

``python -m bench.connector_bench [--seconds N]`` (about 20 s by default, set-up included) measures:

1. **Decode.** Combined-stream aggTrade frames (``{"stream": ..., "data": {...}}``, Binance's exact shape,
   built from the real tick capture ``../shared/data/ticks`` when present, else synthetic) decoded and
   normalised into domain :class:`~core.types.Trade` objects by our path
   (:class:`~exchanges.binance.ws_schemas.MarketFrameDecoder`: msgspec straight into tagged Structs) against
   a baseline of ``json.loads`` plus dict navigation building the same ``Trade`` with ``Decimal``. The two
   alternate in rounds over the same frames; the best round of each is kept; both must produce equal Trades.
2. **REST order latency.** The sandbox runs in a child process (its own core); this process places LIMIT
   orders far from the touch on it, alternating our full client path (``BinanceAdapter.place_order``:
   rate limiter, breaker, signing, time sync, msgspec decoding to a domain ``Order``) and a raw signed
   aiohttp request to the same endpoint with the same parameters (the body read as bytes, nothing
   decoded). Each order is cancelled (untimed). What our client adds is the difference of the two
   distributions' p50 and p99 (same server, same connection pool kind, interleaved in time).

Figures and machine notes are kept in docs/PERFORMANCE.md ("Connector").
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import gzip
import hashlib
import hmac
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec

from bench.sandbox_throughput import KEY, SECRET, ServerProcess, ServerSpec
from core.clock import LiveClock
from core.config import Settings
from core.precision import round_price
from core.secrets import Secret
from core.types import BookTicker, OrderRequest, OrderType, Side, TimeInForce, Trade
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.factory import build_adapter
from exchanges.binance.ws_schemas import MarketFrameDecoder
from exchanges.errors import RetryableError

__all__ = ["baseline_decode", "main", "make_frames", "percentile"]

REPO = Path(__file__).resolve().parent.parent
ORDER_SYMBOL = "BTCUSDT"
ORDER_QTY = Decimal("0.002")


# --- 1. decode ----------------------------------------------------------------------------------------------


def _tick_files() -> list[Path]:
    base = Path(os.environ.get("CASINO_SHARED_DATA", REPO.parent / "shared" / "data")) / "ticks"
    return sorted(base.glob("*-trades-*.csv.gz")) if base.is_dir() else []


def make_frames(limit: int) -> tuple[list[bytes], str]:
    """Up to ``limit`` combined aggTrade frames as Binance sends them, and where they came from."""
    rows: list[dict[str, Any]] = []
    files = _tick_files()
    for path in files:
        symbol = path.name.split("-", 1)[0]
        with gzip.open(path, "rt", newline="") as fh:
            for rec in csv.DictReader(fh):
                trade_id = int(rec["trade_id"])
                rows.append(
                    {
                        "e": "aggTrade",
                        "E": int(rec["event_time"]),
                        "a": trade_id,
                        "s": symbol,
                        "p": rec["price"],
                        "q": rec["qty"],
                        "f": trade_id,
                        "l": trade_id,
                        "T": int(rec["trade_time"]),
                        "m": rec["is_buyer_maker"] == "True",
                    }
                )
                if len(rows) >= limit:
                    break
        if len(rows) >= limit:
            break
    source = f"real tick capture ({', '.join(p.name for p in files)})"
    if not rows:
        source = "synthetic (shared tick capture not found)"
        rows = [
            {
                "e": "aggTrade",
                "E": 1_723_161_256_322 + i,
                "a": 5_266_583_935 + i,
                "s": "BTCUSDT",
                "p": f"{61800 + (i % 500) / 10:.2f}",
                "q": f"{(i % 97 + 1) / 1000:.3f}",
                "f": 9_000_000_000 + 2 * i,
                "l": 9_000_000_001 + 2 * i,
                "T": 1_723_161_256_300 + i,
                "m": i % 3 == 0,
            }
            for i in range(limit)
        ]
    frames = [
        json.dumps({"stream": f"{r['s'].lower()}@aggTrade", "data": r}, separators=(",", ":")).encode()
        for r in rows
    ]
    return frames, source


def baseline_decode(frame: bytes) -> Trade:
    """The baseline: ``json.loads`` and dict navigation into the same domain Trade."""
    data = json.loads(frame)["data"]
    if data["e"] != "aggTrade":
        raise ValueError("not an aggTrade frame")
    return Trade(
        symbol=data["s"],
        trade_id=data["a"],
        price=Decimal(data["p"]),
        qty=Decimal(data["q"]),
        is_buyer_maker=data["m"],
        ts=data["T"],
        first_trade_id=data["f"],
        last_trade_id=data["l"],
        event_ts=data["E"],
    )


def _rate(decode: Callable[[bytes], object], frames: list[bytes], seconds: float) -> float:
    """Frames per second over whole passes through ``frames`` for at least ``seconds``."""
    count = 0
    started = time.perf_counter()
    while True:
        for frame in frames:
            decode(frame)
        count += len(frames)
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return count / elapsed


def decode_bench(seconds: float, frames: list[bytes]) -> tuple[float, float]:
    """Best frames/s of (ours, baseline) over alternating rounds sharing ``seconds``."""
    decoder = MarketFrameDecoder()
    for frame in frames[:1000]:  # same output, or the comparison means nothing
        if decoder.decode(frame) != baseline_decode(frame):
            raise AssertionError(f"the two decoders disagree on {frame!r}")
    rounds = 3
    ours: list[float] = []
    base: list[float] = []
    for _ in range(rounds):
        ours.append(_rate(decoder.decode, frames, seconds / (2 * rounds)))
        base.append(_rate(baseline_decode, frames, seconds / (2 * rounds)))
    return max(ours), max(base)


# --- 2. REST order latency ----------------------------------------------------------------------------------


def percentile(values: list[float], q: int) -> float:
    """The ``q``-th percentile (1..99) of ``values`` (at least two)."""
    return statistics.quantiles(values, n=100)[q - 1]


class RawClient:
    """The baseline: one signed aiohttp request, the answer read as bytes."""

    def __init__(self, session: aiohttp.ClientSession, base: str, offset_ms: int) -> None:
        self.session = session
        self.base = base
        self.offset_ms = offset_ms

    async def signed(self, method: str, path: str, params: dict[str, str]) -> bytes:
        stamp = int(time.time() * 1000) + self.offset_ms
        query = urlencode({**params, "timestamp": str(stamp), "recvWindow": "5000"})
        sig = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        url = f"{self.base}{path}?{query}&signature={sig}"
        async with self.session.request(method, url, headers={"X-MBX-APIKEY": KEY}) as resp:
            body = await resp.read()
            if resp.status >= 400:
                raise RuntimeError(f"raw {method} {path}: HTTP {resp.status} {body[:200]!r}")
            return body


async def _first_book(adapter: BinanceAdapter) -> BookTicker:
    """The book ticker, once the sandbox's market has one (a loaded machine can delay the first book)."""
    deadline = time.monotonic() + 60.0
    while True:
        try:
            return await adapter.book_ticker(ORDER_SYMBOL)
        except RetryableError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def rest_bench(seconds: float) -> tuple[list[float], list[float]]:
    """Placement latencies (ms) of (our client, raw aiohttp), interleaved, against a child sandbox."""
    server = ServerProcess(ServerSpec(speed=1.0, data=(), history_days=0.05, uvloop=False))
    server.start()
    base = f"http://127.0.0.1:{server.port}"
    settings = Settings(venue="sandbox")
    adapter = build_adapter(settings, LiveClock(), rest_url=base, credentials=(Secret(KEY), Secret(SECRET)))
    ours: list[float] = []
    raw: list[float] = []
    try:
        async with adapter, aiohttp.ClientSession() as session:
            instrument = next(i for i in await adapter.instruments() if i.symbol == ORDER_SYMBOL)
            book = await _first_book(adapter)
            price = round_price(instrument, book.bid_price * Decimal("0.8"))
            rawc = RawClient(session, base, adapter.client.time_sync.offset_ms)
            params = {
                "symbol": ORDER_SYMBOL,
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": f"{ORDER_QTY:f}",
                "price": f"{price:f}",
            }
            deadline = time.monotonic() + seconds
            n = 0
            while time.monotonic() < deadline:
                n += 1
                req = OrderRequest(
                    symbol=ORDER_SYMBOL,
                    side=Side.BUY,
                    type=OrderType.LIMIT,
                    quantity=ORDER_QTY,
                    price=price,
                    time_in_force=TimeInForce.GTC,
                    client_order_id=f"bench-ours-{n}",
                )
                started = time.perf_counter()
                order = await adapter.place_order(req)
                ours.append((time.perf_counter() - started) * 1000.0)
                await adapter.cancel_order(ORDER_SYMBOL, order_id=order.order_id)

                cid = f"bench-raw-{n}"
                started = time.perf_counter()
                await rawc.signed("POST", "/fapi/v1/order", {**params, "newClientOrderId": cid})
                raw.append((time.perf_counter() - started) * 1000.0)
                await rawc.signed(
                    "DELETE", "/fapi/v1/order", {"symbol": ORDER_SYMBOL, "origClientOrderId": cid}
                )
    finally:
        server.stop()
    return ours, raw


# --- report -------------------------------------------------------------------------------------------------


def _machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (
        f"nproc {os.cpu_count()}, {model}; Python {platform.python_version()}, "
        f"msgspec {msgspec.__version__}, aiohttp {aiohttp.__version__}; "
        f"{platform.system()} {platform.release()}; load average {load}"
    )


def main(argv: list[str] | None = None) -> int:
    """Run both parts and print the figures; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.connector_bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=16.0,
        help="measuring time, split 40/60 (default 16; plus ~3 s of set-up)",
    )
    parser.add_argument("--frames", type=int, default=20_000, help="distinct frames decoded per pass")
    args = parser.parse_args(argv)
    frames, source = make_frames(args.frames)
    ours_fps, base_fps = decode_bench(args.seconds * 0.4, frames)
    ours_ms, raw_ms = asyncio.run(rest_bench(args.seconds * 0.6))
    o50, o99, r50, r99 = (percentile(v, q) for v in (ours_ms, raw_ms) for q in (50, 99))
    pairs = [a - b for a, b in zip(ours_ms, raw_ms, strict=True)]
    lines = [
        f"machine: {_machine()}",
        f"decode: {len(frames)} aggTrade frames, {source}",
        f"  msgspec path (MarketFrameDecoder -> Trade)  {ours_fps:>12,.0f} frames/s",
        f"  json.loads + dict -> Trade (baseline)       {base_fps:>12,.0f} frames/s",
        f"  ratio                                        {ours_fps / base_fps:>11.2f}x",
        f"REST LIMIT placement on loopback, {len(ours_ms)} + {len(raw_ms)} orders (sandbox in a child):",
        f"  our client (place_order -> Order)  p50 {o50:6.2f} ms  p99 {o99:6.2f} ms",
        f"  raw signed aiohttp (bytes)         p50 {r50:6.2f} ms  p99 {r99:6.2f} ms",
        f"  added by our client                p50 {o50 - r50:+6.2f} ms  p99 {o99 - r99:+6.2f} ms",
        f"  paired differences (ours_i - raw_i, consecutive orders): mean {statistics.fmean(pairs):+.3f} ms, "
        f"p50 {percentile(pairs, 50):+.3f} ms",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
