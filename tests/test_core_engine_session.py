"""A session against the embedded sandbox: the real connector, the real sensor pool and library.

Signals arrive for every symbol and timeframe; killing a sensor worker mid-session loses no symbol and no
moment; the candles the engine built from the live stream equal the sandbox's own klines (what is exact).
"""

from __future__ import annotations

import os
import signal
from collections import defaultdict
from collections.abc import Sequence

import pytest

from core.candles import interval_ms
from core.config import Settings
from core.config_engine import EngineSettings, SensorSettings
from core.engine import Engine
from core.types import Candle, Signal
from exchanges.binance.factory import build_adapter
from exchanges.sandbox.runner import Sandbox
from sensors.manager import SensorManager
from tests.helpers import eventually
from tests.ws_helpers import settings as sandbox_settings

pytestmark = pytest.mark.timeout(120)

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")
TIMEFRAMES = ("1m", "3m", "5m")
SPEED = 60.0  # one exchange minute per wall second


class Recording:
    """The sensor pool, recording every candle it is asked to evaluate."""

    def __init__(self, manager: SensorManager) -> None:
        self.manager = manager
        self.candles: list[Candle] = []

    async def start(self) -> None:
        await self.manager.start()

    async def warm_up(self, candles: Sequence[Candle]) -> None:
        await self.manager.warm_up(candles)

    async def evaluate(self, candles: Sequence[Candle]) -> list[Signal]:
        self.candles += candles
        return await self.manager.evaluate(candles)

    async def stop(self) -> None:
        await self.manager.stop()


def covered(signals: list[Signal], after: int) -> set[tuple[str, str]]:
    return {(s.symbol, s.timeframe) for s in signals if s.ts > after}


async def test_session_signals_every_symbol_and_timeframe_through_a_worker_kill() -> None:
    sb_settings = sandbox_settings(symbols=SYMBOLS, speed=SPEED, history_days=1.0, seed=11)
    async with Sandbox(sb_settings) as sb:
        clock = sb.context.clock
        adapter = build_adapter(Settings(venue="sandbox"), clock, rest_url=sb.rest_url)
        async with adapter:
            manager = SensorManager(SensorSettings(workers=2), timeframes=TIMEFRAMES, clock=clock)
            pool = Recording(manager)
            signals: list[Signal] = []
            engine_settings = EngineSettings(timeframes=TIMEFRAMES, stale_after_s=600, warmup_bars=230)
            # A quiet minute closes on the timer close_grace_s wall seconds after its end (60 exchange seconds
            # per wall second here): generous, so a loaded machine's stream lag cannot make a trade "late".
            engine = Engine(
                engine_settings, SYMBOLS, adapter, pool, clock, on_signals=signals.extend,
                close_grace_s=4.0, ready_timeout_s=20.0,
            )  # fmt: skip
            await engine.start()
            try:
                started = clock.now_ms()
                everything = {(s, tf) for s in SYMBOLS for tf in TIMEFRAMES}
                await eventually(
                    lambda: covered(signals, started) == everything, timeout=30, message="signals everywhere"
                )
                victim = manager.worker_of(SYMBOLS[0])
                pid = manager.pids()[victim]
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                killed = clock.now_ms()
                await eventually(
                    lambda: covered(signals, killed) == everything,
                    timeout=40,
                    message="signals after the kill",
                )
                assert manager.restarts >= 1 and manager.pids()[victim] != pid
                assert engine.failure is None
            finally:
                await engine.stop()
            stats = engine.stats()
            assert stats.evaluate_errors == 0 and stats.queue_full == 0 and stats.callback_errors == 0
            assert stats.rejected == {}, stats.rejected
            assert stats.seam_overlap >= 0 and stats.batches > 0 and stats.evaluate_p99_ms is not None

            # No moment lost: per (symbol, timeframe) the evaluated candles are consecutive, none twice.
            by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
            for c in pool.candles:
                by_key[(c.symbol, c.interval)].append(c.open_time)
            for (symbol, tf), opens in by_key.items():
                step = interval_ms(tf)
                assert opens == list(range(opens[0], opens[-1] + step, step)), (symbol, tf)

            # Every signal is about a candle that was evaluated, from every enabled sensor.
            sensor_ids = {spec.id for spec in manager.specs}
            last_1m = max(c.close_time for c in pool.candles if c.interval == "1m")
            assert {s.sensor_id for s in signals} == sensor_ids
            assert engine.latest_signals()[(next(iter(sensor_ids)), SYMBOLS[1], "1m")].ts == last_1m

            # The live candles are the venue's klines (OHLC, volume and trade count are exact on both sides).
            for symbol in SYMBOLS:
                for tf in TIMEFRAMES:
                    mine = [c for c in pool.candles if c.symbol == symbol and c.interval == tf]
                    theirs = {
                        c.open_time: c
                        for c in await adapter.klines(symbol, tf, start_time=mine[0].open_time, limit=1000)
                    }
                    for c in mine:
                        ref = theirs[c.open_time]
                        assert (c.open, c.high, c.low, c.close, c.volume, c.trades) == (
                            ref.open, ref.high, ref.low, ref.close, ref.volume, ref.trades,
                        ), (symbol, tf, c.open_time)  # fmt: skip
