"""CircuitBreaker: CLOSED → OPEN → HALF_OPEN → CLOSED / OPEN, against a tiny model; BreakerSet groups."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from core.clock import ManualClock
from core.events import BreakerTransition
from exchanges.binance.breaker import BreakerSet, BreakerState, CircuitBreaker

CLOSED, OPEN, HALF = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN


def make(clock: ManualClock, events: list[BreakerTransition], **kw) -> CircuitBreaker:
    return CircuitBreaker("orders", clock, on_transition=events.append, **kw)


def test_opens_after_consecutive_failures_only():
    clock = ManualClock(1_000)
    events: list[BreakerTransition] = []
    br = make(clock, events, failure_threshold=3)
    for _ in range(2):
        br.record_failure()
    br.record_success()  # resets the streak
    br.record_failure()
    br.record_failure()
    assert br.state is CLOSED and br.allow()
    br.record_failure()
    assert br.state is OPEN and not br.allow()
    assert events == [
        BreakerTransition(name="orders", old="CLOSED", new="OPEN", ts=1_000, reason=events[0].reason)
    ]
    assert "3 consecutive failures" in events[0].reason


def test_half_opens_lazily_after_recovery_timeout_and_probes_decide():
    clock = ManualClock(0)
    events: list[BreakerTransition] = []
    br = make(clock, events, failure_threshold=1, recovery_timeout=60.0, half_open_max_calls=2)
    br.record_failure()
    clock.advance(59_999)
    assert br.state is OPEN and br.retry_after() == pytest.approx(0.001)
    clock.advance(1)
    assert len(events) == 1  # nothing happens until someone looks
    assert br.allow() and br.state is HALF
    assert br.allow()
    assert not br.allow()  # at most 2 probes in flight
    br.record_success()
    assert br.state is HALF
    br.record_success()
    assert br.state is CLOSED
    assert [(e.old, e.new, e.ts) for e in events] == [
        ("CLOSED", "OPEN", 0),
        ("OPEN", "HALF_OPEN", 60_000),
        ("HALF_OPEN", "CLOSED", 60_000),
    ]


def test_probe_failure_reopens_and_restarts_the_timer():
    clock = ManualClock(0)
    events: list[BreakerTransition] = []
    br = make(clock, events, failure_threshold=1, recovery_timeout=10.0, half_open_max_calls=3)
    br.record_failure()
    clock.advance(10_000)
    assert br.allow()
    clock.advance(500)
    br.record_failure()
    assert br.state is OPEN
    clock.advance(9_999)
    assert br.state is OPEN and not br.allow()
    clock.advance(1)
    assert br.state is HALF
    assert [e.new for e in events] == ["OPEN", "HALF_OPEN", "OPEN", "HALF_OPEN"]


def test_release_gives_back_a_probe_slot():
    clock = ManualClock(0)
    br = CircuitBreaker("x", clock, failure_threshold=1, recovery_timeout=0.0, half_open_max_calls=1)
    br.record_failure()
    assert br.allow()
    assert not br.allow()
    br.release()
    assert br.allow()


def test_results_while_open_are_ignored():
    clock = ManualClock(0)
    events: list[BreakerTransition] = []
    br = make(clock, events, failure_threshold=1, recovery_timeout=5.0)
    br.record_failure()
    br.record_success()
    br.record_failure()
    assert br.state is OPEN and len(events) == 1


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        CircuitBreaker("x", ManualClock(), failure_threshold=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", ManualClock(), half_open_max_calls=0)
    with pytest.raises(ValueError):
        CircuitBreaker("x", ManualClock(), recovery_timeout=-1)


@pytest.mark.parametrize(
    ("path", "group"),
    [
        ("/fapi/v1/klines", "market_data"),
        ("/fapi/v1/aggTrades", "market_data"),
        ("/fapi/v2/ticker/price", "market_data"),
        ("/fapi/v1/premiumIndex", "market_data"),
        ("/fapi/v1/exchangeInfo", "market_data"),
        ("/fapi/v1/time", "market_data"),
        ("/futures/data/openInterestHist", "market_data"),
        ("/fapi/v1/order", "orders"),
        ("/fapi/v1/batchOrders", "orders"),
        ("/fapi/v1/algoOrder", "orders"),
        ("/fapi/v1/openOrders?symbol=BTCUSDT", "orders"),
        ("/fapi/v1/countdownCancelAll", "orders"),
        ("/fapi/v3/account", "account"),
        ("/fapi/v2/positionRisk", "account"),
        ("/fapi/v1/listenKey", "account"),
        ("/fapi/v1/leverage", "account"),
        ("/fapi/v1/userTrades", "account"),
        ("/fapi/v1/somethingNew", "account"),
    ],
)
def test_group_of(path: str, group: str):
    assert BreakerSet.group_of(path) == group


def test_breaker_set_groups_are_independent():
    clock = ManualClock(0)
    events: list[BreakerTransition] = []
    breakers = BreakerSet(clock, failure_threshold=2, on_transition=events.append)
    assert set(breakers.breakers) == {"market_data", "orders", "account"}
    for _ in range(2):
        breakers.for_path("/fapi/v1/klines").record_failure()
    assert breakers.breakers["market_data"].state is OPEN
    assert breakers.for_path("/fapi/v1/order").allow()
    assert breakers.for_path("/fapi/v3/account").state is CLOSED
    assert [e.name for e in events] == ["market_data"]


class BreakerModel(RuleBasedStateMachine):
    """The breaker against a few lines of model: the same state after every step, the same transitions."""

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock(1_000_000)
        self.events: list[BreakerTransition] = []
        self.threshold = 3
        self.timeout_ms = 5_000
        self.probes = 2
        self.br = CircuitBreaker(
            "m",
            self.clock,
            failure_threshold=self.threshold,
            recovery_timeout=self.timeout_ms / 1000,
            half_open_max_calls=self.probes,
            on_transition=self.events.append,
        )
        self.m_state = CLOSED
        self.m_failures = 0
        self.m_opened = 0
        self.m_in_flight = 0
        self.m_successes = 0
        self.m_transitions: list[tuple[str, str]] = []

    def _m_move(self, new: BreakerState) -> None:
        self.m_transitions.append((self.m_state.value, new.value))
        self.m_state = new
        self.m_failures = self.m_in_flight = self.m_successes = 0
        if new is OPEN:
            self.m_opened = self.clock.now_ms()

    def _m_look(self) -> None:
        if self.m_state is OPEN and self.clock.now_ms() - self.m_opened >= self.timeout_ms:
            self._m_move(HALF)

    @rule(ms=st.integers(0, 7_000))
    def advance(self, ms: int) -> None:
        self.clock.advance(ms)

    @rule()
    def allow(self) -> None:
        self._m_look()
        if self.m_state is CLOSED:
            expected = True
        elif self.m_state is OPEN:
            expected = False
        else:
            expected = self.m_in_flight < self.probes
            self.m_in_flight += int(expected)
        assert self.br.allow() is expected

    @rule()
    def success(self) -> None:
        self._m_look()
        if self.m_state is CLOSED:
            self.m_failures = 0
        elif self.m_state is HALF:
            self.m_in_flight = max(0, self.m_in_flight - 1)
            self.m_successes += 1
            if self.m_successes >= self.probes:
                self._m_move(CLOSED)
        self.br.record_success()

    @rule()
    def failure(self) -> None:
        self._m_look()
        if self.m_state is CLOSED:
            self.m_failures += 1
            if self.m_failures >= self.threshold:
                self._m_move(OPEN)
        elif self.m_state is HALF:
            self._m_move(OPEN)
        self.br.record_failure()

    @precondition(lambda self: self.m_state is HALF)
    @rule()
    def release(self) -> None:
        self.m_in_flight = max(0, self.m_in_flight - 1)
        self.br.release()

    @invariant()
    def same_state(self) -> None:
        self._m_look()
        assert self.br.state is self.m_state
        assert self.br.consecutive_failures == self.m_failures

    @invariant()
    def same_transitions(self) -> None:
        assert [(e.old, e.new) for e in self.events] == self.m_transitions
        times = [e.ts for e in self.events]
        assert times == sorted(times)

    @invariant()
    def never_too_many_probes(self) -> None:
        assert self.m_in_flight <= self.probes


TestBreakerModel = BreakerModel.TestCase
TestBreakerModel.settings = settings(max_examples=200, stateful_step_count=40, deadline=None)
