"""classify(): one action per (status, code, exception); a table test over every error the sandbox emits."""

from __future__ import annotations

import inspect
from decimal import Decimal

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.binance.classify import (
    BAN_BACKOFF_S,
    CODE_ACTIONS,
    DEFAULT_BACKOFF_S,
    EXECUTION_UNKNOWN_CODES,
    classify,
    to_error,
)
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
from exchanges.sandbox.errors import ExchangeError

# The deliberate action of every code the sandbox emits: (read, placement).
R, F, B, T, U = Action.REJECT, Action.FATAL, Action.BACKOFF, Action.RETRY, Action.UNKNOWN_OUTCOME
EXPECTED: dict[int, tuple[Action, Action]] = {
    -1000: (T, U),
    -1001: (T, U),
    -1002: (F, F),
    -1003: (B, B),
    -1007: (T, U),
    -1015: (B, B),
    -1020: (R, R),
    -1021: (T, T),
    -1022: (F, F),
    -1100: (R, R),
    -1101: (R, R),
    -1102: (R, R),
    -1104: (R, R),
    -1105: (R, R),
    -1106: (R, R),
    -1111: (R, R),
    -1115: (R, R),
    -1116: (R, R),
    -1117: (R, R),
    -1120: (R, R),
    -1121: (R, R),
    -1125: (R, R),
    -1127: (R, R),
    -1128: (R, R),
    -1130: (R, R),
    -2011: (R, R),
    -2013: (R, R),
    -2014: (F, F),
    -2015: (F, F),
    -2019: (R, R),
    -2021: (R, R),
    -2022: (R, R),
    -2025: (R, R),
    -2027: (R, R),
    -4001: (R, R),
    -4002: (R, R),
    -4003: (R, R),
    -4004: (R, R),
    -4005: (R, R),
    -4006: (R, R),
    -4014: (R, R),
    -4015: (R, R),
    -4016: (R, R),
    -4023: (R, R),
    -4024: (R, R),
    -4028: (R, R),
    -4045: (R, R),
    -4046: (R, R),
    -4047: (R, R),
    -4048: (R, R),
    -4059: (R, R),
    -4061: (R, R),
    -4067: (R, R),
    -4068: (R, R),
    -4116: (R, R),
    -4120: (R, R),
    -4135: (R, R),
    -4137: (R, R),
    -4164: (R, R),
    -4183: (R, R),
    -4184: (R, R),
    -5000: (R, R),
    -5021: (R, R),
    -5022: (R, R),
    -5040: (R, R),
    -5041: (R, R),
}

_SAMPLE_ARGS = {str: "symbol", int: 60_000, bool: True, Decimal: Decimal("123.45")}


def _sandbox_errors() -> list[tuple[str, ExchangeError]]:
    """Call every constructor of the sandbox's ExchangeError (every variant of the boolean ones)."""
    found: list[tuple[str, ExchangeError]] = []
    for name, attr in vars(ExchangeError).items():
        if not isinstance(attr, classmethod):
            continue
        ctor = getattr(ExchangeError, name)
        params = list(inspect.signature(ctor).parameters.values())
        hints = inspect.get_annotations(attr.__func__, eval_str=True)
        variants: list[dict[str, object]] = [{}]
        for param in params:
            kind = hints.get(param.name)
            if param.default is not inspect.Parameter.empty:
                continue
            if kind is bool:
                variants = [{**v, param.name: flag} for v in variants for flag in (True, False)]
            else:
                assert kind in _SAMPLE_ARGS, f"{name}: no sample value for {param.name}: {kind}"
                variants = [{**v, param.name: _SAMPLE_ARGS[kind]} for v in variants]
        for kwargs in variants:
            err = ctor(**kwargs)
            assert isinstance(err, ExchangeError)
            found.append((f"{name}({kwargs})", err))
    return found


SANDBOX_ERRORS = _sandbox_errors()


def test_introspection_finds_the_sandbox_constructors():
    names = {label.split("(")[0] for label, _ in SANDBOX_ERRORS}
    # A few well-known ones, so a broken introspection cannot make the table test vacuous.
    assert {"timeout", "banned", "margin_insufficient", "invalid_signature", "price_out_of_bounds"} <= names
    assert len(names) >= 60


@pytest.mark.parametrize(("label", "err"), SANDBOX_ERRORS, ids=[label for label, _ in SANDBOX_ERRORS])
def test_every_sandbox_error_has_a_deliberate_action(label: str, err: ExchangeError):
    assert err.code in CODE_ACTIONS, f"{label}: code {err.code} missing from the classification table"
    assert err.code in EXPECTED, f"{label}: code {err.code} has no expected action in this test"
    read, placement = EXPECTED[err.code]
    status = err.http_status
    if status == 418:
        read = placement = Action.BACKOFF
    assert classify(status, err.code, None, is_order_placement=False) is read, label
    assert classify(status, err.code, None, is_order_placement=True) is placement, label


@pytest.mark.parametrize(("label", "err"), SANDBOX_ERRORS, ids=[label for label, _ in SANDBOX_ERRORS])
def test_to_error_class_matches_the_action(label: str, err: ExchangeError):
    for placement in (False, True):
        venue_err = to_error(
            status=err.http_status,
            code=err.code,
            msg=err.msg,
            exc=None,
            endpoint="POST /fapi/v1/order",
            is_order_placement=placement,
        )
        assert venue_err.action is classify(err.http_status, err.code, None, is_order_placement=placement)
        assert (venue_err.status, venue_err.code, venue_err.msg) == (err.http_status, err.code, err.msg)
        assert venue_err.endpoint == "POST /fapi/v1/order"


def test_every_sandbox_code_is_in_the_expected_table_and_no_stale_entries():
    emitted = {err.code for _, err in SANDBOX_ERRORS}
    assert emitted == set(EXPECTED), f"stale or missing: {emitted ^ set(EXPECTED)}"


def test_banned_418_becomes_banned_error_with_until():
    err = ExchangeError.banned(1_700_000_123_456)
    venue = to_error(
        status=418,
        code=err.code,
        msg=err.msg,
        exc=None,
        endpoint="GET /fapi/v1/depth",
        is_order_placement=False,
        retry_after=7.0,
    )
    assert isinstance(venue, BannedError)
    assert venue.until_ms == 1_700_000_123_456
    assert venue.retry_after == 7.0
    no_header = to_error(
        status=418, code=-1003, msg="banned", exc=None, endpoint="", is_order_placement=False
    )
    assert isinstance(no_header, BannedError)
    assert no_header.retry_after == BAN_BACKOFF_S and no_header.until_ms == 0


def test_429_becomes_backoff_with_retry_after():
    err = ExchangeError.too_many_orders(300, "10 SECOND")
    venue = to_error(
        status=429, code=err.code, msg=err.msg, exc=None, endpoint="", is_order_placement=True, retry_after=3
    )
    assert type(venue) is BackoffError and venue.retry_after == 3
    default = to_error(status=429, code=None, msg="", exc=None, endpoint="", is_order_placement=False)
    assert type(default) is BackoffError and default.retry_after == DEFAULT_BACKOFF_S


def test_status_beats_code_for_rate_limits():
    # Whatever the body, 418/429 mean "stop sending".
    assert classify(429, -2019, None, is_order_placement=True) is Action.BACKOFF
    assert classify(418, None, None, is_order_placement=False) is Action.BACKOFF


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_side_statuses_without_code(status: int):
    # Binance: 5XX means the execution status is unknown; the 503 "Unknown error, please check your request
    # or try again later." body included.
    assert classify(status, None, None, is_order_placement=False) is Action.RETRY
    assert classify(status, None, None, is_order_placement=True) is Action.UNKNOWN_OUTCOME
    assert classify(status, -1000, None, is_order_placement=True) is Action.UNKNOWN_OUTCOME


def test_gateway_html_502_on_placement_is_unknown_outcome():
    venue = to_error(
        status=502,
        code=None,
        msg="<html>502 Bad Gateway</html>",
        exc=None,
        endpoint="",
        is_order_placement=True,
    )
    assert isinstance(venue, UnknownOutcomeError)


@pytest.mark.parametrize(
    "exc",
    [
        TimeoutError(),
        aiohttp.ServerDisconnectedError(),
        aiohttp.ClientPayloadError("truncated"),
        ConnectionResetError(),
    ],
)
def test_lost_answers(exc: BaseException):
    assert classify(None, None, exc, is_order_placement=False) is Action.RETRY
    assert classify(None, None, exc, is_order_placement=True) is Action.UNKNOWN_OUTCOME
    venue = to_error(status=None, code=None, msg="", exc=exc, endpoint="", is_order_placement=True)
    assert isinstance(venue, UnknownOutcomeError)
    assert type(exc).__name__ in venue.msg


def test_connect_failure_is_safe_to_retry_even_for_placements():
    key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
    exc = aiohttp.ClientConnectorError(key, OSError(111, "Connection refused"))
    assert classify(None, None, exc, is_order_placement=True) is Action.RETRY


def test_http_only_defaults():
    assert classify(401, None, None, is_order_placement=False) is Action.FATAL
    assert classify(403, None, None, is_order_placement=False) is Action.BACKOFF  # Binance's WAF limit
    assert classify(400, -9999, None, is_order_placement=True) is Action.REJECT  # unknown code: refuse
    assert classify(404, None, None, is_order_placement=False) is Action.REJECT
    assert classify(200, -4003, None, is_order_placement=True) is Action.REJECT  # batch item error
    assert classify(None, None, None, is_order_placement=True) is Action.UNKNOWN_OUTCOME


def test_timestamp_outside_recv_window_is_retry_even_for_placements():
    # -1021 is refused before the matching engine sees the order: resync and resend is safe.
    assert classify(400, -1021, None, is_order_placement=True) is Action.RETRY


def test_execution_unknown_codes_are_in_the_table():
    assert set(CODE_ACTIONS) >= EXECUTION_UNKNOWN_CODES
    assert {-1006, -1007} <= EXECUTION_UNKNOWN_CODES


_CLASS_OF = {
    Action.RETRY: RetryableError,
    Action.BACKOFF: BackoffError,
    Action.REJECT: RejectedError,
    Action.UNKNOWN_OUTCOME: UnknownOutcomeError,
    Action.FATAL: FatalError,
}


@given(
    status=st.one_of(st.none(), st.integers(100, 599)),
    code=st.one_of(st.none(), st.integers(-6000, 0)),
    placement=st.booleans(),
    lost=st.booleans(),
)
def test_classify_is_total_and_to_error_agrees(status, code, placement, lost):
    exc = TimeoutError() if lost else None
    action = classify(status, code, exc, is_order_placement=placement)
    assert isinstance(action, Action)
    if not placement:
        assert action is not Action.UNKNOWN_OUTCOME  # only placements can have an unknown outcome
    venue = to_error(
        status=status, code=code, msg="m", exc=exc, endpoint="GET /x", is_order_placement=placement
    )
    assert isinstance(venue, VenueError)
    assert isinstance(venue, _CLASS_OF[action])
    assert venue.action is action


def test_venue_error_str_names_action_endpoint_and_code():
    err = RejectedError("Margin is insufficient.", status=400, code=-2019, endpoint="POST /fapi/v1/order")
    assert str(err) == "reject POST /fapi/v1/order http 400 code -2019: Margin is insufficient."
    assert "RejectedError" in repr(err)
