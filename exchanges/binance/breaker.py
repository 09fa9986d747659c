"""Circuit breakers per endpoint group: stop calling a venue that keeps failing, probe it, resume.

States and transitions (time is the injected clock's, never the wall clock's):

- CLOSED: calls go. ``failure_threshold`` *consecutive* failures → OPEN. A success resets the count.
- OPEN: calls are refused. Once ``recovery_timeout`` seconds have passed since it opened, the next look
  at the breaker (``state`` or ``allow()``) moves it to HALF_OPEN; there is no timer task.
- HALF_OPEN: at most ``half_open_max_calls`` probes in flight at once. The probes decide: one failure →
  OPEN again (the recovery timer restarts), ``half_open_max_calls`` successes → CLOSED.

Each transition is reported as a :class:`~core.events.BreakerTransition` to ``on_transition``.

What counts as a failure is the caller's decision; the REST client follows this rule: an outcome whose
action is RETRY, UNKNOWN_OUTCOME or BACKOFF (no answer, 5xx, timeouts, rate limiting) is a failure; any
answer from the venue, *including* a REJECT (a business refusal such as -2019 margin insufficient), is
a success, because it proves the venue is up and reading requests. FATAL answers are neither: they say
nothing about the venue's health. Results that arrive while the breaker is OPEN (calls let through
before it opened) are ignored.

A call that was allowed but ends without a verdict (cancelled) must call :meth:`CircuitBreaker.release`,
or its HALF_OPEN probe slot would stay taken.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import StrEnum

from core.clock import Clock
from core.events import BreakerTransition

__all__ = ["GROUPS", "BreakerSet", "BreakerState", "CircuitBreaker"]


class BreakerState(StrEnum):
    """The state of a circuit breaker."""

    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


TransitionSink = Callable[[BreakerTransition], None]


class CircuitBreaker:
    """One breaker: CLOSED → OPEN → HALF_OPEN → CLOSED (or back to OPEN); see the module docstring."""

    def __init__(
        self,
        name: str,
        clock: Clock,
        *,
        failure_threshold: int = 5,
        recovery_timeout: float = 60.0,
        half_open_max_calls: int = 3,
        on_transition: TransitionSink | None = None,
    ) -> None:
        if failure_threshold < 1 or half_open_max_calls < 1:
            raise ValueError("failure_threshold and half_open_max_calls must be at least 1")
        if recovery_timeout < 0:
            raise ValueError(f"recovery_timeout must not be negative, got {recovery_timeout}")
        self.name = name
        self.failure_threshold = failure_threshold
        self.recovery_timeout = recovery_timeout
        self.half_open_max_calls = half_open_max_calls
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._failures = 0  # consecutive, while CLOSED
        self._opened_at = 0
        self._in_flight = 0  # probes allowed and not yet finished, while HALF_OPEN
        self._successes = 0  # probe successes, while HALF_OPEN

    @property
    def state(self) -> BreakerState:
        """The current state; an OPEN breaker whose recovery timeout has passed becomes HALF_OPEN here."""
        if self._state is BreakerState.OPEN:
            elapsed_ms = self._clock.now_ms() - self._opened_at
            if elapsed_ms >= self.recovery_timeout * 1000.0:
                self._move(BreakerState.HALF_OPEN, "recovery timeout elapsed")
        return self._state

    @property
    def consecutive_failures(self) -> int:
        """Failures in a row while CLOSED (0 in the other states)."""
        return self._failures

    def retry_after(self) -> float:
        """Clock seconds until an OPEN breaker half-opens (0.0 when it is not OPEN)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        remaining_ms = self._opened_at + self.recovery_timeout * 1000.0 - self._clock.now_ms()
        return max(0.0, remaining_ms / 1000.0)

    def allow(self) -> bool:
        """May a call go now? In HALF_OPEN a True answer takes one of the probe slots."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            return False
        if self._in_flight >= self.half_open_max_calls:
            return False
        self._in_flight += 1
        return True

    def release(self) -> None:
        """An allowed call ended without a verdict (cancelled): give its probe slot back."""
        if self._state is BreakerState.HALF_OPEN and self._in_flight > 0:
            self._in_flight -= 1

    def record_success(self) -> None:
        """The venue answered (a REJECT included)."""
        state = self.state
        if state is BreakerState.CLOSED:
            self._failures = 0
        elif state is BreakerState.HALF_OPEN:
            self._in_flight = max(0, self._in_flight - 1)
            self._successes += 1
            if self._successes >= self.half_open_max_calls:
                self._move(BreakerState.CLOSED, f"{self._successes} probes succeeded")

    def record_failure(self) -> None:
        """The call failed in a way that says the venue is unwell (RETRY, UNKNOWN_OUTCOME, BACKOFF)."""
        state = self.state
        if state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._move(BreakerState.OPEN, f"{self._failures} consecutive failures")
        elif state is BreakerState.HALF_OPEN:
            self._move(BreakerState.OPEN, "a probe failed")

    def _move(self, new: BreakerState, reason: str) -> None:
        old = self._state
        now = self._clock.now_ms()
        self._state = new
        self._failures = 0
        self._in_flight = 0
        self._successes = 0
        if new is BreakerState.OPEN:
            self._opened_at = now
        if self._on_transition is not None:
            event = BreakerTransition(name=self.name, old=old.value, new=new.value, ts=now, reason=reason)
            self._on_transition(event)


# Endpoint groups. Paths are matched without their /fapi/vN/ prefix; anything not listed is "account".
GROUPS = ("market_data", "orders", "account")

_MARKET_DATA = frozenset(
    {
        "ping",
        "time",
        "exchangeInfo",
        "depth",
        "trades",
        "historicalTrades",
        "aggTrades",
        "klines",
        "continuousKlines",
        "indexPriceKlines",
        "markPriceKlines",
        "premiumIndexKlines",
        "premiumIndex",
        "fundingRate",
        "fundingInfo",
        "ticker/24hr",
        "ticker/price",
        "ticker/bookTicker",
        "openInterest",
        "indexInfo",
        "assetIndex",
        "constituents",
    }
)
_ORDERS = frozenset(
    {
        "order",
        "batchOrders",
        "openOrder",
        "openOrders",
        "allOpenOrders",
        "allOrders",
        "algoOrder",
        "openAlgoOrders",
        "algoOpenOrders",
        "allAlgoOrders",
        "countdownCancelAll",
    }
)
_PREFIX = re.compile(r"^/(?:fapi|futures/data)/(?:v\d+/)?")


class BreakerSet:
    """One :class:`CircuitBreaker` per endpoint group (``market_data``, ``orders``, ``account``)."""

    def __init__(
        self,
        clock: Clock,
        *,
        failure_threshold: int = 5,
        recovery_timeout: float = 60.0,
        half_open_max_calls: int = 3,
        on_transition: TransitionSink | None = None,
    ) -> None:
        self.breakers: dict[str, CircuitBreaker] = {
            group: CircuitBreaker(
                group,
                clock,
                failure_threshold=failure_threshold,
                recovery_timeout=recovery_timeout,
                half_open_max_calls=half_open_max_calls,
                on_transition=on_transition,
            )
            for group in GROUPS
        }

    @staticmethod
    def group_of(path: str) -> str:
        """The endpoint group of a REST path such as ``/fapi/v1/klines`` (query strings are ignored)."""
        bare = path.split("?", 1)[0]
        if bare.startswith("/futures/data/"):
            return "market_data"  # Binance's trading statistics (long/short ratios, taker volume...)
        name = _PREFIX.sub("", bare).rstrip("/")
        if name in _MARKET_DATA:
            return "market_data"
        if name in _ORDERS:
            return "orders"
        return "account"

    def for_path(self, path: str) -> CircuitBreaker:
        """The breaker guarding ``path``."""
        return self.breakers[self.group_of(path)]
