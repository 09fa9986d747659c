"""The user-data stream: engine events to ORDER_TRADE_UPDATE (and TRADE_LITE for fills) / ACCOUNT_UPDATE /
ALGO_UPDATE / ACCOUNT_CONFIG_UPDATE frames for the connections listening on the account's listenKey, with
the user-data faults, and listenKeyExpired.
"""

from __future__ import annotations

from collections.abc import Sequence

from exchanges.sandbox.engine.events import AccountConfigEvent, AccountEvent, AlgoEvent, OrderEvent, UserEvent
from exchanges.sandbox.faults import Faults
from exchanges.sandbox.server.hub import Hub
from exchanges.sandbox.server.listen_keys import ListenKeyRegistry
from exchanges.sandbox.server.user_codec import (
    encode_account_config_update,
    encode_account_update,
    encode_algo_update,
    encode_listen_key_expired,
    encode_order_update,
    encode_trade_lite,
)

__all__ = ["UserEventShaper", "UserPublisher", "encode_user_event", "encode_user_frames"]


class UserEventShaper:
    """Applies ``user_drop``, ``user_dup`` and ``user_reorder`` to the engine's events, seeded.

    Reorder holds an event back and delivers it right after the next one; if no event follows in the next
    step, the held event is delivered then (late, but never lost).
    """

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self._held: UserEvent | None = None

    def shape(self, events: Sequence[UserEvent]) -> list[UserEvent]:
        cfg = self.faults.config
        out: list[UserEvent] = []
        for event in events:
            if self.faults.roll(cfg.user_drop):
                continue
            copies = 2 if self.faults.roll(cfg.user_dup) else 1
            if self._held is not None:
                out.extend([event] * copies)
                out.append(self._held)
                self._held = None
            elif self.faults.roll(cfg.user_reorder):
                self._held = event
                if copies == 2:
                    out.append(event)
            else:
                out.extend([event] * copies)
        if not events and self._held is not None:
            out.append(self._held)
            self._held = None
        return out


def encode_user_event(event: UserEvent) -> tuple[str, bytes]:
    """The event type (``e``) and the encoded frame of one engine event."""
    if isinstance(event, OrderEvent):
        return "ORDER_TRADE_UPDATE", encode_order_update(event)
    if isinstance(event, AccountEvent):
        return "ACCOUNT_UPDATE", encode_account_update(event)
    if isinstance(event, AlgoEvent):
        return "ALGO_UPDATE", encode_algo_update(event)
    if isinstance(event, AccountConfigEvent):
        return "ACCOUNT_CONFIG_UPDATE", encode_account_config_update(event)
    raise TypeError(f"not a user-data event: {type(event).__name__}")


def encode_user_frames(event: UserEvent) -> list[tuple[str, bytes]]:
    """Every frame one engine event produces, in delivery order: a fill's TRADE_LITE comes first (Binance
    pushes it as the low-latency report), then its ORDER_TRADE_UPDATE."""
    frames: list[tuple[str, bytes]] = []
    if isinstance(event, OrderEvent):
        lite = encode_trade_lite(event)
        if lite is not None:
            frames.append(("TRADE_LITE", lite))
    frames.append(encode_user_event(event))
    return frames


class UserPublisher:
    """Delivers user events to the account's listenKey connections; announces expired keys."""

    def __init__(self, hub: Hub, listen_keys: ListenKeyRegistry, faults: Faults) -> None:
        self.hub = hub
        self.listen_keys = listen_keys
        self.shaper = UserEventShaper(faults)

    def publish(self, events: Sequence[UserEvent]) -> int:
        """Shape and send; returns the number of frames queued (an account without a valid key gets none)."""
        sent = 0
        for event in self.shaper.shape(events):
            key = self.listen_keys.key_of(event.account)
            if key is None:
                continue
            for event_type, payload in encode_user_frames(event):
                sent += self.hub.publish_user(key, event_type, payload)
        return sent

    def expire(self, now_ms: int) -> list[str]:
        """Send ``listenKeyExpired`` for every key whose time is up; nothing is delivered on it afterwards."""
        expired = []
        for key, _account in self.listen_keys.expire_due():
            self.hub.publish_user(key, "listenKeyExpired", encode_listen_key_expired(key, now_ms))
            expired.append(key)
        return expired
