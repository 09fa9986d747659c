"""Admin endpoint on the sandbox's port: read and change the fault injection settings at runtime.

``GET /admin/faults`` answers the current :class:`FaultConfig` as JSON. ``POST /admin/faults`` takes
the ``--faults`` syntax (``name=value,name=value``) as the raw body, or as query parameters
(``?latency_ms=100&http_5xx=0.2``), applies it on top of the current settings and answers the result.
A clock skew change is applied to the exchange clock at once, so serverTime and every stamp shift.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import msgspec
from aiohttp import web

from exchanges.sandbox.faults import FaultSpecError
from exchanges.sandbox.server.context import SandboxContext

__all__ = ["ADMIN_FAULTS_PATH", "add_admin_routes"]

ADMIN_FAULTS_PATH = "/admin/faults"
MAX_SPEC_BYTES = 4096


def _json(payload: object, status: int = 200) -> web.Response:
    return web.Response(body=msgspec.json.encode(payload), status=status, content_type="application/json")


def _spec_of(query: str, body: str) -> str:
    parts = [f"{k}={v}" for k, v in parse_qsl(query, keep_blank_values=True)]
    if body.strip():
        parts.append(body.strip())
    return ",".join(parts)


def add_admin_routes(app: web.Application, ctx: SandboxContext) -> None:
    """Register ``GET/POST /admin/faults``."""

    async def get_faults(request: web.Request) -> web.Response:
        return _json(ctx.faults.config)

    async def post_faults(request: web.Request) -> web.Response:
        raw = await request.content.read(MAX_SPEC_BYTES + 1)
        if len(raw) > MAX_SPEC_BYTES:
            return _json({"code": -1101, "msg": "Fault specification too long."}, status=413)
        try:
            spec = _spec_of(request.rel_url.raw_query_string, raw.decode("utf-8"))
            config = ctx.faults.update(spec)
        except (FaultSpecError, UnicodeDecodeError) as exc:
            return _json({"code": -1130, "msg": str(exc)}, status=400)
        ctx.clock.set_skew(config.clock_skew_ms)
        return _json(config)

    app.router.add_get(ADMIN_FAULTS_PATH, get_faults)
    app.router.add_post(ADMIN_FAULTS_PATH, post_faults)
