"""The sandbox's own history: its aggTrades, aggregated by the CandleAggregator, give its klines.

The sandbox's quote and taker-buy volumes are estimates (its kline data has neither), so what is compared is
what is exact on both sides: open, high, low, close, volume and trade count.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.candles import MINUTE_MS, CandleAggregator
from core.clock import ManualClock
from core.types import Candle, Trade
from exchanges.sandbox.market.replay import MarketReplay
from tests.helpers import require_shared_data
from tests.market_support import NOW0, instruments

TFS = ("1m", "5m", "15m")
WINDOW_MIN = 45


def history_trades(market: MarketReplay, symbol: str, start: int) -> list[Trade]:
    trades: list[Trade] = []
    from_id: int | None = None
    while True:
        page = market.history_agg_trades(
            symbol, from_id=from_id, start_time=None if from_id else start, end_time=None, limit=1000
        )
        trades += page
        if len(page) < 1000:
            return trades
        from_id = page[-1].trade_id + 1


def exact(c: Candle) -> tuple[object, ...]:
    return (c.interval, c.open_time, c.open, c.high, c.low, c.close, c.volume, c.trades)


def compare(market: MarketReplay, symbol: str) -> int:
    start = (NOW0 // MINUTE_MS - WINDOW_MIN) * MINUTE_MS
    start -= start % (15 * MINUTE_MS)  # a whole 15m period, so every timeframe starts complete
    agg = CandleAggregator(TFS)
    out: list[Candle] = []
    for t in history_trades(market, symbol, start):
        out += agg.on_trade(t)
    out += agg.advance(NOW0 - NOW0 % MINUTE_MS)  # every minute that ended before now
    assert out, "no candle closed"
    for tf in TFS:
        mine = [exact(c) for c in out if c.interval == tf]
        theirs = [
            exact(c)
            for c in market.history_klines(symbol, tf, start_time=start, end_time=None, limit=200)
            if c.closed
        ]
        assert mine == theirs, f"{symbol} {tf}"
    return len(out)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_synthetic_market_history(symbol: str) -> None:
    market = MarketReplay(instruments("BTCUSDT", "ETHUSDT"), ManualClock(NOW0), seed=3, history_days=0.05)
    assert compare(market, symbol) > WINDOW_MIN


@pytest.mark.parametrize("folder", ["klines", "ticks"])
def test_real_data_history(folder: str) -> None:
    path: Path = require_shared_data(folder)
    market = MarketReplay(
        instruments("BTCUSDT", "ETHUSDT"), ManualClock(NOW0), data_paths=[path], seed=3, history_days=0.05
    )
    for symbol in market.symbols:
        # A tick capture may hold less history than the window; whatever closed must match.
        assert compare(market, symbol) >= (WINDOW_MIN if folder == "klines" else 5)
