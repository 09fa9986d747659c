"""EntryFlow against a scripted venue: a partially filled entry keeps what filled, cancels the rest and
protects exactly that; an entry that ends without a fill closes its bracket; and a stop that cannot be
placed at all closes the position at market (the venue the sandbox cannot be made to be)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from core.clock import ManualClock
from core.config_croupier import CroupierSettings
from core.decisions import Decision, RiskVerdict
from core.enums import AlgoStatus, OrderStatus, OrderType, Side, TimeInForce
from core.types import AlgoOrder, AlgoOrderRequest, MarkPrice, Order, OrderRequest
from croupier.entry import EntryFlow, EntryWaiters
from croupier.executor import OrderExecutor
from croupier.guard import Guard
from croupier.model import OutcomeStatus
from croupier.oco import OcoBook
from croupier.reporter import Reporter
from exchanges.errors import RejectedError
from exchanges.sandbox.engine.filters import default_instruments
from state.manager import StateManager

D = Decimal
INSTRUMENTS = {i.symbol: i for i in default_instruments() if i.symbol == "BTCUSDT"}
SETTINGS = CroupierSettings(entry_timeout_s=0.05)


class ScriptedVenue:
    """Answers the Croupier's calls as scripted; records what it was asked."""

    def __init__(self, entry: Order, final: Order, *, stop_error: RejectedError | None = None) -> None:
        self.entry, self.final, self.stop_error = entry, final, stop_error
        self.placed: list[OrderRequest] = []
        self.algos: list[AlgoOrderRequest] = []
        self.cancelled: list[str] = []

    async def place_order(self, req: OrderRequest) -> Order:
        self.placed.append(req)
        if req.reduce_only:
            return msgspec.structs.replace(self.final, client_order_id=req.client_order_id or "")
        return self.entry

    async def get_order(self, symbol: str, **_: Any) -> Order:
        return self.entry

    async def cancel_order(self, symbol: str, *, client_order_id: str | None = None, **_: Any) -> Order:
        self.cancelled.append(client_order_id or "")
        return self.final

    async def place_algo_order(self, req: AlgoOrderRequest) -> AlgoOrder:
        self.algos.append(req)
        if self.stop_error is not None and req.type is OrderType.STOP_MARKET:
            raise self.stop_error
        return AlgoOrder(
            symbol=req.symbol,
            algo_id=len(self.algos),
            client_algo_id=req.client_algo_id or "",
            side=req.side,
            order_type=req.type,
            quantity=D(0),
            trigger_price=req.trigger_price or D(0),
            status=AlgoStatus.NEW,
            close_position=req.close_position,
        )

    async def mark_price(self, symbol: str) -> MarkPrice:
        return MarkPrice(
            symbol=symbol,
            mark_price=D(100000),
            index_price=D(100000),
            funding_rate=D(0),
            next_funding_time=0,
            ts=0,
        )


def order(status: OrderStatus, executed: str, cid: str = "cas-d1-E0") -> Order:
    return Order(
        symbol="BTCUSDT",
        order_id=7,
        client_order_id=cid,
        side=Side.BUY,
        type=OrderType.MARKET,
        orig_type=OrderType.MARKET,
        time_in_force=TimeInForce.GTC,
        orig_qty=D("0.003"),
        price=D(0),
        status=status,
        executed_qty=D(executed),
        avg_price=D(100000) if D(executed) else D(0),
    )


def flow(venue: ScriptedVenue) -> tuple[EntryFlow, StateManager]:
    clock = ManualClock(1_000)
    state = StateManager(clock)
    executor = OrderExecutor(venue, INSTRUMENTS, SETTINGS, clock)  # type: ignore[arg-type]
    reporter = Reporter(clock, None, None)
    guard = Guard(executor, state, oco=OcoBook(5000), reporter=reporter, clock=clock, settings=SETTINGS)
    return EntryFlow(guard, reporter, EntryWaiters(), clock, SETTINGS), state


DECISION = Decision(
    decision_id="d1",
    symbol="BTCUSDT",
    side=Side.BUY,
    conviction=0.9,
    reference_price=D(100000),
    stop_distance=D(1000),
    take_profit_distance=D(2000),
    ts=1,
    timeframe="1m",
)
VERDICT = RiskVerdict(decision_id="d1", accepted=True, qty=D("0.003"))


@pytest.mark.timeout(10)
async def test_partial_entry_protects_what_filled_and_cancels_the_rest() -> None:
    venue = ScriptedVenue(order(OrderStatus.PARTIALLY_FILLED, "0.001"), order(OrderStatus.CANCELED, "0.001"))
    entry, state = flow(venue)
    outcome = await entry.run(DECISION, VERDICT)
    assert outcome.status is OutcomeStatus.PROTECTED and outcome.filled_qty == D("0.001")
    assert venue.cancelled == ["cas-d1-E0"]
    assert [(a.type, a.close_position, a.trigger_price) for a in venue.algos] == [
        (OrderType.STOP_MARKET, True, D(99000)),
        (OrderType.TAKE_PROFIT_MARKET, True, D(102000)),
    ]
    bracket = state.get_snapshot().brackets["BTCUSDT"]
    assert (bracket.status.value, bracket.filled_qty, bracket.sl_algo_id, bracket.tp_algo_id) == (
        "PROTECTED", D("0.001"), 1, 2,
    )  # fmt: skip


@pytest.mark.timeout(10)
async def test_entry_without_a_fill_closes_the_bracket() -> None:
    venue = ScriptedVenue(order(OrderStatus.NEW, "0"), order(OrderStatus.EXPIRED, "0"))
    entry, state = flow(venue)
    outcome = await entry.run(DECISION, VERDICT)
    assert outcome.status is OutcomeStatus.EXPIRED and venue.algos == []
    assert state.get_snapshot().brackets == {}


@pytest.mark.timeout(10)
async def test_a_stop_that_cannot_be_placed_closes_at_market() -> None:
    refused = RejectedError("Reach max stop order limit.", status=400, code=-4045)
    venue = ScriptedVenue(
        order(OrderStatus.FILLED, "0.003"), order(OrderStatus.FILLED, "0.003"), stop_error=refused
    )
    entry, state = flow(venue)
    outcome = await entry.run(DECISION, VERDICT)
    assert outcome.status is OutcomeStatus.CLOSED and outcome.reason == "stop refused"
    close = venue.placed[-1]
    assert (close.side, close.quantity, close.reduce_only, close.client_order_id) == (
        Side.SELL, D("0.003"), True, "cas-d1-X0",
    )  # fmt: skip
    assert state.get_snapshot().brackets["BTCUSDT"].status.value == "CLOSING"
