"""Reconciler: brings the state and the exchange into agreement — on start, periodically, after stream gaps.

One round (:meth:`Reconciler.reconcile`), under a lock so rounds never overlap:

1. read the exchange's positions;
2. fetch the account's trades since the last known fill of every symbol the state cares about (a little
   earlier: ``lookback_ms``; from the opening of an open bracket when that is earlier) and feed each through
   the :class:`state.fills.FillProcessor`, so the WAL and de-duplication apply and a fill already applied
   is harmless;
3. read positions, open orders and open algo orders; a symbol whose position differs from step 1 is
   "moving" (a fill in flight) and is left for the next round;
4. plan with :func:`state.reconcile_plan.plan_reconcile` (pure), re-read positions before adopting any
   (an adoption is only made when the disagreement holds on a second read), then act: adopt positions
   (``StateManager.set_position(..., source="reconcile")``), cancel orphan algo and regular orders, close
   stale brackets, and ask the croupier to protect every unprotected position;
5. book the funding payments the state has not seen (the venue's FUNDING_FEE income rows, see
   :mod:`state.reconcile_funding`) in the state and the journal;
6. log every difference and journal it as an alert; answer a :class:`ReconcileReport`.

Venue failures end the round with the error in the report (nothing half-decided is acted on); a WAL
failure propagates (the session must stop). Rounds asked for by :meth:`request` are coalesced onto one
named task; a round that left something for later (moving positions, work in flight) asks for a follow-up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Protocol

import msgspec

from core.clock import Clock
from core.events import ReconcileRequest
from core.logs import get_logger
from core.types import AlgoOrder, Order, Position
from exchanges.adapter import ExchangeAdapter
from exchanges.binance.client_ids import DEFAULT_PREFIX
from exchanges.errors import RejectedError, VenueError
from state.fills import FillProcessor
from state.journal import Journal
from state.manager import StateManager
from state.model import StateSnapshot
from state.reconcile_funding import FundingSync
from state.reconcile_plan import Difference, DiffKind, ExchangeView, ReconcilePlan, plan_reconcile
from state.reconcile_report import ReconcileReport, Round
from state.wal import WalError

__all__ = ["Protector", "ReconcileReport", "Reconciler"]

log = get_logger("reconcile")

TRADES_PAGE = 1000  # userTrades' maximum limit


class Protector(Protocol):
    """What the reconciler needs of the croupier (``croupier.Croupier`` satisfies it)."""

    async def protect(self, symbol: str, *, reason: str) -> None: ...


def _shape(positions: Iterable[Position]) -> dict[str, tuple[Decimal, Decimal]]:
    return {p.symbol: (p.qty, p.entry_price) for p in positions if not p.is_flat}


class Reconciler:
    """Compares the state with the exchange and resolves every difference (see the module docstring).

    ``prefix`` is our client-id prefix (orders with another are never touched); ``lookback_ms`` how far
    before the last known fill trades are fetched again (a fill missed before a later one arrived);
    ``grace_ms`` how long a new order or bracket change counts as the croupier's work in flight;
    ``history_start_ms`` where to fetch trades from for a symbol the state never filled and has no bracket
    for (``None``: such a symbol's position is adopted without looking for fills). All times are exchange
    milliseconds. ``on_report`` is called with every round's report (metrics).
    """

    def __init__(  # noqa: PLR0917 (the positional order is the contract in docs/SESSION.md)
        self,
        adapter: ExchangeAdapter,
        state: StateManager,
        fills: FillProcessor,
        croupier: Protector,
        clock: Clock,
        symbols: Sequence[str],
        *,
        journal: Journal | None = None,
        prefix: str = DEFAULT_PREFIX,
        lookback_ms: int = 60_000,
        grace_ms: int = 10_000,
        history_start_ms: int | None = None,
        max_retries: int = 5,
        on_report: Callable[[ReconcileReport], None] | None = None,
    ) -> None:
        if lookback_ms < 0 or grace_ms < 0 or max_retries < 0:
            raise ValueError("lookback_ms, grace_ms and max_retries must not be negative")
        self._adapter = adapter
        self._state = state
        self._fills = fills
        self._croupier = croupier
        self._clock = clock
        self._symbols = tuple(dict.fromkeys(symbols))
        self._journal = journal
        self._prefix = prefix
        self._lookback_ms = lookback_ms
        self._grace_ms = grace_ms
        self._history_start_ms = history_start_ms
        self._max_retries = max_retries
        self._on_report = on_report
        self._lock = asyncio.Lock()
        self._pending: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._followup: asyncio.TimerHandle | None = None
        self.last_report: ReconcileReport | None = None
        self.rounds = 0
        self.requests = 0
        self._journaled: set[tuple[str, str, str]] = set()  # differences of the previous round, journaled
        self._funding = FundingSync(
            adapter, state, journal, lookback_ms=lookback_ms, history_start_ms=history_start_ms
        )

    # -- public API ---------------------------------------------------------------------------------------

    async def reconcile(self, reason: str) -> ReconcileReport:
        """One full round; see the module docstring. Raises only for a WAL failure (stop the session)."""
        async with self._lock:
            rnd = Round(reason, self._clock.now_ms())
            try:
                await self._round(rnd)
            except VenueError as exc:
                rnd.errors.append(f"{type(exc).__name__}: {exc}")
                log.error("reconciliation (%s) stopped by a venue error: %s", reason, exc)
            report = rnd.report(self._clock.now_ms())
            self.rounds += 1
            self.last_report = report
        await self._record(report)
        if not report.settled and report.ok:
            self._schedule_followup()
        if self._on_report is not None:
            try:
                self._on_report(report)
            except Exception:
                log.exception("reconciliation report listener failed")
        return report

    async def sync_funding(self) -> int:
        """Book the venue's funding payments now (the last step of a shutdown, before the report); returns
        how many were applied. Raises only for a WAL failure."""
        async with self._lock:
            return (await self._funding.sync()).applied

    def request(self, req: ReconcileRequest) -> None:
        """Ask for a round soon (user-stream gap, follow-up); requests made meanwhile are coalesced."""
        self.requests += 1
        if self._pending is None:
            self._pending = req.reason
        elif req.reason not in self._pending.split("+"):
            self._pending = f"{self._pending}+{req.reason}"
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._serve(), name="reconcile-request")

    async def run(self, interval_s: float) -> None:
        """Reconcile every ``interval_s`` wall seconds until cancelled; a failed round is logged."""
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.reconcile("periodic")
            except WalError:
                raise
            except Exception:
                log.exception("periodic reconciliation failed")

    async def stop(self) -> None:
        """Cancel a requested round waiting or running, and any follow-up."""
        if self._followup is not None:
            self._followup.cancel()
            self._followup = None
        task, self._task = self._task, None
        self._pending = None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- requested rounds ---------------------------------------------------------------------------------

    async def _serve(self) -> None:
        failures = 0
        while self._pending is not None:
            reason, self._pending = self._pending, None
            try:
                report = await self.reconcile(reason)
            except WalError:
                log.critical("reconciliation stopped: the WAL failed; the session must stop")
                raise
            except Exception:
                log.exception("requested reconciliation (%s) failed", reason)
                report = None
            if report is not None and report.ok:
                failures = 0
                continue
            failures += 1
            if failures > self._max_retries:
                log.error("reconciliation (%s) failed %d times: left to the periodic round", reason, failures)
                return
            if self._pending is None:
                self._pending = reason
            await asyncio.sleep(min(30.0, 0.5 * 2 ** (failures - 1)))

    def _schedule_followup(self) -> None:
        if self._followup is not None and not self._followup.cancelled():
            self._followup.cancel()
        delay = max(0.05, self._clock.wall_seconds(self._grace_ms))
        req = ReconcileRequest(ts=self._clock.now_ms(), reason="follow-up")
        self._followup = asyncio.get_running_loop().call_later(delay, self.request, req)

    # -- one round --------------------------------------------------------------------------------------

    async def _round(self, rnd: Round) -> None:
        before = _shape(await self._adapter.positions())
        await self._backfill(rnd, self._state.get_snapshot(), before)
        positions, orders, algos = await asyncio.gather(
            self._adapter.positions(), self._adapter.open_orders(), self._adapter.open_algo_orders()
        )
        after = _shape(positions)
        moving = {s for s in before.keys() | after.keys() if before.get(s) != after.get(s)}
        view = ExchangeView.of(self._clock.now_ms(), positions, orders, algos, moving)
        snap = self._state.get_snapshot()
        plan = plan_reconcile(snap, view, prefix=self._prefix, grace_ms=self._grace_ms)
        if plan.adopt:
            plan = await self._confirm_adoptions(plan, snap, after)
        rnd.diffs.extend(plan.differences)
        await self._act(rnd, plan)
        funding = await self._funding.sync()
        rnd.funding_seen, rnd.funding_applied = funding.seen, funding.applied
        rnd.errors.extend(funding.errors)

    def _trade_symbols(self, snap: StateSnapshot, exchange_positions: Iterable[str]) -> list[str]:
        wanted = dict.fromkeys(self._symbols)
        wanted.update(dict.fromkeys(s for s, p in snap.positions.items() if not p.is_flat))
        wanted.update(dict.fromkeys(snap.brackets))
        wanted.update(dict.fromkeys(exchange_positions))
        return list(wanted)

    def _trades_start(self, snap: StateSnapshot, symbol: str) -> int | None:
        marks = [snap.last_fill_ts[symbol]] if symbol in snap.last_fill_ts else []
        bracket = snap.brackets.get(symbol)
        if bracket is not None and bracket.opened_ts > 0:
            marks.append(bracket.opened_ts)
        if not marks:
            return self._history_start_ms
        return max(0, min(marks) - self._lookback_ms)

    async def _backfill(
        self, rnd: Round, snap: StateSnapshot, exchange_positions: dict[str, tuple[Decimal, Decimal]]
    ) -> None:
        for symbol in self._trade_symbols(snap, exchange_positions):
            start = self._trades_start(snap, symbol)
            if start is None:
                continue
            seen = applied = 0
            page = await self._adapter.user_trades(symbol, start_time=start, limit=TRADES_PAGE)
            while page:
                for fill in sorted(page, key=lambda f: f.trade_id):
                    seen += 1
                    applied += await self._fills.process(fill)
                if len(page) < TRADES_PAGE:
                    break
                # fromId cannot be combined with startTime: later pages continue from the last trade id.
                last_id = max(f.trade_id for f in page)
                page = await self._adapter.user_trades(symbol, from_id=last_id + 1, limit=TRADES_PAGE)
            rnd.fills_seen += seen
            rnd.fills_applied += applied
            if applied:
                rnd.diffs.append(
                    Difference(
                        kind=DiffKind.MISSED_FILLS,
                        symbol=symbol,
                        detail=f"{applied} fill(s) on the exchange were not in the state: applied",
                    )
                )

    async def _confirm_adoptions(
        self, plan: ReconcilePlan, snap: StateSnapshot, seen: dict[str, tuple[Decimal, Decimal]]
    ) -> ReconcilePlan:
        """Keep only the adoptions whose disagreement holds on a second read of both sides."""
        again = _shape(await self._adapter.positions())
        now = self._state.get_snapshot()
        keep, diffs = [], list(plan.differences)
        for pos in plan.adopt:
            s = pos.symbol
            stable_venue = again.get(s) == seen.get(s)
            stable_state = now.position(s).qty == snap.position(s).qty
            if stable_venue and stable_state:
                keep.append(pos)
                continue
            diffs.append(
                Difference(
                    kind=DiffKind.POSITION_MOVING,
                    symbol=s,
                    detail="position changed while the difference was confirmed; next round",
                    level="info",
                )
            )
        return msgspec.structs.replace(plan, adopt=tuple(keep), differences=tuple(diffs))

    async def _act(self, rnd: Round, plan: ReconcilePlan) -> None:
        for pos in plan.adopt:
            await self._state.set_position(pos, source="reconcile")
            rnd.adopted.append(pos.symbol)
        await asyncio.gather(
            *(self._cancel_algo(rnd, a) for a in plan.cancel_algos),
            *(self._cancel_order(rnd, o) for o in plan.cancel_orders),
        )
        for symbol in plan.close_brackets:
            await self._state.close_bracket(symbol, note=f"reconcile ({rnd.reason}): position flat")
            rnd.closed.append(symbol)
        for symbol in plan.protect:
            try:
                await self._croupier.protect(symbol, reason=f"reconcile ({rnd.reason}): no working stop")
            except VenueError as exc:
                rnd.errors.append(f"protect {symbol}: {exc}")
                log.error("could not protect the position: %s", exc, symbol=symbol)
            else:
                rnd.protected.append(symbol)

    async def _cancel_algo(self, rnd: Round, algo: AlgoOrder) -> None:
        try:
            await self._adapter.cancel_algo_order(algo_id=algo.algo_id)
        except RejectedError as exc:
            # Refused: it fired, was cancelled or expired meanwhile. Nothing is left to cancel.
            log.info("orphan algo order %s already closed: %s", algo.client_algo_id, exc, symbol=algo.symbol)
        except VenueError as exc:
            rnd.errors.append(f"cancel algo {algo.client_algo_id}: {exc}")
            log.error(
                "could not cancel orphan algo order %s: %s", algo.client_algo_id, exc, symbol=algo.symbol
            )
            return
        rnd.cancelled_algos.append(algo.client_algo_id)

    async def _cancel_order(self, rnd: Round, order: Order) -> None:
        try:
            await self._adapter.cancel_order(order.symbol, order_id=order.order_id)
        except RejectedError as exc:
            log.info("orphan order %s already closed: %s", order.client_order_id, exc, symbol=order.symbol)
        except VenueError as exc:
            rnd.errors.append(f"cancel order {order.client_order_id}: {exc}")
            log.error("could not cancel orphan order %s: %s", order.client_order_id, exc, symbol=order.symbol)
            return
        rnd.cancelled_orders.append(order.client_order_id)

    # -- reporting --------------------------------------------------------------------------------------

    async def _record(self, report: ReconcileReport) -> None:
        for diff in report.differences:
            level = {"info": 20, "warning": 30, "critical": 50}.get(diff.level, 30)
            log.log(
                level, "reconcile (%s): %s: %s", report.reason, diff.kind, diff.detail, symbol=diff.symbol
            )
        for error in report.errors:
            log.error("reconcile (%s): %s", report.reason, error)
        if report.differences or report.errors:
            log.info(
                "reconciliation (%s): %d difference(s), %d/%d fills and %d/%d funding payments applied, "
                "adopted %s, protected %s, cancelled %d order(s) and %d algo order(s), closed %s, "
                "%d error(s) in %.3f s",
                report.reason,
                len(report.differences),
                report.fills_applied,
                report.fills_seen,
                report.funding_applied,
                report.funding_seen,
                list(report.adopted),
                list(report.protected),
                len(report.cancelled_orders),
                len(report.cancelled_algos),
                list(report.closed_brackets),
                len(report.errors),
                report.seconds,
            )
        if self._journal is None:
            return
        # A condition that persists (a foreign order, a position without bracket) is journaled when it
        # appears, not again every round while it lasts; the log has every round.
        current = {(d.kind.value, d.symbol, d.detail) for d in report.differences}
        fresh = [d for d in report.differences if (d.kind.value, d.symbol, d.detail) not in self._journaled]
        self._journaled = current
        try:
            for diff in fresh:
                await self._journal.record_alert(
                    ts=report.finished_ts,
                    level=diff.level,
                    component="reconcile",
                    message=f"{diff.kind}: {diff.detail}",
                    symbol=diff.symbol,
                )
            for error in report.errors:
                await self._journal.record_alert(
                    ts=report.finished_ts, level="error", component="reconcile", message=error
                )
        except Exception:
            log.exception("could not journal the reconciliation's alerts")
