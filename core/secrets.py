"""API credentials that never show themselves.

A :class:`Secret` wraps a string (an API key or secret). Its ``repr``, ``str`` and every ``format``
spec print ``***``; encoding it with msgspec (through :func:`enc_hook`) writes ``"***"``; equality is
constant-time. The only way to the value is :meth:`Secret.reveal`, called where the value is used
(signing a request, the ``X-MBX-APIKEY`` header), never where it is shown.

msgspec integration: ``Secret`` is a custom type, so Structs that hold one are decoded with
``dec_hook=secrets.dec_hook`` (a JSON/TOML string becomes a ``Secret``) and encoded with
``enc_hook=secrets.enc_hook`` (a ``Secret`` becomes ``"***"``). Without the encode hook msgspec refuses
to encode the Struct at all (``TypeError`` naming the type, not the value), so forgetting it cannot leak.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, NoReturn

__all__ = ["MASK", "Secret", "dec_hook", "enc_hook"]

MASK = "***"


class Secret:
    """A credential whose value is only available through :meth:`reveal`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"a Secret holds a str, got {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The value itself: call this only where it is used, never where it is shown."""
        return self._value

    def matches(self, candidate: str) -> bool:
        """Constant-time comparison with a plain string (e.g. a key received in a header)."""
        return hmac.compare_digest(self._value.encode(), candidate.encode())

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        # Hash a digest, so the hash value is no shortcut to the secret's characters.
        return hash(hashlib.sha256(self._value.encode()).digest())

    def __setattr__(self, name: str, value: Any) -> None:
        if hasattr(self, "_value"):
            raise AttributeError("Secret is immutable")
        object.__setattr__(self, name, value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Pickling keeps the value (settings may be handed to a worker process); it is not display.
        return (Secret, (self._value,))


def enc_hook(obj: Any) -> Any:
    """msgspec ``enc_hook``: a :class:`Secret` encodes as ``"***"``; other unknown types are refused."""
    if isinstance(obj, Secret):
        return MASK
    _refuse(obj)


def _refuse(obj: Any) -> NoReturn:
    # msgspec's hook protocol: NotImplementedError means "this hook does not handle that type", which msgspec
    # reports as an unsupported type (naming the type, never the value).
    raise NotImplementedError(f"cannot encode objects of type {type(obj).__name__}")


def dec_hook(tp: type, obj: Any) -> Any:
    """msgspec ``dec_hook``: a string decodes into a :class:`Secret` where the schema says ``Secret``."""
    if tp is Secret:
        if isinstance(obj, Secret):
            return obj
        if not isinstance(obj, str):
            raise ValueError(f"expected a string, got {type(obj).__name__}")
        return Secret(obj)
    raise NotImplementedError(f"no decoder for type {tp!r}")  # msgspec's protocol, as in _refuse
