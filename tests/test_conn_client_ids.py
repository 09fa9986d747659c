"""Deterministic client ids: Binance's pattern and length, one id per (decision, leg, index), parseable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.binance.client_ids import (
    CLIENT_ID_RE,
    Leg,
    client_algo_id,
    client_order_id,
    parse_client_id,
)

decisions = st.text(min_size=1, max_size=80)
legs = st.sampled_from(list(Leg))
indexes = st.integers(min_value=0, max_value=99)
prefixes = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=6
)


@given(decisions, legs, indexes, prefixes)
def test_ids_fit_binance_rule_and_are_deterministic(decision: str, leg: Leg, index: int, prefix: str) -> None:
    cid = client_order_id(decision, leg, index, prefix=prefix)
    assert CLIENT_ID_RE.fullmatch(cid) and len(cid) <= 36
    assert cid == client_order_id(decision, leg.value, index, prefix=prefix)
    assert client_algo_id(decision, leg, index, prefix=prefix) == cid
    parts = parse_client_id(cid)
    assert parts is not None
    assert (parts.prefix, parts.leg, parts.index) == (prefix, leg, index)
    assert parts.decision in (decision, None)


@given(st.lists(st.tuples(decisions, legs, indexes), min_size=2, max_size=30, unique=True))
def test_distinct_inputs_give_distinct_ids(keys: list[tuple[str, Leg, int]]) -> None:
    ids = {client_order_id(d, leg, i) for d, leg, i in keys}
    assert len(ids) == len(keys)


def test_readable_decisions_stay_readable() -> None:
    assert client_order_id("BTC-20240101-42", Leg.ENTRY) == "cas-BTC-20240101-42-E0"
    assert client_order_id("d1", Leg.TAKE_PROFIT, 2) == "cas-d1-T2"
    parts = parse_client_id("cas-BTC-20240101-42-S0")
    assert parts is not None and parts.decision == "BTC-20240101-42" and parts.leg is Leg.STOP


def test_long_or_exotic_decisions_are_hashed() -> None:
    long_id = "x" * 40
    cid = client_order_id(long_id, Leg.ENTRY)
    assert cid.startswith("cas-.") and len(cid) <= 36
    # A decision that looks like a digest is hashed too, so it can never collide with one.
    looks_hashed = cid.split("-", 1)[1].rsplit("-", 1)[0]
    assert client_order_id(looks_hashed, Leg.ENTRY) != cid
    assert client_order_id("déjà vu", Leg.ENTRY).startswith("cas-.")
    parts = parse_client_id(cid)
    assert parts is not None and parts.decision is None


@pytest.mark.parametrize(
    ("decision", "leg", "index", "prefix"),
    [
        ("", Leg.ENTRY, 0, "cas"),
        ("d", "Q", 0, "cas"),
        ("d", Leg.ENTRY, 100, "cas"),
        ("d", Leg.ENTRY, 0, "c-s"),
    ],
)
def test_bad_inputs_are_refused(decision: str, leg: str, index: int, prefix: str) -> None:
    with pytest.raises(ValueError):
        client_order_id(decision, leg, index, prefix=prefix)


@pytest.mark.parametrize(
    "other", ["x-xcKtGhcu68f8383451844295b3e8b9", "web_abc", "cas-d-Z1", "cas-d-E01", "a b"]
)
def test_foreign_ids_are_not_ours(other: str) -> None:
    assert parse_client_id(other) is None
