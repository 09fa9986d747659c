"""Finding and loading market-data files: kline layouts, gaps, tick captures, real-data speed."""

from __future__ import annotations

import gzip
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from exchanges.sandbox.market.grid import Grid
from exchanges.sandbox.market.klines import MarketDataError, discover, load_klines
from exchanges.sandbox.market.ticks import load_books, load_trades
from tests.market_support import MINUTE, kline_text, random_bars, real_data_dir, real_klines_dir, write_klines

T0 = 1_746_372_780_000


def test_discover_groups_files_by_symbol_and_kind(tmp_path: Path) -> None:
    names = [
        "BTCUSDT-PERP-1m-2025-05-04_2025-06-24.csv.gz",
        "BTCUSDT-1m-2025-05.zip",
        "ETHUSDT-PERP-trades-20240808.csv.gz",
        "ETHUSDT-PERP-bookTicker-20240808.csv.gz",
        "README.md",
        "BTCUSDT-1m-notes.txt",
    ]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    found = discover([tmp_path])
    assert sorted(p.name for p in found.klines["BTCUSDT"]) == sorted(names[:2])
    assert [p.name for p in found.trades["ETHUSDT"]] == [names[2]]
    assert [p.name for p in found.books["ETHUSDT"]] == [names[3]]
    assert sorted(p.name for p in found.ignored) == sorted(names[4:])
    with pytest.raises(MarketDataError, match="does not exist"):
        discover([tmp_path / "missing"])


def test_both_kline_layouts_load_the_same_bars(tmp_path: Path) -> None:
    bars = random_bars(50, seed=3)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    gz = write_klines(tmp_path / "a" / "BTCUSDT-PERP-1m-x.csv.gz", kline_text(bars, T0))
    zipped = write_klines(
        tmp_path / "b" / "BTCUSDT-1m-2025-05.zip", kline_text(bars, T0, columns=12, header=False)
    )
    a = load_klines("BTCUSDT", [gz])
    b = load_klines("BTCUSDT", [zipped])
    assert len(a) == len(b) == 50
    for field in ("open_time", "open", "high", "low", "close", "volume"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert a.open_time[0] == T0 and a.filled_gaps == 0
    assert np.allclose(a.close, [bar[3] for bar in bars])


def test_gaps_are_filled_flat_and_duplicates_merged(tmp_path: Path) -> None:
    bars = random_bars(10, seed=4)
    first = write_klines(tmp_path / "BTCUSDT-1m-a.csv", kline_text(bars[:6], T0))
    # The second file repeats minute 5 and skips minutes 6 and 7.
    text = kline_text([bars[5]], T0 + 5 * MINUTE) + kline_text(bars[8:], T0 + 8 * MINUTE, header=False)
    second = write_klines(tmp_path / "BTCUSDT-1m-b.csv", text)
    k = load_klines("BTCUSDT", [first, second])
    assert len(k) == 10 and k.filled_gaps == 2
    for minute in (6, 7):
        assert k.open[minute] == k.high[minute] == k.low[minute] == k.close[minute] == k.close[5]
        assert k.volume[minute] == 0
    assert k.open_time[-1] == T0 + 9 * MINUTE


def test_bad_files_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "BTCUSDT-1m-bad.csv"
    bad.write_text("open_time,open\n1,abc\n")
    with pytest.raises(MarketDataError, match=r"BTCUSDT-1m-bad\.csv"):
        load_klines("BTCUSDT", [bad])
    odd = write_klines(tmp_path / "BTCUSDT-1m-odd.csv", kline_text(random_bars(3, 1), T0 + 17))
    with pytest.raises(MarketDataError, match="whole minutes"):
        load_klines("BTCUSDT", [odd])


def test_trades_merge_into_agg_trades(tmp_path: Path) -> None:
    header = "local_ts_ns,event_time,trade_time,trade_id,price,qty,is_buyer_maker,exec_type\n"
    rows = [
        (1000, 1, "100.10", "0.5", "False"),
        (1050, 2, "100.10", "0.25", "False"),  # same price/side within 100 ms: merged
        (1101, 3, "100.10", "1.0", "False"),  # 101 ms after the aggregate's first trade: new one
        (1101, 4, "100.00", "0.1", "True"),
        (1102, 5, "100.00", "0.2", "False"),  # same price, other side: new one
    ]
    text = header + "".join(f"0,{t},{t},{i},{p},{q},{m},MARKET\n" for t, i, p, q, m in rows)
    path = tmp_path / "BTCUSDT-PERP-trades-x.csv.gz"
    with gzip.open(path, "wt") as out:
        out.write(text)
    agg = load_trades([path], Grid(Decimal("0.10"), Decimal("0.001")))
    assert agg.raw_trades == 5
    assert agg.ts.tolist() == [1000, 1101, 1101, 1102]
    assert agg.qty.tolist() == [750, 1000, 100, 200]
    assert agg.first_raw.tolist() == [1, 3, 4, 5] and agg.last_raw.tolist() == [2, 3, 4, 5]
    assert agg.is_buyer_maker.tolist() == [False, False, True, False]
    assert agg.price.tolist() == [1001, 1001, 1000, 1000]


def test_real_klines_load_fast() -> None:
    folder = real_klines_dir()
    for symbol, files in discover([folder]).klines.items():
        start = time.perf_counter()
        k = load_klines(symbol, files)
        elapsed = time.perf_counter() - start
        assert len(k) > 70_000 and k.filled_gaps == 0
        assert elapsed < 1.0, f"{symbol} took {elapsed:.2f}s"
        assert np.all(k.high >= np.maximum(k.open, k.close)) and np.all(k.low <= np.minimum(k.open, k.close))


def test_real_tick_capture_loads() -> None:
    folder = real_data_dir("ticks")
    found = discover([folder])
    grid = Grid(Decimal("0.10"), Decimal("0.001"))
    agg = load_trades(found.trades["BTCUSDT"], grid)
    books = load_books(found.books["BTCUSDT"], grid)
    assert agg.raw_trades == 21_313 and 0 < len(agg) < agg.raw_trades
    assert np.all(np.diff(agg.ts) >= 0) and np.all(books.ask > books.bid)
    assert len(books) > 60_000
