"""Where a Binance USDⓈ-M venue lives: its REST base URL and its three routed WebSocket bases.

The connector is the same code for every venue; only these URLs (and the keys) differ.

WebSocket routing: Binance splits the USDⓈ-M stream host into three routed paths, ``/public``
(high-frequency book data such as ``@depth`` and ``@bookTicker``), ``/market`` (regular market data such
as ``@aggTrade``, ``@markPrice``, ``@kline``) and ``/private`` (user data by listenKey). A connection on
the wrong route receives nothing, silently. Each ``ws_*`` field is a route *base*: append
``/ws/<stream>`` for a raw stream or ``/stream?streams=a/b`` for combined frames.

Sources (checked against Binance's own material):

- live REST ``https://fapi.binance.com`` and stream host ``wss://fstream.binance.com``: Binance's USDⓈ-M
  docs ("Websocket Market Streams", developers.binance.com) and the official Python SDK
  (``binance_common.constants.DERIVATIVES_TRADING_USDS_FUTURES_REST_API_PROD_URL`` and
  ``..._WS_STREAMS_PROD_URL``);
  the routed paths ``/public``, ``/market``, ``/private``: Binance's "Market Data Streams" page ("USD-M
  Futures routes streams by path").
- demo (Demo Trading) REST ``https://demo-fapi.binance.com``: official SDK
  (``DERIVATIVES_TRADING_USDS_FUTURES_REST_API_DEMO_URL``); its stream host ``wss://demo-fstream.binance.com``
  is what demo-trading clients use (the SDK publishes no demo stream constant).
- testnet REST ``https://testnet.binancefuture.com`` and stream host ``wss://fstream.binancefuture.com``:
  official SDK (``..._REST_API_TESTNET_URL`` / ``..._WS_STREAMS_TESTNET_URL``).
- sandbox: our embedded exchange serves the three routes on the REST host and port
  (``exchanges/sandbox/server/ws.py``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import msgspec

__all__ = ["VENUE_NAMES", "Venue", "venue_preset"]


class Venue(msgspec.Struct, frozen=True):
    """One venue: REST base URL (no trailing slash) and the bases of its three WebSocket routes."""

    name: str
    rest_url: str
    ws_public: str
    ws_market: str
    ws_private: str

    @property
    def is_live(self) -> bool:
        """True for Binance's production venue, where orders spend real money."""
        return self.name == "live"


def _routed(name: str, rest_url: str, stream_host: str) -> Venue:
    return Venue(
        name=name,
        rest_url=rest_url,
        ws_public=f"{stream_host}/public",
        ws_market=f"{stream_host}/market",
        ws_private=f"{stream_host}/private",
    )


_PRESETS: dict[str, tuple[str, str]] = {
    "live": ("https://fapi.binance.com", "wss://fstream.binance.com"),
    "demo": ("https://demo-fapi.binance.com", "wss://demo-fstream.binance.com"),
    "testnet": ("https://testnet.binancefuture.com", "wss://fstream.binancefuture.com"),
}

VENUE_NAMES = (*_PRESETS, "sandbox")


def venue_preset(name: str, url: str | None = None) -> Venue:
    """The venue called ``name`` (``live``, ``demo``, ``testnet`` or ``sandbox``).

    ``url`` is required for ``sandbox`` (e.g. ``http://127.0.0.1:8765``): its WebSocket routes live on the
    same host and port (``ws://`` for ``http://``, ``wss://`` for ``https://``). For the other venues ``url``,
    when given, overrides the REST base only (e.g. a regional endpoint); the stream hosts stay Binance's.
    Raises ``ValueError`` for an unknown name or a malformed/missing URL.
    """
    key = name.strip().lower()
    if key == "sandbox":
        if not url:
            raise ValueError("the sandbox venue needs its URL, e.g. --url http://127.0.0.1:PORT")
        rest = _check_http_url(url)
        scheme = "wss" if rest.startswith("https://") else "ws"
        host = rest.split("://", 1)[1]
        return _routed("sandbox", rest, f"{scheme}://{host}")
    if key not in _PRESETS:
        raise ValueError(f"unknown venue {name!r}; expected one of {', '.join(VENUE_NAMES)}")
    rest_url, stream_host = _PRESETS[key]
    if url:
        rest_url = _check_http_url(url)
    return _routed(key, rest_url, stream_host)


def _check_http_url(url: str) -> str:
    """``url`` without trailing slash, path, query or fragment; refuses anything but http(s)://host[:port]."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http(s)://host[:port] URL, got {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"the venue URL must be a bare origin (scheme, host, port), got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"
