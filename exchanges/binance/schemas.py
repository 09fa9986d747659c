"""Binance USDⓈ-M REST response schemas: the shared base, small bodies and the decoding entry point.

Every REST body is decoded by msgspec straight from bytes into a schema Struct (:func:`decode`), then
converted to domain types by the schema's ``to_*`` method; no Binance JSON crosses the adapter. The
endpoint-specific schemas live in :mod:`schemas_market` (exchangeInfo, klines, aggTrades, depth, tickers,
premiumIndex, leverageBracket), :mod:`schemas_orders` (order, algoOrder, userTrades, batch answers,
countdownCancelAll) and :mod:`schemas_account` (account v3, balance v3, positionRisk v3, income, leverage).

Conventions:

- Decimals are decoded from Binance's decimal strings exactly (msgspec parses the text into ``Decimal``;
  JSON numbers, as in leverageBracket, are parsed from their text too, never through a float).
- Fields Binance may send empty (``""``) or ``null`` are typed ``str``/``... | None`` and converted by
  :func:`dec`, so an empty value reads as zero instead of failing the whole body.
- Unknown fields are ignored (Binance adds fields over time); missing optional fields take defaults.
- ``strict=False`` in :func:`decode` additionally accepts integers and booleans written as strings: the
  recorded fixture bodies (transcribed by ccxt) store some ids and times that way, the real API does not.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import TypeVar

import msgspec

from core.types import ZERO

__all__ = [
    "CodeMsg",
    "ErrorBody",
    "ListenKeyBody",
    "Schema",
    "SchemaError",
    "ServerTime",
    "dec",
    "decode",
    "enum_of",
    "error_of_body",
    "retry_after_of",
]

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)


class SchemaError(ValueError):
    """A venue answer did not match its schema: the body is kept out, the reason names the field."""


class Schema(msgspec.Struct, rename="camel", frozen=True, kw_only=True):
    """Base of the REST schemas: snake_case here, camelCase on the wire."""


def decode(data: bytes | msgspec.Raw, schema: type[T], *, strict: bool = True) -> T:
    """``data`` decoded into ``schema`` (a Struct or a ``list[...]`` of them); else :class:`SchemaError`."""
    try:
        return msgspec.json.decode(data, type=schema, strict=strict)
    except msgspec.ValidationError as exc:
        raise SchemaError(f"unexpected {_name(schema)} body: {exc}") from None
    except msgspec.DecodeError as exc:
        raise SchemaError(f"malformed JSON for {_name(schema)}: {exc}") from None


def _name(schema: object) -> str:
    return getattr(schema, "__name__", None) or str(schema)


def dec(value: str | Decimal | int | None) -> Decimal:
    """A Decimal from a wire value that may be empty or null (``""``/``None`` → 0)."""
    if value is None or value == "":
        return ZERO
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(value)
    except InvalidOperation:
        raise SchemaError(f"not a decimal: {value!r}") from None


def enum_of(kind: type[E], value: str, *, aliases: dict[str, E] | None = None) -> E:
    """``kind(value)``, through ``aliases`` first; :class:`SchemaError` naming the enum when unknown."""
    if aliases and value in aliases:
        return aliases[value]
    try:
        return kind(value)
    except ValueError:
        raise SchemaError(f"unknown {kind.__name__} {value!r}") from None


class ErrorBody(Schema, frozen=True):
    """Binance's error answer ``{"code": -2013, "msg": "Order does not exist."}``."""

    code: int
    msg: str = ""


class _MaybeErrorBody(msgspec.Struct, frozen=True):
    code: int | None = None
    msg: str = ""


def error_of_body(body: bytes) -> tuple[int | None, str]:
    """``(code, msg)`` of an error answer; ``(None, "")`` when it is not Binance's JSON (a proxy page)."""
    try:
        parsed = msgspec.json.decode(body, type=_MaybeErrorBody)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None, ""
    return parsed.code, parsed.msg


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """The ``Retry-After`` header in seconds, or None when absent or unreadable."""
    raw = headers.get("Retry-After")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return max(0.0, value) if math.isfinite(value) else None


class CodeMsg(Schema, frozen=True):
    """A ``{"code": 200, "msg": "..."}`` success answer (cancel-all); the algo endpoints send code as text."""

    code: int | str
    msg: str = ""


class ServerTime(Schema, frozen=True):
    """GET /fapi/v1/time."""

    server_time: int


class ListenKeyBody(Schema, frozen=True):
    """POST/PUT /fapi/v1/listenKey."""

    listen_key: str
