"""A seeded synthetic market: minute bars with volatility clustering, fat tails and jumps.

Returns follow a GARCH(1,1) process with Student-t innovations (scaled to unit variance) plus rare
normal jumps; the high and low extend beyond open/close by half-normal amounts proportional to the
minute's volatility; volume grows with the size of the move (and is noisy). ``MarketParams`` holds
these parameters; ``DEFAULT_MARKET_PARAMS`` are what :func:`..calibration.calibrate_market` returns
on the shared real BTCUSDT and ETHUSDT 1-minute klines (see its docstring for the command).

Bars are generated day by day as the replay's clock needs them, then turned into trades exactly like
replayed klines (:mod:`.synth`), so the synthetic market serves history and live data the same way.
"""

from __future__ import annotations

import math
import zlib
from decimal import Decimal

import msgspec
import numpy as np

from exchanges.sandbox.market.bars import BarChunk, MinuteBars
from exchanges.sandbox.market.grid import Grid

__all__ = [
    "DEFAULT_MARKET_PARAMS",
    "START_PRICES",
    "MarketParams",
    "SyntheticExtender",
    "start_price_for",
]

_CHUNK_MINUTES = 1440


class MarketParams(msgspec.Struct, frozen=True, kw_only=True):
    """Parameters of the synthetic market, per 1-minute bar (log returns)."""

    omega: float  # GARCH constant (variance per minute)
    alpha: float  # weight of the last squared shock
    beta: float  # persistence of variance
    t_df: float  # Student-t degrees of freedom of the innovations
    jump_prob: float  # probability of a jump in a minute
    jump_sd: float  # standard deviation of a jump's log return
    range_k: float  # high/low extension beyond open/close, in units of the minute's volatility
    minute_notional: float  # typical traded notional per minute (quote asset)
    volume_beta: float  # log-volume response to |standardized return|
    volume_sigma: float  # log-volume noise

    @property
    def minute_variance(self) -> float:
        """Unconditional variance of the diffusive part of a 1-minute log return."""
        return self.omega / max(1e-9, 1.0 - self.alpha - self.beta)


# Output of `calibrate_market` on ../shared/data/klines (BTCUSDT + ETHUSDT, 2025-05-04 → 2025-06-24):
#   .venv/bin/python -c "from pathlib import Path; from exchanges.sandbox.market.calibration import \
#       calibrate_market; print(calibrate_market([Path('../shared/data/klines')]))"
DEFAULT_MARKET_PARAMS = MarketParams(
    omega=3.116e-09,
    alpha=0.06,
    beta=0.935,
    t_df=5.911684867444,
    jump_prob=0.000936578529,
    jump_sd=0.0065834915,
    range_k=0.335664198072,
    minute_notional=7004864.932949891,
    volume_beta=0.518115787022,
    volume_sigma=0.923782597745,
)

START_PRICES: dict[str, float] = {
    "BTCUSDT": 100_000.0,
    "ETHUSDT": 2_500.0,
    "BNBUSDT": 650.0,
    "SOLUSDT": 150.0,
    "XRPUSDT": 2.2,
    "DOGEUSDT": 0.2,
    "ADAUSDT": 0.7,
    "LTCUSDT": 90.0,
    "LINKUSDT": 15.0,
    "AVAXUSDT": 22.0,
}


def start_price_for(symbol: str, tick_size: Decimal) -> float:
    """A plausible starting price: known majors from a table, others 20,000 ticks (a 0.005 % tick)."""
    known = START_PRICES.get(symbol)
    return known if known is not None else float(tick_size) * 20_000


class SyntheticExtender:
    """Generates the next day of synthetic minute bars each time the bar store runs out."""

    def __init__(self, params: MarketParams, grid: Grid, seed: int, symbol: str, start_price: float) -> None:
        self.params = params
        self._grid = grid
        key = zlib.crc32(symbol.encode())
        self._rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed & 0xFFFFFFFF, key, 3])))
        self._h = params.minute_variance
        self._close = max(1, round(start_price / grid.tick_f))
        self._t_scale = math.sqrt((params.t_df - 2.0) / params.t_df) if params.t_df > 2 else 1.0

    def typical_steps(self, start_price: float) -> float:
        """The volume of a typical minute in steps (trade counts are scaled to it)."""
        return self.params.minute_notional / start_price / self._grid.step_f

    def first(self, minutes: int) -> BarChunk:
        return self.generate(max(minutes, 1))

    def __call__(self, bars: MinuteBars) -> BarChunk:
        return self.generate(_CHUNK_MINUTES)

    def generate(self, n: int) -> BarChunk:
        """The next ``n`` bars, continuing from the last close and variance."""
        p, rng = self.params, self._rng
        z = rng.standard_t(p.t_df, n) * self._t_scale
        jumps = np.where(rng.random(n) < p.jump_prob, rng.normal(0.0, p.jump_sd, n), 0.0)
        ext = np.abs(rng.standard_normal((2, n))) * p.range_k
        noise = rng.standard_normal(n) * p.volume_sigma
        returns = np.empty(n)
        sd = np.empty(n)
        h = self._h
        for i in range(n):
            s = math.sqrt(h)
            r = s * z[i] + jumps[i]
            returns[i] = r
            sd[i] = s
            h = p.omega + p.alpha * r * r + p.beta * h
            # Keep the variance within sane bounds so long runs never explode or freeze.
            h = min(max(h, p.minute_variance * 0.05), p.minute_variance * 400.0)
        self._h = h
        log_close = math.log(self._close) + np.cumsum(returns)
        close = np.maximum(np.rint(np.exp(log_close)), 1).astype(np.int64)
        open_ = np.empty(n, dtype=np.int64)
        open_[0] = self._close
        open_[1:] = close[:-1]
        top, bottom = np.maximum(open_, close), np.minimum(open_, close)
        high = np.maximum(np.rint(top * np.exp(ext[0] * sd)), top).astype(np.int64)
        low = np.maximum(np.minimum(np.rint(bottom * np.exp(-ext[1] * sd)), bottom), 1).astype(np.int64)
        self._close = int(close[-1])
        zabs = np.abs(returns) / np.maximum(sd, 1e-12)
        log_notional = (
            math.log(p.minute_notional) + p.volume_beta * (zabs - math.sqrt(2 / math.pi)) + noise
        ) - p.volume_sigma**2 / 2
        base_qty = np.exp(log_notional) / (close * self._grid.tick_f)
        volume = np.maximum(np.rint(base_qty / self._grid.step_f), 0).astype(np.int64)
        return BarChunk(open_, high, low, close, volume)
