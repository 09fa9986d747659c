"""Shared test helpers: where the real data lives, and waiting on conditions instead of sleeping."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """``shared/data`` beside the repository (or CASINO_SHARED_DATA), if present."""
    env = os.environ.get("CASINO_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(REPO_ROOT.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


def klines_dir() -> Path | None:
    """The real 1-minute klines (``CASINO_DATA_DIR`` or shared/data/klines) as an absolute path, else None.

    Absolute, because tests hand it to subprocesses that run in other working directories.
    """
    env = os.environ.get("CASINO_DATA_DIR")
    if env and Path(env).is_dir():
        return Path(env).resolve()
    base = shared_data_dir()
    if base is not None and (base / "klines").is_dir():
        return (base / "klines").resolve()
    return None


def require_shared_data(*parts: str) -> Path:
    """The path under shared/data, or skip the test cleanly when it is absent."""
    base = shared_data_dir()
    if base is None:
        pytest.skip("shared/data is not available")
    path = base.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


async def eventually(
    condition: Callable[[], bool | Awaitable[bool]],
    *,
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str = "condition",
) -> None:
    """Poll ``condition`` until it is true, or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        await asyncio.sleep(interval)


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str = "condition",
) -> None:
    """Blocking variant of :func:`eventually` for synchronous tests."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)
