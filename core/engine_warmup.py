"""The Engine's start: history from REST so every sensor has its lookback, and a seam with no hole or overlap.

Order (each step relies on the previous one):

1. the market stream is started first and its events wait in the Engine's queue;
2. klines per (symbol, timeframe): ``warmup_bars`` closed candles for the sensors; the 1-minute request
   asks for more (:func:`minute_limit`: two periods of the longest timeframe) so the aggregator can rebuild
   the open period of every higher timeframe from its minutes, plus the one before it when the requests
   straddled a boundary;
3. once the stream has delivered something for a symbol (its connection is up), the venue's aggTrades since
   the open of the current minute (:func:`fetch_minute_trades`, paged by id): the still-open minute is
   rebuilt exactly from them, and live trades with an id at or below the last one fetched are dropped as the
   overlap, so the live candles continue the history trade for trade.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection, Sequence

import msgspec

from core.candles import MINUTE_MS, CandleAggregator, interval_ms, interval_open
from core.logs import get_logger
from core.types import Candle, Trade
from core.validation import Validator
from exchanges.adapter import ExchangeAdapter

__all__ = [
    "AGG_TRADES_PAGE",
    "KLINES_MAX",
    "History",
    "fetch_history",
    "fetch_minute_trades",
    "minute_limit",
    "seed_symbol",
    "wait_for_symbols",
]

KLINES_MAX = 1500  # Binance's largest klines page
AGG_TRADES_PAGE = 1000  # Binance's largest aggTrades page

log = get_logger("engine")


class History(msgspec.Struct, frozen=True, kw_only=True):
    """One symbol's REST history: the 1-minute candles (the last may be open) and each timeframe's."""

    symbol: str
    minutes: tuple[Candle, ...]
    minutes_truncated: bool  # the page was full: older minutes may exist at the venue
    by_timeframe: dict[str, tuple[Candle, ...]]  # closed candles only, oldest first, at most warmup_bars

    def current_minute(self) -> int | None:
        """Open time of the minute in progress at the request (None if the venue has no minute at all)."""
        if not self.minutes:
            return None
        last = self.minutes[-1]
        return last.open_time if not last.closed else last.open_time + MINUTE_MS

    def delivered(self) -> dict[str, int]:
        """Per timeframe, the open time of the newest closed candle the sensors will have from this history.

        A timeframe with no history counts as delivered up to the period before the current one, so the
        aggregator does not hand out old periods as if they had just closed.
        """
        out: dict[str, int] = {}
        current = self.current_minute()
        for tf, candles in self.by_timeframe.items():
            if candles:
                out[tf] = candles[-1].open_time
            elif current is not None:
                out[tf] = interval_open(tf, current) - interval_ms(tf)
        return out


def minute_limit(timeframes: Sequence[str], warmup_bars: int) -> int:
    """How many 1-minute klines to ask for (see the module docstring), within Binance's page size."""
    longest = max(interval_ms(tf) for tf in timeframes) // MINUTE_MS
    return min(KLINES_MAX, max(warmup_bars, 2 * longest) + 1)


async def fetch_history(
    adapter: ExchangeAdapter,
    symbol: str,
    timeframes: Sequence[str],
    warmup_bars: int,
) -> History:
    """Every timeframe's warm-up klines of ``symbol`` (requests run concurrently; the adapter paces them)."""
    limit_1m = minute_limit(timeframes, warmup_bars)
    higher = [tf for tf in timeframes if tf != "1m"]
    requests = [adapter.klines(symbol, "1m", limit=limit_1m)]
    if warmup_bars > 0:
        requests += [adapter.klines(symbol, tf, limit=min(warmup_bars + 1, KLINES_MAX)) for tf in higher]
    pages = await asyncio.gather(*requests)
    minutes = tuple(pages[0])
    by_tf: dict[str, tuple[Candle, ...]] = {}
    if "1m" in timeframes:
        by_tf["1m"] = _closed_tail(minutes, warmup_bars)
    for tf, page in zip(higher, pages[1:], strict=False):
        by_tf[tf] = _closed_tail(page, warmup_bars)
    for tf in higher:
        by_tf.setdefault(tf, ())
    return History(
        symbol=symbol,
        minutes=minutes,
        minutes_truncated=len(minutes) >= limit_1m,
        by_timeframe=by_tf,
    )


def _closed_tail(candles: Sequence[Candle], n: int) -> tuple[Candle, ...]:
    closed = [c for c in candles if c.closed]
    return tuple(closed[-n:]) if n > 0 else ()


async def fetch_minute_trades(
    adapter: ExchangeAdapter, symbol: str, minute_open: int, *, until_id: int | None = None
) -> list[Trade]:
    """The venue's aggTrades from ``minute_open`` on, oldest first: every page up to now, or up to the trade
    before ``until_id`` (the first one the stream delivered) when that is known."""
    page = await adapter.agg_trades(symbol, start_time=minute_open, limit=AGG_TRADES_PAGE)
    trades = list(page)
    while len(page) == AGG_TRADES_PAGE and (until_id is None or trades[-1].trade_id < until_id - 1):
        page = await adapter.agg_trades(symbol, from_id=trades[-1].trade_id + 1, limit=AGG_TRADES_PAGE)
        trades.extend(page)
    return trades


async def seed_symbol(
    adapter: ExchangeAdapter,
    aggregator: CandleAggregator,
    validator: Validator,
    history: History,
    *,
    first_live_id: int | None,
) -> tuple[list[Candle], int | None]:
    """Seed ``aggregator`` with ``history`` and replay the current minute's trades from the venue.

    Returns the candles to warm the sensors up with (the history's closed candles, the seed's catch-up and
    any minute that closed during the replay) and the last replayed aggTrade id: live trades at or below it
    are the overlap. ``first_live_id``: the first trade id the stream delivered, where paging may stop.
    """
    symbol = history.symbol
    warm = [c for candles in history.by_timeframe.values() for c in candles]
    warm += aggregator.seed(
        symbol, history.minutes, delivered=history.delivered(), truncated=history.minutes_truncated
    )
    minute = history.current_minute()
    if minute is None:
        return warm, None
    trades = await fetch_minute_trades(adapter, symbol, minute, until_id=first_live_id)
    for trade in trades:
        # History on purpose: no staleness rule (at a fast clock the minute may be older than that).
        if validator.check_trade(trade, None) is None:
            warm += aggregator.on_trade(trade)
    return warm, (trades[-1].trade_id if trades else None)


async def wait_for_symbols(heard: Collection[str], symbols: Sequence[str], timeout_s: float) -> bool:
    """Wait until the stream delivered something for every symbol (``heard`` fills as events arrive), so
    REST trades fetched next overlap the stream. After ``timeout_s`` the silent symbols are logged (their
    first live minute may miss trades) and False is returned."""
    deadline = time.monotonic() + timeout_s
    while not all(s in heard for s in symbols):
        if time.monotonic() > deadline:
            silent = [s for s in symbols if s not in heard]
            log.warning(
                "no stream event within %.1fs for %s; their first live minute may miss trades",
                timeout_s,
                ", ".join(silent),
            )
            return False
        await asyncio.sleep(0.01)
    return True
