"""Settings section of the Croupier: protection cadence and bounds, the dead-man switch, the emergency sweep.

Composed into :class:`core.config.Settings` as ``croupier``. Every duration is measured on the session's
clock (the exchange's time: a paper session's sandbox clock may run many times faster than the wall), because
the venue counts the dead-man countdown and stamps algo-order trigger times in that time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from core.config_sources import field_error

__all__ = ["CroupierSettings"]

Seconds = Annotated[float, Meta(gt=0, le=86_400)]


class CroupierSettings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Bracketed orders: how positions are protected, checked, and swept."""

    client_id_prefix: Annotated[
        str,
        Meta(
            pattern=r"^[A-Za-z0-9]{1,6}$", description="prefix of our client order ids (1-6 letters/digits)"
        ),
    ] = "cas"
    tp_working_type: Annotated[
        Literal["CONTRACT_PRICE", "MARK_PRICE"],
        Meta(description="price the take-profit triggers on (the stop always uses MARK_PRICE)"),
    ] = "CONTRACT_PRICE"
    entry_timeout_s: Annotated[
        Seconds,
        Meta(description="seconds to wait for the entry's fill on the user stream before asking REST"),
    ] = 10.0
    protect_interval_s: Annotated[Seconds, Meta(description="seconds between protection checks")] = 2.0
    triggering_timeout_s: Annotated[
        Seconds,
        Meta(description="seconds a stop may stay TRIGGERING before the position is closed at market"),
    ] = 5.0
    stop_adjust_retries: Annotated[
        int,
        Meta(
            ge=0, le=5, description="new stops with an adjusted trigger after -2021 before closing at market"
        ),
    ] = 1
    fallback_stop_pct: Annotated[
        Decimal,
        Meta(description="stop distance (share of entry) for a position that has no bracket, in (0, 1)"),
    ] = Decimal("0.02")
    deadman_enabled: Annotated[bool, Meta(description="arm countdownCancelAll while regular orders rest")] = (
        True
    )
    deadman_interval_s: Annotated[Seconds, Meta(description="seconds between dead-man switch refreshes")] = (
        15.0
    )
    deadman_countdown_s: Annotated[
        Seconds, Meta(description="countdownCancelAll window, seconds (well above the refresh interval)")
    ] = 60.0
    sweep_concurrency: Annotated[
        int, Meta(ge=1, le=50, description="positions closed at once by the emergency sweep")
    ] = 5
    sweep_attempts: Annotated[
        int, Meta(ge=1, le=20, description="cancel/close/verify rounds before the sweep gives up")
    ] = 5

    def __post_init__(self) -> None:
        if self.deadman_countdown_s <= self.deadman_interval_s:
            raise field_error("deadman_countdown_s", "must exceed deadman_interval_s")
        pct = self.fallback_stop_pct
        if not (pct.is_finite() and 0 < pct < 1):
            raise field_error("fallback_stop_pct", "must be a share in (0, 1)")
