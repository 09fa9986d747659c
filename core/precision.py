"""Exact rounding of prices and quantities by an instrument's exchange filters.

This module is the ONE place where a computed price or quantity is made acceptable to the exchange:
multiples of tick size / step size (PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE), within their bounds,
with a notional of at least MIN_NOTIONAL and inside the PERCENT_PRICE band. Everything is exact:
arithmetic goes through :class:`fractions.Fraction`, never ``float``, and :func:`format_decimal` is
how a value is written onto the wire.

Rounding rules (chosen so an order never does more than the caller asked):

- limit prices round *against* the order: a BUY never pays more than requested (down), a SELL never
  sells for less (up) — :func:`round_limit_price`;
- trigger prices round so the trigger never fires *before* the requested level: a stop-loss that
  SELLs (protecting a long) rounds down, one that BUYs (protecting a short) rounds up; a take-profit
  that SELLs rounds up, one that BUYs rounds down — :func:`round_trigger_price`;
- quantities floor to the step (never trade more than asked), unless the caller explicitly allows
  rounding up to the exchange minimum in :func:`size_order`.
"""

from __future__ import annotations

import enum
import math
from decimal import Decimal, localcontext
from fractions import Fraction

import msgspec

from core.types import Instrument, OrderType, Side

__all__ = [
    "OrderSize",
    "PriceOutOfRangeError",
    "QuantityAboveMaximumError",
    "QuantityBelowMinimumError",
    "RejectOrderError",
    "Rounding",
    "clamp_limit_price",
    "decimals",
    "format_decimal",
    "lot_bounds",
    "min_qty_for_notional",
    "percent_price_bounds",
    "quantize",
    "round_limit_price",
    "round_price",
    "round_qty",
    "round_trigger_price",
    "size_order",
    "to_decimal",
]


# Working precision for products of grid values: far beyond any price x quantity the exchange lists.
_EXACT_DIGITS = 80


class Rounding(enum.StrEnum):
    """Direction in which a value snaps to its grid."""

    DOWN = "down"  # towards -infinity (floor)
    UP = "up"  # towards +infinity (ceiling)
    NEAREST = "nearest"  # closest grid point; exact ties go up


class RejectOrderError(ValueError):
    """The order cannot be made to satisfy the exchange's filters: do not send it."""


class QuantityBelowMinimumError(RejectOrderError):
    """The requested size is below what the exchange accepts and rounding up was not allowed."""

    def __init__(self, symbol: str, requested: Decimal, minimum: Decimal) -> None:
        super().__init__(
            f"{symbol}: quantity {format_decimal(requested)} is below the minimum "
            f"{format_decimal(minimum)} (LOT_SIZE / MIN_NOTIONAL)"
        )
        self.symbol = symbol
        self.requested = requested
        self.minimum = minimum


class QuantityAboveMaximumError(RejectOrderError):
    """The requested size exceeds the lot filter's maximum and clipping was not allowed."""

    def __init__(self, symbol: str, requested: Decimal, maximum: Decimal) -> None:
        super().__init__(
            f"{symbol}: quantity {format_decimal(requested)} is above the maximum {format_decimal(maximum)}"
        )
        self.symbol = symbol
        self.requested = requested
        self.maximum = maximum


class PriceOutOfRangeError(RejectOrderError):
    """No tick-aligned price satisfies both PRICE_FILTER and PERCENT_PRICE for this request."""


class OrderSize(msgspec.Struct, frozen=True, kw_only=True):
    """A quantity ready for the wire, and the notional it was checked against."""

    qty: Decimal
    notional: Decimal
    rounded_up: bool = False  # True when the size was raised to the exchange minimum


def to_decimal(value: object) -> Decimal:
    """An exact, finite ``Decimal`` from a Decimal, int or decimal string.

    Floats (and bools) are refused: a float is already inexact, and its repr is not what was meant.
    """
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int) and not isinstance(value, bool):
        d = Decimal(value)
    elif isinstance(value, str):
        try:
            d = Decimal(value.strip())
        except ArithmeticError as exc:
            raise ValueError(f"not a decimal number: {value!r}") from exc
    else:
        raise TypeError(f"expected Decimal, int or decimal string, got {type(value).__name__}")
    if not d.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return d


def format_decimal(value: Decimal) -> str:
    """The wire form: plain notation, no exponent, no trailing zeros, no ``-0`` (``1E+2`` → ``100``)."""
    d = to_decimal(value)
    text = format(d, "f")  # 'f' never rounds and never uses an exponent
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def decimals(value: Decimal) -> int:
    """How many digits after the point the wire form of ``value`` has (``0.10`` → 1)."""
    text = format_decimal(value)
    return len(text) - text.index(".") - 1 if "." in text else 0


def _from_fraction(units: int, grid: Decimal) -> Decimal:
    """``units * grid`` as a Decimal with exactly the grid's own (significant) decimals."""
    places = decimals(grid)
    with localcontext(prec=_EXACT_DIGITS):
        exact = (Decimal(units) * grid).quantize(Decimal(1).scaleb(-places))
    # The Fraction check proves nothing was rounded, whatever the magnitudes.
    if Fraction(exact) != units * Fraction(grid):
        raise ArithmeticError(f"{units} x {grid} is not representable exactly")
    return exact


def quantize(value: Decimal, grid: Decimal, mode: Rounding) -> Decimal:
    """Snap ``value`` to a multiple of ``grid`` (> 0) exactly, in the direction ``mode`` says."""
    return _snap(Fraction(to_decimal(value)), grid, mode)


def _snap(value: Fraction, grid: Decimal, mode: Rounding) -> Decimal:
    if grid <= 0:
        raise ValueError(f"grid must be positive, got {grid}")
    ratio = value / Fraction(grid)
    if mode is Rounding.DOWN:
        units = math.floor(ratio)
    elif mode is Rounding.UP:
        units = math.ceil(ratio)
    else:
        units = math.floor(ratio + Fraction(1, 2))
    return _from_fraction(units, grid)


def round_price(instrument: Instrument, price: Decimal, mode: Rounding = Rounding.NEAREST) -> Decimal:
    """``price`` on the tick grid (PRICE_FILTER); bounds are not applied (see :func:`clamp_limit_price`)."""
    return quantize(price, instrument.filters.tick_size, mode)


def round_limit_price(instrument: Instrument, price: Decimal, side: Side) -> Decimal:
    """A limit price on the tick grid that never trades worse than ``price``: BUY down, SELL up."""
    return round_price(instrument, price, Rounding.DOWN if side is Side.BUY else Rounding.UP)


def round_trigger_price(instrument: Instrument, price: Decimal, side: Side, order_type: OrderType) -> Decimal:
    """A trigger price on the tick grid that never fires before ``price`` is reached.

    ``side`` is the side of the order the trigger places. A STOP/STOP_MARKET SELL fires when the price
    falls to it, so rounding down moves it further away; a BUY stop fires on the way up, so it rounds
    up. Take-profits fire from the other direction and round the other way.
    """
    if order_type in (OrderType.STOP, OrderType.STOP_MARKET, OrderType.TRAILING_STOP_MARKET):
        mode = Rounding.DOWN if side is Side.SELL else Rounding.UP
    elif order_type in (OrderType.TAKE_PROFIT, OrderType.TAKE_PROFIT_MARKET):
        mode = Rounding.UP if side is Side.SELL else Rounding.DOWN
    else:
        raise ValueError(f"{order_type} has no trigger price")
    return round_price(instrument, price, mode)


def percent_price_bounds(instrument: Instrument, reference_price: Decimal) -> tuple[Decimal, Decimal]:
    """Lowest and highest tick-aligned limit prices allowed around ``reference_price`` (the mark price).

    Both PERCENT_PRICE (``reference × multiplierDown .. reference × multiplierUp``) and PRICE_FILTER
    (``minPrice .. maxPrice``) are applied; the band is shrunk inwards to whole ticks so that the
    bounds themselves pass. Raises :class:`PriceOutOfRangeError` when no tick fits.
    """
    f = instrument.filters
    ref = Fraction(to_decimal(reference_price))
    low = _snap(ref * Fraction(f.multiplier_down), f.tick_size, Rounding.UP)
    high = _snap(ref * Fraction(f.multiplier_up), f.tick_size, Rounding.DOWN)
    if f.min_price > 0:
        low = max(low, quantize(f.min_price, f.tick_size, Rounding.UP))
    if f.max_price > 0:
        high = min(high, quantize(f.max_price, f.tick_size, Rounding.DOWN))
    if low > high:
        raise PriceOutOfRangeError(
            f"{instrument.symbol}: no valid price around reference {format_decimal(reference_price)}"
        )
    return low, high


def clamp_limit_price(
    instrument: Instrument, price: Decimal, side: Side, reference_price: Decimal
) -> Decimal:
    """:func:`round_limit_price`, then moved inside the allowed band (see :func:`percent_price_bounds`).

    Clamping a BUY down / a SELL up never makes it trade worse than asked; clamping the other way
    (a BUY below the band) makes the order more aggressive than requested, which the caller accepts
    by calling this instead of :func:`round_limit_price`.
    """
    low, high = percent_price_bounds(instrument, reference_price)
    return min(max(round_limit_price(instrument, price, side), low), high)


def lot_bounds(instrument: Instrument, *, market: bool) -> tuple[Decimal, Decimal, Decimal]:
    """``(step, min_qty, max_qty)`` of LOT_SIZE, or of MARKET_LOT_SIZE for market orders."""
    f = instrument.filters
    if market:
        return f.market_step_size, f.market_min_qty, f.market_max_qty
    return f.step_size, f.min_qty, f.max_qty


def round_qty(
    instrument: Instrument, qty: Decimal, *, market: bool, mode: Rounding = Rounding.DOWN
) -> Decimal:
    """``qty`` on the step grid of LOT_SIZE (MARKET_LOT_SIZE when ``market``); floors by default.

    Bounds are not applied: the result may be zero or below ``min_qty`` (see :func:`size_order`).
    """
    step, _, _ = lot_bounds(instrument, market=market)
    return quantize(qty, step, mode)


def min_qty_for_notional(instrument: Instrument, price: Decimal, *, market: bool) -> Decimal:
    """Smallest step-multiple quantity, at least the lot minimum, whose ``qty × price`` ≥ MIN_NOTIONAL."""
    price = to_decimal(price)
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    step, min_qty, _ = lot_bounds(instrument, market=market)
    units = math.ceil(Fraction(instrument.filters.min_notional) / (Fraction(step) * Fraction(price)))
    by_notional = _from_fraction(units, step)
    return max(by_notional, quantize(min_qty, step, Rounding.UP))


def size_order(
    instrument: Instrument,
    *,
    price: Decimal,
    qty: Decimal | None = None,
    notional: Decimal | None = None,
    market: bool = False,
    reduce_only: bool = False,
    round_up_to_min: bool = False,
    clip_to_max: bool = False,
) -> OrderSize:
    """A quantity that passes LOT_SIZE / MARKET_LOT_SIZE and MIN_NOTIONAL at ``price``.

    Give either ``qty`` (base asset) or ``notional`` (quote asset, converted at ``price``). ``price``
    must be the price the exchange will judge the notional by: the (already rounded) limit price, or
    for a market order the current reference price; leave headroom yourself if it may move before the
    order arrives. The request is floored to the step. Below the minimum (the lot minimum, and the
    MIN_NOTIONAL quantity unless ``reduce_only``, which the exchange exempts) it raises
    :class:`QuantityBelowMinimumError` unless ``round_up_to_min``; above the lot maximum it raises
    :class:`QuantityAboveMaximumError` unless ``clip_to_max``.
    """
    if (qty is None) == (notional is None):
        raise ValueError("give exactly one of qty or notional")
    price = to_decimal(price)
    if price <= 0:
        raise ValueError(f"price must be positive, got {price}")
    step, min_qty, max_qty = lot_bounds(instrument, market=market)
    if qty is not None:
        requested = to_decimal(qty)
    else:
        requested = _snap(Fraction(to_decimal(notional)) / Fraction(price), step, Rounding.DOWN)
    if requested < 0:
        raise ValueError(f"size must not be negative, got {requested}")
    size = quantize(requested, step, Rounding.DOWN)
    minimum = quantize(min_qty, step, Rounding.UP)
    if not reduce_only:
        minimum = max(minimum, min_qty_for_notional(instrument, price, market=market))
    minimum = max(minimum, step)  # a zero quantity is never an order (-4003)
    maximum = quantize(max_qty, step, Rounding.DOWN)
    if minimum > maximum:  # e.g. MIN_NOTIONAL at a very low price needs more than maxQty
        raise RejectOrderError(
            f"{instrument.symbol}: no quantity satisfies the filters at price {format_decimal(price)} "
            f"(minimum {format_decimal(minimum)} > maximum {format_decimal(maximum)})"
        )
    rounded_up = False
    if size < minimum:
        if not round_up_to_min:
            raise QuantityBelowMinimumError(instrument.symbol, requested, minimum)
        size, rounded_up = minimum, True
    if size > maximum:
        if not clip_to_max:
            raise QuantityAboveMaximumError(instrument.symbol, requested, maximum)
        size = maximum
    with localcontext(prec=_EXACT_DIGITS):  # the product of two exact grids is exact at this precision
        value = size * price
    return OrderSize(qty=size, notional=value, rounded_up=rounded_up)
