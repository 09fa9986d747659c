"""``python main.py data download SYMBOL... [--days N]``: fetch Binance's public USDⓈ-M 1m kline archives.

The archives (layout in :mod:`core.datafetch`) go flat into the data directory (``--data-dir``, default
``data_dir`` from the settings), where ``make run`` and ``main.py run`` replay them and ``main.py sandbox
--data`` reads them: ``<data dir>/BTCUSDT-1m-2025-05-01.zip`` with its ``.zip.CHECKSUM`` beside it.

For each archive:

1. a zip already present whose SHA-256 equals the ``.CHECKSUM`` kept beside it is skipped without asking
   the host (a re-run downloads nothing);
2. otherwise the ``.CHECKSUM`` is fetched (404: the day or month is not published yet; a month not yet
   published is fetched day by day instead), then the zip; its SHA-256 must match, else nothing is kept,
   a stale local copy is deleted too, and the archive fails, named in the summary;
3. the zip is written as ``<name>.part`` and renamed into place, then its ``.CHECKSUM``: an interrupted run
   leaves no half-written zip, and the next run resumes with what is missing.

At most ``--concurrency`` requests run at once, each bounded by ``--timeout``; network errors, timeouts,
429 and 5xx are retried up to ``--retries`` times with capped, jittered exponential backoff. Progress goes
to stderr, the summary to stdout. Exit status: 0 when every symbol has data and nothing failed, 1 otherwise,
2 for bad arguments or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import aiohttp
import msgspec

from core.commands.venue import settings_from_args
from core.config import ConfigError
from core.datafetch import (
    BINANCE_ARCHIVE_URL,
    Archive,
    ChecksumFormatError,
    Outcome,
    Period,
    Result,
    daily_archives,
    day_span,
    latest_published_day,
    parse_checksum,
    parse_symbols,
    plan_archives,
    retry_delay,
    summary_lines,
)

__all__ = ["DownloadOptions", "add_arguments", "download", "run"]

DEFAULT_DAYS = 30
DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 3
_USER_AGENT = "casino-data-download"


class DownloadOptions(msgspec.Struct, frozen=True, kw_only=True):
    """Where to fetch from and to, and how patiently."""

    data_dir: Path
    base_url: str = BINANCE_ARCHIVE_URL
    concurrency: int = DEFAULT_CONCURRENCY
    timeout_s: float = DEFAULT_TIMEOUT_S
    retries: int = DEFAULT_RETRIES
    backoff_s: float = 1.0
    backoff_cap_s: float = 15.0
    seed: int | None = None  # of the backoff jitter; None draws from the OS


class _NotPublishedError(Exception):
    """HTTP 404: the host has no such file."""


class _GaveUpError(Exception):
    """A request failed for good: a non-retryable status, or retries exhausted."""


# --- blocking file work, run in a worker thread ---------------------------------------------------------


def _sha256_of(path: Path) -> str | None:
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _local_state(folder: Path, archive: Archive) -> tuple[str | None, str | None]:
    """(SHA-256 of the local zip, digest its local .CHECKSUM records), each None when absent or unreadable."""
    actual = _sha256_of(folder / archive.name)
    recorded: str | None = None
    checksum = folder / archive.checksum_name
    if actual is not None and checksum.is_file():
        with contextlib.suppress(ChecksumFormatError, UnicodeDecodeError):
            recorded = parse_checksum(checksum.read_text(), archive.name)
    return actual, recorded


def _write_atomically(path: Path, data: bytes) -> None:
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)


def _store(folder: Path, archive: Archive, body: bytes, checksum_text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    _write_atomically(folder / archive.name, body)
    # The checksum last: a zip without one is re-verified against the host on the next run.
    _write_atomically(folder / archive.checksum_name, checksum_text.encode())


def _discard(folder: Path, archive: Archive) -> list[str]:
    removed = []
    for name in (archive.name, archive.name + ".part", archive.checksum_name):
        path = folder / name
        if path.exists():
            path.unlink()
            removed.append(str(path))
    return removed


# --- the downloader -------------------------------------------------------------------------------------


class _Downloader:
    """Fetches archives over one HTTP session, reporting progress lines through ``progress``."""

    def __init__(
        self, options: DownloadOptions, http: aiohttp.ClientSession, progress: Callable[[str], None]
    ):
        self._opt = options
        self._http = http
        self._progress = progress
        self._rng = random.Random(options.seed)
        self._slots = asyncio.Semaphore(options.concurrency)
        self._done = 0
        self._total = 0

    async def fetch_all(self, archives: Sequence[Archive]) -> list[Result]:
        self._total = len(archives)
        batches = await asyncio.gather(*(self._archive(a) for a in archives))
        return [r for batch in batches for r in batch]

    def _report(self, result: Result) -> Result:
        self._done += 1
        detail = f" ({result.detail})" if result.detail else ""
        width = len(str(self._total))
        self._progress(
            f"[{self._done:>{width}}/{self._total}] {result.archive.name}  {result.outcome.value}{detail}"
        )
        return result

    async def _archive(self, archive: Archive) -> list[Result]:
        folder = self._opt.data_dir
        actual, recorded = await asyncio.to_thread(_local_state, folder, archive)
        if actual is not None and actual == recorded:
            return [self._report(Result(archive, Outcome.PRESENT, "checksum OK"))]
        try:
            checksum_text = (await self._get(archive.checksum_url(self._opt.base_url))).decode()
            expected = parse_checksum(checksum_text, archive.name)
            if actual == expected:
                await asyncio.to_thread(
                    _write_atomically, folder / archive.checksum_name, checksum_text.encode()
                )
                return [self._report(Result(archive, Outcome.PRESENT, "checksum verified with the host"))]
            body = await self._get(archive.url(self._opt.base_url))
        except _NotPublishedError:
            if archive.period is Period.MONTHLY:
                return await self._month_by_days(archive)
            return [self._report(Result(archive, Outcome.NOT_PUBLISHED, "HTTP 404"))]
        except (_GaveUpError, ChecksumFormatError, UnicodeDecodeError) as exc:
            return [self._report(Result(archive, Outcome.FAILED, str(exc)))]
        digest = await asyncio.to_thread(_sha256_hex, body)  # a monthly zip is megabytes
        if digest != expected:
            removed = await asyncio.to_thread(_discard, folder, archive)
            note = f"; deleted {', '.join(removed)}" if removed else "; nothing was kept"
            detail = f"checksum mismatch: expected sha256 {expected}, got {digest}{note}"
            return [self._report(Result(archive, Outcome.FAILED, detail))]
        await asyncio.to_thread(_store, folder, archive, body, checksum_text)
        return [
            self._report(Result(archive, Outcome.DOWNLOADED, f"{len(body)} bytes, checksum OK", len(body)))
        ]

    async def _month_by_days(self, month: Archive) -> list[Result]:
        days = daily_archives(month.symbol, month.first_day, month.last_day)
        self._total += len(days) - 1
        self._progress(f"{month.name} is not published yet: fetching its {len(days)} days instead")
        batches = await asyncio.gather(*(self._archive(day) for day in days))
        return [r for batch in batches for r in batch]

    async def _get(self, url: str) -> bytes:
        """A 200 answer's body; 404 raises _NotPublishedError, a failure after the retries _GaveUpError."""
        attempts = self._opt.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                async with self._slots, self._http.get(url) as response:
                    if response.status == 200:
                        return await response.read()
                    if response.status == 404:
                        raise _NotPublishedError(url)
                    problem = f"HTTP {response.status}"
                    if response.status != 429 and response.status < 500:
                        raise _GaveUpError(f"{problem} for {url}")
            except (aiohttp.ClientError, TimeoutError) as exc:
                problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if attempt == attempts:
                break
            delay = retry_delay(
                attempt, base_s=self._opt.backoff_s, cap_s=self._opt.backoff_cap_s, draw=self._rng.random
            )
            self._progress(
                f"retry {attempt}/{self._opt.retries} of {url.rsplit('/', 1)[-1]} in {delay:.1f}s: {problem}"
            )
            await asyncio.sleep(delay)
        tries = f"{attempts} attempts" if attempts > 1 else "1 attempt"
        raise _GaveUpError(f"gave up after {tries} ({problem}) for {url}")


async def download(
    archives: Sequence[Archive], options: DownloadOptions, progress: Callable[[str], None]
) -> list[Result]:
    """Fetch and verify ``archives`` into ``options.data_dir``; one :class:`Result` per archive in the end.

    A monthly archive the host does not have is replaced by its days, each with its own result.
    """
    if options.concurrency < 1 or options.retries < 0 or options.timeout_s <= 0:
        raise ValueError("concurrency must be at least 1, retries at least 0 and the timeout positive")
    await asyncio.to_thread(options.data_dir.mkdir, parents=True, exist_ok=True)
    timeout = aiohttp.ClientTimeout(total=options.timeout_s, sock_connect=min(10.0, options.timeout_s))
    connector = aiohttp.TCPConnector(limit=options.concurrency)
    async with aiohttp.ClientSession(
        timeout=timeout, connector=connector, headers={"User-Agent": _USER_AGENT}
    ) as http:
        return await _Downloader(options, http, progress).fetch_all(archives)


# --- command line ---------------------------------------------------------------------------------------


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``data`` and its subcommand ``download`` with its flags."""
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND", required=True)
    dl = sub.add_parser(
        "download",
        help="fetch Binance's public USDⓈ-M 1-minute kline archives into the data directory",
        description="Fetch Binance's public USDⓈ-M futures 1-minute kline archives (daily zips, monthly "
        "for whole past months) with their SHA-256 checksums into the data directory, where sessions and "
        "the sandbox replay them. Files already present and valid are skipped; an interrupted run resumes.",
    )
    dl.add_argument("symbols", nargs="+", metavar="SYMBOL", help="USDⓈ-M perpetual, e.g. BTCUSDT ETHUSDT")
    dl.add_argument(
        "--days", type=int, default=DEFAULT_DAYS, help=f"how many days, ending --end (default {DEFAULT_DAYS})"
    )
    dl.add_argument(
        "--end", type=_day, metavar="YYYY-MM-DD", help="last day (UTC) to fetch (default: yesterday, UTC)"
    )
    dl.add_argument("--data-dir", metavar="PATH", help="where the archives go (default from settings: data)")
    dl.add_argument(
        "--base-url",
        default=BINANCE_ARCHIVE_URL,
        metavar="URL",
        help=f"archive host, for a mirror (default {BINANCE_ARCHIVE_URL})",
    )
    dl.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="requests at once (default 4)"
    )
    dl.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_S,
        metavar="SECONDS",
        help=f"time limit of one request (default {DEFAULT_TIMEOUT_S:g})",
    )
    dl.add_argument(
        "--retries", type=int, default=DEFAULT_RETRIES, help="retries after a network error (default 3)"
    )
    dl.add_argument(
        "--daily-only", action="store_true", help="fetch daily archives only, even for whole past months"
    )
    dl.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Entry point of ``main.py data download``; returns the exit code."""

    def fail(message: str) -> int:
        print(f"casino data download: {message}", file=sys.stderr)
        return 2

    extra = {"data_dir": args.data_dir} if args.data_dir else None
    try:
        settings = settings_from_args(args, extra)
        symbols = parse_symbols(args.symbols)
        today = datetime.now(UTC).date()
        first, last = day_span(args.end or latest_published_day(today), args.days)
        archives = plan_archives(symbols, first, last, today=today, monthly=not args.daily_only)
    except (ConfigError, ValueError) as exc:
        return fail(str(exc))
    if args.concurrency < 1 or args.retries < 0 or args.timeout <= 0:
        return fail("--concurrency must be at least 1, --retries at least 0 and --timeout positive")
    options = DownloadOptions(
        data_dir=Path(settings.data_dir),
        base_url=args.base_url,
        concurrency=args.concurrency,
        timeout_s=args.timeout,
        retries=args.retries,
    )
    print(
        f"data download: {', '.join(symbols)} 1m klines {first} → {last} ({args.days} days, "
        f"{len(archives)} archives) from {options.base_url} into {options.data_dir}",
        file=sys.stderr,
        flush=True,
    )
    try:
        results = asyncio.run(download(archives, options, _stderr))
    except KeyboardInterrupt:
        print("data download: interrupted; run it again to resume", file=sys.stderr)
        return 130
    except OSError as exc:  # the data directory cannot be written
        print(f"casino data download: {exc}", file=sys.stderr)
        return 1
    for line in summary_lines(symbols, results):
        print(line, flush=True)
    usable = {r.archive.symbol for r in results if r.outcome in (Outcome.DOWNLOADED, Outcome.PRESENT)}
    ok = all(r.outcome is not Outcome.FAILED for r in results) and usable >= set(symbols)
    if ok:
        print(f"replay it: python main.py run --data {options.data_dir}", flush=True)
    return 0 if ok else 1


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
