"""Intra-minute trade synthesis: aggTrades consistent with a 1-minute bar.

For a bar (open, high, low, close, volume) in integer ticks and steps, ``synthesize_minute`` draws
``n`` aggregated trades such that:

- the first trade prints at the open and the last at the close; the highest price is the high and
  the lowest the low (the path visits both extremes, in an order that favours the bar's direction);
- every price is on the tick grid and inside [low, high]; quantities are whole steps, at least one
  each, and sum exactly to the bar's volume;
- times are inside the minute and non-decreasing;
- the taker side follows the price: an up-tick is a buyer-taker trade (``is_buyer_maker`` false), a
  down-tick a seller-taker trade, and an unchanged price keeps the previous taker side.

Everything is drawn from the generator passed in, which the caller seeds per (seed, symbol, minute):
the same minute always gives the same trades, whether streamed live or served later by REST.

When a bar's volume has fewer than 4 steps there cannot be 4 trades: the path then keeps the close
(and the open, and the farther extreme, as the count allows).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_TRADES_PER_MINUTE",
    "MIN_TRADES_PER_MINUTE",
    "OHLC",
    "MinuteTrades",
    "minute_rng",
    "synthesize_minute",
    "trade_counts",
]

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]
OHLC = tuple[int, int, int, int]

MIN_TRADES_PER_MINUTE = 4
MAX_TRADES_PER_MINUTE = 360
_TRADES_AT_TYPICAL_VOLUME = 60.0  # about one aggTrade a second in a typical minute


def trade_counts(volume_steps: I64, typical_steps: float) -> I64:
    """How many aggTrades each minute gets: ~60 at the typical volume, growing with its square root.

    Bounded so the server can stream them at 1× and at 10×+; never more than the volume allows
    (each trade needs a step), zero when nothing traded.
    """
    rel = volume_steps.astype(np.float64) / max(typical_steps, 1.0)
    n = np.rint(_TRADES_AT_TYPICAL_VOLUME * np.sqrt(rel)).astype(np.int64)
    n = np.clip(n, MIN_TRADES_PER_MINUTE, MAX_TRADES_PER_MINUTE)
    return np.minimum(n, volume_steps.astype(np.int64))


def minute_rng(seed: int, symbol: str, minute: int, stream: int = 0) -> np.random.Generator:
    """The generator for one (seed, symbol, minute): independent of anything drawn before."""
    key = zlib.crc32(symbol.encode())
    return np.random.Generator(
        np.random.PCG64(np.random.SeedSequence([seed & 0xFFFFFFFF, key, minute, stream]))
    )


@dataclass(frozen=True, slots=True)
class MinuteTrades:
    """The trades of one minute: offsets in ms from the minute's start, ticks, steps, taker side."""

    offset_ms: I64
    price: I64
    qty: I64
    is_buyer_maker: BOOL

    def __len__(self) -> int:
        return int(self.price.shape[0])


def _pivots(bar: OHLC, n: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Prices the path must visit and the trade indices where it does."""
    o, h, lo, c = bar
    if n >= 4:
        # Up bars more often dip first then rally to the high (and down bars the reverse).
        low_first = rng.random() < (0.65 if c >= o else 0.35)
        prices = [o, lo, h, c] if low_first else [o, h, lo, c]
        i1 = int(rng.integers(1, n - 1))
        i2 = int(rng.integers(1, n - 2)) if n > 4 else 1
        if i2 >= i1:
            i2 += 1
        a, b = min(i1, i2), max(i1, i2)
        return prices, [0, a, b, n - 1]
    if n == 3:
        extreme = h if h - max(o, c) >= min(o, c) - lo else lo
        return [o, extreme, c], [0, 1, 2]
    if n == 2:
        return [o, c], [0, 1]
    return [c], [0]


def _path(bar: OHLC, n: int, rng: np.random.Generator) -> I64:
    prices, idx = _pivots(bar, n, rng)
    _, h, lo, _ = bar
    path = np.empty(n, dtype=np.float64)
    path[idx[0]] = prices[0]
    # Between pivots: a Brownian bridge whose size scales with the bar's range per trade.
    scale = (h - lo) / max(np.sqrt(n), 1.0) * 0.6
    for j in range(len(idx) - 1):
        ia, ib, pa, pb = idx[j], idx[j + 1], prices[j], prices[j + 1]
        m = ib - ia
        k = np.arange(1, m + 1, dtype=np.float64) / m
        walk = np.cumsum(rng.standard_normal(m))
        bridge = walk - k * walk[-1]
        path[ia + 1 : ib + 1] = pa + (pb - pa) * k + bridge * scale
    out = np.clip(np.rint(path), lo, h).astype(np.int64)
    out[idx] = prices
    return out


def _taker_sides(price: I64, rng: np.random.Generator) -> BOOL:
    """``is_buyer_maker`` per trade: down-ticks are seller-taker, up-ticks buyer-taker, flats continue."""
    n = price.shape[0]
    move = np.zeros(n, dtype=np.int64)
    move[1:] = np.sign(np.diff(price))
    known = move != 0
    first = bool(rng.random() < 0.5)
    last_known = np.maximum.accumulate(np.where(known, np.arange(n), -1))
    seller = np.where(last_known >= 0, move[np.maximum(last_known, 0)] < 0, first)
    return np.asarray(seller, dtype=np.bool_)


def _split_volume(volume: int, n: int, rng: np.random.Generator) -> I64:
    """``n`` positive whole-step quantities summing exactly to ``volume`` (heavy-tailed sizes)."""
    weights = rng.lognormal(0.0, 1.2, n)
    extra = volume - n
    share = extra * weights / weights.sum()
    alloc = np.floor(share).astype(np.int64)
    remainder = extra - int(alloc.sum())
    if remainder:
        alloc[np.argsort(alloc - share, kind="stable")[:remainder]] += 1
    out: I64 = alloc + 1
    return out


def synthesize_minute(bar: OHLC, volume: int, n: int, rng: np.random.Generator) -> MinuteTrades:
    """``n`` trades consistent with ``bar`` (open, high, low, close in ticks) and ``volume`` in steps.

    See the module docstring for the guarantees.
    """
    o, h, lo, c = bar
    if n <= 0 or volume <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return MinuteTrades(empty, empty, empty, np.zeros(0, dtype=np.bool_))
    if not lo <= min(o, c) <= max(o, c) <= h:
        raise ValueError(f"inconsistent bar o={o} h={h} l={lo} c={c}")
    n = min(n, volume)
    price = _path(bar, n, rng)
    sides = _taker_sides(price, rng)
    qty = _split_volume(volume, n, rng)
    offsets = np.sort(rng.integers(0, 60_000, n)).astype(np.int64)
    return MinuteTrades(offsets, price, qty, sides)
