"""Identifier sources of the exchange core: order, trade, algo and ledger ids, and generated client ids.

Ids are deterministic for a given seed: the same commands produce the same ids, so runs replay exactly.
"""

from __future__ import annotations

import random
import re
import string

__all__ = ["CLIENT_ID_PATTERN", "IdSource"]

# Binance's documented pattern for newClientOrderId / clientAlgoId.
CLIENT_ID_PATTERN = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")

_ALPHABET = string.ascii_letters + string.digits
_ORDER_ID_BASE = 700_000_000_000  # same order of magnitude as current BTCUSDT order ids
_TRADE_ID_BASE = 6_000_000_000
_ALGO_ID_BASE = 4_000_000_000_000
_TRAN_ID_BASE = 9_000_000_000


class IdSource:
    """Monotonic counters (order and trade ids per symbol, algo and transaction ids per venue)."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._order: dict[str, int] = {}
        self._trade: dict[str, int] = {}
        self._algo = _ALGO_ID_BASE
        self._tran = _TRAN_ID_BASE

    def order_id(self, symbol: str) -> int:
        nxt = self._order.get(symbol, _ORDER_ID_BASE) + 1
        self._order[symbol] = nxt
        return nxt

    def trade_id(self, symbol: str) -> int:
        nxt = self._trade.get(symbol, _TRADE_ID_BASE) + 1
        self._trade[symbol] = nxt
        return nxt

    def algo_id(self) -> int:
        self._algo += 1
        return self._algo

    def tran_id(self) -> int:
        self._tran += 1
        return self._tran

    def client_id(self) -> str:
        """A random 22-character alphanumeric id, as Binance generates when none is sent."""
        return "".join(self._rng.choices(_ALPHABET, k=22))
