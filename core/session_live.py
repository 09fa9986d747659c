"""The session's real :class:`~core.session_view.SessionView`: read-only answers from the live components.

:class:`SessionParts` holds the components as the session builds them (each is ``None`` until it exists),
and :class:`LiveView` answers the view's questions from them without I/O. Components that are not there yet
answer as empty (no engine: no engine stats; no adapter: no breakers), so a report can be asked for at any
moment of the session's life.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from core.clock import Clock
from core.config import Settings
from core.engine import Engine
from core.engine_stats import EngineStats
from core.player import AdaptivePlayer
from core.risk import RiskEngine
from core.session_record import SessionRecorder
from core.session_view import (
    AccountSample,
    DecisionRecord,
    ExecutionStats,
    SensorHealth,
    SessionCounters,
    StreamHealth,
    SymbolProtection,
)
from exchanges.binance.adapter import BinanceAdapter
from sensors.manager import SensorManager
from state.manager import StateManager
from state.model import Halt, StateSnapshot

__all__ = ["HasStatus", "LiveView", "SessionParts"]


class HasStatus(Protocol):
    """A component that can describe itself (the croupier's ``status()``)."""

    def status(self) -> object: ...


@dataclass(kw_only=True)
class SessionParts:
    """The session's components, filled in as they are built (see the module docstring)."""

    settings: Settings
    session_id: str
    clock: Clock
    recorder: SessionRecorder
    report_dir: str
    venue: str = ""
    started_ms: int = 0
    state: StateManager | None = None
    adapter: BinanceAdapter | None = None
    engine: Engine | None = None
    sensors: SensorManager | None = None
    player: AdaptivePlayer | None = None
    risk: RiskEngine | None = None
    croupier: HasStatus | None = None
    symbols: tuple[str, ...] = ()


class LiveView:
    """A :class:`~core.session_view.SessionView` over :class:`SessionParts`."""

    def __init__(self, parts: SessionParts) -> None:
        self._p = parts

    @property
    def session_id(self) -> str:
        return self._p.session_id

    @property
    def settings(self) -> Settings:
        return self._p.settings

    @property
    def venue(self) -> str:
        return self._p.venue

    @property
    def started_ms(self) -> int:
        return self._p.started_ms

    @property
    def report_dir(self) -> str:
        return self._p.report_dir

    def now_ms(self) -> int:
        return self._p.clock.now_ms()

    def state(self) -> StateSnapshot:
        if self._p.state is None:
            return StateSnapshot.empty(self._p.started_ms)
        return self._p.state.get_snapshot()

    def account(self) -> AccountSample | None:
        return self._p.recorder.last_sample

    def account_start(self) -> AccountSample | None:
        return self._p.recorder.first_sample

    def last_prices(self) -> Mapping[str, Decimal]:
        engine = self._p.engine
        prices: dict[str, Decimal] = {}
        for symbol in self._p.symbols:
            mark = engine.mark_price(symbol) if engine is not None else None
            if mark is not None:
                prices[symbol] = mark.mark_price
            elif self._p.adapter is not None:
                cached = self._p.adapter.cache.mark_price(symbol)
                if cached is not None:
                    prices[symbol] = cached.mark_price
        return prices

    def protection(self) -> tuple[SymbolProtection, ...]:
        snapshot = self.state()
        marks = self.last_prices()
        out = []
        for symbol in sorted(set(self._p.symbols) | set(snapshot.positions) | set(snapshot.brackets)):
            pos = snapshot.position(symbol)
            bracket = snapshot.brackets.get(symbol)
            mark = marks.get(symbol)
            unrealized = (mark - pos.entry_price) * pos.qty if mark is not None and pos.qty != 0 else None
            out.append(
                SymbolProtection(
                    symbol=symbol,
                    qty=pos.qty,
                    entry_price=pos.entry_price,
                    mark_price=mark,
                    unrealized_pnl=unrealized,
                    bracket_status=str(bracket.status) if bracket is not None else "",
                    take_profit=bracket.tp_price if bracket is not None else None,
                    stop_loss=bracket.sl_price if bracket is not None else None,
                )
            )
        return tuple(out)

    def croupier_status(self) -> object | None:
        return self._p.croupier.status() if self._p.croupier is not None else None

    def engine_stats(self) -> EngineStats | None:
        return self._p.engine.stats() if self._p.engine is not None else None

    def sensors(self) -> SensorHealth | None:
        manager, engine = self._p.sensors, self._p.engine
        if manager is None:
            return None
        stats = engine.stats() if engine is not None else None
        return SensorHealth(
            workers=manager.workers,
            restarts=manager.restarts,
            batches=stats.batches if stats is not None else 0,
            evaluate_p50_ms=stats.evaluate_p50_ms if stats is not None else None,
            evaluate_p99_ms=stats.evaluate_p99_ms if stats is not None else None,
        )

    def breakers(self) -> Mapping[str, str]:
        adapter = self._p.adapter
        if adapter is None:
            return {}
        return {name: str(b.state) for name, b in sorted(adapter.client.breakers.breakers.items())}

    def rate_limit_usage(self) -> Mapping[str, float]:
        adapter = self._p.adapter
        return adapter.client.budget.usage() if adapter is not None else {}

    def streams(self) -> StreamHealth:
        adapter = self._p.adapter
        markets = adapter.market_streams if adapter is not None else ()
        users = adapter.user_streams if adapter is not None else ()
        market_stats = [m.stats for m in markets]
        user_stats = [u.stats for u in users]
        return StreamHealth(
            market_connected=bool(markets) and all(m.connected for m in markets),
            market_messages=sum(s.messages for s in market_stats),
            market_reconnects=sum(s.reconnects for s in market_stats),
            market_gaps_backfilled=sum(s.backfilled for s in market_stats),
            market_gaps_left=sum(s.gaps_left for s in market_stats),
            user_connected=bool(users) and all(u.connected for u in users),
            user_messages=sum(s.messages for s in user_stats),
            user_reconnects=sum(s.reconnects for s in user_stats),
            user_reconciles=sum(s.reconciles for s in user_stats),
        )

    def decisions(self, limit: int = 20) -> tuple[DecisionRecord, ...]:
        return self._p.recorder.decisions(limit)

    def player_outcomes(self) -> Mapping[str, int]:
        return self._p.player.reasons() if self._p.player is not None else {}

    def risk_rejections(self) -> Mapping[str, int]:
        return self._p.risk.rejections() if self._p.risk is not None else {}

    def halts(self) -> tuple[Halt, ...]:
        return self.state().active_halts(self.now_ms())

    def counters(self) -> SessionCounters:
        counts = self._p.recorder.counts
        adapter = self._p.adapter
        return SessionCounters(
            decisions=counts["decisions"],
            accepted=counts["accepted"],
            rejected=counts["rejected"],
            executed=counts["executed"],
            failed=counts["failed"],
            fills=counts["fills"],
            reconciliations=counts["reconciliations"],
            halts_raised=counts["halts"],
            api_errors=adapter.client.stats.errors if adapter is not None else 0,
            api_requests=adapter.client.stats.requests if adapter is not None else 0,
        )

    def executions(self) -> ExecutionStats:
        return self._p.recorder.execution_stats()
