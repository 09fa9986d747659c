"""The crash test's harness (no tests here): processes, an independent REST reader, and the invariant checker.

- :class:`ChildProcess` runs ``main.py sandbox`` or ``main.py run`` in its own process group, output to a
  log file, and kills the whole group with SIGKILL (the program and its sensor workers die together, as in
  a real crash).
- :class:`VenueReader` is a deliberately separate, minimal signed REST client (urllib + HMAC, the sandbox's
  own server time per request): the checker must not trust the connector it is checking.
- :func:`fetch_facts` reads what the exchange holds; :func:`read_state` rebuilds what a state directory
  holds, read-only (latest valid snapshot + WAL records after it), even while a session writes to it.
- the invariants themselves are checked by :mod:`tests.crash_invariants` (pure).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from core.clock import ManualClock
from state.manager import StateManager
from state.model import StateSnapshot, WalRecord
from state.recovery import SNAPSHOT_DIR, WAL_DIR
from state.snapshots import load_latest
from state.wal_format import PREFIX, SUFFIX, parse_line
from tests.crash_invariants import ExchangeFacts, OpenAlgo, OpenOrder, Trade
from tests.helpers import REPO_ROOT

D = Decimal


# --- processes ----------------------------------------------------------------------------------------------


class ChildProcess:
    """``python main.py <args>`` in its own process group, stdout and stderr into ``log``."""

    def __init__(self, args: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith("CASINO_")}
        base.update(env or {})
        base["PYTHONUNBUFFERED"] = "1"
        self.log = log
        self.started = time.monotonic()
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "main.py", *args],
            cwd=REPO_ROOT,
            env=base,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait_for_output(self, pattern: str, timeout: float, *, since: int = 0) -> re.Match[str]:
        """Poll the log (from character ``since`` on) until ``pattern`` appears; fail if the process exits or
        time runs out first."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.compile(pattern).search(self.output(), since)
            if found:
                return found
            if not self.alive or time.monotonic() > deadline:
                raise AssertionError(
                    f"{pattern!r} not printed (exit {self.proc.poll()}):\n{self.output()[-4000:]}"
                )
            time.sleep(0.005)

    def kill(self) -> None:
        """SIGKILL the whole process group (the program and its workers) and reap the leader."""
        with contextlib.suppress(ProcessLookupError):  # the group is gone already
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        if not self._out.closed:
            self._out.close()

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM to the program only (it stops its own workers), wait, SIGKILL the group if it hangs."""
        if self.alive:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
        code = self.proc.poll()
        self.kill()  # whatever is left of the group
        return -9 if code is None else code


# --- a minimal, independent REST reader ---------------------------------------------------------------------


class VenueReader:
    """Signed GETs against a Binance-compatible REST API (sync; for the checker, between kills)."""

    def __init__(self, rest_url: str, api_key: str, api_secret: str) -> None:
        self.rest_url, self._key, self._secret = rest_url.rstrip("/"), api_key, api_secret.encode()

    def get(self, path: str, params: Mapping[str, object] | None = None, *, signed: bool = True) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        if signed:
            query["timestamp"] = self.get("/fapi/v1/time", signed=False)["serverTime"]
            query["recvWindow"] = 60_000
        text = urllib.parse.urlencode(query)
        if signed:
            text += "&signature=" + hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()
        req = urllib.request.Request(f"{self.rest_url}{path}?{text}", headers={"X-MBX-APIKEY": self._key})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return json.loads(resp.read(), parse_float=Decimal)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"GET {path} failed: HTTP {exc.code} {exc.read()[:300]!r}") from None

    def paged(self, path: str, params: Mapping[str, object], cursor: str, key: str) -> list[dict[str, Any]]:
        """Every row of an id-paginated list endpoint (``cursor`` param = last ``key`` + 1)."""
        rows: list[dict[str, Any]] = []
        start: int | None = None
        while True:
            page = self.get(path, {**params, cursor: start, "limit": 1000})
            rows.extend(page)
            if len(page) < 1000:
                return rows
            start = max(int(r[key]) for r in page) + 1


# --- what the exchange holds --------------------------------------------------------------------------------


def fetch_facts(venue: VenueReader, symbols: Sequence[str]) -> ExchangeFacts:
    positions = {
        r["symbol"]: (D(r["positionAmt"]), D(r["entryPrice"]))
        for r in venue.get("/fapi/v3/positionRisk")
        if D(r["positionAmt"]) != 0
    }
    orders = tuple(
        OpenOrder(r["symbol"], r["clientOrderId"], int(r["orderId"]))
        for r in venue.get("/fapi/v1/openOrders")
    )
    algos = tuple(
        OpenAlgo(
            r["symbol"],
            r["clientAlgoId"],
            r["side"],
            r["orderType"],
            bool(r["closePosition"]),
            D(r["quantity"]),
        )
        for r in venue.get("/fapi/v1/openAlgoOrders")
    )
    order_ids, algo_ids, trades = {}, {}, {}
    for s in symbols:
        order_ids[s] = [
            r["clientOrderId"] for r in venue.paged("/fapi/v1/allOrders", {"symbol": s}, "orderId", "orderId")
        ]
        algo_ids[s] = [
            r["clientAlgoId"] for r in venue.get("/fapi/v1/allAlgoOrders", {"symbol": s, "limit": 1000})
        ]
        rows = venue.paged("/fapi/v1/userTrades", {"symbol": s}, "fromId", "id")
        trades[s] = [
            Trade(int(r["id"]), int(r["time"]), D(r["realizedPnl"]), D(r["commission"])) for r in rows
        ]
    income = _income(venue)
    return ExchangeFacts(
        positions=positions,
        open_orders=orders,
        open_algos=algos,
        order_ids=order_ids,
        algo_ids=algo_ids,
        trades=trades,
        income_realized=sum((D(r["income"]) for r in income if r["incomeType"] == "REALIZED_PNL"), D(0)),
        income_commission=sum((D(r["income"]) for r in income if r["incomeType"] == "COMMISSION"), D(0)),
    )


def _income(venue: VenueReader) -> list[dict[str, Any]]:
    rows: dict[int, dict[str, Any]] = {}
    start = 0
    while True:
        page = venue.get("/fapi/v1/income", {"startTime": start, "limit": 1000})
        fresh = [r for r in page if int(r["tranId"]) not in rows]
        rows.update((int(r["tranId"]), r) for r in page)
        if len(page) < 1000 or not fresh:
            return list(rows.values())
        start = max(int(r["time"]) for r in page)  # inclusive: rows at that ms come again, de-duplicated


# --- what a state directory holds ---------------------------------------------------------------------------


def read_state(state_dir: Path) -> StateSnapshot | None:
    """The state a recovery would rebuild now (``None`` for an empty directory), without locking or
    changing anything: a running session may be writing; a torn or in-flight last line is ignored."""
    loaded = load_latest(state_dir / SNAPSHOT_DIR)
    if loaded is None and not (state_dir / WAL_DIR).is_dir():
        return None
    manager = StateManager(ManualClock(0), initial=loaded.snapshot if loaded else None)
    decoder = msgspec.json.Decoder(WalRecord)
    segments = sorted((state_dir / WAL_DIR).glob(f"{PREFIX}*{SUFFIX}"))
    for path in segments:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # compacted meanwhile: the snapshot covers it
        for line in data.splitlines(keepends=True):
            parsed = parse_line(line)
            if parsed is None:
                break
            seq, payload = parsed
            if seq > manager.wal_seq + 1:
                raise AssertionError(f"WAL gap in {state_dir}: {manager.wal_seq} then {seq}")
            manager.apply_logged(seq, decoder.decode(payload))
    return manager.get_snapshot()
