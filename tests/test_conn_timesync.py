"""TimeSync: offset = server - midpoint of the round trip, from the quickest of the recent samples."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.binance.timesync import TimeSample, TimeSync


def test_no_sample_means_no_offset():
    sync = TimeSync()
    assert sync.offset_ms == 0 and sync.round_trip_ms is None
    assert sync.server_time(1_000) == 1_000


def test_round_trip_compensation():
    sync = TimeSync()
    # Sent at 1000, answered at 1100: the server stamped 5000 at our 1050.
    sync.add_sample(1_000, 5_000, 1_100)
    assert sync.offset_ms == 3_950
    assert sync.round_trip_ms == 100
    assert sync.server_time(2_000) == 5_950


def test_negative_offset_when_we_are_ahead():
    sync = TimeSync()
    sync.add_sample(10_000, 9_000, 10_010)
    assert sync.offset_ms == -1_005
    assert sync.server_time(10_005) == 9_000


def test_quickest_round_trip_wins():
    sync = TimeSync(window=8)
    sync.add_sample(0, 1_000, 400)  # slow: midpoint guess is poor
    sync.add_sample(1_000, 1_510, 1_020)  # quick: true offset about 500
    sync.add_sample(2_000, 2_900, 2_300)
    assert sync.offset_ms == 500
    assert sync.round_trip_ms == 20


def test_old_samples_age_out():
    sync = TimeSync(window=3)
    sync.add_sample(0, 100, 2)  # very quick, offset 99
    for t in (1_000, 2_000, 3_000):
        sync.add_sample(t, t + 250, t + 50)  # offset 225
    assert sync.samples == 3
    assert sync.offset_ms == 225


def test_ties_prefer_the_newest_sample():
    sync = TimeSync()
    sync.add_sample(0, 100, 10)
    sync.add_sample(1_000, 1_300, 1_010)
    assert sync.offset_ms == 295


def test_reset_forgets_everything():
    sync = TimeSync()
    sync.add_sample(0, 10_000, 10)
    sync.reset()
    assert sync.offset_ms == 0 and sync.samples == 0


def test_answer_before_send_is_refused():
    with pytest.raises(ValueError):
        TimeSync().add_sample(100, 0, 99)
    with pytest.raises(ValueError):
        TimeSync(window=0)


def test_rounding_of_odd_round_trips():
    assert TimeSample(0, 10, 1).offset_ms == 10  # 9.5 rounds away from zero
    assert TimeSample(0, -10, 1).offset_ms == -11  # -10.5 rounds away from zero
    assert TimeSample(0, 0, 3).offset_ms == -2  # -1.5 → -2


@given(
    true_offset=st.integers(-(10**7), 10**7),
    base=st.integers(10**12, 2 * 10**12),
    legs=st.lists(st.tuples(st.integers(0, 2_000), st.integers(0, 2_000)), min_size=1, max_size=20),
)
def test_error_is_bounded_by_half_the_best_round_trip(true_offset, base, legs):
    """The server stamps somewhere inside the round trip: the offset is off by at most half of it."""
    sync = TimeSync(window=8)
    t = base
    for up, down in legs:
        sent = t
        server = sent + up + true_offset
        received = sent + up + down
        sync.add_sample(sent, server, received)
        t = received + 1_000
    best = sync.round_trip_ms
    assert best is not None
    assert abs(sync.offset_ms - true_offset) <= best / 2 + 0.5
    assert best == min(up + down for up, down in legs[-8:])
