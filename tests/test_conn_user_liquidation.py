"""Liquidation and ADL fills on the user stream: Binance reports them as CALCULATED executions with the
trade fields (``l``, ``L``, ``t``, ``n``, ``rp``) set: the connector turns them into fills like a TRADE."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.events import OrderUpdate
from core.types import ExecutionType, Fill, Order, OrderStatus, OrderType, Side, TimeInForce
from exchanges.binance.ws_user_schemas import UserFrameDecoder
from exchanges.sandbox.engine.events import OrderEvent
from exchanges.sandbox.server.user_codec import encode_order_update

user = UserFrameDecoder()


def _liquidation_frame(client_id: str, *, last_qty: str, status: str) -> bytes:
    # Field names and JSON types as on Binance's "Event: Order Update" page; a liquidation order is a
    # LIQUIDATION IOC at the bankruptcy price, its execution type CALCULATED.
    return json.dumps(
        {
            "e": "ORDER_TRADE_UPDATE",
            "E": 1700000000123,
            "T": 1700000000120,
            "o": {
                "s": "ETHUSDT",
                "c": client_id,
                "S": "SELL",
                "o": "LIQUIDATION",
                "f": "IOC",
                "q": "0.500",
                "p": "2001.15",
                "ap": "2001.15" if last_qty != "0" else "0",
                "sp": "0",
                "x": "CALCULATED",
                "X": status,
                "i": 8389765519,
                "l": last_qty,
                "z": last_qty,
                "L": "2001.15" if last_qty != "0" else "0",
                "N": "USDT",
                "n": "0",
                "T": 1700000000120,
                "t": 4482211,
                "b": "0",
                "a": "0",
                "m": False,
                "R": True,
                "wt": "CONTRACT_PRICE",
                "ot": "LIQUIDATION",
                "ps": "BOTH",
                "cp": False,
                "rp": "-28.40000000",
                "pP": False,
                "si": 0,
                "ss": 0,
                "V": "NONE",
                "pm": "NONE",
                "gtd": 0,
                "er": "0",
            },
        }
    ).encode()


@pytest.mark.parametrize("client_id", ["autoclose-1700000000120", "adl_autoclose"])
def test_calculated_execution_with_a_filled_quantity_is_a_fill(client_id: str) -> None:
    event = user.decode(_liquidation_frame(client_id, last_qty="0.500", status="FILLED"))
    assert isinstance(event, OrderUpdate)
    assert event.execution_type is ExecutionType.CALCULATED
    assert event.order.status is OrderStatus.FILLED
    assert event.fill == Fill(
        symbol="ETHUSDT",
        trade_id=4482211,
        order_id=8389765519,
        client_order_id=client_id,
        side=Side.SELL,
        price=Decimal("2001.15"),
        qty=Decimal("0.500"),
        quote_qty=Decimal("1000.57500"),
        commission=Decimal("0"),
        commission_asset="USDT",
        realized_pnl=Decimal("-28.40000000"),
        is_maker=False,
        ts=1700000000120,
    )


def test_calculated_execution_without_a_filled_quantity_has_no_fill() -> None:
    event = user.decode(_liquidation_frame("autoclose-1", last_qty="0", status="NEW"))
    assert isinstance(event, OrderUpdate)
    assert event.execution_type is ExecutionType.CALCULATED
    assert event.fill is None


def test_sandbox_liquidation_event_round_trip() -> None:
    """What the embedded sandbox sends for a liquidation decodes to the very fill it booked."""
    fill = Fill(
        symbol="ETHUSDT",
        trade_id=31,
        order_id=12,
        client_order_id="autoclose-5000",
        side=Side.SELL,
        price=Decimal("1900.42"),
        qty=Decimal("0.526"),
        quote_qty=Decimal("999.62092"),
        commission=Decimal("0"),
        commission_asset="USDT",
        realized_pnl=Decimal("-30"),
        is_maker=False,
        ts=5000,
    )
    order = Order(
        symbol="ETHUSDT",
        order_id=12,
        client_order_id="autoclose-5000",
        side=Side.SELL,
        type=OrderType.LIQUIDATION,
        orig_type=OrderType.LIQUIDATION,
        time_in_force=TimeInForce.IOC,
        orig_qty=Decimal("0.526"),
        price=Decimal("1900.42"),
        status=OrderStatus.FILLED,
        executed_qty=Decimal("0.526"),
        avg_price=Decimal("1900.42"),
        reduce_only=True,
        update_time=5000,
    )
    frame = encode_order_update(
        OrderEvent(account="k", ts=5001, order=order, execution_type=ExecutionType.CALCULATED, fill=fill)
    )
    event = user.decode(frame)
    assert isinstance(event, OrderUpdate)
    assert event.fill == fill
