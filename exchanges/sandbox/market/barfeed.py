"""The market of one symbol built from minute bars: synthesized aggTrades and book tickers.

Minute ``v`` of the bar store is stamped ``t0 + v * 60_000``. Its trades are synthesized on demand
(seeded per (seed, symbol, minute), see :mod:`.synth`) and cached briefly, so the live stream and
REST history (aggTrades, klines) always agree: same ids, same prices, same quantities.

Each trade comes with the book ticker it leaves behind: a buyer-taker trade printed at the ask
(bid one spread below), a seller-taker trade at the bid; touch sizes are drawn around the profile's
typical touch size.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from core.types import BookTicker, Trade
from exchanges.sandbox.market.bars import MinuteBars
from exchanges.sandbox.market.candles import MinuteSeries
from exchanges.sandbox.market.grid import Grid
from exchanges.sandbox.market.synth import minute_rng, synthesize_minute

__all__ = ["BarFeed", "MinuteTape"]

I64 = npt.NDArray[np.int64]
MINUTE_MS = 60_000
# Raw trade ids and book update ids live in their own number ranges, derived from the aggTrade id.
RAW_TRADE_ID_SHIFT = 4_000_000_000
BOOK_UPDATE_ID_SHIFT = 7_000_000_000_000
_CACHE_MINUTES = 32


class MinuteTape(NamedTuple):
    """One minute's trades (absolute times) and the touch sizes after each."""

    ts: I64
    price: I64
    qty: I64
    is_buyer_maker: npt.NDArray[np.bool_]
    bid_qty: I64
    ask_qty: I64
    first_id: int


class BarFeed:
    """Trades and book tickers of one symbol, synthesized from its minute bars."""

    def __init__(
        self,
        symbol: str,
        grid: Grid,
        bars: MinuteBars,
        t0: int,
        *,
        seed: int,
        spread_ticks: int,
        touch_steps: int,
        base_id: int,
    ) -> None:
        if t0 % MINUTE_MS:
            raise ValueError("the first minute of a bar feed must be minute-aligned")
        self.symbol = symbol
        self.grid = grid
        self.bars = bars
        self.t0 = t0
        self._seed = seed
        self._spread = max(1, spread_ticks)
        self._touch = max(1, touch_steps)
        self._base_id = base_id
        self._cache: OrderedDict[int, MinuteTape] = OrderedDict()

    @property
    def first_ms(self) -> int:
        return self.t0

    def minute(self, ts: int) -> int:
        """Virtual minute index of time ``ts`` (negative before the first bar)."""
        return (ts - self.t0) // MINUTE_MS

    def tape(self, v: int) -> MinuteTape:
        """The synthesized trades of minute ``v`` (cached)."""
        hit = self._cache.get(v)
        if hit is not None:
            self._cache.move_to_end(v)
            return hit
        o, h, lo, c, vol = self.bars.bar(v)
        n = int(self.bars.count[v])
        rng = minute_rng(self._seed, self.symbol, v)
        trades = synthesize_minute((o, h, lo, c), vol, n, rng)
        m = len(trades)
        sizes = np.maximum(np.rint(self._touch * rng.lognormal(0.0, 0.7, (2, m))), 1).astype(np.int64)
        tape = MinuteTape(
            self.t0 + v * MINUTE_MS + trades.offset_ms,
            trades.price,
            trades.qty,
            trades.is_buyer_maker,
            sizes[0],
            sizes[1],
            self._base_id + int(self.bars.offset[v]),
        )
        self._cache[v] = tape
        if len(self._cache) > _CACHE_MINUTES:
            self._cache.popitem(last=False)
        return tape

    def _trade(self, tape: MinuteTape, i: int) -> Trade:
        agg_id = tape.first_id + i
        ts = int(tape.ts[i])
        return Trade(
            symbol=self.symbol,
            trade_id=agg_id,
            price=self.grid.price(int(tape.price[i])),
            qty=self.grid.qty(int(tape.qty[i])),
            is_buyer_maker=bool(tape.is_buyer_maker[i]),
            ts=ts,
            first_trade_id=RAW_TRADE_ID_SHIFT + agg_id,
            last_trade_id=RAW_TRADE_ID_SHIFT + agg_id,
            event_ts=ts,
        )

    def _book(self, tape: MinuteTape, i: int) -> BookTicker:
        price = int(tape.price[i])
        if tape.is_buyer_maker[i]:  # a seller took the bid
            bid, ask = price, price + self._spread
        else:
            bid, ask = price - self._spread, price
        return BookTicker(
            symbol=self.symbol,
            bid_price=self.grid.price(bid),
            bid_qty=self.grid.qty(int(tape.bid_qty[i])),
            ask_price=self.grid.price(ask),
            ask_qty=self.grid.qty(int(tape.ask_qty[i])),
            ts=int(tape.ts[i]),
            update_id=BOOK_UPDATE_ID_SHIFT + tape.first_id + i,
        )

    def events(self, after: int, upto: int, out: list[Trade | BookTicker]) -> None:
        """Append every trade (each followed by its book ticker) stamped in ``(after, upto]``."""
        for v in range(max(self.minute(after + 1), 0), self.minute(upto) + 1):
            self.bars.ensure(v)
            if self.bars.count[v] == 0:
                continue
            tape = self.tape(v)
            lo = int(np.searchsorted(tape.ts, after, side="right"))
            hi = int(np.searchsorted(tape.ts, upto, side="right"))
            for i in range(lo, hi):
                out.append(self._trade(tape, i))
                out.append(self._book(tape, i))

    def price_ticks(self, ts: int) -> int:
        """Last trade price at or before ``ts`` in ticks (the first open before any data)."""
        v = self.minute(ts)
        if v < 0:
            return int(self.bars.open[0])
        self.bars.ensure(v)
        if self.bars.count[v]:
            tape = self.tape(v)
            k = int(np.searchsorted(tape.ts, ts, side="right"))
            if k:
                return int(tape.price[k - 1])
        return int(self.bars.close[v - 1]) if v else int(self.bars.open[0])

    def minute_series(self, m_lo: int, m_hi: int, now_ms: int) -> MinuteSeries:
        """Minutes ``[m_lo, m_hi)`` (absolute) that exist by ``now_ms``; the current one is partial."""
        base = self.t0 // MINUTE_MS
        now_v = self.minute(now_ms)
        a = max(m_lo - base, 0)
        b = min(m_hi - base, now_v + 1)
        if a >= b:
            empty = np.zeros(0, dtype=np.int64)
            return MinuteSeries(base + a, empty, empty, empty, empty, empty, empty)
        self.bars.ensure(b - 1)
        bars = self.bars
        cols = [
            arr[a:b].copy() for arr in (bars.open, bars.high, bars.low, bars.close, bars.volume, bars.count)
        ]
        if b == now_v + 1:
            self._partial(now_v, now_ms, cols)
        return MinuteSeries(base + a, *cols)

    def _partial(self, v: int, now_ms: int, cols: list[I64]) -> None:
        """Overwrite the last minute of ``cols`` with what has traded in minute ``v`` by ``now_ms``."""
        tape = self.tape(v) if self.bars.count[v] else None
        k = int(np.searchsorted(tape.ts, now_ms, side="right")) if tape is not None else 0
        if tape is not None and k:
            prices = tape.price[:k]
            values = (int(prices[0]), int(prices.max()), int(prices.min()), int(prices[-1]))
            volume, count = int(tape.qty[:k].sum()), k
        else:
            flat = int(self.bars.close[v - 1]) if v else int(self.bars.open[0])
            values, volume, count = (flat, flat, flat, flat), 0, 0
        for col, value in zip(cols, (*values, volume, count), strict=True):
            col[-1] = value

    def last_trade_offset(self, now_ms: int) -> int:
        """Cumulative offset of the first trade not yet printed by ``now_ms``."""
        v = self.minute(now_ms)
        if v < 0:
            return 0
        self.bars.ensure(v)
        k = 0
        if self.bars.count[v]:
            k = int(np.searchsorted(self.tape(v).ts, now_ms, side="right"))
        return int(self.bars.offset[v]) + k

    def agg_trades(
        self, from_id: int | None, start_time: int | None, end_time: int | None, limit: int, now_ms: int
    ) -> list[Trade]:
        """Binance aggTrades semantics over the synthesized tape, never past ``now_ms``."""
        upper = now_ms if end_time is None else min(end_time, now_ms)
        end_off = self.last_trade_offset(upper)  # exclusive
        if limit <= 0 or end_off == 0:
            return []
        if from_id is not None or start_time is not None:
            if from_id is not None:
                off = max(from_id - self._base_id, 0)
            else:
                off = self.last_trade_offset(start_time - 1) if start_time is not None else 0
            return self._range(off, min(end_off, off + limit), start_time)
        return self._range(max(end_off - limit, 0), end_off, None)

    def _range(self, off_lo: int, off_hi: int, start_time: int | None) -> list[Trade]:
        out: list[Trade] = []
        if off_lo >= off_hi:
            return out
        v = self.bars.minute_of_offset(off_lo)
        while True:
            first = int(self.bars.offset[v])
            if first >= off_hi:
                break
            if self.bars.count[v]:
                tape = self.tape(v)
                for i in range(max(off_lo - first, 0), min(off_hi - first, int(self.bars.count[v]))):
                    if start_time is None or tape.ts[i] >= start_time:
                        out.append(self._trade(tape, i))
            v += 1
        return out
