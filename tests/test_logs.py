"""core.logs: console + JSON-lines file, component and context fields, secret redaction, idempotent setup."""

from __future__ import annotations

import io
import json
import logging
import uuid
from typing import Any

import pytest

from core.config import load_settings
from core.logs import Redactor, get_logger, register_secret, setup_logging, shutdown_logging
from core.secrets import Secret


@pytest.fixture
def console():
    stream = io.StringIO()
    yield stream
    shutdown_logging()


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_casino_handler", False)]


def _records(path) -> list[dict[str, Any]]:
    shutdown_logging()  # closes (flushes) the file
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _unique_secret() -> str:
    return f"sk-{uuid.uuid4().hex}"


def test_json_lines_file_has_one_object_per_record(tmp_path, console):
    path = setup_logging("INFO", log_dir=tmp_path / "logs", session_id="s1", stream=console)
    assert path == tmp_path / "logs" / "s1.jsonl"
    log = get_logger("croupier")
    log.info("entry filled at %s", "95000.1", symbol="BTCUSDT", order_id=123, client_order_id="c-1")
    log.warning("plain")
    log.debug("below the level")
    recs = _records(path)
    assert len(recs) == 2
    first, second = recs
    assert first["level"] == "INFO" and first["component"] == "croupier"
    assert first["msg"] == "entry filled at 95000.1"
    assert (first["symbol"], first["order_id"], first["client_order_id"]) == ("BTCUSDT", 123, "c-1")
    assert first["ts"].endswith("Z") and "T" in first["ts"]
    assert second == {"ts": second["ts"], "level": "WARNING", "component": "croupier", "msg": "plain"}


def test_console_line_is_readable(tmp_path, console):
    setup_logging("DEBUG", log_dir=None, session_id="s2", stream=console)
    get_logger("engine").debug("candle closed", symbol="ETHUSDT", algo_id=7)
    get_logger("engine").info("no context")
    lines = console.getvalue().splitlines()
    assert lines[0].endswith("DEBUG   engine [ETHUSDT algo_id=7] candle closed")
    assert lines[1].endswith("INFO    engine no context")
    assert lines[0][2] == ":" and lines[0][8] == "."  # HH:MM:SS.mmm


def test_bind_and_extra(tmp_path, console):
    path = setup_logging("INFO", log_dir=tmp_path, session_id="s3", stream=console)
    olog = get_logger("oco").bind(symbol="BTCUSDT", client_order_id="dec-1")
    olog.info("stop placed", algo_id=99)
    olog.bind(order_id=5).info("entry", extra={"client_algo_id": "tp-1"})
    recs = _records(path)
    assert (
        recs[0]["symbol"] == "BTCUSDT" and recs[0]["client_order_id"] == "dec-1" and recs[0]["algo_id"] == 99
    )
    assert recs[1]["order_id"] == 5 and recs[1]["client_algo_id"] == "tp-1" and recs[1]["component"] == "oco"
    with pytest.raises(TypeError):
        olog.bind(colour="red")
    with pytest.raises(TypeError):
        olog.info("x", colour="red")


def test_exception_text_is_recorded(tmp_path, console):
    path = setup_logging("INFO", log_dir=tmp_path, session_id="s4", stream=console)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger("state").exception("snapshot failed", symbol="BTCUSDT")
    (rec,) = _records(path)
    assert rec["level"] == "ERROR" and "RuntimeError: boom" in rec["exc"] and "Traceback" in rec["exc"]
    assert "RuntimeError: boom" in console.getvalue()


def test_library_records_use_their_logger_name(tmp_path, console):
    path = setup_logging("INFO", log_dir=tmp_path, session_id="s5", stream=console)
    logging.getLogger("aiohttp.server").warning("library says %d", 1)
    (rec,) = _records(path)
    assert rec["component"] == "aiohttp.server" and rec["msg"] == "library says 1"


def test_redaction_everywhere(tmp_path, console):
    secret = _unique_secret()
    register_secret(secret)
    path = setup_logging("INFO", log_dir=tmp_path, session_id="s6", stream=console)
    log = get_logger("connector")
    log.info(f"key in message {secret}")
    log.info("key in args %s and %r", secret, secret)
    log.info("key in a field", symbol=secret)
    try:
        raise ValueError(f"rejected key {secret}")
    except ValueError:
        log.exception("signing failed")
    recs = _records(path)
    text = json.dumps(recs)
    assert secret not in text
    assert secret not in console.getvalue()
    assert recs[0]["msg"] == "key in message ***"
    assert recs[1]["msg"] == "key in args *** and '***'"
    assert "***" in recs[3]["exc"]


def test_settings_secrets_are_redacted(tmp_path, console):
    secret = _unique_secret()
    settings = load_settings(
        env={"CASINO_VENUE": "live", "CASINO_API_KEY": "k" + secret, "CASINO_API_SECRET": secret}
    )
    register_secret(*settings.secret_values())
    path = setup_logging("INFO", log_dir=tmp_path, session_id="s7", stream=console)
    assert settings.api_key is not None and settings.api_secret is not None
    get_logger("session").info("credentials %s / %s", settings.api_key.reveal(), settings.api_secret.reveal())
    (rec,) = _records(path)
    assert secret not in rec["msg"] and rec["msg"] == "credentials *** / ***"


def test_redactor_masks_longest_first_and_ignores_empty():
    r = Redactor()
    r.add("abc")
    r.add("abcdef")
    r.add("")
    r.add(Secret("xyz"))
    assert r.redact("abcdef abc xyz") == "*** *** ***"


def test_setup_is_idempotent(tmp_path, console):
    setup_logging("INFO", log_dir=tmp_path, session_id="s8", stream=console)
    path = setup_logging("INFO", log_dir=tmp_path, session_id="s8", stream=console)
    assert len(_ours()) == 2
    get_logger("x").info("once")
    assert len(_records(path)) == 1
    assert console.getvalue().count("once") == 1
    assert _ours() == []


def test_no_file_when_disabled(tmp_path, console):
    assert (
        setup_logging("WARNING", log_dir=tmp_path, session_id="s9", json_file=False, stream=console) is None
    )
    assert setup_logging("WARNING", log_dir=None, session_id="s9", stream=console) is None
    assert list(tmp_path.iterdir()) == []
    assert len(_ours()) == 1


def test_invalid_arguments(tmp_path, console):
    with pytest.raises(ValueError):
        setup_logging("VERBOSE", log_dir=None, session_id="s", stream=console)
    with pytest.raises(ValueError):
        setup_logging("INFO", log_dir=tmp_path, session_id="../escape", stream=console)
    assert setup_logging("info", log_dir=None, session_id="s", stream=console) is None  # case-insensitive
