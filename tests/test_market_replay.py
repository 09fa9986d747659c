"""MarketReplay in kline mode: re-stamping, streaming vs history, ordering, loops, marks, determinism."""

from __future__ import annotations

import itertools
import time
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from core.clock import ManualClock
from core.types import BookTicker, MarkPrice, Trade
from exchanges.sandbox.market.klines import MarketDataError
from exchanges.sandbox.market.marks import FUNDING_INTERVAL_MS
from exchanges.sandbox.market.replay import FundingSettlement, MarketEvent, MarketReplay, SymbolNotServedError
from tests.market_support import MINUTE, NOW0, instruments, kline_text, random_bars, write_klines

DATA_T0 = 1_746_372_780_000  # 2025-05-04 15:33 UTC
N_BARS = 180
HISTORY_DAYS = 1 / 24  # at least one hour of history before now
DAY = 1440 * MINUTE


def aligned_start(now: int, history_min: int, first_open: int, period: int) -> int:
    """The latest minute ``history_min`` or more before now's, in the data's phase modulo ``period``."""
    t = now // MINUTE * MINUTE - history_min * MINUTE
    while (t - first_open) % period:
        t -= MINUTE
    return t


# A 3-hour file keeps its phase modulo 2 hours (the longest nested kline period it covers).
T0 = aligned_start(NOW0, 60, DATA_T0, 120 * MINUTE)
HISTORY_MIN = (NOW0 // MINUTE * MINUTE - T0) // MINUTE
BTC_BARS = random_bars(N_BARS, seed=11, start=60_000.0)
ETH_BARS = random_bars(N_BARS, seed=12, start=2_500.0, tick=0.1)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("klines")
    write_klines(folder / "BTCUSDT-PERP-1m-test.csv.gz", kline_text(BTC_BARS, DATA_T0))
    write_klines(folder / "ETHUSDT-1m-2025-05.zip", kline_text(ETH_BARS, DATA_T0, columns=12, header=False))
    return folder


def make(
    data_dir: Path, *, seed: int = 5, now: int = NOW0, symbols: tuple[str, ...] = ("BTCUSDT", "ETHUSDT")
) -> tuple[ManualClock, MarketReplay]:
    clock = ManualClock(now)
    market = MarketReplay(
        instruments(*symbols), clock, data_paths=[data_dir], seed=seed, history_days=HISTORY_DAYS
    )
    return clock, market


def step(clock: ManualClock, market: MarketReplay, total_ms: int, step_ms: int) -> list[MarketEvent]:
    out: list[MarketEvent] = []
    end = clock.now_ms() + total_ms
    while clock.now_ms() < end:
        clock.set(min(end, clock.now_ms() + step_ms))
        out.extend(market.events_until(clock.now_ms()))
    return out


def trades_of(events: list[MarketEvent], symbol: str) -> list[Trade]:
    return [e for e in events if isinstance(e, Trade) and e.symbol == symbol]


def test_history_klines_are_the_file_bars_restamped(data_dir: Path) -> None:
    _, market = make(data_dir)
    assert market.mode == "klines" and market.symbols == ("BTCUSDT", "ETHUSDT")
    anchor = NOW0 // MINUTE * MINUTE
    assert 60 <= HISTORY_MIN < 60 + 120 and (T0 - DATA_T0) % (120 * MINUTE) == 0
    candles = market.history_klines("BTCUSDT", "1m", start_time=None, end_time=None, limit=1500)
    assert len(candles) == HISTORY_MIN + 1  # the history plus the current, open minute
    assert candles[0].open_time == T0
    assert candles[-1].open_time == anchor and not candles[-1].closed
    for candle, bar in zip(candles[:-1], BTC_BARS, strict=False):
        assert candle.closed
        expected = [Decimal(f"{x:.1f}") for x in bar[:4]]
        assert [candle.open, candle.high, candle.low, candle.close] == expected
        assert candle.volume == Decimal(f"{bar[4]:.3f}")
    hourly = market.history_klines("BTCUSDT", "1h", start_time=None, end_time=None, limit=10)
    assert hourly[0].high == max(c.high for c in candles if c.open_time < hourly[0].close_time)
    # Nothing before the data: a window entirely before the first minute is empty.
    assert market.history_klines("BTCUSDT", "1m", start_time=0, end_time=MINUTE, limit=10) == []


def test_streamed_trades_equal_history_and_ids_are_contiguous(data_dir: Path) -> None:
    clock, market = make(data_dir)
    before = market.history_agg_trades("BTCUSDT", from_id=None, start_time=None, end_time=None, limit=50)
    events = step(clock, market, 5 * MINUTE, 730)
    streamed = trades_of(events, "BTCUSDT")
    assert len(streamed) > 100
    ids = [t.trade_id for t in before + streamed]
    assert ids == list(range(ids[0], ids[0] + len(ids))), "aggTrade ids must be contiguous"
    served = market.history_agg_trades(
        "BTCUSDT", from_id=streamed[0].trade_id, start_time=None, end_time=None, limit=1000
    )
    assert served == streamed
    window = market.history_agg_trades(
        "BTCUSDT", from_id=None, start_time=streamed[10].ts, end_time=streamed[20].ts, limit=1000
    )
    assert window[0].ts >= streamed[10].ts and window[-1].ts == streamed[20].ts
    assert set(t.trade_id for t in window) >= {t.trade_id for t in streamed[10:21] if t.ts > streamed[10].ts}
    last = market.history_agg_trades("BTCUSDT", from_id=None, start_time=None, end_time=None, limit=3)
    assert last == streamed[-3:]


def test_streamed_minutes_reproduce_their_bars(data_dir: Path) -> None:
    clock, market = make(data_dir)
    events = step(clock, market, 4 * MINUTE, 1000)
    anchor = NOW0 // MINUTE * MINUTE
    for k in (1, 2, 3):  # minutes fully streamed after now
        start = anchor + k * MINUTE
        minute = [t for t in trades_of(events, "BTCUSDT") if start <= t.ts < start + MINUTE]
        o, h, lo, c, v = BTC_BARS[HISTORY_MIN + k]
        if v == 0:
            assert minute == []
            continue
        prices = [t.price for t in minute]
        assert prices[0] == Decimal(f"{o:.1f}") and prices[-1] == Decimal(f"{c:.1f}")
        assert max(prices) == Decimal(f"{h:.1f}") and min(prices) == Decimal(f"{lo:.1f}")
        assert sum(t.qty for t in minute) == Decimal(f"{v:.3f}")
        candle = market.history_klines("BTCUSDT", "1m", start_time=start, end_time=start, limit=1)[0]
        assert (candle.open, candle.close, candle.volume, candle.trades) == (
            prices[0],
            prices[-1],
            sum(t.qty for t in minute),
            len(minute),
        )


def test_events_are_ordered_windowed_and_consistent(data_dir: Path) -> None:
    clock, market = make(data_dir)
    last = clock.now_ms()
    marks: dict[str, list[int]] = {"BTCUSDT": [], "ETHUSDT": []}
    for delta in (1, 999, 250, 3000, 17, 60_000, 4321):
        events = market.events_until(clock.advance(delta))
        stamps = [e.ts for e in events]
        assert stamps == sorted(stamps)
        assert all(last < ts <= clock.now_ms() for ts in stamps)
        last = clock.now_ms()
        previous: dict[str, Trade] = {}
        for event in events:
            if isinstance(event, Trade):
                previous[event.symbol] = event
            elif isinstance(event, BookTicker):
                trade = previous[event.symbol]
                assert event.bid_price < event.ask_price and event.ts == trade.ts
                # A buyer-taker trade prints at the ask; a seller-taker trade at the bid.
                touch = event.bid_price if trade.is_buyer_maker else event.ask_price
                assert touch == trade.price
            elif isinstance(event, MarkPrice):
                marks[event.symbol].append(event.ts)
    for stamps in marks.values():
        assert stamps == list(range(stamps[0], stamps[-1] + 1, 1000))
        assert stamps[0] == (NOW0 // 1000 + 1) * 1000
    assert market.events_until(clock.now_ms()) == []


def test_same_inputs_same_events_whatever_the_batching(data_dir: Path) -> None:
    clock_a, a = make(data_dir)
    clock_b, b = make(data_dir)
    clock_c, c = make(data_dir, seed=6)
    events_a = step(clock_a, a, 3 * MINUTE, 1000)
    events_b = step(clock_b, b, 3 * MINUTE, 7_777)
    events_c = step(clock_c, c, 3 * MINUTE, 1000)
    assert msgspec.json.encode(events_a) == msgspec.json.encode(events_b)
    assert msgspec.json.encode(trades_of(events_a, "BTCUSDT")) != msgspec.json.encode(
        trades_of(events_c, "BTCUSDT")
    )


def test_data_loops_with_continuous_prices_and_ids(data_dir: Path) -> None:
    clock, market = make(data_dir)
    # N_BARS - HISTORY_MIN minutes of data remain after now; play 150 so the replay wraps around.
    remaining = N_BARS - HISTORY_MIN
    assert 0 < remaining < 150
    step(clock, market, 150 * MINUTE, 60_000)
    candles = market.history_klines("BTCUSDT", "1m", start_time=None, end_time=None, limit=1500)
    boundary = NOW0 // MINUTE * MINUTE + remaining * MINUTE
    k = next(i for i, c in enumerate(candles) if c.open_time == boundary)
    first_open = Decimal(f"{BTC_BARS[0][0]:.1f}")
    assert candles[k].open == candles[k - 1].close  # continuous across the loop
    assert candles[k].open != first_open or candles[k - 1].close == first_open
    scale = candles[k].open / first_open
    expected_high = Decimal(f"{BTC_BARS[0][1]:.1f}") * scale
    assert abs(candles[k].high - expected_high) <= Decimal("0.1")
    trades = market.history_agg_trades(
        "BTCUSDT", from_id=None, start_time=boundary - 30_000, end_time=boundary + 30_000, limit=1000
    )
    ids = [t.trade_id for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))


def test_marks_and_funding(data_dir: Path) -> None:
    clock, market = make(data_dir, symbols=("BTCUSDT",))
    funding_at = (NOW0 // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS
    events = step(clock, market, funding_at + 5_000 - NOW0, 600_000)
    settlements = [e for e in events if isinstance(e, FundingSettlement)]
    assert [(s.symbol, s.ts) for s in settlements] == [("BTCUSDT", funding_at)]
    assert abs(settlements[0].rate) <= Decimal("0.003")
    marks = [e for e in events if isinstance(e, MarkPrice)]
    assert all(m.next_funding_time == funding_at for m in marks if m.ts < funding_at)
    assert marks[-1].next_funding_time == funding_at + FUNDING_INTERVAL_MS
    for mark in marks[::600]:
        last = market.price_at("BTCUSDT", mark.ts)
        assert abs(mark.mark_price / last - 1) < Decimal("0.005")
        assert abs(mark.index_price / last - 1) < Decimal("0.005")
        assert abs(mark.funding_rate) <= Decimal("0.003")
    # The settlement comes before the mark of the same second.
    at = [e for e in events if e.ts == funding_at and not isinstance(e, Trade | BookTicker)]
    assert isinstance(at[0], FundingSettlement) and isinstance(at[1], MarkPrice)


def test_current_kline_follows_the_stream(data_dir: Path) -> None:
    clock, market = make(data_dir)
    events = step(clock, market, 45_000, 1000)
    now = clock.now_ms()
    candle = market.current_kline("BTCUSDT", "1m", now)
    minute = [t for t in trades_of(events, "BTCUSDT") if t.ts >= candle.open_time]
    assert not candle.closed and candle.open_time <= now <= candle.close_time
    if minute:
        assert candle.close == minute[-1].price and candle.volume == sum(t.qty for t in minute)
        assert candle.high == max(t.price for t in minute) and candle.trades == len(minute)
    final = market.current_kline("BTCUSDT", "1m", candle.close_time)
    assert final.closed
    assert market.price_at("BTCUSDT", now) == (minute[-1].price if minute else candle.close)


def test_unserved_symbols_and_bad_paths(data_dir: Path, tmp_path: Path) -> None:
    clock, market = make(data_dir, symbols=("BTCUSDT", "SOLUSDT"))
    assert market.symbols == ("BTCUSDT",)
    text = market.describe()
    assert (
        "klines" in text and "BTCUSDT-PERP-1m-test.csv.gz" in text and "not served (no data): SOLUSDT" in text
    )
    assert market.history_klines("SOLUSDT", "1m", start_time=None, end_time=None, limit=5) == []
    with pytest.raises(SymbolNotServedError):
        market.price_at("SOLUSDT", NOW0)
    assert market.profile("SOLUSDT").spread_ticks >= 1
    with pytest.raises(MarketDataError, match="no kline or tick files"):
        MarketReplay(instruments("BTCUSDT"), clock, data_paths=[tmp_path])


def test_event_generation_speed(data_dir: Path) -> None:
    """At --speed 60 a 1-second step covers a minute of data: generation must stay far ahead of that."""
    clock, market = make(data_dir)
    start = time.perf_counter()
    events = step(clock, market, 30 * MINUTE, 60_000)
    elapsed = time.perf_counter() - start
    rate = len(events) / elapsed
    print(f"kline replay: {len(events)} events (30 min, 2 symbols) in {elapsed * 1000:.0f} ms, {rate:,.0f}/s")
    assert elapsed < 30 * 60 / 60 / 10, "must run at least 10x faster than --speed 60 needs"


def test_a_single_bar_file_loops_every_minute(tmp_path: Path) -> None:
    write_klines(tmp_path / "BTCUSDT-1m-one.csv", kline_text([(100.0, 101.0, 99.0, 100.5, 3.0)], DATA_T0))
    clock = ManualClock(NOW0)
    market = MarketReplay(instruments("BTCUSDT"), clock, data_paths=[tmp_path], history_days=0)
    events = step(clock, market, 10 * MINUTE, 5_000)
    trades = trades_of(events, "BTCUSDT")
    ids = [t.trade_id for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    candles = market.history_klines("BTCUSDT", "1m", start_time=None, end_time=None, limit=20)
    assert len(candles) == 11
    for previous, candle in itertools.pairwise(candles[:-1]):
        assert candle.open == previous.close and candle.volume == Decimal("3.000")
    assert candles[-2].close > Decimal("104")  # each loop continues 0.5 % higher
