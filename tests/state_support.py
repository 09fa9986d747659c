"""Builders shared by the state tests (no tests here)."""

from __future__ import annotations

from decimal import Decimal

from core.types import Fill, Side

D = Decimal
BTC = "BTCUSDT"
ETH = "ETHUSDT"


def fill(
    trade_id: int,
    side: Side = Side.BUY,
    qty: str = "0.01",
    price: str = "100000",
    *,
    symbol: str = BTC,
    ts: int | None = None,
    pnl: str = "0",
    fee: str = "0.5",
    fee_asset: str = "USDT",
    client_order_id: str = "c1",
    order_id: int = 1,
) -> Fill:
    """A fill of one of our orders (trade time defaults to ``1000 + trade_id``)."""
    return Fill(
        symbol=symbol,
        trade_id=trade_id,
        order_id=order_id,
        client_order_id=client_order_id,
        side=side,
        price=D(price),
        qty=D(qty),
        quote_qty=D(price) * D(qty),
        commission=D(fee),
        commission_asset=fee_asset,
        realized_pnl=D(pnl),
        is_maker=False,
        ts=1000 + trade_id if ts is None else ts,
    )
