"""One account of the sandbox: wallet, one-way positions, orders, fills and the income ledger.

Money is conserved exactly: the wallet only changes through :meth:`AccountState.credit`, which records an
``Income`` row for the same amount, so the ledger always sums to ``wallet - initial``. Every amount is
rounded to 8 decimals before it is booked (as Binance books commissions and PnL), which keeps Decimal
additions exact.
"""

from __future__ import annotations

from collections import deque
from decimal import ROUND_HALF_UP, Decimal

from core.types import ZERO, Fill, Income, IncomeType, MarginType, Side
from exchanges.sandbox.engine.orders import AlgoState, OrderState

__all__ = ["MONEY", "AccountState", "PositionState", "money"]

MONEY = Decimal("0.00000001")
_ENTRY_QUANT = Decimal("0.0000000001")

# History bounds (documented in docs/SANDBOX.md terms: "last N per account").
CLOSED_ORDER_HISTORY = 10_000
FILL_HISTORY = 20_000
INCOME_HISTORY = 100_000
CLOSED_ALGO_HISTORY = 5_000


def money(x: Decimal) -> Decimal:
    """Round an amount of USDT the way the ledger books it (8 decimals, half up; zero as plain ``0``)."""
    q = x.quantize(MONEY, rounding=ROUND_HALF_UP)
    return q if q != 0 else ZERO


class PositionState:
    """A one-way position: signed ``qty``, average ``entry_price``, and its margin settings."""

    __slots__ = (
        "entry_price",
        "isolated_wallet",
        "leverage",
        "margin_type",
        "qty",
        "realized",
        "symbol",
        "update_time",
    )

    def __init__(self, symbol: str, leverage: int) -> None:
        self.symbol = symbol
        self.qty = ZERO
        self.entry_price = ZERO
        self.leverage = leverage
        self.margin_type = MarginType.CROSSED
        self.isolated_wallet = ZERO
        self.update_time = 0
        # Realized PnL booked on this symbol (before fees), kept across flat periods: ACCOUNT_UPDATE ``cr``.
        self.realized = ZERO

    def apply_fill(self, side: Side, qty: Decimal, price: Decimal) -> Decimal:
        """Apply a fill; return the realized PnL (8 decimals) of the part that reduced the position."""
        signed = qty * side.sign
        old = self.qty
        if old == 0 or (old > 0) == (signed > 0):
            new = old + signed
            self.entry_price = ((abs(old) * self.entry_price + qty * price) / abs(new)).quantize(_ENTRY_QUANT)
            if self.margin_type is MarginType.ISOLATED:
                self.isolated_wallet += money(qty * price / self.leverage)
            self.qty = new
            return ZERO
        closed = min(qty, abs(old))
        direction = 1 if old > 0 else -1
        pnl = money((price - self.entry_price) * closed * direction)
        if self.margin_type is MarginType.ISOLATED:
            self.isolated_wallet -= money(self.isolated_wallet * closed / abs(old))
        self.qty = old + signed
        if self.qty == 0:
            self.entry_price = ZERO
            self.isolated_wallet = ZERO
        elif (self.qty > 0) != (old > 0):
            # Flipped: the remainder opens a new position at the fill price.
            self.entry_price = price
            self.isolated_wallet = (
                money(abs(self.qty) * price / self.leverage)
                if self.margin_type is MarginType.ISOLATED
                else ZERO
            )
        return pnl

    def closable_by(self, side: Side) -> Decimal:
        """How much of the position an order on ``side`` would close (0 if it would add to it)."""
        if self.qty == 0 or (self.qty > 0) == (side is Side.BUY):
            return ZERO
        return abs(self.qty)


class AccountState:
    """Everything the core keeps about one API key."""

    def __init__(self, api_key: str, secret: str, balance: Decimal, default_leverage: int) -> None:
        self.api_key = api_key
        self.secret = secret
        self.initial_balance = balance
        self.wallet = balance
        self.default_leverage = default_leverage
        self.positions: dict[str, PositionState] = {}
        # Open orders per symbol, in arrival order; closed orders stay findable in ``orders`` until evicted.
        self.open_orders: dict[str, dict[int, OrderState]] = {}
        self.orders: dict[tuple[str, int], OrderState] = {}
        self.client_index: dict[tuple[str, str], int] = {}
        self.closed: deque[tuple[str, int]] = deque()
        self.fills: dict[str, deque[Fill]] = {}
        self.income: deque[Income] = deque(maxlen=INCOME_HISTORY)
        self.income_total = ZERO
        self.algos: dict[int, AlgoState] = {}
        self.open_algos: dict[str, dict[int, AlgoState]] = {}
        self.algo_client_index: dict[str, int] = {}
        self.closed_algos: deque[int] = deque()

    def position(self, symbol: str) -> PositionState:
        pos = self.positions.get(symbol)
        if pos is None:
            pos = self.positions[symbol] = PositionState(symbol, self.default_leverage)
        return pos

    def credit(
        self,
        amount: Decimal,
        income_type: IncomeType,
        symbol: str,
        *,
        ts: int,
        tran_id: int,
        trade_id: str = "",
    ) -> Income | None:
        """Book ``amount`` (already rounded to 8 decimals) on the wallet with its income row."""
        if amount == 0:
            return None
        if amount != money(amount):
            raise ValueError(f"unrounded ledger amount {amount}")
        self.wallet += amount
        self.income_total += amount
        row = Income(
            symbol=symbol,
            income_type=income_type,
            income=amount,
            asset="USDT",
            ts=ts,
            tran_id=tran_id,
            trade_id=trade_id,
        )
        self.income.append(row)
        return row

    # -- orders ----------------------------------------------------------------------------------------

    def add_order(self, order: OrderState) -> None:
        self.open_orders.setdefault(order.symbol, {})[order.order_id] = order
        self.orders[(order.symbol, order.order_id)] = order
        self.client_index[(order.symbol, order.client_order_id)] = order.order_id

    def record_closed(self, order: OrderState) -> None:
        """Keep a finished order findable (never opened, or just closed), evicting the oldest beyond N."""
        key = (order.symbol, order.order_id)
        book = self.open_orders.get(order.symbol)
        if book is not None:
            book.pop(order.order_id, None)
        self.orders[key] = order
        self.client_index[(order.symbol, order.client_order_id)] = order.order_id
        self.closed.append(key)
        while len(self.closed) > CLOSED_ORDER_HISTORY:
            old = self.orders.pop(self.closed.popleft(), None)
            if old is not None and self.client_index.get((old.symbol, old.client_order_id)) == old.order_id:
                del self.client_index[(old.symbol, old.client_order_id)]

    def open_client_id_taken(self, symbol: str, client_id: str) -> bool:
        oid = self.client_index.get((symbol, client_id))
        if oid is None:
            return False
        order = self.orders.get((symbol, oid))
        return order is not None and order.status.is_open

    def add_fill(self, fill: Fill) -> None:
        dq = self.fills.get(fill.symbol)
        if dq is None:
            dq = self.fills[fill.symbol] = deque(maxlen=FILL_HISTORY)
        dq.append(fill)

    # -- algo orders -----------------------------------------------------------------------------------

    def add_algo(self, algo: AlgoState) -> None:
        a = algo.order
        self.algos[a.algo_id] = algo
        self.open_algos.setdefault(a.symbol, {})[a.algo_id] = algo
        self.algo_client_index[a.client_algo_id] = a.algo_id

    def close_algo(self, algo: AlgoState) -> None:
        a = algo.order
        book = self.open_algos.get(a.symbol)
        if book is not None:
            book.pop(a.algo_id, None)
        self.closed_algos.append(a.algo_id)
        while len(self.closed_algos) > CLOSED_ALGO_HISTORY:
            old = self.algos.pop(self.closed_algos.popleft(), None)
            if old is not None and self.algo_client_index.get(old.order.client_algo_id) == old.order.algo_id:
                del self.algo_client_index[old.order.client_algo_id]

    def open_algo_client_id_taken(self, client_id: str) -> bool:
        aid = self.algo_client_index.get(client_id)
        return aid is not None and aid in self.algos and self.algos[aid].is_open
