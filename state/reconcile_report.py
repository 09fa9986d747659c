"""What one reconciliation round found and did: :class:`ReconcileReport`, and its accumulator."""

from __future__ import annotations

import time

import msgspec

from state.reconcile_plan import Difference, DiffKind

__all__ = ["ReconcileReport", "Round"]

# Differences that leave work for a later round: nothing was decided about them yet.
_LATER = frozenset({DiffKind.POSITION_MOVING, DiffKind.IN_FLIGHT, DiffKind.PROTECTION_PENDING})


class ReconcileReport(msgspec.Struct, frozen=True, kw_only=True):
    """What one round found and did. ``errors`` lists failed calls (the round may be incomplete)."""

    reason: str
    started_ts: int
    finished_ts: int
    seconds: float
    differences: tuple[Difference, ...] = ()
    fills_seen: int = 0
    fills_applied: int = 0
    funding_seen: int = 0
    funding_applied: int = 0
    adopted: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    cancelled_orders: tuple[str, ...] = ()
    cancelled_algos: tuple[str, ...] = ()
    closed_brackets: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """The round completed without a failed call."""
        return not self.errors

    @property
    def clean(self) -> bool:
        """Nothing but informational differences, and no error: state and exchange agreed."""
        return self.ok and all(d.level == "info" for d in self.differences)

    @property
    def settled(self) -> bool:
        """Nothing was left for a later round (no moving position, no work in flight)."""
        return self.ok and not any(d.kind in _LATER for d in self.differences)


class Round:
    """Mutable accumulator of one round's outcome."""

    def __init__(self, reason: str, started_ts: int) -> None:
        self.reason, self.started_ts, self.t0 = reason, started_ts, time.monotonic()
        self.diffs: list[Difference] = []
        self.fills_seen = self.fills_applied = 0
        self.funding_seen = self.funding_applied = 0
        self.adopted: list[str] = []
        self.protected: list[str] = []
        self.cancelled_orders: list[str] = []
        self.cancelled_algos: list[str] = []
        self.closed: list[str] = []
        self.errors: list[str] = []

    def report(self, finished_ts: int) -> ReconcileReport:
        return ReconcileReport(
            reason=self.reason,
            started_ts=self.started_ts,
            finished_ts=finished_ts,
            seconds=time.monotonic() - self.t0,
            differences=tuple(self.diffs),
            fills_seen=self.fills_seen,
            fills_applied=self.fills_applied,
            funding_seen=self.funding_seen,
            funding_applied=self.funding_applied,
            adopted=tuple(self.adopted),
            protected=tuple(self.protected),
            cancelled_orders=tuple(self.cancelled_orders),
            cancelled_algos=tuple(self.cancelled_algos),
            closed_brackets=tuple(self.closed),
            errors=tuple(self.errors),
        )
