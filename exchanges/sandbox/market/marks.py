"""Mark price, index price and funding for one symbol, stepped once per second of exchange time.

A simplified version of Binance's method:

- index price: the (smoothed) last price divided by ``1 + premium``, where the perpetual's premium
  over spot is a seeded mean-reverting (Ornstein-Uhlenbeck) process around a small positive value;
- mark price: the median of ``index × (1 + funding rate × time to funding / 8 h)``,
  ``index + 5-minute average basis`` and the last price;
- funding rate: the interval's average premium plus ``clamp(interest − premium, ±0.05 %)``, clamped to
  ``±cap``; published every second as the estimate for the running interval and settled at 00:00,
  08:00 and 16:00 UTC.

The model is stateful and deterministic: the same seed and the same second-by-second prices give the
same marks, however the caller batches the seconds.
"""

from __future__ import annotations

import zlib
from decimal import Decimal

import numpy as np

from core.types import MarkPrice

__all__ = ["FUNDING_INTERVAL_MS", "MarkModel", "next_funding_time"]

FUNDING_INTERVAL_MS = 8 * 3_600_000
_EIGHT_DP = Decimal("0.00000001")
_BLOCK = 4096


def next_funding_time(ts: int) -> int:
    """The first funding time (00:00, 08:00, 16:00 UTC) strictly after ``ts``."""
    return (ts // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS


class MarkModel:
    """Per-second mark/index/funding of one symbol; ``step`` must be called for consecutive seconds."""

    def __init__(
        self,
        symbol: str,
        seed: int,
        start_price: float,
        *,
        interest: float = 0.0001,
        premium_mean: float = 0.00008,
        premium_sd: float = 0.00025,
        premium_halflife_s: float = 600.0,
        clamp: float = 0.0005,
        cap: float = 0.003,
    ) -> None:
        self.symbol = symbol
        self._interest = interest
        self._clamp = clamp
        self._cap = cap
        self._mu = premium_mean
        self._theta = float(np.log(2.0) / premium_halflife_s)
        self._shock = premium_sd * float(np.sqrt(2.0 * self._theta))
        key = zlib.crc32(symbol.encode())
        self._rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed & 0xFFFFFFFF, key, 7])))
        self._noise = self._rng.standard_normal(_BLOCK)
        self._k = 0
        self._premium = premium_mean
        self._smooth = start_price
        self._basis = start_price * premium_mean
        self._sum = 0.0
        self._samples = 0

    def _draw(self) -> float:
        if self._k == _BLOCK:
            self._noise = self._rng.standard_normal(_BLOCK)
            self._k = 0
        z = float(self._noise[self._k])
        self._k += 1
        return z

    def _rate(self) -> float:
        avg = self._sum / self._samples if self._samples else self._premium
        rate = avg + min(max(self._interest - avg, -self._clamp), self._clamp)
        return min(max(rate, -self._cap), self._cap)

    def step(self, ts: int, last_price: float) -> tuple[MarkPrice, Decimal | None]:
        """The mark at second ``ts``, and the funding rate to settle if ``ts`` is a funding time."""
        settled: Decimal | None = None
        if ts % FUNDING_INTERVAL_MS == 0 and self._samples:
            settled = Decimal(repr(self._rate())).quantize(_EIGHT_DP)
            self._sum, self._samples = 0.0, 0
        self._premium += self._theta * (self._mu - self._premium) + self._shock * self._draw()
        self._smooth += 0.3 * (last_price - self._smooth)  # a few seconds of smoothing
        index = self._smooth / (1.0 + self._premium)
        self._basis += (last_price - index - self._basis) / 300.0  # ~5-minute moving basis
        self._sum += (last_price - index) / index
        self._samples += 1
        rate = self._rate()
        nft = next_funding_time(ts)
        to_funding = (nft - ts) / FUNDING_INTERVAL_MS
        mark = sorted((index * (1.0 + rate * to_funding), index + self._basis, last_price))[1]
        mark_price = MarkPrice(
            symbol=self.symbol,
            mark_price=Decimal(repr(mark)).quantize(_EIGHT_DP),
            index_price=Decimal(repr(index)).quantize(_EIGHT_DP),
            funding_rate=Decimal(repr(rate)).quantize(_EIGHT_DP),
            next_funding_time=nft,
            ts=ts,
            estimated_settle_price=Decimal(repr(index)).quantize(_EIGHT_DP),
        )
        return mark_price, settled
