"""Validator: each rejection rule, per-symbol counters, rate-limited logging, and what moves the marks."""

from __future__ import annotations

import itertools
import logging
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.types import MarkPrice, Trade
from core.validation import Reason, Validator

T0 = 1_767_225_600_000


def trade(tid: int, ts: int, price: str = "100", qty: str = "1", symbol: str = "BTCUSDT") -> Trade:
    return Trade(
        symbol=symbol, trade_id=tid, price=Decimal(price), qty=Decimal(qty), is_buyer_maker=False, ts=ts
    )


def mark(ts: int, price: str = "100", *, index: str = "100", rate: str = "0.0001") -> MarkPrice:
    return MarkPrice(
        symbol="BTCUSDT",
        mark_price=Decimal(price),
        index_price=Decimal(index),
        funding_rate=Decimal(rate),
        next_funding_time=T0 + 3_600_000,
        ts=ts,
    )


@pytest.mark.parametrize(
    ("price", "qty", "reason"),
    [
        ("NaN", "1", Reason.NOT_FINITE),
        ("100", "sNaN", Reason.NOT_FINITE),
        ("Infinity", "1", Reason.NOT_FINITE),
        ("100", "-Infinity", Reason.NOT_FINITE),
        ("0", "1", Reason.NON_POSITIVE),
        ("-1", "1", Reason.NON_POSITIVE),
        ("100", "0", Reason.NON_POSITIVE),
    ],
)
def test_bad_values_are_rejected(price: str, qty: str, reason: Reason) -> None:
    v = Validator(120)
    assert v.check_trade(trade(1, T0, price, qty), T0) is reason
    assert v.counts() == {(reason.value, "BTCUSDT"): 1} and v.accepted == 0
    assert v.last_trade("BTCUSDT") is None  # a rejected trade does not move the marks


def test_out_of_order_by_time_or_id_per_symbol() -> None:
    v = Validator(120)
    assert v.check_trade(trade(10, T0 + 1000), T0 + 1000) is None
    assert v.check_trade(trade(11, T0 + 999), T0 + 1000) is Reason.OUT_OF_ORDER  # older
    assert v.check_trade(trade(10, T0 + 1000), T0 + 1000) is Reason.OUT_OF_ORDER  # duplicate id
    assert v.check_trade(trade(9, T0 + 2000), T0 + 2000) is Reason.OUT_OF_ORDER  # id going back
    assert v.check_trade(trade(11, T0 + 1000), T0 + 1000) is None  # same ms, next id: fine
    assert v.check_trade(trade(1, T0, symbol="ETHUSDT"), T0) is None  # other symbols are independent
    assert v.by_reason() == {"out_of_order": 3} and v.last_trade("BTCUSDT") == (T0 + 1000, 11)


def test_stale_against_the_receipt_time_and_skippable_for_history() -> None:
    v = Validator(120)
    assert v.check_trade(trade(1, T0), T0 + 120_000) is None  # exactly at the limit
    assert v.check_trade(trade(2, T0 + 1), T0 + 120_002) is Reason.STALE
    assert v.check_trade(trade(3, T0 + 2), None) is None  # history replayed on purpose
    assert v.counts() == {("stale", "BTCUSDT"): 1}


def test_mark_prices() -> None:
    v = Validator(2)
    assert v.check_mark(mark(T0), T0) is None
    assert v.check_mark(mark(T0 + 1000, rate="-0.0005"), T0 + 1000) is None  # negative funding is fine
    assert v.check_mark(mark(T0 + 500), T0 + 1000) is Reason.OUT_OF_ORDER
    assert v.check_mark(mark(T0 + 2000, "NaN"), T0 + 2000) is Reason.NOT_FINITE
    assert v.check_mark(mark(T0 + 2000, rate="Infinity"), T0 + 2000) is Reason.NOT_FINITE
    assert v.check_mark(mark(T0 + 2000, index="0"), T0 + 2000) is Reason.NON_POSITIVE
    assert v.check_mark(mark(T0 + 2000), T0 + 4001) is Reason.STALE
    assert v.accepted == 2 and v.rejected == 5


def test_rejections_are_logged_with_the_symbol_first_then_every_nth(caplog: pytest.LogCaptureFixture) -> None:
    v = Validator(120, log_every=3)
    with caplog.at_level(logging.WARNING, logger="casino.validation"):
        for i in range(7):
            v.check_trade(trade(i, T0, "0"), T0)
        v.reject(Reason.LATE, "ETHUSDT", "trade 5 at 0")
    lines = [(r.__dict__.get("symbol"), r.getMessage()) for r in caplog.records]
    assert [s for s, _ in lines] == ["BTCUSDT", "BTCUSDT", "BTCUSDT", "ETHUSDT"]  # 1st, 3rd, 6th, then ETH
    assert "non_positive" in lines[0][1] and "(3 so far" in lines[1][1] and "late" in lines[3][1]
    assert v.counts() == {("non_positive", "BTCUSDT"): 7, ("late", "ETHUSDT"): 1}


def test_bad_settings_fail() -> None:
    with pytest.raises(ValueError, match="stale_after_s"):
        Validator(0)
    with pytest.raises(ValueError, match="log_every"):
        Validator(1, log_every=0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.integers(-3_000, 3_000), st.sampled_from(["1", "0", "NaN", "-2"])),
        max_size=60,
    )
)
def test_accepted_trades_are_strictly_increasing_and_every_event_is_counted(
    events: list[tuple[int, int, str]],
) -> None:
    v = Validator(2)
    accepted: list[Trade] = []
    for tid, dt, qty in events:
        t = trade(tid, T0 + dt, qty=qty)
        if v.check_trade(t, T0) is None:
            accepted.append(t)
    assert v.accepted + v.rejected == len(events) == len(accepted) + sum(v.counts().values())
    assert all(a.trade_id < b.trade_id and a.ts <= b.ts for a, b in itertools.pairwise(accepted))
    assert all(a.qty > 0 and T0 - a.ts <= 2000 for a in accepted)
