"""One logging setup: a readable console plus a JSON-lines file per session, with secrets redacted.

Usage::

    log = get_logger("croupier")                       # every record carries component="croupier"
    log.info("entry filled at %s", price, symbol="BTCUSDT", order_id=123)
    olog = log.bind(symbol="BTCUSDT", client_order_id="c-1")   # fields on every record of olog
    olog.warning("stop not confirmed yet")

Context fields (:data:`CONTEXT_FIELDS`) are passed as keyword arguments (or in ``extra``) and appear in the
console line and as keys of the JSON object. :func:`setup_logging` installs the handlers on the root
logger, so records of libraries (aiohttp, websockets) are formatted the same way, their logger name
standing in for the component.

Redaction: every string registered with :func:`register_secret` (call it with
``Settings.secret_values()``) is replaced by ``***`` in the message, its arguments, context fields and
exception text by a filter on each handler, i.e. before any handler formats the record.

Event loop: handlers write synchronously. A record is one short line (a few hundred bytes) appended to
an already-open file and flushed to the OS page cache, never fsynced, which costs microseconds; nothing
here waits on the network or on the disk's physical write.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterable, Mapping, MutableMapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import msgspec

from core.secrets import MASK, Secret

__all__ = [
    "CONTEXT_FIELDS",
    "ConsoleFormatter",
    "ContextLogger",
    "JsonLinesFormatter",
    "Redactor",
    "get_logger",
    "register_secret",
    "setup_logging",
    "shutdown_logging",
]

CONTEXT_FIELDS = ("symbol", "order_id", "client_order_id", "algo_id", "client_algo_id")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_COMPONENT = "component"
_ROOT = "casino"
_MARKER = "_casino_handler"  # set on the handlers setup_logging installs, so a second call replaces them


class Redactor(logging.Filter):
    """Replaces registered secret strings by ``***`` in a record before it is formatted."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()

    def add(self, secret: str | Secret) -> None:
        """Redact ``secret`` from now on (empty strings are ignored: they match everywhere)."""
        value = secret.reveal() if isinstance(secret, Secret) else secret
        if not value:
            return
        with self._lock:
            # Longest first, so a secret that contains another is masked whole.
            self._secrets = tuple(sorted({*self._secrets, value}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``***``."""
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        # Merge the arguments first, so a secret split between message and args is still caught.
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if isinstance(value, str):
                record.__dict__[name] = self.redact(value)
        return True


# The stdlib's logger registry is process-global, so the registry of strings that must never reach
# it is too; it only ever grows.
_REDACTOR = Redactor()


def register_secret(*secrets: str | Secret | None) -> None:
    """Never let these values appear in any log output (``None`` and empty values are skipped)."""
    for secret in secrets:
        if secret is not None:
            _REDACTOR.add(secret)


class ContextLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger whose records carry a component and optional bound context fields."""

    def __init__(
        self, logger: logging.Logger, component: str, fields: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(logger, {_COMPONENT: component, **(fields or {})})
        self.component = component

    def bind(self, **fields: object) -> ContextLogger:
        """A logger with these context fields on every record (e.g. ``symbol``, ``order_id``)."""
        _check_fields(fields)
        merged = {k: v for k, v in (self.extra or {}).items() if k != _COMPONENT}
        return ContextLogger(self.logger, self.component, {**merged, **fields})

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        for name in CONTEXT_FIELDS:
            if name in kwargs:
                extra[name] = kwargs.pop(name)
        kwargs["extra"] = extra
        return msg, kwargs


def _check_fields(fields: Iterable[str]) -> None:
    unknown = set(fields) - set(CONTEXT_FIELDS)
    if unknown:
        raise TypeError(f"unknown log context field(s) {sorted(unknown)}; known: {', '.join(CONTEXT_FIELDS)}")


def get_logger(component: str) -> ContextLogger:
    """The logger of one component (``casino.<component>``); safe to call at import time."""
    return ContextLogger(logging.getLogger(f"{_ROOT}.{component}"), component)


def _component(record: logging.LogRecord) -> str:
    value = record.__dict__.get(_COMPONENT)
    return str(value) if value else record.name


class ConsoleFormatter(logging.Formatter):
    """``12:00:00.123 INFO  croupier [BTCUSDT order_id=1] message`` (UTC time)."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S.%f")[:-3]
        context = [str(record.__dict__["symbol"])] if record.__dict__.get("symbol") is not None else []
        context += [
            f"{name}={record.__dict__[name]}"
            for name in CONTEXT_FIELDS[1:]
            if record.__dict__.get(name) is not None
        ]
        where = f" [{' '.join(context)}]" if context else ""
        line = f"{stamp} {record.levelname:<7} {_component(record)}{where} {record.getMessage()}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per record: ts, level, component, msg, context fields, exc (when there is one)."""

    def __init__(self) -> None:
        super().__init__()
        self._encoder = msgspec.json.Encoder(enc_hook=str)

    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        obj: dict[str, object] = {
            "ts": stamp.replace("+00:00", "Z"),
            "level": record.levelname,
            "component": _component(record),
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                obj[name] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            obj["exc"] = record.exc_text
        if record.stack_info:
            obj["stack"] = record.stack_info
        return self._encoder.encode(obj).decode()


def _tag(handler: logging.Handler) -> logging.Handler:
    setattr(handler, _MARKER, True)
    handler.addFilter(_REDACTOR)
    return handler


def setup_logging(
    level: str,
    *,
    log_dir: Path | None,
    session_id: str,
    json_file: bool = True,
    stream: TextIO | None = None,
) -> Path | None:
    """Install the console handler (on ``stream``, default stderr) and, when ``log_dir`` is given and
    ``json_file`` is true, the JSON-lines file ``<log_dir>/<session_id>.jsonl``; returns that path.

    Calling it again replaces the handlers it installed before (never duplicates them).
    """
    name = level.upper()
    if name not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, got {level!r}")
    if not session_id or "/" in session_id or "\\" in session_id or session_id.startswith("."):
        raise ValueError("session_id must be a plain file name")
    shutdown_logging()
    root = logging.getLogger()
    console = logging.StreamHandler(stream if stream is not None else sys.stderr)
    console.setFormatter(ConsoleFormatter())
    root.addHandler(_tag(console))
    path: Path | None = None
    if log_dir is not None and json_file:
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / f"{session_id}.jsonl"
        file_handler = logging.FileHandler(path, encoding="utf-8")
        file_handler.setFormatter(JsonLinesFormatter())
        root.addHandler(_tag(file_handler))
    root.setLevel(name)
    return path


def shutdown_logging() -> None:
    """Remove and close the handlers :func:`setup_logging` installed (flushes the JSON-lines file)."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _MARKER, False)]:
        root.removeHandler(handler)
        handler.close()
