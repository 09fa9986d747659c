"""``python main.py sandbox`` as a user runs it: a subprocess that prints its URLs and demo credentials,
serves REST and WebSocket, and exits 0 on SIGTERM."""

from __future__ import annotations

import argparse
import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from core.config import DEMO_API_KEY, DEMO_API_SECRET, SandboxSettings
from exchanges.sandbox import cli
from tests.helpers import REPO_ROOT

pytestmark = pytest.mark.timeout(90)


def _read_until(proc: subprocess.Popen[str], pattern: str, within: float = 30.0) -> str:
    """stdout until a line matches ``pattern``; returns everything read."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    seen = ""
    deadline = time.monotonic() + within
    while not re.search(pattern, seen):
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, f"sandbox did not print {pattern!r}; got:\n{seen}"
        if sel.select(timeout=left):
            # raw reads: a buffered readline would hide already-read lines from select()
            seen += os.read(proc.stdout.fileno(), 65536).decode()
    return seen


def _start(*flags: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASINO_")}
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        [sys.executable, "main.py", "sandbox", *flags],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_cli_serves_prints_credentials_and_exits_on_sigterm() -> None:
    proc = _start(
        "--port", "0", "--symbols", "BTCUSDT", "--speed", "30", "--history-days", "0.01", "--seed", "3"
    )
    try:
        banner = _read_until(proc, r"Stop with Ctrl-C")
        rest = re.search(r"REST\s+(http://127\.0\.0\.1:\d+)", banner)
        ws = re.search(r"WebSocket\s+(ws://127\.0\.0\.1:\d+)", banner)
        assert rest and ws, banner
        assert DEMO_API_KEY in banner and DEMO_API_SECRET in banner  # a demo account: printing is intended
        with urllib.request.urlopen(f"{rest.group(1)}/fapi/v1/ping", timeout=10) as resp:
            assert resp.status == 200 and json.loads(resp.read()) == {}
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "sandbox stopped" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_cli_accounts_and_invalid_flags() -> None:
    proc = _start(
        "--port",
        "0",
        "--symbols",
        "BTCUSDT",
        "--speed",
        "30",
        "--history-days",
        "0.01",
        "--account",
        "alice:s3cret:500",
        "--account",
        "bob:hunter2:750",
    )
    try:
        banner = _read_until(proc, r"Stop with Ctrl-C")
        assert "alice" in banner and "bob" in banner and DEMO_API_KEY not in banner
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    bad = _start("--port", "0", "--faults", "user_drop=2")
    _, err = bad.communicate(timeout=30)
    assert bad.returncode == 2 and "faults" in err


def test_flags_map_onto_settings_keys() -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(
        [
            "--port",
            "8701",
            "--symbols",
            "ETHUSDT",
            "--data",
            "a",
            "--data",
            "b",
            "--account",
            "k:s:1",
            "--faults",
            "latency_ms=5",
            "--history-days",
            "2",
        ]
    )
    assert cli.overrides_from_args(args) == {
        "sandbox.port": 8701,
        "sandbox.symbols": "ETHUSDT",
        "sandbox.data": ["a", "b"],
        "sandbox.accounts": ["k:s:1"],
        "sandbox.faults": "latency_ms=5",
        "sandbox.history_days": 2.0,
    }
    assert set(cli.FLAG_KEYS.values()) <= {f"sandbox.{name}" for name in SandboxSettings.__struct_fields__}
