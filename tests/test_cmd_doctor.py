"""``doctor`` against the sandbox: every check OK on the embedded one (exit 0); a bad key, an unreachable
venue and an exhausted weight budget fail with reasons (exit 1); secrets never printed."""

from __future__ import annotations

import argparse
import io
import os
import socket
import time
from pathlib import Path

import pytest

from core.clock import ManualClock
from core.commands import doctor
from core.config import DEMO_API_SECRET, SandboxSettings, Settings
from core.secrets import Secret
from exchanges.binance.factory import build_adapter
from exchanges.sandbox.runner import Sandbox

pytestmark = pytest.mark.timeout(90)

CHECKS = (
    "REST reachable",
    "clock offset",
    "API key",
    "permissions",
    "/public route",
    "/market route",
    "/private route",
    "user stream",
    "weight in use",
)
SANDBOX = SandboxSettings(port=0, speed=10.0, history_days=0.05, seed=5)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--log-level")
    doctor.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No casino.toml / .env / CASINO_* of the developer's; a quick embedded sandbox."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("CASINO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CASINO_SANDBOX__HISTORY_DAYS", "0.05")
    monkeypatch.setenv("CASINO_SANDBOX__SPEED", "10")


def _lines(text: str) -> dict[str, str]:
    """check name -> status, from the report lines."""
    out = {}
    for line in text.splitlines():
        status, _, rest = line.partition("  ")
        for name in CHECKS:
            if rest.strip().startswith(name):
                out[name] = status.strip()
    return out


@pytest.mark.usefixtures("clean_env")
def test_embedded_sandbox_passes_every_check(capsys: pytest.CaptureFixture[str]) -> None:
    code = doctor.run(_parse(["--venue", "sandbox", "--timeout", "15"]))
    out = capsys.readouterr().out
    assert code == 0, out
    assert "started the embedded sandbox" in out and "demo account" in out
    assert _lines(out) == {name: "OK" for name in CHECKS}
    assert out.strip().endswith("doctor: all 9 checks OK")
    assert DEMO_API_SECRET not in out


async def test_bad_key_fails_the_key_check() -> None:
    async with Sandbox(SANDBOX) as sb:
        bad_secret = "definitelyNotTheSecret0123456789"
        settings = Settings(
            venue="sandbox",
            url=sb.rest_url,
            api_key=Secret("definitelyNotAKey0123456789"),
            api_secret=Secret(bad_secret),
            sandbox=SANDBOX,
        )
        out = io.StringIO()
        code = await doctor.doctor(settings, out, limit_s=10.0, symbol="BTCUSDT")
    text = out.getvalue()
    assert code == 1
    status = _lines(text)
    assert status["REST reachable"] == "OK" and status["clock offset"] == "OK"
    assert status["/public route"] == "OK" and status["/market route"] == "OK"
    assert status["API key"] == "FAIL" and "-2015" in text
    assert status["permissions"] == "FAIL" and status["/private route"] == "FAIL"
    assert "definitelyNotAKey" not in text and bad_secret not in text
    assert "doctor: 4 of 9 checks failed" in text


async def test_unreachable_venue_fails_fast_and_says_why() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = Settings(venue="sandbox", url=f"http://127.0.0.1:{port}", sandbox=SANDBOX)
    out = io.StringIO()
    started = time.monotonic()
    code = await doctor.doctor(settings, out, limit_s=3.0, symbol="BTCUSDT")
    assert time.monotonic() - started < 15
    text = out.getvalue()
    assert code == 1
    status = _lines(text)
    assert status["REST reachable"] == "FAIL"
    assert set(status.values()) == {"FAIL"} and len(status) == len(CHECKS)
    assert text.count("not checked: the REST API is unreachable") == len(CHECKS) - 1


def test_weight_above_budget_fails() -> None:
    clock = ManualClock(60_000 * 1000)
    adapter = build_adapter(Settings(venue="sandbox"), clock, rest_url="http://127.0.0.1:9")
    budget = adapter.client.budget
    ok, detail = doctor._weight(adapter)
    assert ok and detail.startswith("0 of 2400 per minute")
    budget.commit(2000, 0)
    ok, detail = doctor._weight(adapter)
    assert not ok and "2000 of 2400" in detail and "above our budget" in detail


def test_settings_errors_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CASINO_API_KEY", raising=False)
    monkeypatch.delenv("CASINO_API_SECRET", raising=False)
    assert doctor.run(_parse(["--venue", "live"])) == 2  # live needs keys
    assert "api_key" in capsys.readouterr().err
    assert doctor.run(_parse(["--venue", "sandbox", "--url", "ftp://x"])) == 2
