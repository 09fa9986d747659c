"""Calibration from real data: the book profile of a symbol, and the synthetic market's parameters.

``calibrate_profile`` reads a real bookTicker capture (median spread in ticks, median touch size) and
a REST depth snapshot (how much quantity lies within 1, 2, 3, 5, 8, … ticks of the touch, averaged
over both sides). ``DEFAULT_PROFILES`` are its output on the shared files (see ``DEFAULT_PROFILES``).

``calibrate_market`` fits :class:`.synthetic.MarketParams` on 1-minute kline files: jumps are returns
beyond 6 local standard deviations; a GARCH(1,1) is fitted on the rest by Gaussian quasi-likelihood
over a grid (variance targeting); the Student-t degrees of freedom come from the kurtosis of the
standardized residuals; high/low extension and the volume response are moment fits.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import numpy as np
import numpy.typing as npt

from exchanges.sandbox.market.klines import discover, load_klines, read_csv_table, read_header
from exchanges.sandbox.market.synthetic import MarketParams
from exchanges.sandbox.profile import BookProfile

__all__ = ["DEFAULT_PROFILES", "calibrate_market", "calibrate_profile", "default_profile"]

F64 = npt.NDArray[np.float64]
_EDGES = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 377, 610, 987)


def _decimals(text: str) -> int:
    return len(text.partition(".")[2])


def _touch_stats(symbol: str, ticks_dir: Path, tick: Decimal | None) -> tuple[int, float, Decimal]:
    """(median spread in ticks, median touch size, tick size) from the symbol's bookTicker capture."""
    files = discover([ticks_dir]).books.get(symbol)
    if not files:
        raise FileNotFoundError(f"no bookTicker capture for {symbol} in {ticks_dir}")
    header = read_header(files[0]) or []
    cols = (
        [header.index(c) for c in ("bid_price", "bid_qty", "ask_price", "ask_qty")]
        if header
        else [4, 5, 6, 7]
    )
    _, table = read_csv_table(files[0], cols)
    spread = table[:, 2] - table[:, 0]
    if tick is None:
        # The smallest positive spread is one tick in a liquid market; round away float noise.
        smallest = float(spread[spread > 0].min())
        tick = Decimal(repr(round(smallest, 10))).normalize()
    ticks = np.rint(spread / float(tick))
    touch = float(np.median(np.concatenate([table[:, 1], table[:, 3]])))
    return max(1, int(np.median(ticks))), touch, tick


def _depth_shape(snapshot: Path, tick: Decimal) -> list[tuple[int, float]]:
    """Average quantity per side in each distance band (ticks from the touch) of a depth snapshot."""
    book = json.loads(snapshot.read_text())
    tick_f = float(tick)
    bands: list[tuple[int, float]] = []
    sides = []
    for key, sign in (("bids", -1), ("asks", 1)):
        levels = np.asarray([[float(p), float(q)] for p, q in book[key]])
        dist = np.rint(sign * (levels[:, 0] - levels[0, 0]) / tick_f).astype(np.int64)
        sides.append((dist, levels[:, 1]))
    reach = min(int(d.max()) for d, _ in sides)
    prev = 0
    for edge in _EDGES:
        if edge > reach:
            break
        qty = np.mean([q[(d > prev) & (d <= edge)].sum() for d, q in sides])
        bands.append((edge, float(qty)))
        prev = edge
    return bands


def calibrate_profile(
    symbol: str,
    ticks_dir: Path | None,
    wire_dir: Path | None,
    *,
    tick_size: Decimal | None = None,
    step_size: Decimal | None = None,
) -> BookProfile:
    """A BookProfile for ``symbol`` from its bookTicker capture and (optionally) its depth snapshot.

    ``wire_dir`` holds ``sample_<symbol>_rest_depth_snapshot.json``; without it the depth beyond the
    touch follows the shape of the default profile, scaled to this touch size.
    """
    if ticks_dir is None:
        return default_profile(symbol, None)
    spread, touch, tick = _touch_stats(symbol, ticks_dir, tick_size)
    step = step_size or Decimal("0.001")
    snapshot = wire_dir / f"sample_{symbol.lower()}_rest_depth_snapshot.json" if wire_dir else None
    if snapshot is not None and snapshot.is_file():
        bands = _depth_shape(snapshot, tick)
    else:
        reference = DEFAULT_PROFILES["BTCUSDT"]
        ref_touch = float(reference.levels[0][1])
        bands = [(d, float(q) / ref_touch * touch) for d, q in reference.levels[1:]]
    levels = [(0, touch), *bands]
    return BookProfile(
        symbol=symbol,
        spread_ticks=spread,
        levels=tuple((d, max(step, Decimal(repr(q)).quantize(step, ROUND_HALF_EVEN))) for d, q in levels),
    )


def _profile(symbol: str, spread: int, levels: Sequence[tuple[int, str]]) -> BookProfile:
    return BookProfile(symbol=symbol, spread_ticks=spread, levels=tuple((d, Decimal(q)) for d, q in levels))


# calibrate_profile(sym, Path("../shared/data/ticks"), Path("../shared/data/wire/ws")) on the shared
# 2024-08-08 captures (BTC tick 0.10, ETH tick 0.01; quantities rounded to the 0.001 step).
DEFAULT_PROFILES: dict[str, BookProfile] = {
    "BTCUSDT": _profile(
        "BTCUSDT",
        1,
        [
            (0, "2.677"),
            (1, "0.348"),
            (2, "10.002"),
            (3, "0.002"),
            (5, "0.898"),
            (8, "0.002"),
            (13, "0.001"),
            (21, "0.038"),
            (34, "0.967"),
            (55, "0.180"),
            (89, "1.818"),
            (144, "6.388"),
            (233, "16.328"),
            (377, "29.184"),
            (610, "62.077"),
            (987, "106.582"),
        ],
    ),
    "ETHUSDT": _profile(
        "ETHUSDT",
        1,
        [
            (0, "13.340"),
            (1, "1.546"),
            (2, "1.678"),
            (3, "0.001"),
            (5, "0.001"),
            (8, "0.194"),
            (13, "0.874"),
            (21, "8.580"),
            (34, "7.664"),
            (55, "58.609"),
            (89, "162.074"),
            (144, "334.760"),
            (233, "699.933"),
            (377, "1025.532"),
            (610, "2308.388"),
            (987, "2677.251"),
        ],
    ),
}


def default_profile(symbol: str, price: float | None, step: Decimal = Decimal("0.001")) -> BookProfile:
    """The shipped profile of ``symbol``, or BTCUSDT's scaled to the same notional at ``price``."""
    known = DEFAULT_PROFILES.get(symbol)
    if known is not None:
        return known
    reference = DEFAULT_PROFILES["BTCUSDT"]
    factor = 100_000.0 / price if price else 1.0
    levels = tuple(
        (d, max(step, (q * Decimal(repr(factor))).quantize(step, ROUND_HALF_EVEN)))
        for d, q in reference.levels
    )
    return BookProfile(symbol=symbol, spread_ticks=reference.spread_ticks, levels=levels)


def _garch_variance(x: F64, beta: float, h0: float, block: int = 256) -> F64:
    """h[t] = x[t] + beta * h[t-1] (h[-1] = h0), computed blockwise with numpy."""
    n = x.shape[0]
    nb = -(-n // block)
    padded = np.zeros(nb * block)
    padded[:n] = x
    j = np.arange(block)
    powers = np.tril(beta ** (j[:, None] - j[None, :]).clip(0))
    local = padded.reshape(nb, block) @ powers.T
    decay = beta ** (j + 1)
    out = np.empty_like(local)
    carry = h0
    for k in range(nb):
        out[k] = local[k] + decay * carry
        carry = out[k, -1]
    return out.reshape(-1)[:n]


def _fit_garch(r: F64) -> tuple[float, float, float, F64]:
    """(omega, alpha, beta, conditional variance) maximising the Gaussian quasi-likelihood."""
    var = float(r.var())
    r2 = r * r
    best: tuple[float, float, float, float, F64] | None = None
    for persistence in (0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999):
        for alpha in (0.02, 0.04, 0.06, 0.08, 0.1, 0.13, 0.16, 0.2):
            beta = persistence - alpha
            if beta <= 0:
                continue
            omega = var * (1.0 - persistence)
            x = np.empty_like(r2)
            x[0] = omega + alpha * var
            x[1:] = omega + alpha * r2[:-1]
            h = _garch_variance(x, beta, var)
            nll = float(np.sum(np.log(h) + r2 / h))
            if best is None or nll < best[0]:
                best = (nll, omega, alpha, beta, h)
    assert best is not None
    return best[1], best[2], best[3], best[4]


def _fit_one(path_group: tuple[str, list[Path]]) -> dict[str, float]:
    symbol, files = path_group
    k = load_klines(symbol, files)
    r_all = np.diff(np.log(k.close))
    # Local volatility from an exponentially weighted variance of the previous hour.
    ewma = _garch_variance(np.r_[r_all[:1] ** 2, r_all[:-1] ** 2] * (1 / 60), 1 - 1 / 60, float(r_all.var()))
    jump = np.abs(r_all) > 6 * np.sqrt(ewma)
    r = r_all[~jump] - r_all[~jump].mean()
    omega, alpha, beta, h = _fit_garch(r)
    z = r / np.sqrt(h)
    kurt = float(np.mean(z**4) / np.mean(z**2) ** 2)
    t_df = 4.0 + 6.0 / max(kurt - 3.0, 0.2)
    sd_all = np.sqrt(ewma)
    log_range = np.log(k.high[1:] / k.low[1:])
    range_k = (log_range.mean() - np.abs(r_all).mean()) / (2 * math.sqrt(2 / math.pi) * sd_all.mean())
    notional = k.volume[1:] * k.close[1:]
    positive = notional > 0
    zabs = np.abs(r_all[positive]) / sd_all[positive]
    log_v = np.log(notional[positive])
    slope = float(np.polyfit(zabs, log_v, 1)[0])
    resid = log_v - np.polyval(np.polyfit(zabs, log_v, 1), zabs)
    return {
        "omega": omega,
        "alpha": alpha,
        "beta": beta,
        "t_df": min(max(t_df, 4.2), 30.0),
        "jump_prob": float(jump.mean()),
        "jump_sd": float(r_all[jump].std()) if jump.any() else 0.0,
        "range_k": float(max(range_k, 0.05)),
        "minute_notional": float(np.exp(np.mean(np.log(notional[positive])))),
        "volume_beta": slope,
        "volume_sigma": float(resid.std()),
    }


def calibrate_market(paths: Sequence[Path]) -> MarketParams:
    """Fit the synthetic market's parameters on the 1-minute kline files found in ``paths``.

    Each symbol is fitted separately and the parameters averaged (the notional geometrically).
    """
    groups = sorted(discover(paths).klines.items())
    if not groups:
        raise FileNotFoundError(f"no 1-minute kline files in {[str(p) for p in paths]}")
    fits = [_fit_one(group) for group in groups]
    mean = {key: float(np.mean([f[key] for f in fits])) for key in fits[0]}
    mean["minute_notional"] = float(np.exp(np.mean([np.log(f["minute_notional"]) for f in fits])))
    return MarketParams(**{key: round(value, 12) for key, value in mean.items()})
