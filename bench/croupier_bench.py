"""Decision → entry order on the wire, through the real stack against the embedded sandbox.

``python -m bench.croupier_bench [--decisions 200] [--speed 10] [--dir D]``

Each round gives :meth:`Croupier.execute` a fresh decision (BTCUSDT, alternating sides). Measured:

- ``entry on the wire``: from the ``execute`` call to the moment the sandbox's exchange core receives the
  order (its REST handler has read, authenticated and decoded the request). The core's ``new_order`` is
  wrapped in-process to take that timestamp, so both ends read the same ``perf_counter``. It includes what
  must happen first: the bracket recorded in state (a WAL append, fsynced) and the decision journaled.
- ``protected``: from the ``execute`` call until it returns with the stop and take-profit working.

Between rounds the position is closed by the emergency sweep (not measured). The WAL lives under ``--dir``
(default: the system temp folder): its fsync is part of the figure, so the disk matters; it is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.config import SandboxSettings, Settings
from core.config_croupier import CroupierSettings
from core.decisions import Decision, RiskVerdict
from core.enums import Side
from core.secrets import Secret
from croupier.croupier import Croupier
from croupier.model import OutcomeStatus
from exchanges.binance.factory import build_adapter
from exchanges.sandbox.runner import Sandbox
from state.fills import FillProcessor
from state.journal import Journal
from state.manager import StateManager
from state.wal import Wal

__all__ = ["bench_entries", "main"]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def bench_entries(decisions: int, speed: float, directory: Path) -> dict[str, Any]:
    """Run ``decisions`` rounds; latencies in milliseconds."""
    async with Sandbox(SandboxSettings(port=0, speed=speed, history_days=0.02, seed=3)) as sb:
        core = sb.context.core
        received: dict[str, int] = {}
        original = core.new_order

        def new_order(account: str, req: Any) -> Any:
            if req.new_client_order_id:
                received.setdefault(req.new_client_order_id, time.perf_counter_ns())
            return original(account, req)

        core.new_order = new_order  # type: ignore[method-assign]
        key, secret = sb.demo_credentials
        clock = sb.context.clock
        adapter = build_adapter(
            Settings(venue="sandbox", sandbox=sb.settings),
            clock,
            rest_url=sb.rest_url,
            credentials=(Secret(key), Secret(secret)),
        )
        adapter.api.settle_s = 0.0
        async with adapter:
            instruments = {i.symbol: i for i in await adapter.instruments()}
            wal = Wal.open(directory / "wal")
            state = StateManager(clock, wal=wal)
            fills = FillProcessor(state, wal)
            journal = await Journal.open(directory / "journal.sqlite")
            croupier = Croupier(
                adapter, state, fills, clock, instruments, CroupierSettings(), journal=journal
            )
            stream = adapter.user_stream(croupier.on_user_event, lambda _: None)
            await stream.start()
            await croupier.start()
            wire: list[float] = []
            protected: list[float] = []
            try:
                for i in range(decisions):
                    price = (await adapter.book_ticker("BTCUSDT")).ask_price
                    decision = Decision(
                        decision_id=f"bench-{i}",
                        symbol="BTCUSDT",
                        side=Side.BUY if i % 2 else Side.SELL,
                        conviction=0.8,
                        reference_price=price,
                        stop_distance=price * Decimal("0.01"),
                        take_profit_distance=price * Decimal("0.01"),
                        ts=clock.now_ms(),
                        timeframe="1m",
                    )
                    verdict = RiskVerdict(
                        decision_id=decision.decision_id, accepted=True, qty=Decimal("0.002")
                    )
                    start = time.perf_counter_ns()
                    outcome = await croupier.execute(decision, verdict)
                    done = time.perf_counter_ns()
                    if outcome.status is not OutcomeStatus.PROTECTED:
                        raise RuntimeError(f"round {i}: {outcome}")
                    wire.append((received[croupier.executor.entry_id(decision.decision_id)] - start) / 1e6)
                    protected.append((done - start) / 1e6)
                    sweep = await croupier.emergency_sweep()
                    if not sweep.flat:
                        raise RuntimeError(f"round {i}: sweep left {sweep}")
            finally:
                await croupier.stop()
                await stream.stop()
                await journal.close()
                await wal.close()
    return {
        "decisions": decisions,
        "wire_p50": statistics.median(wire),
        "wire_p99": _pct(wire, 0.99),
        "wire_max": max(wire),
        "protected_p50": statistics.median(protected),
        "protected_p99": _pct(protected, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--decisions", type=int, default=200)
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"python {platform.python_version()} on {platform.machine()}, WAL in {tmp}")
        r = asyncio.run(bench_entries(args.decisions, args.speed, Path(tmp)))
    print(f"decisions: {r['decisions']}")
    print(
        f"decision -> entry on the wire: p50 {r['wire_p50']:.2f} ms, p99 {r['wire_p99']:.2f} ms, "
        f"max {r['wire_max']:.2f} ms"
    )
    print(f"decision -> protected (stop and take-profit working): p50 {r['protected_p50']:.2f} ms, "
          f"p99 {r['protected_p99']:.2f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
