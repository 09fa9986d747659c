"""Durable fill throughput through FillProcessor, and crash-recovery time from a large WAL.

``python -m bench.state_bench [--fills 20000] [--concurrency 1,8,64,512] [--wal-records 100000] [--dir D]``

- ``fills``: for each concurrency level, ``--fills`` fills go through ``FillProcessor.process`` with the
  WAL fsyncing (group commit), from that many concurrent producers (each awaits its fill before sending
  the next, as a stream consumer handing fills to tasks would). Reported: fills/s, fsyncs, fills per fsync,
  and per-fill latency (submit → durable and applied) p50 / p99.
- ``recovery``: a state directory whose WAL holds ``--wal-records`` fill records and no snapshot; the time
  ``recover()`` takes to lock, open (scan the tail), read, decode and apply all of them.

Temp directories are created under ``--dir`` (default: the system temp folder): the figures depend on its
file system and disk, which are printed. Results and machine notes are kept in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from core.clock import ManualClock
from core.types import Fill, Side
from state.fills import FillProcessor
from state.model import FillRecord, PositionState, apply_to_position, money
from state.recovery import recover
from state.wal import Wal

__all__ = ["bench_fills", "bench_recovery", "main"]


def make_fills(n: int) -> list[Fill]:
    """A synthetic stream of ``n`` fills (trade ids 1..n): alternating sizes and sides around 100 000 USDT,
    each with the realized PnL the venue would book (so the state's own check agrees)."""
    out: list[Fill] = []
    pos = PositionState(symbol="BTCUSDT")
    for i in range(1, n + 1):
        side = Side.BUY if i % 3 else Side.SELL
        qty = Decimal(i % 7 + 1) / 1000
        price = Decimal(100_000 + i % 50)
        ts = 1_750_000_000_000 + i
        pos, pnl = apply_to_position(pos, side, qty, price, ts)
        out.append(
            Fill(
                symbol="BTCUSDT",
                trade_id=i,
                order_id=i // 2,
                client_order_id=f"bench-{i // 2}",
                side=side,
                price=price,
                qty=qty,
                quote_qty=price * qty,
                commission=money(price * qty * Decimal("0.0005")),
                commission_asset="USDT",
                realized_pnl=pnl,
                is_maker=False,
                ts=ts,
            )
        )
    return out


async def bench_fills(base: Path, fills: int, concurrency: int) -> dict[str, float]:
    """Fills/s through FillProcessor + WAL with ``concurrency`` producers."""
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        result = recover(Path(tmp), ManualClock(0))
        processor = FillProcessor(result.state, result.wal)
        latencies: list[float] = []
        counter = iter(make_fills(fills))

        async def producer() -> None:
            for fill in counter:
                t = time.perf_counter()
                await processor.process(fill)
                latencies.append(time.perf_counter() - t)

        t0 = time.perf_counter()
        await asyncio.gather(*(producer() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
        stats = result.wal.stats
        assert result.state.get_snapshot().applied_fills == fills
        await result.close()
    latencies.sort()
    return {
        "fills_per_s": fills / elapsed,
        "fsyncs": float(stats.fsyncs),
        "fills_per_fsync": stats.records / max(stats.fsyncs, 1),
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


async def _write_wal(directory: Path, records: int) -> None:
    wal = Wal.open(directory)
    fills = make_fills(records)
    batch = 5000
    for start in range(0, records, batch):
        await asyncio.gather(*(wal.append(FillRecord(fill=f)) for f in fills[start : start + batch]))
    await wal.close()


def bench_recovery(base: Path, records: int) -> dict[str, float]:
    """Seconds to recover a state directory whose WAL holds ``records`` fills (no snapshot)."""
    with tempfile.TemporaryDirectory(dir=base) as tmp:
        state_dir = Path(tmp)
        asyncio.run(_write_wal(state_dir / "wal", records))
        size = sum(p.stat().st_size for p in (state_dir / "wal").iterdir())
        t0 = time.perf_counter()
        result = recover(state_dir, ManualClock(0))
        elapsed = time.perf_counter() - t0
        assert result.replayed == records and result.state.get_snapshot().applied_fills == records
        result.wal.close_sync()
        result.lock.release()
    return {"seconds": elapsed, "records_per_s": records / elapsed, "wal_mb": size / 1e6}


def _filesystem(path: Path) -> str:
    try:
        out = subprocess.run(
            ["df", "-T", str(path)], capture_output=True, text=True, check=True, timeout=5
        ).stdout.splitlines()
        return out[-1].split()[1] if len(out) > 1 else "?"
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--fills", type=int, default=20_000)
    parser.add_argument("--concurrency", default="1,8,64,512")
    parser.add_argument("--wal-records", type=int, default=100_000)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args(argv)
    base: Path = args.dir
    base.mkdir(parents=True, exist_ok=True)
    print(
        f"machine: {platform.machine()} {platform.processor() or ''} cpus={os.cpu_count()} "
        f"python={platform.python_version()} {platform.system()} {platform.release()}"
    )
    print(f"temp dir: {base} (file system: {_filesystem(base)})")
    print(f"{'producers':>9} {'fills/s':>10} {'fsyncs':>8} {'fills/fsync':>11} {'p50 ms':>8} {'p99 ms':>8}")
    for conc in (int(c) for c in args.concurrency.split(",")):
        n = args.fills if conc > 1 else min(args.fills, 2000)
        r = asyncio.run(bench_fills(base, n, conc))
        print(
            f"{conc:>9} {r['fills_per_s']:>10.0f} {r['fsyncs']:>8.0f} {r['fills_per_fsync']:>11.1f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f}"
        )
    rec = bench_recovery(base, args.wal_records)
    print(
        f"recovery: {args.wal_records} WAL records ({rec['wal_mb']:.1f} MB) in {rec['seconds']:.2f} s "
        f"({rec['records_per_s']:.0f} records/s)"
    )


if __name__ == "__main__":
    main()
