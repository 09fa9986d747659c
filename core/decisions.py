"""What the AdaptivePlayer decides and what the RiskEngine answers: the contract between core and croupier."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.enums import Side

__all__ = ["Decision", "Reason", "RiskVerdict"]


class Reason(msgspec.Struct, frozen=True, kw_only=True):
    """One sensor's part in a decision: its signal and the weight the player gave it."""

    sensor_id: str
    timeframe: str
    direction: int
    strength: float
    weight: float


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """A consensus to open a position, with its bracket distances and the reasons behind it.

    ``decision_id`` is deterministic (symbol, candle close time, side), so the client order ids derived
    from it are too: a decision replayed after a crash maps to the same orders, never to new ones.
    """

    decision_id: str
    symbol: str
    side: Side
    conviction: float  # weighted consensus in [0, 1]
    reference_price: Decimal  # close of the candle the decision was made on
    stop_distance: Decimal  # price distance from entry to the stop-loss (> 0)
    take_profit_distance: Decimal  # price distance from entry to the take-profit (> 0)
    ts: int  # exchange time of the decision (the candle's close time)
    timeframe: str
    reasons: tuple[Reason, ...] = ()
    atr: Decimal = Decimal(0)


class RiskVerdict(msgspec.Struct, frozen=True, kw_only=True):
    """The RiskEngine's answer: a sized order, or a refusal with its reason (counted and journaled)."""

    decision_id: str
    accepted: bool
    qty: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    leverage: int = 0
    reason: str = ""  # machine-readable rejection reason, e.g. "max_positions", "daily_loss_halt"
    detail: str = ""  # human-readable explanation for the journal and the report
