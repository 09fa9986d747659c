"""Builders for the Croupier tests (no tests here): a sandbox account with the real stack on top of it.

One sandbox per test module (real klines replayed when ``shared/data/klines`` is present, else the synthetic
market); each test trades on an account of its own through the real connector, user stream, WAL, state
and journal, and asserts on the sandbox's own books (``sb.context.core``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.config import SandboxSettings, Settings
from core.config_croupier import CroupierSettings
from core.decisions import Decision, RiskVerdict
from core.enums import IncomeType, Side
from core.events import ReconcileRequest
from core.secrets import Secret
from core.types import AlgoOrder, Instrument, MarkPrice, Order, Position, Trade
from croupier.croupier import Croupier
from croupier.model import Alert
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.factory import build_adapter
from exchanges.sandbox.runner import Sandbox
from state.fills import FillProcessor
from state.journal import Journal
from state.manager import StateManager
from state.wal import Wal
from tests.helpers import eventually, klines_dir

D = Decimal
SPEED = 20.0
# Exchange-clock seconds; at SPEED 20 a protection check runs every 50 ms of wall time.
FAST = CroupierSettings(
    protect_interval_s=1.0,
    triggering_timeout_s=4.0,
    entry_timeout_s=10.0,
    deadman_interval_s=2.0,
    deadman_countdown_s=30.0,
)
_ids = itertools.count(1)


def sandbox_settings(accounts: Iterable[str], seed: int = 5) -> SandboxSettings:
    data = klines_dir()
    return SandboxSettings(
        port=0,
        speed=SPEED,
        history_days=0.02,
        seed=seed,
        data=(str(data),) if data is not None else (),
        accounts=tuple(accounts),
    )


class Env:
    """One account: the Croupier on the real stack, plus the sandbox's view of the same account."""

    def __init__(
        self,
        sb: Sandbox,
        account: str,
        adapter: BinanceAdapter,
        croupier: Croupier,
        journal: Journal,
        instruments: dict[str, Instrument],
    ) -> None:
        self.sb = sb
        self.account = account
        self.adapter = adapter
        self.croupier = croupier
        self.state = croupier.state
        self.journal = journal
        self.instruments = instruments
        self.alerts: list[Alert] = []
        self.reconciles: list[ReconcileRequest] = []

    @property
    def core(self) -> Any:
        return self.sb.context.core

    def now(self) -> int:
        return int(self.sb.context.clock.now_ms())

    # -- the sandbox's truth ---------------------------------------------------------------------------

    def venue_position(self, symbol: str) -> Position:
        positions: list[Position] = self.core.positions(self.account, symbol)
        return next(p for p in positions if p.symbol == symbol)

    def venue_algos(self, symbol: str | None = None) -> list[AlgoOrder]:
        return list(self.core.open_algo_orders(self.account, symbol))

    def venue_orders(self, symbol: str | None = None) -> list[Order]:
        return list(self.core.open_orders(self.account, symbol))

    def venue_pnl_and_fees(self) -> tuple[Decimal, Decimal]:
        """(sum of REALIZED_PNL, sum of COMMISSION) in the account's income ledger."""
        rows = self.core.income(self.account, limit=100_000)
        pnl = sum((r.income for r in rows if r.income_type is IncomeType.REALIZED_PNL), D(0))
        fees = sum((r.income for r in rows if r.income_type is IncomeType.COMMISSION), D(0))
        return pnl, fees

    def last_price(self, symbol: str) -> Decimal:
        trade = self.core.last_trade(symbol)
        assert trade is not None, f"no trade yet on {symbol}"
        return Decimal(trade.price)

    def mark(self, symbol: str) -> Decimal:
        return Decimal(self.core.positions(self.account, symbol)[0].mark_price)

    # -- market injection (in-process, between two steps of the sandbox's market loop) -------------------

    def inject_mark(self, symbol: str, price: Decimal) -> None:
        self.core.on_mark_price(
            MarkPrice(
                symbol=symbol,
                mark_price=price,
                index_price=price,
                funding_rate=D(0),
                next_funding_time=0,
                ts=self.now(),
            )
        )

    def inject_trade(self, symbol: str, price: Decimal) -> None:
        self.core.on_trade(
            Trade(
                symbol=symbol,
                trade_id=10**12 + next(_ids),
                price=price,
                qty=self.instruments[symbol].filters.min_qty,
                is_buyer_maker=False,
                ts=self.now(),
            )
        )

    @asynccontextmanager
    async def pinned_mark(self, symbol: str, price: Decimal) -> AsyncIterator[None]:
        """Hold the mark price of ``symbol`` at ``price``: the replay's own marks are replaced meanwhile."""
        market = self.sb.context.market
        original = market.events_until

        def events_until(now: int) -> list[Any]:
            events = original(now)
            return [
                MarkPrice(
                    symbol=symbol,
                    mark_price=price,
                    index_price=price,
                    funding_rate=e.funding_rate,
                    next_funding_time=e.next_funding_time,
                    ts=e.ts,
                )
                if isinstance(e, MarkPrice) and e.symbol == symbol
                else e
                for e in events
            ]

        market.events_until = events_until  # type: ignore[method-assign,assignment]
        self.inject_mark(symbol, price)
        try:
            yield
        finally:
            del market.events_until  # the instance attribute goes; the method is back

    # -- decisions ---------------------------------------------------------------------------------------

    def decision(
        self,
        symbol: str,
        side: Side,
        *,
        stop_pct: str = "0.02",
        tp_pct: str = "0.02",
        decision_id: str | None = None,
    ) -> Decision:
        ref = self.last_price(symbol)
        return Decision(
            decision_id=decision_id or f"t{next(_ids)}-{symbol}-{side.value[0]}",
            symbol=symbol,
            side=side,
            conviction=0.8,
            reference_price=ref,
            stop_distance=ref * D(stop_pct),
            take_profit_distance=ref * D(tp_pct),
            ts=self.now(),
            timeframe="1m",
        )

    @staticmethod
    def verdict(decision: Decision, qty: str) -> RiskVerdict:
        return RiskVerdict(decision_id=decision.decision_id, accepted=True, qty=D(qty), leverage=20)

    async def flat_and_clean(self, symbol: str, timeout: float = 10.0) -> None:
        """Wait until the venue, the state and the Croupier all show ``symbol`` flat with nothing open."""

        def done() -> bool:
            return (
                self.venue_position(symbol).qty == 0
                and not self.venue_algos(symbol)
                and not self.venue_orders(symbol)
                and self.state.get_snapshot().position(symbol).qty == 0
                and symbol not in self.state.get_snapshot().brackets
            )

        await eventually(done, timeout=timeout, message=f"{symbol} flat with no order left")

    async def journal_rows(self, what: str) -> Any:
        await self.journal.flush()

        def run() -> Any:
            with self.journal.reader() as reader:
                return getattr(reader, what)()

        return await asyncio.to_thread(run)


@asynccontextmanager
async def account_env(
    sb: Sandbox, account: tuple[str, str], tmp: Path, settings: CroupierSettings = FAST
) -> AsyncIterator[Env]:
    """The full stack on one sandbox account: adapter, user stream, WAL, state, journal and a started
    Croupier; everything is stopped and closed on exit."""
    key, secret = account
    adapter = build_adapter(
        Settings(venue="sandbox", sandbox=sb.settings),
        sb.context.clock,
        rest_url=sb.rest_url,
        credentials=(Secret(key), Secret(secret)),
    )
    adapter.api.settle_s = 0.0
    async with adapter:
        instruments = {i.symbol: i for i in await adapter.instruments()}
        wal = Wal.open(tmp / "wal")
        state = StateManager(sb.context.clock, wal=wal)
        fills = FillProcessor(state, wal)
        journal = await Journal.open(tmp / "journal.sqlite")
        await journal.start_session(
            "croupier-test",
            started_ts=sb.context.clock.now_ms(),
            venue="paper",
            account=key,
            symbols=sorted(instruments),
            config={},
        )
        alerts: list[Alert] = []
        croupier = Croupier(
            adapter,
            state,
            fills,
            sb.context.clock,
            instruments,
            settings,
            journal=journal,
            on_alert=alerts.append,
        )
        env = Env(sb, key, adapter, croupier, journal, instruments)
        env.alerts = alerts
        stream = adapter.user_stream(croupier.on_user_event, env.reconciles.append)
        await stream.start()
        await eventually(lambda: stream.connected, timeout=10, message="user stream connected")
        await croupier.start()
        try:
            yield env
        finally:
            await croupier.stop()
            await stream.stop()
            await journal.close()
            await wal.close()
