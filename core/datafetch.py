"""The pure half of ``main.py data download``: which Binance public kline archives to fetch; checksums.

Binance publishes USDⓈ-M futures klines at ``https://data.binance.vision`` (its ``binance-public-data``
README describes the layout):

- daily: ``data/futures/um/daily/klines/<SYMBOL>/1m/<SYMBOL>-1m-<YYYY-MM-DD>.zip``, uploaded the next day;
- monthly: ``data/futures/um/monthly/klines/<SYMBOL>/1m/<SYMBOL>-1m-<YYYY-MM>.zip``, uploaded early in the
  following month;
- beside each zip, ``<name>.zip.CHECKSUM`` holding ``sha256sum`` output: ``"<64 hex>  <name>.zip"``.

Each zip holds one CSV in the 12-column public-data layout (recent files start with a header row), which
the sandbox's kline loader reads as it is. Nothing here does I/O: the command module feeds it dates,
bytes and random numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, timedelta
from enum import StrEnum

import msgspec

__all__ = [
    "BINANCE_ARCHIVE_URL",
    "INTERVAL",
    "Archive",
    "ChecksumFormatError",
    "Outcome",
    "Period",
    "Result",
    "daily_archives",
    "day_span",
    "latest_published_day",
    "parse_checksum",
    "parse_symbols",
    "plan_archives",
    "retry_delay",
    "summary_lines",
]

BINANCE_ARCHIVE_URL = "https://data.binance.vision"
INTERVAL = "1m"

_SYMBOL = re.compile(r"^[A-Z0-9]{2,30}$")
_CHECKSUM_LINE = re.compile(r"^(?P<hex>[0-9a-fA-F]{64}) [ *](?P<name>\S.*)$")


class Period(StrEnum):
    """How much one archive covers, as named in the archive's path."""

    DAILY = "daily"
    MONTHLY = "monthly"


class Archive(msgspec.Struct, frozen=True):
    """One kline zip on the archive host: a symbol's 1-minute bars for a day or a calendar month."""

    symbol: str
    period: Period
    first_day: date
    last_day: date

    @property
    def label(self) -> str:
        """The date part of the file name: ``2025-05-01`` (daily) or ``2025-05`` (monthly)."""
        if self.period is Period.DAILY:
            return self.first_day.isoformat()
        return f"{self.first_day.year:04d}-{self.first_day.month:02d}"

    @property
    def name(self) -> str:
        """The zip's file name, the same on the host and in the data directory."""
        return f"{self.symbol}-{INTERVAL}-{self.label}.zip"

    @property
    def checksum_name(self) -> str:
        return self.name + ".CHECKSUM"

    @property
    def path(self) -> str:
        """The zip's path on the host, relative to the base URL."""
        return f"data/futures/um/{self.period.value}/klines/{self.symbol}/{INTERVAL}/{self.name}"

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.path}"

    def checksum_url(self, base_url: str) -> str:
        return self.url(base_url) + ".CHECKSUM"


class ChecksumFormatError(ValueError):
    """A ``.CHECKSUM`` file is not ``sha256sum`` output for the expected zip: the host or mirror is wrong."""


class Outcome(StrEnum):
    """What became of one archive."""

    DOWNLOADED = "downloaded"
    PRESENT = "present"  # already in the data directory with a matching checksum
    NOT_PUBLISHED = "not published"  # 404: a day or month the host does not have (yet)
    FAILED = "failed"


class Result(msgspec.Struct, frozen=True):
    """One archive's outcome, with a human-readable detail and the bytes fetched for it."""

    archive: Archive
    outcome: Outcome
    detail: str = ""
    size: int = 0


def parse_symbols(raw: Iterable[str]) -> list[str]:
    """Upper-cased, de-duplicated symbols (commas also separate); ValueError naming a malformed one."""
    out: list[str] = []
    for chunk in raw:
        for part in chunk.split(","):
            symbol = part.strip().upper()
            if not symbol:
                continue
            if not _SYMBOL.match(symbol):
                raise ValueError(f"not a Binance symbol: {part.strip()!r} (expected e.g. BTCUSDT)")
            if symbol not in out:
                out.append(symbol)
    if not out:
        raise ValueError("no symbol given (e.g. BTCUSDT ETHUSDT)")
    return out


def latest_published_day(today: date) -> date:
    """The last day whose daily archive can exist on ``today`` (UTC): yesterday (uploads come next day)."""
    return today - timedelta(days=1)


def day_span(last_day: date, days: int) -> tuple[date, date]:
    """The ``days`` days ending with ``last_day``, as (first, last)."""
    if days < 1:
        raise ValueError(f"--days must be at least 1, got {days}")
    return last_day - timedelta(days=days - 1), last_day


def _month_end(day: date) -> date:
    following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return following - timedelta(days=1)


def daily_archives(symbol: str, first: date, last: date) -> list[Archive]:
    """One daily archive per day of ``[first, last]``."""
    out: list[Archive] = []
    day = first
    while day <= last:
        out.append(Archive(symbol, Period.DAILY, day, day))
        day += timedelta(days=1)
    return out


def plan_archives(
    symbols: Sequence[str], first: date, last: date, *, today: date, monthly: bool = True
) -> list[Archive]:
    """The archives covering ``[first, last]`` for each symbol, in symbol then date order.

    A calendar month lying wholly inside the span and already over on ``today`` is fetched as one monthly
    archive (fewer requests); every other day as a daily archive. The plan depends only on its arguments,
    so a re-run names the same files and finds them present.
    """
    if first > last:
        raise ValueError(f"empty date span: {first} is after {last}")
    out: list[Archive] = []
    for symbol in symbols:
        day = first
        while day <= last:
            month_end = _month_end(day)
            if monthly and day.day == 1 and month_end <= last and month_end < today:
                out.append(Archive(symbol, Period.MONTHLY, day, month_end))
                day = month_end + timedelta(days=1)
                continue
            stop = min(month_end, last)
            out.extend(daily_archives(symbol, day, stop))
            day = stop + timedelta(days=1)
    return out


def parse_checksum(text: str, expected_name: str) -> str:
    """The lower-case SHA-256 hex digest a ``.CHECKSUM`` file gives for ``expected_name``.

    The file is ``sha256sum`` output: one line ``"<hex>  <name>"`` (``*`` before the name in binary mode).
    Raises :class:`ChecksumFormatError` when it is not, or names another file.
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) != 1:
        raise ChecksumFormatError(f"{expected_name}.CHECKSUM: expected one line, found {len(lines)}")
    match = _CHECKSUM_LINE.match(lines[0])
    if match is None:
        raise ChecksumFormatError(f"{expected_name}.CHECKSUM: not '<sha256 hex>  <file name>': {lines[0]!r}")
    name = match["name"].strip().rsplit("/", 1)[-1]
    if name != expected_name:
        raise ChecksumFormatError(f"{expected_name}.CHECKSUM: names {name!r}, not {expected_name!r}")
    return match["hex"].lower()


def retry_delay(attempt: int, *, base_s: float, cap_s: float, draw: Callable[[], float]) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): capped exponential backoff, jittered.

    Half the step is fixed and half drawn (``draw`` returns a number in [0, 1)), so concurrent downloads
    that failed together do not retry in lockstep, yet none retries at once.
    """
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}")
    step = min(cap_s, base_s * 2.0 ** (attempt - 1))
    return step / 2.0 + step / 2.0 * draw()


def _size(n: int) -> str:
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / (1024 * 1024):.1f} MiB"


def summary_lines(symbols: Sequence[str], results: Sequence[Result]) -> list[str]:
    """The closing report: counts per outcome, one line per symbol, and what went wrong, by name."""
    counts = {outcome: 0 for outcome in Outcome}
    for r in results:
        counts[r.outcome] += 1
    fetched = sum(r.size for r in results)
    lines = [
        f"data download: {counts[Outcome.DOWNLOADED]} downloaded ({_size(fetched)}), "
        f"{counts[Outcome.PRESENT]} already present, {counts[Outcome.NOT_PUBLISHED]} not published, "
        f"{counts[Outcome.FAILED]} failed"
    ]
    for symbol in symbols:
        mine = [r for r in results if r.archive.symbol == symbol]
        have = [r for r in mine if r.outcome in _USABLE]
        if not have:
            if any(r.outcome is Outcome.FAILED for r in mine):
                lines.append(f"  {symbol}: no data: its downloads failed (below)")
            else:
                lines.append(f"  {symbol}: no data: the host has no 1m kline archive for it in this span")
            continue
        first = min(r.archive.first_day for r in have)
        last = max(r.archive.last_day for r in have)
        lines.append(f"  {symbol}: {len(have)} archives covering {first} → {last}")
    missing = [r.archive.name for r in results if r.outcome is Outcome.NOT_PUBLISHED]
    if missing:
        lines.append(f"  not published (skipped): {', '.join(missing)}")
    for r in results:
        if r.outcome is Outcome.FAILED:
            lines.append(f"  FAILED {r.archive.name}: {r.detail}")
    return lines


_USABLE = (Outcome.DOWNLOADED, Outcome.PRESENT)
