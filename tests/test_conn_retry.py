"""RetryPolicy: capped exponential backoff with jitter, bounded attempts, reproducible with a seed."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchanges.binance.retry import RetryPolicy

policies = st.builds(
    RetryPolicy,
    max_attempts=st.integers(1, 20),
    base_delay=st.one_of(st.just(0.0), st.floats(0.001, 10.0)),
    max_delay=st.floats(0.0, 120.0),
    jitter=st.floats(0.0, 2.0),
)


@given(policy=policies, seed=st.integers(0, 2**32), attempts=st.integers(1, 200))
def test_delays_are_bounded_non_negative_and_reproducible(policy: RetryPolicy, seed: int, attempts: int):
    rng_a, rng_b = random.Random(seed), random.Random(seed)
    delays_a = [policy.delay(n, rng_a) for n in range(1, attempts + 1)]
    delays_b = [policy.delay(n, rng_b) for n in range(1, attempts + 1)]
    assert delays_a == delays_b
    for n, delay in enumerate(delays_a, start=1):
        base = policy.base(n)
        assert 0.0 <= base <= policy.max_delay
        assert base <= delay <= base * (1.0 + policy.jitter)
        assert delay <= policy.max_delay * (1.0 + policy.jitter)


@given(policy=policies, attempts=st.integers(1, 200))
def test_base_is_non_decreasing_and_reaches_the_cap(policy: RetryPolicy, attempts: int):
    bases = [policy.base(n) for n in range(1, attempts + 1)]
    assert all(a <= b for a, b in itertools.pairwise(bases))
    if policy.base_delay > 0:
        assert policy.base(200) == policy.max_delay


def test_default_schedule():
    policy = RetryPolicy()
    assert [policy.base(n) for n in range(1, 8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    no_jitter = RetryPolicy(jitter=0.0)
    assert no_jitter.delay(3, random.Random(1)) == 0.8


def test_jitter_actually_spreads_delays():
    policy = RetryPolicy()
    rng = random.Random(7)
    delays = {policy.delay(2, rng) for _ in range(50)}
    assert len(delays) > 40
    assert min(delays) >= 0.4 and max(delays) <= 0.6


def test_attempts_are_bounded():
    policy = RetryPolicy(max_attempts=3)
    assert [policy.may_retry(n) for n in range(1, 5)] == [True, True, False, False]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_attempts": 0}, {"base_delay": -1.0}, {"max_delay": -0.1}, {"jitter": -0.5}],
)
def test_invalid_policies_are_refused(kwargs):
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_attempt_counts_from_one():
    with pytest.raises(ValueError):
        RetryPolicy().delay(0, random.Random(0))
