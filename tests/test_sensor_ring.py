"""RingBuffer: a list model under hypothesis, zero-copy read-only views."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensors.messages import Bar
from sensors.ring import RingBuffer


def bar(close_time: int, value: float) -> Bar:
    return Bar("BTCUSDT", "1m", close_time, value, value + 2, value - 2, value + 1, value * 10, value * 3)


FIELDS = ("open", "high", "low", "close", "volume", "taker_buy_volume")


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=12),
    steps=st.lists(
        st.tuples(st.integers(min_value=-3, max_value=5), st.floats(-1e6, 1e6, allow_nan=False)),
        max_size=60,
    ),
)
def test_ring_matches_a_list_model(capacity: int, steps: list[tuple[int, float]]) -> None:
    ring = RingBuffer(capacity)
    model: list[Bar] = []
    close_time = 1_000
    for delta, value in steps:
        close_time += delta
        candidate = bar(close_time, value)
        accepted = not model or candidate.close_time > model[-1].close_time
        assert ring.append(candidate) is accepted
        if accepted:
            model.append(candidate)
        window = model[-capacity:]
        view = ring.bars()
        assert len(ring) == len(view) == len(window)
        assert ring.last_close_time == (model[-1].close_time if model else None)
        for field in FIELDS:
            assert getattr(view, field).tolist() == [getattr(b, field) for b in window]
        assert view.close_time.tolist() == [b.close_time for b in window]


def test_views_are_read_only_and_share_the_buffer() -> None:
    ring = RingBuffer(4)
    for i in range(7):
        ring.append(bar(i, float(i)))
    first = ring.bars()
    assert first.close.tolist() == [4.0, 5.0, 6.0, 7.0]
    assert first.close.flags.c_contiguous
    with pytest.raises(ValueError):
        first.close[0] = 1.0
    assert ring.bars() is first  # cached until the next append
    ring.append(bar(7, 7.0))
    second = ring.bars()
    assert np.shares_memory(first.close, second.close)  # views of one storage, no copy
    assert second.close.tolist() == [5.0, 6.0, 7.0, 8.0]
    assert second.close_time.dtype == np.int64
    assert second.close.dtype == np.float64


def test_refuses_older_or_equal_close_times() -> None:
    ring = RingBuffer(3)
    assert ring.append(bar(10, 1.0))
    assert not ring.append(bar(10, 2.0))
    assert not ring.append(bar(9, 3.0))
    assert ring.bars().close.tolist() == [2.0]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        RingBuffer(0)
