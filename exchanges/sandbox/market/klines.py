"""Finding market-data files and loading 1-minute klines into numpy arrays.

Two kline layouts are read, with or without a header row, as plain CSV, gzip or zip:

- Binance's public-data layout: 12 columns (``open_time, open, high, low, close, volume, close_time,
  quote_volume, count, taker_buy_volume, taker_buy_quote_volume, ignore``);
- its first 7 columns (``open_time, open, high, low, close, volume, close_time``), as in the shared data.

Only the first six columns are used: everything else the sandbox serves is derived from them.
The symbol comes from the file name (``BTCUSDT-PERP-1m-...csv.gz``, ``BTCUSDT-1m-2025-05.zip``).
"""

from __future__ import annotations

import gzip
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = [
    "MINUTE_MS",
    "DataFiles",
    "KlineArrays",
    "MarketDataError",
    "discover",
    "load_klines",
    "read_csv_table",
    "read_header",
]

MINUTE_MS = 60_000

_NAME = re.compile(
    r"^(?P<symbol>[A-Z0-9]{2,30}?)(?:[-_]PERP)?[-_](?P<kind>1m|trades|aggTrades|bookTicker)(?=[-_.])",
    re.IGNORECASE,
)
_SUFFIXES = (".csv", ".csv.gz", ".gz", ".zip")

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class MarketDataError(ValueError):
    """A data file cannot be used as given: fix or remove the file named in the message."""


@dataclass(slots=True)
class DataFiles:
    """Market-data files found under the given paths, grouped by symbol and kind."""

    klines: dict[str, list[Path]] = field(default_factory=dict)
    trades: dict[str, list[Path]] = field(default_factory=dict)
    books: dict[str, list[Path]] = field(default_factory=dict)
    ignored: list[Path] = field(default_factory=list)

    def all_files(self) -> list[Path]:
        """Every recognised file, for the startup banner."""
        out: list[Path] = []
        for group in (self.klines, self.trades, self.books):
            for files in group.values():
                out.extend(files)
        return sorted(out)


def _candidates(paths: Iterable[Path]) -> Iterable[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.iterdir() if p.is_file())
        elif path.is_file():
            yield path
        else:
            raise MarketDataError(f"market data path does not exist: {path}")


def discover(paths: Sequence[Path]) -> DataFiles:
    """Group the data files among ``paths`` (files or folders, not recursive) by symbol and kind."""
    found = DataFiles()
    for path in _candidates(paths):
        match = _NAME.match(path.name)
        if match is None or not path.name.lower().endswith(_SUFFIXES):
            found.ignored.append(path)
            continue
        symbol = match["symbol"].upper()
        kind = match["kind"].lower()
        group = found.klines if kind == "1m" else found.books if kind == "bookticker" else found.trades
        group.setdefault(symbol, []).append(path)
    return found


def _read_bytes(path: Path) -> bytes:
    name = path.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".csv")]
            if len(members) != 1:
                raise MarketDataError(f"{path}: expected one CSV inside the zip, found {members}")
            return archive.read(members[0])
    if name.endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            return stream.read()
    return path.read_bytes()


def read_header(path: Path) -> list[str] | None:
    """The column names of a CSV file, or None when its first row is data."""
    name = path.name.lower()
    if name.endswith(".zip"):
        first = _read_bytes(path)[:4096]
    elif name.endswith(".gz"):
        with gzip.open(path, "rb") as stream:
            first = stream.readline()
    else:
        with path.open("rb") as stream:
            first = stream.readline()
    line = first.partition(b"\n")[0].decode(errors="replace").strip()
    return None if not line or line[:1].isdigit() else line.split(",")


def read_csv_table(path: Path, columns: Sequence[int]) -> tuple[list[str] | None, F64]:
    """The numeric ``columns`` of a CSV file as float64 rows, and its header if it has one.

    Booleans written as ``True``/``False`` are read as 1/0.
    """
    raw = _read_bytes(path)
    first_line, _, _ = raw[:4096].partition(b"\n")
    header: list[str] | None = None
    if first_line and not first_line.strip()[:1].isdigit():
        header = first_line.decode().strip().split(",")
    raw = raw.replace(b"True", b"1").replace(b"False", b"0").replace(b"true", b"1").replace(b"false", b"0")
    try:
        table = np.loadtxt(
            io.BytesIO(raw),
            delimiter=",",
            skiprows=1 if header else 0,
            usecols=tuple(columns),
            dtype=np.float64,
            ndmin=2,
        )
    except ValueError as exc:
        raise MarketDataError(f"{path}: not a numeric CSV in the expected layout ({exc})") from exc
    return header, table


@dataclass(frozen=True, slots=True)
class KlineArrays:
    """Contiguous 1-minute bars of one symbol (float prices as written in the files)."""

    symbol: str
    files: tuple[Path, ...]
    open_time: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    filled_gaps: int  # minutes absent from the files, filled with flat zero-volume bars

    def __len__(self) -> int:
        return int(self.open_time.shape[0])


def load_klines(symbol: str, files: Sequence[Path]) -> KlineArrays:
    """Load, merge, de-duplicate and gap-fill the 1-minute kline files of one symbol."""
    tables = [read_csv_table(path, range(6))[1] for path in files]
    table = np.concatenate(tables) if len(tables) > 1 else tables[0]
    if table.shape[0] == 0:
        raise MarketDataError(f"{symbol}: kline files are empty: {[str(p) for p in files]}")
    times = table[:, 0].astype(np.int64)
    # Newer public-data files stamp in microseconds; Binance futures klines are in milliseconds.
    times = np.where(times > 10**14, times // 1000, times)
    if np.any(times % MINUTE_MS):
        raise MarketDataError(f"{symbol}: open times are not whole minutes: not 1-minute klines?")
    order = np.argsort(times, kind="stable")
    times, table = times[order], table[order]
    keep = np.ones(times.shape[0], dtype=bool)
    keep[1:] = times[1:] != times[:-1]
    times, table = times[keep], table[keep]
    if not np.all(np.isfinite(table[:, 1:6])) or np.any(table[:, 1:5] <= 0) or np.any(table[:, 5] < 0):
        raise MarketDataError(f"{symbol}: kline files hold non-finite, non-positive or negative values")

    minute = (times - times[0]) // MINUTE_MS
    n = int(minute[-1]) + 1
    o = np.full(n, np.nan)
    h, lo, c, v = o.copy(), o.copy(), o.copy(), np.zeros(n)
    o[minute], h[minute], lo[minute], c[minute], v[minute] = (table[:, k] for k in range(1, 6))
    # A minute missing from the files had no trades: a flat bar at the previous close, as Binance shows it.
    present = np.zeros(n, dtype=bool)
    present[minute] = True
    last = np.maximum.accumulate(np.where(present, np.arange(n), 0))
    fill = c[last]
    o, h, lo, c = (np.where(present, arr, fill) for arr in (o, h, lo, c))
    # Repair bars whose high/low do not bracket open and close (seen in hand-edited files).
    h = np.maximum(h, np.maximum(o, c))
    lo = np.minimum(lo, np.minimum(o, c))
    open_time = times[0] + np.arange(n, dtype=np.int64) * MINUTE_MS
    return KlineArrays(symbol, tuple(files), open_time, o, h, lo, c, v, n - int(times.shape[0]))
