"""CandleAggregator: 1-minute candles from trades on exchange time, rolled up into higher timeframes.

Pure (no I/O, no clock of its own): it is fed :class:`~core.types.Trade`s and, so that quiet minutes close
too, the session time through :meth:`CandleAggregator.advance`. Every method returns the candles that closed
because of that call, in order: by close time, and at one close time the 1-minute candle first, then the
higher timeframes closing with it from the shortest to the longest.

Binance's kline semantics, which these follow:

- a candle covers ``[open_time, open_time + length)`` with ``close_time = open_time + length - 1``, aligned
  on multiples of its length since the epoch (all intervals of :data:`core.config_engine.INTERVALS` are
  fixed lengths, ``1d`` included);
- a minute without trades still closes: a flat candle at the previous close with zero volume and trades;
- a higher-timeframe candle is the roll-up of its minutes: first open, highest high, lowest low, last
  close, summed volumes and trade counts.

When a minute closes: on the first trade of a later minute, or when ``advance(now_ms)`` reaches its end
(``now_ms >= open_time + 60 s``). The caller chooses how late it calls ``advance`` (the Engine waits a short
grace so trades still in flight are not cut off). A trade for a minute already closed is *late*: it is
counted (:attr:`late`) and ignored, never folded into a candle already handed out.

Seeding from warm-up history (:meth:`seed`), so live candles continue it without a duplicate or a missing bar:

- the 1-minute history rebuilds the open higher-timeframe periods (each period's minutes so far), so the
  history must reach back to the start of the longest open period (or be the venue's whole history);
- the still-open last minute of the history is, by default, *not* taken over: its partial values were a
  snapshot at the REST call, and live trades after it would either double count or miss the trades between
  that snapshot and the stream's start. The caller replays that minute's trades instead (REST aggTrades
  since its open, then the stream deduplicated by aggTrade id), which is exact. ``keep_open=True`` takes the
  partial values as the minute's base for callers that have no trade history;
- ``delivered`` names, per timeframe, the newest candle the caller already has from the venue (the warm-up
  klines). Candles of the 1-minute roll-up that closed after it are returned (the catch-up when the
  requests straddled a boundary), and it or anything older is never emitted again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import msgspec

from core.config_engine import INTERVALS
from core.types import ZERO, Candle, Trade

__all__ = ["MINUTE_MS", "CandleAggregator", "interval_ms", "interval_open"]

MINUTE_MS = 60_000
_LENGTH_MS: dict[str, int] = {
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 60 * MINUTE_MS,
    "2h": 120 * MINUTE_MS,
    "4h": 240 * MINUTE_MS,
    "6h": 360 * MINUTE_MS,
    "8h": 480 * MINUTE_MS,
    "12h": 720 * MINUTE_MS,
    "1d": 1440 * MINUTE_MS,
}
assert tuple(_LENGTH_MS) == INTERVALS


def interval_ms(interval: str) -> int:
    """Length of one ``interval`` candle in ms (``ValueError`` for an interval the engine does not build)."""
    try:
        return _LENGTH_MS[interval]
    except KeyError:
        raise ValueError(f"unknown timeframe {interval!r}; expected one of {', '.join(INTERVALS)}") from None


def interval_open(interval: str, ts: int) -> int:
    """Open time of the ``interval`` candle containing ``ts`` (epoch-aligned, as Binance's klines)."""
    size = interval_ms(interval)
    return ts // size * size


def _open(candle: Candle) -> Candle:
    return msgspec.structs.replace(candle, closed=False)


class _Bar:
    """A candle being built: mutable, and only ever turned into a frozen :class:`Candle` when it closes."""

    __slots__ = (
        "close",
        "high",
        "low",
        "open",
        "open_time",
        "quote_volume",
        "taker_buy_quote_volume",
        "taker_buy_volume",
        "trades",
        "volume",
    )

    def __init__(self, open_time: int, price: Decimal) -> None:
        self.open_time = open_time
        self.open = self.high = self.low = self.close = price
        self.volume = ZERO
        self.quote_volume = ZERO
        self.taker_buy_volume = ZERO
        self.taker_buy_quote_volume = ZERO
        self.trades = 0

    @classmethod
    def of(cls, candle: Candle, open_time: int) -> _Bar:
        bar = cls(open_time, candle.open)
        bar.high, bar.low, bar.close = candle.high, candle.low, candle.close
        bar.add_volumes(candle)
        return bar

    def add_trade(self, trade: Trade) -> None:
        price, qty = trade.price, trade.qty
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.close = price
        quote = price * qty
        self.volume += qty
        self.quote_volume += quote
        self.trades += 1
        if not trade.is_buyer_maker:  # the buyer was the taker
            self.taker_buy_volume += qty
            self.taker_buy_quote_volume += quote

    def add_candle(self, candle: Candle) -> None:
        self.high = max(self.high, candle.high)
        self.low = min(self.low, candle.low)
        self.close = candle.close
        self.add_volumes(candle)

    def add_volumes(self, candle: Candle) -> None:
        self.volume += candle.volume
        self.quote_volume += candle.quote_volume
        self.trades += candle.trades
        self.taker_buy_volume += candle.taker_buy_volume
        self.taker_buy_quote_volume += candle.taker_buy_quote_volume

    def candle(self, symbol: str, interval: str, length: int) -> Candle:
        return Candle(
            symbol=symbol,
            interval=interval,
            open_time=self.open_time,
            close_time=self.open_time + length - 1,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
            quote_volume=self.quote_volume,
            trades=self.trades,
            taker_buy_volume=self.taker_buy_volume,
            taker_buy_quote_volume=self.taker_buy_quote_volume,
            closed=True,
        )


class _Rollup:
    """One higher timeframe of one symbol: the open period's accumulated minutes."""

    __slots__ = ("bar", "complete", "delivered", "interval", "length")

    def __init__(self, interval: str) -> None:
        self.interval = interval
        self.length = interval_ms(interval)
        self.bar: _Bar | None = None
        self.complete = True  # False when the period's first minutes are not known
        self.delivered = -1  # open time of the newest candle the caller already has


class _Symbol:
    """The per-symbol state: the minute being built and the open period of every higher timeframe."""

    __slots__ = ("delivered_1m", "last_close", "minute", "minute_open", "origin", "rollups")

    def __init__(self, timeframes: Iterable[str]) -> None:
        self.minute_open: int | None = None  # open time of the minute being built
        self.minute: _Bar | None = None  # None until the minute's first trade
        self.last_close: Decimal | None = None  # close of the last closed minute (flat minutes repeat it)
        self.origin: int | None = None  # first minute of the venue's history, when known to be complete
        self.delivered_1m = -1
        self.rollups = [_Rollup(tf) for tf in timeframes]


class CandleAggregator:
    """Builds 1-minute candles from trades and rolls them up into ``timeframes`` (see the module docstring).

    ``timeframes`` are any of :data:`core.config_engine.INTERVALS`; ``1m`` is always built (every higher
    timeframe is made from it) but only returned when listed.
    """

    def __init__(self, timeframes: Sequence[str]) -> None:
        if not timeframes:
            raise ValueError("at least one timeframe is needed")
        for tf in timeframes:
            interval_ms(tf)
        ordered = sorted(set(timeframes), key=interval_ms)
        self._emit_1m = "1m" in ordered
        self._higher = tuple(tf for tf in ordered if tf != "1m")
        self.timeframes: tuple[str, ...] = tuple(ordered)
        self._symbols: dict[str, _Symbol] = {}
        self.late: dict[str, int] = {}  # trades for a minute already closed, per symbol

    # --- seeding ---------------------------------------------------------------------------------------

    def seed(
        self,
        symbol: str,
        minutes: Sequence[Candle],
        *,
        delivered: Mapping[str, int] | None = None,
        truncated: bool = True,
        keep_open: bool = False,
    ) -> list[Candle]:
        """Start ``symbol`` from its 1-minute history (oldest first; the last one may be open).

        ``delivered``: per timeframe, the open time of the newest closed candle the caller already has;
        a timeframe missing from it counts as having nothing. Returns the roll-up's closed candles newer
        than that (complete periods only). ``truncated``: the history may not be the venue's whole history
        (a period whose first minute is missing is then not emitted). ``keep_open``: see the module
        docstring. Raises ``ValueError`` for candles that are not 1-minute, unaligned or out of order, or
        if ``symbol`` already has live state.
        """
        if symbol in self._symbols:
            raise ValueError(f"{symbol} is already seeded or live; seed each symbol once, before its trades")
        previous = -1
        for candle in minutes:
            if candle.symbol != symbol or candle.interval != "1m" or candle.open_time % MINUTE_MS:
                raise ValueError(f"seed history must be aligned 1m candles of {symbol}, got {candle!r}")
            if candle.open_time <= previous:
                raise ValueError(f"{symbol} seed history is not in increasing open-time order")
            previous = candle.open_time
        if any(not c.closed for c in minutes[:-1]):
            raise ValueError(f"{symbol} seed history: only the last candle may be open")
        state = _Symbol(self._higher)
        delivered = delivered or {}
        state.delivered_1m = delivered.get("1m", -1)
        for rollup in state.rollups:
            rollup.delivered = delivered.get(rollup.interval, -1)
        if minutes and not truncated:
            state.origin = minutes[0].open_time
        self._symbols[symbol] = state
        out: list[Candle] = []
        for candle in minutes:
            if not candle.closed:
                state.minute_open = candle.open_time
                if keep_open:
                    state.minute = _Bar.of(candle, candle.open_time)
                break
            state.minute_open = candle.open_time + MINUTE_MS
            self._close(symbol, state, candle, out)
        return out

    # --- feeding ---------------------------------------------------------------------------------------

    def is_late(self, trade: Trade) -> bool:
        """Would this trade fall in a minute that has already closed?"""
        state = self._symbols.get(trade.symbol)
        return state is not None and state.minute_open is not None and trade.ts < state.minute_open

    def on_trade(self, trade: Trade) -> list[Candle]:
        """Add one trade (already validated); returns the candles that closed before its minute."""
        state = self._symbols.get(trade.symbol)
        if state is None:
            # Nothing is known before this trade: its minute is the first, and complete.
            state = self._symbols[trade.symbol] = _Symbol(self._higher)
        minute = trade.ts - trade.ts % MINUTE_MS
        if state.minute_open is None:
            state.minute_open = minute
            if state.origin is None:
                state.origin = minute
        if minute < state.minute_open:
            self.late[trade.symbol] = self.late.get(trade.symbol, 0) + 1
            return []
        out = self._close_until(trade.symbol, state, minute)
        if state.minute is None:
            state.minute = _Bar(minute, trade.price)
        state.minute.add_trade(trade)
        return out

    def advance(self, now_ms: int) -> list[Candle]:
        """Close, for every symbol, each minute that ended at or before ``now_ms`` (trades or not)."""
        minute = now_ms - now_ms % MINUTE_MS
        out: list[Candle] = []
        for symbol, state in self._symbols.items():
            out.extend(self._close_until(symbol, state, minute))
        out.sort(key=lambda c: c.close_time)  # stable: per symbol and moment 1m first, then higher
        return out

    # --- reads -----------------------------------------------------------------------------------------

    @property
    def symbols(self) -> tuple[str, ...]:
        """Symbols seeded or seen."""
        return tuple(self._symbols)

    def minute_open(self, symbol: str) -> int | None:
        """Open time of the minute ``symbol`` is building (None before its first history or trade)."""
        state = self._symbols.get(symbol)
        return None if state is None else state.minute_open

    def open_candle(self, symbol: str, interval: str) -> Candle | None:
        """The still-open ``interval`` candle of ``symbol`` so far (``closed=False``), if it has a price."""
        state = self._symbols.get(symbol)
        if state is None or state.minute_open is None:
            return None
        minute = state.minute
        if minute is None and state.last_close is None:
            return None
        length = interval_ms(interval)
        if interval == "1m":
            bar = minute or _Bar(state.minute_open, state.last_close or ZERO)
            return _open(bar.candle(symbol, interval, length))
        rollup = next(r for r in state.rollups if r.interval == interval)
        period = interval_open(interval, state.minute_open)
        base = rollup.bar
        if minute is not None:
            current = minute.candle(symbol, "1m", MINUTE_MS)
            if base is None:
                return _open(_Bar.of(current, period).candle(symbol, interval, length))
            merged = _Bar.of(base.candle(symbol, interval, length), period)
            merged.add_candle(current)
            return _open(merged.candle(symbol, interval, length))
        if base is None:
            return None
        return _open(base.candle(symbol, interval, length))

    # --- internals -------------------------------------------------------------------------------------

    def _close_until(self, symbol: str, state: _Symbol, minute: int) -> list[Candle]:
        out: list[Candle] = []
        if state.minute_open is None:
            return out
        while state.minute_open < minute:
            bar = state.minute
            if bar is None and state.last_close is not None:
                bar = _Bar(state.minute_open, state.last_close)  # a minute without trades: flat
            if bar is not None:
                self._close(symbol, state, bar.candle(symbol, "1m", MINUTE_MS), out)
            state.minute = None
            state.minute_open += MINUTE_MS
        return out

    def _close(self, symbol: str, state: _Symbol, candle: Candle, out: list[Candle]) -> None:
        """Fold one closed minute into the roll-ups; append what closes (when new to the caller)."""
        state.last_close = candle.close
        if candle.open_time > state.delivered_1m:
            if self._emit_1m:
                out.append(candle)
            state.delivered_1m = candle.open_time
        end = candle.open_time + MINUTE_MS
        for rollup in state.rollups:
            period = candle.open_time - candle.open_time % rollup.length
            if rollup.bar is None or rollup.bar.open_time != period:
                rollup.bar = _Bar.of(candle, period)
                rollup.complete = candle.open_time in (period, state.origin)
            else:
                rollup.bar.add_candle(candle)
            if end == period + rollup.length:
                if rollup.complete and period > rollup.delivered:
                    out.append(rollup.bar.candle(symbol, rollup.interval, rollup.length))
                    rollup.delivered = period
                rollup.bar = None
