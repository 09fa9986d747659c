"""SensorManager under faults: failing sensors, failed start, poison and hanging batches, clean shutdown."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os

import pytest

from core.clock import ManualClock
from core.config_engine import SensorSettings
from sensors.manager import BatchLostError, SensorManager, SensorManagerError, WorkerStartError
from tests.sensor_manager_support import (
    CRASH_PRICE,
    HANG_PRICE,
    T0,
    TIMEFRAME_MS,
    fails_in_worker,
    faulty_sensors,
    hostile_sensors,
    moment,
    series,
    tiny_sensors,
)

SYMBOLS = ["BTCUSDT", "ETHUSDT"]
TIMEFRAMES = ["5m"]


def close_at(k: int) -> int:
    return T0 - 1 + k * TIMEFRAME_MS["5m"]


def pool(factory, **options) -> SensorManager:
    return SensorManager(
        SensorSettings(workers=1), timeframes=TIMEFRAMES, clock=ManualClock(T0), factory=factory, **options
    )


def assert_reaped(pids: list[int | None]) -> None:
    for pid in pids:
        assert pid is not None
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("casino-sensors-")]


async def test_failing_sensors_are_counted_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    manager = pool(faulty_sensors)
    await manager.start()
    try:
        await manager.warm_up(series(SYMBOLS, TIMEFRAMES, bars=6))
        with caplog.at_level(logging.WARNING, logger="casino.sensors"):
            for k in (1, 2):
                signals = await manager.evaluate(moment(SYMBOLS, TIMEFRAMES, close_at(k), 200.0 + k))
                assert {(s.sensor_id, s.symbol) for s in signals} == {
                    (sensor, symbol) for sensor in ("change", "window") for symbol in SYMBOLS
                }
        assert manager.stats().sensor_failures == {"raises": 4, "out_of_bounds": 4}
        assert manager.restarts == 0
        logged = [r.getMessage() for r in caplog.records if "failed on" in r.getMessage()]
        assert len(logged) == 2  # the first failure of each sensor; the rest are counted
        assert any("sensor raises failed on BTCUSDT 5m" in m and "ZeroDivisionError" in m for m in logged)
    finally:
        await manager.stop()


async def test_a_worker_that_cannot_build_its_sensors_fails_start() -> None:
    manager = pool(fails_in_worker)
    with pytest.raises(WorkerStartError, match="could not build its sensors: ValueError: sensor 'nope'"):
        await manager.start()
    assert not [p for p in multiprocessing.active_children() if p.name.startswith("casino-sensors-")]
    with pytest.raises(SensorManagerError, match="call start"):
        await manager.evaluate([])


async def test_poison_and_hanging_batches_are_bounded_and_the_pool_recovers() -> None:
    manager = pool(hostile_sensors, batch_timeout_s=1.0, max_attempts=2)
    await manager.start()
    try:
        await manager.warm_up(series(SYMBOLS, TIMEFRAMES, bars=3))
        with pytest.raises(BatchLostError, match="lost with sensor worker 0 2 times"):
            await manager.evaluate(moment(SYMBOLS, TIMEFRAMES, close_at(1), CRASH_PRICE))
        assert manager.restarts == 2
        with pytest.raises(BatchLostError, match="lost with sensor worker 0 2 times"):
            await manager.evaluate(moment(SYMBOLS, TIMEFRAMES, close_at(1), HANG_PRICE))  # killed on timeout
        assert manager.restarts == 4
        signals = await manager.evaluate(moment(SYMBOLS, TIMEFRAMES, close_at(1), 150.0))
        assert {(s.sensor_id, s.symbol) for s in signals} == {
            (sensor, symbol) for sensor in ("change", "hostile") for symbol in SYMBOLS
        }
    finally:
        await manager.stop()


async def test_stop_answers_the_batch_in_flight_and_reaps_every_worker() -> None:
    manager = SensorManager(
        SensorSettings(workers=2), timeframes=TIMEFRAMES, clock=ManualClock(T0), factory=tiny_sensors
    )
    await manager.start()
    await manager.warm_up(series(SYMBOLS, TIMEFRAMES, bars=4))
    pids = manager.pids()
    in_flight = asyncio.create_task(manager.evaluate(moment(SYMBOLS, TIMEFRAMES, close_at(1), 300.0)))
    await asyncio.sleep(0)  # the batch is sent before stop() is called
    await manager.stop()
    signals = await in_flight
    assert {(s.sensor_id, s.symbol) for s in signals} == {
        (sensor, symbol) for sensor in ("change", "window") for symbol in SYMBOLS
    }
    assert_reaped(pids)
    with pytest.raises(SensorManagerError, match="not running"):
        await manager.evaluate(moment(SYMBOLS, TIMEFRAMES, close_at(2), 1.0))
    await manager.stop()  # idempotent
