"""The report on disk: self-contained HTML with every trade, Markdown, valid PNG plots, report.json for
machines; and ``report`` re-rendering it from the journal into the very same report.json."""

from __future__ import annotations

import argparse
import io
import re
import struct
import zlib
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from core.commands import report as report_cmd
from core.report import AccountFacts, read_report, write_report
from core.report.text import timestamp
from tests.report_support import SESSION, craft_journal

D = Decimal
FACTS = AccountFacts(source="sandbox account", wallet_start=D(1000), wallet_end=D("1007.25"))


@pytest.fixture
async def journal(tmp_path: Path) -> Path:
    path = tmp_path / "state" / "journal.sqlite3"
    path.parent.mkdir()
    await craft_journal(path)
    return path


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature, chunk CRCs and that its pixels inflate."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, size = 8, b"", (0, 0)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc
        if kind == b"IHDR":
            size = struct.unpack(">II", body[:8])
        idat += body if kind == b"IDAT" else b""
        pos += 12 + length
    width, height = size
    assert len(zlib.decompress(idat)) == height * (width * 3 + 1)
    return width, height


async def test_report_files(journal: Path, tmp_path: Path) -> None:
    paths = write_report(journal, SESSION, tmp_path / "reports", account=FACTS)
    assert paths.folder == tmp_path / "reports" / SESSION
    assert set(paths.plots) == {"equity", "drawdown", "pnl_by_symbol", "pnl_by_sensor"}
    for png in paths.plots.values():
        assert _png_size(png.read_bytes()) == (960, 360)
    doc = msgspec.json.decode(paths.json.read_bytes())
    assert doc["figures"]["net_pnl"] == "7.25" and doc["cross_check"]["ok"] is True
    assert len(doc["trades"]) == 5 and {t["status"] for t in doc["trades"]} == {"open", "closed"}
    assert doc["trades"][0]["decision"]["decision"]["reasons"][0]["sensor_id"] == "rsi"
    assert read_report(paths.folder).figures.net_pnl == D("7.25")
    md = paths.markdown.read_text()
    assert "| Net PnL (USDT) | +7.25 |" in md and "![equity](equity.png)" in md


async def test_html_is_self_contained_and_lists_every_trade(journal: Path, tmp_path: Path) -> None:
    paths = write_report(journal, SESSION, tmp_path / "reports", account=FACTS)
    html = paths.html.read_text()
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(link|script)\b", html)
    sources = re.findall(r'src="([^"]*)"', html)
    assert len(sources) == 4 and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "url(" not in html and "@import" not in html
    doc = read_report(paths.json)
    body = html.split("<h2>Trades")[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", body)
    assert len(rows) == len(doc.trades) == 5
    for row, trade in zip(rows, doc.trades, strict=True):
        assert timestamp(trade.opened_ts) in row and trade.symbol in row
        if trade.decision is not None:
            assert trade.decision.decision.decision_id in row
            assert all(r.sensor_id in row for r in trade.decision.decision.reasons)
    assert 'class="alert"' not in html


async def test_mismatch_is_flagged_loudly(journal: Path, tmp_path: Path) -> None:
    facts = AccountFacts(source="sandbox account", wallet_start=D(1000), wallet_end=D("1010"))
    paths = write_report(journal, SESSION, tmp_path / "reports", account=facts)
    html = paths.html.read_text()
    assert '<div class="alert">' in html and "MISMATCH" in html
    assert "**⚠ MISMATCH" in paths.markdown.read_text()
    assert read_report(paths.json).cross_check.lines[0].difference == D("-2.75")


def _args(target: str, **kw: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--log-level")
    report_cmd.add_arguments(parser)
    argv = [target]
    for key, value in kw.items():
        if value is not None:
            argv += [f"--{key.replace('_', '-')}", value]
    return parser.parse_args(argv)


async def test_report_command_rerenders_the_same_json(
    journal: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no casino.toml / .env of the repository
    first = write_report(journal, SESSION, tmp_path / "reports", account=FACTS)
    original = first.json.read_bytes()
    first.json.with_name("report.html").unlink()
    out = io.StringIO()
    code = report_cmd.run(
        _args(SESSION, state_dir=str(journal.parent), report_dir=str(tmp_path / "reports")), out
    )
    assert code == 0, out.getvalue()
    assert first.json.read_bytes() == original and first.html.is_file()
    assert "equals the sandbox account" in out.getvalue()
    # the report folder itself, and the journal file, name the same session
    assert report_cmd.run(_args(str(first.folder)), io.StringIO()) == 0
    assert first.json.read_bytes() == original
    code = report_cmd.run(_args(str(journal), report_dir=str(tmp_path / "reports")), io.StringIO())
    assert code == 0 and first.json.read_bytes() == original


async def test_report_command_without_account_facts_and_errors(
    journal: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    assert report_cmd.run(_args(str(journal.parent), report_dir="elsewhere"), out) == 0
    doc = read_report(tmp_path / "elsewhere" / SESSION)
    assert doc.cross_check.ok is None and "not checked" in out.getvalue()
    assert report_cmd.run(_args("no-such-session", state_dir=str(journal.parent)), io.StringIO()) == 2
    assert "no-such-session" in capsys.readouterr().err
    assert report_cmd.run(_args("missing", state_dir=str(tmp_path / "nowhere")), io.StringIO()) == 2
    # a mismatch carried over from the previous report makes the exit status 1
    write_report(journal, SESSION, tmp_path / "bad", account=AccountFacts(wallet_start=D(0), wallet_end=D(1)))
    assert report_cmd.run(_args(str(tmp_path / "bad" / SESSION)), io.StringIO()) == 1
