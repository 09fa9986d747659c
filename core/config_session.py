"""Settings sections of a trading session (``main.py run``) and of its Prometheus endpoint.

Composed into :class:`core.config.Settings` as ``session`` and ``metrics``. Intervals are wall-clock seconds
(they pace the session's own housekeeping, whatever speed the exchange clock runs at).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

__all__ = ["PAPER_SPEED", "MetricsSettings", "SessionSettings"]

# Default clock rate of the embedded sandbox in a paper session. Measured on the real BTCUSDT/ETHUSDT
# klines with the player's default thresholds (docs/SESSION.md, "Paper speed"): the wait from a random
# moment to the next decision is 2.25 h of exchange time at the median and 8.5 h at the 90th percentile,
# so 600x (8.5 h in 51 s) shows a newcomer trades within two minutes; at 60x it would take up to 8 minutes.
PAPER_SPEED = 600.0

WallSeconds = Annotated[float, Meta(gt=0, le=86_400)]


class SessionSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A trading session: how it ends, where its reports go, and the pace of its housekeeping."""

    on_exit: Annotated[
        Literal["leave", "sweep"],
        Meta(description="open positions at exit: leave them with their stops working, or sweep (close all)"),
    ] = "leave"
    report_dir: Annotated[
        str, Meta(min_length=1, description="folder of the session reports (<report_dir>/<session id>/)")
    ] = "reports"
    duration_s: Annotated[
        Annotated[float, Meta(gt=0)] | None,
        Meta(description="end the session after this many wall-clock seconds (empty = until stopped)"),
    ] = None
    status_interval_s: Annotated[WallSeconds, Meta(description="seconds between live status lines")] = 5.0
    live_confirm: Annotated[
        bool, Meta(description="confirm trading real money on venue 'live' (also --confirm-live)")
    ] = False
    paper_speed: Annotated[
        float,
        Meta(gt=0, le=10**4, description="embedded sandbox clock rate in a paper session (× real time)"),
    ] = PAPER_SPEED
    shutdown_deadline_s: Annotated[
        WallSeconds, Meta(description="seconds the shutdown sequence may take before state is saved at once")
    ] = 30.0
    reconcile_interval_s: Annotated[
        WallSeconds, Meta(description="seconds between periodic reconciliations with the exchange")
    ] = 60.0
    equity_interval_s: Annotated[
        WallSeconds, Meta(description="seconds between account samples (equity curve, drawdown, halts)")
    ] = 5.0
    weights_interval_s: Annotated[
        WallSeconds, Meta(description="seconds between saves of the player's learned weights into state")
    ] = 60.0
    decisions_kept: Annotated[
        int, Meta(ge=1, le=100_000, description="latest decisions kept in memory for the live report")
    ] = 200


class MetricsSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The Prometheus endpoint of a session (``/metrics``)."""

    host: Annotated[str, Meta(min_length=1, description="interface the metrics endpoint binds")] = "127.0.0.1"
    port: Annotated[int, Meta(ge=0, le=65535, description="metrics TCP port (0 = no endpoint)")] = 9464
