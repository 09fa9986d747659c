"""Venue errors, named by the action they require of the caller.

Every failure of a call to an exchange surfaces as one :class:`VenueError` subclass. The class says what to do
next, the attributes say what the venue answered:

- :class:`RetryableError` (``Action.RETRY``): safe to send again after a backoff delay (the request was a
  read, or the venue certainly did not act on it).
- :class:`BackoffError` (``Action.BACKOFF``): the venue is rate limiting; wait ``retry_after`` seconds before
  sending anything. :class:`BannedError` is the 418 form: the IP is banned until ``until_ms``.
- :class:`RejectedError` (``Action.REJECT``): the venue answered and said no (filters, margin, unknown order).
  Sending the same request again gives the same answer.
- :class:`UnknownOutcomeError` (``Action.UNKNOWN_OUTCOME``): an order placement whose fate is unknown
  (timeout, 5xx, -1007). Query the order by its client id before sending anything else for that decision.
- :class:`FatalError` (``Action.FATAL``): bad key, signature or permissions. Stop and tell the user.
- :class:`BreakerOpenError` (``Action.BACKOFF``): a local circuit breaker refused the call; nothing was sent.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

__all__ = [
    "Action",
    "BackoffError",
    "BannedError",
    "BreakerOpenError",
    "FatalError",
    "RejectedError",
    "RetryableError",
    "UnknownOutcomeError",
    "VenueError",
]


class Action(StrEnum):
    """What a caller must do about a failed venue call."""

    RETRY = "retry"
    BACKOFF = "backoff"
    REJECT = "reject"
    UNKNOWN_OUTCOME = "unknown_outcome"
    FATAL = "fatal"


class VenueError(Exception):
    """A call to an exchange failed. Subclasses name the action; see the module docstring.

    ``status`` is the HTTP status (``None`` when no answer arrived), ``code`` the venue's error code (``None``
    when the body had none), ``msg`` the venue's message or a description of the local failure, ``endpoint``
    the ``"METHOD /path"`` that was called.
    """

    action: ClassVar[Action] = Action.RETRY

    def __init__(
        self, msg: str, *, status: int | None = None, code: int | None = None, endpoint: str = ""
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.status = status
        self.code = code
        self.endpoint = endpoint

    def __str__(self) -> str:
        parts = [self.action.value]
        if self.endpoint:
            parts.append(self.endpoint)
        if self.status is not None:
            parts.append(f"http {self.status}")
        if self.code is not None:
            parts.append(f"code {self.code}")
        return f"{' '.join(parts)}: {self.msg}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(msg={self.msg!r}, status={self.status!r}, code={self.code!r}, "
            f"endpoint={self.endpoint!r})"
        )


class RetryableError(VenueError):
    """Send the same request again after a backoff delay (reads, or the venue certainly did nothing)."""

    action = Action.RETRY


class BackoffError(VenueError):
    """Rate limited: send nothing to this venue for ``retry_after`` seconds."""

    action = Action.BACKOFF

    def __init__(
        self,
        msg: str,
        *,
        status: int | None = None,
        code: int | None = None,
        endpoint: str = "",
        retry_after: float = 0.0,
    ) -> None:
        super().__init__(msg, status=status, code=code, endpoint=endpoint)
        self.retry_after = max(0.0, retry_after)


class BannedError(BackoffError):
    """HTTP 418: the IP is banned until ``until_ms`` (exchange time); entries are halted meanwhile."""

    def __init__(
        self,
        msg: str,
        *,
        status: int | None = 418,
        code: int | None = None,
        endpoint: str = "",
        retry_after: float = 0.0,
        until_ms: int = 0,
    ) -> None:
        super().__init__(msg, status=status, code=code, endpoint=endpoint, retry_after=retry_after)
        self.until_ms = until_ms


class RejectedError(VenueError):
    """The venue answered and refused; the same request would be refused again."""

    action = Action.REJECT


class UnknownOutcomeError(VenueError):
    """An order placement may or may not have happened: query it by client id before anything else."""

    action = Action.UNKNOWN_OUTCOME


class FatalError(VenueError):
    """Credentials or permissions are wrong: stop trading on this venue and tell the user."""

    action = Action.FATAL


class BreakerOpenError(VenueError):
    """A local circuit breaker refused the call; nothing was sent. Back off until it half-opens."""

    action = Action.BACKOFF
