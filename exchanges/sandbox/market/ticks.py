"""Loading real tick captures: trades (merged into aggTrades) and book tickers, as numpy arrays.

Layouts as in the shared ``ticks/`` folder (header row, gzip):

- ``*-trades-*.csv.gz``:
  ``local_ts_ns,event_time,trade_time,trade_id,price,qty,is_buyer_maker,exec_type``
- ``*-bookTicker-*.csv.gz``:
  ``local_ts_ns,event_time,transaction_time,update_id,bid_price,bid_qty,ask_price,ask_qty``

Columns are found by header name when there is a header (Binance's one-letter stream names ``T``,
``t``, ``p``, ``q``, ``m``, ``u``, ``b``, ``B``, ``a``, ``A`` are accepted too), so column order may
differ. Exchange times are used (``trade_time``, ``transaction_time``), never the capture host's clock.

Trades are merged into aggTrades as Binance does: consecutive trades at the same price with the same
taker side within 100 ms of the aggregate's first trade.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from exchanges.sandbox.market.grid import Grid
from exchanges.sandbox.market.klines import MarketDataError, read_csv_table, read_header

__all__ = ["AGG_WINDOW_MS", "AggTradeArrays", "BookArrays", "load_books", "load_trades"]

I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]
AGG_WINDOW_MS = 100

_TRADE_COLUMNS = {
    "time": ("trade_time", "T", "time", "transact_time"),
    "id": ("trade_id", "t", "id", "a", "agg_trade_id"),
    "price": ("price", "p"),
    "qty": ("qty", "q", "quantity"),
    "buyer_maker": ("is_buyer_maker", "m"),
}
_TRADE_DEFAULT = {"time": 2, "id": 3, "price": 4, "qty": 5, "buyer_maker": 6}
_BOOK_COLUMNS = {
    "time": ("transaction_time", "T", "event_time", "E"),
    "id": ("update_id", "u"),
    "bid": ("bid_price", "b"),
    "bid_qty": ("bid_qty", "B"),
    "ask": ("ask_price", "a"),
    "ask_qty": ("ask_qty", "A"),
}
_BOOK_DEFAULT = {"time": 2, "id": 3, "bid": 4, "bid_qty": 5, "ask": 6, "ask_qty": 7}


def _columns(path: Path, names: dict[str, tuple[str, ...]], default: dict[str, int]) -> list[int]:
    header = read_header(path)
    if header is None:
        return [default[key] for key in names]
    out: list[int] = []
    for key, options in names.items():
        found = next((header.index(opt) for opt in options if opt in header), None)
        if found is None:
            raise MarketDataError(f"{path}: no column for {key} (looked for {', '.join(options)})")
        out.append(found)
    return out


def _load(
    files: Sequence[Path], names: dict[str, tuple[str, ...]], default: dict[str, int]
) -> npt.NDArray[np.float64]:
    tables = [read_csv_table(path, _columns(path, names, default))[1] for path in files]
    table = np.concatenate(tables) if len(tables) > 1 else tables[0]
    if table.shape[0] == 0:
        raise MarketDataError(f"tick files are empty: {[str(p) for p in files]}")
    return table[np.argsort(table[:, 0], kind="stable")]


@dataclass(frozen=True, slots=True)
class AggTradeArrays:
    """aggTrades of a capture: exchange times, prices in ticks, quantities in steps, raw trade ids."""

    ts: I64
    price: I64
    qty: I64
    is_buyer_maker: BOOL
    first_raw: I64
    last_raw: I64
    raw_trades: int

    def __len__(self) -> int:
        return int(self.ts.shape[0])


@dataclass(frozen=True, slots=True)
class BookArrays:
    """Book tickers of a capture, in ticks and steps."""

    ts: I64
    update_id: I64
    bid: I64
    bid_qty: I64
    ask: I64
    ask_qty: I64

    def __len__(self) -> int:
        return int(self.ts.shape[0])


def load_trades(files: Sequence[Path], grid: Grid) -> AggTradeArrays:
    """Load raw trades and merge them into aggTrades."""
    table = _load(files, _TRADE_COLUMNS, _TRADE_DEFAULT)
    ts = table[:, 0].astype(np.int64)
    raw_id = table[:, 1].astype(np.int64)
    price = grid.price_ticks(table[:, 2])
    qty = grid.qty_steps(table[:, 3])
    maker = table[:, 4] != 0
    if np.any(price <= 0) or np.any(qty <= 0):
        raise MarketDataError(f"{files[0]}: trades with non-positive price or quantity")
    # Candidate breaks are vectorised; only runs of same price/side need the sequential 100 ms rule.
    breaks = np.ones(ts.shape[0], dtype=bool)
    breaks[1:] = (price[1:] != price[:-1]) | (maker[1:] != maker[:-1])
    starts: list[int] = []
    group_start_ts = -(10**18)
    for i in range(ts.shape[0]):
        if breaks[i] or ts[i] - group_start_ts >= AGG_WINDOW_MS:
            starts.append(i)
            group_start_ts = int(ts[i])
    idx = np.asarray(starts, dtype=np.int64)
    ends = np.append(idx[1:], ts.shape[0]) - 1
    return AggTradeArrays(
        ts=ts[idx],
        price=price[idx],
        qty=np.add.reduceat(qty, idx),
        is_buyer_maker=maker[idx],
        first_raw=raw_id[idx],
        last_raw=raw_id[ends],
        raw_trades=int(ts.shape[0]),
    )


def load_books(files: Sequence[Path], grid: Grid) -> BookArrays:
    """Load book tickers (crossed or empty books are dropped: they cannot be served)."""
    table = _load(files, _BOOK_COLUMNS, _BOOK_DEFAULT)
    bid, ask = grid.price_ticks(table[:, 2]), grid.price_ticks(table[:, 4])
    bid_qty, ask_qty = grid.qty_steps(table[:, 3]), grid.qty_steps(table[:, 5])
    ok = (bid > 0) & (ask > bid) & (bid_qty > 0) & (ask_qty > 0)
    return BookArrays(
        ts=table[ok, 0].astype(np.int64),
        update_id=table[ok, 1].astype(np.int64),
        bid=bid[ok],
        bid_qty=bid_qty[ok],
        ask=ask[ok],
        ask_qty=ask_qty[ok],
    )
