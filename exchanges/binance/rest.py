"""``BinanceRestClient``: one keep-alive HTTP session to a Binance USDⓈ-M venue. One attempt of a request:

1. the endpoint group's circuit breaker is looked at (OPEN → :class:`BreakerOpenError`, nothing sent);
2. the rate limiter admits the request at its priority (waits its turn and its budget; a ban raises);
3. the breaker admits it (in HALF_OPEN this takes a probe slot);
4. the query is encoded and, for SIGNED endpoints, stamped with the venue's time (``TimeSync``) and signed
   *after* any wait, so the timestamp is fresh; every parameter goes in the query string, no body;
5. the answer's ``X-MBX-*`` headers correct the budget; 429/418 hold the whole client (``Retry-After``);
6. an error answer is decoded (``{"code", "msg"}``) and turned into a :class:`VenueError` by
   :func:`classify.to_error`; the breaker records the verdict (RETRY / UNKNOWN_OUTCOME / BACKOFF are
   failures, an answer — a rejection included — a success, FATAL and -1021 neither).

Around the attempts: -1021 (our timestamp outside the venue's window) resyncs the clock offset and tries
once more — safe even for an order placement, since Binance checks the timestamp before anything else.
RETRY-class and rate-limit (429) errors are retried with :class:`RetryPolicy` for reads and idempotent
calls only; an order placement is never retried here (:mod:`rest_orders` resolves unknown outcomes).

Server time: measured at :meth:`start` and every ``resync_interval_s`` by a named task
(``rest-timesync``) that logs its failures and keeps going; :meth:`close` cancels it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Mapping
from types import TracebackType

import aiohttp
import msgspec
from yarl import URL

from core.clock import Clock
from core.logs import get_logger, register_secret
from core.secrets import Secret
from exchanges.binance import signing
from exchanges.binance.breaker import BreakerSet, BreakerState, CircuitBreaker
from exchanges.binance.classify import BAN_BACKOFF_S, DEFAULT_BACKOFF_S, to_error
from exchanges.binance.ratelimit import DEFAULT_RULES, Priority, RateBudget, RateLimiter, RateLimitRule
from exchanges.binance.retry import RetryPolicy
from exchanges.binance.schemas import SchemaError, ServerTime, decode, error_of_body, retry_after_of
from exchanges.binance.schemas_market import RateLimitsOnly
from exchanges.binance.signing import ParamValue, Signer
from exchanges.binance.timesync import TimeSync
from exchanges.binance.venues import Venue
from exchanges.errors import (
    Action,
    BackoffError,
    BannedError,
    BreakerOpenError,
    FatalError,
    RetryableError,
    VenueError,
)

__all__ = ["ORDER_PLACEMENTS", "BinanceRestClient", "RestStats"]

log = get_logger("rest")

TIME_PATH = "/fapi/v1/time"
EXCHANGE_INFO_PATH = "/fapi/v1/exchangeInfo"
# Requests that may create an order: their lost answers are unknown outcomes, and they are never retried.
ORDER_PLACEMENTS = frozenset(
    {("POST", "/fapi/v1/order"), ("POST", "/fapi/v1/batchOrders"), ("POST", "/fapi/v1/algoOrder")}
)
# Non-GET calls that may be sent twice with the same effect.
_IDEMPOTENT = frozenset(
    {
        ("POST", "/fapi/v1/listenKey"),  # returns the account's active key when there is one
        ("PUT", "/fapi/v1/listenKey"),
        ("POST", "/fapi/v1/leverage"),
        ("POST", "/fapi/v1/countdownCancelAll"),
    }
)
_INVALID_TIMESTAMP = -1021
_CRITICAL = Priority.CRITICAL
_TIME_SAMPLES = 3
_USER_AGENT = "casino/0.1 (+binance-usdm)"


class RestStats(msgspec.Struct, kw_only=True):
    """Counters of one client (for ``doctor`` and metrics)."""

    requests: int = 0  # attempts sent
    errors: int = 0  # attempts answered with (or ended in) an error
    retries: int = 0
    resyncs: int = 0  # offset re-measured after a -1021
    syncs: int = 0  # offset measurements (start, periodic, resync)
    rate_limited: int = 0  # 429 / 418 answers


class _Call(msgspec.Struct, frozen=True, kw_only=True):
    """One logical request (its attempts share it)."""

    method: str
    path: str
    wire: dict[str, str]
    signed: bool
    with_key: bool
    priority: Priority

    @property
    def endpoint(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def placement(self) -> bool:
        return (self.method, self.path) in ORDER_PLACEMENTS

    @property
    def may_retry(self) -> bool:
        return not self.placement and (self.method == "GET" or (self.method, self.path) in _IDEMPOTENT)


# CRITICAL: a wrong offset blocks every signed call, stops included.
_TIME_CALL = _Call(
    method="GET", path=TIME_PATH, wire={}, signed=False, with_key=False, priority=Priority.CRITICAL
)


class BinanceRestClient:
    """Signed, rate-limited, breaker-guarded REST calls to one venue; answers are raw bytes.

    ``clock`` is the time base for timestamps, the budget and the breakers: a live session passes
    :class:`~core.clock.LiveClock`, a paper session the sandbox's own clock. ``api_secret`` may be an
    HMAC secret or an Ed25519 PEM private key (see :mod:`signing`). Without keys only public endpoints
    work (a SIGNED call raises :class:`FatalError`).
    """

    def __init__(
        self,
        venue: Venue,
        clock: Clock,
        *,
        api_key: Secret | None = None,
        api_secret: Secret | None = None,
        limiter: RateLimiter | None = None,
        breakers: BreakerSet | None = None,
        retry: RetryPolicy | None = None,
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
        seed: int = 0,
        resync_interval_s: float = 300.0,
    ) -> None:
        if not 0 < recv_window_ms <= 60_000:
            raise ValueError(f"recv_window_ms must be within 1..60000, got {recv_window_ms}")
        self.venue = venue
        self.clock = clock
        self.limiter = limiter or RateLimiter(RateBudget(DEFAULT_RULES, clock), clock)
        self.breakers = breakers or BreakerSet(clock)
        self.retry = retry or RetryPolicy()
        self.time_sync = TimeSync()
        self.stats = RestStats()
        self.recv_window_ms = recv_window_ms
        self.resync_interval_s = resync_interval_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._api_key = api_key
        self._signer: Signer | None = signing.signer_for(api_secret) if api_secret else None
        register_secret(api_key, api_secret)
        self._rng = random.Random(seed)
        self._session: aiohttp.ClientSession | None = None
        self._sync_task: asyncio.Task[None] | None = None
        self._sync_lock = asyncio.Lock()
        self._sync_generation = 0

    def __repr__(self) -> str:
        return f"BinanceRestClient(venue={self.venue.name!r}, rest_url={self.venue.rest_url!r})"

    @property
    def budget(self) -> RateBudget:
        return self.limiter.budget

    @property
    def has_credentials(self) -> bool:
        return self._api_key is not None and self._signer is not None

    # --- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the session, measure the clock offset and take the rate limits from exchangeInfo."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=self._timeout,
                headers={"User-Agent": _USER_AGENT},
                connector=aiohttp.TCPConnector(limit=64, keepalive_timeout=30.0),
            )
        await self.sync_time()
        await self.load_rate_limits()
        if self._sync_task is None and self.resync_interval_s > 0:
            self._sync_task = asyncio.create_task(self._time_loop(), name="rest-timesync")
            self._sync_task.add_done_callback(self._on_sync_done)

    async def close(self) -> None:
        """Stop the time-sync task and close the session (idempotent)."""
        task, self._sync_task = self._sync_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> BinanceRestClient:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- time and limits ----------------------------------------------------------------------------

    async def sync_time(self, samples: int = _TIME_SAMPLES) -> int:
        """Measure the venue's clock ``samples`` times (round-trip compensated); returns the offset, ms."""
        for _ in range(samples):
            timing: list[int] = []
            body = await self._with_retries(_TIME_CALL, timing)
            sent, received = timing
            self.time_sync.add_sample(sent, decode(body, ServerTime).server_time, received)
        self._sync_generation += 1
        self.stats.syncs += 1
        return self.time_sync.offset_ms

    async def load_rate_limits(self) -> tuple[RateLimitRule, ...]:
        """Replace the budget's pools with exchangeInfo's ``rateLimits``; returns the rules."""
        body = await self.request("GET", EXCHANGE_INFO_PATH)
        rules = tuple(
            RateLimitRule(r.rate_limit_type, r.interval_ms, r.limit)
            for r in decode(body, RateLimitsOnly).rate_limits
            if r.rate_limit_type in ("REQUEST_WEIGHT", "ORDERS")
        )
        if rules:
            self.budget.update_rules(rules)
        return rules

    def server_time_ms(self) -> int:
        """The venue's time now, as far as the last measurement knows."""
        return self.time_sync.server_time(self.clock.now_ms())

    async def _resync(self, generation: int) -> None:
        async with self._sync_lock:
            if self._sync_generation != generation:
                return  # another request already resynced since this one was signed
            self.stats.resyncs += 1
            self.time_sync.reset()
            offset = await self.sync_time()
            log.warning("timestamp rejected (-1021): clock offset resynced to %d ms", offset)

    async def _time_loop(self) -> None:
        while True:
            await asyncio.sleep(self.resync_interval_s)
            try:
                await self.sync_time()
            except (VenueError, SchemaError) as exc:  # keep going: the next round may succeed
                log.warning(
                    "periodic time sync failed (offset stays %d ms): %s", self.time_sync.offset_ms, exc
                )

    @staticmethod
    def _on_sync_done(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("time-sync task stopped", exc_info=task.exception())

    # --- requests -----------------------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        signed: bool = False,
        api_key_only: bool = False,
        priority: Priority = Priority.READ,
    ) -> bytes:
        """Send ``method path`` and return the body of a successful answer.

        ``signed``: TRADE / USER_DATA (key header, timestamp, signature); ``api_key_only``: USER_STREAM /
        MARKET_DATA (key header only). Raises a :class:`VenueError` subclass named by the action it needs.
        """
        call = _Call(
            method=method.upper(),
            path=path,
            wire={k: signing.encode_value(v) for k, v in (params or {}).items() if v is not None},
            signed=signed,
            with_key=signed or api_key_only,
            priority=priority,
        )
        return await self._with_retries(call)

    async def _with_retries(self, call: _Call, timing: list[int] | None = None) -> bytes:
        resynced = False
        attempt = 0
        while True:
            attempt += 1
            generation = self._sync_generation
            try:
                return await self._attempt(call, timing)
            except VenueError as err:
                if err.code == _INVALID_TIMESTAMP and call.signed and not resynced:
                    # Binance checks the timestamp first: nothing was executed, a resend is safe.
                    resynced = True
                    await self._resync(generation)
                    continue
                delay = self._retry_delay(call, err, attempt)
                if delay is None:
                    raise
                self.stats.retries += 1
                log.info("retrying %s in %.2fs (attempt %d): %s", call.endpoint, delay, attempt + 1, err)
                await asyncio.sleep(delay)

    def _retry_delay(self, call: _Call, err: VenueError, attempt: int) -> float | None:
        """Seconds to wait before trying ``call`` again, or None when it must not be retried."""
        if not call.may_retry or not self.retry.may_retry(attempt):
            return None
        if isinstance(err, BannedError | BreakerOpenError):
            return None
        if isinstance(err, BackoffError):
            # A 429 already holds the limiter until Retry-After; other back-offs (-1004, 403) wait here.
            return 0.0 if err.status == 429 else err.retry_after
        if isinstance(err, RetryableError):
            return self.retry.delay(attempt, self._rng)
        return None

    async def _attempt(self, call: _Call, timing: list[int] | None) -> bytes:
        breaker = self.breakers.for_path(call.path)
        self._refuse_if_open(breaker, call.endpoint)
        await self.limiter.acquire(call.method, call.path, call.wire, call.priority)
        if not breaker.allow():
            self._refuse_if_open(breaker, call.endpoint, probing=True)
        try:
            url, headers = self._prepare(call)
            session = self._session
            if session is None:
                raise RuntimeError("BinanceRestClient.start() was not called (or close() was)")
        except BaseException:
            breaker.release()
            raise
        self.stats.requests += 1
        sent = self.clock.now_ms()
        try:
            async with session.request(call.method, url, headers=headers) as resp:
                body = await resp.read()
                status, answer_headers, reason = resp.status, resp.headers, resp.reason or ""
        except (aiohttp.ClientError, TimeoutError) as exc:
            err = to_error(
                status=None,
                code=None,
                msg="",
                exc=exc,
                endpoint=call.endpoint,
                is_order_placement=call.placement,
            )
            self._fail(breaker, err, call.wire)
            raise err from exc
        except BaseException:  # cancelled (or a bug): no verdict on the venue, give the probe slot back
            breaker.release()
            raise
        if timing is not None:
            timing[:] = [sent, self.clock.now_ms()]
        self.budget.observe_headers(answer_headers)
        if status < 400:
            breaker.record_success()
            return body
        err = self._error_of(call, status, body, reason, answer_headers)
        self._fail(breaker, err, call.wire)
        raise err

    @staticmethod
    def _refuse_if_open(breaker: CircuitBreaker, endpoint: str, *, probing: bool = False) -> None:
        if probing or breaker.state is BreakerState.OPEN:
            wait = breaker.retry_after()
            what = "has no probe slot free" if probing and wait == 0.0 else "is open"
            raise BreakerOpenError(
                f"circuit breaker '{breaker.name}' {what}; nothing sent (half-opens in {wait:.1f}s)",
                endpoint=endpoint,
            )

    def _prepare(self, call: _Call) -> tuple[URL, dict[str, str]]:
        query = signing.encode_params(call.wire)
        if call.signed:
            if self._signer is None:
                raise FatalError("this endpoint needs an API secret; none configured", endpoint=call.endpoint)
            timestamp = self.time_sync.server_time(self.clock.now_ms())
            query = signing.signed_query(
                query, self._signer, timestamp=timestamp, recv_window=self.recv_window_ms
            )
        headers: dict[str, str] = {}
        if call.with_key:
            if self._api_key is None:
                raise FatalError("this endpoint needs an API key; none configured", endpoint=call.endpoint)
            headers["X-MBX-APIKEY"] = self._api_key.reveal()
        # encoded=True: the query was signed byte for byte; nothing may re-quote it.
        url = URL(f"{self.venue.rest_url}{call.path}{'?' + query if query else ''}", encoded=True)
        return url, headers

    def _error_of(
        self, call: _Call, status: int, body: bytes, reason: str, headers: Mapping[str, str]
    ) -> VenueError:
        code, msg = error_of_body(body)
        retry_after = retry_after_of(headers)
        if status == 429:
            self.stats.rate_limited += 1
            self.budget.on_429(DEFAULT_BACKOFF_S if retry_after is None else retry_after)
        elif status == 418:
            self.stats.rate_limited += 1
            self.budget.on_418(BAN_BACKOFF_S if retry_after is None else retry_after)
        return to_error(
            status=status,
            code=code,
            msg=msg or f"HTTP {status} {reason}".strip(),
            exc=None,
            endpoint=call.endpoint,
            is_order_placement=call.placement,
            retry_after=retry_after,
        )

    def _fail(self, breaker: CircuitBreaker, err: VenueError, wire: Mapping[str, str]) -> None:
        self.stats.errors += 1
        if err.code == _INVALID_TIMESTAMP or err.action is Action.FATAL:
            breaker.release()  # says nothing about the venue's health
        elif err.action in (Action.RETRY, Action.UNKNOWN_OUTCOME, Action.BACKOFF):
            breaker.record_failure()
        else:
            breaker.record_success()  # the venue answered: it is up
        level = 20 if err.action is Action.REJECT else 30  # INFO for refusals, WARNING otherwise
        log.log(
            level,
            "%s",
            err,
            symbol=wire.get("symbol"),
            client_order_id=wire.get("newClientOrderId") or wire.get("origClientOrderId"),
            client_algo_id=wire.get("clientAlgoId"),
        )
