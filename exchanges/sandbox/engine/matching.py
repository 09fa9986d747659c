"""Resting limit orders of one symbol, matched against the public tape.

Queue rule (documented for users of the sandbox): we assume our order is at the front of its price level.
A resting BUY at ``p`` fills when the tape prints below ``p`` (the market traded through it), or prints at
``p`` with a seller as taker (``is_buyer_maker``: the sell hit the bids our order sits on). SELLs mirror
this. One tape trade fills at most its own quantity across all our orders, best price first, then time.
Fills happen at the order's own price (maker).
"""

from __future__ import annotations

import bisect
from decimal import Decimal

from core.types import Side, Trade

__all__ = ["OrderKey", "RestingBook"]

OrderKey = tuple[str, int]
"""(account, order_id)."""


class _Side:
    """Price levels of one side: sorted prices and a FIFO (insertion-ordered dict) per level."""

    __slots__ = ("levels", "prices")

    def __init__(self) -> None:
        self.prices: list[Decimal] = []  # ascending
        self.levels: dict[Decimal, dict[OrderKey, Decimal]] = {}

    def add(self, price: Decimal, key: OrderKey, qty: Decimal) -> None:
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = {}
            bisect.insort(self.prices, price)
        level[key] = qty

    def remove(self, price: Decimal, key: OrderKey) -> None:
        level = self.levels.get(price)
        if level is None or key not in level:
            return
        del level[key]
        if not level:
            del self.levels[price]
            i = bisect.bisect_left(self.prices, price)
            del self.prices[i]


class RestingBook:
    """Our resting orders on one symbol; ``match`` returns the maker fills a tape trade causes."""

    def __init__(self) -> None:
        self._bids = _Side()
        self._asks = _Side()

    def add(self, side: Side, price: Decimal, key: OrderKey, remaining: Decimal) -> None:
        (self._bids if side is Side.BUY else self._asks).add(price, key, remaining)

    def remove(self, side: Side, price: Decimal, key: OrderKey) -> None:
        (self._bids if side is Side.BUY else self._asks).remove(price, key)

    def reduce(self, side: Side, price: Decimal, key: OrderKey, remaining: Decimal) -> None:
        """Record the new remaining quantity of a partly filled order (removed at zero)."""
        book = self._bids if side is Side.BUY else self._asks
        if remaining <= 0:
            book.remove(price, key)
        elif price in book.levels and key in book.levels[price]:
            book.levels[price][key] = remaining

    def __len__(self) -> int:
        return sum(len(v) for v in self._bids.levels.values()) + sum(
            len(v) for v in self._asks.levels.values()
        )

    def match(self, trade: Trade) -> list[tuple[OrderKey, Side, Decimal, Decimal]]:
        """Maker fills ``(key, side, price, qty)`` caused by ``trade``, in priority order (not applied)."""
        out: list[tuple[OrderKey, Side, Decimal, Decimal]] = []
        left = trade.qty
        p = trade.price
        # Bids at or above the print: best (highest) first.
        bids = self._bids
        i = len(bids.prices) - 1
        while left > 0 and i >= 0:
            price = bids.prices[i]
            if price < p or (price == p and not trade.is_buyer_maker):
                break
            for key, qty in bids.levels[price].items():
                take = min(qty, left)
                out.append((key, Side.BUY, price, take))
                left -= take
                if left <= 0:
                    break
            i -= 1
        left = trade.qty
        asks = self._asks
        j = 0
        while left > 0 and j < len(asks.prices):
            price = asks.prices[j]
            if price > p or (price == p and trade.is_buyer_maker):
                break
            for key, qty in asks.levels[price].items():
                take = min(qty, left)
                out.append((key, Side.SELL, price, take))
                left -= take
                if left <= 0:
                    break
            j += 1
        return out
