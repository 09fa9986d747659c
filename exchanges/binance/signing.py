"""Request encoding and signing for Binance's SIGNED (TRADE / USER_DATA) endpoints.

Binance verifies ``signature`` over ``totalParams``: the query string concatenated with the request body,
byte for byte as sent. We send every parameter in the query string (as Binance's official SDK does) and no
body, so the signed payload is exactly the encoded query we put on the URL, and nothing may re-encode it on
the way (the REST client passes it to aiohttp as an already-encoded URL).

Two key kinds:

- HMAC-SHA256 (the usual API secret): ``signature`` is the lowercase hex digest.
- Ed25519 (a PEM private key registered with Binance): ``signature`` is the base64 of the Ed25519 signature,
  percent-encoded in the query. This needs the optional ``cryptography`` package; without it
  :func:`signer_for` raises :class:`~exchanges.errors.FatalError` naming the package.

Values go on the wire exactly: ``Decimal`` through :func:`core.precision.format_decimal` (never a float),
booleans as ``true``/``false``, enums by value, lists and mappings as compact JSON (``batchOrders``).
Secrets are held as :class:`core.secrets.Secret` and revealed only inside ``sign``; no repr shows them.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Protocol
from urllib.parse import quote

import msgspec

from core.precision import format_decimal
from core.secrets import Secret
from exchanges.errors import FatalError

__all__ = [
    "Ed25519Signer",
    "HmacSigner",
    "ParamValue",
    "Signer",
    "encode_params",
    "encode_value",
    "signed_query",
    "signer_for",
]

ParamValue = str | int | bool | Decimal | enum.Enum | Sequence[object] | Mapping[str, object] | None

_PEM_MARKER = "-----BEGIN"


class Signer(Protocol):
    """Computes the ``signature`` parameter (already safe to put in a query string) of a payload."""

    def sign(self, payload: str) -> str: ...


class HmacSigner:
    """HMAC-SHA256 with the API secret: ``hex(HMAC(secret, payload))``."""

    __slots__ = ("_key",)

    def __init__(self, secret: Secret) -> None:
        if not secret:
            raise FatalError("the API secret is empty", endpoint="signing")
        self._key = secret

    def sign(self, payload: str) -> str:
        return hmac.new(self._key.reveal().encode(), payload.encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "HmacSigner(secret=***)"


class Ed25519Signer:
    """Ed25519 with a PEM private key: ``percent-encode(base64(sign(payload)))``.

    Requires the optional ``cryptography`` package; raises :class:`FatalError` when it is missing or the
    key cannot be loaded (the error never contains the key).
    """

    __slots__ = ("_key",)

    def __init__(self, private_key_pem: Secret, password: Secret | None = None) -> None:
        try:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
            from cryptography.hazmat.primitives.serialization import load_pem_private_key
        except ImportError as exc:
            raise FatalError(
                "Ed25519 API keys need the optional package 'cryptography' (pip install cryptography); "
                "install it or use an HMAC API key",
                endpoint="signing",
            ) from exc
        try:
            key = load_pem_private_key(
                private_key_pem.reveal().encode(),
                password=password.reveal().encode() if password else None,
            )
        except (ValueError, TypeError) as exc:
            # The library's message may quote key material: keep only the class of the failure.
            raise FatalError(
                f"the Ed25519 private key could not be loaded ({type(exc).__name__})", endpoint="signing"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise FatalError(
                f"the private key is {type(key).__name__}, not an Ed25519 key", endpoint="signing"
            )
        self._key = key

    def sign(self, payload: str) -> str:
        raw = self._key.sign(payload.encode())
        return quote(base64.b64encode(raw).decode(), safe="")

    def __repr__(self) -> str:
        return "Ed25519Signer(key=***)"


def signer_for(api_secret: Secret, *, password: Secret | None = None) -> Signer:
    """The signer for ``api_secret``: a PEM private key means Ed25519, anything else HMAC-SHA256."""
    if api_secret.reveal().lstrip().startswith(_PEM_MARKER):
        return Ed25519Signer(api_secret, password)
    return HmacSigner(api_secret)


_json = msgspec.json.Encoder()


def _jsonable(value: object) -> object:
    """``value`` with every Decimal as its exact wire string and every enum as its value (for JSON)."""
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        raise TypeError("floats are refused on the wire: use Decimal")
    return value


def encode_value(value: ParamValue) -> str:
    """The wire text of one parameter value (before percent-encoding)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | Sequence):
        return _json.encode(_jsonable(value)).decode()
    raise TypeError(f"cannot put a {type(value).__name__} on the wire (floats are refused: use Decimal)")


def encode_params(params: Mapping[str, ParamValue]) -> str:
    """``k=v&k=v`` in the given order, values encoded by :func:`encode_value` then percent-encoded.

    ``None`` values are left out (an optional parameter not sent).
    """
    return "&".join(
        f"{quote(key, safe='')}={quote(encode_value(value), safe='')}"
        for key, value in params.items()
        if value is not None
    )


def signed_query(query: str, signer: Signer, *, timestamp: int, recv_window: int) -> str:
    """``query`` plus ``recvWindow``, ``timestamp`` and the ``signature`` over all of it."""
    base = f"{query}&" if query else ""
    payload = f"{base}recvWindow={recv_window}&timestamp={timestamp}"
    return f"{payload}&signature={signer.sign(payload)}"
