"""Request parameters as Binance reads them, and the errors it answers for bad ones.

Names are case-sensitive and values are strings. A parameter sent in both the query string and the
form body is taken from the query string (Binance's documented rule). Every accessor raises the
``ExchangeError`` the venue sends: -1102 for a missing mandatory parameter, -1100 for a value that is
not a number, -1116/-1117/-1115 for a bad order type / side / time in force, -1130 for any other
invalid value.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation
from typing import TypeVar
from urllib.parse import parse_qsl

import msgspec

from core.types import OrderType, Side, TimeInForce
from exchanges.sandbox.errors import ExchangeError

__all__ = ["MAX_PARAMS", "Params", "parse_decimal", "parse_form"]

E = TypeVar("E", bound=enum.Enum)

# Binance's number grammar: optional sign, digits, optional fraction; no exponent, no spaces.
_DECIMAL_RE = re.compile(r"-?[0-9]{1,20}(\.[0-9]{1,20})?")
_INT_RE = re.compile(r"-?[0-9]{1,20}")
# Client ids: Binance's documented rule for newClientOrderId / clientAlgoId.
CLIENT_ID_RE = re.compile(r"[.A-Z:/a-z0-9_-]{1,36}")
MAX_PARAMS = 100


def parse_form(raw: str) -> list[tuple[str, str]]:
    """Decode ``a=1&b=2`` (percent-encoding and ``+`` as space) into ordered pairs.

    Raises -1100 when the text cannot be decoded and -1101 when it carries absurdly many parameters.
    """
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise ExchangeError.illegal_chars("query") from exc
    if len(pairs) > MAX_PARAMS:
        raise ExchangeError.payload_too_large()
    return pairs


def parse_decimal(name: str, text: str) -> Decimal:
    """A decimal in Binance's plain notation; anything else is -1100 (illegal characters)."""
    if not _DECIMAL_RE.fullmatch(text):
        raise ExchangeError.illegal_chars(name)
    try:
        return Decimal(text)
    except InvalidOperation as exc:  # unreachable after the regex; kept so a bad value never escapes
        raise ExchangeError.illegal_chars(name) from exc


class Params(Mapping[str, str]):
    """The parameters of one request (query string first, then the form body)."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    @classmethod
    def from_request(cls, query: str, body: str) -> Params:
        """Merge the query string and form body; the query string wins on duplicates."""
        values: dict[str, str] = {}
        for name, value in parse_form(query):
            values.setdefault(name, value)
        for name, value in parse_form(body):
            values.setdefault(name, value)
        return cls(values)

    @classmethod
    def from_json_object(cls, obj: object, container: str) -> Params:
        """One item of ``batchOrders``: a JSON object whose values Binance reads as strings."""
        if not isinstance(obj, dict):
            raise ExchangeError.bad_param(container)
        values: dict[str, str] = {}
        for name, value in obj.items():
            if isinstance(value, bool):
                values[str(name)] = "true" if value else "false"
            elif isinstance(value, (str, int, float, Decimal)):
                values[str(name)] = str(value)
            else:
                raise ExchangeError.bad_param(str(name))
        return cls(values)

    # Mapping protocol
    def __getitem__(self, name: str) -> str:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    # Accessors
    def present(self, name: str) -> bool:
        """True when ``name`` was sent with a non-empty value."""
        return bool(self._values.get(name))

    def opt_str(self, name: str) -> str | None:
        value = self._values.get(name)
        return value if value else None

    def req_str(self, name: str) -> str:
        value = self._values.get(name)
        if not value:
            raise ExchangeError.mandatory_missing(name)
        return value

    def req_symbol(self) -> str:
        """The mandatory ``symbol`` parameter, upper-cased as Binance accepts it."""
        return self.req_str("symbol").upper()

    def opt_symbol(self) -> str | None:
        value = self.opt_str("symbol")
        return value.upper() if value is not None else None

    def opt_decimal(self, name: str) -> Decimal | None:
        text = self.opt_str(name)
        return None if text is None else parse_decimal(name, text)

    def req_decimal(self, name: str) -> Decimal:
        return parse_decimal(name, self.req_str(name))

    def opt_int(self, name: str) -> int | None:
        text = self.opt_str(name)
        if text is None:
            return None
        if not _INT_RE.fullmatch(text):
            raise ExchangeError.illegal_chars(name)
        return int(text)

    def req_int(self, name: str) -> int:
        value = self.opt_int(name)
        if value is None:
            raise ExchangeError.mandatory_missing(name)
        return value

    def opt_bool(self, name: str) -> bool | None:
        text = self.opt_str(name)
        if text is None:
            return None
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise ExchangeError.bad_param(name, text)
        return lowered == "true"

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.opt_bool(name)
        return default if value is None else value

    def opt_enum(self, name: str, enum_type: type[E]) -> E | None:
        text = self.opt_str(name)
        if text is None:
            return None
        try:
            return enum_type(text)
        except ValueError as exc:
            raise _enum_error(name, enum_type, text) from exc

    def req_enum(self, name: str, enum_type: type[E]) -> E:
        value = self.opt_enum(name, enum_type)
        if value is None:
            raise ExchangeError.mandatory_missing(name)
        return value

    def client_id(self, name: str) -> str | None:
        """A client order id, checked against Binance's ``^[.A-Z:/a-z0-9_-]{1,36}$`` rule."""
        text = self.opt_str(name)
        if text is not None and not CLIENT_ID_RE.fullmatch(text):
            raise ExchangeError.bad_param(name, text)
        return text

    def limit(self, default: int, maximum: int, name: str = "limit") -> int:
        """A ``limit`` parameter: default when absent, -1130 when out of ``[1, maximum]``."""
        value = self.opt_int(name)
        if value is None:
            return default
        if not 1 <= value <= maximum:
            raise ExchangeError.bad_param(name, str(value))
        return value

    def json_list(self, name: str, maximum: int) -> list[object]:
        """A JSON array parameter (``batchOrders``, ``orderIdList``...) of at most ``maximum`` items."""
        text = self.req_str(name)
        try:
            value = msgspec.json.decode(text)
        except msgspec.DecodeError as exc:
            raise ExchangeError.bad_param(name) from exc
        if not isinstance(value, list) or not value or len(value) > maximum:
            raise ExchangeError.bad_param(name)
        return value


def _enum_error(name: str, enum_type: type[enum.Enum], text: str) -> ExchangeError:
    if enum_type is OrderType:
        return ExchangeError.invalid_order_type()
    if enum_type is Side:
        return ExchangeError.invalid_side()
    if enum_type is TimeInForce:
        return ExchangeError.invalid_tif()
    return ExchangeError.bad_param(name, text)
