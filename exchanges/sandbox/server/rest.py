"""The sandbox's Binance USDⓈ-M REST server: routes, security, rate limits, faults and error answers.

``add_rest_routes`` registers every ``/fapi`` endpoint (plus the admin endpoint) on an aiohttp app;
``rest_middlewares`` returns the middlewares the app must install, outermost first:

1. errors: any ``ExchangeError`` becomes Binance's ``{"code", "msg"}`` answer with its HTTP status;
   unknown paths answer 404 in the same shape; any other exception is logged and answered 500 -1000
   (the server keeps serving). Every ``/fapi`` answer carries ``X-MBX-USED-WEIGHT-1M``.
2. limits: request weight per IP, charged before anything else (Binance counts it before checking
   signatures); oversized query strings are refused.
3. faults: added latency, 429 bursts and 5xx answers (the request is not executed).

Only ``/fapi/`` paths go through the limits and faults; WebSocket and admin routes pass untouched.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware

from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.server import rest_account, rest_algo, rest_public, rest_trade
from exchanges.sandbox.server.admin import add_admin_routes
from exchanges.sandbox.server.auth import authenticate
from exchanges.sandbox.server.context import SandboxContext
from exchanges.sandbox.server.params import Params
from exchanges.sandbox.server.ratelimit import OrderUsage
from exchanges.sandbox.server.routing import Call, Route

__all__ = ["ALL_ROUTES", "MAX_BODY_BYTES", "MAX_QUERY_CHARS", "add_rest_routes", "rest_middlewares"]

log = logging.getLogger("casino.sandbox.rest")

ALL_ROUTES: tuple[Route, ...] = (
    *rest_public.ROUTES,
    *rest_trade.ROUTES,
    *rest_algo.ROUTES,
    *rest_account.ROUTES,
)
MAX_QUERY_CHARS = 6144
MAX_BODY_BYTES = 65536
REST_PREFIX = "/fapi/"
_ORDER_USAGE = web.RequestKey("casino_order_usage", OrderUsage)
_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n"
)

_Next = Callable[[web.Request], Awaitable[web.StreamResponse]]

_encoder = msgspec.json.Encoder()


def json_response(payload: object, status: int = 200) -> web.Response:
    """``payload`` encoded as Binance's ``application/json`` answer."""
    return web.Response(body=_encoder.encode(payload), status=status, content_type="application/json")


def error_response(err: ExchangeError) -> web.Response:
    response = json_response({"code": err.code, "msg": err.msg}, status=err.http_status)
    response.headers.update(err.headers)
    return response


def _is_rest(request: web.Request) -> bool:
    return request.path.startswith(REST_PREFIX)


def _ip(request: web.Request) -> str:
    return request.remote or "unknown"


# --- routes ----------------------------------------------------------------------------------------------


async def _read_body(request: web.Request) -> str:
    if not request.can_read_body:
        return ""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise ExchangeError.payload_too_large()
    raw = await request.content.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise ExchangeError.payload_too_large()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ExchangeError.illegal_chars("body") from exc


def _endpoint(route: Route, ctx: SandboxContext) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        body = await _read_body(request)
        query = request.rel_url.raw_query_string
        params = Params.from_request(query, body)
        now = ctx.clock.now_ms()
        account = ""
        if route.signed:
            account = authenticate(
                api_key=request.headers.get("X-MBX-APIKEY"),
                query=query,
                body=body,
                params=params,
                now_ms=now,
                secret_of=ctx.core.secret_of,
                wall_to_clock=ctx.clock.from_wall_ms,
                speed=ctx.clock.speed,
            )
        counts = ctx.rate_limiter.order_count_of(route.method, route.path)
        if counts is not None:
            request[_ORDER_USAGE] = ctx.rate_limiter.acquire_orders(account, counts[0], counts[1], now)
        result = route.handler(Call(ctx, params, account, now))
        if route.places_orders and ctx.faults.roll(ctx.faults.config.order_timeout_placed):
            # The unknown-outcome case: the order is in the book, the client only learns of a timeout.
            raise ExchangeError.timeout()
        return json_response(result)

    handle.__name__ = f"rest_{route.handler.__name__}"
    return handle


def add_rest_routes(app: web.Application, ctx: SandboxContext) -> None:
    """Register every ``/fapi`` REST endpoint and the admin endpoint on ``app``."""
    for route in ALL_ROUTES:
        app.router.add_route(route.method, route.path, _endpoint(route, ctx))
    add_admin_routes(app, ctx)


# --- middlewares -----------------------------------------------------------------------------------------


def _errors_middleware(ctx: SandboxContext) -> Middleware:
    @web.middleware
    async def errors(request: web.Request, handler: _Next) -> web.StreamResponse:
        if not _is_rest(request):
            return await handler(request)
        response: web.StreamResponse
        try:
            response = await handler(request)
        except ExchangeError as err:
            response = error_response(err)
        except web.HTTPException as exc:
            response = error_response(_from_http_exception(request, exc))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("REST handler failed: %s %s", request.method, request.path)
            response = error_response(ExchangeError.unknown())
        if not response.prepared:
            used = ctx.rate_limiter.used_weight(_ip(request), ctx.clock.now_ms())
            response.headers.setdefault("X-MBX-USED-WEIGHT-1M", str(used))
            usage = request.get(_ORDER_USAGE)
            if usage is not None:
                response.headers.setdefault("X-MBX-ORDER-COUNT-10S", str(usage.count_10s))
                response.headers.setdefault("X-MBX-ORDER-COUNT-1M", str(usage.count_1m))
        return response

    return errors


def _from_http_exception(request: web.Request, exc: web.HTTPException) -> ExchangeError:
    if exc.status == 413:
        return ExchangeError.payload_too_large()
    if exc.status in (404, 405):
        return ExchangeError.invalid_path(request.method, request.path)
    err = ExchangeError.unknown()
    err.http_status = exc.status
    return err


def _limits_middleware(ctx: SandboxContext) -> Middleware:
    @web.middleware
    async def limits(request: web.Request, handler: _Next) -> web.StreamResponse:
        if not _is_rest(request):
            return await handler(request)
        query = request.rel_url.raw_query_string
        if len(query) > MAX_QUERY_CHARS:
            raise ExchangeError.payload_too_large()
        try:
            params: Params = Params.from_request(query, "")
        except ExchangeError:
            params = Params({})  # the handler answers the bad query; weight falls back to the base rule
        limiter = ctx.rate_limiter
        weight = limiter.weight_of(request.method, request.path, params)
        limiter.acquire_weight(_ip(request), weight, ctx.clock.now_ms())
        return await handler(request)

    return limits


def _faults_middleware(ctx: SandboxContext) -> Middleware:
    @web.middleware
    async def faults(request: web.Request, handler: _Next) -> web.StreamResponse:
        if not _is_rest(request):
            return await handler(request)
        dice = ctx.faults
        latency = dice.config.latency_ms
        if latency > 0:
            await asyncio.sleep(latency / 1000.0)  # the fault itself: a slow venue
        if dice.take_429():
            err = ExchangeError.too_many_requests(ctx.rate_limiter.weight_limit)
            err.headers["Retry-After"] = "1"
            raise err
        if dice.roll(dice.config.http_5xx):
            if dice.roll(0.5):
                return web.Response(status=502, text=_GATEWAY_HTML, content_type="text/html")
            raise ExchangeError.disconnected()
        return await handler(request)

    return faults


def rest_middlewares(ctx: SandboxContext) -> list[Middleware]:
    """The middlewares for ``web.Application(middlewares=...)``, outermost first."""
    return [_errors_middleware(ctx), _limits_middleware(ctx), _faults_middleware(ctx)]
