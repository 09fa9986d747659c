"""Kline replay keeps the data's time of day: higher-timeframe candles group the same real minutes."""

from __future__ import annotations

import csv
import gzip
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.clock import ManualClock
from core.types import Candle
from exchanges.sandbox.market.replay import MarketReplay
from exchanges.sandbox.market.sources import kline_replay_start
from tests.market_support import (
    MINUTE,
    NOW0,
    instruments,
    kline_text,
    random_bars,
    real_klines_dir,
    write_klines,
)

DAY = 1440 * MINUTE
DATA_T0 = 1_746_372_780_000  # 2025-05-04 15:33 UTC: not on any 5m/1h/4h/1d boundary
N_BARS = 3 * 1440 + 77
BARS = random_bars(N_BARS, seed=21, start=60_000.0)
SIZES = {"5m": 5 * MINUTE, "15m": 15 * MINUTE, "1h": 60 * MINUTE, "4h": 240 * MINUTE, "1d": DAY}
Row = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]


def row(t: int, values: list[Decimal]) -> Row:
    o, h, lo, c, v = values
    return (t, o, h, lo, c, v)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("aligned")
    write_klines(folder / "BTCUSDT-1m-aligned.csv", kline_text(BARS, DATA_T0))
    return folder


def file_rows(bars: list[tuple[float, ...]], first_open: int) -> list[Row]:
    return [
        row(first_open + i * MINUTE, [*(Decimal(f"{x:.1f}") for x in b[:4]), Decimal(f"{b[4]:.3f}")])
        for i, b in enumerate(bars)
    ]


def aggregate(rows: dict[int, Row], open_ms: int, size: int) -> tuple[Decimal, ...] | None:
    """OHLCV of the file's minutes in ``[open_ms, open_ms + size)``; None if any minute is missing."""
    window = [rows.get(t) for t in range(open_ms, open_ms + size, MINUTE)]
    if any(r is None for r in window):
        return None
    got = [r for r in window if r is not None]
    volume = sum((r[5] for r in got), Decimal(0))
    return (got[0][1], max(r[2] for r in got), min(r[3] for r in got), got[-1][4], volume)


def first_open(market: MarketReplay, symbol: str) -> int:
    return market.history_klines(symbol, "1m", start_time=0, end_time=None, limit=1)[0].open_time


def check_grouping(market: MarketReplay, symbol: str, rows: list[Row], interval: str) -> int:
    """Every closed ``interval`` candle of the history equals the file's minutes of the same real window."""
    shift = first_open(market, symbol) - rows[0][0]
    assert shift % DAY == 0, "the replay must keep the data's time of day"
    by_time = {r[0]: r for r in rows}
    size = SIZES[interval]
    candles: list[Candle] = market.history_klines(
        symbol, interval, start_time=None, end_time=None, limit=1500
    )
    compared = 0
    for c in candles:
        data_open = c.open_time - shift
        if not c.closed or data_open < rows[0][0] or data_open + size > rows[-1][0] + MINUTE:
            continue
        assert data_open % size == 0
        expected = aggregate(by_time, data_open, size)
        if expected is None:
            continue
        assert (c.open, c.high, c.low, c.close, c.volume) == expected, (interval, data_open)
        compared += 1
    return compared


@given(
    anchor=st.integers(1_600_000_000_000, 1_900_000_000_000),
    first=st.integers(1_500_000_000, 1_800_000_000).map(lambda m: m * MINUTE),
    history=st.integers(0, 20_000),
    length=st.integers(1, 100_000),
)
def test_replay_start_keeps_the_phase_and_at_least_the_history(
    anchor: int, first: int, history: int, length: int
) -> None:
    start = kline_replay_start(anchor, first, history, length)
    before_now = (anchor // MINUTE * MINUTE - start) // MINUTE
    k0 = min(history, length - 1)
    # The alignment period: one day, else the longest of the nested periods the file covers.
    period = next(p for p in (1440, 720, 240, 120, 60, 30, 15, 5, 1) if p <= length)
    assert start % MINUTE == 0
    assert (start - first) % (period * MINUTE) == 0
    assert k0 <= before_now < k0 + period
    if length >= 1440:
        assert (start - first) % DAY == 0


def test_higher_timeframes_group_the_same_real_minutes(data_dir: Path) -> None:
    market = MarketReplay(instruments("BTCUSDT"), ManualClock(NOW0), data_paths=[data_dir], history_days=2)
    history = (NOW0 // MINUTE * MINUTE - first_open(market, "BTCUSDT")) // MINUTE
    assert 2 * 1440 <= history < 3 * 1440
    rows = file_rows(BARS, DATA_T0)
    counts = {interval: check_grouping(market, "BTCUSDT", rows, interval) for interval in SIZES}
    assert counts["5m"] > 500 and counts["1h"] > 40 and counts["4h"] > 10 and counts["1d"] >= 1


def test_two_starts_serve_the_same_market(data_dir: Path) -> None:
    """Replays started at different wall times serve identical candles for the same data minutes."""
    later = NOW0 + 5 * 3_600_000 + 17 * MINUTE + 13_000
    a, b = (
        MarketReplay(instruments("BTCUSDT"), ManualClock(now), data_paths=[data_dir], seed=4, history_days=1)
        for now in (NOW0, later)
    )
    shift = first_open(b, "BTCUSDT") - first_open(a, "BTCUSDT")
    assert shift % DAY == 0
    for interval in ("5m", "1h", "4h"):
        served_a = a.history_klines("BTCUSDT", interval, start_time=None, end_time=None, limit=1500)
        served_b = b.history_klines("BTCUSDT", interval, start_time=None, end_time=None, limit=1500)
        by_data_time = {c.open_time - shift: c for c in served_b if c.closed}
        common = [c for c in served_a if c.closed and c.open_time in by_data_time]
        assert len(common) >= 0.9 * len([c for c in served_a if c.closed])
        for c in common:
            other = by_data_time[c.open_time]
            assert (c.open, c.high, c.low, c.close, c.volume, c.trades) == (
                other.open,
                other.high,
                other.low,
                other.close,
                other.volume,
                other.trades,
            )


def test_each_symbol_keeps_its_own_time_of_day(tmp_path: Path) -> None:
    eth_t0 = DATA_T0 + 2 * DAY + 11 * 3_600_000 + 34 * MINUTE  # another day, another time of day
    eth = random_bars(2 * 1440, seed=22, start=2_500.0, tick=0.1)
    write_klines(tmp_path / "BTCUSDT-1m-a.csv", kline_text(BARS, DATA_T0))
    write_klines(tmp_path / "ETHUSDT-1m-b.csv", kline_text(eth, eth_t0))
    market = MarketReplay(
        instruments("BTCUSDT", "ETHUSDT"), ManualClock(NOW0), data_paths=[tmp_path], history_days=0.5
    )
    assert (first_open(market, "BTCUSDT") - DATA_T0) % DAY == 0
    assert (first_open(market, "ETHUSDT") - eth_t0) % DAY == 0
    assert check_grouping(market, "ETHUSDT", file_rows(eth, eth_t0), "1h") > 10


def read_real(path: Path, days: int) -> list[Row]:
    rows: list[Row] = []
    with gzip.open(path, "rt") as f:
        for rec in csv.reader(f):
            if not rec[0].isdigit():
                continue
            t = int(rec[0])
            if rows and t >= rows[0][0] + days * DAY:
                break
            rows.append(row(t, [Decimal(x) for x in rec[1:6]]))
    return rows


def test_real_klines_keep_binance_grouping() -> None:
    folder = real_klines_dir()
    path = next(iter(sorted(folder.glob("BTCUSDT-*1m-*"))), None)
    if path is None or not path.name.endswith(".csv.gz"):
        pytest.skip("no gzip BTCUSDT kline file in the real data")
    market = MarketReplay(instruments("BTCUSDT"), ManualClock(NOW0), data_paths=[path], history_days=2)
    rows = read_real(path, 4)
    for interval in ("5m", "1h", "4h"):
        assert check_grouping(market, "BTCUSDT", rows, interval) > 5
