"""Helpers for the market-data tests: instruments, small kline/tick files, and the real data's location."""

from __future__ import annotations

import gzip
import io
import os
import random
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from core.types import Instrument, SymbolFilters
from tests.helpers import shared_data_dir

MINUTE = 60_000
# A fixed "now" for ManualClock: 2026-01-01 00:00:30 UTC (mid-minute, just after a funding time).
NOW0 = 1_767_225_630_000


def instrument(symbol: str, tick: str = "0.10", step: str = "0.001") -> Instrument:
    """A perpetual with the given tick and step sizes (other filters loose)."""
    filters = SymbolFilters(
        tick_size=Decimal(tick),
        min_price=Decimal(tick),
        max_price=Decimal("10000000"),
        step_size=Decimal(step),
        min_qty=Decimal(step),
        max_qty=Decimal("100000"),
        market_step_size=Decimal(step),
        market_min_qty=Decimal(step),
        market_max_qty=Decimal("100000"),
        min_notional=Decimal("5"),
        multiplier_up=Decimal("1.05"),
        multiplier_down=Decimal("0.95"),
    )
    return Instrument(
        symbol=symbol,
        base_asset=symbol.removesuffix("USDT"),
        quote_asset="USDT",
        margin_asset="USDT",
        price_precision=2,
        quantity_precision=3,
        base_asset_precision=8,
        quote_precision=8,
        filters=filters,
    )


def instruments(*symbols: str) -> dict[str, Instrument]:
    ticks = {"BTCUSDT": ("0.10", "0.001"), "ETHUSDT": ("0.01", "0.001")}
    return {s: instrument(s, *ticks.get(s, ("0.01", "0.01"))) for s in symbols}


def random_bars(n: int, seed: int, start: float = 50_000.0, tick: float = 0.1) -> list[tuple[float, ...]]:
    """``n`` consistent 1-minute bars (open, high, low, close, volume) on the tick grid."""
    rnd = random.Random(seed)
    price = round(start / tick)
    rows: list[tuple[float, ...]] = []
    for _ in range(n):
        o = price
        c = max(1, o + rnd.randint(-40, 40))
        h = max(o, c) + rnd.randint(0, 20)
        lo = max(1, min(o, c) - rnd.randint(0, 20))
        vol = 0.0 if rnd.random() < 0.03 else round(rnd.uniform(0.5, 40.0), 3)
        rows.append((o * tick, h * tick, lo * tick, c * tick, vol))
        price = c
    return rows


def kline_text(
    bars: list[tuple[float, ...]], first_open: int, *, columns: int = 7, header: bool = True
) -> str:
    """CSV text of ``bars`` in the 7-column subset or Binance's 12-column public-data layout."""
    lines = []
    if header:
        names = "open_time,open,high,low,close,volume,close_time"
        if columns == 12:
            names += ",quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
        lines.append(names)
    for i, (o, h, lo, c, v) in enumerate(bars):
        t = first_open + i * MINUTE
        row = [str(t), f"{o:.1f}", f"{h:.1f}", f"{lo:.1f}", f"{c:.1f}", f"{v:.3f}", str(t + MINUTE - 1)]
        if columns == 12:
            row += [f"{v * c:.4f}", "17", f"{v / 2:.3f}", f"{v * c / 2:.4f}", "0"]
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def write_klines(path: Path, text: str) -> Path:
    """Write ``text`` as plain CSV, gzip or zip according to ``path``'s suffix."""
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as out:
            out.write(text)
    elif path.name.endswith(".zip"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            archive.writestr(path.name.removesuffix(".zip") + ".csv", text)
        path.write_bytes(buf.getvalue())
    else:
        path.write_text(text)
    return path


def real_klines_dir() -> Path:
    """The shared klines folder (CASINO_DATA_DIR, else ../shared/data/klines), or skip."""
    env = os.environ.get("CASINO_DATA_DIR")
    if env and Path(env).is_dir() and any(Path(env).glob("*-1m-*")):
        return Path(env)
    base = shared_data_dir()
    if base is None or not (base / "klines").is_dir():
        pytest.skip("real kline data is not available")
    return base / "klines"


def real_data_dir(part: str) -> Path:
    """``ticks`` or ``wire/ws`` beside the shared klines folder, or skip."""
    path = real_klines_dir().parent / part
    if not path.is_dir():
        pytest.skip(f"{path} is not available")
    return path
