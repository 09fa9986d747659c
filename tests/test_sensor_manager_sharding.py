"""ShardMap: balanced, deterministic, and a placed symbol never moves."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sensors.sharding import ShardMap

symbols = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=6)


@given(workers=st.integers(1, 8), waves=st.lists(st.lists(symbols, max_size=12), max_size=5))
def test_balanced_and_stable(workers: int, waves: list[list[str]]) -> None:
    shards = ShardMap(workers)
    placed: dict[str, int] = {}
    for wave in waves:
        shards.assign(wave)
        for symbol, worker in placed.items():
            assert shards.worker_of(symbol) == worker  # never moves
        placed.update({s: shards.worker_of(s) for s in wave})
        loads = [len(shards.symbols_of(w)) for w in range(workers)]
        assert max(loads) - min(loads) <= 1
        assert sum(loads) == len(placed)


def test_initial_set_is_round_robin_over_sorted_symbols() -> None:
    shards = ShardMap(3)
    shards.assign(["ETHUSDT", "BTCUSDT", "XRPUSDT", "ADAUSDT", "SOLUSDT"])
    assert shards.symbols_of(0) == ["ADAUSDT", "SOLUSDT"]
    assert shards.symbols_of(1) == ["BTCUSDT", "XRPUSDT"]
    assert shards.symbols_of(2) == ["ETHUSDT"]


def test_split_groups_by_owner_keeping_order() -> None:
    shards = ShardMap(2)
    items = [("B", 1), ("A", 2), ("B", 3), ("C", 4), ("A", 5)]
    groups = shards.split(items, lambda item: item[0])
    assert groups == {0: [("A", 2), ("C", 4), ("A", 5)], 1: [("B", 1), ("B", 3)]}


def test_needs_a_worker() -> None:
    with pytest.raises(ValueError, match="at least one worker"):
        ShardMap(0)
    with pytest.raises(KeyError):
        ShardMap(1).worker_of("BTCUSDT")
