"""Engine start-up helpers: request sizes, what counts as delivered, paging the current minute's trades,
waiting for the stream, and a start that fails leaving nothing running."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from core.candles import MINUTE_MS
from core.clock import ManualClock
from core.config_engine import EngineSettings
from core.engine_warmup import AGG_TRADES_PAGE, History, fetch_minute_trades, minute_limit, wait_for_symbols
from tests.test_core_engine import NOW, SYMBOLS, T0, FakeAdapter, Rig, make_trades


def test_minute_limit_covers_two_periods_of_the_longest_timeframe_within_a_page() -> None:
    assert minute_limit(["1m", "5m"], 5) == 11
    assert minute_limit(["1m", "4h"], 300) == 481
    assert minute_limit(["1m"], 300) == 301
    assert minute_limit(["1d"], 10) == 1500


def test_history_knows_the_current_minute_and_what_was_delivered() -> None:
    clock_adapter = FakeAdapter({"BTCUSDT": make_trades("BTCUSDT", T0, NOW + 1)}, _clock())
    minutes = asyncio.run(clock_adapter.klines("BTCUSDT", "1m", limit=11))
    fives = asyncio.run(clock_adapter.klines("BTCUSDT", "5m", limit=3))
    history = History(
        symbol="BTCUSDT",
        minutes=tuple(minutes),
        minutes_truncated=True,
        by_timeframe={"1m": tuple(minutes[:-1][-2:]), "5m": tuple(c for c in fives if c.closed), "15m": ()},
    )
    assert not minutes[-1].closed and history.current_minute() == T0 + 30 * MINUTE_MS
    assert history.delivered() == {
        "1m": T0 + 29 * MINUTE_MS,
        "5m": T0 + 25 * MINUTE_MS,
        "15m": T0 + 15 * MINUTE_MS,  # nothing fetched: up to the period before the current one
    }
    empty = History(symbol="X", minutes=(), minutes_truncated=False, by_timeframe={"5m": ()})
    assert empty.current_minute() is None and empty.delivered() == {}


def _clock() -> ManualClock:
    return ManualClock(NOW)


async def test_the_current_minute_is_paged_up_to_the_stream_or_to_now() -> None:
    busy = make_trades("BTCUSDT", T0 + 30 * MINUTE_MS, NOW + 1, first_id=5_000, every=10)  # 2501 trades
    adapter = FakeAdapter(
        {"BTCUSDT": make_trades("BTCUSDT", T0, T0 + 30 * MINUTE_MS, every=7_000) + busy}, _clock()
    )
    everything = await fetch_minute_trades(adapter.venue, "BTCUSDT", T0 + 30 * MINUTE_MS)
    assert everything == busy and len(everything) > 2 * AGG_TRADES_PAGE
    until = busy[1200].trade_id  # the stream's first trade: paging stops once the overlap is reached
    upto = await fetch_minute_trades(adapter.venue, "BTCUSDT", T0 + 30 * MINUTE_MS, until_id=until)
    assert upto == busy[:2000] and upto[-1].trade_id >= until - 1


async def test_waiting_for_the_stream() -> None:
    heard: set[str] = set()
    assert not await wait_for_symbols(heard, SYMBOLS, 0.05)
    asyncio.get_running_loop().call_later(0.02, heard.update, SYMBOLS)
    assert await wait_for_symbols(heard, SYMBOLS, 5.0)


async def test_a_failed_start_stops_the_stream_and_the_sensors() -> None:
    rig = Rig()

    async def broken(*args: Any, **kw: Any) -> list[Any]:
        raise ConnectionError("venue down")

    rig.adapter.klines = broken  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await rig.engine.start()
    assert rig.stream.stopped and rig.sensors.stopped and not rig.engine.running


def test_engine_settings_defaults_are_usable() -> None:
    assert minute_limit(EngineSettings().timeframes, EngineSettings().warmup_bars) == 481
