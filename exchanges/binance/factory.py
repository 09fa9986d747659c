"""Build a :class:`BinanceAdapter` from the settings: venue preset, keys, limiter, breakers, retry policy.

The reliability parts get the connector's defaults (80 % rate budget over the published limits until
exchangeInfo's ``rateLimits`` replace them at start; breakers of 5 failures / 60 s / 3 probes; the REST
retry policy). Every breaker transition is logged (WARNING when a breaker opens, INFO otherwise) and handed
to ``on_transition`` when given, so callers can turn them into metrics or alerts.
"""

from __future__ import annotations

from collections.abc import Callable

from core.clock import Clock
from core.config import Settings
from core.events import BreakerTransition
from core.logs import get_logger
from core.secrets import Secret
from exchanges.binance.adapter import BinanceAdapter
from exchanges.binance.breaker import BreakerSet, BreakerState
from exchanges.binance.ratelimit import DEFAULT_RULES, RateBudget, RateLimiter
from exchanges.binance.rest import BinanceRestClient
from exchanges.binance.retry import RetryPolicy
from exchanges.binance.venues import Venue, venue_preset

__all__ = ["build_adapter", "venue_of"]

log = get_logger("binance.factory")


def venue_of(settings: Settings, rest_url: str | None = None) -> Venue:
    """The venue the settings name (``rest_url`` wins over ``settings.url``); ``ValueError`` if unusable."""
    return venue_preset(settings.venue, rest_url or settings.url)


def build_adapter(
    settings: Settings,
    clock: Clock,
    *,
    rest_url: str | None = None,
    credentials: tuple[Secret, Secret] | None = None,
    on_transition: Callable[[BreakerTransition], None] | None = None,
    seed: int = 0,
) -> BinanceAdapter:
    """A not-yet-started adapter for ``settings.venue``.

    - ``rest_url``: the venue's REST base (required for a sandbox venue unless ``settings.url`` is set,
      e.g. an embedded sandbox's ``rest_url``); overrides ``settings.url``.
    - ``credentials``: ``(api_key, api_secret)`` instead of ``settings.api_key`` / ``settings.api_secret``
      (e.g. the embedded sandbox's demo account). Without any, only public calls work.
    - ``clock``: the time base of timestamps, budget and breakers (``LiveClock`` for a real venue, the
      sandbox's own clock for an embedded one).

    Raises ``ValueError`` for a venue that cannot be built (sandbox without URL, malformed URL).
    """
    venue = venue_of(settings, rest_url)
    api_key, api_secret = credentials if credentials is not None else (settings.api_key, settings.api_secret)

    def transition(event: BreakerTransition) -> None:
        level = 30 if event.new == BreakerState.OPEN else 20
        log.log(
            level,
            "circuit breaker '%s': %s -> %s (%s)",
            event.name,
            event.old,
            event.new,
            event.reason or "no reason given",
        )
        if on_transition is not None:
            try:
                on_transition(event)
            except Exception:  # a listener's bug must not fail the REST call that moved the breaker
                log.exception("breaker transition listener failed")

    client = BinanceRestClient(
        venue,
        clock,
        api_key=api_key,
        api_secret=api_secret,
        limiter=RateLimiter(RateBudget(DEFAULT_RULES, clock), clock),
        breakers=BreakerSet(clock, on_transition=transition),
        retry=RetryPolicy(),
        seed=seed,
    )
    return BinanceAdapter(client, seed=seed)
