"""The protection check: every open position must have a working stop (a pure assessment).

Run every ``protect_interval_s`` and on demand. It reads the state snapshot (positions and brackets: the
state layer is their only holder) and the :class:`~croupier.oco.OcoBook`'s view of our algo orders, and
lists what must be done; the Croupier does it. Symbols with an operation in progress (an entry being placed,
a re-protect under way) are skipped: that operation is bounded and ends in a protected or flat position.

- open position, stop NEW or TRIGGERING within the bound → nothing;
- open position, stop TRIGGERING/TRIGGERED past ``triggering_timeout_s`` → ``close`` (the venue did not
  close it; the stop's level is passed, so a new stop would be refused with -2021 anyway);
- open position, no stop, or it ended (REJECTED, EXPIRED, CANCELED) → ``reprotect``;
- flat position under a bracket that thinks it is live, once state has shown the position open (or the
  bracket is older than ``stale_ms``) → ``settle`` (cancel its legs, close it);
- flat position under a bracket still waiting for its entry long after the entry was due → ``settle``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Literal

import msgspec

from croupier.model import StopHealth
from croupier.oco import OcoBook
from state.model import BracketStatus, StateSnapshot

__all__ = ["ProtectTask", "assess"]

_WAITING = (BracketStatus.PENDING_ENTRY, BracketStatus.PROTECTING)


class ProtectTask(msgspec.Struct, frozen=True, kw_only=True):
    """One thing the protection check found to do."""

    symbol: str
    kind: Literal["settle", "reprotect", "close"]
    reason: str


def assess(
    snapshot: StateSnapshot, oco: OcoBook, now_ms: int, *, busy: Collection[str], stale_ms: int
) -> list[ProtectTask]:
    """What to do for every symbol not in ``busy`` (see the module docstring); ``stale_ms`` is how long a
    bracket may wait for its entry before a flat position means the entry never filled."""
    tasks: list[ProtectTask] = []
    for symbol, bracket in sorted(snapshot.brackets.items()):
        if symbol in busy or snapshot.position(symbol).qty != 0:
            continue
        stale = now_ms - bracket.updated_ts > stale_ms
        if bracket.status in _WAITING:
            if stale:
                tasks.append(ProtectTask(symbol=symbol, kind="settle", reason="entry never filled"))
        elif oco.seen_open(bracket) or stale:  # else the entry fill has not reached state yet
            tasks.append(ProtectTask(symbol=symbol, kind="settle", reason="position is flat"))
    for symbol, pos in sorted(snapshot.positions.items()):
        if pos.qty == 0 or symbol in busy:
            continue
        held = snapshot.brackets.get(symbol)
        health = oco.stop_health(held.sl_client_id, now_ms) if held is not None else StopHealth.MISSING
        if health is StopHealth.STUCK:
            tasks.append(ProtectTask(symbol=symbol, kind="close", reason="stop stuck in TRIGGERING"))
        elif health is StopHealth.MISSING:
            why = "no bracket" if held is None else "no working stop"
            tasks.append(ProtectTask(symbol=symbol, kind="reprotect", reason=why))
    return tasks
