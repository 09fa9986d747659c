"""Deterministic client order ids and client algo ids, one per (decision, leg, index).

Why deterministic: an order placement whose answer is lost (timeout, 5xx) is resolved by querying the
order by its client id, and a placement that is tried again must carry the *same* id, so Binance's own
uniqueness check and our query both see one order. The id is therefore a pure function of the decision that
wanted the order, never of time or a counter.

Shape: ``<prefix>-<body>-<leg><index>``, within Binance's rule ``^[\\.A-Z\\:/a-z0-9_-]{1,36}$`` for both
``newClientOrderId`` and ``clientAlgoId``:

- ``prefix``: 1-6 ASCII letters or digits (default ``cas``), so our orders are recognisable on the account;
- ``body``: the decision id itself when it only uses allowed characters, does not start with ``.`` and fits;
  otherwise ``.`` followed by 20 base64url characters of a BLAKE2b digest of the decision id (120 bits:
  collisions are not a practical concern). The leading ``.`` keeps the two forms apart;
- ``leg``: one letter (:class:`Leg`), ``index`` 0-99 (several take-profits of one decision, say).

:func:`parse_client_id` reads an id back (for reconciliation: which decision and leg an order belongs to).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import re

import msgspec

__all__ = [
    "CLIENT_ID_MAX_LEN",
    "CLIENT_ID_RE",
    "ClientIdParts",
    "Leg",
    "client_algo_id",
    "client_order_id",
    "parse_client_id",
]

CLIENT_ID_MAX_LEN = 36
CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
DEFAULT_PREFIX = "cas"
_PREFIX_RE = re.compile(r"^[A-Za-z0-9]{1,6}$")
_BODY_CHARS = re.compile(r"^[\.A-Z\:/a-z0-9_-]+$")
_HASH_MARK = "."
_DIGEST_BYTES = 15  # 20 base64url characters, no padding
_MAX_INDEX = 99


class Leg(enum.StrEnum):
    """Which order of a decision: one letter in the id."""

    ENTRY = "E"
    TAKE_PROFIT = "T"
    STOP = "S"
    CLOSE = "X"  # an explicit (emergency) close
    REDUCE = "R"  # a partial reduction


class ClientIdParts(msgspec.Struct, frozen=True, kw_only=True):
    """A client id read back: ``decision`` is the decision id, or ``None`` when the id holds its digest."""

    prefix: str
    body: str
    leg: Leg
    index: int
    decision: str | None


def _digest(decision_id: str) -> str:
    raw = hashlib.blake2b(decision_id.encode(), digest_size=_DIGEST_BYTES).digest()
    return _HASH_MARK + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def client_order_id(decision_id: str, leg: Leg | str, index: int = 0, *, prefix: str = DEFAULT_PREFIX) -> str:
    """The ``newClientOrderId`` of leg ``leg`` (number ``index``) of decision ``decision_id``.

    Same inputs, same id, always. Raises ``ValueError`` for an empty decision id, an unknown leg, an index
    outside 0-99 or a prefix that is not 1-6 letters/digits.
    """
    if not decision_id:
        raise ValueError("a client id needs a non-empty decision id")
    if not _PREFIX_RE.fullmatch(prefix):
        raise ValueError(f"client id prefix must be 1-6 ASCII letters or digits, got {prefix!r}")
    if not 0 <= index <= _MAX_INDEX:
        raise ValueError(f"leg index must be within 0..{_MAX_INDEX}, got {index}")
    tail = f"{Leg(leg).value}{index}"
    room = CLIENT_ID_MAX_LEN - len(prefix) - len(tail) - 2
    readable = (
        len(decision_id) <= room
        and not decision_id.startswith(_HASH_MARK)
        and _BODY_CHARS.fullmatch(decision_id) is not None
    )
    body = decision_id if readable else _digest(decision_id)
    return f"{prefix}-{body}-{tail}"


def client_algo_id(decision_id: str, leg: Leg | str, index: int = 0, *, prefix: str = DEFAULT_PREFIX) -> str:
    """The ``clientAlgoId`` of a conditional leg: same rule as :func:`client_order_id`.

    Binance keeps algo ids in their own namespace, so a decision's stop may share the text of an entry id;
    the leg letter keeps them distinct anyway.
    """
    return client_order_id(decision_id, leg, index, prefix=prefix)


def parse_client_id(client_id: str) -> ClientIdParts | None:
    """The parts of an id built here, or ``None`` for any other id (manual orders, other software)."""
    if not CLIENT_ID_RE.fullmatch(client_id):
        return None
    prefix, sep, rest = client_id.partition("-")
    body, sep2, tail = rest.rpartition("-")
    if not (sep and sep2 and body and _PREFIX_RE.fullmatch(prefix)) or len(tail) < 2:
        return None
    try:
        leg = Leg(tail[0])
    except ValueError:
        return None
    digits = tail[1:]
    if not digits.isdigit() or (len(digits) > 1 and digits.startswith("0")) or int(digits) > _MAX_INDEX:
        return None
    decision = None if body.startswith(_HASH_MARK) else body
    return ClientIdParts(prefix=prefix, body=body, leg=leg, index=int(digits), decision=decision)
