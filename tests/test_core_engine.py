"""Engine with a scripted adapter and sensors: warm-up, the seam, one batch per moment, validation, the
timer, the full queue, supervision and a draining stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, cast

import pytest

from core.candles import MINUTE_MS, CandleAggregator, interval_ms
from core.clock import ManualClock
from core.config_engine import EngineSettings
from core.engine import Engine, EngineError
from core.events import StreamGap
from core.types import Candle, MarkPrice, Signal, Trade
from exchanges.adapter import ExchangeAdapter
from tests.helpers import eventually

T0 = 1_767_225_600_000
SYMBOLS = ("BTCUSDT", "ETHUSDT")
NOW = T0 + 30 * MINUTE_MS + 25_000  # 25 s into minute 30


def make_trades(symbol: str, start: int, end: int, first_id: int = 1, every: int = 7_000) -> list[Trade]:
    base = 100 if symbol == "BTCUSDT" else 10
    return [
        Trade(
            symbol=symbol,
            trade_id=first_id + i,
            price=Decimal(base + (i % 9)),
            qty=Decimal("0.5"),
            is_buyer_maker=i % 3 == 0,
            ts=ts,
        )
        for i, ts in enumerate(range(start, end, every))
    ]


class FakeStream:
    def __init__(self, on_event: Callable[[Any], None], on_gap: Callable[[StreamGap], None] | None) -> None:
        self.on_event = on_event
        self.on_gap = on_gap
        self.subscribed: list[tuple[tuple[str, ...], dict[str, Any]]] = []
        self.started = False
        self.stopped = False

    def subscribe(self, symbols: Sequence[str], **kw: Any) -> None:
        self.subscribed.append((tuple(symbols), kw))

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.stopped = True


class FakeAdapter:
    """The venue's history is the trades before ``clock.now_ms()``; klines are their aggregation."""

    def __init__(self, trades: dict[str, list[Trade]], clock: ManualClock) -> None:
        self.trades = trades
        self.clock = clock
        self.stream: FakeStream | None = None
        self.kline_calls: list[tuple[str, str, int]] = []

    async def klines(self, symbol: str, interval: str, *, limit: int = 500, **_: Any) -> list[Candle]:
        self.kline_calls.append((symbol, interval, limit))
        now = self.clock.now_ms()
        agg = CandleAggregator([interval])
        closed: list[Candle] = []
        for t in self.trades[symbol]:
            if t.ts < now:
                closed += agg.on_trade(t)
        closed += agg.advance(now)
        current = agg.open_candle(symbol, interval)
        out = closed + ([current] if current is not None else [])
        return out[-limit:]

    async def agg_trades(
        self,
        symbol: str,
        *,
        from_id: int | None = None,
        start_time: int | None = None,
        limit: int = 1000,
        **_: Any,
    ) -> list[Trade]:
        now = self.clock.now_ms()
        rows = [t for t in self.trades[symbol] if t.ts <= now]
        if from_id is not None:
            rows = [t for t in rows if t.trade_id >= from_id]
        elif start_time is not None:
            rows = [t for t in rows if t.ts >= start_time]
        return rows[:limit]

    @property
    def venue(self) -> ExchangeAdapter:
        """This fake, typed as the protocol it stands in for (it implements only what the engine uses)."""
        return cast(ExchangeAdapter, self)

    def market_stream(self, on_event: Callable[[Any], None], *, on_gap: Any = None) -> FakeStream:
        self.stream = FakeStream(on_event, on_gap)
        return self.stream


class FakeSensors:
    def __init__(self) -> None:
        self.started = self.stopped = False
        self.warm: list[Candle] = []
        self.batches: list[list[Candle]] = []
        self.gate: asyncio.Event | None = None
        self.fail_next = False

    async def start(self) -> None:
        self.started = True

    async def warm_up(self, candles: Sequence[Candle]) -> None:
        self.warm += candles

    async def evaluate(self, candles: Sequence[Candle]) -> list[Signal]:
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("worker lost")
        self.batches.append(list(candles))
        return [
            Signal(
                sensor_id="up",
                symbol=c.symbol,
                timeframe=c.interval,
                direction=1,
                strength=0.5,
                ts=c.close_time,
            )
            for c in candles
        ]

    async def stop(self) -> None:
        self.stopped = True


class Rig:
    def __init__(self, *, warmup_bars: int = 5, **engine_kw: Any) -> None:
        self.clock = ManualClock(NOW)
        self.trades = {
            s: make_trades(s, T0, T0 + 60 * MINUTE_MS, every=7_000 if s == "BTCUSDT" else 11_000)
            for s in SYMBOLS
        }
        self.adapter = FakeAdapter(self.trades, self.clock)
        self.sensors = FakeSensors()
        self.signals: list[Signal] = []
        settings = EngineSettings(timeframes=("1m", "5m"), stale_after_s=120, warmup_bars=warmup_bars)
        kw: dict[str, Any] = {"tick_s": 0.01, "ready_timeout_s": 0.2} | engine_kw
        self.engine = Engine(
            settings,
            SYMBOLS,
            self.adapter.venue,
            self.sensors,
            self.clock,
            on_signals=self.signals.extend,
            **kw,
        )

    @property
    def stream(self) -> FakeStream:
        assert self.adapter.stream is not None
        return self.adapter.stream

    async def start(self) -> None:
        task = asyncio.create_task(self.engine.start())
        # The stream is "connected": it delivers the trades of the seconds before start (already in REST).
        await eventually(lambda: self.adapter.stream is not None and self.stream.started, message="stream")
        for s in SYMBOLS:
            for t in self.trades[s]:
                if NOW - 10_000 <= t.ts <= NOW:
                    self.stream.on_event(t)
        await task

    def play(self, until: int) -> None:
        """Deliver every trade in (clock, until] on the stream, moving the clock with them."""
        start = self.clock.now_ms()
        events = sorted(
            (t for s in SYMBOLS for t in self.trades[s] if start < t.ts <= until), key=lambda t: t.ts
        )
        for t in events:
            self.clock.set(t.ts)
            self.stream.on_event(t)
        self.clock.set(until)

    def reference(self) -> list[Candle]:
        out: list[Candle] = []
        for s in SYMBOLS:
            agg = CandleAggregator(["1m", "5m"])
            for t in self.trades[s]:
                out += agg.on_trade(t)
        return out


async def test_warm_up_seam_and_one_batch_per_moment() -> None:
    rig = Rig()
    await rig.start()
    engine = rig.engine
    assert rig.sensors.started
    assert rig.stream.subscribed == [(SYMBOLS, {"agg_trades": True, "mark_price": True})]
    # Warm-up: 5 closed candles per symbol and timeframe, the newest closed at "now".
    for s in SYMBOLS:
        ones = [c for c in rig.sensors.warm if c.symbol == s and c.interval == "1m"]
        fives = [c for c in rig.sensors.warm if c.symbol == s and c.interval == "5m"]
        assert [c.open_time for c in ones] == [T0 + k * MINUTE_MS for k in range(25, 30)]
        assert [c.open_time for c in fives] == [T0 + k * 5 * MINUTE_MS for k in range(1, 6)]
        assert all(c.closed for c in ones + fives)
    assert ("BTCUSDT", "1m", 11) in rig.adapter.kline_calls  # two 5m periods of minutes + 1
    rig.play(T0 + 37 * MINUTE_MS)
    reference = {(c.symbol, c.interval, c.open_time): c for c in rig.reference()}
    await eventually(lambda: len(rig.sensors.batches) == 6, message="6 moments")
    for k, batch in enumerate(rig.sensors.batches):
        moment = T0 + (30 + k + 1) * MINUTE_MS - 1
        assert {c.close_time for c in batch} == {moment}  # one call per moment, both symbols in it
        expected = [(s, "1m") for s in SYMBOLS] + ([(s, "5m") for s in SYMBOLS] if k == 4 else [])
        assert [(c.symbol, c.interval) for c in batch] == expected
        for c in batch:  # the seam minute (30) and the 5m period it is in are exact
            assert c == reference[(c.symbol, c.interval, c.open_time)]
    stats = engine.stats()
    assert stats.seam_overlap > 0 and stats.rejected == {} and stats.candles_closed == {"1m": 12, "5m": 2}
    assert len(rig.signals) == 14 and stats.signals == 14 and stats.evaluate_p50_ms is not None
    latest = engine.latest_signals()
    assert latest[("up", "ETHUSDT", "5m")].ts == T0 + 35 * MINUTE_MS - 1
    assert stats.last_signal_ts == T0 + 36 * MINUTE_MS - 1
    await engine.stop()
    assert rig.stream.stopped and rig.sensors.stopped and engine.failure is None
    await engine.join()


async def test_invalid_late_and_stale_events_never_reach_the_sensors() -> None:
    rig = Rig()
    await rig.start()
    rig.clock.set(NOW + 1)
    nan = Trade(
        symbol="BTCUSDT", trade_id=10_000, price=Decimal("NaN"), qty=Decimal(1), is_buyer_maker=False, ts=NOW
    )
    late = Trade(
        symbol="ETHUSDT",
        trade_id=10_001,
        price=Decimal(999),
        qty=Decimal(1),
        is_buyer_maker=False,
        ts=NOW - 60_000,
    )
    older = Trade(
        symbol="ETHUSDT",
        trade_id=10_002,
        price=Decimal(999),
        qty=Decimal(1),
        is_buyer_maker=False,
        ts=NOW - 24_000,
    )

    def mark(price: int, ts: int) -> MarkPrice:
        return MarkPrice(
            symbol="BTCUSDT", mark_price=Decimal(price), index_price=Decimal(100), funding_rate=Decimal(0),
            next_funding_time=0, ts=ts,
        )  # fmt: skip

    for event in (nan, late, older, mark(-1, NOW), mark(101, NOW + 1)):
        rig.stream.on_event(event)
    await eventually(lambda: rig.engine.mark_price("BTCUSDT") == mark(101, NOW + 1), message="mark")
    assert rig.engine.stats().rejected == {"not_finite": 1, "late": 1, "out_of_order": 1, "non_positive": 1}
    assert rig.engine.validator.counts()[("late", "ETHUSDT")] == 1
    rig.play(T0 + 32 * MINUTE_MS)
    await eventually(lambda: len(rig.sensors.batches) == 1, message="first moment")
    assert all(c.high < 200 for b in rig.sensors.batches for c in b)
    rig.clock.set(T0 + 40 * MINUTE_MS)
    rig.stream.on_event(mark(102, T0 + 37 * MINUTE_MS))  # received 3 minutes after its time
    await eventually(lambda: rig.engine.stats().rejected.get("stale") == 1, message="stale mark")
    assert rig.engine.mark_price("BTCUSDT") == mark(101, NOW + 1)
    await rig.engine.stop()


async def test_quiet_minutes_close_on_the_timer_after_the_grace() -> None:
    rig = Rig()
    await rig.start()
    rig.clock.set(T0 + 31 * MINUTE_MS + 500)  # minute 30 ended, but within the grace (1 s)
    await asyncio.sleep(0.05)
    assert rig.sensors.batches == []
    rig.clock.set(T0 + 33 * MINUTE_MS + 1000)  # no trades at all: minutes 30, 31, 32 close on time alone
    await eventually(lambda: len(rig.sensors.batches) == 3, message="three quiet moments")
    last = rig.sensors.batches[-1]
    assert all(c.volume == 0 and c.open == c.close for c in last)
    await rig.engine.stop()


async def test_a_full_queue_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    rig = Rig(queue_size=5)
    await rig.start()
    rig.sensors.gate = asyncio.Event()  # the sensors stall: the consumer stops reading
    rig.play(T0 + 40 * MINUTE_MS)
    await eventually(lambda: rig.engine.stats().queue_full > 0, message="queue full")
    assert any("queue full" in r.getMessage() for r in caplog.records)
    rig.sensors.gate.set()
    await rig.engine.stop()


async def test_a_lost_batch_is_counted_and_the_next_moment_goes_on() -> None:
    rig = Rig()
    await rig.start()
    rig.sensors.fail_next = True
    rig.play(T0 + 34 * MINUTE_MS + 1)
    await eventually(lambda: len(rig.sensors.batches) == 2, message="later moments")
    assert rig.engine.stats().evaluate_errors == 1 and rig.engine.failure is None
    await rig.engine.stop()


async def test_a_crashed_task_surfaces_as_the_failure() -> None:
    rig = Rig()
    await rig.start()

    def broken(trade: Trade) -> list[Candle]:
        raise RuntimeError("aggregator bug")

    rig.engine.aggregator.on_trade = broken  # type: ignore[method-assign]
    rig.play(T0 + 31 * MINUTE_MS)
    await eventually(lambda: rig.engine.failure is not None, message="failure")
    with pytest.raises(EngineError, match="aggregator bug"):
        await rig.engine.join()
    await rig.engine.stop()
    assert rig.sensors.stopped


async def test_stop_evaluates_every_closed_moment_still_pending() -> None:
    rig = Rig(close_grace_s=3600.0)  # the timer never closes anything here
    await rig.start()
    # Only BTC trades into minute 31: the moment is complete for BTC, still open for ETH.
    for t in rig.trades["BTCUSDT"]:
        if NOW < t.ts <= T0 + 31 * MINUTE_MS + 5_000:
            rig.clock.set(t.ts)
            rig.stream.on_event(t)
    await eventually(lambda: rig.engine.stats().candles_closed.get("1m") == 1, message="BTC minute closed")
    assert rig.sensors.batches == []  # waiting for ETH to reach the same moment
    await rig.engine.stop()
    assert [[(c.symbol, c.open_time) for c in b] for b in rig.sensors.batches] == [
        [("BTCUSDT", T0 + 30 * MINUTE_MS)]
    ]


def test_settings_are_checked() -> None:
    clock = ManualClock(NOW)
    with pytest.raises(ValueError, match="at least one symbol"):
        Engine(EngineSettings(), (), FakeAdapter({}, clock).venue, FakeSensors(), clock)
    assert interval_ms("5m") == 5 * MINUTE_MS


async def test_a_stuck_consumer_is_cancelled_after_the_drain_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rig = Rig(drain_timeout_s=0.1)
    await rig.start()
    rig.sensors.gate = asyncio.Event()  # never set: the evaluation in flight never returns
    rig.play(T0 + 32 * MINUTE_MS)
    await eventually(lambda: rig.engine.stats().batches == 1, message="evaluation in flight")
    await rig.engine.stop()
    assert rig.sensors.stopped and rig.engine.failure is None
    assert any("did not drain" in r.getMessage() for r in caplog.records)
