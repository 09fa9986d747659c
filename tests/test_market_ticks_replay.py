"""MarketReplay in tick mode: real trades and book tickers, re-stamped, looped, klines from trades."""

from __future__ import annotations

import gzip
import itertools
import random
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from core.clock import ManualClock
from core.types import BookTicker, Trade
from exchanges.sandbox.market.replay import MarketEvent, MarketReplay
from tests.market_support import MINUTE, NOW0, instruments, real_data_dir

CAPTURE_T0 = 1_723_161_256_322


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 100 s of BTCUSDT trades (every ~150 ms) and book tickers, drifting upwards."""
    folder = tmp_path_factory.mktemp("ticks")
    rnd = random.Random(9)
    trades = ["local_ts_ns,event_time,trade_time,trade_id,price,qty,is_buyer_maker,exec_type"]
    books = ["local_ts_ns,event_time,transaction_time,update_id,bid_price,bid_qty,ask_price,ask_qty"]
    price, t, tid, uid = 600_000, CAPTURE_T0, 5_266_583_935, 5_123_107_839_020
    while t < CAPTURE_T0 + 100_000:
        t += rnd.randint(1, 300)
        price += rnd.choice((-1, 0, 1, 1))
        buyer_maker = rnd.random() < 0.5
        for _ in range(rnd.randint(1, 3)):
            tid += 1
            qty = rnd.randint(1, 500) / 1000
            trades.append(f"0,{t},{t},{tid},{price / 10:.2f},{qty:.3f},{buyer_maker},MARKET")
        uid += rnd.randint(1, 50)
        bid, ask = (price, price + 1) if buyer_maker else (price - 1, price)
        books.append(f"0,{t},{t},{uid},{bid / 10:.2f},{rnd.randint(1, 9000) / 1000:.3f},{ask / 10:.2f},1.000")
    for name, lines in (("trades", trades), ("bookTicker", books)):
        with gzip.open(folder / f"BTCUSDT-PERP-{name}-20240808.csv.gz", "wt") as out:
            out.write("\n".join(lines) + "\n")
    return folder


def run(
    folder: Path, total_ms: int, step_ms: int, *, seed: int = 0
) -> tuple[MarketReplay, list[MarketEvent]]:
    clock = ManualClock(NOW0)
    market = MarketReplay(instruments("BTCUSDT"), clock, data_paths=[folder], seed=seed)
    events: list[MarketEvent] = []
    while clock.now_ms() < NOW0 + total_ms:
        clock.set(min(NOW0 + total_ms, clock.now_ms() + step_ms))
        events.extend(market.events_until(clock.now_ms()))
    return market, events


def test_tick_replay_streams_loops_and_serves_history(capture: Path) -> None:
    market, events = run(capture, 5 * MINUTE, 1000)
    assert market.mode == "ticks" and "ticks replay of BTCUSDT" in market.describe()
    trades = [e for e in events if isinstance(e, Trade)]
    books = [e for e in events if isinstance(e, BookTicker)]
    assert len(trades) > 1000 and len(books) > 500
    assert [e.ts for e in events] == sorted(e.ts for e in events)
    ids = [t.trade_id for t in trades]
    assert ids == list(range(ids[0], ids[0] + len(ids)))
    raw = [t.first_trade_id for t in trades]
    assert all(t.first_trade_id <= t.last_trade_id for t in trades) and raw == sorted(raw)
    updates = [b.update_id for b in books]
    assert updates == sorted(updates) and all(b.bid_price < b.ask_price for b in books)
    # The capture lasts ~100 s: over 5 minutes it loops, each loop continuing from the last price.
    gaps = [abs(b.price - a.price) for a, b in itertools.pairwise(trades)]
    assert max(gaps) <= Decimal("0.30")
    served = market.history_agg_trades("BTCUSDT", from_id=ids[0], start_time=None, end_time=None, limit=1000)
    assert served == trades[:1000]


def test_tick_klines_are_built_from_the_trades(capture: Path) -> None:
    market, events = run(capture, 4 * MINUTE, 2500)
    by_minute: dict[int, list[Trade]] = defaultdict(list)
    for event in events:
        if isinstance(event, Trade):
            by_minute[event.ts // MINUTE * MINUTE].append(event)
    candles = market.history_klines("BTCUSDT", "1m", start_time=None, end_time=None, limit=500)
    checked = 0
    for candle in candles:
        minute = by_minute.get(candle.open_time)
        if not minute or candle.open_time <= NOW0:  # only minutes streamed from their start
            continue
        prices = [t.price for t in minute]
        assert (candle.open, candle.high, candle.low, candle.close) == (
            prices[0],
            max(prices),
            min(prices),
            prices[-1],
        )
        assert candle.volume == sum(t.qty for t in minute) and candle.trades == len(minute)
        checked += 1
    assert checked >= 2
    current = market.current_kline("BTCUSDT", "5m", NOW0 + 4 * MINUTE)
    assert current.volume > 0 and not current.closed


def test_tick_replay_is_deterministic(capture: Path) -> None:
    _, a = run(capture, 2 * MINUTE, 1000)
    _, b = run(capture, 2 * MINUTE, 3300)
    assert msgspec.json.encode(a) == msgspec.json.encode(b)


def test_real_capture_replays() -> None:
    folder = real_data_dir("ticks")
    clock = ManualClock(NOW0)
    market = MarketReplay(instruments("BTCUSDT", "ETHUSDT"), clock, data_paths=[folder])
    events = market.events_until(clock.advance(30_000))
    btc = [e for e in events if isinstance(e, Trade) and e.symbol == "BTCUSDT"]
    assert len(btc) > 100 and all(Decimal(55_000) < t.price < Decimal(65_000) for t in btc)
    profile = market.profile("BTCUSDT")
    assert profile.spread_ticks == 1 and profile.levels[0][1] > 0
    history = market.history_klines("ETHUSDT", "1m", start_time=None, end_time=None, limit=20)
    closed = [c for c in history if c.closed]
    assert len(closed) >= 6 and all(c.volume > 0 for c in closed)
