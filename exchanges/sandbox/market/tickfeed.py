"""The market of one symbol replayed from a real tick capture (aggTrades + book tickers).

The capture is re-stamped: data time ``d`` of loop ``L`` is served at ``s0 + L * period + (d - d0)``,
with ``d0`` the capture's first second and ``period`` its length rounded up to whole seconds. When the
capture is exhausted it plays again, prices scaled by ``(last trade / first trade) ** L`` and
re-rounded to the tick grid (the series stays continuous); aggTrade ids, raw trade ids and book
update ids continue where the previous loop stopped.

Klines are built exactly from the trades, through per-second bars of the capture.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from core.types import BookTicker, Trade
from exchanges.sandbox.market.candles import MinuteSeries
from exchanges.sandbox.market.grid import Grid
from exchanges.sandbox.market.ticks import AggTradeArrays, BookArrays

__all__ = ["TickFeed"]

I64 = npt.NDArray[np.int64]
_BIG = np.iinfo(np.int64).max


class TickFeed:
    """Real trades and book tickers of one symbol, re-stamped and looped."""

    def __init__(
        self,
        symbol: str,
        grid: Grid,
        trades: AggTradeArrays,
        books: BookArrays,
        *,
        anchor_ms: int,
        history_ms: int,
        base_id: int,
    ) -> None:
        """Serve the capture so that ``anchor_ms`` (now) falls ``history_ms`` after its start (at most
        the whole capture: the rest of the history is not there)."""
        if len(trades) == 0:
            raise ValueError(f"{symbol}: a tick feed needs trades")
        self.symbol = symbol
        self.grid = grid
        self.trades = trades
        self.books = books
        first = int(trades.ts[0]) if len(books) == 0 else min(int(trades.ts[0]), int(books.ts[0]))
        last = int(trades.ts[-1]) if len(books) == 0 else max(int(trades.ts[-1]), int(books.ts[-1]))
        self.d0 = first // 1000 * 1000
        self.period = (last - self.d0) // 1000 * 1000 + 1000
        self.s0 = (anchor_ms - min(history_ms, self.period)) // 1000 * 1000
        self._t_rel = trades.ts - self.d0
        self._b_rel = books.ts - self.d0
        self._base_id = base_id
        self._ratio = float(trades.price[-1]) / float(trades.price[0])
        self._raw_span = int(trades.last_raw[-1] - trades.first_raw[0]) + 1
        self._book_span = int(books.update_id[-1] - books.update_id[0]) + 1 if len(books) else 1
        self._seconds = self._second_bars()

    @property
    def first_ms(self) -> int:
        return self.s0

    @property
    def span_ms(self) -> int:
        return self.period

    def _second_bars(self) -> tuple[I64, I64, I64, I64, I64, I64]:
        """Per-second (open, high, low, close, volume, count) of one loop; count 0 where nothing traded."""
        n = self.period // 1000
        sec = self._t_rel // 1000
        idx = np.flatnonzero(np.r_[True, sec[1:] != sec[:-1]])
        p, q = self.trades.price, self.trades.qty
        o, h, lo, c = (np.zeros(n, dtype=np.int64) for _ in range(4))
        vol, cnt = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        where = sec[idx]
        o[where] = p[idx]
        h[where] = np.maximum.reduceat(p, idx)
        lo[where] = np.minimum.reduceat(p, idx)
        c[where] = p[np.append(idx[1:], p.shape[0]) - 1]
        vol[where] = np.add.reduceat(q, idx)
        cnt[where] = np.diff(np.append(idx, p.shape[0]))
        return o, h, lo, c, vol, cnt

    def _loop(self, ts: int) -> int:
        return (ts - self.s0) // self.period

    def _scale(self, ticks: I64 | int, loop: int) -> I64:
        if loop == 0:
            return np.asarray(ticks, dtype=np.int64)
        return np.maximum(np.rint(np.asarray(ticks) * self._ratio**loop), 1).astype(np.int64)

    def _count_upto(self, ts: int) -> int:
        """How many aggTrades (over all loops) are stamped at or before ``ts``."""
        loop = self._loop(ts)
        if loop < 0:
            return 0
        k = int(np.searchsorted(self._t_rel, ts - self.s0 - loop * self.period, side="right"))
        return loop * len(self.trades) + k

    def _make_trades(self, g_lo: int, g_hi: int) -> list[Trade]:
        out: list[Trade] = []
        m = len(self.trades)
        t = self.trades
        g = g_lo
        while g < g_hi:
            loop, i0 = divmod(g, m)
            i1 = min(m, i0 + g_hi - g)
            prices = self._scale(t.price[i0:i1], loop)
            shift = self.s0 + loop * self.period
            raw_shift = loop * self._raw_span
            for j, i in enumerate(range(i0, i1)):
                ts = int(self._t_rel[i]) + shift
                out.append(
                    Trade(
                        symbol=self.symbol,
                        trade_id=self._base_id + loop * m + i,
                        price=self.grid.price(int(prices[j])),
                        qty=self.grid.qty(int(t.qty[i])),
                        is_buyer_maker=bool(t.is_buyer_maker[i]),
                        ts=ts,
                        first_trade_id=int(t.first_raw[i]) + raw_shift,
                        last_trade_id=int(t.last_raw[i]) + raw_shift,
                        event_ts=ts,
                    )
                )
            g += i1 - i0
        return out

    def _make_books(self, loop: int, j0: int, j1: int) -> list[BookTicker]:
        b = self.books
        bid = self._scale(b.bid[j0:j1], loop)
        ask = np.maximum(self._scale(b.ask[j0:j1], loop), bid + 1)
        shift = self.s0 + loop * self.period
        return [
            BookTicker(
                symbol=self.symbol,
                bid_price=self.grid.price(int(bid[k])),
                bid_qty=self.grid.qty(int(b.bid_qty[j])),
                ask_price=self.grid.price(int(ask[k])),
                ask_qty=self.grid.qty(int(b.ask_qty[j])),
                ts=int(self._b_rel[j]) + shift,
                update_id=int(b.update_id[j]) + loop * self._book_span,
            )
            for k, j in enumerate(range(j0, j1))
        ]

    def events(self, after: int, upto: int, out: list[Trade | BookTicker]) -> None:
        """Append every trade and book ticker stamped in ``(after, upto]``, in time order."""
        for loop in range(max(self._loop(after + 1), 0), self._loop(upto) + 1):
            shift = self.s0 + loop * self.period
            t0 = self._count_upto(after) if loop == self._loop(after) else loop * len(self.trades)
            t1 = min(self._count_upto(upto), (loop + 1) * len(self.trades))
            trades = self._make_trades(t0, t1)
            j0 = int(np.searchsorted(self._b_rel, after - shift, side="right"))
            j1 = int(np.searchsorted(self._b_rel, upto - shift, side="right"))
            books = self._make_books(loop, j0, j1)
            # Merge by time; at equal times the trade comes first (its book update follows it).
            merged: list[Trade | BookTicker] = [*trades, *books]
            merged.sort(key=lambda e: (e.ts, isinstance(e, BookTicker)))
            out.extend(merged)

    def price_ticks(self, ts: int) -> int:
        """Last trade price at or before ``ts`` in ticks (the first trade's before any data)."""
        g = self._count_upto(ts)
        if g == 0:
            return int(self.trades.price[0])
        loop, i = divmod(g - 1, len(self.trades))
        return int(self._scale(int(self.trades.price[i]), loop))

    def minute_series(self, m_lo: int, m_hi: int, now_ms: int) -> MinuteSeries:
        """Minutes ``[m_lo, m_hi)`` (absolute) that exist by ``now_ms``, built from the trades."""
        m_lo = max(m_lo, self.s0 // 60_000)
        m_hi = min(m_hi, now_ms // 60_000 + 1)
        if m_lo >= m_hi:
            empty = np.zeros(0, dtype=np.int64)
            return MinuteSeries(m_lo, empty, empty, empty, empty, empty, empty)
        secs = np.arange(m_lo * 60, m_hi * 60, dtype=np.int64)
        rel = secs * 1000 - self.s0
        loops = rel // self.period
        s = (rel % self.period) // 1000
        o, h, lo, c, vol, cnt = (arr[s] for arr in self._seconds)
        valid = (rel >= 0) & (secs * 1000 <= now_ms)
        cnt = np.where(valid, cnt, 0)
        scale = self._ratio ** loops.astype(np.float64)
        o, h, lo, c = (np.maximum(np.rint(x * scale), 1).astype(np.int64) for x in (o, h, lo, c))
        now_sec = now_ms // 1000
        if m_lo * 60 <= now_sec < m_hi * 60:
            self._partial_second(now_sec, now_ms, int(now_sec - m_lo * 60), (o, h, lo, c, vol, cnt))
        return self._to_minutes(m_lo, (o, h, lo, c, vol, cnt))

    def _partial_second(self, sec: int, now_ms: int, k: int, cols: tuple[I64, ...]) -> None:
        g_lo, g_hi = self._count_upto(sec * 1000 - 1), self._count_upto(now_ms)
        trades = self._make_trades(g_lo, g_hi)
        o, h, lo, c, vol, cnt = cols
        cnt[k] = len(trades)
        if trades:
            ticks = [self.grid.ticks_of(t.price) for t in trades]
            o[k], h[k], lo[k], c[k] = ticks[0], max(ticks), min(ticks), ticks[-1]
            vol[k] = sum(int(t.qty / self.grid.step) for t in trades)

    def _to_minutes(self, m_lo: int, cols: tuple[I64, I64, I64, I64, I64, I64]) -> MinuteSeries:
        o, h, lo, c, vol, cnt = cols
        n = cnt.shape[0] // 60
        has = (cnt > 0).reshape(n, 60)
        o2, h2, l2, c2 = (x.reshape(n, 60) for x in (o, h, lo, c))
        first = np.argmax(has, axis=1)[:, None]
        last = (59 - np.argmax(has[:, ::-1], axis=1))[:, None]
        mo = np.take_along_axis(o2, first, axis=1)[:, 0]
        mc = np.take_along_axis(c2, last, axis=1)[:, 0]
        mh = np.where(has, h2, -1).max(axis=1)
        ml = np.where(has, l2, _BIG).min(axis=1)
        mv = np.where(has, vol.reshape(n, 60), 0).sum(axis=1)
        mn = cnt.reshape(n, 60).sum(axis=1)
        # A minute without trades is a flat bar at the previous close, as on Binance.
        any_trade = has.any(axis=1)
        prev = self.price_ticks(m_lo * 60_000 - 1)
        fill = np.where(any_trade, np.arange(n), -1)
        last_idx = np.maximum.accumulate(fill)
        flat = np.where(last_idx >= 0, mc[np.maximum(last_idx, 0)], prev)
        mo, mh, ml, mc = (np.where(any_trade, x, flat) for x in (mo, mh, ml, mc))
        return MinuteSeries(m_lo, mo, mh, ml, mc, mv.astype(np.int64), mn.astype(np.int64))

    def agg_trades(
        self, from_id: int | None, start_time: int | None, end_time: int | None, limit: int, now_ms: int
    ) -> list[Trade]:
        """Binance aggTrades semantics over the replayed capture, never past ``now_ms``."""
        upper = now_ms if end_time is None else min(end_time, now_ms)
        g_end = self._count_upto(upper)
        if limit <= 0 or g_end == 0:
            return []
        if from_id is not None:
            g = max(from_id - self._base_id, 0)
        elif start_time is not None:
            g = self._count_upto(start_time - 1)
        else:
            g = max(g_end - limit, 0)
        trades = self._make_trades(g, min(g_end, g + limit))
        if start_time is not None:
            trades = [t for t in trades if t.ts >= start_time]
        return trades
