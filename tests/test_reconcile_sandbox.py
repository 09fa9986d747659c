"""Reconciler against the running sandbox over real loopback REST: missed fills applied once through the
FillProcessor, positions adopted, unprotected positions protected, orphan orders cancelled, stale brackets
closed, every difference journaled; coalesced requests; a venue failure reported without acting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import cast

import pytest
import pytest_asyncio

from core.config import SandboxSettings, Settings
from core.events import ReconcileRequest
from core.precision import round_price
from core.secrets import Secret
from core.types import (
    AlgoOrderRequest,
    IncomeType,
    Instrument,
    OrderRequest,
    OrderType,
    Side,
    TimeInForce,
    WorkingType,
)
from exchanges.adapter import ExchangeAdapter
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.client_ids import Leg, client_algo_id, client_order_id
from exchanges.binance.factory import build_adapter
from exchanges.errors import FatalError
from exchanges.sandbox.runner import Sandbox
from state.fills import FillProcessor
from state.journal import Journal
from state.manager import StateManager
from state.model import Bracket, BracketStatus, PositionState
from state.reconcile import Reconciler
from state.reconcile_plan import DiffKind
from state.wal import Wal
from tests.helpers import eventually

pytestmark = [pytest.mark.timeout(60)]

SANDBOX = SandboxSettings(port=0, speed=10.0, history_days=0.05, seed=31)
SETTINGS = Settings(venue="sandbox", sandbox=SANDBOX)
BTC, ETH = "BTCUSDT", "ETHUSDT"
D = Decimal


class Protector:
    """Stands in for the croupier: gives a position a closePosition stop 5% away from the mark."""

    def __init__(self, adapter: BinanceAdapter, instruments: dict[str, Instrument]) -> None:
        self.adapter, self.instruments = adapter, instruments
        self.calls: list[tuple[str, str]] = []

    async def protect(self, symbol: str, *, reason: str) -> None:
        self.calls.append((symbol, reason))
        qty = next(p.qty for p in await self.adapter.positions(symbol) if p.symbol == symbol)
        mark = (await self.adapter.mark_price(symbol)).mark_price
        closing = Side.SELL if qty > 0 else Side.BUY
        trigger = mark * (D("0.95") if qty > 0 else D("1.05"))
        await self.adapter.place_algo_order(
            AlgoOrderRequest(
                symbol=symbol,
                side=closing,
                type=OrderType.STOP_MARKET,
                trigger_price=round_price(self.instruments[symbol], trigger),
                close_position=True,
                working_type=WorkingType.MARK_PRICE,
                client_algo_id=client_algo_id(f"protect-{symbol}-{len(self.calls)}", Leg.STOP),
            )
        )


@dataclass
class Env:
    sb: Sandbox
    adapter: BinanceAdapter
    instruments: dict[str, Instrument]
    state: StateManager
    fills: FillProcessor
    journal: Journal
    protector: Protector
    reconciler: Reconciler

    def now(self) -> int:
        return self.sb.context.clock.now_ms()

    async def market(self, symbol: str, side: Side, qty: str, cid: str) -> None:
        req = OrderRequest(
            symbol=symbol, side=side, type=OrderType.MARKET, quantity=D(qty), client_order_id=cid
        )
        await self.adapter.place_order(req)

    async def far_limit(self, symbol: str, cid: str) -> None:
        book = await self.adapter.book_ticker(symbol)
        price = round_price(self.instruments[symbol], book.bid_price * D("0.9"))
        req = OrderRequest(
            symbol=symbol,
            side=Side.BUY,
            type=OrderType.LIMIT,
            quantity=D("0.01") if symbol == ETH else D("0.002"),
            price=price,
            time_in_force=TimeInForce.GTC,
            client_order_id=cid,
        )
        await self.adapter.place_order(req)

    async def exchange_qty(self, symbol: str) -> Decimal:
        return sum((p.qty for p in await self.adapter.positions(symbol) if p.symbol == symbol), D(0))


def bracket(decision: str, symbol: str, status: BracketStatus, ts: int) -> Bracket:
    return Bracket(
        decision_id=decision,
        symbol=symbol,
        side=Side.BUY,
        qty=D("0.002"),
        entry_client_id=client_order_id(decision, Leg.ENTRY),
        tp_client_id=client_algo_id(decision, Leg.TAKE_PROFIT),
        sl_client_id=client_algo_id(decision, Leg.STOP),
        tp_price=D(1),
        sl_price=D(1),
        status=status,
        opened_ts=ts,
        updated_ts=ts,
    )


@pytest_asyncio.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with Sandbox(SANDBOX) as sb:
        key, secret = sb.demo_credentials
        clock = sb.context.clock
        adapter = build_adapter(
            SETTINGS, clock, rest_url=sb.rest_url, credentials=(Secret(key), Secret(secret))
        )
        adapter.api.settle_s = 0.0
        wal = Wal.open(tmp_path / "wal")
        state = StateManager(clock, wal=wal)
        fills = FillProcessor(state, wal)
        journal = await Journal.open(tmp_path / "journal.sqlite3")
        await journal.start_session(
            "s1", started_ts=clock.now_ms(), venue="sandbox", account="demo", symbols=[BTC, ETH], config={}
        )
        async with adapter:
            instruments = {i.symbol: i for i in await adapter.instruments()}
            protector = Protector(adapter, instruments)
            reconciler = Reconciler(
                adapter,
                state,
                fills,
                protector,
                clock,
                [BTC, ETH],
                journal=journal,
                grace_ms=0,
                lookback_ms=5_000,
            )
            yield Env(sb, adapter, instruments, state, fills, journal, protector, reconciler)
            await reconciler.stop()
        await journal.close()
        await wal.close()


async def test_missed_fill_applied_once_and_position_protected(env: Env) -> None:
    b = bracket("rec-1", BTC, BracketStatus.PENDING_ENTRY, env.now())
    await env.state.put_bracket(b)
    await env.market(BTC, Side.BUY, "0.002", b.entry_client_id)  # the state never hears of this fill
    report = await env.reconciler.reconcile("start")
    assert report.ok and report.fills_applied >= 1 and report.fills_seen == report.fills_applied
    pos = env.state.get_snapshot().position(BTC)
    assert pos.qty == await env.exchange_qty(BTC) == D("0.002")
    trades = await env.adapter.user_trades(BTC)
    assert env.state.get_snapshot().fees_total == sum((t.commission for t in trades), D(0))
    assert report.protected == (BTC,) and [c[0] for c in env.protector.calls] == [BTC]
    assert DiffKind.MISSED_FILLS in {d.kind for d in report.differences}
    # A second round finds everything in agreement: the fills are duplicates, the stop works.
    again = await env.reconciler.reconcile("periodic")
    assert again.clean and again.fills_applied == 0 and again.fills_seen >= 1
    assert env.fills.stats.duplicates >= 1 and len(env.protector.calls) == 1
    assert env.state.get_snapshot().position(BTC).qty == D("0.002")


async def test_orphans_cancelled_stale_bracket_closed_foreign_kept(env: Env) -> None:
    await env.state.put_bracket(bracket("rec-2", ETH, BracketStatus.PROTECTED, env.now()))
    mark = (await env.adapter.mark_price(ETH)).mark_price
    sl_id = client_algo_id("rec-2", Leg.STOP)
    await env.adapter.place_algo_order(
        AlgoOrderRequest(
            symbol=ETH,
            side=Side.SELL,
            type=OrderType.STOP_MARKET,
            trigger_price=round_price(env.instruments[ETH], mark * D("0.9")),
            close_position=True,
            client_algo_id=sl_id,
        )
    )
    stray = client_order_id("rec-old", Leg.ENTRY)
    await env.far_limit(BTC, stray)
    await env.far_limit(BTC, "manual-order-1")
    report = await env.reconciler.reconcile("start")
    assert report.ok, report.errors
    assert report.closed_brackets == (ETH,) and env.state.get_snapshot().brackets == {}
    assert report.cancelled_algos == (sl_id,) and report.cancelled_orders == (stray,)
    assert await env.adapter.open_algo_orders() == []
    assert [o.client_order_id for o in await env.adapter.open_orders()] == ["manual-order-1"]
    kinds = {d.kind for d in report.differences}
    assert {
        DiffKind.STALE_BRACKET,
        DiffKind.ORPHAN_ALGO,
        DiffKind.ORPHAN_ORDER,
        DiffKind.FOREIGN_ORDER,
    } <= kinds
    await env.journal.flush()
    reader = await asyncio.to_thread(env.journal.reader)
    try:
        alerts = await asyncio.to_thread(reader.alerts)
    finally:
        reader.close()
    assert len(alerts) == len(report.differences)
    assert all(a.component == "reconcile" for a in alerts)
    assert any(a.symbol == ETH and "stale_bracket" in a.message for a in alerts)
    # The foreign order is still there: reported again, but journaled only when it appeared.
    again = await env.reconciler.reconcile("periodic")
    assert [d.kind for d in again.differences] == [DiffKind.FOREIGN_ORDER]
    await env.journal.flush()
    reader = await asyncio.to_thread(env.journal.reader)
    try:
        assert len(await asyncio.to_thread(reader.alerts)) == len(alerts)
    finally:
        reader.close()


async def test_positions_adopted_from_the_exchange(env: Env) -> None:
    # The state believes in a BTC long the exchange does not have; the exchange holds an ETH short the state
    # never heard of (no bracket, no fill: nothing to backfill from, so the position itself is adopted).
    await env.state.set_position(
        PositionState(symbol=BTC, qty=D("0.05"), entry_price=D(50000)), source="test"
    )
    await env.market(ETH, Side.SELL, "0.05", client_order_id("rec-3", Leg.ENTRY))
    report = await env.reconciler.reconcile("start")
    assert report.ok and sorted(report.adopted) == [BTC, ETH] and report.fills_applied == 0
    snap = env.state.get_snapshot()
    assert snap.position(BTC).qty == 0 and snap.position(ETH).qty == D("-0.05")
    assert report.protected == (ETH,)
    again = await env.reconciler.reconcile("periodic")
    assert again.clean and not again.adopted


async def test_history_start_backfills_a_symbol_never_seen(env: Env) -> None:
    env.reconciler = Reconciler(
        env.adapter,
        env.state,
        env.fills,
        env.protector,
        env.sb.context.clock,
        [BTC, ETH],
        grace_ms=0,
        history_start_ms=env.now() - 1000,
    )
    await env.market(ETH, Side.BUY, "0.05", client_order_id("rec-4", Leg.ENTRY))
    await env.market(ETH, Side.SELL, "0.02", client_order_id("rec-4", Leg.REDUCE))
    report = await env.reconciler.reconcile("start")
    assert report.fills_applied >= 2 and not report.adopted
    snap = env.state.get_snapshot()
    assert snap.position(ETH).qty == D("0.03") == await env.exchange_qty(ETH)
    trades = await env.adapter.user_trades(ETH)
    assert snap.realized_pnl_total == sum((t.realized_pnl for t in trades), D(0))


async def test_requests_are_coalesced_into_one_round(env: Env) -> None:
    for reason in ("reconnect", "listenKeyExpired", "reconnect"):
        env.reconciler.request(ReconcileRequest(ts=env.now(), reason=reason))
    await eventually(lambda: env.reconciler.rounds == 1, timeout=10, message="one requested round")
    assert env.reconciler.requests == 3
    last = env.reconciler.last_report
    assert last is not None and last.reason == "reconnect+listenKeyExpired" and last.clean


class _Refusing:
    """An adapter whose every call is refused: the round must report it and do nothing."""

    def __init__(self, inner: BinanceAdapter) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> object:
        async def refuse(*args: object, **kwargs: object) -> object:
            raise FatalError("invalid API key", status=401, code=-2015, endpoint=f"GET {name}")

        return refuse


async def test_venue_failure_is_reported_not_acted_on(env: Env) -> None:
    await env.state.set_position(
        PositionState(symbol=BTC, qty=D("0.05"), entry_price=D(50000)), source="test"
    )
    adapter = cast(ExchangeAdapter, _Refusing(env.adapter))
    rec = Reconciler(adapter, env.state, env.fills, env.protector, env.sb.context.clock, [BTC])
    report = await rec.reconcile("start")
    assert not report.ok and "invalid API key" in report.errors[0] and not report.adopted
    assert env.state.get_snapshot().position(BTC).qty == D("0.05")


async def test_funding_booked_once_in_state_and_journal(env: Env) -> None:
    core = env.sb.context.core
    account = env.sb.demo_credentials[0]
    b = bracket("rec-5", BTC, BracketStatus.PENDING_ENTRY, env.now())
    await env.state.put_bracket(b)
    await env.market(BTC, Side.BUY, "0.002", b.entry_client_id)
    await env.market(ETH, Side.SELL, "0.02", client_order_id("rec-5e", Leg.ENTRY))
    first = await env.reconciler.reconcile("start")
    assert first.ok and first.funding_applied == 0, first.errors
    # Longs pay a positive rate, shorts receive it; then the other way round. Three distinct times.
    for symbol, rate in ((BTC, "0.0001"), (ETH, "0.0001"), (BTC, "-0.0003")):
        settled = env.now()
        core.settle_funding(symbol, D(rate), settled)
        await eventually(lambda: env.now() > settled, timeout=5, message="the exchange clock moves on")  # noqa: B023

    report = await env.reconciler.reconcile("funding")
    rows = core.income(account, income_type=IncomeType.FUNDING_FEE, start_time=0, limit=1000)
    assert len(rows) == 3 and len({(r.symbol, r.ts) for r in rows}) == 3
    assert report.ok and report.funding_applied == 3 and report.funding_seen == 3, report
    # The adapter pages by time through more rows than its page size, each row once.
    paged = await env.adapter.income(income_type=IncomeType.FUNDING_FEE, start_time=0, limit=2)
    assert [(r.symbol, r.ts, r.income) for r in paged] == [(r.symbol, r.ts, r.income) for r in rows]
    expected = sum((r.income for r in rows), D(0))
    assert expected != 0
    snap = env.state.get_snapshot()
    assert snap.funding_total == expected
    for symbol in (BTC, ETH):
        mine = [r for r in rows if r.symbol == symbol]
        assert snap.position(symbol).funding == sum((r.income for r in mine), D(0))
        assert snap.last_funding_ts[symbol] == max(r.ts for r in mine)

    # A second round reads the same rows and books nothing again.
    again = await env.reconciler.reconcile("periodic")
    assert again.ok and again.funding_applied == 0 and again.funding_seen >= 1
    assert env.state.get_snapshot().funding_total == expected
    await env.journal.flush()
    reader = await asyncio.to_thread(env.journal.reader)
    try:
        journaled = await asyncio.to_thread(reader.funding, "s1")
    finally:
        reader.close()
    assert sorted((p.symbol, p.ts, p.amount) for p in journaled) == sorted(
        (r.symbol, r.ts, r.income) for r in rows
    )
