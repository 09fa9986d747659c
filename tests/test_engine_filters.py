"""Order filters and the default instrument set."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.types import Side
from exchanges.sandbox.engine.filters import (
    check_order_filters,
    check_price_filter,
    decimals_of,
    default_instruments,
    percent_price_bounds,
)
from exchanges.sandbox.engine.margin import bracket_for, maint_margin, max_notional_for_leverage
from exchanges.sandbox.errors import ExchangeError

D = Decimal
INSTRUMENTS = {i.symbol: i for i in default_instruments()}
BTC = INSTRUMENTS["BTCUSDT"]
REF = D("100000")


def code_of(**kw: object) -> int | None:
    args: dict[str, object] = {
        "quantity": D("0.01"),
        "price": D("100000.0"),
        "is_market": False,
        "reduce_only": False,
        "reference_price": REF,
    }
    args.update(kw)
    try:
        check_order_filters(BTC, **args)  # type: ignore[arg-type]
    except ExchangeError as e:
        return e.code
    return None


def test_default_instruments_cover_liquid_perps_with_btc_as_specified() -> None:
    assert {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT"} <= set(INSTRUMENTS)
    f = BTC.filters
    assert (BTC.price_precision, BTC.quantity_precision) == (2, 3)
    assert (f.tick_size, f.step_size, f.min_qty, f.max_qty, f.market_max_qty) == (
        D("0.10"),
        D("0.001"),
        D("0.001"),
        D("1000"),
        D("120"),
    )
    assert (f.min_notional, f.multiplier_up, f.multiplier_down) == (D("100"), D("1.05"), D("0.95"))
    assert (f.max_num_orders, f.max_num_algo_orders) == (200, 10)
    eth = INSTRUMENTS["ETHUSDT"].filters
    assert (eth.tick_size, eth.step_size, eth.min_notional) == (D("0.01"), D("0.001"), D("20"))
    assert BTC.brackets[0].max_leverage == 125


@pytest.mark.parametrize("inst", list(INSTRUMENTS.values()), ids=lambda i: i.symbol)
def test_brackets_are_contiguous_and_maint_margin_continuous(inst) -> None:
    bs = inst.brackets
    assert bs[0].notional_floor == 0 and bs[0].cum == 0
    for prev, cur in itertools.pairwise(bs):
        assert cur.notional_floor == prev.notional_cap
        assert cur.max_leverage < prev.max_leverage
        edge = cur.notional_floor
        # Both tiers give the same maintenance margin at the boundary: that is what ``cum`` is for.
        assert edge * prev.maint_margin_ratio - prev.cum == edge * cur.maint_margin_ratio - cur.cum


def test_btc_brackets_match_published_values() -> None:
    assert [b.cum for b in BTC.brackets[:4]] == [D(0), D(50), D(950), D(11450)]
    assert bracket_for(BTC.brackets, D("49999")).bracket == 1
    assert bracket_for(BTC.brackets, D("50000")).bracket == 2
    assert maint_margin(BTC.brackets, D("100000")) == D("100000") * D("0.005") - D(50)
    assert max_notional_for_leverage(BTC.brackets, 125) == D("50000")
    assert max_notional_for_leverage(BTC.brackets, 20) == D("100000000")


def test_valid_order_passes() -> None:
    assert code_of() is None
    assert code_of(is_market=True, price=None) is None


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"quantity": D("0")}, -4003),
        ({"quantity": D("0.0001")}, -1111),
        ({"price": D("100000.001")}, -1111),
        ({"price": D("100000.05")}, -4014),
        ({"price": D("100")}, -4001),
        ({"price": D("900000.0")}, -4002),
        ({"quantity": D("1001")}, -4005),
        ({"quantity": D("121"), "is_market": True, "price": None}, -4005),
        ({"quantity": D("0.0009")}, -1111),
        ({"price": D("105000.1"), "side": Side.BUY}, -4016),
        ({"price": D("94999.9"), "side": Side.SELL}, -4024),
        ({"quantity": D("0.001"), "price": D("99000.0")}, -4164),
        ({"quantity": D("0.001"), "is_market": True, "price": None, "reference_price": D("99000")}, -4164),
    ],
)
def test_filter_violations_raise_binance_codes(kw: dict[str, object], code: int) -> None:
    assert code_of(**kw) == code


def test_percent_price_is_one_sided_and_min_notional_waived_for_reduce_only() -> None:
    # A SELL may be far above the mark, a BUY far below it.
    assert code_of(price=D("105000.1"), side=Side.SELL) is None
    assert code_of(price=D("94999.9"), side=Side.BUY) is None
    assert code_of(quantity=D("0.001"), price=D("99000.0"), reduce_only=True) is None
    low, high = percent_price_bounds(BTC.filters, REF)
    assert (low, high) == (D("95000.0"), D("105000.0"))
    assert code_of(price=high, side=Side.BUY) is None


def test_price_filter_and_decimals() -> None:
    assert decimals_of(D("1.50")) == 1
    assert decimals_of(D("100")) == 0
    check_price_filter(BTC, D("100000.1"))
    with pytest.raises(ExchangeError) as e:
        check_price_filter(BTC, D("100000.155"))
    assert e.value.code == -1111


@given(
    steps=st.integers(min_value=1, max_value=1_000_000),
    ticks=st.integers(min_value=0, max_value=200_000),
    symbol=st.sampled_from(sorted(INSTRUMENTS)),
)
def test_grid_aligned_orders_in_range_never_fail_grid_checks(steps: int, ticks: int, symbol: str) -> None:
    inst = INSTRUMENTS[symbol]
    f = inst.filters
    qty = f.min_qty + (steps - 1) * f.step_size
    price = f.min_price + ticks * f.tick_size
    try:
        check_order_filters(
            inst, quantity=qty, price=price, is_market=False, reduce_only=True, reference_price=price
        )
    except ExchangeError as e:
        # Only range limits may fail for on-grid values: never precision or grid errors.
        assert e.code in (-4002, -4005), e
