"""How much load the sandbox sustains on loopback: signed orders/s, pings/s and WebSocket messages/s.

``python -m bench.sandbox_throughput [--seconds N]`` starts the sandbox in a child process (its own core)
and drives it from this process with a keep-alive aiohttp client, in four phases of ``N/4`` seconds:

- ``ping``: unsigned ``GET /fapi/v1/ping``, the cheapest request: the HTTP stack's ceiling;
- ``limit+cancel``: a resting LIMIT (3 % under the bid) then its cancel, both signed;
- ``market``: signed MARKET orders, alternately buying and selling, filled against the synthetic book;
- ``ws``: ``--ws-clients`` clients, each on ``/market`` (aggTrade) and ``/public`` (bookTicker) for
  BTCUSDT and ETHUSDT, while the replay runs at ``--speed``.

Orders/ping is the machine-independent figure. The server's CPU share per phase (from /proc) shows which
side was saturated. Results and machine notes are kept in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import multiprocessing
import os
import platform
import signal
import statistics
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import msgspec

__all__ = ["PhaseResult", "ServerSpec", "main", "run_bench"]

KEY = "benchApiKey0001"
SECRET = "benchApiSecret0001"
SYMBOLS = ("BTCUSDT", "ETHUSDT")
ORDER_SYMBOL = "BTCUSDT"
ORDER_QTY = "0.002"  # above BTCUSDT's 100 USDT min notional at any price over 50 000
RECV_WINDOW = 60_000
_START_TIMEOUT_S = 60.0
_WS_SAMPLE_EVERY = 16  # decode one frame in N for staleness: counting must stay cheap for the client


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """What the child process serves."""

    speed: float
    data: tuple[str, ...]
    history_days: float
    uvloop: bool
    seed: int = 1


@dataclass(slots=True)
class PhaseResult:
    """One phase's figures: ``count`` operations in ``seconds``; latencies in milliseconds."""

    name: str
    count: int
    seconds: float
    errors: int = 0
    latencies_ms: list[float] = field(default_factory=list)
    server_cpu: float | None = None  # share of one core, 0..1
    client_cpu: float = 0.0
    note: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: int) -> float | None:
        cuts = statistics.quantiles(self.latencies_ms, n=100) if len(self.latencies_ms) > 1 else None
        return cuts[q - 1] if cuts else None


# --- the server process ----------------------------------------------------------------------------------


def _serve(spec: ServerSpec, pipe: Connection) -> None:
    """Child process: run the sandbox until SIGTERM; report ``(port, exchange_ms, wall_s)`` when ready."""
    from core.config import SandboxSettings
    from exchanges.sandbox.runner import Sandbox

    settings = SandboxSettings(
        port=0,
        symbols=SYMBOLS,
        speed=spec.speed,
        seed=spec.seed,
        data=spec.data,
        history_days=spec.history_days,
        accounts=(f"{KEY}:{SECRET}:100000000",),
        rate_limit_weight_1m=10**7,  # measure the server, not its (correct) rate limiter
        rate_limit_orders_10s=10**7,
        rate_limit_orders_1m=10**7,
    )

    async def serve() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        async with Sandbox(settings) as sandbox:
            pipe.send((sandbox.port, sandbox.context.clock.now_ms(), time.monotonic()))
            await sandbox.run_forever(stop)

    if spec.uvloop:
        import uvloop

        uvloop.run(serve())
    else:
        asyncio.run(serve())


class ServerProcess:
    """The sandbox in a child process, and its CPU time."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        ctx = multiprocessing.get_context("spawn")
        self._pipe, child = ctx.Pipe(duplex=False)
        self._proc = ctx.Process(target=_serve, args=(spec, child), name="sandbox-bench", daemon=True)
        self.port = 0
        self._anchor = (0, 0.0)

    def start(self) -> None:
        self._proc.start()
        if not self._pipe.poll(_START_TIMEOUT_S):
            self.stop()
            raise RuntimeError(f"the sandbox did not start within {_START_TIMEOUT_S:.0f}s")
        self.port, exchange_ms, wall_s = self._pipe.recv()
        self._anchor = (exchange_ms, wall_s)

    def exchange_ms(self) -> int:
        """The sandbox clock now, from its anchor and speed (both processes read the same monotonic clock)."""
        exchange_ms, wall_s = self._anchor
        return exchange_ms + int((time.monotonic() - wall_s) * 1000.0 * self.spec.speed)

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds of the server process (Linux /proc), None elsewhere."""
        try:
            fields = Path(f"/proc/{self._proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(10.0)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5.0)


# --- the load generator ----------------------------------------------------------------------------------


class Client:
    """A keep-alive HTTP client that signs like a Binance connector, with the sandbox's clock."""

    def __init__(self, server: ServerProcess, session: aiohttp.ClientSession) -> None:
        self.server = server
        self.session = session
        self.base = f"http://127.0.0.1:{server.port}"
        self.first_error = ""

    def signed_query(self, params: dict[str, str]) -> str:
        # A little in the past: the sandbox refuses timestamps ahead of its clock by 1 s or more.
        params |= {"recvWindow": str(RECV_WINDOW), "timestamp": str(self.server.exchange_ms() - 2_000)}
        query = urlencode(params)
        signature = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
        return f"{query}&signature={signature}"

    async def call(self, method: str, path: str, query: str = "") -> tuple[bool, bytes]:
        url = f"{self.base}{path}?{query}" if query else f"{self.base}{path}"
        async with self.session.request(method, url, headers={"X-MBX-APIKEY": KEY}) as resp:
            body = await resp.read()
            if resp.status != 200 and not self.first_error:
                self.first_error = f"{method} {path}: {resp.status} {body[:200]!r}"
            return resp.status == 200, body


Operation = Callable[[], Awaitable[tuple[int, int, float | None]]]  # -> (done, errors, latency ms)


async def drive(
    name: str, server: ServerProcess, op: Operation, seconds: float, workers: int, cap: int
) -> PhaseResult:
    """Run ``op`` from ``workers`` concurrent loops for ``seconds`` (after a short warm-up) or ``cap`` ops."""
    result = PhaseResult(name, 0, 0.0)

    async def worker(deadline: float, record: bool) -> None:
        while time.monotonic() < deadline and result.count < cap:
            done, errors, latency = await op()
            if record:
                result.count += done
                result.errors += errors
                if latency is not None:
                    result.latencies_ms.append(latency)

    warm = min(1.0, seconds / 10)
    await asyncio.gather(*(worker(time.monotonic() + warm, False) for _ in range(workers)))
    done = _measure(result, server)
    await asyncio.gather(*(worker(time.monotonic() + seconds, True) for _ in range(workers)))
    done()
    return result


def _measure(result: PhaseResult, server: ServerProcess) -> Callable[[], None]:
    """Start timing ``result``; the returned function stops it and fills in seconds and CPU shares."""
    cpu0, client0, t0 = server.cpu_seconds(), time.process_time(), time.monotonic()

    def stop() -> None:
        result.seconds = time.monotonic() - t0
        cpu1 = server.cpu_seconds()
        if cpu0 is not None and cpu1 is not None:
            result.server_cpu = (cpu1 - cpu0) / result.seconds
        result.client_cpu = (time.process_time() - client0) / result.seconds

    return stop


async def limit_price(client: Client) -> str:
    """3 % under the bid on BTCUSDT's tick grid: inside PERCENT_PRICE, far enough not to fill."""
    _, info = await client.call("GET", "/fapi/v1/exchangeInfo")
    symbol = next(s for s in msgspec.json.decode(info)["symbols"] if s["symbol"] == ORDER_SYMBOL)
    tick = Decimal(next(f["tickSize"] for f in symbol["filters"] if f["filterType"] == "PRICE_FILTER"))
    _, book = await client.call("GET", "/fapi/v1/ticker/bookTicker", f"symbol={ORDER_SYMBOL}")
    bid = Decimal(msgspec.json.decode(book)["bidPrice"])
    return str((bid * Decimal("0.97") / tick).to_integral_value(ROUND_DOWN) * tick)


async def rest_phases(server: ServerProcess, seconds: float, workers: int, cap: int) -> list[PhaseResult]:
    connector = aiohttp.TCPConnector(limit=workers, force_close=False)
    async with aiohttp.ClientSession(connector=connector) as session:
        client = Client(server, session)
        price = await limit_price(client)

        async def ping() -> tuple[int, int, float | None]:
            ok, _ = await client.call("GET", "/fapi/v1/ping")
            return int(ok), int(not ok), None

        async def limit_and_cancel() -> tuple[int, int, float | None]:
            t0 = time.perf_counter()
            params = {"symbol": ORDER_SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC"}
            query = client.signed_query(params | {"quantity": ORDER_QTY, "price": price})
            ok, body = await client.call("POST", "/fapi/v1/order", query)
            latency = (time.perf_counter() - t0) * 1000.0
            if not ok:
                return 0, 1, None
            order_id = str(msgspec.json.decode(body)["orderId"])
            ok, _ = await client.call(
                "DELETE", "/fapi/v1/order", client.signed_query({"symbol": ORDER_SYMBOL, "orderId": order_id})
            )
            return int(ok), int(not ok), latency

        sides = itertools.cycle(("BUY", "SELL"))  # alternate: the position stays near flat

        async def market() -> tuple[int, int, float | None]:
            t0 = time.perf_counter()
            params = {"symbol": ORDER_SYMBOL, "side": next(sides), "type": "MARKET", "quantity": ORDER_QTY}
            ok, _ = await client.call("POST", "/fapi/v1/order", client.signed_query(params))
            return int(ok), int(not ok), (time.perf_counter() - t0) * 1000.0 if ok else None

        results = [
            await drive("ping (unsigned)", server, ping, seconds, workers, cap),
            await drive("LIMIT place+cancel pairs", server, limit_and_cancel, seconds, workers, cap),
            await drive("MARKET orders", server, market, seconds, workers, cap),
        ]
        results[1].note = "2 signed requests per pair; latency = placement"
        results[2].note = "latency = placement until the fill answer"
        if client.first_error:
            results[-1].note += f"; first REST error: {client.first_error}"
        return results


async def ws_phase(server: ServerProcess, seconds: float, clients: int) -> PhaseResult:
    """``clients`` x (market aggTrade + public bookTicker sockets); frames counted, staleness sampled."""
    result = PhaseResult(f"WebSocket frames ({clients} clients)", 0, 0.0)
    routes = (("market", "aggTrade"), ("public", "bookTicker"))  # Binance's routing: one socket per route
    paths = [f"/{r}/stream?streams=" + "/".join(f"{s.lower()}@{kind}" for s in SYMBOLS) for r, kind in routes]

    async def reader(ws: aiohttp.ClientWebSocketResponse, deadline: float) -> None:
        while (left := deadline - time.monotonic()) > 0:
            try:
                msg = await ws.receive(timeout=left)
            except TimeoutError:
                return
            if msg.type is not aiohttp.WSMsgType.TEXT:
                result.errors += 1  # closed by the server (e.g. as a slow consumer)
                return
            result.count += 1
            if result.count % _WS_SAMPLE_EVERY == 0:
                event_ms = msgspec.json.decode(msg.data)["data"]["E"]
                result.latencies_ms.append((server.exchange_ms() - event_ms) / server.spec.speed)

    async with aiohttp.ClientSession() as session:
        base = f"ws://127.0.0.1:{server.port}"
        sockets = [await session.ws_connect(base + p, heartbeat=None) for _ in range(clients) for p in paths]
        done = _measure(result, server)
        await asyncio.gather(*(reader(ws, time.monotonic() + seconds) for ws in sockets))
        done()
        await asyncio.gather(*(ws.close() for ws in sockets))
    result.note = (
        f"{result.rate / clients:.0f}/s per client; latency = staleness (wall ms since the event's E)"
    )
    return result


# --- entry point -----------------------------------------------------------------------------------------


def default_data() -> tuple[str, ...]:
    """The real tick capture beside the repository (real message rates), else the klines, else nothing
    (the synthetic market). ``CASINO_SHARED_DATA`` moves the shared folder."""
    here = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    root = Path(os.environ.get("CASINO_SHARED_DATA", here))
    found = [root / sub for sub in ("ticks", "klines") if (root / sub).is_dir()]
    return (str(found[0]),) if found else ()


async def run_bench(
    spec: ServerSpec, seconds: float, workers: int, clients: int, cap: int
) -> list[PhaseResult]:
    """Start the server process, run the four phases (``seconds / 4`` each), stop the server."""
    server = ServerProcess(spec)
    server.start()
    try:
        results = await rest_phases(server, seconds / 4, workers, cap)
        results.append(await ws_phase(server, seconds / 4, clients))
        return results
    finally:
        server.stop()


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else format(value, spec) + suffix


_HEAD = ("phase", "count", "rate/s", "p50 ms", "p99 ms", "errors", "srv CPU", "cli CPU")
_ALIGN = ("<34", ">9", ">10", ">9", ">9", ">8", ">9", ">9")


def report(results: list[PhaseResult], spec: ServerSpec, workers: int) -> str:
    """The results table, the orders/ping ratios and the machine line."""
    rows = ["".join(format(t, a) for t, a in zip(_HEAD, _ALIGN, strict=True))]
    for r in results:
        srv = None if r.server_cpu is None else r.server_cpu * 100
        cells: tuple[object, ...] = (r.name, r.count, f"{r.rate:.0f}", _fmt(r.percentile(50), ".2f"))
        cells += (
            _fmt(r.percentile(99), ".2f"),
            r.errors,
            _fmt(srv, ".0f", "%"),
            f"{r.client_cpu * 100:.0f}%",
        )
        rows.append("".join(format(c, a) for c, a in zip(cells, _ALIGN, strict=True)))
        rows += [f"    {r.note}"] if r.note else []
    ping, pairs, market = results[0].rate, results[1].rate, results[2].rate
    if ping > 0:
        rows.append(f"orders/ping: LIMIT+cancel pair {pairs / ping:.3f}, MARKET {market / ping:.3f}")
    cpuinfo = Path("/proc/cpuinfo")
    models = (
        [ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
        if cpuinfo.exists()
        else []
    )
    cpu = models[0].partition(":")[2].strip() if models else platform.processor()
    loop, data = "uvloop" if spec.uvloop else "asyncio", ", ".join(spec.data) or "synthetic"
    rows.append(f"machine: {os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}")
    rows.append(
        f"server: {loop} loop, speed {spec.speed:g}x, data {data}; client: {workers} HTTP connections"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sandbox_throughput", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add = parser.add_argument
    add("--seconds", type=float, default=20.0, help="total measuring time over 4 phases (default 20)")
    add("--speed", type=float, default=10.0, help="sandbox replay speed (default 10)")
    add("--data", action="append", help="market data files/folders (default: the shared ticks, else klines)")
    add("--connections", type=int, default=16, help="concurrent HTTP connections (default 16)")
    add("--ws-clients", type=int, default=8, help="WebSocket clients, 2 sockets each (default 8)")
    add("--max-ops", type=int, default=2_000_000, help="cap on operations per phase")
    add("--server-uvloop", action="store_true", help="run the sandbox on uvloop (its CLI uses asyncio)")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.connections <= 0 or args.ws_clients <= 0 or args.max_ops <= 0:
        parser.error("--seconds, --connections, --ws-clients and --max-ops must be positive")
    data = tuple(args.data) if args.data else default_data()
    spec = ServerSpec(speed=args.speed, data=data, history_days=0.001, uvloop=args.server_uvloop)
    results = _run_client(run_bench(spec, args.seconds, args.connections, args.ws_clients, args.max_ops))
    print(report(results, spec, args.connections))
    return 0


def _run_client(bench: Coroutine[Any, Any, list[PhaseResult]]) -> list[PhaseResult]:
    """uvloop for the load generator when available: the cheaper the client, the more we see of the server."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(bench)
    return uvloop.run(bench)


if __name__ == "__main__":
    raise SystemExit(main())
