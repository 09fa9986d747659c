"""Positions, PnL, fees, funding, margin settings and liquidation."""

from __future__ import annotations

import pytest

from core.types import ExecutionType, IncomeType, MarginType, OrderType, Side
from exchanges.sandbox.engine.events import AccountEvent, OrderEvent
from exchanges.sandbox.errors import ExchangeError
from tests.test_engine_support import BTC, KEY, D, Venue, lmt, mkt


def code(fn, *args) -> int:
    with pytest.raises(ExchangeError) as e:
        fn(*args)
    return e.value.code


def test_entry_price_realized_pnl_and_flip() -> None:
    v = Venue()
    v.market("100000")
    v.core.new_order(KEY, lmt(Side.BUY, "1", "100000.0"))
    v.trade("99990.0")
    v.core.new_order(KEY, lmt(Side.BUY, "1", "99000.0"))
    v.trade("98990.0")
    pos = v.core.positions(KEY, BTC)[0]
    assert pos.qty == D("2") and pos.entry_price == D("99500")
    v.core.new_order(KEY, lmt(Side.SELL, "3", "101000.0"))
    v.trade("101010.0", "5")
    pos = v.core.positions(KEY, BTC)[0]
    assert pos.qty == D("-1") and pos.entry_price == D("101000.0")
    pnl = [r.income for r in v.core.income(KEY, income_type=IncomeType.REALIZED_PNL)]
    assert pnl == [D("3000")]  # (101000 - 99500) * 2
    assert v.wallet() - D("100000") == v.ledger_sum()
    fees = [r.income for r in v.core.income(KEY, income_type=IncomeType.COMMISSION)]
    assert fees == [-D("20"), -D("19.8"), -D("60.6")]  # maker 0.02 %


def test_unrealized_pnl_break_even_and_liquidation_price() -> None:
    v = Venue(balance="10000")
    v.market("100000")
    v.core.new_order(KEY, mkt(Side.BUY, "1"))
    v.mark("99000")
    pos = v.core.positions(KEY, BTC)[0]
    assert pos.unrealized_pnl == (D("99000") - pos.entry_price) * 1
    assert pos.break_even_price > pos.entry_price
    t = v.core.account_totals(KEY)
    assert t.total_margin_balance == t.total_wallet_balance + t.total_unrealized_profit
    # At the liquidation price margin balance meets maintenance margin.
    lp = pos.liquidation_price
    assert D("90000") < lp < D("99000")
    v.mark(str((lp + D("5")).quantize(D("0.1"))))
    assert v.core.positions(KEY, BTC)[0].qty == D("1")
    v.mark(str((lp - D("5")).quantize(D("0.1"))))
    assert v.core.positions(KEY, BTC)[0].qty == 0


def test_liquidation_events_fee_and_wallet_floor() -> None:
    v = Venue(balance="5000")
    v.market("100000")
    v.core.set_leverage(KEY, BTC, 50)
    v.core.new_order(KEY, mkt(Side.BUY, "1"))
    v.core.new_order(KEY, lmt(Side.BUY, "0.01", "90000.0"))
    v.core.drain_events()
    v.mark("80000")  # far beyond bankruptcy: the loss is capped at the wallet
    evs = v.core.drain_events()
    orders = [e for e in evs if isinstance(e, OrderEvent)]
    assert orders[0].execution_type is ExecutionType.CANCELED
    liq = orders[1]
    assert liq.execution_type is ExecutionType.CALCULATED and liq.order.type is OrderType.LIQUIDATION
    assert liq.order.client_order_id.startswith("autoclose-") and liq.fill is not None
    assert any(isinstance(e, AccountEvent) and e.reason == "ORDER" for e in evs)
    assert v.wallet() == 0
    assert v.wallet() - D("5000") == v.ledger_sum()
    assert v.core.positions(KEY, BTC)[0].qty == 0 and v.core.open_orders(KEY, None) == []


def test_liquidation_charges_clearance_fee_as_insurance_clear() -> None:
    v = Venue(balance="10000")
    v.market("100000")
    v.core.new_order(KEY, mkt(Side.BUY, "1"))
    lp = v.core.positions(KEY, BTC)[0].liquidation_price
    v.mark(str((lp - D("1")).quantize(D("0.1"))))
    rows = v.core.income(KEY, income_type=IncomeType.INSURANCE_CLEAR)
    assert len(rows) == 1 and rows[0].income < 0
    assert v.wallet() >= 0
    assert v.wallet() - D("10000") == v.ledger_sum()


def test_isolated_position_liquidates_on_its_own_margin() -> None:
    v = Venue(balance="100000")
    v.market("100000")
    v.core.set_margin_type(KEY, BTC, MarginType.ISOLATED)
    assert code(v.core.set_margin_type, KEY, BTC, MarginType.ISOLATED) == -4046
    v.core.set_leverage(KEY, BTC, 10)
    v.core.new_order(KEY, mkt(Side.BUY, "1"))
    pos = v.core.positions(KEY, BTC)[0]
    assert pos.margin_type is MarginType.ISOLATED and pos.isolated_margin > D("9000")
    assert code(v.core.set_margin_type, KEY, BTC, MarginType.CROSSED) == -4048
    # Cross wallet is plenty, but the isolated margin (~10k) is gone at ~ -9.5 %.
    v.mark("90000")
    assert v.core.positions(KEY, BTC)[0].qty == 0
    assert v.wallet() > D("85000")


def test_funding_payments() -> None:
    v = Venue()
    v.market("100000")
    v.core.new_order(KEY, mkt(Side.BUY, "1"))
    v.core.drain_events()
    before = v.wallet()
    v.core.settle_funding(BTC, D("0.0001"), v.clock.now_ms())
    assert v.wallet() - before == -D("10")  # long pays 100000 * 0.0001
    evs = v.core.drain_events()
    assert [e.reason for e in evs if isinstance(e, AccountEvent)] == ["FUNDING_FEE"]
    v.core.new_order(KEY, mkt(Side.SELL, "2"))
    before = v.wallet()
    v.core.settle_funding(BTC, D("0.0001"), v.clock.now_ms())
    assert v.wallet() - before == D("10")  # short receives
    assert v.core.income(KEY, income_type=IncomeType.FUNDING_FEE)[-1].income == D("10")
    assert v.wallet() - D("100000") == v.ledger_sum()


def test_leverage_margin_type_and_position_mode_settings() -> None:
    v = Venue()
    v.market("100000")
    assert v.core.set_leverage(KEY, BTC, 125) == (125, D("50000"))
    assert code(v.core.set_leverage, KEY, BTC, 126) == -4028
    assert code(v.core.set_leverage, KEY, BTC, 0) == -4028
    v.core.set_leverage(KEY, BTC, 20)
    v.core.new_order(KEY, mkt(Side.BUY, "1"))
    assert code(v.core.set_leverage, KEY, BTC, 125) == -2027  # 100k notional > 50k cap at 125x
    assert v.core.position_mode(KEY) is False
    assert code(v.core.set_position_mode, KEY, False) == -4059
    assert code(v.core.set_position_mode, KEY, True) == -4068
    v.core.new_order(KEY, mkt(Side.SELL, "1"))
    v.core.new_order(KEY, lmt(Side.BUY, "0.01", "99000.0"))
    assert code(v.core.set_position_mode, KEY, True) == -4067
    assert code(v.core.set_margin_type, KEY, BTC, MarginType.ISOLATED) == -4047
    v.core.cancel_all_orders(KEY, BTC)
    assert code(v.core.set_position_mode, KEY, True) == -1020
    assert v.core.commission_rate(KEY, BTC) == (D("0.0002"), D("0.0005"))


def test_positions_list_every_symbol_and_depth_is_synthetic() -> None:
    v = Venue()
    v.market("100000")
    ps = v.core.positions(KEY, None)
    assert {p.symbol for p in ps} == set(v.core.instruments) and all(p.qty == 0 for p in ps)
    bids, asks = v.core.depth(BTC, 5)
    assert bids[0] == (D("100000"), D("2")) and asks[0] == (D("100000.1"), D("2"))
    assert [p for p, _ in bids] == sorted((p for p, _ in bids), reverse=True)
    assert len(asks) == 5 and asks[1][0] == D("100000.2")
    assert v.core.depth("ETHUSDT", 5) == ([], [])
    assert v.core.balances(KEY)[0].asset == "USDT"
