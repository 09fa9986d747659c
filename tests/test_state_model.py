"""Position math of the state model: one-way positions, average entry, realized PnL, flips."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.types import Fill, Side
from state.model import (
    STATE_VERSION,
    Bracket,
    BracketStatus,
    FillRecord,
    Halt,
    PositionState,
    StateSnapshot,
    WalRecord,
    WeightsRecord,
    apply_to_position,
    check_fill,
    fill_fee_in_quote,
    money,
)
from state.model import InvalidFillError as Invalid

D = Decimal
FLAT = PositionState(symbol="BTCUSDT")


def test_open_add_reduce_close():
    pos, pnl = apply_to_position(FLAT, Side.BUY, D("1"), D("100"), 10)
    assert (pos.qty, pos.entry_price, pos.opened_ts, pnl) == (D("1"), D("100"), 10, D(0))
    pos, pnl = apply_to_position(pos, Side.BUY, D("3"), D("200"), 20)
    assert pos.qty == 4 and pos.entry_price == D("175") and pos.opened_ts == 10 and pnl == 0
    pos, pnl = apply_to_position(pos, Side.SELL, D("1"), D("185"), 30)
    assert pos.qty == 3 and pos.entry_price == D("175") and pnl == D("10")
    pos, pnl = apply_to_position(pos, Side.SELL, D("3"), D("170"), 40)
    assert pos.qty == 0 and pos.entry_price == 0 and pos.opened_ts == 0 and pnl == D("-15")
    assert pos.updated_ts == 40 and pos.is_flat and pos.side is None


def test_short_and_flip():
    pos, _ = apply_to_position(FLAT, Side.SELL, D("2"), D("100"), 1)
    assert pos.qty == -2 and pos.side is Side.SELL
    pos, pnl = apply_to_position(pos, Side.BUY, D("5"), D("90"), 2)
    # 2 closed at +10 each; the remaining 3 open a long at the fill price.
    assert pnl == D("20") and pos.qty == 3 and pos.entry_price == D("90") and pos.opened_ts == 2


def test_entry_rounding_matches_ten_decimals():
    pos, _ = apply_to_position(FLAT, Side.BUY, D("1"), D("1"), 1)
    pos, _ = apply_to_position(pos, Side.BUY, D("2"), D("2"), 2)
    assert pos.entry_price == D("1.6666666667")
    assert money(D("0.123456785")) == D("0.12345679") and money(D("-0.000000001")) == 0


def test_fee_asset():
    fill = _fill(commission_asset="USDT")
    assert fill_fee_in_quote(fill)
    assert not fill_fee_in_quote(msgspec.structs.replace(fill, commission_asset="BNB"))
    assert not fill_fee_in_quote(msgspec.structs.replace(fill, commission_asset=""))


@pytest.mark.parametrize(
    ("field", "value"),
    [("qty", D(0)), ("qty", D(-1)), ("price", D(0)), ("price", D("NaN")), ("realized_pnl", D("Infinity"))],
)
def test_check_fill_rejects_bad_numbers(field, value):
    with pytest.raises(Invalid, match=field):
        check_fill(msgspec.structs.replace(_fill(), **{field: value}))
    with pytest.raises(Invalid, match="symbol"):
        check_fill(msgspec.structs.replace(_fill(), symbol=""))


fills_st = st.lists(
    st.tuples(
        st.sampled_from([Side.BUY, Side.SELL]),
        st.integers(min_value=1, max_value=5000).map(lambda n: D(n) / 1000),
        st.integers(min_value=1, max_value=200_000).map(lambda n: D(n) / 10),
    ),
    max_size=60,
)


@given(fills_st)
def test_position_properties(fills):
    pos, total_signed, realized = FLAT, D(0), D(0)
    for i, (side, qty, price) in enumerate(fills):
        before = pos
        pos, pnl = apply_to_position(pos, side, qty, price, i + 1)
        total_signed += qty * side.sign
        realized += pnl
        assert pos.qty == total_signed  # quantity is exact: the sum of signed fills
        assert (pos.entry_price == 0) == (pos.qty == 0)
        assert pos.entry_price >= 0
        if before.qty != 0 and (before.qty > 0) != (side is Side.BUY):
            closed = min(qty, abs(before.qty))
            expected = money((price - before.entry_price) * closed * (1 if before.qty > 0 else -1))
            assert pnl == expected
        else:
            assert pnl == 0
        if (
            pos.qty != 0
            and before.qty != 0
            and (pos.qty > 0) == (before.qty > 0)
            and abs(pos.qty) < abs(before.qty)
        ):
            assert pos.entry_price == before.entry_price  # reducing never moves the entry
        assert pnl == pnl.quantize(D("0.00000001"))


def test_snapshot_round_trips_through_json():
    snap = StateSnapshot.empty(5)
    bracket = Bracket(
        decision_id="d1",
        symbol="BTCUSDT",
        side=Side.BUY,
        qty=D("0.010"),
        entry_client_id="e",
        tp_client_id="t",
        sl_client_id="s",
        tp_price=D("101000.1"),
        sl_price=D("99000.0"),
        status=BracketStatus.PROTECTED,
        opened_ts=1,
        updated_ts=2,
    )
    snap = msgspec.structs.replace(
        snap,
        positions={"BTCUSDT": PositionState(symbol="BTCUSDT", qty=D("-0.003"), entry_price=D("100000.5"))},
        brackets={"BTCUSDT": bracket},
        halts=(Halt(kind="manual", reason="test", since_ts=3),),
        weights={"rsi": 0.5},
        recent_trade_ids={"BTCUSDT": (1, 2, 3)},
    )
    back = msgspec.json.decode(msgspec.json.encode(snap), type=StateSnapshot)
    assert back == snap and back.version == STATE_VERSION
    assert back.position("ETHUSDT") == PositionState(symbol="ETHUSDT")
    assert back.active_halts(4) == snap.halts
    assert Halt(kind="ban", reason="", since_ts=0, until_ts=10).active(10) is False


def test_wal_records_are_tagged():
    records: list[WalRecord] = [FillRecord(fill=_fill()), WeightsRecord(weights={"a": 1.0}, ts=1)]
    for record in records:
        data = msgspec.json.encode(record)
        assert msgspec.json.decode(data, type=WalRecord) == record
    assert b'"k":"fill"' in msgspec.json.encode(records[0])


def _fill(**kw: object) -> Fill:
    base = {
        "symbol": "BTCUSDT",
        "trade_id": 1,
        "order_id": 1,
        "client_order_id": "c1",
        "side": Side.BUY,
        "price": D("100000"),
        "qty": D("0.01"),
        "quote_qty": D("1000"),
        "commission": D("0.5"),
        "commission_asset": "USDT",
        "realized_pnl": D(0),
        "is_maker": False,
        "ts": 1,
    }
    base.update(kw)
    return Fill(**base)  # type: ignore[arg-type]
