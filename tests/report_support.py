"""A crafted journal for the report tests: known trades, so every figure is known.

Session ``s1`` from T0, BTCUSDT and ETHUSDT, every commission 0.5 USDT:

- A: BTC long 1 @ 100 → 110, realized +10, fees 1, funding -0.25 while open → net +8.75 (take-profit)
- B: BTC short 1 @ 110 → 115, realized -5, fees 1 → net -6 (stop-loss)
- C: ETH long 2 @ 50 → 55, realized +10, fees 1 → net +9 (take-profit)
- D: ETH long 1 @ 60 → 57, realized -3, fees 1 → net -4 (market order, no journaled decision)
- E: BTC long 1 @ 120, still open, fees 0.5

Totals: realized 12, fees 4.5, funding -0.25, net 7.25. Closed trades: 2 wins (17.75), 2 losses (10).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.decisions import Decision, Reason, RiskVerdict
from core.enums import AlgoStatus, OrderStatus, OrderType, Side, TimeInForce
from core.types import AlgoOrder, Fill, Order
from state.journal import Journal

D = Decimal
T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
MIN = 60_000
SESSION = "s1"
FEE = D("0.5")
EQUITY = [D("1000"), D("1009"), D("1003"), D("1012"), D("1008"), D("1007.25")]


def _fill(trade_id: int, symbol: str, side: Side, price: str, qty: str, ts: int, realized: str = "0") -> Fill:
    return Fill(
        symbol=symbol,
        trade_id=trade_id,
        order_id=trade_id,
        client_order_id=f"c{trade_id}",
        side=side,
        price=D(price),
        qty=D(qty),
        quote_qty=D(price) * D(qty),
        commission=FEE,
        commission_asset="USDT",
        realized_pnl=D(realized),
        is_maker=False,
        ts=ts,
    )


def decision(
    decision_id: str, symbol: str, side: Side, reference: str, ts: int, reasons: tuple[Reason, ...]
) -> Decision:
    return Decision(
        decision_id=decision_id,
        symbol=symbol,
        side=side,
        conviction=0.8,
        reference_price=D(reference),
        stop_distance=D("5"),
        take_profit_distance=D("10"),
        ts=ts,
        timeframe="1m",
        reasons=reasons,
    )


RSI = Reason(sensor_id="rsi", timeframe="1m", direction=1, strength=0.5, weight=1.0)  # 0.5
MACD = Reason(sensor_id="macd", timeframe="5m", direction=1, strength=1.0, weight=1.5)  # 1.5
BEAR = Reason(sensor_id="bear", timeframe="1m", direction=-1, strength=1.0, weight=1.0)

DECISIONS = {
    # A: rsi and macd vote long (0.5 : 1.5), bear votes against and gets nothing
    "A": decision("BTCUSDT-A-BUY", "BTCUSDT", Side.BUY, "99", T0 + 1 * MIN, (RSI, MACD, BEAR)),
    "B": decision("BTCUSDT-B-SELL", "BTCUSDT", Side.SELL, "110", T0 + 10 * MIN, (BEAR,)),
    "C": decision("ETHUSDT-C-BUY", "ETHUSDT", Side.BUY, "50", T0 + 4 * MIN, (RSI,)),
}


def _algo(client_id: str, symbol: str, side: Side, kind: OrderType, order_id: int) -> AlgoOrder:
    return AlgoOrder(
        symbol=symbol,
        algo_id=order_id,
        client_algo_id=client_id,
        side=side,
        order_type=kind,
        quantity=D(1),
        trigger_price=D(1),
        status=AlgoStatus.FINISHED,
        reduce_only=True,
        create_time=T0,
        update_time=T0 + 30 * MIN,
        actual_order_id=str(order_id),
    )


async def craft_journal(path: Path, *, end: bool = True) -> None:
    """Write the session described in the module docstring to a journal at ``path``."""
    journal = await Journal.open(path)
    try:
        await journal.start_session(
            SESSION,
            started_ts=T0,
            venue="sandbox",
            account="demo",
            symbols=("BTCUSDT", "ETHUSDT"),
            config={"note": "crafted"},
        )
        accepted = {
            k: RiskVerdict(decision_id=d.decision_id, accepted=True, qty=D(1)) for k, d in DECISIONS.items()
        }
        for key, d in DECISIONS.items():
            await journal.record_decision(d, accepted[key])
        refused = decision("ETHUSDT-X-SELL", "ETHUSDT", Side.SELL, "58", T0 + 20 * MIN, (BEAR,))
        await journal.record_decision(
            refused, RiskVerdict(decision_id=refused.decision_id, accepted=False, reason="max_positions")
        )
        # Exits placed by take-profit / stop-loss algo orders: their fills get the exit reason.
        await journal.record_algo(_algo("tpA", "BTCUSDT", Side.SELL, OrderType.TAKE_PROFIT_MARKET, 2))
        await journal.record_algo(_algo("slB", "BTCUSDT", Side.BUY, OrderType.STOP_MARKET, 4))
        await journal.record_algo(_algo("tpC", "ETHUSDT", Side.SELL, OrderType.TAKE_PROFIT_MARKET, 6))
        # D's exit was a plain market order.
        await journal.record_order(
            Order(
                symbol="ETHUSDT",
                order_id=8,
                client_order_id="c8",
                side=Side.SELL,
                type=OrderType.MARKET,
                orig_type=OrderType.MARKET,
                time_in_force=TimeInForce.GTC,
                orig_qty=D(1),
                price=D(0),
                status=OrderStatus.FILLED,
                executed_qty=D(1),
                time=T0 + 25 * MIN,
                update_time=T0 + 25 * MIN,
            )
        )
        fills = [
            (_fill(1, "BTCUSDT", Side.BUY, "100", "1", T0 + 2 * MIN), "BTCUSDT-A-BUY"),
            (_fill(2, "BTCUSDT", Side.SELL, "110", "1", T0 + 8 * MIN, "10"), None),
            (_fill(3, "BTCUSDT", Side.SELL, "110", "1", T0 + 11 * MIN), "BTCUSDT-B-SELL"),
            (_fill(4, "BTCUSDT", Side.BUY, "115", "1", T0 + 14 * MIN, "-5"), None),
            (_fill(5, "ETHUSDT", Side.BUY, "50", "2", T0 + 5 * MIN), "ETHUSDT-C-BUY"),
            (_fill(6, "ETHUSDT", Side.SELL, "55", "2", T0 + 9 * MIN, "10"), None),
            (_fill(7, "ETHUSDT", Side.BUY, "60", "1", T0 + 21 * MIN), None),
            (_fill(8, "ETHUSDT", Side.SELL, "57", "1", T0 + 25 * MIN, "-3"), None),
            (_fill(9, "BTCUSDT", Side.BUY, "120", "1", T0 + 26 * MIN), None),
        ]
        for f, decision_id in fills:
            await journal.record_fill(f, decision_id)
        await journal.record_funding("BTCUSDT", D("-0.25"), T0 + 5 * MIN)
        for i, equity in enumerate(EQUITY):
            await journal.record_equity(ts=T0 + i * 6 * MIN, wallet=equity, unrealized=D(0))
        if end:
            await journal.end_session(ended_ts=T0 + 30 * MIN)
        await journal.flush()
    finally:
        await journal.close()
