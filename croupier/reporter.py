"""Reporter: the Croupier's alerts and journal records, in one place.

An alert is logged, handed to the ``on_alert`` callback (the session's notifier) and journaled. Journal
records (decisions, orders, algo orders, fills, alerts) are the audit trail; a journal that fails never
stops trading, but the failure is logged as an error every time (nothing is dropped silently).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from core.clock import Clock
from core.decisions import Decision, RiskVerdict
from core.logs import get_logger
from core.types import AlgoOrder, Fill, Order
from croupier.model import Alert
from exchanges.binance.client_ids import parse_client_id
from state.journal import Journal

__all__ = ["Reporter", "decision_of"]

log = get_logger("croupier")


def decision_of(client_id: str) -> str | None:
    """The decision id an order of ours belongs to (``None`` for other ids or hashed bodies)."""
    parts = parse_client_id(client_id)
    return parts.decision if parts is not None else None


class Reporter:
    """Alerts and journal records (see the module docstring)."""

    def __init__(
        self, clock: Clock, journal: Journal | None, on_alert: Callable[[Alert], None] | None
    ) -> None:
        self._clock = clock
        self._journal = journal
        self._on_alert = on_alert
        self.alerts = 0
        self.journal_errors = 0

    async def alert(self, level: str, symbol: str, message: str) -> Alert:
        """Raise an operator alert (``level`` "warning" or "critical")."""
        alert = Alert(ts=self._clock.now_ms(), level=level, symbol=symbol, message=message)
        self.alerts += 1
        log.log(
            logging.CRITICAL if level == "critical" else logging.WARNING, "ALERT %s", message, symbol=symbol
        )
        if self._on_alert is not None:
            try:
                self._on_alert(alert)
            except Exception:
                log.exception("alert callback failed", symbol=symbol)
        if self._journal is not None:
            journal = self._journal
            await self._record(
                "alert",
                lambda: journal.record_alert(
                    ts=alert.ts, level=level, component="croupier", message=message, symbol=symbol
                ),
            )
        return alert

    async def decision(self, decision: Decision, verdict: RiskVerdict) -> None:
        if self._journal is not None:
            journal = self._journal
            await self._record("decision", lambda: journal.record_decision(decision, verdict))

    async def order(self, order: Order) -> None:
        if self._journal is not None:
            journal = self._journal
            await self._record(
                "order", lambda: journal.record_order(order, decision_of(order.client_order_id))
            )

    async def algo(self, algo: AlgoOrder) -> None:
        if self._journal is not None:
            journal = self._journal
            await self._record("algo", lambda: journal.record_algo(algo, decision_of(algo.client_algo_id)))

    async def fill(self, fill: Fill) -> None:
        if self._journal is not None:
            journal = self._journal
            await self._record("fill", lambda: journal.record_fill(fill, decision_of(fill.client_order_id)))

    async def _record(self, what: str, call: Callable[[], Awaitable[None]]) -> None:
        try:
            await call()
        except Exception:
            self.journal_errors += 1
            log.exception("journal: recording the %s failed", what)
