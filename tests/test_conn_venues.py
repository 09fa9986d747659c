"""Venue presets: REST bases and the three routed WebSocket bases for live, demo, testnet and sandbox."""

from __future__ import annotations

import pytest

from exchanges.binance.venues import VENUE_NAMES, Venue, venue_preset


def test_live_preset_uses_binance_routed_stream_paths() -> None:
    v = venue_preset("live")
    assert v == Venue(
        "live",
        "https://fapi.binance.com",
        "wss://fstream.binance.com/public",
        "wss://fstream.binance.com/market",
        "wss://fstream.binance.com/private",
    )
    assert v.is_live


@pytest.mark.parametrize(
    ("name", "rest", "stream_host"),
    [
        ("demo", "https://demo-fapi.binance.com", "wss://demo-fstream.binance.com"),
        ("testnet", "https://testnet.binancefuture.com", "wss://fstream.binancefuture.com"),
    ],
)
def test_paper_venues(name: str, rest: str, stream_host: str) -> None:
    v = venue_preset(name.upper())
    assert (v.name, v.rest_url) == (name, rest)
    assert (v.ws_public, v.ws_market, v.ws_private) == (
        f"{stream_host}/public",
        f"{stream_host}/market",
        f"{stream_host}/private",
    )
    assert not v.is_live


def test_sandbox_routes_live_on_the_same_host_and_port() -> None:
    v = venue_preset("sandbox", "http://127.0.0.1:8765/")
    assert v.rest_url == "http://127.0.0.1:8765"
    assert v.ws_public == "ws://127.0.0.1:8765/public"
    assert v.ws_market == "ws://127.0.0.1:8765/market"
    assert v.ws_private == "ws://127.0.0.1:8765/private"
    tls = venue_preset("sandbox", "https://[::1]:9000")
    assert tls.ws_market == "wss://[::1]:9000/market"


def test_rest_override_keeps_binance_stream_hosts() -> None:
    v = venue_preset("live", "https://fapi1.binance.com")
    assert v.rest_url == "https://fapi1.binance.com"
    assert v.ws_market == "wss://fstream.binance.com/market"


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("sandbox", None),
        ("sandbox", ""),
        ("sandbox", "ftp://127.0.0.1:1"),
        ("sandbox", "127.0.0.1:8700"),
        ("sandbox", "http://127.0.0.1:8700/fapi"),
        ("sandbox", "http://127.0.0.1:8700?x=1"),
        ("mainnet", None),
    ],
)
def test_bad_venues_are_refused(name: str, url: str | None) -> None:
    with pytest.raises(ValueError):
        venue_preset(name, url)


def test_every_name_is_a_preset() -> None:
    assert set(VENUE_NAMES) == {"live", "demo", "testnet", "sandbox"}
    for name in VENUE_NAMES:
        assert venue_preset(name, "http://127.0.0.1:1").name == name
