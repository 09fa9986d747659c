"""A session's periodic housekeeping: account samples (equity, halts), the player's weights, the status line.

Each loop is a coroutine the session starts as a named task through its
:class:`~core.lifecycle.TaskSupervisor`; one failed iteration is logged and the loop goes on (a venue hiccup
must not end the session), but a WAL failure propagates: the state can no longer be kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

from core.clock import Clock
from core.logs import get_logger
from core.player import AdaptivePlayer
from core.risk import RiskEngine
from core.session_record import SessionRecorder
from core.session_trading import DecisionDesk, risk_inputs
from core.session_view import AccountSample, SessionView
from core.status import StatusPrinter, status_line
from core.types import MarkPrice
from exchanges.adapter import ExchangeAdapter
from state.journal import Journal
from state.manager import StateManager
from state.wal import WalError

__all__ = ["Housekeeper", "marks_loop", "status_loop"]

log = get_logger("session")


class Housekeeper:
    """The session's periodic work (see the module docstring)."""

    def __init__(
        self,
        *,
        adapter: ExchangeAdapter,
        state: StateManager,
        journal: Journal,
        recorder: SessionRecorder,
        clock: Clock,
        risk: RiskEngine,
        player: AdaptivePlayer,
        desk: DecisionDesk,
        marks: Callable[[], Mapping[str, Decimal]],
        on_halt: Callable[[str], None],
    ) -> None:
        self._adapter = adapter
        self._state = state
        self._journal = journal
        self._recorder = recorder
        self._clock = clock
        self._risk = risk
        self._player = player
        self._desk = desk
        self._marks = marks
        self._on_halt = on_halt
        self._saved_weights: dict[str, float] | None = None

    # --- account: equity, peak, halts ---------------------------------------------------------------------

    async def sample_account(self) -> AccountSample:
        """Read the account, record the sample (state peak, journal), and raise the halts it calls for."""
        account = await self._adapter.account()
        sample = AccountSample(
            ts=self._clock.now_ms(),
            wallet_balance=account.wallet_balance,
            unrealized_pnl=account.unrealized_pnl,
            available_balance=account.available_balance,
        )
        self._recorder.sample(sample)
        await self._state.observe_equity(sample.equity)
        await self._journal.record_equity(
            ts=sample.ts, wallet=sample.wallet_balance, unrealized=sample.unrealized_pnl
        )
        await self._raise_halts(sample)
        return sample

    async def try_sample(self) -> AccountSample | None:
        """:meth:`sample_account`, with a venue failure logged and answered with ``None``."""
        try:
            return await self.sample_account()
        except WalError:
            raise
        except Exception as exc:
            log.warning("account sample failed: %r", exc)
            return None

    async def _raise_halts(self, sample: AccountSample) -> None:
        now = self._clock.now_ms()
        inputs = risk_inputs(
            self._state.get_snapshot(),
            sample,
            self._marks(),
            executing=self._desk.executing(),
            realized_today=self._desk.tally.today(now),
            orders_last_minute=self._desk.velocity.last_minute(now),
        )
        for halt in self._risk.halts_to_raise(inputs):
            await self._state.add_halt(halt)
            await self._journal.record_halt(
                kind=halt.kind, reason=halt.reason, since_ts=halt.since_ts, until_ts=halt.until_ts
            )
            self._recorder.counts["halts"] += 1
            log.warning("entries halted (%s): %s", halt.kind, halt.reason)
            self._on_halt(f"entries halted ({halt.kind}): {halt.reason}")

    async def account_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.try_sample()

    # --- the player's weights ------------------------------------------------------------------------------

    async def save_weights(self) -> bool:
        """Persist the player's weights into state when they changed; True if saved."""
        weights = self._player.weights()
        if weights == self._saved_weights or (not weights and self._saved_weights is None):
            return False
        await self._state.set_weights(weights)
        self._saved_weights = weights
        return True

    async def weights_loop(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.save_weights()
            except WalError:
                raise
            except Exception:
                log.exception("saving the player's weights failed")


async def marks_loop(
    source: Callable[[str], MarkPrice | None],
    sink: Callable[[MarkPrice], None],
    symbols: Sequence[str],
    interval_s: float = 1.0,
) -> None:
    """Hand the newest mark price of every symbol from ``source`` (the engine) to ``sink`` (the croupier's
    position tracker) every ``interval_s`` seconds: one market stream feeds both."""
    last: dict[str, int] = {}
    while True:
        for symbol in symbols:
            mark = source(symbol)
            if mark is not None and mark.ts != last.get(symbol):
                last[symbol] = mark.ts
                sink(mark)
        await asyncio.sleep(interval_s)


async def status_loop(view: SessionView, printer: StatusPrinter, interval_s: float) -> None:
    """Print the status line every ``interval_s`` seconds until cancelled."""
    while True:
        try:
            printer.show(status_line(view))
        except Exception:
            log.exception("status line failed")
        await asyncio.sleep(interval_s)
