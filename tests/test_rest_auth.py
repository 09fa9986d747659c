"""Pure tests of SIGNED endpoint security: API key, timestamp window, signature over query + body."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.server.auth import authenticate, check_timestamp, signed_payload
from exchanges.sandbox.server.params import Params

KEY, SECRET = "testkey123", "testsecret456"
NOW = 1_700_000_000_000


def secret_of(key: str) -> str | None:
    return SECRET if key == KEY else None


def hmac_hex(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def check(query: str, body: str = "", *, key: str | None = KEY, now: int = NOW) -> str:
    return authenticate(
        api_key=key,
        query=query,
        body=body,
        params=Params.from_request(query, body),
        now_ms=now,
        secret_of=secret_of,
    )


def signed_query(params: dict[str, object], secret: str = SECRET) -> str:
    q = urlencode(params)
    return f"{q}&signature={hmac_hex(secret, q)}"


def code_of(fn, *args, **kwargs) -> int:
    with pytest.raises(ExchangeError) as info:
        fn(*args, **kwargs)
    return info.value.code


def test_signature_in_query_string():
    assert check(signed_query({"symbol": "BTCUSDT", "timestamp": NOW})) == KEY


def test_signature_in_body_and_split_between_query_and_body():
    body = urlencode({"symbol": "BTCUSDT", "side": "BUY", "timestamp": NOW})
    assert check("", f"{body}&signature={hmac_hex(SECRET, body)}") == KEY
    query = "symbol=BTCUSDT"
    body = f"side=BUY&timestamp={NOW}"
    # totalParams is the query string concatenated with the body, exactly as sent.
    assert check(query, f"{body}&signature={hmac_hex(SECRET, query + body)}") == KEY
    assert check(f"{query}&signature={hmac_hex(SECRET, query + body)}", body) == KEY


def test_signature_is_case_insensitive_and_covers_percent_encoding():
    q = urlencode({"batchOrders": '[{"symbol":"BTCUSDT"}]', "timestamp": NOW})
    assert check(f"{q}&signature={hmac_hex(SECRET, q).upper()}") == KEY


def test_bad_signatures_are_1022():
    q = urlencode({"symbol": "BTCUSDT", "timestamp": NOW})
    assert code_of(check, f"{q}&signature={hmac_hex('other', q)}") == -1022
    assert code_of(check, f"{q}&signature=zz") == -1022
    assert code_of(check, f"{q}&signature={hmac_hex(SECRET, q)}".replace("BTC", "ETH")) == -1022
    assert code_of(check, q) == -1102  # no signature at all


def test_api_key_checks():
    q = signed_query({"timestamp": NOW})
    assert code_of(check, q, key=None) == -2014
    assert code_of(check, q, key="has space") == -2014
    assert code_of(check, q, key="") == -2014
    assert code_of(check, q, key="unknownkey") == -2015


@pytest.mark.parametrize(
    ("timestamp", "recv_window", "code"),
    [
        (NOW, None, None),
        (NOW - 5000, None, None),  # exactly recvWindow old: accepted
        (NOW - 5001, None, -1021),
        (NOW + 999, None, None),  # less than 1 s ahead: accepted
        (NOW + 1000, None, -1021),  # 1 s ahead: refused
        (NOW - 60000, 60000, None),
        (NOW - 60001, 60000, -1021),
        (NOW, 60001, -1130),
        (NOW, 0, -1130),
    ],
)
def test_timestamp_window_edges(timestamp, recv_window, code):
    params: dict[str, object] = {"timestamp": timestamp}
    if recv_window is not None:
        params["recvWindow"] = recv_window
    q = signed_query(params)
    if code is None:
        assert check(q) == KEY
    else:
        assert code_of(check, q) == code


def test_missing_or_malformed_timestamp():
    assert code_of(check, signed_query({"symbol": "X"})) == -1102
    assert code_of(check, signed_query({"timestamp": "12a"})) == -1100


def test_ahead_message_differs_from_stale_message():
    with pytest.raises(ExchangeError) as ahead:
        check(signed_query({"timestamp": NOW + 5000}))
    with pytest.raises(ExchangeError) as stale:
        check(signed_query({"timestamp": NOW - 50000}))
    assert "ahead" in ahead.value.msg and "recvWindow" in stale.value.msg


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=12), max_size=6))
def test_any_params_signed_with_the_secret_verify(params):
    params = {k: v for k, v in params.items() if k not in ("signature", "timestamp", "recvWindow")}
    params["timestamp"] = str(NOW)
    q = urlencode(params)
    payload, sig = signed_payload(f"{q}&signature=abc", "")
    assert payload == q and sig == "abc"
    assert check(f"{q}&signature={hmac_hex(SECRET, q)}") == KEY


# --- a sandbox clock running faster than real time --------------------------------------------------------


def _stamped(ts: int, recv_window: int | None = None) -> Params:
    query = f"timestamp={ts}" + (f"&recvWindow={recv_window}" if recv_window else "")
    return Params.from_request(query, "")


def test_fast_clock_accepts_sandbox_time_and_wall_time_stamps():
    from core.clock import ScaledClock

    clock = ScaledClock(start_ms=1_700_000_000_000, speed=10.0)
    wall_now = clock._wall0_epoch_ms + 60_000  # one wall minute later: ten sandbox minutes
    now = clock.from_wall_ms(wall_now)
    assert now == 1_700_000_000_000 + 600_000
    # A client synchronised with serverTime stamps sandbox time; ccxt or the SDK stamp their wall clock.
    check_timestamp(_stamped(now - 1000), now, wall_to_clock=clock.from_wall_ms, speed=10.0)
    check_timestamp(_stamped(wall_now - 1000), now, wall_to_clock=clock.from_wall_ms, speed=10.0)
    # The window scales: 4 wall seconds late is 40 sandbox seconds, still inside 5 s x 10.
    check_timestamp(_stamped(wall_now - 4000), now, wall_to_clock=clock.from_wall_ms, speed=10.0)
    with pytest.raises(ExchangeError) as late:
        check_timestamp(_stamped(wall_now - 6000), now, wall_to_clock=clock.from_wall_ms, speed=10.0)
    assert late.value.code == -1021
    with pytest.raises(ExchangeError) as stale:
        check_timestamp(_stamped(now - 6000), now)  # at speed 1 only the sandbox time base exists
    assert stale.value.code == -1021
