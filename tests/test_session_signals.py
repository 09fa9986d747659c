"""``python main.py run`` as a real process against an external sandbox process, driven by signals.

While the session trades hard: a second session on the same state directory refuses; SIGUSR2 prints a
live report and writes it to the session's report folder, and trading goes on. Then SIGTERM: the session
shuts down in order and exits 0 with a complete report, and the exchange (still running, inspected over
REST) holds no orphan order and no unprotected position.

The session runs with ``--on-exit sweep`` so the exchange's state after it left is exact (flat, nothing
resting). With the default ``leave``, a position's stop and take-profit stay on a venue that keeps moving:
once one fires after the session left, nobody is there to cancel its sibling until the next session's
reconciliation, so the check would race the market (the in-process paper test covers ``leave``).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.secrets import Secret
from core.session_build import server_clock
from exchanges.binance.factory import build_adapter
from state.recovery import StateDirLock
from tests.helpers import REPO_ROOT, klines_dir, wait_until
from tests.session_support import AGGRESSIVE, free_port, orphans, toml_of, unprotected

pytestmark = pytest.mark.timeout(180)

SPEED = 300
STATUS = re.compile(r"dec (\d+) ok (\d+) no (\d+)")


def main_py(*args: str) -> list[str]:
    return [sys.executable, str(REPO_ROOT / "main.py"), *args]


def spawn(args: list[str], out: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASINO_")}
    with out.open("wb") as fh:
        return subprocess.Popen(args, stdout=fh, stderr=subprocess.STDOUT, cwd=cwd, env=env)


def executed(out: Path) -> int:
    counts = [int(m.group(2)) for m in STATUS.finditer(out.read_text(errors="replace"))]
    return max(counts, default=0)


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    args = ["sandbox", "--port", str(port), "--speed", str(SPEED), "--seed", "9"]
    data = klines_dir()
    if data is not None:
        args += ["--data", str(data)]
    log = tmp_path / "sandbox.log"
    proc = spawn(main_py(*args), log, tmp_path)
    try:
        wait_until(
            lambda: "serving" in log.read_text(errors="replace") or proc.poll() is not None, timeout=30
        )
        assert proc.poll() is None, log.read_text()
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


async def exchange_truth(url: str) -> tuple[list, list, list]:
    clock = await server_clock(url, SPEED)
    settings = Settings(venue="sandbox")
    key, secret = settings.sandbox.demo_api_key, settings.sandbox.demo_api_secret
    adapter = build_adapter(settings, clock, rest_url=url, credentials=(Secret(key), Secret(secret)))
    async with adapter:
        positions = [p for p in await adapter.positions() if p.qty != 0]
        return positions, await adapter.open_orders(), await adapter.open_algo_orders()


def test_usr2_live_report_then_sigterm_leaves_a_clean_exchange(tmp_path: Path, sandbox: str) -> None:
    config = tmp_path / "casino.toml"
    config.write_text(toml_of(AGGRESSIVE | {"log.dir": str(tmp_path / "logs")}))
    state, reports = tmp_path / "state", tmp_path / "reports"
    run_args = [
        "--config", str(config), "run", "--venue", "sandbox", "--url", sandbox, "--speed", str(SPEED),
        "--state-dir", str(state), "--report-dir", str(reports), "--metrics-port", "0", "--on-exit", "sweep",
    ]  # fmt: skip
    out = tmp_path / "session.out"
    proc = spawn(main_py(*run_args), out, tmp_path)
    try:
        wait_until(lambda: executed(out) >= 2 or proc.poll() is not None, timeout=60)
        assert proc.poll() is None, out.read_text()

        # A second session on the same state directory refuses, naming the holder.
        second = subprocess.run(
            main_py(*run_args), cwd=tmp_path, capture_output=True, timeout=60, check=False
        )
        assert second.returncode == 2, second.stdout.decode() + second.stderr.decode()
        assert f"in use by pid {proc.pid}" in second.stdout.decode()

        # SIGUSR2 during heavy activity: a live report on the terminal and in the report folder.
        before = executed(out)
        proc.send_signal(signal.SIGUSR2)
        wait_until(lambda: "live report written to" in out.read_text(errors="replace"), timeout=20)
        text = out.read_text(errors="replace")
        path = Path(re.search(r"live report written to (\S+)", text).group(1))  # type: ignore[union-attr]
        assert path.is_file() and path.parent.parent == reports
        live = path.read_text()
        assert "POSITIONS" in live and "DECISIONS" in live and "breakers" in live
        # ... and trading goes on.
        wait_until(lambda: executed(out) > before, timeout=40)

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(90)
        text = out.read_text(errors="replace")
        assert code == 0, text
        assert time.monotonic() - started < 60
        assert "stopping (SIGTERM)" in text and "state saved in" in text
        assert "account flat" in text
    finally:
        stop(proc)

    report = Path(re.search(r"^report: (\S+)", text, re.MULTILINE).group(1))  # type: ignore[union-attr]
    folder = report.parent
    assert folder.parent == reports and (folder / "report.md").is_file()
    doc = json.loads((folder / "report.json").read_text())
    assert doc["trades"]
    with StateDirLock.acquire(state):
        pass

    positions, orders, algos = asyncio.run(exchange_truth(sandbox))
    assert orphans(positions, orders, algos) == []
    assert unprotected(positions, algos) == []
    assert positions == [] and orders == [] and algos == []  # swept: flat, nothing resting
