"""core.lifecycle: supervised tasks surface failures, signals route to stop/hurry/report, bounded steps."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from core.lifecycle import SignalRouter, TaskFailure, TaskSupervisor, bounded
from tests.helpers import eventually


async def test_a_failed_critical_task_is_named_recorded_and_sets_failed() -> None:
    seen: list[TaskFailure] = []
    sup = TaskSupervisor(on_failure=seen.append)

    async def boom() -> None:
        await asyncio.sleep(0)
        raise RuntimeError("broken feed")

    sup.spawn(boom(), "feed", critical=True)
    await asyncio.wait_for(sup.failed.wait(), 2)
    failure = sup.first_failure()
    assert failure is not None and failure.name == "feed" and failure.critical
    assert isinstance(failure.error, RuntimeError) and seen == [failure]


async def test_a_failed_non_critical_task_is_recorded_but_does_not_stop_the_session() -> None:
    sup = TaskSupervisor()

    async def boom() -> None:
        raise ValueError("one execution")

    task = sup.spawn(boom(), "execute-x")
    await asyncio.wait({task})
    assert [f.name for f in sup.failures] == ["execute-x"]
    assert not sup.failed.is_set() and sup.first_failure() is None


async def test_cancel_and_wait_by_name() -> None:
    sup = TaskSupervisor()
    stop = asyncio.Event()
    sup.spawn(asyncio.sleep(3600), "forever-a")
    sup.spawn(asyncio.sleep(3600), "forever-b")
    sup.spawn(stop.wait(), "execute-1")
    assert sup.running() == ["execute-1", "forever-a", "forever-b"]
    assert sup.names_with_prefix("execute-") == ["execute-1"]
    assert not await sup.wait("execute-1", within_s=0.05)
    stop.set()
    assert await sup.wait("execute-1", within_s=2)
    await sup.cancel("forever-a")
    await eventually(lambda: sup.running() == ["forever-b"], timeout=2)
    await sup.cancel()
    await eventually(lambda: sup.running() == [], timeout=2)
    assert sup.failures == []  # cancellation is not a failure


async def test_first_signal_stops_second_hurries_and_usr2_reports() -> None:
    reports: list[int] = []
    stops: list[str] = []
    router = SignalRouter(on_stop=stops.append, on_report=lambda: reports.append(1))
    router.install()
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        await eventually(lambda: reports == [1], timeout=2, message="live report callback")
        assert not router.stop.is_set()
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(router.stop.wait(), 2)
        assert stops == ["SIGTERM"] and router.reason == "SIGTERM" and not router.hurry.is_set()
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.wait_for(router.hurry.wait(), 2)
        assert stops == ["SIGTERM"]  # the stop callback ran once
    finally:
        router.uninstall()


async def test_a_failing_report_callback_does_not_break_the_router() -> None:
    def broken() -> None:
        raise RuntimeError("render failed")

    router = SignalRouter(on_report=broken)
    router.install()
    try:
        os.kill(os.getpid(), signal.SIGUSR2)
        await asyncio.sleep(0.05)
        router.request_stop("test")
        assert router.stop.is_set()
    finally:
        router.uninstall()


async def test_bounded_returns_the_result_or_logs_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    async def quick() -> int:
        return 7

    async def slow() -> int:
        await asyncio.sleep(10)
        return 1

    async def failing() -> int:
        raise OSError("disk full")

    assert await bounded("quick", quick, 1.0) == 7
    assert await bounded("slow", slow, 0.05) is None
    assert await bounded("failing", failing, 1.0) is None
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "'slow' did not finish" in messages and "'failing' failed" in messages


async def test_bounded_lets_the_callers_cancellation_through() -> None:
    started = asyncio.Event()

    async def step() -> None:
        started.set()
        await asyncio.sleep(10)

    outer = asyncio.create_task(bounded("step", step, 30.0))
    await started.wait()
    outer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await outer
