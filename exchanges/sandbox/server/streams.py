"""Stream names of the USDⓈ-M WebSocket and the route each one belongs to.

Binance split ``fstream`` into three routed paths (announcement 2026-03-06, legacy URLs retired 2026-04-23):
``/public`` carries high-frequency book data (``@bookTicker``, ``@depth...``), ``/market`` the regular market
data (``@aggTrade``, ``@markPrice``, ``@kline_<i>``, ``@ticker``, ``@miniTicker``, ...), ``/private`` user
data by listenKey. A connection without a routed path only receives ``/public`` data. Subscribing to a
stream on the wrong route is accepted and then delivers nothing, silently.
"""

from __future__ import annotations

import enum
import re

import msgspec

__all__ = [
    "KLINE_INTERVALS",
    "Route",
    "StreamKind",
    "StreamSpec",
    "parse_stream",
]


class Route(enum.StrEnum):
    PUBLIC = "public"
    MARKET = "market"
    PRIVATE = "private"


class StreamKind(enum.StrEnum):
    AGG_TRADE = "aggTrade"
    BOOK_TICKER = "bookTicker"
    ALL_BOOK_TICKER = "!bookTicker"
    MARK_PRICE = "markPrice"  # param: update period in ms (3000 or 1000)
    ALL_MARK_PRICE = "!markPrice@arr"  # param: update period in ms
    KLINE = "kline"  # param: interval
    PARTIAL_DEPTH = "depthN"  # param: "<levels>:<period ms>"
    DIFF_DEPTH = "depth"  # param: period ms
    TICKER = "ticker"  # 24 h rolling statistics, every 2 s
    MINI_TICKER = "miniTicker"  # the same, fewer fields, every 2 s
    ALL_TICKER = "!ticker@arr"  # every symbol whose ticker changed, every 1 s
    ALL_MINI_TICKER = "!miniTicker@arr"


KLINE_INTERVALS = (
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
)

_ROUTES: dict[StreamKind, Route] = {
    StreamKind.AGG_TRADE: Route.MARKET,
    StreamKind.MARK_PRICE: Route.MARKET,
    StreamKind.ALL_MARK_PRICE: Route.MARKET,
    StreamKind.KLINE: Route.MARKET,
    StreamKind.TICKER: Route.MARKET,
    StreamKind.MINI_TICKER: Route.MARKET,
    StreamKind.ALL_TICKER: Route.MARKET,
    StreamKind.ALL_MINI_TICKER: Route.MARKET,
    StreamKind.BOOK_TICKER: Route.PUBLIC,
    StreamKind.ALL_BOOK_TICKER: Route.PUBLIC,
    StreamKind.PARTIAL_DEPTH: Route.PUBLIC,
    StreamKind.DIFF_DEPTH: Route.PUBLIC,
}

# Update speeds from Binance's USDⓈ-M stream pages: per-symbol tickers 2000 ms, all-market arrays 1000 ms.
_TICKER_PERIODS_MS = {
    StreamKind.TICKER: 2000,
    StreamKind.MINI_TICKER: 2000,
    StreamKind.ALL_TICKER: 1000,
    StreamKind.ALL_MINI_TICKER: 1000,
}

_SYMBOL = r"(?P<sym>[a-z0-9]+)"
_PATTERNS: list[tuple[re.Pattern[str], StreamKind]] = [
    (re.compile(_SYMBOL + r"@aggTrade"), StreamKind.AGG_TRADE),
    (re.compile(_SYMBOL + r"@bookTicker"), StreamKind.BOOK_TICKER),
    (re.compile(r"!bookTicker"), StreamKind.ALL_BOOK_TICKER),
    (re.compile(_SYMBOL + r"@markPrice(?:@(?P<speed>1s|3s))?"), StreamKind.MARK_PRICE),
    (re.compile(r"!markPrice@arr(?:@(?P<speed>1s|3s))?"), StreamKind.ALL_MARK_PRICE),
    (re.compile(_SYMBOL + r"@kline_(?P<interval>\w+)"), StreamKind.KLINE),
    (re.compile(_SYMBOL + r"@ticker"), StreamKind.TICKER),
    (re.compile(_SYMBOL + r"@miniTicker"), StreamKind.MINI_TICKER),
    (re.compile(r"!ticker@arr"), StreamKind.ALL_TICKER),
    (re.compile(r"!miniTicker@arr"), StreamKind.ALL_MINI_TICKER),
    (re.compile(_SYMBOL + r"@depth(?P<levels>5|10|20)(?:@(?P<ms>100|250|500)ms)?"), StreamKind.PARTIAL_DEPTH),
    (re.compile(_SYMBOL + r"@depth(?:@(?P<ms>0|100|250|500)ms)?"), StreamKind.DIFF_DEPTH),
]


class StreamSpec(msgspec.Struct, frozen=True):
    """A parsed market stream: what it carries, for which symbol (upper case), with which parameters."""

    kind: StreamKind
    symbol: str  # "" for all-market streams
    interval: str = ""  # kline interval
    levels: int = 0  # partial depth levels
    period_ms: int = 0  # update period of throttled streams (exchange time)

    @property
    def route(self) -> Route:
        return _ROUTES[self.kind]


def parse_stream(name: str) -> StreamSpec | None:
    """Parse a market stream name as Binance spells it (lower-case symbol); None when it is not one we serve.

    Unknown names are still accepted by SUBSCRIBE (as on Binance) but never deliver anything.
    """
    for pattern, kind in _PATTERNS:
        m = pattern.fullmatch(name)
        if m is None:
            continue
        groups = m.groupdict()
        symbol = (groups.get("sym") or "").upper()
        if kind is StreamKind.KLINE:
            if groups["interval"] not in KLINE_INTERVALS:
                return None
            return StreamSpec(kind, symbol, interval=groups["interval"])
        if kind in (StreamKind.MARK_PRICE, StreamKind.ALL_MARK_PRICE):
            return StreamSpec(kind, symbol, period_ms=1000 if groups.get("speed") == "1s" else 3000)
        if kind is StreamKind.PARTIAL_DEPTH:
            return StreamSpec(kind, symbol, levels=int(groups["levels"]), period_ms=int(groups["ms"] or 250))
        if kind is StreamKind.DIFF_DEPTH:
            return StreamSpec(kind, symbol, period_ms=int(groups["ms"] or 250))
        if kind in _TICKER_PERIODS_MS:
            return StreamSpec(kind, symbol, period_ms=_TICKER_PERIODS_MS[kind])
        return StreamSpec(kind, symbol)
    return None
