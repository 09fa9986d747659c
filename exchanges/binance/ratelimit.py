"""Client-side rate limiting: a pure budget and an async gate in front of it.

:class:`RateBudget` does the accounting, fed by an injected clock:

- One pool per rule of exchangeInfo's ``rateLimits`` (defaults: REQUEST_WEIGHT 2400 / 1 min, ORDERS
  300 / 10 s and 1200 / 1 min). Windows are fixed and aligned on the clock like Binance's counters: the
  minute window starts at ``now - now % 60000``, the 10 s window at ``now - now % 10000``. (The clock
  is ours, not the venue's; the few ms of offset only matter right at a boundary, where the header
  correction catches them.)
- What a request costs is data (:mod:`exchanges.binance.weights`).
- We use at most ``budget`` (80 %) of each published limit. ``critical_reserve`` (a share of the
  published limit) is kept for :attr:`Priority.CRITICAL` requests (cancels, protective stops, emergency
  closes): ENTRY and READ requests stop at ``budget - critical_reserve`` of the limit.
- The venue's own count is authoritative when higher: ``X-MBX-USED-WEIGHT-1M`` and
  ``X-MBX-ORDER-COUNT-10S`` / ``-1M`` raise the pool's count for the current window (other processes
  may share the IP or the account), never lower it.
- 429: nothing at all is sent until ``Retry-After`` has passed (Binance counts the requests sent meanwhile
  towards a ban). 418: the IP is banned; :meth:`RateBudget.entries_halted` is true and the limiter refuses
  every request with :class:`~exchanges.errors.BannedError` until the ban ends; an alert is logged.
  ``Retry-After`` is in wall-clock seconds; it is converted to clock time with the clock's speed.

:class:`RateLimiter` is the async gate: ``await acquire(...)`` returns when the request may be sent and
has been charged. Waiters are served by priority (CRITICAL, then ENTRY, then READ), FIFO within one. A
waiter never overtakes one ahead of it on a pool that one is waiting for; it may go ahead when the pools
it needs are not the ones blocking the requests ahead (a read is not held up by an exhausted order count).
"""

from __future__ import annotations

import asyncio
import math
import re
from collections import deque
from collections.abc import Callable, Mapping, Sequence

from core.clock import Clock
from core.logs import get_logger
from exchanges.binance.weights import DEFAULT_RULES, Priority, RateLimitRule, RequestCost, request_cost
from exchanges.errors import BannedError

__all__ = ["DEFAULT_RULES", "Priority", "RateBudget", "RateLimitRule", "RateLimiter"]

log = get_logger("ratelimit")

_SUFFIX_MS = {"S": 1000, "M": 60_000, "H": 3_600_000, "D": 86_400_000}
_HEADER = re.compile(r"^X-MBX-(USED-WEIGHT|ORDER-COUNT)-(\d+)([SMHD])$")
_HEADER_KIND = {"USED-WEIGHT": "REQUEST_WEIGHT", "ORDER-COUNT": "ORDERS"}
_SHORT_WINDOW_MS = 60_000  # ORDERS windows shorter than this use a request's 10 s count


class _Pool:
    """One fixed window: our own count and the highest count the venue reported for it."""

    __slots__ = ("own", "reported", "rule", "start")

    def __init__(self, rule: RateLimitRule) -> None:
        self.rule = rule
        self.start = -1
        self.own = 0
        self.reported = 0

    def roll(self, now_ms: int) -> None:
        start = now_ms - now_ms % self.rule.interval_ms
        if start != self.start:
            self.start = start
            self.own = 0
            self.reported = 0

    @property
    def used(self) -> int:
        return max(self.own, self.reported)

    def cost_of(self, cost: RequestCost) -> int:
        if self.rule.kind == "REQUEST_WEIGHT":
            return cost.weight
        if self.rule.kind == "ORDERS":
            return cost.orders_10s if self.rule.interval_ms < _SHORT_WINDOW_MS else cost.orders_1m
        return 0  # a pool kind we do not account for (e.g. RAW_REQUESTS): never blocks


class RateBudget:
    """Pure rate-limit accounting; see the module docstring. Times it returns are clock seconds."""

    def __init__(
        self,
        rules: Sequence[RateLimitRule],
        clock: Clock,
        *,
        budget: float = 0.8,
        critical_reserve: float = 0.1,
    ) -> None:
        if not 0.0 < budget <= 1.0:
            raise ValueError(f"budget must be in (0, 1], got {budget}")
        if not 0.0 <= critical_reserve < budget:
            raise ValueError(f"critical_reserve must be in [0, budget), got {critical_reserve}")
        self.budget = budget
        self.critical_reserve = critical_reserve
        self.banned_until_ms = 0
        self.backoff_until_ms = 0
        self._clock = clock
        self._pools: dict[tuple[str, int], _Pool] = {}
        self._listeners: list[Callable[[], None]] = []
        self.update_rules(rules)

    # --- rules and costs -----------------------------------------------------------------------------

    @property
    def rules(self) -> tuple[RateLimitRule, ...]:
        return tuple(pool.rule for pool in self._pools.values())

    def update_rules(self, rules: Sequence[RateLimitRule]) -> None:
        """Replace the pools (from exchangeInfo ``rateLimits``); counts of unchanged windows are kept."""
        pools: dict[tuple[str, int], _Pool] = {}
        for rule in rules:
            key = (rule.kind, rule.interval_ms)
            old = self._pools.get(key)
            pool = _Pool(rule)
            if old is not None:
                pool.start, pool.own, pool.reported = old.start, old.own, old.reported
            pools[key] = pool
        self._pools = pools
        self._changed()

    def cost(self, method: str, path: str, params: Mapping[str, str]) -> tuple[int, int]:
        """``(weight, orders)`` of a request; ``orders`` is its count on the short (10 s) window."""
        detail = request_cost(method, path, params)
        return detail.weight, detail.orders

    def request_cost(self, method: str, path: str, params: Mapping[str, str]) -> RequestCost:
        """The per-window cost of a request (batches count differently on the 10 s and 1 min windows)."""
        return request_cost(method, path, params)

    # --- admission -----------------------------------------------------------------------------------

    def wait_time(
        self, weight: int, orders: int, priority: Priority, *, orders_1m: int | None = None
    ) -> float:
        """Clock seconds before a request of this cost may be sent (0.0: now). Bans and 429s included.

        ``orders_1m`` is the count on windows of a minute or more when it differs from ``orders``.
        """
        return self.wait_for(self._detail(weight, orders, orders_1m), priority)

    def wait_for(self, cost: RequestCost, priority: Priority) -> float:
        """:meth:`wait_time` for a :class:`RequestCost`."""
        now = self._clock.now_ms()
        hold_ms = max(self.banned_until_ms, self.backoff_until_ms) - now
        if hold_ms > 0:
            return hold_ms / 1000.0
        wait_ms = 0
        for pool in self.blocking_pools(cost, priority):
            wait_ms = max(wait_ms, pool.start + pool.rule.interval_ms - now)
        return wait_ms / 1000.0

    def blocking_pools(self, cost: RequestCost, priority: Priority) -> list[_Pool]:
        """The pools in which ``cost`` does not fit now (a ban or a 429 blocks every pool).

        For :class:`RateLimiter`, which lets a request pass one held up on pools it does not use.
        """
        now = self._clock.now_ms()
        if now < self.banned_until_ms or now < self.backoff_until_ms:
            return list(self._pools.values())
        share = self.budget if priority is Priority.CRITICAL else self.budget - self.critical_reserve
        blocked = []
        for pool in self._pools.values():
            need = pool.cost_of(cost)
            if need <= 0:
                continue
            pool.roll(now)
            cap = math.floor(share * pool.rule.limit)
            # An empty window always admits one request, so a cost above the cap cannot wait forever.
            if pool.used + need > cap and pool.used > 0:
                blocked.append(pool)
        return blocked

    def commit(self, weight: int, orders: int, *, orders_1m: int | None = None) -> None:
        """Charge a request that is being sent."""
        self.commit_cost(self._detail(weight, orders, orders_1m))

    def commit_cost(self, cost: RequestCost) -> None:
        """:meth:`commit` for a :class:`RequestCost`."""
        now = self._clock.now_ms()
        for pool in self._pools.values():
            need = pool.cost_of(cost)
            if need > 0:
                pool.roll(now)
                pool.own += need

    # --- feedback from the venue ---------------------------------------------------------------------

    def observe_headers(self, headers: Mapping[str, str]) -> None:
        """Take the venue's counts (``X-MBX-USED-WEIGHT-1M``, ``X-MBX-ORDER-COUNT-10S`` / ``-1M``)."""
        now = self._clock.now_ms()
        for name, value in headers.items():
            match = _HEADER.match(name.upper())
            if match is None or not value.strip().isdigit():
                continue
            interval_ms = int(match.group(2)) * _SUFFIX_MS[match.group(3)]
            pool = self._pools.get((_HEADER_KIND[match.group(1)], interval_ms))
            if pool is not None:
                pool.roll(now)
                pool.reported = max(pool.reported, int(value))

    def on_429(self, retry_after: float) -> None:
        """The venue answered 429: send nothing for ``retry_after`` wall seconds."""
        until = self._clock.now_ms() + self._clock_ms(retry_after)
        if until > self.backoff_until_ms:
            self.backoff_until_ms = until
            log.warning("rate limited (429): holding every request for %.1f s", retry_after)
        self._changed()

    def on_418(self, retry_after: float) -> None:
        """The venue answered 418: the IP is banned for ``retry_after`` wall seconds; entries halt."""
        until = self._clock.now_ms() + self._clock_ms(retry_after)
        if until > self.banned_until_ms:
            self.banned_until_ms = until
            log.error(
                "ALERT: IP banned by the venue (418) until %d; entries halted, nothing is sent meanwhile",
                until,
            )
        self._changed()

    def entries_halted(self) -> bool:
        """True while an IP ban (418) lasts."""
        return self._clock.now_ms() < self.banned_until_ms

    def usage(self) -> dict[str, float]:
        """Share of each pool's published limit used in its current window, by pool name."""
        now = self._clock.now_ms()
        shares = {}
        for pool in self._pools.values():
            pool.roll(now)
            shares[pool.rule.name] = pool.used / pool.rule.limit
        return shares

    def subscribe(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` when admission may have changed for reasons other than time (429, 418, rules)."""
        self._listeners.append(listener)

    # --- helpers -------------------------------------------------------------------------------------

    def _clock_ms(self, wall_seconds: float) -> int:
        return math.ceil(max(0.0, wall_seconds) * 1000.0 * self._clock.speed)

    @staticmethod
    def _detail(weight: int, orders: int, orders_1m: int | None) -> RequestCost:
        return RequestCost(weight, orders, orders if orders_1m is None else orders_1m)

    def _changed(self) -> None:
        for listener in self._listeners:
            listener()


class _Waiter:
    __slots__ = ("cost", "endpoint", "future", "priority")

    def __init__(
        self, cost: RequestCost, priority: Priority, endpoint: str, future: asyncio.Future[None]
    ) -> None:
        self.cost = cost
        self.priority = priority
        self.endpoint = endpoint
        self.future = future


class RateLimiter:
    """Async gate over a :class:`RateBudget`: ``acquire`` waits its turn and its budget, then charges it.

    One dispatcher pass serves the queue: it walks the waiters in order (priority, then arrival) and
    admits each one that fits, unless a waiter ahead of it is held up on a pool it needs. It runs when a
    request arrives, when a budget event happens (429, 418, new rules) and, on a timer, when the first
    blocking window ends (the timer sleeps the clock's wall-time equivalent: ``clock.wall_seconds``). A
    clock that does not advance by itself (``ManualClock``) needs :meth:`wake` after it is moved.
    """

    def __init__(self, budget: RateBudget, clock: Clock) -> None:
        self.budget = budget
        self._clock = clock
        self._queues: tuple[deque[_Waiter], ...] = tuple(deque() for _ in Priority)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._pending = False  # a dispatch is scheduled with call_soon
        budget.subscribe(self.wake)

    @property
    def waiting(self) -> int:
        """Requests currently waiting for their turn."""
        return sum(1 for queue in self._queues for w in queue if not w.future.done())

    async def acquire(self, method: str, path: str, params: Mapping[str, str], priority: Priority) -> None:
        """Wait until ``method path`` may be sent at ``priority``, and charge it to the budget.

        Raises :class:`BannedError` while the IP is banned (418), at once and for every priority.
        """
        endpoint = f"{method} {path}"
        if self.budget.entries_halted():
            raise self._banned(endpoint)
        cost = self.budget.request_cost(method, path, params)
        if not any(self._queues) and self.budget.wait_for(cost, priority) == 0.0:
            self.budget.commit_cost(cost)  # the common case: nobody waiting, budget available
            return
        loop = asyncio.get_running_loop()
        self._loop = loop
        waiter = _Waiter(cost, priority, endpoint, loop.create_future())
        self._queues[priority].append(waiter)
        self._schedule()
        try:
            await waiter.future
        except asyncio.CancelledError:
            self._schedule()  # the ones behind it may go now
            raise

    def wake(self) -> None:
        """Look at the queue again now (after a budget event, or after moving a manual clock)."""
        self._dispatch()

    # --- dispatcher ----------------------------------------------------------------------------------

    def _schedule(self) -> None:
        # Coalesce: a burst of arrivals in one loop iteration costs one pass over the queue.
        if not self._pending and self._loop is not None:
            self._pending = True
            self._loop.call_soon(self._dispatch)

    def _dispatch(self) -> None:
        self._pending = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.budget.entries_halted():
            for queue in self._queues:
                for waiter in queue:
                    if not waiter.future.done():
                        waiter.future.set_exception(self._banned(waiter.endpoint))
                queue.clear()
            return
        blocked: dict[int, _Pool] = {}  # pools a waiter ahead does not fit in
        earliest: float | None = None
        for queue in self._queues:
            kept: deque[_Waiter] = deque()
            for waiter in queue:
                if waiter.future.done():
                    continue  # cancelled
                if any(pool.cost_of(waiter.cost) > 0 for pool in blocked.values()):
                    kept.append(waiter)
                    continue
                pools = self.budget.blocking_pools(waiter.cost, waiter.priority)
                if not pools:
                    self.budget.commit_cost(waiter.cost)
                    waiter.future.set_result(None)
                    continue
                kept.append(waiter)
                blocked.update((id(pool), pool) for pool in pools)
                wait = self.budget.wait_for(waiter.cost, waiter.priority)
                earliest = wait if earliest is None else min(earliest, wait)
            queue.clear()
            queue.extend(kept)
        if earliest is not None and self._loop is not None:
            # At least a millisecond: a clock with ms resolution may need one more tick to roll over.
            delay = max(0.001, self._clock.wall_seconds(earliest * 1000.0))
            self._timer = self._loop.call_later(delay, self._dispatch)

    def _banned(self, endpoint: str) -> BannedError:
        until = self.budget.banned_until_ms
        remaining_ms = max(0, until - self._clock.now_ms())
        return BannedError(
            f"IP banned until {until}; nothing is sent until then",
            status=418,
            endpoint=endpoint,
            retry_after=self._clock.wall_seconds(remaining_ms),
            until_ms=until,
        )
