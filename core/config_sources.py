"""The machinery under :mod:`core.config`, independent of what the settings are.

A :class:`Schema` walks a root msgspec Struct into dotted leaf keys (``sandbox.port``) and their types;
:class:`Layers` collects leaf values from each source, converting and validating every value as it
arrives so an error names the key and the source; ``build`` assembles the root Struct, whose
``__post_init__`` checks map back to dotted keys too. Also here: the ``.env`` parser and TOML reader.
"""

from __future__ import annotations

import difflib
import re
import tomllib
import types
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from core.secrets import dec_hook

__all__ = [
    "ConfigError",
    "Layers",
    "Schema",
    "default_text",
    "description",
    "field_error",
    "parse_dotenv",
    "read_toml",
    "type_name",
]


class ConfigError(ValueError):
    """A setting is unknown or invalid: fix the named key in the named place and start again."""

    def __init__(self, key: str, problem: str, source: str) -> None:
        super().__init__(f"{key or 'settings'}: {problem} (from {source})")
        self.key = key
        self.source = source
        self.problem = problem


def field_error(field: str, problem: str) -> ValueError:
    """A ``__post_init__`` failure; :class:`Layers` maps the backquoted field name back to its dotted key."""
    return ValueError(f"`{field}`: {problem}")


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, msgspec.Struct)


def strip_annotated(tp: Any) -> Any:
    """The type under ``Annotated`` wrappers."""
    while typing.get_origin(tp) is Annotated:
        tp = typing.get_args(tp)[0]
    return tp


def optional_inner(tp: Any) -> Any | None:
    """``X`` for ``X | None``, else ``None``."""
    tp = strip_annotated(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if len(args) == 2 and type(None) in args:
            return next(a for a in args if a is not type(None))
    return None


class Schema:
    """Dotted leaf keys of a root Struct, its section names, and their environment variable names."""

    def __init__(self, root: type[msgspec.Struct], env_prefix: str) -> None:
        self.root = root
        self.env_prefix = env_prefix
        self.leaves: dict[str, msgspec.structs.FieldInfo] = dict(self._walk(root, ""))
        self.sections = frozenset(_section_prefixes(self.leaves))

    def _walk(
        self, cls: type[msgspec.Struct], prefix: str
    ) -> Iterator[tuple[str, msgspec.structs.FieldInfo]]:
        for info in msgspec.structs.fields(cls):
            key = prefix + info.name
            if _is_section(info.type):
                yield from self._walk(info.type, key + ".")
            else:
                yield key, info

    def env_name(self, key: str) -> str:
        """``sandbox.port`` → ``CASINO_SANDBOX__PORT`` (with prefix ``CASINO_``)."""
        return self.env_prefix + "__".join(part.upper() for part in key.split("."))

    def env_key(self, name: str) -> str:
        """The dotted key an environment variable name would set (it may be unknown)."""
        return ".".join(part.lower() for part in name[len(self.env_prefix) :].split("__"))


def _section_prefixes(leaves: Mapping[str, Any]) -> Iterator[str]:
    for key in leaves:
        parts = key.split(".")[:-1]
        for i in range(1, len(parts) + 1):
            yield ".".join(parts[:i])


def _from_string(text: str, tp: Any) -> Any:
    """Shape a string (environment, flag) for its key's type; msgspec then converts and validates it."""
    inner = optional_inner(tp)
    if inner is not None:
        return None if text.strip() == "" else _from_string(text, inner)
    base = strip_annotated(tp)
    if typing.get_origin(base) is tuple:
        return [part.strip() for part in text.split(",") if part.strip()]
    if typing.get_origin(base) is dict:
        # Mappings (per-sensor parameters) come as JSON from the environment or a flag.
        try:
            return msgspec.json.decode(text.strip() or "{}")
        except msgspec.DecodeError:
            return text
    if base is bool:
        word = text.strip().lower()
        return {"yes": "true", "on": "true", "no": "false", "off": "false"}.get(word, word)
    if typing.get_origin(base) is Literal:
        for option in typing.get_args(base):
            if isinstance(option, str) and option.lower() == text.strip().lower():
                return option
    return text.strip()


_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_POST_INIT_FIELD = re.compile(r"^`(?P<field>\w+)`: (?P<msg>.*)$", re.DOTALL)


def _split_validation(exc: msgspec.ValidationError) -> tuple[str, str]:
    """``(dotted key, problem)`` from a msgspec error such as ``Expected `int` - at `$.sandbox.port```."""
    match = _PATH.match(str(exc))
    msg, path = (match.group("msg"), match.group("path") or "") if match else (str(exc), "")
    key = re.sub(r"\[\d+\]", "", path).lstrip(".")
    field = _POST_INIT_FIELD.match(msg)
    if field:
        key = f"{key}.{field.group('field')}" if key else field.group("field")
        msg = field.group("msg")
    return key, msg


class Layers:
    """Leaf values by dotted key, each remembering which layer set it (later layers win)."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.values: dict[str, Any] = {}
        self.sources: dict[str, str] = {}

    def set(self, key: str, value: Any, source: str, *, from_string: bool) -> None:
        """Convert and validate one value now, so its error names this key and this source."""
        info = self.schema.leaves.get(key)
        if info is None:
            if key in self.schema.sections:
                raise ConfigError(key, f"is a section: set its keys ({key}.<key>)", source)
            close = difflib.get_close_matches(key, list(self.schema.leaves), n=1)
            raise ConfigError(
                key, "unknown setting" + (f"; did you mean {close[0]}?" if close else ""), source
            )
        if from_string and isinstance(value, str):
            value = _from_string(value, info.type)
        try:
            self.values[key] = msgspec.convert(value, info.type, strict=not from_string, dec_hook=dec_hook)
        except msgspec.ValidationError as exc:
            raise ConfigError(key, _split_validation(exc)[1], source) from None
        self.sources[key] = source

    def build(self) -> Any:
        """The root Struct from every value set (defaults for the rest); cross-field checks run here."""
        nested: dict[str, Any] = {}
        for key, value in self.values.items():
            *sections, name = key.split(".")
            node = nested
            for section in sections:
                node = node.setdefault(section, {})
            node[name] = value
        try:
            return msgspec.convert(nested, self.schema.root, dec_hook=dec_hook)
        except msgspec.ValidationError as exc:
            key, problem = _split_validation(exc)
            raise ConfigError(key, problem, self.sources.get(key, "defaults")) from None


def read_toml(path: Path, schema: Schema) -> Iterator[tuple[str, Any]]:
    """``(dotted key, value)`` for every leaf of a TOML file; tables are the schema's sections."""
    source = f"config file {path}"
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError("", f"cannot read the file ({exc.strerror})", source) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"invalid TOML: {exc}", source) from None
    yield from _flatten(data, "", schema)


def _flatten(table: Mapping[str, Any], prefix: str, schema: Schema) -> Iterator[tuple[str, Any]]:
    for name, value in table.items():
        key = prefix + name
        if isinstance(value, dict) and key in schema.sections:
            yield from _flatten(value, key + ".", schema)
        else:
            yield key, value


def parse_dotenv(text: str, *, origin: str = ".env") -> dict[str, str]:
    """``KEY=VALUE`` lines: ``#`` comments, blank lines, ``export KEY=...``, single/double quotes.

    Double-quoted values understand ``\\n``, ``\\t``, ``\\r``, ``\\"`` and ``\\\\``; single-quoted values
    are literal; unquoted values end at whitespace followed by ``#``. A malformed line raises
    :class:`ConfigError` naming its number, never its content (which may hold a secret).
    """
    out: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export ") :].lstrip()
        name, sep, rest = line.partition("=")
        name = name.strip()
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ConfigError("", f"line {number} is not KEY=VALUE", origin)
        value = _dotenv_value(rest.strip())
        if value is None:
            raise ConfigError(name, f"line {number} has an unterminated quote or text after it", origin)
        out[name] = value
    return out


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _dotenv_value(rest: str) -> str | None:
    if rest[:1] not in ("'", '"'):
        return re.split(r"\s+#", rest, maxsplit=1)[0].strip()
    quote = rest[0]
    chars: list[str] = []
    i = 1
    while i < len(rest):
        ch = rest[i]
        if ch == quote:
            tail = rest[i + 1 :].strip()
            return "".join(chars) if not tail or tail.startswith("#") else None
        if ch == "\\" and quote == '"' and i + 1 < len(rest):
            nxt = rest[i + 1]
            chars.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        chars.append(ch)
        i += 1
    return None


def type_name(tp: Any) -> str:
    """A reader's name for a settings type: ``int``, ``list of str (comma-separated)``, ``a | b``."""
    inner = optional_inner(tp)
    if inner is not None:
        return f"{type_name(inner)} (optional)"
    base = strip_annotated(tp)
    if typing.get_origin(base) is tuple:
        return f"list of {type_name(typing.get_args(base)[0])} (comma-separated)"
    if typing.get_origin(base) is Literal:
        return " | ".join(str(option) for option in typing.get_args(base))
    return str(getattr(base, "__name__", base)).lower()


def description(tp: Any) -> str:
    """The outermost ``msgspec.Meta(description=...)`` on a field's type.

    Nested ``Annotated`` types flatten, inner metadata first, so the field's own description is the last.
    """
    metadata = tp.__metadata__ if typing.get_origin(tp) is Annotated else ()
    texts = [m.description for m in metadata if isinstance(m, msgspec.Meta) and m.description]
    return texts[-1] if texts else ""


def default_text(info: msgspec.structs.FieldInfo) -> str:
    """A field's default as it would be written in the environment."""
    value = info.default_factory() if info.default is msgspec.NODEFAULT else info.default
    if value is None:
        return ""
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)
