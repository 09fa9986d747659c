"""Intra-minute trade synthesis: every trade set is consistent with its bar (hypothesis)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from exchanges.sandbox.market.synth import (
    MAX_TRADES_PER_MINUTE,
    minute_rng,
    synthesize_minute,
    trade_counts,
)


@st.composite
def bars(draw: st.DrawFn) -> tuple[tuple[int, int, int, int], int, int]:
    lo = draw(st.integers(1, 10_000_000))
    h = lo + draw(st.integers(0, 5_000))
    o = draw(st.integers(lo, h))
    c = draw(st.integers(lo, h))
    volume = draw(st.integers(1, 2_000_000))
    n = draw(st.integers(1, MAX_TRADES_PER_MINUTE))
    return (o, h, lo, c), volume, n


@settings(max_examples=300, deadline=None)
@given(bars(), st.integers(0, 2**31))
def test_trades_match_their_bar(bar_volume_n, seed) -> None:
    bar, volume, n = bar_volume_n
    o, h, lo, c = bar
    trades = synthesize_minute(bar, volume, n, minute_rng(seed, "BTCUSDT", 7))
    m = len(trades)
    assert m == min(n, volume)
    assert int(trades.qty.sum()) == volume
    assert trades.qty.min() >= 1
    assert trades.price.min() >= lo and trades.price.max() <= h
    assert int(trades.price[-1]) == c
    if m >= 2:
        assert int(trades.price[0]) == o
    if m >= 4:
        assert int(trades.price.max()) == h and int(trades.price.min()) == lo
    assert np.all(np.diff(trades.offset_ms) >= 0)
    assert trades.offset_ms.min() >= 0 and trades.offset_ms.max() < 60_000
    moves = np.diff(trades.price)
    # An up-tick is a buyer taking the ask (buyer not maker); a down-tick a seller hitting the bid.
    assert not np.any(trades.is_buyer_maker[1:][moves > 0])
    assert np.all(trades.is_buyer_maker[1:][moves < 0])


def test_same_seed_symbol_minute_gives_same_trades() -> None:
    bar = (1000, 1030, 990, 1010)
    a = synthesize_minute(bar, 5000, 80, minute_rng(1, "BTCUSDT", 42))
    b = synthesize_minute(bar, 5000, 80, minute_rng(1, "BTCUSDT", 42))
    other = synthesize_minute(bar, 5000, 80, minute_rng(1, "BTCUSDT", 43))
    for field in ("offset_ms", "price", "qty", "is_buyer_maker"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.price, other.price) or not np.array_equal(a.qty, other.qty)


def test_empty_minute_has_no_trades() -> None:
    assert len(synthesize_minute((5, 5, 5, 5), 0, 0, minute_rng(0, "X", 0))) == 0


def test_trade_counts_grow_with_volume_and_stay_bounded() -> None:
    volume = np.array([0, 2, 100, 10_000, 40_000, 10_000_000], dtype=np.int64)
    counts = trade_counts(volume, typical_steps=10_000)
    assert counts[0] == 0 and counts[1] == 2  # never more trades than steps
    assert counts[2] < counts[3] < counts[4]
    assert counts[3] == 60
    assert counts.max() == MAX_TRADES_PER_MINUTE
