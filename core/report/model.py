"""What a session report holds: its figures, the account's own numbers and the cross-check between them.

Every Struct here is frozen and JSON-encodable with ``msgspec.json.encode`` (Decimals as exact strings);
``report.json`` is :class:`ReportDocument` encoded. Money is ``Decimal`` (exact sums of the journal); ratios
and statistics are ``float``; ``None`` means "not defined for this session" (no closed trade, no loss...).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import msgspec

from core.enums import IncomeType
from core.types import ZERO, Income
from state.journal_records import JournalHalt, JournalSession, JournalTrade

__all__ = [
    "REPORT_FORMAT",
    "AccountFacts",
    "CrossCheck",
    "CrossCheckLine",
    "Methodology",
    "ReportDocument",
    "ReportFigures",
    "ReportPaths",
    "SensorFigures",
    "SymbolFigures",
]

REPORT_FORMAT = "casino-report/1"


class AccountFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The exchange account's own view of the session, to check the journal's money against.

    The session fills this from the venue: wallet balance before the first and after the last trade, and
    (when the venue's income history is at hand) the sums of its income rows in the session's window, with
    Binance's signs: ``commission`` negative when paid, ``funding`` positive when received. A field left
    ``None`` is not checked (and the report says so).
    """

    source: str = ""  # what the account is, for people: "sandbox account", "Binance demo account"
    asset: str = "USDT"
    wallet_start: Decimal | None = None
    wallet_end: Decimal | None = None
    unrealized_end: Decimal | None = None
    realized_pnl: Decimal | None = None
    commission: Decimal | None = None
    funding: Decimal | None = None

    @classmethod
    def from_income(
        cls,
        rows: Iterable[Income],
        *,
        source: str = "",
        asset: str = "USDT",
        wallet_start: Decimal | None = None,
        wallet_end: Decimal | None = None,
        unrealized_end: Decimal | None = None,
    ) -> AccountFacts:
        """Facts from the venue's income rows (already limited to the session's window) in ``asset``."""
        sums = {IncomeType.REALIZED_PNL: ZERO, IncomeType.COMMISSION: ZERO, IncomeType.FUNDING_FEE: ZERO}
        for row in rows:
            if row.asset == asset and row.income_type in sums:
                sums[row.income_type] += row.income
        return cls(
            source=source,
            asset=asset,
            wallet_start=wallet_start,
            wallet_end=wallet_end,
            unrealized_end=unrealized_end,
            realized_pnl=sums[IncomeType.REALIZED_PNL],
            commission=sums[IncomeType.COMMISSION],
            funding=sums[IncomeType.FUNDING_FEE],
        )


class CrossCheckLine(msgspec.Struct, frozen=True, kw_only=True):
    """One journal figure beside the account's; ``ok`` is None when the account gave nothing to compare."""

    name: str
    journal: Decimal
    account: Decimal | None
    difference: Decimal | None  # journal - account
    ok: bool | None


class CrossCheck(msgspec.Struct, frozen=True, kw_only=True):
    """The journal's money against the account's: equal to the cent, or flagged."""

    tolerance: Decimal
    lines: tuple[CrossCheckLine, ...]
    ok: bool | None  # None: nothing could be checked
    message: str


class SymbolFigures(msgspec.Struct, frozen=True, kw_only=True):
    """The session's money per symbol, from its fills and funding (the rows sum to the session totals)."""

    symbol: str
    fills: int
    trades: int
    closed_trades: int
    wins: int
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    net_pnl: Decimal
    volume: Decimal


class SensorFigures(msgspec.Struct, frozen=True, kw_only=True):
    """A sensor's share of the closed trades it voted for (see :class:`Methodology`)."""

    sensor_id: str
    trades: int
    wins: int
    net_pnl: Decimal


class ReportFigures(msgspec.Struct, frozen=True, kw_only=True):
    """Every figure of a session report."""

    # money (exact: the journal's totals of the session's own fills and funding)
    net_pnl: Decimal
    realized_pnl: Decimal
    fees: Decimal  # positive = paid
    funding: Decimal  # positive = received
    volume: Decimal
    fills: int
    # trades
    trades: int
    closed_trades: int
    open_trades: int
    wins: int
    losses: int
    win_rate: float | None
    gross_profit: Decimal
    gross_loss: Decimal  # positive number
    profit_factor: float | None  # None when there is no loss
    expectancy: Decimal | None  # mean net PnL per closed trade
    average_win: Decimal | None
    average_loss: Decimal | None
    average_holding_s: float | None
    # risk-adjusted
    sharpe: float | None
    sortino: float | None
    return_period_s: int | None
    returns_used: int
    equity_start: Decimal | None
    equity_end: Decimal | None
    equity_source: str  # "journal equity samples" | "fills and funding" | "none"
    max_drawdown: Decimal
    max_drawdown_pct: float | None
    # exposure
    duration_s: float
    time_in_market: float | None  # share of the session with at least one open trade
    average_notional: Decimal  # time-weighted over the session
    average_trade_notional: Decimal | None
    # execution
    slippage: Decimal  # quote, positive = worse than the decision price
    slippage_bps: float | None  # notional-weighted
    # decisions
    decisions: int
    decisions_accepted: int
    rejections: dict[str, int]
    exit_reasons: dict[str, int]
    per_symbol: tuple[SymbolFigures, ...]
    per_sensor: tuple[SensorFigures, ...]


class Methodology(msgspec.Struct, frozen=True, kw_only=True):
    """How the statistics were computed, stated in the report beside them."""

    sharpe: str
    drawdown: str
    exposure: str
    attribution: str
    win_rate: str


class ReportDocument(msgspec.Struct, frozen=True, kw_only=True):
    """``report.json``: deterministic for a given journal and account facts (no generation time in it)."""

    format: str
    session: JournalSession
    journal: str
    figures: ReportFigures
    account: AccountFacts
    cross_check: CrossCheck
    methodology: Methodology
    plots: dict[str, str]  # name -> file name beside report.json
    halts: tuple[JournalHalt, ...]
    trades: tuple[JournalTrade, ...]


class ReportPaths(msgspec.Struct, frozen=True, kw_only=True):
    """Where :func:`core.report.write_report` put the report."""

    folder: Path
    html: Path
    markdown: Path
    json: Path
    plots: dict[str, Path]
