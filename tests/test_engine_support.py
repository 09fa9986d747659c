"""Builders shared by the exchange-core tests (no tests here)."""

from __future__ import annotations

from decimal import Decimal

from core.clock import ManualClock
from core.types import BookTicker, MarkPrice, OrderType, Side, TimeInForce, Trade
from exchanges.sandbox.engine.exchange import ExchangeCore
from exchanges.sandbox.engine.filters import default_instruments
from exchanges.sandbox.engine.requests import NewOrder
from exchanges.sandbox.profile import BookProfile

D = Decimal
T0 = 1_750_000_000_000
KEY = "k1"
BTC = "BTCUSDT"

# A simple, predictable book: touch 2 BTC, then 1 BTC per level at 1..4 ticks.
PROFILE = BookProfile(
    symbol=BTC, spread_ticks=1, levels=((0, D("2")), (1, D("1")), (2, D("1")), (3, D("1")), (4, D("1")))
)


class Venue:
    """An ExchangeCore with a manual clock and helpers to move the market."""

    def __init__(self, balance: str = "100000", seed: int = 0) -> None:
        self.clock = ManualClock(T0)
        self.core = ExchangeCore(default_instruments(), self.clock, profiles={BTC: PROFILE}, seed=seed)
        self.core.add_account(KEY, "secret", D(balance))
        self._trade_id = 0

    def quote(self, bid: str, ask: str, symbol: str = BTC, qty: str = "2") -> None:
        self.core.on_book_ticker(
            BookTicker(
                symbol=symbol,
                bid_price=D(bid),
                bid_qty=D(qty),
                ask_price=D(ask),
                ask_qty=D(qty),
                ts=self.clock.now_ms(),
            )
        )

    def trade(self, price: str, qty: str = "1", buyer_maker: bool = False, symbol: str = BTC) -> None:
        self._trade_id += 1
        self.core.on_trade(
            Trade(
                symbol=symbol,
                trade_id=self._trade_id,
                price=D(price),
                qty=D(qty),
                is_buyer_maker=buyer_maker,
                ts=self.clock.now_ms(),
            )
        )

    def mark(self, price: str, symbol: str = BTC) -> None:
        self.core.on_mark_price(
            MarkPrice(
                symbol=symbol,
                mark_price=D(price),
                index_price=D(price),
                funding_rate=D("0.0001"),
                next_funding_time=self.clock.now_ms() + 3_600_000,
                ts=self.clock.now_ms(),
            )
        )

    def market(self, at: str = "100000") -> None:
        """Touch at ``at`` / ``at`` + 0.1, a trade and a mark there."""
        ask = str(D(at) + D("0.1"))
        self.quote(at, ask)
        self.trade(at)
        self.mark(at)

    def step(self, ms: int = 1000) -> None:
        self.core.advance(self.clock.advance(ms))

    def wallet(self) -> Decimal:
        return self.core.balances(KEY)[0].wallet_balance

    def ledger_sum(self) -> Decimal:
        return sum((r.income for r in self.core.income(KEY, limit=10**9)), D(0))


def mkt(side: Side, qty: str, **kw: object) -> NewOrder:
    return NewOrder(symbol=BTC, side=side, type=OrderType.MARKET, quantity=D(qty), **kw)  # type: ignore[arg-type]


def lmt(side: Side, qty: str, price: str, tif: TimeInForce = TimeInForce.GTC, **kw: object) -> NewOrder:
    return NewOrder(
        symbol=BTC,
        side=side,
        type=OrderType.LIMIT,
        quantity=D(qty),
        price=D(price),
        time_in_force=tif,
        **kw,  # type: ignore[arg-type]
    )
