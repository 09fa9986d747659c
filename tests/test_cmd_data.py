"""``main.py data download``: the archive plan and checksums (pure), then real downloads from a local
aiohttp server laid out like data.binance.vision, and the sandbox replaying what was downloaded."""

from __future__ import annotations

import asyncio
import hashlib
import io
import threading
import zipfile
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from hypothesis import given
from hypothesis import strategies as st

import main
from core.clock import ManualClock
from core.commands.data import DownloadOptions, download
from core.datafetch import (
    Archive,
    ChecksumFormatError,
    Outcome,
    Period,
    Result,
    day_span,
    parse_checksum,
    parse_symbols,
    plan_archives,
    retry_delay,
    summary_lines,
)
from exchanges.sandbox.market.replay import MarketReplay
from tests.market_support import MINUTE, NOW0, instruments, kline_text, random_bars

DAY_MS = 86_400_000
HEX = "ab" * 32


# --- pure parts -------------------------------------------------------------------------------------------


def test_plan_uses_monthly_archives_only_for_whole_past_months() -> None:
    plan = plan_archives(["BTCUSDT"], date(2025, 4, 29), date(2025, 6, 2), today=date(2025, 6, 3))
    assert [a.name for a in plan] == [
        "BTCUSDT-1m-2025-04-29.zip",
        "BTCUSDT-1m-2025-04-30.zip",
        "BTCUSDT-1m-2025-05.zip",
        "BTCUSDT-1m-2025-06-01.zip",
        "BTCUSDT-1m-2025-06-02.zip",
    ]
    assert plan[2].path == "data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05.zip"
    assert (
        plan[0].url("http://h/")
        == "http://h/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-04-29.zip"
    )
    # A month still running on "today" is fetched by days; --daily-only too.
    current = plan_archives(["ETHUSDT"], date(2025, 6, 1), date(2025, 6, 30), today=date(2025, 6, 30))
    assert len(current) == 30 and {a.period for a in current} == {Period.DAILY}
    daily = plan_archives(
        ["BTCUSDT"], date(2025, 5, 1), date(2025, 5, 31), today=date(2025, 7, 1), monthly=False
    )
    assert len(daily) == 31


@given(
    first=st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)),
    days=st.integers(min_value=1, max_value=400),
    today_after=st.integers(min_value=0, max_value=60),
)
def test_plan_covers_every_day_exactly_once(first: date, days: int, today_after: int) -> None:
    last = first + timedelta(days=days - 1)
    plan = plan_archives(["BTCUSDT", "ETHUSDT"], first, last, today=last + timedelta(days=today_after))
    for symbol in ("BTCUSDT", "ETHUSDT"):
        covered: list[date] = []
        for a in (a for a in plan if a.symbol == symbol):
            covered.extend(
                a.first_day + timedelta(days=k) for k in range((a.last_day - a.first_day).days + 1)
            )
        assert covered == [first + timedelta(days=k) for k in range(days)]


def test_day_span_and_symbols() -> None:
    assert day_span(date(2025, 5, 3), 3) == (date(2025, 5, 1), date(2025, 5, 3))
    with pytest.raises(ValueError, match="--days"):
        day_span(date(2025, 5, 3), 0)
    assert parse_symbols(["btcusdt", "ETHUSDT,BTCUSDT"]) == ["BTCUSDT", "ETHUSDT"]
    with pytest.raises(ValueError, match="not a Binance symbol"):
        parse_symbols(["BTC/USDT"])


def test_parse_checksum() -> None:
    name = "BTCUSDT-1m-2025-05-01.zip"
    assert parse_checksum(f"{HEX.upper()}  {name}\n", name) == HEX
    assert parse_checksum(f"{HEX} *{name}", name) == HEX  # sha256sum's binary mode
    for bad in (
        f"{HEX}  ETHUSDT-1m-2025-05-01.zip",
        "nothing here",
        f"{HEX[:-2]}  {name}",
        "",
        f"{HEX}  {name}\n" * 2,
    ):
        with pytest.raises(ChecksumFormatError):
            parse_checksum(bad, name)


@given(attempt=st.integers(min_value=1, max_value=40), draw=st.floats(min_value=0.0, max_value=0.999))
def test_retry_delay_is_capped_and_never_zero(attempt: int, draw: float) -> None:
    delay = retry_delay(attempt, base_s=0.5, cap_s=8.0, draw=lambda: draw)
    step = min(8.0, 0.5 * 2 ** (attempt - 1))
    assert step / 2 <= delay < step + 1e-9


def test_summary_says_why_a_symbol_has_no_data() -> None:
    day = date(2025, 5, 1)
    results = [
        Result(Archive("BTCUSDT", Period.DAILY, day, day), Outcome.DOWNLOADED, "", 2048),
        Result(Archive("ETHUSDT", Period.DAILY, day, day), Outcome.FAILED, "HTTP 403"),
        Result(Archive("XRPUSDT", Period.DAILY, day, day), Outcome.NOT_PUBLISHED, "HTTP 404"),
    ]
    lines = summary_lines(["BTCUSDT", "ETHUSDT", "XRPUSDT"], results)
    assert lines[0].startswith("data download: 1 downloaded (2.0 KiB), 0 already present, 1 not published")
    assert "  BTCUSDT: 1 archives covering 2025-05-01 → 2025-05-01" in lines
    assert "  ETHUSDT: no data: its downloads failed (below)" in lines
    assert "  XRPUSDT: no data: the host has no 1m kline archive for it in this span" in lines
    assert lines[-1] == "  FAILED ETHUSDT-1m-2025-05-01.zip: HTTP 403"


# --- a local archive host ---------------------------------------------------------------------------------


def day_zip(symbol: str, day: date, seed: int) -> tuple[bytes, list[tuple[float, ...]]]:
    """One day of 1-minute bars in the 12-column public-data layout with its header row, zipped."""
    bars = random_bars(1440, seed=seed, start=60_000.0 if symbol == "BTCUSDT" else 2_500.0)
    first_open = (day - date(1970, 1, 1)).days * DAY_MS
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{symbol}-1m-{day}.csv", kline_text(bars, first_open, columns=12, header=True))
    return buf.getvalue(), bars


class ArchiveHost:
    """data.binance.vision's path layout on 127.0.0.1, in its own thread and event loop."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()
        self.fail_first: dict[str, int] = {}  # path -> 503 answers before the real one
        self.stall_s = 0.0
        self.bars: dict[tuple[str, date], list[tuple[float, ...]]] = {}
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self.url = ""

    def publish(self, symbol: str, day: date, *, body: bytes | None = None) -> bytes:
        """Put a daily zip and its CHECKSUM on the host; ``body`` replaces the zip after checksumming."""
        data, bars = day_zip(symbol, day, seed=day.toordinal() + len(symbol))
        self.bars[symbol, day] = bars
        self.put(f"daily/klines/{symbol}/1m/{symbol}-1m-{day}.zip", data, body)
        return data

    def put(self, rel: str, data: bytes, body: bytes | None = None) -> None:
        path = f"/data/futures/um/{rel}"
        name = path.rsplit("/", 1)[-1]
        self.files[path] = data if body is None else body
        self.files[path + ".CHECKSUM"] = f"{hashlib.sha256(data).hexdigest()}  {name}\n".encode()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests[request.path] += 1
        if self.stall_s:
            await asyncio.sleep(self.stall_s)
        if self.fail_first.get(request.path, 0) > 0:
            self.fail_first[request.path] -= 1
            return web.Response(status=503, text="busy")
        body = self.files.get(request.path)
        if body is None:
            return web.Response(status=404, text="<Error><Code>NoSuchKey</Code></Error>")
        return web.Response(body=body, content_type="application/zip")

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def __enter__(self) -> ArchiveHost:
        self._thread.start()
        assert self._ready.wait(10), "archive host did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def host() -> Iterator[ArchiveHost]:
    with ArchiveHost() as h:
        yield h


DAYS = [date(2025, 5, 1), date(2025, 5, 2), date(2025, 5, 3)]


def cli(host: ArchiveHost, folder: Path, *symbols: str, days: int = 3, end: str = "2025-05-03") -> int:
    argv = ["data", "download", *symbols, "--days", str(days), "--end", end]
    return main.main([*argv, "--base-url", host.url, "--data-dir", str(folder), "--timeout", "5"])


@pytest.fixture(autouse=True)
def _no_local_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no casino.toml / .env of the developer's


def test_download_then_rerun_downloads_nothing_and_replays(
    host: ArchiveHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for symbol in ("BTCUSDT", "ETHUSDT"):
        for day in DAYS:
            host.publish(symbol, day)
    folder = tmp_path / "data"
    assert cli(host, folder, "BTCUSDT", "ethusdt") == 0
    out = capsys.readouterr()
    assert "6 downloaded" in out.out and "0 failed" in out.out
    assert "BTCUSDT: 3 archives covering 2025-05-01 → 2025-05-03" in out.out
    assert out.err.count("downloaded (") == 6 and "[6/6]" in out.err
    assert sum(host.requests.values()) == 12  # a CHECKSUM and a zip each
    for symbol in ("BTCUSDT", "ETHUSDT"):
        for day in DAYS:
            name = f"{symbol}-1m-{day}.zip"
            path = f"/data/futures/um/daily/klines/{symbol}/1m/{name}"
            assert (folder / name).read_bytes() == host.files[path]
            assert (folder / (name + ".CHECKSUM")).read_bytes() == host.files[path + ".CHECKSUM"]
    assert not list(folder.glob("*.part"))

    assert cli(host, folder, "BTCUSDT", "ETHUSDT") == 0
    again = capsys.readouterr()
    assert sum(host.requests.values()) == 12, "a re-run must not ask the host for anything"
    assert "0 downloaded" in again.out and "6 already present" in again.out

    # The sandbox's market replays the downloaded folder as it is.
    replay = MarketReplay(
        instruments("BTCUSDT", "ETHUSDT"), ManualClock(NOW0), data_paths=[folder], history_days=1
    )
    assert replay.mode == "klines" and replay.symbols == ("BTCUSDT", "ETHUSDT")
    candles = replay.history_klines("ETHUSDT", "1m", start_time=None, end_time=None, limit=1500)
    assert len(candles) == 1441 and not candles[-1].closed  # one day of history, then the open minute
    for candle, bar in zip(candles[:-1], host.bars["ETHUSDT", DAYS[0]], strict=False):
        assert [candle.open, candle.high, candle.low, candle.close] == [Decimal(f"{x:.1f}") for x in bar[:4]]
    assert candles[-2].open_time == NOW0 // MINUTE * MINUTE - MINUTE


def test_checksum_mismatch_deletes_the_file_and_fails_naming_it(
    host: ArchiveHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    host.publish("BTCUSDT", DAYS[0])
    good = host.publish("BTCUSDT", DAYS[1])
    host.publish("BTCUSDT", DAYS[1], body=good[:-10] + b"corrupted!")
    host.publish("BTCUSDT", DAYS[2])
    folder = tmp_path / "data"
    folder.mkdir()
    stale = folder / "BTCUSDT-1m-2025-05-02.zip"
    stale.write_bytes(b"an old, damaged copy")
    assert cli(host, folder, "BTCUSDT") == 1
    out = capsys.readouterr().out
    assert "2 downloaded" in out and "1 failed" in out
    assert "FAILED BTCUSDT-1m-2025-05-02.zip: checksum mismatch" in out and str(stale) in out
    assert not stale.exists() and not (folder / "BTCUSDT-1m-2025-05-02.zip.CHECKSUM").exists()
    assert (folder / "BTCUSDT-1m-2025-05-03.zip").is_file()


def test_unpublished_day_is_skipped_with_a_note(
    host: ArchiveHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for day in DAYS[:2]:
        host.publish("BTCUSDT", day)
    assert cli(host, tmp_path / "data", "BTCUSDT") == 0
    captured = capsys.readouterr()
    assert "1 not published" in captured.out
    assert "not published (skipped): BTCUSDT-1m-2025-05-03.zip" in captured.out
    assert "BTCUSDT-1m-2025-05-03.zip  not published" in captured.err
    # A symbol the host has nothing for is a failure: the run produced no data for it.
    assert cli(host, tmp_path / "data", "BTCUSDT", "NOSUCHUSDT") == 1
    assert "NOSUCHUSDT: no data" in capsys.readouterr().out


def test_whole_past_month_is_one_archive_else_its_days(
    host: ArchiveHost, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    may = [date(2025, 5, 1) + timedelta(days=k) for k in range(31)]
    data, _ = day_zip("BTCUSDT", may[0], seed=1)
    host.put("monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05.zip", data)
    for day in may:  # ETHUSDT has no monthly archive yet: it is fetched day by day
        host.publish("ETHUSDT", day)
    host.publish("BTCUSDT", date(2025, 6, 1))
    host.publish("ETHUSDT", date(2025, 6, 1))
    folder = tmp_path / "data"
    assert cli(host, folder, "BTCUSDT", "ETHUSDT", days=32, end="2025-06-01") == 0
    captured = capsys.readouterr()
    assert (folder / "BTCUSDT-1m-2025-05.zip").read_bytes() == data
    assert not list(folder.glob("BTCUSDT-1m-2025-05-*.zip"))
    assert len(list(folder.glob("ETHUSDT-1m-2025-05-??.zip"))) == 31
    assert "ETHUSDT-1m-2025-05.zip is not published yet: fetching its 31 days instead" in captured.err
    assert "34 downloaded" in captured.out and "0 not published" in captured.out


def test_interrupted_run_resumes_cleanly(host: ArchiveHost, tmp_path: Path) -> None:
    zips = {day: host.publish("BTCUSDT", day) for day in DAYS}
    folder = tmp_path / "data"
    folder.mkdir()
    # As a kill leaves it: one zip renamed into place before its CHECKSUM was written, one half-written part.
    (folder / "BTCUSDT-1m-2025-05-01.zip").write_bytes(zips[DAYS[0]])
    (folder / "BTCUSDT-1m-2025-05-02.zip.part").write_bytes(zips[DAYS[1]][:100])
    assert cli(host, folder, "BTCUSDT") == 0
    first = "/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05-01.zip"
    assert host.requests[first + ".CHECKSUM"] == 1 and host.requests[first] == 0  # verified, not fetched
    assert not list(folder.glob("*.part"))
    for day, data in zips.items():
        assert (folder / f"BTCUSDT-1m-{day}.zip").read_bytes() == data


def options(host: ArchiveHost, folder: Path, *, retries: int, timeout_s: float = 5.0) -> DownloadOptions:
    return DownloadOptions(
        data_dir=folder,
        base_url=host.url,
        retries=retries,
        timeout_s=timeout_s,
        backoff_s=0.01,
        backoff_cap_s=0.05,
        seed=3,
    )


def test_server_errors_are_retried_then_given_up(host: ArchiveHost, tmp_path: Path) -> None:
    host.publish("BTCUSDT", DAYS[0])
    host.publish("BTCUSDT", DAYS[1])
    zip0 = "/data/futures/um/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2025-05-01.zip"
    zip1 = zip0.replace("05-01", "05-02")
    host.fail_first = {zip0: 2, zip1: 10}
    lines: list[str] = []
    archives = [Archive("BTCUSDT", Period.DAILY, d, d) for d in DAYS[:2]]
    results = asyncio.run(download(archives, options(host, tmp_path, retries=3), lines.append))
    by_name = {r.archive.name: r for r in results}
    assert by_name["BTCUSDT-1m-2025-05-01.zip"].outcome is Outcome.DOWNLOADED
    assert host.requests[zip0] == 3
    failed = by_name["BTCUSDT-1m-2025-05-02.zip"]
    assert failed.outcome is Outcome.FAILED and "gave up after 4 attempts (HTTP 503)" in failed.detail
    assert host.requests[zip1] == 4
    assert sum("retry " in line for line in lines) == 2 + 3
    assert not (tmp_path / "BTCUSDT-1m-2025-05-02.zip").exists()


def test_a_stalled_host_times_out(host: ArchiveHost, tmp_path: Path) -> None:
    host.publish("BTCUSDT", DAYS[0])
    host.stall_s = 2.0
    archive = Archive("BTCUSDT", Period.DAILY, DAYS[0], DAYS[0])
    (result,) = asyncio.run(download([archive], options(host, tmp_path, retries=1, timeout_s=0.2), print))
    assert result.outcome is Outcome.FAILED and "TimeoutError" in result.detail
    assert host.requests[f"/data/futures/um/daily/klines/BTCUSDT/1m/{archive.name}.CHECKSUM"] == 2


def test_bad_arguments_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["data", "download", "BTC/USDT", "--data-dir", str(tmp_path)]) == 2
    assert "not a Binance symbol" in capsys.readouterr().err
    assert main.main(["data", "download", "BTCUSDT", "--days", "0", "--data-dir", str(tmp_path)]) == 2
    assert "--days must be at least 1" in capsys.readouterr().err
