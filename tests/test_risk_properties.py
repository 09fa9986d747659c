"""RiskEngine properties: every accepted size passes the sandbox's own filters and respects every cap."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.clock import ManualClock
from core.config_trading import RiskSettings
from core.decisions import Decision
from core.enums import Side
from core.risk import RiskEngine
from core.risk_limits import PositionExposure, RiskInputs
from core.types import Instrument
from exchanges.sandbox.engine.filters import check_order_filters, default_instruments

NOW = 1_747_000_000_000
INSTRUMENTS = {i.symbol: i for i in default_instruments()}
SIZING_REFUSALS = {"below_min_notional", "filters", "max_exposure", "insufficient_margin", "no_equity"}


def money(low: int, high: int) -> st.SearchStrategy[Decimal]:
    return st.decimals(low, high, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def priced(draw: st.DrawFn) -> tuple[Instrument, Decimal, Decimal]:
    """An instrument, a tick-aligned price in its PRICE_FILTER range, and a stop distance below the price."""
    instrument = draw(st.sampled_from(sorted(INSTRUMENTS.values(), key=lambda i: i.symbol)))
    f = instrument.filters
    low = int(f.min_price / f.tick_size) + 1
    high = int(min(f.max_price, f.min_price * 1000) / f.tick_size)
    price = draw(st.integers(low, high)) * f.tick_size
    stop_share = draw(st.decimals(Decimal("0.0005"), Decimal("0.5"), places=4))
    return instrument, price, price * stop_share


@given(
    case=priced(),
    equity=money(1, 5_000_000),
    available_share=st.decimals(Decimal("0.01"), Decimal(1), places=2),
    exposure_share=st.decimals(Decimal(0), Decimal(6), places=2),
    risk_per_trade=st.decimals(Decimal("0.003"), Decimal("0.05"), places=3),
    leverage=st.integers(1, 125),
    max_leverage=st.decimals(Decimal("0.5"), Decimal(20), places=1),
    max_notional=money(10, 10_000_000),
    side=st.sampled_from([Side.BUY, Side.SELL]),
)
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_accepted_sizes_pass_the_exchange_filters_and_every_cap(
    case: tuple[Instrument, Decimal, Decimal],
    equity: Decimal,
    available_share: Decimal,
    exposure_share: Decimal,
    risk_per_trade: Decimal,
    leverage: int,
    max_leverage: Decimal,
    max_notional: Decimal,
    side: Side,
):
    instrument, price, stop = case
    risk_settings = RiskSettings(
        risk_per_trade=risk_per_trade,
        leverage=leverage,
        max_leverage=max_leverage,
        max_notional=max_notional,
        kelly_floor=min(Decimal("0.0025"), risk_per_trade),
    )
    engine = RiskEngine(risk_settings, ManualClock(NOW), INSTRUMENTS)
    existing = equity * exposure_share
    other = "ETHUSDT" if instrument.symbol != "ETHUSDT" else "BTCUSDT"
    account = RiskInputs(
        equity=equity,
        available=equity * available_share,
        positions={other: PositionExposure(qty=Decimal(1), notional=existing)} if existing else {},
    )
    decision = Decision(
        decision_id="p",
        symbol=instrument.symbol,
        side=side,
        conviction=1.0,
        reference_price=price,
        stop_distance=stop,
        take_profit_distance=stop,
        ts=NOW,
        timeframe="5m",
    )
    verdict = engine.allow(decision, account)
    event(verdict.reason or "accepted")
    if not verdict.accepted:
        assert verdict.reason in SIZING_REFUSALS, verdict
        assert engine.rejections() == {verdict.reason: 1}
        return
    # The sandbox judges a MARKET entry at the mark; it must pass even if the mark is 1% below the close.
    for mark in (price, price * Decimal("0.99")):
        check_order_filters(
            instrument,
            quantity=verdict.qty,
            price=None,
            is_market=True,
            reduce_only=False,
            reference_price=mark,
            side=side,
        )
    assert verdict.notional == verdict.qty * price
    assert verdict.qty * stop <= equity * risk_per_trade  # never more at risk than the budget
    assert verdict.notional <= equity * max_leverage
    assert verdict.notional <= account.available * verdict.leverage
    assert verdict.notional <= max_notional
    assert verdict.notional + existing <= equity * risk_settings.max_exposure
    assert 1 <= verdict.leverage <= leverage
    assert any(
        b.max_leverage >= verdict.leverage and verdict.notional <= b.notional_cap for b in instrument.brackets
    )
