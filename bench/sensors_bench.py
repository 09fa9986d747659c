"""Candle-close → signals latency of the SensorManager, sensor throughput, and batched vs per-candle IPC.

``python -m bench.sensors_bench [--symbols 20] [--moments 150] [--per-candle-moments 20] [--workers N]``

Setup: ``--symbols`` symbols × 5 timeframes (1m 5m 15m 1h 4h) × every sensor of the library at default
parameters, warmed to the ring capacity. Each *moment* is the close of all five timeframes at once (the
worst case: a 4-hour boundary), i.e. ``symbols × 5`` candles.

- ``batched``: one ``evaluate()`` per moment, one message per worker (what the Engine does); latency is
  the wall time of that call, from the candles in hand to every signal decoded in this process.
- ``per-candle``: the same moments sent as one ``evaluate([candle])`` round trip per candle.
- ``eval/s per worker``: sensor calls divided by the compute time the workers report for themselves.

Data: the real 1-minute klines of ``CASINO_DATA_DIR`` (else ``../shared/data/klines``), BTCUSDT and
ETHUSDT; symbol *i* replays one of them from its own offset. Higher timeframes aggregate consecutive
minutes (``min(timeframe, 60)`` of them: 50 days of data do not hold enough 4-hour bars for the warm-up,
and only the values matter to the sensors). Those files have no taker-buy volume, so it is modelled as
a share of volume that follows the candle's body. Without the files a seeded random walk stands in.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import platform
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt

from core.clock import LiveClock
from core.config_engine import SensorSettings
from core.types import Candle
from sensors.manager import SensorManager, default_workers

__all__ = ["main", "run"]

TIMEFRAMES = {"1m": 1, "5m": 5, "15m": 15, "1h": 60, "4h": 240}
MINUTE_MS = 60_000
REPO = Path(__file__).resolve().parent.parent
F64 = npt.NDArray[np.float64]


def klines_dir() -> Path | None:
    """The shared klines folder, if present."""
    env = os.environ.get("CASINO_DATA_DIR")
    path = Path(env) if env else REPO.parent / "shared" / "data" / "klines"
    return path if path.is_dir() else None


def load_minutes() -> tuple[list[F64], str]:
    """1-minute OHLCV arrays (rows: open, high, low, close, volume) and where they came from."""
    folder = klines_dir()
    files = sorted(folder.glob("*-1m-*.csv.gz")) if folder else []
    if files:
        series = []
        for file in files:
            with gzip.open(file, "rt") as handle:
                table = np.loadtxt(handle, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4, 5))
            series.append(np.ascontiguousarray(table.T))
        return series, f"real klines: {', '.join(f.name.split('-')[0] for f in files)}"
    rng = np.random.default_rng(7)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.001, 80_000)))
    spread = np.abs(rng.normal(0, 0.0007, close.size)) * close
    table = np.vstack(
        [np.roll(close, 1), close + spread, close - spread, close, rng.gamma(2.0, 50.0, close.size)]
    )
    return [table], "seeded random walk (no klines found)"


def aggregate(minutes: F64, start: int, factor: int, bars: int) -> F64:
    """``bars`` candles of ``factor`` consecutive minutes each, from minute ``start``."""
    block = minutes[:, start : start + factor * bars].reshape(5, bars, factor)
    return np.vstack(
        [block[0, :, 0], block[1].max(axis=1), block[2].min(axis=1), block[3, :, -1], block[4].sum(axis=1)]
    )


def build_candles(symbols: int, bars: int) -> tuple[dict[tuple[str, str], list[Candle]], str]:
    """``bars`` closed candles per (symbol, timeframe), close times aligned on 4-hour boundaries."""
    series, source = load_minutes()
    end = 1_750_000_000_000 - 1_750_000_000_000 % (240 * MINUTE_MS)
    out: dict[tuple[str, str], list[Candle]] = {}
    for i in range(symbols):
        minutes = series[i % len(series)]
        symbol = f"S{i:02d}USDT"
        for timeframe, size in TIMEFRAMES.items():
            factor = min(size, 60)
            span = factor * bars
            start = (i * 997) % max(minutes.shape[1] - span, 1)
            o, h, lo, c, v = aggregate(minutes, start, factor, bars)
            step = size * MINUTE_MS
            first_close = end - 1 - (bars - 1) * 240 * MINUTE_MS  # every moment closes all timeframes
            body = np.clip((c - o) / np.maximum(h - lo, 1e-12), -1.0, 1.0)
            taker = v * (0.5 + 0.4 * body)
            out[(symbol, timeframe)] = [
                Candle(
                    symbol=symbol,
                    interval=timeframe,
                    open_time=first_close + k * 240 * MINUTE_MS + 1 - step,
                    close_time=first_close + k * 240 * MINUTE_MS,
                    open=Decimal(repr(float(o[k]))),
                    high=Decimal(repr(float(h[k]))),
                    low=Decimal(repr(float(lo[k]))),
                    close=Decimal(repr(float(c[k]))),
                    volume=Decimal(repr(float(v[k]))),
                    taker_buy_volume=Decimal(repr(float(taker[k]))),
                )
                for k in range(bars)
            ]
    return out, source


def overhead_ms(manager: SensorManager) -> float:
    """Last evaluate's wall time minus the slowest worker's own compute: what IPC and decoding cost."""
    stats = manager.stats()
    return (stats.last_round_trip_ns - max(w.last_compute_ns for w in stats.workers)) / 1e6


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) by linear interpolation."""
    return float(np.quantile(np.asarray(values), q))


async def run(symbols: int, moments: int, per_candle_moments: int, workers: int | None) -> dict[str, float]:
    """Run both phases; returns the figures (times in ms)."""
    settings = SensorSettings()
    manager = SensorManager(settings, timeframes=list(TIMEFRAMES), clock=LiveClock(), workers=workers)
    capacity = manager.capacity
    candles, source = build_candles(symbols, capacity + moments + per_candle_moments)
    keys = sorted(candles)
    print(f"data: {source}; {symbols} symbols × {len(TIMEFRAMES)} timeframes, {len(manager.specs)} sensors")
    print(f"workers: {manager.workers}, ring capacity {capacity}")
    started = time.perf_counter()
    await manager.start()
    print(f"pool start: {time.perf_counter() - started:.2f} s")
    try:
        started = time.perf_counter()
        await manager.warm_up([c for key in keys for c in candles[key][:capacity]])
        print(f"warm-up of {capacity * len(keys)} candles: {time.perf_counter() - started:.2f} s")

        def moment(k: int) -> list[Candle]:
            return [candles[key][capacity + k] for key in keys]

        batched: list[float] = []
        batched_overhead: list[float] = []
        signals = 0
        before = manager.stats()
        for k in range(moments):
            batch = moment(k)
            t0 = time.perf_counter_ns()
            signals += len(await manager.evaluate(batch))
            batched.append((time.perf_counter_ns() - t0) / 1e6)
            batched_overhead.append(overhead_ms(manager))
        after = manager.stats()
        evaluations = sum(w.evaluations for w in after.workers) - sum(w.evaluations for w in before.workers)
        compute_ms = (
            sum(w.compute_ns for w in after.workers) - sum(w.compute_ns for w in before.workers)
        ) / 1e6

        per_candle: list[float] = []
        round_trips: list[float] = []
        round_trip_overhead: list[float] = []
        for k in range(moments, moments + per_candle_moments):
            t0 = time.perf_counter_ns()
            for candle in moment(k):
                t1 = time.perf_counter_ns()
                await manager.evaluate([candle])
                round_trips.append((time.perf_counter_ns() - t1) / 1e6)
                round_trip_overhead.append(overhead_ms(manager))
            per_candle.append((time.perf_counter_ns() - t0) / 1e6)
    finally:
        await manager.stop()

    eval_ms = compute_ms / max(evaluations, 1)
    figures = {
        "candles_per_moment": float(len(keys)),
        "signals_per_moment": signals / max(moments, 1),
        "evaluations_per_moment": evaluations / max(moments, 1),
        "batched_p50_ms": percentile(batched, 0.5),
        "batched_p99_ms": percentile(batched, 0.99),
        "batched_max_ms": max(batched),
        "batched_overhead_p50_ms": percentile(batched_overhead, 0.5),
        "per_candle_moment_p50_ms": percentile(per_candle, 0.5),
        "per_candle_moment_p99_ms": percentile(per_candle, 0.99),
        "round_trip_p50_ms": percentile(round_trips, 0.5),
        "round_trip_overhead_p50_ms": percentile(round_trip_overhead, 0.5),
        "per_candle_over_batched": percentile(per_candle, 0.5) / percentile(batched, 0.5),
        "round_trip_in_evaluations": percentile(round_trip_overhead, 0.5) / eval_ms if eval_ms else 0.0,
        "evals_per_s_per_worker": evaluations / (compute_ms / 1e3) if compute_ms else 0.0,
    }
    return figures


def report(figures: dict[str, float]) -> None:
    """Print the table."""
    rows = [
        ("candles per moment (symbols × timeframes)", f"{figures['candles_per_moment']:.0f}"),
        ("sensor evaluations per moment", f"{figures['evaluations_per_moment']:.0f}"),
        ("signals per moment", f"{figures['signals_per_moment']:.0f}"),
        ("batched: close → signals p50", f"{figures['batched_p50_ms']:.2f} ms"),
        ("batched: close → signals p99", f"{figures['batched_p99_ms']:.2f} ms"),
        ("batched: max", f"{figures['batched_max_ms']:.2f} ms"),
        ("batched: IPC + decode per moment (p50)", f"{figures['batched_overhead_p50_ms']:.3f} ms"),
        ("per-candle: whole moment p50", f"{figures['per_candle_moment_p50_ms']:.2f} ms"),
        ("per-candle: whole moment p99", f"{figures['per_candle_moment_p99_ms']:.2f} ms"),
        ("per-candle: one round trip p50", f"{figures['round_trip_p50_ms']:.3f} ms"),
        ("per-candle: IPC + decode per round trip (p50)", f"{figures['round_trip_overhead_p50_ms']:.3f} ms"),
        ("per-candle / batched (moment p50)", f"{figures['per_candle_over_batched']:.2f}×"),
        ("one round trip's IPC, in sensor evaluations", f"{figures['round_trip_in_evaluations']:.1f}"),
        ("sensor evaluations / s / worker", f"{figures['evals_per_s_per_worker']:,.0f}"),
    ]
    width = max(len(name) for name, _ in rows)
    print()
    for name, value in rows:
        print(f"{name:<{width}}  {value:>14}")


def machine() -> str:
    """nproc, CPU model, Python: the notes a figure needs."""
    model = platform.processor() or "unknown CPU"
    with_cpuinfo = Path("/proc/cpuinfo")
    if with_cpuinfo.exists():
        for line in with_cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"nproc {os.cpu_count()}, {model}, Python {platform.python_version()} ({platform.system()})"


def main(argv: list[str] | None = None) -> None:
    """CLI entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--symbols", type=int, default=20)
    parser.add_argument("--moments", type=int, default=150, help="batched moments measured")
    parser.add_argument("--per-candle-moments", type=int, default=20, help="moments sent candle by candle")
    parser.add_argument("--workers", type=int, default=None, help="default: settings (CPUs - 1, at least 1)")
    args = parser.parse_args(argv)
    print(machine())
    workers = args.workers if args.workers is not None else default_workers(SensorSettings())
    figures = asyncio.run(run(args.symbols, args.moments, args.per_candle_moments, workers))
    report(figures)


if __name__ == "__main__":
    main()
