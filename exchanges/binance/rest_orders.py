"""Order calls of ``BinanceRestApi``: order reads, placements that are never resent blindly, cancels.

A placement (``place_order`` / ``place_algo_order``, and each item of ``place_orders``) is keyed by its
deterministic client id (:mod:`exchanges.binance.client_ids`) and goes through this state machine::

    start ── id unresolved from an earlier call? ──yes──▶ RESOLVE
      │ no
      ▼
    PLACE (count += 1)
      ├─ answered ─────────────────────────────────▶ DONE: the order
      ├─ refused (REJECT / BACKOFF / FATAL / breaker) ▶ raise: nothing was placed
      └─ UnknownOutcomeError (timeout, 5xx, -1007),
         or -4116 / -4015 (client id already used) ──▶ RESOLVE (the id is marked unresolved)

    RESOLVE: wait ``settle_s`` (a late placement may still land), then query by client id
      ├─ found ────────────────────────────────────▶ DONE: the order that exists
      ├─ -2013 "does not exist", count < max_placements ▶ PLACE again, same client id
      ├─ -2013, count == max_placements ───────────▶ raise RetryableError (confirmed not placed)
      ├─ query failed (network, 5xx, breaker open, 429) ▶ back off, query again (≤ max_queries)
      └─ still no answer after max_queries ────────▶ raise UnknownOutcomeError; the id stays unresolved

Nothing is ever sent for a decision between an unknown outcome and the answer to the query. An id left
unresolved is remembered, so a caller that tries the same decision again starts at RESOLVE and can never
create a twin (Binance only refuses a duplicate client id while the first order is open, so its own
check is not enough).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from core.logs import get_logger
from core.types import AlgoOrder, AlgoOrderRequest, Fill, Order, OrderRequest
from exchanges.binance.classify import to_error
from exchanges.binance.ratelimit import Priority
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.schemas import CodeMsg, decode
from exchanges.binance.schemas_orders import (
    AlgoOrderSchema,
    CountdownSchema,
    OrderSchema,
    UserTradeSchema,
    algo_order_params,
    decode_batch,
    order_params,
)
from exchanges.binance.signing import ParamValue
from exchanges.errors import FatalError, RejectedError, RetryableError, UnknownOutcomeError, VenueError

__all__ = ["OrderCalls"]

log = get_logger("rest")

T = TypeVar("T")
_NO_SUCH_ORDER = -2013
_DUPLICATE_IDS = frozenset({-4116, -4015})  # "ClientOrderId is duplicated" / "Client order id is not valid"
_MAX_BATCH = 5


class OrderCalls:
    """Order reads, placements (never blind) and cancels on a started :class:`BinanceRestClient`."""

    def __init__(
        self,
        client: BinanceRestClient,
        *,
        max_placements: int = 3,
        max_queries: int = 6,
        settle_s: float = 0.25,
        seed: int = 0,
    ) -> None:
        if max_placements < 1 or max_queries < 1 or settle_s < 0:
            raise ValueError("max_placements and max_queries must be at least 1, settle_s not negative")
        self.client = client
        self.max_placements = max_placements
        self.max_queries = max_queries
        self.settle_s = settle_s  # wall seconds before the first query: let a late placement land
        self._rng = random.Random(seed)
        self._unresolved: set[str] = set()  # client ids whose last placement outcome is unknown

    @property
    def unresolved(self) -> frozenset[str]:
        """Client (algo) ids whose placement outcome is still unknown."""
        return frozenset(self._unresolved)

    async def _get(
        self, path: str, params: dict[str, ParamValue] | None = None, *, signed: bool = False
    ) -> bytes:
        return await self.client.request("GET", path, params, signed=signed)

    # --- orders: reads ---------------------------------------------------------------------------------

    async def open_orders(self, symbol: str | None = None) -> list[Order]:
        body = await self._get("/fapi/v1/openOrders", {"symbol": symbol}, signed=True)
        return [r.to_order() for r in decode(body, list[OrderSchema])]

    async def all_orders(
        self, symbol: str, *, start_time: int | None = None, end_time: int | None = None, limit: int = 500
    ) -> list[Order]:
        params: dict[str, ParamValue] = {
            "symbol": symbol,
            "startTime": start_time,
            "endTime": end_time,
            "limit": limit,
        }
        body = await self._get("/fapi/v1/allOrders", params, signed=True)
        return [r.to_order() for r in decode(body, list[OrderSchema])]

    async def get_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        params: dict[str, ParamValue] = {
            "symbol": symbol,
            "orderId": order_id,
            "origClientOrderId": client_order_id,
        }
        return decode(await self._get("/fapi/v1/order", params, signed=True), OrderSchema).to_order()

    async def open_algo_orders(self, symbol: str | None = None) -> list[AlgoOrder]:
        body = await self._get("/fapi/v1/openAlgoOrders", {"symbol": symbol}, signed=True)
        return [r.to_algo_order() for r in decode(body, list[AlgoOrderSchema])]

    async def get_algo_order(
        self, *, algo_id: int | None = None, client_algo_id: str | None = None
    ) -> AlgoOrder:
        params: dict[str, ParamValue] = {"algoId": algo_id, "clientAlgoId": client_algo_id}
        body = await self._get("/fapi/v1/algoOrder", params, signed=True)
        return decode(body, AlgoOrderSchema).to_algo_order()

    async def user_trades(
        self,
        symbol: str,
        *,
        order_id: int | None = None,
        start_time: int | None = None,
        end_time: int | None = None,
        from_id: int | None = None,
        limit: int = 500,
    ) -> list[Fill]:
        """Our fills; the rows carry no client order id (``Fill.client_order_id`` is empty)."""
        params: dict[str, ParamValue] = {
            "symbol": symbol,
            "orderId": order_id,
            "startTime": start_time,
            "endTime": end_time,
            "fromId": from_id,
            "limit": limit,
        }
        rows = decode(await self._get("/fapi/v1/userTrades", params, signed=True), list[UserTradeSchema])
        return [r.to_fill() for r in rows]

    # --- orders: placement (never blind) ---------------------------------------------------------------

    async def place_order(self, req: OrderRequest, *, priority: Priority | None = None) -> Order:
        """Place ``req`` (its ``client_order_id`` is required); see the module docstring's state machine.

        Priority defaults to CRITICAL for reduce-only orders (closes), ENTRY otherwise.
        """
        cid = _required(req.client_order_id, "client_order_id")
        prio = priority if priority is not None else _order_priority(req.reduce_only)

        async def place() -> Order:
            body = await self.client.request(
                "POST", "/fapi/v1/order", order_params(req), signed=True, priority=prio
            )
            return decode(body, OrderSchema).to_order()

        async def query() -> Order:
            params: dict[str, ParamValue] = {"symbol": req.symbol, "origClientOrderId": cid}
            body = await self.client.request("GET", "/fapi/v1/order", params, signed=True, priority=prio)
            return decode(body, OrderSchema).to_order()

        return await self._place_once(cid, place, query)

    async def place_algo_order(self, req: AlgoOrderRequest, *, priority: Priority | None = None) -> AlgoOrder:
        """Place a conditional order (its ``client_algo_id`` is required), never twice.

        Priority defaults to CRITICAL for protective orders (reduce-only or close-position), ENTRY otherwise.
        """
        cid = _required(req.client_algo_id, "client_algo_id")
        prio = priority if priority is not None else _order_priority(req.reduce_only or req.close_position)

        async def place() -> AlgoOrder:
            params = algo_order_params(req)
            body = await self.client.request("POST", "/fapi/v1/algoOrder", params, signed=True, priority=prio)
            return decode(body, AlgoOrderSchema).to_algo_order()

        async def query() -> AlgoOrder:
            params: dict[str, ParamValue] = {"clientAlgoId": cid}
            body = await self.client.request("GET", "/fapi/v1/algoOrder", params, signed=True, priority=prio)
            return decode(body, AlgoOrderSchema).to_algo_order()

        return await self._place_once(cid, place, query)

    async def place_orders(
        self, reqs: Sequence[OrderRequest], *, priority: Priority = Priority.ENTRY
    ) -> list[Order | VenueError]:
        """Place up to 5 orders in one batchOrders call; each result is the order or its refusal.

        An item (or the whole batch) whose outcome is unknown is resolved by its client id, like
        :meth:`place_order`; items the venue confirms were not placed are placed again singly.
        """
        if not 1 <= len(reqs) <= _MAX_BATCH:
            raise ValueError(f"a batch holds 1..{_MAX_BATCH} orders, got {len(reqs)}")
        cids = [_required(r.client_order_id, "client_order_id") for r in reqs]
        if len(set(cids)) != len(cids) or self._unresolved.intersection(cids):
            # Twins in one batch, or an id still unresolved: only the one-by-one path is safe.
            return [await self._settle(self.place_order(r, priority=priority)) for r in reqs]
        params: dict[str, ParamValue] = {"batchOrders": [order_params(r) for r in reqs]}
        try:
            body = await self.client.request(
                "POST", "/fapi/v1/batchOrders", params, signed=True, priority=priority
            )
        except UnknownOutcomeError:
            self._unresolved.update(cids)
            return [await self._settle(self.place_order(r, priority=priority)) for r in reqs]
        out: list[Order | VenueError] = []
        for req, cid, item in zip(reqs, cids, decode_batch(body), strict=True):
            if isinstance(item, OrderSchema):
                out.append(item.to_order())
                continue
            err = to_error(
                status=200,
                code=item.code,
                msg=item.msg,
                exc=None,
                endpoint="POST /fapi/v1/batchOrders",
                is_order_placement=True,
            )
            if isinstance(err, UnknownOutcomeError) or item.code in _DUPLICATE_IDS:
                self._unresolved.add(cid)
                out.append(await self._settle(self.place_order(req, priority=priority)))
            else:
                out.append(err)
        return out

    @staticmethod
    async def _settle(call: Awaitable[Order]) -> Order | VenueError:
        try:
            return await call
        except VenueError as err:
            return err

    async def _place_once(
        self, cid: str, place: Callable[[], Awaitable[T]], query: Callable[[], Awaitable[T]]
    ) -> T:
        placements = 0
        resolve_first = cid in self._unresolved
        while True:
            if not resolve_first:
                placements += 1
                try:
                    result = await place()
                except UnknownOutcomeError as err:
                    log.warning(
                        "placement outcome unknown, resolving by client id: %s", err, client_order_id=cid
                    )
                    self._unresolved.add(cid)
                except RejectedError as err:
                    if err.code not in _DUPLICATE_IDS:
                        raise
                    log.warning("client id already used: resolving it (%s)", err, client_order_id=cid)
                else:
                    self._unresolved.discard(cid)
                    return result
            resolve_first = False
            found = await self._resolve(cid, query)
            if found is not None:
                self._unresolved.discard(cid)
                return found
            self._unresolved.discard(cid)  # the venue says it does not exist: a placement is safe
            if placements >= self.max_placements:
                raise RetryableError(
                    f"order {cid} not placed after {placements} attempt(s): the venue says it does not exist",
                    endpoint="POST order",
                )
            log.info("order does not exist at the venue: placing it again", client_order_id=cid)

    async def _resolve(self, cid: str, query: Callable[[], Awaitable[T]]) -> T | None:
        """The order behind ``cid``, or None when the venue says it does not exist (-2013)."""
        last: VenueError | None = None
        await asyncio.sleep(self.settle_s)
        for attempt in range(1, self.max_queries + 1):
            try:
                return await query()
            except RejectedError as err:
                if err.code == _NO_SUCH_ORDER:
                    return None
                raise
            except FatalError:
                raise  # credentials: asking again cannot help; the id stays unresolved
            except VenueError as err:  # network, 5xx, breaker open, rate limit: the answer is still owed
                last = err
                wait = self.client.retry.delay(attempt, self._rng)
                log.warning(
                    "resolving %s: query failed (%s); again in %.2fs", cid, err, wait, client_order_id=cid
                )
                await asyncio.sleep(wait)
        raise UnknownOutcomeError(
            f"outcome of order {cid} still unknown after {self.max_queries} queries ({last}); "
            "query it again before sending anything for this decision",
            endpoint="GET order",
        )

    # --- orders: cancels and switches (CRITICAL) -------------------------------------------------------

    async def cancel_order(
        self, symbol: str, *, order_id: int | None = None, client_order_id: str | None = None
    ) -> Order:
        params: dict[str, ParamValue] = {
            "symbol": symbol,
            "orderId": order_id,
            "origClientOrderId": client_order_id,
        }
        body = await self.client.request(
            "DELETE", "/fapi/v1/order", params, signed=True, priority=Priority.CRITICAL
        )
        return decode(body, OrderSchema).to_order()

    async def cancel_all_orders(self, symbol: str) -> None:
        body = await self.client.request(
            "DELETE", "/fapi/v1/allOpenOrders", {"symbol": symbol}, signed=True, priority=Priority.CRITICAL
        )
        decode(body, CodeMsg)

    async def cancel_algo_order(
        self, *, algo_id: int | None = None, client_algo_id: str | None = None
    ) -> None:
        params: dict[str, ParamValue] = {"algoId": algo_id, "clientAlgoId": client_algo_id}
        await self.client.request(
            "DELETE", "/fapi/v1/algoOrder", params, signed=True, priority=Priority.CRITICAL
        )

    async def cancel_all_algo_orders(self, symbol: str) -> None:
        body = await self.client.request(
            "DELETE", "/fapi/v1/algoOpenOrders", {"symbol": symbol}, signed=True, priority=Priority.CRITICAL
        )
        decode(body, CodeMsg)

    async def countdown_cancel_all(self, symbol: str, countdown_ms: int) -> None:
        params: dict[str, ParamValue] = {"symbol": symbol, "countdownTime": countdown_ms}
        body = await self.client.request(
            "POST", "/fapi/v1/countdownCancelAll", params, signed=True, priority=Priority.CRITICAL
        )
        decode(body, CountdownSchema)


def _required(value: str | None, name: str) -> str:
    if not value:
        raise ValueError(
            f"{name} is required: orders are only placed with a deterministic client id "
            "(exchanges.binance.client_ids), so a lost answer can be resolved without a duplicate"
        )
    return value


def _order_priority(protective: bool) -> Priority:
    return Priority.CRITICAL if protective else Priority.ENTRY
