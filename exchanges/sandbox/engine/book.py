"""The synthetic order book market orders and marketable limits take from.

It is centred on the current touch (the last BookTicker, or the last trade price spread by the profile) and
shaped by the symbol's :class:`BookProfile`: level ``i`` sits ``ticks_i`` ticks outside the touch with
``qty_i``. The book is not depleted by our fills: every order sees the book as the market publishes it,
which is the usual assumption for a small participant. Beyond the profile's last level, liquidity repeats
one whole profile depth per profile span further out, so any size can fill but pays growing slippage.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import ROUND_DOWN, Decimal

from core.types import ZERO, BookTicker, Instrument, Side
from exchanges.sandbox.profile import BookProfile

__all__ = ["Touch", "default_profile", "fill_levels", "levels", "touch_from_price"]

Touch = tuple[Decimal, Decimal, Decimal, Decimal]
"""(bid_price, bid_qty, ask_price, ask_qty)."""

_DEFAULT_LEVELS = 20
_DEFAULT_TOUCH_NOTIONAL = Decimal(100_000)  # USDT resting at the touch, each side
_DECAY = Decimal("0.85")


def default_profile(instrument: Instrument, price: Decimal) -> BookProfile:
    """A one-tick spread with per-level size decaying away from the touch."""
    f = instrument.filters
    step = f.step_size if f.step_size > 0 else Decimal(1)
    base = (
        (_DEFAULT_TOUCH_NOTIONAL / price / step).to_integral_value(ROUND_DOWN) * step if price > 0 else step
    )
    out: list[tuple[int, Decimal]] = []
    qty = max(base, f.min_qty)
    for i in range(_DEFAULT_LEVELS):
        level_qty = max(f.min_qty, (qty / step).to_integral_value(ROUND_DOWN) * step)
        out.append((i, level_qty))
        qty *= _DECAY
    return BookProfile(symbol=instrument.symbol, spread_ticks=1, levels=tuple(out))


def touch_from_price(price: Decimal, profile: BookProfile, tick: Decimal) -> Touch:
    """A touch around ``price`` with the profile's spread (bid rounded down, ask = bid + spread)."""
    bid = (price / tick).to_integral_value(ROUND_DOWN) * tick
    ask = bid + max(1, profile.spread_ticks) * tick
    q = profile.levels[0][1] if profile.levels else ZERO
    return bid, q, ask, q


def touch_from_ticker(book: BookTicker) -> Touch:
    return book.bid_price, book.bid_qty, book.ask_price, book.ask_qty


def levels(
    touch: Touch, profile: BookProfile, tick: Decimal, side: Side
) -> Iterator[tuple[Decimal, Decimal]]:
    """Levels of the book a ``side`` taker consumes (asks for a BUY, bids for a SELL), touch outwards.

    Infinite: beyond the profile, the whole profile repeats one span further out each time.
    """
    bid, bid_qty, ask, ask_qty = touch
    start, touch_qty, direction = (ask, ask_qty, 1) if side is Side.BUY else (bid, bid_qty, -1)
    prof = profile.levels or ((0, touch_qty),)
    span = max(1, prof[-1][0] + 1)
    depth = sum((q for _, q in prof), ZERO)
    # Level 0 is the published touch; the rest follow the profile.
    yield start, touch_qty if touch_qty > 0 else prof[0][1]
    for ticks, qty in prof[1:]:
        price = start + direction * ticks * tick
        if price <= 0:
            return
        yield price, qty
    k = 1
    while True:
        price = start + direction * (span * k) * tick
        if price <= 0 or depth <= 0:
            return
        yield price, depth
        k += 1


def fill_levels(
    touch: Touch, profile: BookProfile, tick: Decimal, side: Side, qty: Decimal, *, limit: Decimal | None
) -> list[tuple[Decimal, Decimal]]:
    """Walk the book for a ``side`` taker of ``qty``: ``[(price, qty), ...]`` up to ``limit`` if given.

    Stops when the quantity is filled or the next level is beyond the limit (a BUY never pays above
    ``limit``, a SELL never sells below it).
    """
    out: list[tuple[Decimal, Decimal]] = []
    left = qty
    for price, avail in levels(touch, profile, tick, side):
        if left <= 0:
            break
        if limit is not None and (price > limit if side is Side.BUY else price < limit):
            break
        take = min(left, avail)
        if take > 0:
            out.append((price, take))
            left -= take
    return out
