"""What the RiskEngine is told about the account, the halts it raises, and the statistics behind Kelly.

``RiskInputs`` is a plain value the session builds from the state snapshot (positions, brackets, halts, peak
equity) and the account (equity, available balance) before each decision; the RiskEngine never keeps its own
copy of any of them, so a restart loses nothing: halts (``state.model.Halt``) come back through
``RiskInputs.halts``.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

import msgspec

from core.config_trading import RiskSettings
from state.model import Halt

__all__ = [
    "DAY_MS",
    "PositionExposure",
    "RiskInputs",
    "TradeStats",
    "daily_loss_breach",
    "drawdown_breach",
    "next_utc_midnight",
]

DAY_MS = 86_400_000
ZERO = Decimal(0)


class PositionExposure(msgspec.Struct, frozen=True, kw_only=True):
    """An open position as risk sees it: signed quantity (long > 0) and absolute notional in USDT."""

    qty: Decimal
    notional: Decimal


class RiskInputs(msgspec.Struct, frozen=True, kw_only=True):
    """The account at the moment of a decision (from the state snapshot and the exchange balance)."""

    equity: Decimal  # wallet balance + unrealized PnL, USDT
    available: Decimal  # balance free for new margin, USDT
    positions: dict[str, PositionExposure] = msgspec.field(default_factory=dict)
    open_brackets: int = 0  # brackets not yet closed, including entries still pending
    realized_pnl_today: Decimal = ZERO  # since 00:00 UTC of the exchange clock, after fees and funding
    peak_equity: Decimal = ZERO  # highest equity observed (state keeps it)
    halts: tuple[Halt, ...] = ()
    orders_last_minute: int = 0  # orders we sent in the last 60 s of exchange time

    def open_positions(self) -> int:
        """Positions that are not flat, or brackets still open, whichever is more (a pending entry counts)."""
        return max(sum(1 for p in self.positions.values() if p.qty != 0), self.open_brackets)

    def exposure(self) -> Decimal:
        """Σ |notional| of the open positions."""
        return sum((abs(p.notional) for p in self.positions.values() if p.qty != 0), ZERO)


def next_utc_midnight(now_ms: int) -> int:
    """Start of the next UTC day after ``now_ms`` (exchange time), when a daily-loss halt lifts."""
    return (now_ms // DAY_MS + 1) * DAY_MS


def daily_loss_breach(settings: RiskSettings, account: RiskInputs) -> str | None:
    """A human explanation if today's realized loss reached the limit, else ``None``.

    The limit is a share of the equity the day started with, taken as ``equity - realized_pnl_today``.
    """
    loss = -account.realized_pnl_today
    if settings.daily_loss_limit <= 0 or loss <= 0:
        return None
    base = account.equity + loss
    if base > 0 and loss < settings.daily_loss_limit * base:
        return None
    return (
        f"realized loss today {loss:f} USDT reached {settings.daily_loss_limit:%} of the day's "
        f"starting equity {base:f} USDT"
    )


def drawdown_breach(settings: RiskSettings, account: RiskInputs) -> str | None:
    """A human explanation if equity fell ``max_drawdown`` or more below its peak, else ``None``."""
    peak = max(account.peak_equity, account.equity)
    if settings.max_drawdown <= 0 or peak <= 0:
        return None
    drawdown = (peak - account.equity) / peak
    if drawdown < settings.max_drawdown:
        return None
    return (
        f"equity {account.equity:f} USDT is {drawdown:.2%} below its peak {peak:f} USDT "
        f"(limit {settings.max_drawdown:%})"
    )


class TradeStats:
    """Closed trades as R-multiples (PnL over the amount risked), for the fractional Kelly bound."""

    def __init__(self, *, window: int, min_trades: int) -> None:
        if window < 1 or min_trades < 1:
            raise ValueError(f"window and min_trades must be at least 1, got {window}, {min_trades}")
        self._r: deque[Decimal] = deque(maxlen=window)
        self._min = min_trades

    def record(self, pnl: Decimal, risk: Decimal) -> None:
        """A closed trade: its realized PnL and what it risked (stop distance × qty), both in USDT."""
        if not (risk.is_finite() and risk > 0):
            raise ValueError(f"a trade's risk must be a positive amount, got {risk}")
        if not pnl.is_finite():
            raise ValueError(f"a trade's PnL must be a finite amount, got {pnl}")
        self._r.append(pnl / risk)

    def __len__(self) -> int:
        return len(self._r)

    def kelly(self) -> Decimal | None:
        """Full-Kelly share of equity to risk, ``W - (1 - W) / R``; ``None`` before ``min_trades``.

        ``W`` is the win rate, ``R`` the payoff ratio (mean winning R-multiple over mean losing one). With no
        losing trade the bet is ``W``; with no winning trade it is 0. The result may be negative (no edge).
        """
        n = len(self._r)
        if n < self._min:
            return None
        wins = [r for r in self._r if r > 0]
        losses = [-r for r in self._r if r <= 0]
        win_rate = Decimal(len(wins)) / n
        if not wins:
            return ZERO
        mean_loss = sum(losses, ZERO) / len(losses) if losses else ZERO
        if mean_loss == 0:
            return win_rate
        payoff = (sum(wins, ZERO) / len(wins)) / mean_loss
        return win_rate - (1 - win_rate) / payoff
