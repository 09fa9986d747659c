"""The sandbox's aiohttp application: REST (``/fapi``), the listenKey endpoints and the WebSocket routes."""

from __future__ import annotations

from aiohttp import web

from exchanges.sandbox.errors import ExchangeError
from exchanges.sandbox.server.auth import check_api_key
from exchanges.sandbox.server.context import SandboxContext
from exchanges.sandbox.server.hub import Hub
from exchanges.sandbox.server.ws import WsServer, WsSettings

__all__ = ["HUB_KEY", "WS_SERVER_KEY", "create_app"]

HUB_KEY = web.AppKey("sandbox_hub", Hub)
WS_SERVER_KEY = web.AppKey("sandbox_ws_server", WsServer)
_LISTEN_KEY_PATH = "/fapi/v1/listenKey"


def create_app(ctx: SandboxContext, *, ws_settings: WsSettings | None = None) -> web.Application:
    """Build the application serving ``ctx``: REST routes and middlewares, listenKey, WebSocket routes.

    The :class:`Hub` that fans frames out to WebSocket clients is ``app[HUB_KEY]``.
    """
    from exchanges.sandbox.server.rest import add_rest_routes, rest_middlewares

    app = web.Application(middlewares=rest_middlewares(ctx), client_max_size=64 * 1024)
    hub = Hub(ctx.faults)
    ws_server = WsServer(hub, ws_settings)
    app[HUB_KEY] = hub
    app[WS_SERVER_KEY] = ws_server
    _add_listen_key_routes(app, ctx)
    ws_server.add_routes(app)
    add_rest_routes(app, ctx)
    return app


def _error(exc: ExchangeError) -> web.Response:
    return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.http_status, headers=exc.headers)


def _add_listen_key_routes(app: web.Application, ctx: SandboxContext) -> None:
    """``POST/PUT/DELETE /fapi/v1/listenKey``: USER_STREAM security (API-key header, no signature)."""

    def account_of(request: web.Request) -> str:
        api_key = request.headers.get("X-MBX-APIKEY")
        check_api_key(api_key, ctx.core.secret_of)
        assert api_key is not None  # check_api_key refused a missing key
        return api_key

    async def given_key(request: web.Request) -> str | None:
        # Binance's USDⓈ-M PUT/DELETE take no parameter (the key is the account's); accept one if sent.
        if request.query.get("listenKey"):
            return request.query["listenKey"]
        if request.can_read_body:
            form = await request.post()
            value = form.get("listenKey")
            return value if isinstance(value, str) and value else None
        return None

    async def create(request: web.Request) -> web.Response:
        try:
            return web.json_response({"listenKey": ctx.listen_keys.create(account_of(request))})
        except ExchangeError as exc:
            return _error(exc)

    async def keepalive(request: web.Request) -> web.Response:
        try:
            key = ctx.listen_keys.keepalive(account_of(request), await given_key(request))
            return web.json_response({"listenKey": key})
        except ExchangeError as exc:
            return _error(exc)

    async def delete(request: web.Request) -> web.Response:
        try:
            key = ctx.listen_keys.delete(account_of(request), await given_key(request))
        except ExchangeError as exc:
            return _error(exc)
        # Binance: "Doing a DELETE on a listenKey will close the stream": connections that listened to
        # nothing else are closed; the others just stop receiving it.
        hub = app[HUB_KEY]
        for conn in list(hub.connections):
            if key in conn.streams:
                hub.unsubscribe(conn, [key])
                if not conn.streams:
                    conn.request_close(1000, "listenKey deleted")
        return web.json_response({})

    app.router.add_post(_LISTEN_KEY_PATH, create)
    app.router.add_put(_LISTEN_KEY_PATH, keepalive)
    app.router.add_delete(_LISTEN_KEY_PATH, delete)
