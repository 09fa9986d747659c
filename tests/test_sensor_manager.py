"""SensorManager over real worker processes: one batch per worker, every (symbol, timeframe), worker death."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from core.clock import ManualClock
from core.config_engine import SensorSettings
from sensors.manager import SensorManager
from tests.helpers import eventually
from tests.sensor_manager_support import T0, TIMEFRAME_MS, moment, series, tiny_sensors

pytestmark = pytest.mark.asyncio(loop_scope="module")

SYMBOLS = ["ADAUSDT", "BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]
TIMEFRAMES = ["1m", "5m", "15m"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def manager() -> AsyncIterator[SensorManager]:
    pool = SensorManager(
        SensorSettings(workers=2),
        timeframes=TIMEFRAMES,
        clock=ManualClock(T0),
        factory=tiny_sensors,
        batch_timeout_s=20.0,
    )
    await pool.start()
    await pool.warm_up(series(SYMBOLS, TIMEFRAMES, bars=10))
    yield pool
    await pool.stop()


def close_at(k: int) -> int:
    """Close time of the k-th 15-minute moment after T0 (1m, 5m and 15m all close then)."""
    return T0 - 1 + k * TIMEFRAME_MS["15m"]


async def test_one_batch_per_worker_yields_every_symbol_and_timeframe(manager: SensorManager) -> None:
    before = manager.stats()
    signals = await manager.evaluate(moment(SYMBOLS, TIMEFRAMES, close_at(1), 500.0))
    after = manager.stats()
    keys = {(s.symbol, s.timeframe) for s in signals}
    assert keys == {(s, tf) for s in SYMBOLS for tf in TIMEFRAMES}
    # change on every candle, window only on 5m: 5 symbols × (3 + 1)
    assert len(signals) == 20
    assert all(s.ts == close_at(1) and s.direction == 1 for s in signals)
    assert [w.batches - v.batches for w, v in zip(after.workers, before.workers, strict=True)] == [1, 1]
    assert after.batches == before.batches + 1
    assert all(w.last_compute_ns > 0 for w in after.workers)
    assert sorted(s for w in after.workers for s in w.symbols) == SYMBOLS


async def test_killed_worker_is_restarted_rewarmed_and_loses_no_symbol(manager: SensorManager) -> None:
    await manager.evaluate(moment(SYMBOLS, TIMEFRAMES, close_at(2), 400.0))
    victim = manager.worker_of("BTCUSDT")
    old_pid = manager.pids()[victim]
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    # Mid-session: the next moment's batch goes out while the worker is dead or being replaced.
    signals = await manager.evaluate(moment(SYMBOLS, TIMEFRAMES, close_at(3), 300.0))
    assert {(s.symbol, s.timeframe) for s in signals} == {(s, tf) for s in SYMBOLS for tf in TIMEFRAMES}
    # Re-warmed from the manager's copy: the new worker saw 400 before 300, so "change" points down.
    assert all(s.direction == -1 for s in signals if s.sensor_id == "change")
    assert manager.restarts == 1
    new_pid = manager.pids()[victim]
    assert new_pid not in (None, old_pid)
    assert manager.stats().workers[victim].last_restart_ms == T0
    with pytest.raises(ChildProcessError):
        os.waitpid(old_pid, os.WNOHANG)  # noqa: ASYNC222  (WNOHANG never waits) reaped: no zombie left


async def test_worker_killed_while_idle_is_replaced_before_the_next_batch(manager: SensorManager) -> None:
    restarts = manager.restarts
    victim = manager.worker_of("ETHUSDT")
    old_pid = manager.pids()[victim]
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    await eventually(lambda: manager.pids()[victim] not in (None, old_pid), timeout=30, message="restart")
    signals = await manager.evaluate(moment(SYMBOLS, TIMEFRAMES, close_at(4), 350.0))
    assert {s.symbol for s in signals} == set(SYMBOLS)
    assert manager.restarts == restarts + 1


async def test_candles_are_validated_before_sending(manager: SensorManager) -> None:
    with pytest.raises(ValueError, match="not one of the engine's timeframes"):
        await manager.evaluate(moment(["BTCUSDT"], ["1h"], close_at(5), 1.0))


async def test_a_moment_sent_twice_yields_nothing_the_second_time(
    manager: SensorManager, caplog: pytest.LogCaptureFixture
) -> None:
    candles = moment(SYMBOLS, TIMEFRAMES, close_at(6), 360.0)
    assert len(await manager.evaluate(candles)) == 20
    with caplog.at_level("WARNING", logger="casino.sensors"):
        assert await manager.evaluate(candles) == []
    assert any("not newer than the ones it holds" in r.getMessage() for r in caplog.records)
