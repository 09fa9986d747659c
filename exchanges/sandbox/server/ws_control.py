"""Control messages a client sends on a stream connection: SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS,
SET_PROPERTY and GET_PROPERTY, answered as Binance does (``{"result": ..., "id": ...}`` or
``{"error": {"code", "msg"}, "id": ...}``), plus the per-connection incoming-message rate limit.

Pure: it mutates the hub's subscription index and returns the answer's bytes; the socket layer sends them.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import msgspec

from exchanges.sandbox.server.hub import MAX_STREAMS_PER_CONNECTION, Connection, Hub
from exchanges.sandbox.server.ws_codec import RequestId, control_error, control_result

__all__ = ["MessageRate", "handle_control"]

_METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_MAX_STRING_ID = 64


class _BadRequestError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _request_id(raw: dict[str, Any]) -> RequestId:
    if "id" not in raw:
        raise _BadRequestError(2, "Invalid request: request ID must be an unsigned integer")
    rid = raw["id"]
    # Binance documents an unsigned integer; its own SDKs also send UUID strings, which it accepts.
    if rid is None or (isinstance(rid, str) and len(rid) <= _MAX_STRING_ID):
        return rid
    if isinstance(rid, int) and not isinstance(rid, bool) and rid >= 0:
        return rid
    raise _BadRequestError(2, "Invalid request: request ID must be an unsigned integer")


def _stream_params(raw: dict[str, Any]) -> list[str]:
    params = raw.get("params")
    if not isinstance(params, list) or not all(isinstance(p, str) for p in params):
        raise _BadRequestError(2, "Invalid request: params must be an array of stream names")
    return params


def _property_name(raw: dict[str, Any], count: int) -> tuple[str, list[Any]]:
    params = raw.get("params")
    if not isinstance(params, list) or len(params) != count:
        raise _BadRequestError(2, "Invalid request: invalid number of params")
    name = params[0]
    if not isinstance(name, str):
        raise _BadRequestError(2, "Invalid request: property name must be a string")
    if name != "combined":
        raise _BadRequestError(0, "Unknown property")
    return name, params


def handle_control(hub: Hub, conn: Connection, text: str | bytes) -> bytes:
    """Apply one control message to ``conn`` and return the answer to send back."""
    try:
        raw = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        return control_error(3, f"Invalid JSON: {exc}", None)
    if not isinstance(raw, dict):
        return control_error(2, "Invalid request: expected a JSON object", None)
    rid: RequestId = None
    try:
        rid = _request_id(raw)
        method = raw.get("method")
        if not isinstance(method, str):
            raise _BadRequestError(2, "Invalid request: missing field `method`")
        if method not in _METHODS:
            expected = ", ".join(_METHODS)
            raise _BadRequestError(
                2, f"Invalid request: unknown variant {method}, expected one of {expected}"
            )
        return control_result(_apply(hub, conn, method, raw), rid)
    except _BadRequestError as bad:
        return control_error(bad.code, bad.msg, rid)


def _apply(hub: Hub, conn: Connection, method: str, raw: dict[str, Any]) -> object:
    if method == "SUBSCRIBE":
        if not hub.subscribe(conn, _stream_params(raw)):
            raise _BadRequestError(
                2,
                f"Invalid request: too many streams (at most {MAX_STREAMS_PER_CONNECTION} per connection)",
            )
        return None
    if method == "UNSUBSCRIBE":
        hub.unsubscribe(conn, _stream_params(raw))
        return None
    if method == "LIST_SUBSCRIPTIONS":
        return list(conn.streams)
    if method == "SET_PROPERTY":
        _, params = _property_name(raw, 2)
        if not isinstance(params[1], bool):
            raise _BadRequestError(1, "Invalid value type: expected Boolean")
        conn.combined = params[1]
        return None
    _property_name(raw, 1)  # GET_PROPERTY
    return conn.combined


class MessageRate:
    """Sliding one-second window of incoming messages: Binance disconnects a client above 10 per second."""

    def __init__(self, limit: int = 10, window_s: float = 1.0) -> None:
        self.limit = limit
        self.window_s = window_s
        self._times: deque[float] = deque()

    def hit(self, now_s: float) -> bool:
        """Count one message at ``now_s`` (monotonic seconds); False when the limit is exceeded."""
        times = self._times
        times.append(now_s)
        horizon = now_s - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        return len(times) <= self.limit
