"""Candle close → entry order on the wire, in a real paper session.

``python -m bench.session_latency [--seconds 60] [--speed 120] [--bracket-pct 0.001] [--dir D]``

What runs: :class:`core.session.Session` in this process, exactly as ``python main.py run`` builds it (the
embedded sandbox on the same uvloop event loop, the real sensor pool in its worker process, the player, the
RiskEngine, the journal, the WAL with fsync, the croupier over loopback REST and the user stream), with the
aggressive player settings of the session tests (``tests.session_support.AGGRESSIVE``: a decision at nearly
every 1-minute close) replaying the real klines. Brackets are narrowed (``--bracket-pct``, default 0.1 %)
so positions close within a minute or two of exchange time and the symbols are free to trade again: that is
what gives the run enough executed decisions, it does not change the path being measured.

What is measured, per EXECUTED decision (one whose entry order reached the exchange), on one monotonic clock
(``time.perf_counter_ns``; engine, sandbox and bench share the process):

- ``seen``: the close moment as the engine saw it. A moment (all candles closing at one close time) closes
  when every symbol has moved past it; ``seen`` is when the stream callback received the event that completed
  it: the first aggTrade of the next minute of the last symbol to move (or, without one, the engine timer's
  tick, stamped when the consumer takes it).
- ``wire``: the sandbox's exchange core receives the entry order (its REST handler has read, authenticated
  and decoded it), the same definition as ``bench/croupier_bench.py``.

Stages in between: ``queue`` (engine queue wait) → ``aggregate`` (candle aggregation until the moment is sent
to the sensor pool: ``emitted``) → ``signals`` (sensor pool round trip and compute, the player's candle tap) →
``player`` (consensus; the decision exists) → ``desk queue`` (the desk judges decisions one at a time: the
second decision of a moment waits for the first; an account refresh when the sample is stale) → ``risk``
(``RiskEngine.allow``) → ``journal`` (the decision journaled, its execution task started) → ``croupier``
(bracket made durable in the WAL, decision journaled, signed REST round trip up to the exchange core).

How, without touching production code: the session's ``parts`` object is re-classed to a subclass that
notices when the Engine is assigned (synchronously, before the engine starts); at that moment the probe wraps
instance methods of the components just built (engine callbacks, the candle tap, the player, the risk engine,
the croupier, the sandbox core). Each wrapper takes a timestamp and calls the original. Also reported: the
replay's own delay, from the candle's nominal close (exchange time) to ``seen``, converted to wall time.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from core.clock import Clock
from core.config import Settings, load_settings
from core.decisions import Decision, RiskVerdict
from core.logs import setup_logging, shutdown_logging
from core.risk_limits import RiskInputs
from core.session import EXIT_OK, Session
from core.session_cli import run_loop
from core.session_live import SessionParts
from core.types import Candle, Signal, Trade
from tests.session_support import AGGRESSIVE

__all__ = ["STAGES", "Probe", "Trace", "bench_settings", "main", "run_bench"]

# (name, start stamp, end stamp) in path order; the stamps are Trace attributes.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("queue", "seen_ns", "dequeued_ns"),
    ("aggregate", "dequeued_ns", "emitted_ns"),
    ("signals", "emitted_ns", "signals_ns"),
    ("player", "signals_ns", "decided_ns"),
    ("desk queue", "decided_ns", "risk_started_ns"),
    ("risk", "risk_started_ns", "risk_done_ns"),
    ("journal", "risk_done_ns", "execute_ns"),
    ("croupier", "execute_ns", "wire_ns"),
)


@dataclass
class _Moment:
    """One evaluated close moment: what completed it and when it went through the sensor pool."""

    close_time: int
    completed_by: str  # "trade" or "tick"
    seen_ns: int
    seen_clock_ms: int  # the session clock when seen (exchange ms), for the replay's own delay
    dequeued_ns: int
    emitted_ns: int
    signals_ns: int = 0


@dataclass
class Trace:
    """Timestamps of one decision from its moment to its entry order on the wire (0: not reached)."""

    decision_id: str
    symbol: str
    moment: _Moment
    decided_ns: int
    rank: int  # position among the decisions of its moment (0: first)
    risk_started_ns: int = 0
    risk_done_ns: int = 0
    accepted: bool = False
    refusal: str = ""
    refreshed: bool = False  # the desk fetched a fresh account sample (REST) before judging it
    execute_ns: int = 0
    wire_ns: int = 0

    def __getattr__(self, name: str) -> int:
        # The moment's stamps read as the trace's own, so STAGES can name them alike.
        if name in {"seen_ns", "dequeued_ns", "emitted_ns", "signals_ns"}:
            return int(getattr(self.moment, name))
        raise AttributeError(name)


@dataclass
class Probe:
    """Wraps the session's components as they are built and collects :class:`Trace` objects."""

    clock: Clock | None = None
    traces: dict[str, Trace] = field(default_factory=dict)
    moments: list[_Moment] = field(default_factory=list)
    by_entry_id: dict[str, Trace] = field(default_factory=dict)
    _received: dict[int, tuple[int, int]] = field(default_factory=dict)  # id(trade) -> (ns, clock ms)
    _last_item: tuple[str, int, int, int] = ("tick", 0, 0, 0)  # kind, seen ns, seen clock ms, dequeued ns
    _current: _Moment | None = None
    _refreshed_at: int = 0  # when the desk's last account refresh ended

    def attach(self, session: Session, engine: Any) -> None:
        """Wrap what the decision path calls; runs before ``engine.start()``, so nothing is missed."""
        parts, components = session.parts, session.components
        if components is None or components.sandbox is None or parts.player is None or parts.risk is None:
            raise RuntimeError("the bench needs a paper session on the embedded sandbox")
        self.clock = clock = parts.clock
        now = time.perf_counter_ns

        on_event = engine._on_event

        def stamp_event(event: Any) -> None:
            if isinstance(event, Trade):
                self._received[id(event)] = (now(), clock.now_ms())
            on_event(event)

        handle = engine._handle

        def stamp_handle(event: Any, received_ms: int) -> None:
            got = self._received.pop(id(event), None)
            if got is not None:
                self._last_item = ("trade", got[0], got[1], now())
            handle(event, received_ms)

        advance = engine.aggregator.advance

        def stamp_tick(now_ms: int) -> list[Candle]:
            t = now()
            self._last_item = ("tick", t, clock.now_ms(), t)
            return list(advance(now_ms))

        tap = engine._sensors
        evaluate = tap.evaluate

        async def stamp_evaluate(candles: Sequence[Candle]) -> list[Signal]:
            kind, seen, seen_ms, dequeued = self._last_item
            moment = _Moment(candles[0].close_time, kind, seen, seen_ms, dequeued, now())
            signals: list[Signal] = await evaluate(candles)
            moment.signals_ns = now()
            self.moments.append(moment)
            self._current = moment
            return signals

        player = parts.player
        on_signals = player.on_signals

        def stamp_decisions(signals: Sequence[Signal], candles: Any = None) -> list[Decision]:
            decisions: list[Decision] = on_signals(signals, candles)
            t = now()
            moment = self._current
            for rank, d in enumerate(decisions):
                if moment is None or moment.close_time != d.ts:
                    raise RuntimeError(f"decision {d.decision_id} does not belong to the moment evaluated")
                self.traces[d.decision_id] = Trace(d.decision_id, d.symbol, moment, t, rank)
            return decisions

        risk = parts.risk
        allow = risk.allow

        def stamp_allow(decision: Decision, account: RiskInputs) -> RiskVerdict:
            trace = self.traces.get(decision.decision_id)
            started = now()
            verdict = allow(decision, account)
            if trace is not None:
                trace.risk_started_ns, trace.risk_done_ns, trace.accepted = started, now(), verdict.accepted
                trace.refusal = "" if verdict.accepted else str(verdict.reason)
                trace.refreshed = self._refreshed_at > trace.decided_ns
            return verdict

        desk: Any = components.desk
        refresh = desk._refresh_account  # the desk's own refresh, not the periodic account loop's

        async def stamp_refresh() -> Any:
            sample = await refresh()
            self._refreshed_at = now()
            return sample

        croupier = components.croupier
        execute = croupier.execute

        async def stamp_execute(decision: Decision, verdict: RiskVerdict) -> Any:
            trace = self.traces.get(decision.decision_id)
            if trace is not None:
                trace.execute_ns = now()
                self.by_entry_id[croupier.executor.entry_id(decision.decision_id)] = trace
            return await execute(decision, verdict)

        core: Any = components.sandbox.context.core
        new_order = core.new_order

        def stamp_order(account: str, req: Any) -> Any:
            trace = self.by_entry_id.get(req.new_client_order_id or "")
            if trace is not None and not trace.wire_ns:
                trace.wire_ns = now()
            return new_order(account, req)

        engine._on_event = stamp_event
        engine._handle = stamp_handle
        engine.aggregator.advance = stamp_tick
        tap.evaluate = stamp_evaluate
        player.on_signals = stamp_decisions  # type: ignore[method-assign]
        risk.allow = stamp_allow  # type: ignore[method-assign]
        croupier.execute = stamp_execute  # type: ignore[method-assign]
        desk._refresh_account = stamp_refresh
        core.new_order = stamp_order

    def executed(self) -> list[Trace]:
        """Traces whose entry order reached the exchange, in decision order."""
        return [t for t in self.traces.values() if t.wire_ns]


class _WatchedParts(SessionParts):
    """The session's parts, calling the probe the moment the Engine is assigned (before it starts)."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "engine" and value is not None:
            probe, session = self.__dict__["_bench_probe"]
            probe.attach(session, value)


def bench_settings(directory: Path, *, speed: float, bracket_pct: str, data: Path | None) -> Settings:
    """The aggressive paper-session settings of the session tests, at ``speed``, state under ``directory``."""
    overrides: dict[str, object] = AGGRESSIVE | {
        "session.paper_speed": str(speed),
        # The desk refreshes the account sample (one REST call) before judging when it is older than 60 s
        # of exchange time; sampling twice per that age keeps it fresh, as at real time (every 5 s).
        "session.equity_interval_s": str(min(1.0, 30.0 / speed)),
        "player.sl_pct": bracket_pct,
        "player.tp_pct": bracket_pct,
        "state.dir": str(directory / "state"),
        "session.report_dir": str(directory / "reports"),
        "log.dir": str(directory / "logs"),
        "log.json": "true",
        "sandbox.seed": "3",
        "metrics.port": "0",
    }
    if data is not None:
        overrides["sandbox.data"] = str(data)
    return load_settings(env={}, overrides=overrides)


def _klines() -> Path | None:
    env = os.environ.get("CASINO_DATA_DIR")
    if env and Path(env).is_dir():
        return Path(env).resolve()
    folder = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "klines"
    return folder if folder.is_dir() else None


def run_bench(settings: Settings, seconds: float, log_stream: TextIO) -> tuple[Probe, Session, int]:
    """Run one paper session of ``seconds`` with the probe attached; logging as ``main.py run`` sets it up."""
    probe = Probe()
    session = Session(settings, session_id="bench-latency", out=io.StringIO())
    session.parts.__class__ = _WatchedParts
    session.parts.__dict__["_bench_probe"] = (probe, session)
    setup_logging(
        settings.log.level,
        log_dir=Path(settings.log.dir),
        session_id=session.session_id,
        json_file=True,
        stream=log_stream,
    )
    try:
        code = run_loop(lambda: session.run(duration_s=seconds))
    finally:
        shutdown_logging()
    return probe, session, code


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarize(probe: Probe, speed: float) -> list[str]:
    """The report's lines: counts, the headline, the stages, the replay's own delay."""
    done = probe.executed()
    decided = len(probe.traces)
    accepted = sum(1 for t in probe.traces.values() if t.accepted)
    lines = [
        f"moments evaluated: {len(probe.moments)} "
        f"(completed by a trade {sum(m.completed_by == 'trade' for m in probe.moments)}, "
        f"by the timer {sum(m.completed_by == 'tick' for m in probe.moments)})",
        f"decisions: {decided}, accepted by risk: {accepted}, entry on the wire: {len(done)}",
    ]
    refused = Counter(t.refusal for t in probe.traces.values() if t.refusal)
    if refused:
        lines.append("refused by risk: " + ", ".join(f"{k} {v}" for k, v in refused.most_common()))
    if not done:
        return [*lines, "no executed decision: nothing to measure (longer run or higher --speed)"]

    def row(label: str, values: list[float]) -> str:
        return (
            f"  {label:<28} p50 {statistics.median(values):8.2f}  p99 {_pct(values, 0.99):8.2f}  "
            f"max {max(values):8.2f}  mean {statistics.fmean(values):8.2f}"
        )

    ms: Callable[[int], float] = lambda ns: ns / 1e6  # noqa: E731
    lines.append("latency per executed decision, wall ms:")
    lines.append(row("close seen -> entry on wire", [ms(t.wire_ns - t.seen_ns) for t in done]))
    lines.append(row("close emitted -> entry on wire", [ms(t.wire_ns - t.emitted_ns) for t in done]))
    lines.append(row("decision -> entry on wire", [ms(t.wire_ns - t.decided_ns) for t in done]))
    lines.append("stages (same decisions):")
    for name, start, end in STAGES:
        lines.append(row(name, [ms(getattr(t, end) - getattr(t, start)) for t in done]))
    fresh = [ms(t.wire_ns - t.seen_ns) for t in done if not t.refreshed]
    if len(fresh) < len(done):
        lines.append(row("seen -> wire, no account refresh", fresh) + f"  n {len(fresh)}")
    for label, group in (("first of its moment", 0), ("second of its moment", 1)):
        picked = [ms(t.wire_ns - t.seen_ns) for t in done if min(t.rank, 1) == group]
        if picked:
            lines.append(row(f"seen -> wire, {label}", picked) + f"  n {len(picked)}")
    # Not engine latency: how long after the candle's nominal end the replay delivered the completing event.
    wait = [(t.moment.seen_clock_ms - t.moment.close_time) / speed for t in done]
    lines.append(row("replay: nominal close -> seen", wait))
    every = [ms(m.signals_ns - m.emitted_ns) for m in probe.moments]
    lines.append(row("every moment: signals stage", every))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="trading time (start and stop excluded)")
    parser.add_argument("--speed", type=float, default=120.0, help="sandbox clock rate (x real time)")
    parser.add_argument("--bracket-pct", default="0.001", help="stop and take-profit distance (share)")
    parser.add_argument("--dir", type=Path, default=None, help="where the temp state directory goes")
    parser.add_argument("--data", type=Path, default=None, help="klines folder (default: shared/data)")
    args = parser.parse_args()
    data = args.data or _klines()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        settings = bench_settings(Path(tmp), speed=args.speed, bracket_pct=args.bracket_pct, data=data)
        print(
            f"python {platform.python_version()}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
            f"state in {tmp}; market {data or 'synthetic'}; {args.speed:g}x; brackets {args.bracket_pct}"
        )
        logs = io.StringIO()
        started = time.monotonic()
        probe, session, code = run_bench(settings, args.seconds, logs)
        wall = time.monotonic() - started
        print(f"session exit {code} after {wall:.1f} s wall; load {os.getloadavg()[0]:.2f}")
        if code != EXIT_OK:
            out = session.out
            print(out.getvalue()[-3000:] if isinstance(out, io.StringIO) else "", file=sys.stderr)
            print(logs.getvalue()[-3000:], file=sys.stderr)
        for line in summarize(probe, args.speed):
            print(line)
    if code != EXIT_OK:
        raise SystemExit(code)


if __name__ == "__main__":
    main()
