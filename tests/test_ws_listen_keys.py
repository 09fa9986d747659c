"""ListenKeyRegistry: Binance's listenKey lifecycle on an injected clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.clock import ManualClock
from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.server.listen_keys import ListenKeyRegistry

HOUR_MS = 3_600_000


def test_create_returns_the_same_key_while_valid_and_extends_it() -> None:
    clock = ManualClock(1_000_000)
    reg = ListenKeyRegistry(clock)
    key = reg.create("acct")
    assert len(key) == 64 and key.isalnum()
    clock.advance(HOUR_MS - 1)
    assert reg.create("acct") == key  # still valid: same key, extended to now + 60 min
    clock.advance(HOUR_MS - 1)
    assert reg.account_of(key) == "acct"
    clock.advance(1)
    assert reg.account_of(key) is None


def test_accounts_get_distinct_keys() -> None:
    reg = ListenKeyRegistry(ManualClock(0))
    assert reg.create("a") != reg.create("b")


def test_keepalive_extends_and_unknown_or_expired_is_1125() -> None:
    clock = ManualClock(0)
    reg = ListenKeyRegistry(clock)
    with pytest.raises(ExchangeError) as err:
        reg.keepalive("acct")
    assert err.value.code == -1125 and err.value.msg == "This listenKey does not exist."
    key = reg.create("acct")
    clock.advance(HOUR_MS - 10)
    assert reg.keepalive("acct") == key
    clock.advance(HOUR_MS - 10)
    assert reg.key_of("acct") == key
    clock.advance(10)
    with pytest.raises(ExchangeError) as err:
        reg.keepalive("acct")
    assert err.value.code == -1125
    assert reg.create("acct") != key  # a new key after expiry


def test_keepalive_with_a_wrong_key_is_1125() -> None:
    reg = ListenKeyRegistry(ManualClock(0))
    reg.create("acct")
    with pytest.raises(ExchangeError):
        reg.keepalive("acct", "x" * 64)


def test_delete_invalidates_then_1125() -> None:
    reg = ListenKeyRegistry(ManualClock(0))
    key = reg.create("acct")
    assert reg.delete("acct") == key
    assert reg.account_of(key) is None
    with pytest.raises(ExchangeError):
        reg.delete("acct")
    with pytest.raises(ExchangeError):
        reg.keepalive("acct")


def test_expire_due_reports_each_key_once_oldest_first() -> None:
    clock = ManualClock(0)
    reg = ListenKeyRegistry(clock)
    first = reg.create("a")
    clock.advance(1000)
    second = reg.create("b")
    assert reg.expire_due() == []
    clock.advance(HOUR_MS + 1000)
    assert reg.expire_due() == [(first, "a"), (second, "b")]
    assert reg.expire_due() == []
    assert len(reg) == 0


def test_ttl_follows_a_callable_changed_at_runtime() -> None:
    clock = ManualClock(0)
    ttl = {"s": 3600.0}
    reg = ListenKeyRegistry(clock, ttl_seconds=lambda: ttl["s"])
    ttl["s"] = 2.0
    key = reg.create("a")
    assert reg.expires_at(key) == 2000
    clock.advance(2000)
    assert reg.expire_due() == [(key, "a")]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["create", "keepalive", "delete", "wait"]), st.integers(0, 2 * HOUR_MS)),
        max_size=30,
    )
)
def test_registry_matches_a_simple_model(ops: list[tuple[str, int]]) -> None:
    """A key is valid exactly until its last create/keepalive + TTL, and never after a delete."""
    clock = ManualClock(0)
    reg = ListenKeyRegistry(clock)
    expires: int | None = None  # model: expiry of the account's key, None when it has none
    for op, arg in ops:
        now = clock.now_ms()
        valid = expires is not None and expires > now
        if op == "wait":
            clock.advance(arg)
        elif op == "create":
            reg.create("acct")
            expires = now + HOUR_MS
        elif op == "keepalive":
            if valid:
                reg.keepalive("acct")
                expires = now + HOUR_MS
            else:
                with pytest.raises(ExchangeError):
                    reg.keepalive("acct")
        else:
            if valid:
                reg.delete("acct")
            else:
                with pytest.raises(ExchangeError):
                    reg.delete("acct")
            expires = None
        now = clock.now_ms()
        assert (reg.key_of("acct") is not None) == (expires is not None and expires > now)
