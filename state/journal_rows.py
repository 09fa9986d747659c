"""Journal rows → record Structs: the decoding half of the journal's reads (pure, no I/O)."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.decisions import Decision, Reason, RiskVerdict
from core.enums import Side
from core.types import Fill
from state.journal_records import (
    JournalAlgoOrder,
    JournalDecision,
    JournalFill,
    JournalOrder,
    JournalSession,
)

__all__ = [
    "Row",
    "algo_row",
    "dec",
    "decision_row",
    "fill_row",
    "integer",
    "opt_text",
    "order_row",
    "reason_row",
    "session_row",
    "text",
]

Row = tuple[object, ...]


def dec(value: object) -> Decimal:
    return Decimal(str(value))


def text(value: object) -> str:
    return str(value)


def integer(value: object) -> int:
    return value if isinstance(value, int) else int(str(value))


def opt_text(value: object) -> str | None:
    return None if value is None else str(value)


def reason_row(r: Row) -> Reason:
    """A decision_reasons row without its decision id: (sensor, timeframe, direction, strength, weight)."""
    return Reason(
        sensor_id=text(r[0]),
        timeframe=text(r[1]),
        direction=integer(r[2]),
        strength=float(str(r[3])),
        weight=float(str(r[4])),
    )


def session_row(r: Row) -> JournalSession:
    return JournalSession(
        session_id=text(r[0]),
        started_ts=integer(r[1]),
        ended_ts=0 if r[2] is None else integer(r[2]),
        venue=text(r[3]),
        account=text(r[4]),
        symbols=tuple(msgspec.json.decode(text(r[5]), type=list[str])),
        config=msgspec.json.decode(text(r[6]), type=dict[str, object]),
        status=text(r[7]),
    )


def decision_row(r: Row, reasons: tuple[Reason, ...]) -> JournalDecision:
    decision_id = text(r[0])
    return JournalDecision(
        decision=Decision(
            decision_id=decision_id,
            symbol=text(r[2]),
            side=Side(text(r[3])),
            conviction=float(str(r[4])),
            reference_price=dec(r[5]),
            stop_distance=dec(r[6]),
            take_profit_distance=dec(r[7]),
            atr=dec(r[8]),
            ts=integer(r[9]),
            timeframe=text(r[10]),
            reasons=reasons,
        ),
        verdict=RiskVerdict(
            decision_id=decision_id,
            accepted=bool(r[11]),
            reason=text(r[12]),
            detail=text(r[13]),
            qty=dec(r[14]),
            notional=dec(r[15]),
            leverage=integer(r[16]),
        ),
        session=opt_text(r[1]),
    )


def fill_row(r: Row) -> JournalFill:
    return JournalFill(
        fill=Fill(
            symbol=text(r[1]),
            trade_id=integer(r[2]),
            order_id=integer(r[3]),
            client_order_id=text(r[4]),
            side=Side(text(r[5])),
            price=dec(r[6]),
            qty=dec(r[7]),
            quote_qty=dec(r[8]),
            commission=dec(r[9]),
            commission_asset=text(r[10]),
            realized_pnl=dec(r[11]),
            is_maker=bool(r[12]),
            ts=integer(r[13]),
        ),
        session=opt_text(r[0]),
        decision_id=opt_text(r[14]),
        origin=text(r[15]),
    )


def order_row(r: Row) -> JournalOrder:
    return JournalOrder(
        client_order_id=text(r[0]),
        order_id=integer(r[1]),
        session=opt_text(r[2]),
        symbol=text(r[3]),
        side=Side(text(r[4])),
        type=text(r[5]),
        orig_type=text(r[6]),
        time_in_force=text(r[7]),
        qty=dec(r[8]),
        price=dec(r[9]),
        stop_price=dec(r[10]),
        executed_qty=dec(r[11]),
        avg_price=dec(r[12]),
        status=text(r[13]),
        reduce_only=bool(r[14]),
        close_position=bool(r[15]),
        decision_id=opt_text(r[16]),
        ts=integer(r[17]),
        update_ts=integer(r[18]),
    )


def algo_row(r: Row) -> JournalAlgoOrder:
    return JournalAlgoOrder(
        client_algo_id=text(r[0]),
        algo_id=integer(r[1]),
        session=opt_text(r[2]),
        symbol=text(r[3]),
        side=Side(text(r[4])),
        type=text(r[5]),
        qty=dec(r[6]),
        trigger_price=dec(r[7]),
        status=text(r[8]),
        close_position=bool(r[9]),
        reduce_only=bool(r[10]),
        actual_order_id=text(r[11]),
        decision_id=opt_text(r[12]),
        ts=integer(r[13]),
        update_ts=integer(r[14]),
        reason=text(r[15]),
    )
