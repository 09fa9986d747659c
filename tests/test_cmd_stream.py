"""``stream``: under WebSocket drops and dropped frames the printed agg_ids are contiguous per symbol (no gap,
no duplicate) and the summary says 0 gaps left; line formats are exact; output never blocks the loop."""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from core.commands import stream
from core.types import MarkPrice, Trade

pytestmark = pytest.mark.timeout(90)


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--log-level")
    stream.add_arguments(parser)
    return parser.parse_args(argv)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("CASINO_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("CASINO_SANDBOX__HISTORY_DAYS", "0.05")


@pytest.mark.usefixtures("clean_env")
def test_json_stream_survives_drops_and_lost_frames_without_gaps(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASINO_SANDBOX__SPEED", "20")
    monkeypatch.setenv("CASINO_SANDBOX__FAULTS", "ws_drop_every=2s,drop_frames=0.1")
    code = stream.run(_parse(["BTCUSDT,ETHUSDT", "--json", "--duration", "7"]))
    captured = capsys.readouterr()
    assert "started the embedded sandbox" in captured.err  # notices go to stderr, data to stdout
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert code == 0
    *events, summary = rows
    assert summary["type"] == "summary"
    assert summary["gaps_left"] == 0 and summary["dropped_lines"] == 0
    assert summary["reconnects"] >= 2 and summary["backfilled"] > 0  # the faults did bite
    trades = [r for r in events if r["type"] == "trade"]
    marks = [r for r in events if r["type"] == "mark"]
    assert summary["trades"] == len(trades) and summary["marks"] == len(marks)
    for symbol in ("BTCUSDT", "ETHUSDT"):
        ids = [r["agg_id"] for r in trades if r["symbol"] == symbol]
        assert len(ids) > 10
        assert ids == list(range(ids[0], ids[0] + len(ids)))  # contiguous: no gap, no duplicate
        times = [r["ts"] for r in trades if r["symbol"] == symbol]
        assert times == sorted(times)
    assert {m["symbol"] for m in marks} == {"BTCUSDT", "ETHUSDT"}
    row = trades[0]
    assert set(row) == {"type", "symbol", "agg_id", "price", "qty", "side", "buyer_maker", "ts"}
    assert isinstance(row["price"], str) and Decimal(row["price"]) > 0  # exact decimal strings
    assert row["side"] == ("SELL" if row["buyer_maker"] else "BUY")


@pytest.mark.usefixtures("clean_env")
def test_human_stream_and_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASINO_SANDBOX__SPEED", "20")
    assert stream.run(_parse(["btcusdt", "--duration", "2"])) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("summary: ") and "0 gaps left" in lines[-1]
    assert any(" trade #" in line and " @ " in line for line in lines)
    assert any(" mark  " in line and " index " in line and " funding " in line for line in lines)
    assert all(line.split()[1] == "BTCUSDT" for line in lines[:-1])


@pytest.mark.usefixtures("clean_env")
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert stream.run(_parse([",", "--duration", "1"])) == 2
    assert stream.run(_parse(["BTC-USDT"])) == 2
    assert stream.run(_parse(["BTCUSDT", "--duration", "0"])) == 2
    assert stream.run(_parse(["NOSUCHUSDT", "--duration", "1"])) == 2  # the sandbox does not list it
    err = capsys.readouterr().err
    assert "not a symbol: BTC-USDT" in err and "NOSUCHUSDT" in err


def test_line_formats_are_exact() -> None:
    trade = Trade(
        symbol="BTCUSDT",
        trade_id=42,
        price=Decimal("65000.10"),
        qty=Decimal("0.00100000"),
        is_buyer_maker=True,
        ts=1_700_000_000_123,
    )
    assert json.loads(stream.format_json(trade)) == {
        "type": "trade",
        "symbol": "BTCUSDT",
        "agg_id": 42,
        "price": "65000.10",
        "qty": "0.00100000",
        "side": "SELL",
        "buyer_maker": True,
        "ts": 1_700_000_000_123,
    }
    assert stream.format_human(trade) == "22:13:20.123 BTCUSDT    trade #42 sell 0.00100000 @ 65000.10"
    mark = MarkPrice(
        symbol="ETHUSDT",
        mark_price=Decimal("2500.5"),
        index_price=Decimal("2500.25"),
        funding_rate=Decimal("-0.00012"),
        next_funding_time=1_700_006_400_000,
        ts=1_700_000_001_000,
    )
    assert json.loads(stream.format_json(mark)) == {
        "type": "mark",
        "symbol": "ETHUSDT",
        "mark": "2500.5",
        "index": "2500.25",
        "funding_rate": "-0.00012",
        "next_funding_time": 1_700_006_400_000,
        "ts": 1_700_000_001_000,
    }
    assert stream.format_human(mark) == (
        "22:13:21.000 ETHUSDT    mark  2500.5 index 2500.25 funding -0.00012 next 00:00:00"
    )
    assert stream.parse_symbols("btcusdt, ETHUSDT,btcusdt") == ["BTCUSDT", "ETHUSDT"]


class _SlowOut(io.StringIO):
    """A consumer that blocks each write until released: the loop must keep running meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.writes = 0

    def write(self, s: str) -> int:
        self.writes += 1
        self.release.wait(10)
        return super().write(s)


async def test_line_writer_never_blocks_the_loop_and_keeps_order() -> None:
    out = _SlowOut()
    writer = stream.LineWriter(out, max_pending=50)
    writer.start()
    for i in range(20):
        writer.write(f"line {i}")
    ticks = 0
    for _ in range(20):  # the loop stays responsive while the consumer is stuck
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 20 and out.writes == 1
    for i in range(20, 200):
        writer.write(f"line {i}")  # beyond max_pending: dropped and counted, not queued forever
    out.release.set()
    await writer.close()
    written = out.getvalue().splitlines()
    assert written == [f"line {i}" for i in range(len(written))]  # in order, the first ones kept
    assert len(written) < 200 and writer.dropped == 200 - len(written)
