"""SIGNED endpoint security, as Binance checks it: API key, timestamp window, HMAC-SHA256 signature.

The signature is ``hex(HMAC-SHA256(secret, totalParams))`` where ``totalParams`` is the query string
concatenated with the request body, exactly as sent, without the ``signature`` parameter itself.
The timestamp rule is Binance's: accepted when ``timestamp < serverTime + 1000`` and
``serverTime - timestamp <= recvWindow``. Everything here is pure: ``now_ms`` comes from the caller's
clock (which already includes any injected skew).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable

from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.server.params import Params

__all__ = [
    "DEFAULT_RECV_WINDOW",
    "MAX_RECV_WINDOW",
    "authenticate",
    "check_api_key",
    "check_timestamp",
    "sign",
    "signed_payload",
]

DEFAULT_RECV_WINDOW = 5000
MAX_RECV_WINDOW = 60000
# How far ahead of the server a client's timestamp may be (Binance's fixed 1 s).
FUTURE_TOLERANCE_MS = 1000
# Printable, no whitespace, bounded: what an API key header can be before we even look it up.
_API_KEY_RE = re.compile(r"[\x21-\x7e]{1,128}")
_SIGNATURE_RE = re.compile(r"[0-9a-fA-F]{64}")


def sign(secret: str, payload: str) -> str:
    """The hex HMAC-SHA256 of ``payload`` under ``secret`` (what a client sends as ``signature``)."""
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def _split_signature(raw: str) -> tuple[str, str | None]:
    """``raw`` without its ``signature=...`` pair, and the signature found there (if any)."""
    if "signature=" not in raw:
        return raw, None
    kept: list[str] = []
    found: str | None = None
    for piece in raw.split("&"):
        if piece.startswith("signature="):
            if found is None:
                found = piece[len("signature=") :]
        else:
            kept.append(piece)
    return "&".join(kept), found


def signed_payload(query: str, body: str) -> tuple[str, str | None]:
    """``(totalParams, signature)``: the exact bytes the client signed and the signature it sent."""
    q, sig_q = _split_signature(query)
    b, sig_b = _split_signature(body)
    return q + b, sig_q if sig_q is not None else sig_b


def check_api_key(api_key: str | None, secret_of: Callable[[str], str | None]) -> str:
    """The secret of ``api_key``: -2014 when the header is missing or malformed, -2015 when unknown."""
    if api_key is None or not _API_KEY_RE.fullmatch(api_key):
        raise ExchangeError.api_key_format()
    secret = secret_of(api_key)
    if secret is None:
        raise ExchangeError.rejected_api_key()
    return secret


def check_timestamp(
    params: Params, now_ms: int, *, wall_to_clock: Callable[[int], int] | None = None, speed: float = 1.0
) -> None:
    """-1102 without ``timestamp``; -1130 for a recvWindow over 60000; -1021 outside the window.

    When the sandbox clock runs ``speed``× faster, a client may stamp requests with the sandbox's time (it
    synchronised with serverTime, as our connector does) or with its own wall clock (as ccxt and Binance's SDK
    do). Both are accepted: a wall-clock stamp is mapped through the clock's anchor and speed, and its
    recvWindow scales with the speed, so the timestamp check scales with the clock as the venue's would.
    """
    timestamp = params.req_int("timestamp")
    recv_window = params.opt_int("recvWindow")
    if recv_window is None:
        recv_window = DEFAULT_RECV_WINDOW
    if not 0 < recv_window <= MAX_RECV_WINDOW:
        raise ExchangeError.bad_param("recvWindow", str(recv_window))
    first = _window_error(timestamp, now_ms, recv_window, 1.0)
    if first is None:
        return
    mapped = wall_to_clock(timestamp) if wall_to_clock is not None and speed != 1.0 else None
    if mapped is not None and _window_error(mapped, now_ms, recv_window, speed) is None:
        return
    raise first


def _window_error(timestamp: int, now_ms: int, recv_window: int, scale: float) -> ExchangeError | None:
    if timestamp >= now_ms + FUTURE_TOLERANCE_MS * scale:
        return ExchangeError.timestamp_ahead()
    if now_ms - timestamp > recv_window * scale:
        return ExchangeError.timestamp_outside_window()
    return None


def authenticate(
    *,
    api_key: str | None,
    query: str,
    body: str,
    params: Params,
    now_ms: int,
    secret_of: Callable[[str], str | None],
    wall_to_clock: Callable[[int], int] | None = None,
    speed: float = 1.0,
) -> str:
    """Check a SIGNED request in Binance's order and return the account (its API key).

    Order: API key (-2014/-2015), timestamp and recvWindow (-1102/-1130/-1021), signature (-1022).
    """
    secret = check_api_key(api_key, secret_of)
    account = api_key or ""
    check_timestamp(params, now_ms, wall_to_clock=wall_to_clock, speed=speed)
    payload, signature = signed_payload(query, body)
    if not signature:
        raise ExchangeError.mandatory_missing("signature")
    if not _SIGNATURE_RE.fullmatch(signature):
        raise ExchangeError.invalid_signature()
    if not hmac.compare_digest(sign(secret, payload), signature.lower()):
        raise ExchangeError.invalid_signature()
    return account
