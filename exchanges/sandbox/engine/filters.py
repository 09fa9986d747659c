"""Order filters of a symbol, applied as Binance USDⓈ-M applies them, and the default instrument set.

The checks run in the order the venue reports them: quantity sign, decimal precision (-1111), the price
filter (-4001/-4002/-4014), the lot size filter (LOT_SIZE, or MARKET_LOT_SIZE for market orders:
-4004/-4005/-4023), PERCENT_PRICE for limit prices (-4016/-4024) and MIN_NOTIONAL (-4164, waived for
reduce-only orders).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core.types import Instrument, LeverageBracket, Side, SymbolFilters
from exchanges.sandbox.errors import ExchangeError

__all__ = [
    "check_order_filters",
    "check_price_filter",
    "decimals_of",
    "default_instruments",
    "percent_price_bounds",
]


def decimals_of(value: Decimal) -> int:
    """Significant decimal places of ``value`` (trailing zeros do not count: ``1.50`` has 1)."""
    exponent = value.normalize().as_tuple().exponent
    if not isinstance(exponent, int):  # NaN / Infinity never reach here through the parser
        raise ExchangeError.precision()
    return max(0, -exponent)


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    return step == 0 or value % step == 0


def check_price_filter(instrument: Instrument, price: Decimal) -> None:
    """PRICE_FILTER and pricePrecision for a limit or trigger price."""
    f = instrument.filters
    if decimals_of(price) > instrument.price_precision:
        raise ExchangeError.precision()
    if price < f.min_price:
        raise ExchangeError.price_below_min()
    if f.max_price > 0 and price > f.max_price:
        raise ExchangeError.price_above_max()
    if not _is_multiple(price - f.min_price, f.tick_size):
        raise ExchangeError.price_not_tick()


def percent_price_bounds(filters: SymbolFilters, reference_price: Decimal) -> tuple[Decimal, Decimal]:
    """(lowest SELL limit price, highest BUY limit price) that PERCENT_PRICE allows around the mark.

    The bounds are rounded inwards to the tick so that the price quoted in -4016/-4024 is itself valid.
    """
    tick = filters.tick_size
    low = reference_price * filters.multiplier_down
    high = reference_price * filters.multiplier_up
    if tick > 0:
        low = (low / tick).to_integral_value(ROUND_CEILING) * tick
        high = (high / tick).to_integral_value(ROUND_FLOOR) * tick
    return low, high


def check_order_filters(
    instrument: Instrument,
    *,
    quantity: Decimal,
    price: Decimal | None,
    is_market: bool,
    reduce_only: bool,
    reference_price: Decimal,
    side: Side | None = None,
) -> None:
    """Raise the ``ExchangeError`` Binance answers when an order breaks one of the symbol's filters.

    ``price`` is the limit price (``None`` for market orders); ``reference_price`` is the mark price (or the
    last price when no mark is known) used for PERCENT_PRICE and for the notional of market orders. Binance
    checks PERCENT_PRICE one-sided: a BUY may not be above ``mark * multiplierUp``, a SELL not below
    ``mark * multiplierDown``; with ``side=None`` both bounds apply.
    """
    f = instrument.filters
    if quantity <= 0:
        raise ExchangeError.qty_below_min()
    if decimals_of(quantity) > instrument.quantity_precision:
        raise ExchangeError.precision()
    if price is not None and not is_market:
        if price <= 0:
            raise ExchangeError.price_below_min()
        check_price_filter(instrument, price)
    min_qty, max_qty, step = (
        (f.market_min_qty, f.market_max_qty, f.market_step_size)
        if is_market
        else (f.min_qty, f.max_qty, f.step_size)
    )
    if quantity < min_qty:
        raise ExchangeError.qty_below_min_qty()
    if quantity > max_qty:
        raise ExchangeError.qty_above_max()
    if not _is_multiple(quantity - min_qty, step):
        raise ExchangeError.qty_not_step()
    if price is not None and not is_market and reference_price > 0:
        low, high = percent_price_bounds(f, reference_price)
        if side is not Side.SELL and price > high:
            raise ExchangeError.price_out_of_bounds(True, high)
        if side is not Side.BUY and price < low:
            raise ExchangeError.price_out_of_bounds(False, low)
    if not reduce_only:
        notional_price = reference_price if (is_market or price is None) else price
        if quantity * notional_price < f.min_notional:
            raise ExchangeError.min_notional(f.min_notional)


# --- default instruments -------------------------------------------------------------------------------


def _brackets(tiers: list[tuple[int, str, str]]) -> tuple[LeverageBracket, ...]:
    """Build brackets from ``(max_leverage, notional_cap, maint_margin_ratio)`` tiers.

    ``cum`` (the maintenance amount) is derived so maintenance margin is continuous across tiers, which is
    how Binance defines it: ``cum_n = cum_{n-1} + floor_n * (mmr_n - mmr_{n-1})``.
    """
    out: list[LeverageBracket] = []
    floor = Decimal(0)
    cum = Decimal(0)
    prev_mmr = Decimal(0)
    for i, (lev, cap, mmr) in enumerate(tiers, start=1):
        ratio = Decimal(mmr)
        cum += floor * (ratio - prev_mmr)
        out.append(
            LeverageBracket(
                bracket=i,
                max_leverage=lev,
                notional_floor=floor,
                notional_cap=Decimal(cap),
                maint_margin_ratio=ratio,
                cum=cum,
            )
        )
        floor = Decimal(cap)
        prev_mmr = ratio
    return tuple(out)


_MAJOR_TIERS_BTC = [
    (125, "50000", "0.004"),
    (100, "600000", "0.005"),
    (75, "3000000", "0.0065"),
    (50, "12000000", "0.01"),
    (25, "70000000", "0.02"),
    (20, "100000000", "0.025"),
    (10, "230000000", "0.05"),
    (5, "480000000", "0.1"),
    (4, "600000000", "0.125"),
    (3, "800000000", "0.15"),
    (2, "1200000000", "0.25"),
    (1, "1800000000", "0.5"),
]
_MAJOR_TIERS_ETH = [
    (125, "50000", "0.004"),
    (100, "600000", "0.005"),
    (75, "3000000", "0.0065"),
    (50, "12000000", "0.01"),
    (25, "50000000", "0.02"),
    (20, "65000000", "0.025"),
    (10, "150000000", "0.05"),
    (5, "320000000", "0.1"),
    (4, "400000000", "0.125"),
    (3, "530000000", "0.15"),
    (2, "800000000", "0.25"),
    (1, "1200000000", "0.5"),
]
_ALT_TIERS = [
    (75, "10000", "0.005"),
    (50, "50000", "0.01"),
    (25, "250000", "0.02"),
    (20, "1000000", "0.025"),
    (10, "5000000", "0.05"),
    (5, "10000000", "0.1"),
    (4, "15000000", "0.125"),
    (2, "25000000", "0.25"),
    (1, "50000000", "0.5"),
]


def _instrument(
    symbol: str,
    base: str,
    *,
    price_precision: int,
    quantity_precision: int,
    tick: str,
    min_price: str,
    max_price: str,
    step: str,
    max_qty: str,
    market_max_qty: str,
    min_notional: str,
    tiers: list[tuple[int, str, str]],
    liquidation_fee: str = "0.0125",
    trigger_protect: str = "0.0500",
) -> Instrument:
    filters = SymbolFilters(
        tick_size=Decimal(tick),
        min_price=Decimal(min_price),
        max_price=Decimal(max_price),
        step_size=Decimal(step),
        min_qty=Decimal(step),
        max_qty=Decimal(max_qty),
        market_step_size=Decimal(step),
        market_min_qty=Decimal(step),
        market_max_qty=Decimal(market_max_qty),
        min_notional=Decimal(min_notional),
        multiplier_up=Decimal("1.0500"),
        multiplier_down=Decimal("0.9500"),
        multiplier_decimal=4,
        max_num_orders=200,
        max_num_algo_orders=10,
    )
    return Instrument(
        symbol=symbol,
        base_asset=base,
        quote_asset="USDT",
        margin_asset="USDT",
        price_precision=price_precision,
        quantity_precision=quantity_precision,
        base_asset_precision=8,
        quote_precision=8,
        filters=filters,
        brackets=_brackets(tiers),
        liquidation_fee=Decimal(liquidation_fee),
        market_take_bound=Decimal("0.05"),
        trigger_protect=Decimal(trigger_protect),
    )


def default_instruments() -> tuple[Instrument, ...]:
    """Liquid USDⓈ-M perpetuals with the filters and leverage brackets the venue publishes today."""
    return (
        _instrument(
            "BTCUSDT",
            "BTC",
            price_precision=2,
            quantity_precision=3,
            tick="0.10",
            min_price="261.10",
            max_price="809484",
            step="0.001",
            max_qty="1000",
            market_max_qty="120",
            min_notional="100",
            tiers=_MAJOR_TIERS_BTC,
        ),
        _instrument(
            "ETHUSDT",
            "ETH",
            price_precision=2,
            quantity_precision=3,
            tick="0.01",
            min_price="37.13",
            max_price="306177",
            step="0.001",
            max_qty="10000",
            market_max_qty="2000",
            min_notional="20",
            tiers=_MAJOR_TIERS_ETH,
        ),
        _instrument(
            "SOLUSDT",
            "SOL",
            price_precision=4,
            quantity_precision=0,
            tick="0.0100",
            min_price="0.4200",
            max_price="6857",
            step="1",
            max_qty="1000000",
            market_max_qty="5000",
            min_notional="5",
            tiers=_ALT_TIERS,
            trigger_protect="0.1500",
        ),
        _instrument(
            "BNBUSDT",
            "BNB",
            price_precision=3,
            quantity_precision=2,
            tick="0.010",
            min_price="6.600",
            max_price="100000",
            step="0.01",
            max_qty="100000",
            market_max_qty="2000",
            min_notional="5",
            tiers=_ALT_TIERS,
        ),
        _instrument(
            "XRPUSDT",
            "XRP",
            price_precision=4,
            quantity_precision=1,
            tick="0.0001",
            min_price="0.0143",
            max_price="100000",
            step="0.1",
            max_qty="10000000",
            market_max_qty="2000000",
            min_notional="5",
            tiers=_ALT_TIERS,
        ),
        _instrument(
            "DOGEUSDT",
            "DOGE",
            price_precision=6,
            quantity_precision=0,
            tick="0.000010",
            min_price="0.002440",
            max_price="30",
            step="1",
            max_qty="50000000",
            market_max_qty="30000000",
            min_notional="5",
            tiers=_ALT_TIERS,
            trigger_protect="0.1500",
        ),
    )
