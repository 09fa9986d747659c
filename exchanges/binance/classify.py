"""The one table from a failed Binance call to the action it requires.

``classify(status, code, exc, is_order_placement=...)`` is pure and total: every combination of HTTP status,
Binance error code and local exception maps to exactly one :class:`~exchanges.errors.Action`. Precedence:

1. HTTP 418 (IP banned) and 429 (rate limited) are BACKOFF whatever the body says: Binance counts every
   request sent meanwhile towards a longer ban.
2. A known Binance code decides (:data:`CODE_ACTIONS`). Codes whose action depends on the request kind
   (:data:`EXECUTION_UNKNOWN_CODES`) are RETRY for reads and UNKNOWN_OUTCOME for order placements:
   Binance documents -1006/-1007 as "execution status unknown". For -1001 (and a 503 "Service
   Unavailable.") its general information page says the request certainly failed; we still treat a
   placement as UNKNOWN_OUTCOME, which costs one query by client id (answered -2013, so the order is then
   resent) and never a duplicate if that statement is ever wrong. -1000 is unknown by name.
3. No answer (``exc`` set, no status): a failure to *connect* (``aiohttp.ClientConnectorError``) means
   nothing was sent, so RETRY; any other exception (timeout, reset, unreadable body) may have hit the
   venue after the request left, so RETRY for reads and UNKNOWN_OUTCOME for placements.
4. By HTTP status alone, for codes not in the table:
   - 5xx and 408: the problem is on Binance's side and "the execution status is UNKNOWN and could have
     been a success" (Binance's general API information, which also says a 503 "Unknown error, please
     check your request or try again later." must not be treated as a failure) → RETRY / UNKNOWN_OUTCOME.
   - 401 → FATAL (credentials). 403 is Binance's WAF limit → BACKOFF.
   - any other 4xx: Binance says 4XX are "malformed requests; the issue is on the sender's side", i.e. the
     venue read the request and refused it. Resending the same bytes gets the same answer → REJECT. This
     is the conservative default for an unknown code: it never resends, never doubles an order, and
     surfaces the code to the caller.
   - a non-error status carrying an error code (per-item results of a batch arrive inside a 200) → REJECT.
5. Nothing at all (no status, code or exception) is treated like a lost answer: RETRY / UNKNOWN_OUTCOME.

:func:`to_error` builds the :class:`~exchanges.errors.VenueError` subclass for the action.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

import aiohttp

from exchanges.errors import (
    Action,
    BackoffError,
    BannedError,
    FatalError,
    RejectedError,
    RetryableError,
    UnknownOutcomeError,
    VenueError,
)

__all__ = [
    "BAN_BACKOFF_S",
    "CODE_ACTIONS",
    "DEFAULT_BACKOFF_S",
    "EXECUTION_UNKNOWN_CODES",
    "classify",
    "to_error",
]

# Seconds to hold off when a BACKOFF answer carries no Retry-After header.
DEFAULT_BACKOFF_S = 1.0
# Binance's shortest IP ban is 2 minutes; used when a 418 comes without Retry-After.
BAN_BACKOFF_S = 120.0

# Codes answered when the backend may or may not have executed the request: RETRY for reads,
# UNKNOWN_OUTCOME for order placements.
EXECUTION_UNKNOWN_CODES: frozenset[int] = frozenset(
    {
        -1000,  # UNKNOWN: an unknown error occurred while processing the request
        -1001,  # DISCONNECTED: internal error, unable to process your request
        -1006,  # UNEXPECTED_RESP: unexpected response from the message bus, execution status unknown
        -1007,  # TIMEOUT: timeout waiting for the backend, send status unknown, execution status unknown
    }
)

_R = Action.REJECT
_F = Action.FATAL
_B = Action.BACKOFF
_T = Action.RETRY

# Every Binance USDⓈ-M code with a deliberate action. Codes in EXECUTION_UNKNOWN_CODES are listed as
# RETRY here; classify() turns them into UNKNOWN_OUTCOME for placements.
CODE_ACTIONS: Mapping[int, Action] = MappingProxyType(
    {
        **dict.fromkeys(EXECUTION_UNKNOWN_CODES, _T),
        # 10xx: server, network, credentials.
        -1002: _F,  # UNAUTHORIZED: not authorized to execute this request
        -1003: _B,  # TOO_MANY_REQUESTS (429) / IP banned (418)
        -1004: _B,  # SERVER_BUSY: server is busy, please wait and try again
        -1008: _B,  # SERVER_BUSY: overloaded, try again in a few minutes (request not executed)
        -1011: _F,  # NON_WHITE_LIST: this IP cannot access this route
        -1014: _R,  # UNKNOWN_ORDER_COMPOSITION
        -1015: _B,  # TOO_MANY_ORDERS
        -1016: _R,  # SERVICE_SHUTTING_DOWN: this service is no longer available
        -1020: _R,  # UNSUPPORTED_OPERATION
        -1021: _T,  # INVALID_TIMESTAMP: the REST client resyncs its clock and retries once
        -1022: _F,  # INVALID_SIGNATURE
        -1023: _R,  # START_TIME_GREATER_THAN_END_TIME
        # 11xx: request issues. The request is wrong; sending it again gives the same answer.
        **dict.fromkeys(range(-1199, -1099), _R),
        # 2xxx: order and key issues.
        -2010: _R,  # NEW_ORDER_REJECTED
        -2011: _R,  # CANCEL_REJECTED / unknown order sent
        -2013: _R,  # NO_SUCH_ORDER
        -2014: _F,  # BAD_API_KEY_FMT
        -2015: _F,  # REJECTED_MBX_KEY: invalid API key, IP, or permissions for action
        -2017: _F,  # API_KEYS_LOCKED
        -2018: _R,  # BALANCE_NOT_SUFFICIENT
        -2019: _R,  # margin is insufficient
        -2020: _R,  # UNABLE_TO_FILL
        -2021: _R,  # ORDER_WOULD_IMMEDIATELY_TRIGGER
        -2022: _R,  # REDUCE_ONLY_REJECT
        -2023: _R,  # USER_IN_LIQUIDATION
        -2024: _R,  # POSITION_NOT_SUFFICIENT
        -2025: _R,  # MAX_OPEN_ORDER_EXCEEDED
        -2026: _R,  # REDUCE_ONLY_ORDER_TYPE_NOT_SUPPORTED
        -2027: _R,  # MAX_LEVERAGE_RATIO
        -2028: _R,  # MIN_LEVERAGE_RATIO
        # 4xxx: filters and order parameters; 5xxx: order features. All business refusals.
        **dict.fromkeys(range(-4999, -3999), _R),
        **dict.fromkeys(range(-5999, -4999), _R),
    }
)

_BAN_UNTIL = re.compile(r"banned until (\d+)")


def classify(
    status: int | None, code: int | None, exc: BaseException | None, *, is_order_placement: bool
) -> Action:
    """The action a failed call requires; see the module docstring for the rules and their order."""
    unknown = Action.UNKNOWN_OUTCOME if is_order_placement else Action.RETRY
    if status in (418, 429):
        return Action.BACKOFF
    if code is not None:
        action = CODE_ACTIONS.get(code)
        if action is not None:
            return unknown if code in EXECUTION_UNKNOWN_CODES else action
    if status is None:
        if isinstance(exc, aiohttp.ClientConnectorError):
            return Action.RETRY  # the connection never opened: nothing reached the venue
        return unknown
    if status >= 500 or status == 408:
        return unknown
    if status == 401:
        return Action.FATAL
    if status == 403:
        return Action.BACKOFF
    return Action.REJECT


def to_error(
    *,
    status: int | None,
    code: int | None,
    msg: str,
    exc: BaseException | None,
    endpoint: str,
    is_order_placement: bool,
    retry_after: float | None = None,
) -> VenueError:
    """The :class:`VenueError` for a failed call: ``classify`` picks the class, the answer fills it.

    ``retry_after`` is the ``Retry-After`` header in seconds, when the venue sent one. A 418 becomes a
    :class:`BannedError` whose ``until_ms`` is read from Binance's message ("IP banned until <ms>"), 0 when
    the message does not say.
    """
    action = classify(status, code, exc, is_order_placement=is_order_placement)
    if not msg and exc is not None:
        msg = f"{type(exc).__name__}: {exc}"
    if action is Action.BACKOFF:
        if status == 418:
            match = _BAN_UNTIL.search(msg)
            return BannedError(
                msg,
                status=status,
                code=code,
                endpoint=endpoint,
                retry_after=BAN_BACKOFF_S if retry_after is None else retry_after,
                until_ms=int(match.group(1)) if match else 0,
            )
        return BackoffError(
            msg,
            status=status,
            code=code,
            endpoint=endpoint,
            retry_after=DEFAULT_BACKOFF_S if retry_after is None else retry_after,
        )
    cls: type[VenueError] = _CLASSES[action]
    return cls(msg, status=status, code=code, endpoint=endpoint)


_CLASSES: Mapping[Action, type[VenueError]] = MappingProxyType(
    {
        Action.RETRY: RetryableError,
        Action.REJECT: RejectedError,
        Action.UNKNOWN_OUTCOME: UnknownOutcomeError,
        Action.FATAL: FatalError,
    }
)
