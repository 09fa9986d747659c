"""A short paper session end to end, in process: the embedded sandbox sped up, the real stack, the real
sensor pool, aggressive player settings. It must place bracketed trades, serve metrics, end cleanly on its
duration with a report folder, leave no orphan order, and leave the state directory free for the next."""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.config import Settings, load_settings
from core.session import EXIT_OK, Session
from state.journal_queries import JournalReader
from state.recovery import StateDirLock
from tests.helpers import eventually, klines_dir
from tests.session_support import AGGRESSIVE, free_port, orphans, unprotected

pytestmark = pytest.mark.timeout(150)


def paper_settings(tmp_path: Path, **extra: str) -> Settings:
    overrides = AGGRESSIVE | {
        "session.paper_speed": "300",
        "state.dir": str(tmp_path / "state"),
        "session.report_dir": str(tmp_path / "reports"),
        "log.dir": str(tmp_path / "logs"),
        "sandbox.seed": "3",
        "metrics.port": "0",
    }
    data = klines_dir()
    if data is not None:
        overrides["sandbox.data"] = str(data)
    return load_settings(env={}, overrides=overrides | extra)


def scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_paper_session_trades_reports_and_ends_cleanly(tmp_path: Path) -> None:
    port = free_port()
    settings = paper_settings(tmp_path, **{"metrics.port": str(port)})
    out = io.StringIO()
    session = Session(settings, session_id="paper-test", out=out)
    run = asyncio.create_task(session.run(duration_s=25))

    def executed() -> int:
        return session.recorder.counts["executed"]

    await eventually(lambda: executed() >= 2 or run.done(), timeout=60, message="two protected brackets")
    assert not run.done(), out.getvalue()

    async def traded_in_metrics() -> bool:
        metrics = await asyncio.to_thread(scrape, port)
        return metrics.get("casino_trades_total", 0) >= 1 and metrics.get("casino_balance_usdt", 0) > 0

    await eventually(traded_in_metrics, timeout=10, interval=0.2, message="fills in the scraped metrics")
    components = session.components
    assert components is not None and components.sandbox is not None
    core: Any = components.sandbox.context.core
    account = components.sandbox.demo_credentials[0]
    exchange_at_exit: list[tuple[Any, Any, Any]] = []
    say = session.say

    def say_and_look(text: str) -> None:
        # Called right after the croupier stopped, on the loop the embedded exchange also runs on, so the
        # exchange cannot move while we look. Later it may (a stop fires and nobody cancels its sibling):
        # that is what "leave" means on a venue that outlives the session.
        if text.startswith("positions left open"):
            exchange_at_exit.append(
                (
                    core.positions(account, None),
                    core.open_orders(account, None),
                    core.open_algo_orders(account, None),
                )
            )
        say(text)

    session.say = say_and_look  # type: ignore[method-assign]

    # A funding time while positions are open: the exchange books FUNDING_FEE (its ACCOUNT_UPDATE names no
    # symbol); the session must bring it into the state and the journal, or the cross-check flags it.
    state = session.parts.state
    assert state is not None
    exchange_clock = components.sandbox.context.clock

    def funded() -> bool:
        held = [p for p in core.positions(account, None) if p.qty != 0]
        if held:
            for p in held:
                core.settle_funding(p.symbol, Decimal("0.0005"), exchange_clock.now_ms())
        return bool(held) or run.done()

    await eventually(funded, timeout=30, interval=0.2, message="an open position to fund")
    if not run.done():
        await eventually(
            lambda: state.get_snapshot().funding_total != 0 or run.done(),
            timeout=10,
            message="funding booked in the state",
        )
    code = await asyncio.wait_for(run, 90)
    text = out.getvalue()
    assert code == EXIT_OK, text
    assert "stopping (duration of 25s reached)" in text and "session paper-test ended" in text

    # The exchange as the session left it: nothing that protects nothing; every position keeps its stop.
    if not exchange_at_exit:  # no position was open: nothing may rest on the exchange
        exchange_at_exit.append(
            (
                core.positions(account, None),
                core.open_orders(account, None),
                core.open_algo_orders(account, None),
            )
        )
    positions, orders, algos = exchange_at_exit[0]
    assert orphans(positions, orders, algos) == []
    assert unprotected(positions, algos) == []

    # The report folder is complete and its figures come from the journal of this session.
    folder = tmp_path / "reports" / "paper-test"
    for name in ("report.html", "report.md", "report.json"):
        assert (folder / name).is_file(), name
    report = json.loads((folder / "report.json").read_text())
    assert report["trades"], "the report lists the session's trades"
    check = report["cross_check"]
    assert check["ok"] is True, check
    funding_line = next(line for line in check["lines"] if line["name"].startswith("funding"))
    assert funding_line["ok"] is True and Decimal(funding_line["journal"]) != 0, funding_line
    with JournalReader.open(tmp_path / "state" / "journal.sqlite3") as reader:
        session_row = reader.session("paper-test")
        decisions = reader.decisions("paper-test")
    assert session_row is not None and session_row.status == "ended" and session_row.ended_ts > 0
    assert sum(1 for d in decisions if d.verdict.accepted) >= 2

    # The state directory is released, and holds a final snapshot.
    with StateDirLock.acquire(tmp_path / "state"):
        pass
    assert list((tmp_path / "state" / "snapshots").glob("snap-*.json"))


async def test_a_second_stop_request_exits_at_once_with_the_state_saved(tmp_path: Path) -> None:
    out = io.StringIO()
    session = Session(paper_settings(tmp_path), session_id="hurry-test", out=out)
    run = asyncio.create_task(session.run())
    await eventually(
        lambda: session.recorder.counts["decisions"] >= 1 or run.done(), timeout=60, message="trading"
    )
    assert not run.done(), out.getvalue()
    session.signals.request_stop("SIGTERM")
    session.signals.request_stop("SIGTERM")  # the second: exit now, but save the state
    await asyncio.wait_for(run, 30)
    text = out.getvalue()
    assert "state saved in" in text and "session hurry-test" in text
    with StateDirLock.acquire(tmp_path / "state"):  # released
        pass
    with JournalReader.open(tmp_path / "state" / "journal.sqlite3") as reader:
        row = reader.session("hurry-test")
    assert row is not None and row.ended_ts > 0 and row.status in ("aborted", "ended")
    assert list((tmp_path / "state" / "snapshots").glob("snap-*.json"))
