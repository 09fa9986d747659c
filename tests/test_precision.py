"""core.precision: exact rounding by the instrument's filters, checked against the exchange's own rules."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from core.precision import (
    PriceOutOfRangeError,
    QuantityAboveMaximumError,
    QuantityBelowMinimumError,
    RejectOrderError,
    Rounding,
    clamp_limit_price,
    decimals,
    format_decimal,
    min_qty_for_notional,
    percent_price_bounds,
    quantize,
    round_limit_price,
    round_price,
    round_qty,
    round_trigger_price,
    size_order,
    to_decimal,
)
from core.types import Instrument, OrderType, Side, SymbolFilters

D = Decimal


def make_instrument(
    symbol: str,
    *,
    tick: str,
    step: str,
    min_notional: str,
    min_price: str,
    max_price: str,
    min_qty: str,
    max_qty: str,
    market_step: str | None = None,
    market_min_qty: str | None = None,
    market_max_qty: str | None = None,
    up: str = "1.0500",
    down: str = "0.9500",
    price_precision: int | None = None,
    quantity_precision: int | None = None,
) -> Instrument:
    filters = SymbolFilters(
        tick_size=D(tick),
        min_price=D(min_price),
        max_price=D(max_price),
        step_size=D(step),
        min_qty=D(min_qty),
        max_qty=D(max_qty),
        market_step_size=D(market_step or step),
        market_min_qty=D(market_min_qty or min_qty),
        market_max_qty=D(market_max_qty or max_qty),
        min_notional=D(min_notional),
        multiplier_up=D(up),
        multiplier_down=D(down),
    )
    return Instrument(
        symbol=symbol,
        base_asset=symbol.removesuffix("USDT"),
        quote_asset="USDT",
        margin_asset="USDT",
        price_precision=decimals(D(tick)) if price_precision is None else price_precision,
        quantity_precision=decimals(D(step)) if quantity_precision is None else quantity_precision,
        base_asset_precision=8,
        quote_precision=8,
        filters=filters,
    )


# Current-looking Binance values (exchangeInfo, 2025).
BTC = make_instrument(
    "BTCUSDT",
    tick="0.10",
    step="0.001",
    min_notional="100",
    min_price="261.10",
    max_price="809484",
    min_qty="0.001",
    max_qty="1000",
    market_max_qty="120",
    price_precision=2,
    quantity_precision=3,
)
ETH = make_instrument(
    "ETHUSDT",
    tick="0.01",
    step="0.001",
    min_notional="20",
    min_price="39.86",
    max_price="306177",
    min_qty="0.001",
    max_qty="10000",
    market_max_qty="2000",
    price_precision=2,
    quantity_precision=3,
)


# ---------------------------------------------------------------------------------------------------
# Independent check: the exchange's rules written out plainly, with Fractions.


def _is_multiple(value: Decimal, grid: Decimal) -> bool:
    return (Fraction(value) / Fraction(grid)).denominator == 1


def assert_acceptable(
    inst: Instrument,
    *,
    qty: Decimal,
    price: Decimal | None,
    market: bool,
    reference: Decimal,
    reduce_only: bool = False,
) -> None:
    f = inst.filters
    step, min_qty, max_qty = (
        (f.market_step_size, f.market_min_qty, f.market_max_qty)
        if market
        else (f.step_size, f.min_qty, f.max_qty)
    )
    assert qty > 0
    assert _is_multiple(qty, step), (qty, step)
    assert min_qty <= qty <= max_qty
    assert decimals(qty) <= inst.quantity_precision
    notional_price = reference if price is None else price
    if not reduce_only:
        assert qty * notional_price >= f.min_notional
    if price is not None:
        assert _is_multiple(price, f.tick_size), (price, f.tick_size)
        assert decimals(price) <= inst.price_precision
        assert f.min_price <= price <= f.max_price
        assert reference * f.multiplier_down <= price <= reference * f.multiplier_up


def exchange_check(
    inst: Instrument,
    *,
    qty: Decimal,
    price: Decimal | None,
    market: bool,
    reference: Decimal,
    reduce_only: bool = False,
) -> None:
    """The sandbox's own filter check, fed exactly what the wire would carry."""
    filters = pytest.importorskip("exchanges.sandbox.engine.filters")
    wire_qty = D(format_decimal(qty))
    wire_price = None if price is None else D(format_decimal(price))
    filters.check_order_filters(
        inst,
        quantity=wire_qty,
        price=wire_price,
        is_market=market,
        reduce_only=reduce_only,
        reference_price=reference,
    )


# ---------------------------------------------------------------------------------------------------
# Hypothesis-generated instruments.


@st.composite
def grids(draw: st.DrawFn, max_places: int = 8) -> Decimal:
    """Tick / step sizes as Binance publishes them: 1, 2 or 5 times a power of ten."""
    places = draw(st.integers(min_value=-1, max_value=max_places))
    mult = draw(st.sampled_from([1, 1, 1, 2, 5]))
    return D(mult).scaleb(-places)


@st.composite
def instruments(draw: st.DrawFn) -> Instrument:
    tick = draw(grids())
    step = draw(grids(max_places=6))
    market_step = step * draw(st.sampled_from([1, 1, 10]))
    min_price = tick * draw(st.integers(1, 1000))
    max_price = min_price + tick * draw(st.integers(10_000, 10**9))
    min_qty = step * draw(st.integers(1, 20))
    max_qty = min_qty + step * draw(st.integers(10**4, 10**9))
    market_min_qty = market_step * draw(st.integers(1, 20))
    market_max_qty = market_min_qty + market_step * draw(st.integers(10**3, 10**8))
    up = D(draw(st.integers(10_100, 15_000))).scaleb(-4)
    down = D(draw(st.integers(5_000, 9_900))).scaleb(-4)
    min_notional = draw(st.sampled_from([D(0), D(1), D(5), D(20), D(100)]))
    return make_instrument(
        "HYPOUSDT",
        tick=str(tick),
        step=str(step),
        min_notional=str(min_notional),
        min_price=str(min_price),
        max_price=str(max_price),
        min_qty=str(min_qty),
        max_qty=str(max_qty),
        market_step=str(market_step),
        market_min_qty=str(market_min_qty),
        market_max_qty=str(market_max_qty),
        up=str(up),
        down=str(down),
        price_precision=max(decimals(tick), draw(st.integers(0, 8))),
        quantity_precision=max(decimals(step), decimals(market_step)),
    )


def reference_prices(inst: Instrument) -> st.SearchStrategy[Decimal]:
    f = inst.filters
    lo = int(f.min_price / f.tick_size)
    hi = int(f.max_price / f.tick_size)
    return st.integers(lo, hi).map(lambda n: n * f.tick_size)


offsets = st.integers(-3000, 3000).map(lambda n: D(n).scaleb(-4))  # -30 % .. +30 % from the reference
notionals = st.decimals(min_value=D("0.01"), max_value=D("5000000"), places=4)


def _build_limit(
    inst: Instrument, reference: Decimal, offset: Decimal, side: Side, notional: Decimal, reduce_only: bool
) -> tuple[Decimal, Decimal]:
    price = clamp_limit_price(inst, reference * (1 + offset), side, reference)
    size = size_order(
        inst, price=price, notional=notional, reduce_only=reduce_only, round_up_to_min=True, clip_to_max=True
    )
    return size.qty, price


def _market_qty(inst: Instrument, reference: Decimal, notional: Decimal, reduce_only: bool) -> Decimal:
    return size_order(
        inst,
        price=reference,
        notional=notional,
        market=True,
        reduce_only=reduce_only,
        round_up_to_min=True,
        clip_to_max=True,
    ).qty


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    inst=instruments(),
    side=st.sampled_from(Side),
    offset=offsets,
    notional=notionals,
    reduce_only=st.booleans(),
)
def test_generated_limit_orders_pass_every_filter(data, inst, side, offset, notional, reduce_only):
    reference = data.draw(reference_prices(inst))
    try:
        qty, price = _build_limit(inst, reference, offset, side, notional, reduce_only)
    except RejectOrderError:
        assume(False)  # filters that admit no order around this reference (rare)
    assert_acceptable(inst, qty=qty, price=price, market=False, reference=reference, reduce_only=reduce_only)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), inst=instruments(), notional=notionals, reduce_only=st.booleans())
def test_generated_market_orders_pass_every_filter(data, inst, notional, reduce_only):
    reference = data.draw(reference_prices(inst))
    try:
        qty = _market_qty(inst, reference, notional, reduce_only)
    except RejectOrderError:
        assume(False)
    assert_acceptable(inst, qty=qty, price=None, market=True, reference=reference, reduce_only=reduce_only)


real_references = {
    "BTCUSDT": st.decimals(min_value=D("20000"), max_value=D("200000"), places=1),
    "ETHUSDT": st.decimals(min_value=D("500"), max_value=D("10000"), places=2),
}


@pytest.mark.parametrize("inst", [BTC, ETH], ids=lambda i: i.symbol)
@settings(max_examples=200, deadline=None)
@given(data=st.data(), side=st.sampled_from(Side), offset=offsets, notional=notionals, market=st.booleans())
def test_real_instruments_pass_every_filter_and_the_exchange(inst, data, side, offset, notional, market):
    reference = data.draw(real_references[inst.symbol])
    if market:
        qty, price = _market_qty(inst, reference, notional, False), None
    else:
        qty, price = _build_limit(inst, reference, offset, side, notional, False)
    assert_acceptable(inst, qty=qty, price=price, market=market, reference=reference)
    exchange_check(inst, qty=qty, price=price, market=market, reference=reference)


def _sandbox_instruments() -> list[Instrument]:
    try:
        from exchanges.sandbox.engine.filters import default_instruments
    except ImportError:
        return []
    return list(default_instruments())


@pytest.mark.parametrize("inst", _sandbox_instruments(), ids=lambda i: i.symbol)
@settings(max_examples=100, deadline=None)
@given(data=st.data(), side=st.sampled_from(Side), offset=offsets, notional=notionals, market=st.booleans())
def test_sandbox_instruments_pass_the_exchange(inst, data, side, offset, notional, market):
    """Every instrument the sandbox lists, across its whole price range."""
    reference = data.draw(reference_prices(inst))
    try:
        if market:
            qty, price = _market_qty(inst, reference, notional, False), None
        else:
            qty, price = _build_limit(inst, reference, offset, side, notional, False)
    except RejectOrderError:
        assume(False)
    assert_acceptable(inst, qty=qty, price=price, market=market, reference=reference)
    exchange_check(inst, qty=qty, price=price, market=market, reference=reference)


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    inst=instruments(),
    side=st.sampled_from(Side),
    offset=offsets,
    notional=notionals,
    market=st.booleans(),
    reduce_only=st.booleans(),
)
def test_exchange_accepts_generated_orders(data, inst, side, offset, notional, market, reduce_only):
    """No -1111 (precision), -4164 (min notional) or any other filter error from the sandbox's check."""
    pytest.importorskip("exchanges.sandbox.engine.filters")
    reference = data.draw(reference_prices(inst))
    try:
        if market:
            qty, price = _market_qty(inst, reference, notional, reduce_only), None
        else:
            qty, price = _build_limit(inst, reference, offset, side, notional, reduce_only)
    except RejectOrderError:
        assume(False)
    exchange_check(inst, qty=qty, price=price, market=market, reference=reference, reduce_only=reduce_only)


# ---------------------------------------------------------------------------------------------------
# Value-level properties.


@given(
    value=st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12),
    grid=grids(),
    mode=st.sampled_from(Rounding),
)
def test_quantize_lands_on_the_grid_in_the_right_direction(value, grid, mode):
    out = quantize(value, grid, mode)
    assert _is_multiple(out, grid)
    assert abs(Fraction(out) - Fraction(value)) < Fraction(grid)
    if mode is Rounding.DOWN:
        assert out <= value
    elif mode is Rounding.UP:
        assert out >= value
    else:
        assert abs(Fraction(out) - Fraction(value)) <= Fraction(grid) / 2
    assert decimals(out) <= decimals(grid)


@given(value=st.decimals(allow_nan=False, allow_infinity=False))
def test_format_decimal_round_trips_and_is_plain(value):
    text = format_decimal(value)
    assert "E" not in text.upper()
    assert D(text) == value
    if "." in text:
        assert not text.endswith("0")
        assert not text.endswith(".")
    assert text != "-0"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("1E+2"), "100"),
        (D("0.10"), "0.1"),
        (D("-0.000"), "0"),
        (D("0.00000100"), "0.000001"),
        (D("95000.10"), "95000.1"),
        (D("7"), "7"),
        (D("1.23456789012345678901234567890123"), "1.23456789012345678901234567890123"),
    ],
)
def test_format_decimal_examples(value, text):
    assert format_decimal(value) == text


def test_to_decimal_refuses_inexact_and_non_finite_input():
    assert to_decimal("0.1") == D("0.1")
    assert to_decimal(3) == D(3)
    with pytest.raises(TypeError):
        to_decimal(0.1)
    with pytest.raises(TypeError):
        to_decimal(True)
    for bad in ("NaN", "Infinity", "abc"):
        with pytest.raises(ValueError):
            to_decimal(bad)


# ---------------------------------------------------------------------------------------------------
# The documented rules, on real instruments.


def test_round_price_modes_on_btc():
    assert round_price(BTC, D("95000.15"), Rounding.DOWN) == D("95000.1")
    assert round_price(BTC, D("95000.15"), Rounding.UP) == D("95000.2")
    assert round_price(BTC, D("95000.15"), Rounding.NEAREST) == D("95000.2")  # exact tie goes up
    assert round_price(BTC, D("95000.14"), Rounding.NEAREST) == D("95000.1")
    assert format_decimal(round_price(BTC, D("95000.149"))) == "95000.1"


def test_limit_prices_never_trade_worse_than_asked():
    assert round_limit_price(ETH, D("2500.019"), Side.BUY) == D("2500.01")
    assert round_limit_price(ETH, D("2500.011"), Side.SELL) == D("2500.02")


@pytest.mark.parametrize(
    ("side", "order_type", "expected"),
    [
        (Side.SELL, OrderType.STOP_MARKET, D("95000.1")),  # long's stop-loss: further below
        (Side.BUY, OrderType.STOP_MARKET, D("95000.2")),  # short's stop-loss: further above
        (Side.SELL, OrderType.TAKE_PROFIT_MARKET, D("95000.2")),  # long's take-profit: not before
        (Side.BUY, OrderType.TAKE_PROFIT, D("95000.1")),  # short's take-profit: not before
    ],
)
def test_trigger_prices_never_fire_early(side, order_type, expected):
    assert round_trigger_price(BTC, D("95000.15"), side, order_type) == expected


def test_trigger_rounding_refuses_untriggered_types():
    with pytest.raises(ValueError):
        round_trigger_price(BTC, D("95000"), Side.BUY, OrderType.LIMIT)


def test_percent_price_bounds_and_clamp():
    low, high = percent_price_bounds(BTC, D("100000.0"))
    assert (low, high) == (D("95000.0"), D("105000.0"))
    assert clamp_limit_price(BTC, D("120000"), Side.BUY, D("100000")) == D("105000.0")
    assert clamp_limit_price(BTC, D("1"), Side.SELL, D("100000")) == D("95000.0")
    # PRICE_FILTER's minPrice wins over the percent band near the bottom.
    low, _ = percent_price_bounds(BTC, D("270"))
    assert low == D("261.1")


def test_percent_price_bounds_report_an_impossible_band():
    with pytest.raises(PriceOutOfRangeError):
        percent_price_bounds(BTC, D("1000000"))  # the whole band is above maxPrice


def test_round_qty_floors_to_the_right_lot_filter():
    inst = make_instrument(
        "XUSDT",
        tick="0.01",
        step="0.001",
        min_notional="5",
        min_price="0.01",
        max_price="1000",
        min_qty="0.001",
        max_qty="100",
        market_step="0.01",
    )
    assert round_qty(inst, D("1.2399"), market=False) == D("1.239")
    assert round_qty(inst, D("1.2399"), market=True) == D("1.23")
    assert round_qty(inst, D("0.0009"), market=False) == D("0")


def test_min_qty_for_notional():
    assert min_qty_for_notional(BTC, D("100000"), market=False) == D("0.001")
    assert min_qty_for_notional(BTC, D("95000.1"), market=False) == D("0.002")  # 0.001 × 95000.1 < 100
    assert min_qty_for_notional(ETH, D("2500"), market=True) == D("0.008")
    assert min_qty_for_notional(ETH, D("100000"), market=False) == D("0.001")  # lot minimum binds


def test_size_order_from_notional_and_qty():
    size = size_order(BTC, price=D("95000.1"), notional=D("1000"))
    assert size.qty == D("0.010") and not size.rounded_up
    assert size.notional == D("950.001")
    assert size_order(ETH, price=D("2500"), qty=D("0.0109")).qty == D("0.010")


def test_size_order_below_minimum_raises_or_rounds_up():
    with pytest.raises(QuantityBelowMinimumError) as err:
        size_order(BTC, price=D("95000.1"), notional=D("99"))
    assert err.value.minimum == D("0.002")
    up = size_order(BTC, price=D("95000.1"), notional=D("99"), round_up_to_min=True)
    assert up.qty == D("0.002") and up.rounded_up


def test_size_order_reduce_only_is_exempt_from_min_notional():
    assert size_order(BTC, price=D("95000"), qty=D("0.001"), reduce_only=True).qty == D("0.001")
    with pytest.raises(QuantityBelowMinimumError):
        size_order(BTC, price=D("95000"), qty=D("0.001"))


def test_size_order_above_maximum_raises_or_clips():
    with pytest.raises(QuantityAboveMaximumError):
        size_order(BTC, price=D("95000"), qty=D("150"), market=True)
    assert size_order(BTC, price=D("95000"), qty=D("150"), market=True, clip_to_max=True).qty == D("120")
    assert size_order(BTC, price=D("95000"), qty=D("150")).qty == D("150")  # LOT_SIZE allows 1000


def test_size_order_rejects_ambiguous_requests():
    with pytest.raises(ValueError):
        size_order(BTC, price=D("95000"))
    with pytest.raises(ValueError):
        size_order(BTC, price=D("95000"), qty=D("1"), notional=D("1"))
    with pytest.raises(ValueError):
        size_order(BTC, price=D("0"), qty=D("1"))
    with pytest.raises(ValueError):
        size_order(BTC, price=D("95000"), qty=D("-1"))
