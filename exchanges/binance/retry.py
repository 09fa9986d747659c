"""Retry timing: capped exponential backoff with jitter and a bounded number of attempts.

Attempt ``n`` (1-based: the delay *before* the n-th retry) waits ``min(max_delay, base_delay * 2**(n-1))``
stretched by a random factor in ``[1, 1 + jitter]``. Jitter only ever lengthens a delay, so callers that
retry together spread out instead of hitting the venue in lockstep, and the cap stays a real bound:
no delay exceeds ``max_delay * (1 + jitter)``. The random source is passed in, so a seeded
``random.Random`` makes a schedule reproducible.
"""

from __future__ import annotations

import random

import msgspec

__all__ = ["RetryPolicy"]


class RetryPolicy(msgspec.Struct, frozen=True):
    """How often and how patiently a failed call is tried again.

    ``max_attempts`` counts every try including the first, so ``max_attempts - 1`` retries at most.
    """

    max_attempts: int = 4
    base_delay: float = 0.2
    max_delay: float = 5.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.base_delay < 0 or self.max_delay < 0 or self.jitter < 0:
            raise ValueError("base_delay, max_delay and jitter must not be negative")

    def base(self, attempt: int) -> float:
        """The delay before retry ``attempt`` (1-based) without jitter: doubling, capped at ``max_delay``."""
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, got {attempt}")
        # Past ~64 doublings the cap has long been reached; stop before 2**n overflows a float.
        exponent = min(attempt - 1, 64)
        return min(self.max_delay, self.base_delay * float(2**exponent))

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry ``attempt`` (1-based): the base delay stretched by the jitter."""
        return self.base(attempt) * (1.0 + self.jitter * rng.random())

    def may_retry(self, attempts_made: int) -> bool:
        """Whether another try is allowed after ``attempts_made`` tries (the first one included)."""
        return attempts_made < self.max_attempts
