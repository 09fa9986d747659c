"""Which worker process owns which symbol.

A symbol's every timeframe lives in one worker (its ring buffers are there). Symbols are placed when first
seen, in sorted order, each on the least-loaded worker (ties → lowest index): for the set known at start
that is round-robin over the sorted list, so the same configuration always gives the same placement.
A placed symbol never moves while the manager runs; a restarted worker takes back exactly its symbols,
and rebalancing happens only when the manager itself restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

__all__ = ["ShardMap"]

T = TypeVar("T")


class ShardMap:
    """Stable symbol → worker index placement over ``workers`` workers."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"need at least one worker, got {workers}")
        self._workers = workers
        self._owner: dict[str, int] = {}
        self._load = [0] * workers

    @property
    def workers(self) -> int:
        """Number of workers symbols are spread over."""
        return self._workers

    def assign(self, symbols: Iterable[str]) -> None:
        """Place every symbol not placed yet; already placed symbols keep their worker."""
        for symbol in sorted(set(symbols) - self._owner.keys()):
            worker = min(range(self._workers), key=lambda w: (self._load[w], w))
            self._owner[symbol] = worker
            self._load[worker] += 1

    def worker_of(self, symbol: str) -> int:
        """The worker owning ``symbol`` (``KeyError`` if it was never assigned)."""
        return self._owner[symbol]

    def symbols_of(self, worker: int) -> list[str]:
        """The symbols a worker owns, sorted."""
        return sorted(s for s, w in self._owner.items() if w == worker)

    def split(self, items: Sequence[T], symbol_of: Callable[[T], str]) -> dict[int, list[T]]:
        """``items`` grouped by owning worker (placing new symbols first), order kept within a group."""
        self.assign(symbol_of(item) for item in items)
        groups: dict[int, list[T]] = {}
        for item in items:
            groups.setdefault(self._owner[symbol_of(item)], []).append(item)
        return groups
