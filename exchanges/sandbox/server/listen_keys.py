"""listenKeys of the user-data stream: one per account, valid for a TTL of exchange time.

Pure bookkeeping over an injected clock (no I/O). Binance's rules (USDⓈ-M "User Data Streams"):
- ``POST /fapi/v1/listenKey`` returns the account's active key if it has one (extending it), else a new one;
- ``PUT`` extends the active key by the TTL (60 minutes), ``DELETE`` invalidates it;
- a key that was never issued, was deleted or has expired answers -1125 "This listenKey does not exist.".
The TTL is read on every call so the ``listenkey_ttl`` fault can change it at runtime.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Callable

from core.clock import Clock
from exchanges.sandbox.errors import ExchangeError

__all__ = ["DEFAULT_TTL_SECONDS", "ListenKeyRegistry"]

DEFAULT_TTL_SECONDS = 3600.0
_ALPHABET = string.ascii_letters + string.digits
_KEY_LENGTH = 64  # Binance's listenKeys are 64 alphanumeric characters


class _Entry:
    __slots__ = ("account", "expires_ms")

    def __init__(self, account: str, expires_ms: int) -> None:
        self.account = account
        self.expires_ms = expires_ms


class ListenKeyRegistry:
    """Issues, extends, deletes and expires listenKeys.

    ``ttl_seconds`` is a number or a zero-argument callable returning one (seconds of exchange time).
    """

    def __init__(
        self, clock: Clock, *, ttl_seconds: float | Callable[[], float] = DEFAULT_TTL_SECONDS
    ) -> None:
        self._clock = clock
        self._ttl: Callable[[], float] = (
            ttl_seconds if callable(ttl_seconds) else (lambda: float(ttl_seconds))
        )
        self._by_key: dict[str, _Entry] = {}
        self._by_account: dict[str, str] = {}

    def _ttl_ms(self) -> int:
        return max(1, int(self._ttl() * 1000))

    def _live_key_of(self, account: str, now: int) -> str | None:
        key = self._by_account.get(account)
        if key is None:
            return None
        entry = self._by_key[key]
        return key if entry.expires_ms > now else None

    def create(self, account: str) -> str:
        """The account's active key, extended; or a new key when it has none (or it expired)."""
        now = self._clock.now_ms()
        key = self._live_key_of(account, now)
        if key is not None:
            self._by_key[key].expires_ms = now + self._ttl_ms()
            return key
        self._forget_account(account)
        key = "".join(secrets.choice(_ALPHABET) for _ in range(_KEY_LENGTH))
        self._by_key[key] = _Entry(account, now + self._ttl_ms())
        self._by_account[account] = key
        return key

    def keepalive(self, account: str, listen_key: str | None = None) -> str:
        """Extend the account's active key by the TTL; -1125 when it has none (or not ``listen_key``)."""
        now = self._clock.now_ms()
        key = self._live_key_of(account, now)
        if key is None or (listen_key is not None and listen_key != key):
            raise ExchangeError.invalid_listen_key()
        self._by_key[key].expires_ms = now + self._ttl_ms()
        return key

    def delete(self, account: str, listen_key: str | None = None) -> str:
        """Invalidate the account's active key and return it; -1125 when there is none."""
        now = self._clock.now_ms()
        key = self._live_key_of(account, now)
        if key is None or (listen_key is not None and listen_key != key):
            raise ExchangeError.invalid_listen_key()
        self._forget_account(account)
        return key

    def account_of(self, listen_key: str) -> str | None:
        """The account a valid (unexpired) key belongs to, else None."""
        entry = self._by_key.get(listen_key)
        if entry is None or entry.expires_ms <= self._clock.now_ms():
            return None
        return entry.account

    def key_of(self, account: str) -> str | None:
        """The account's valid key, else None."""
        return self._live_key_of(account, self._clock.now_ms())

    def expires_at(self, listen_key: str) -> int | None:
        """Exchange time (ms) at which a known key expires (None if unknown or already forgotten)."""
        entry = self._by_key.get(listen_key)
        return None if entry is None else entry.expires_ms

    def expire_due(self) -> list[tuple[str, str]]:
        """Forget every key whose time is up; returns ``(listen_key, account)`` for each, oldest first.

        The caller sends ``listenKeyExpired`` for each: Binance announces an expiry once, then goes quiet.
        """
        now = self._clock.now_ms()
        due = sorted(
            (
                (entry.expires_ms, key, entry.account)
                for key, entry in self._by_key.items()
                if entry.expires_ms <= now
            )
        )
        for _, _key, account in due:
            self._forget_account(account)
        return [(key, account) for _, key, account in due]

    def _forget_account(self, account: str) -> None:
        key = self._by_account.pop(account, None)
        if key is not None:
            self._by_key.pop(key, None)

    def __len__(self) -> int:
        return len(self._by_key)
