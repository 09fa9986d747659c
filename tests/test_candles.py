"""CandleAggregator: unit cases and hypothesis properties against a brute-force recomputation."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.candles import MINUTE_MS, CandleAggregator, interval_ms, interval_open
from core.types import ZERO, Candle, Trade

T0 = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC: a multiple of every interval up to 1d
SYMBOL = "BTCUSDT"


def trade(
    ts: int, price: str | Decimal, qty: str | Decimal = "1", *, maker: bool = False, tid: int = 0
) -> Trade:
    return Trade(
        symbol=SYMBOL, trade_id=tid, price=Decimal(price), qty=Decimal(qty), is_buyer_maker=maker, ts=ts
    )


def feed(agg: CandleAggregator, trades: Sequence[Trade]) -> list[Candle]:
    out: list[Candle] = []
    for t in trades:
        out += agg.on_trade(t)
    return out


def brute_minutes(trades: Sequence[Trade], first: int, end: int) -> list[Candle]:
    """1m candles for minutes [first, end) recomputed from scratch (flat at the previous close when empty)."""
    out: list[Candle] = []
    prev: Decimal | None = None
    for start in range(first, end, MINUTE_MS):
        inside = [t for t in trades if start <= t.ts < start + MINUTE_MS]
        if not inside:
            assert prev is not None
            out.append(
                Candle(
                    symbol=SYMBOL, interval="1m", open_time=start, close_time=start + MINUTE_MS - 1,
                    open=prev, high=prev, low=prev, close=prev, volume=ZERO,
                )
            )  # fmt: skip
            continue
        prices = [t.price for t in inside]
        buys = [t for t in inside if not t.is_buyer_maker]
        out.append(
            Candle(
                symbol=SYMBOL,
                interval="1m",
                open_time=start,
                close_time=start + MINUTE_MS - 1,
                open=prices[0],
                high=max(prices),
                low=min(prices),
                close=prices[-1],
                volume=sum((t.qty for t in inside), ZERO),
                quote_volume=sum((t.price * t.qty for t in inside), ZERO),
                trades=len(inside),
                taker_buy_volume=sum((t.qty for t in buys), ZERO),
                taker_buy_quote_volume=sum((t.price * t.qty for t in buys), ZERO),
            )
        )
        prev = prices[-1]
    return out


def rollup(minutes: Sequence[Candle], interval: str) -> Candle:
    first = minutes[0]
    open_time = interval_open(interval, first.open_time)
    return Candle(
        symbol=SYMBOL,
        interval=interval,
        open_time=open_time,
        close_time=open_time + interval_ms(interval) - 1,
        open=first.open,
        high=max(m.high for m in minutes),
        low=min(m.low for m in minutes),
        close=minutes[-1].close,
        volume=sum((m.volume for m in minutes), ZERO),
        quote_volume=sum((m.quote_volume for m in minutes), ZERO),
        trades=sum(m.trades for m in minutes),
        taker_buy_volume=sum((m.taker_buy_volume for m in minutes), ZERO),
        taker_buy_quote_volume=sum((m.taker_buy_quote_volume for m in minutes), ZERO),
    )


# --- unit cases ---------------------------------------------------------------------------------------------


def test_a_minute_closes_on_the_next_minutes_trade_with_taker_and_quote_volumes() -> None:
    agg = CandleAggregator(["1m"])
    assert feed(agg, [trade(T0 + 1, "100", "2"), trade(T0 + 500, "101", "1", maker=True)]) == []
    (c,) = agg.on_trade(trade(T0 + MINUTE_MS, "99", "1"))
    assert (c.open, c.high, c.low, c.close, c.volume, c.trades) == (
        Decimal(100), Decimal(101), Decimal(100), Decimal(101), Decimal(3), 2,
    )  # fmt: skip
    assert c.taker_buy_volume == Decimal(2) and c.taker_buy_quote_volume == Decimal(200)
    assert c.quote_volume == Decimal(301) and c.close_time == T0 + MINUTE_MS - 1 and c.closed


def test_quiet_minutes_close_flat_on_advance_and_on_a_later_trade() -> None:
    agg = CandleAggregator(["1m"])
    agg.on_trade(trade(T0 + 10, "100"))
    assert agg.advance(T0 + MINUTE_MS - 1) == []  # the minute has not ended yet
    (first,) = agg.advance(T0 + MINUTE_MS)
    assert first.volume == 1
    flat = agg.advance(T0 + 3 * MINUTE_MS + 5)
    assert [c.open_time for c in flat] == [T0 + MINUTE_MS, T0 + 2 * MINUTE_MS]
    assert all(c.open == c.high == c.low == c.close == 100 and c.volume == 0 and c.trades == 0 for c in flat)
    later = agg.on_trade(trade(T0 + 5 * MINUTE_MS, "105"))
    assert [c.open_time for c in later] == [T0 + 3 * MINUTE_MS, T0 + 4 * MINUTE_MS]


def test_a_late_trade_is_counted_and_never_changes_a_closed_candle() -> None:
    agg = CandleAggregator(["1m"])
    agg.on_trade(trade(T0 + 10, "100"))
    agg.advance(T0 + MINUTE_MS)
    late = trade(T0 + 59_000, "500")
    assert agg.is_late(late)
    assert agg.on_trade(late) == [] and agg.late == {SYMBOL: 1}
    (c,) = agg.advance(T0 + 2 * MINUTE_MS)
    assert c.high == 100  # the flat minute after, not the late price


def test_higher_timeframes_close_with_their_last_minute_shortest_first() -> None:
    agg = CandleAggregator(["15m", "1m", "5m"])
    assert agg.timeframes == ("1m", "5m", "15m")
    feed(agg, [trade(T0 + i * MINUTE_MS, str(100 + i)) for i in range(15)])
    out = agg.advance(T0 + 15 * MINUTE_MS)
    assert [(c.interval, c.open_time) for c in out] == [
        ("1m", T0 + 14 * MINUTE_MS), ("5m", T0 + 10 * MINUTE_MS), ("15m", T0),
    ]  # fmt: skip
    assert out[2].open == 100 and out[2].close == 114 and out[2].volume == 15 and out[2].trades == 15


def test_only_listed_timeframes_are_returned_but_1m_always_built() -> None:
    agg = CandleAggregator(["5m"])
    feed(agg, [trade(T0 + i * MINUTE_MS, "100") for i in range(5)])
    assert [c.interval for c in agg.advance(T0 + 5 * MINUTE_MS)] == ["5m"]


def test_open_candle_shows_progress_and_unknown_timeframes_fail() -> None:
    agg = CandleAggregator(["1m", "5m"])
    feed(agg, [trade(T0, "100"), trade(T0 + MINUTE_MS, "102"), trade(T0 + MINUTE_MS + 1, "98", "2")])
    five = agg.open_candle(SYMBOL, "5m")
    assert five is not None and not five.closed
    assert (five.open, five.high, five.low, five.close, five.volume) == tuple(
        map(Decimal, (100, 102, 98, 98, 4))
    )
    one = agg.open_candle(SYMBOL, "1m")
    assert one is not None and (one.open, one.volume) == (Decimal(102), Decimal(3))
    with pytest.raises(ValueError, match="unknown timeframe"):
        CandleAggregator(["2m"])


# --- seeding ------------------------------------------------------------------------------------------------


def minutes_of(trades: Sequence[Trade], first: int, end: int) -> list[Candle]:
    return brute_minutes(trades, first, end)


def test_seed_rebuilds_open_periods_and_returns_the_catch_up() -> None:
    trades = [trade(T0 + i * 20_000, str(100 + i % 7), tid=i) for i in range(3 * 60)]  # 60 minutes
    history = minutes_of(trades, T0, T0 + 12 * MINUTE_MS)  # minutes 0..11 closed
    # The 5m warm-up request was made before minute 10 closed: the 5m candle 5..9 is missing from it.
    agg = CandleAggregator(["1m", "5m"])
    catch_up = agg.seed(SYMBOL, history, delivered={"1m": T0 + 11 * MINUTE_MS, "5m": T0}, truncated=False)
    assert [(c.interval, c.open_time) for c in catch_up] == [("5m", T0 + 5 * MINUTE_MS)]
    assert catch_up[0] == rollup(history[5:10], "5m")
    live = feed(agg, [t for t in trades if t.ts >= T0 + 12 * MINUTE_MS])
    live += agg.advance(T0 + 60 * MINUTE_MS)
    expected = brute_minutes(trades, T0, T0 + 60 * MINUTE_MS)
    assert [c for c in live if c.interval == "1m"] == expected[12:]
    fives = [c for c in live if c.interval == "5m"]
    assert fives[0] == rollup(expected[10:15], "5m")  # the open period: seeded minutes 10, 11 + live
    assert [c.open_time for c in fives] == [T0 + k * 5 * MINUTE_MS for k in range(2, 12)]


def test_seed_never_repeats_what_was_delivered() -> None:
    trades = [trade(T0 + i * 30_000, "100", tid=i) for i in range(40)]
    history = minutes_of(trades, T0, T0 + 11 * MINUTE_MS)
    agg = CandleAggregator(["1m", "5m"])
    # The 5m request came after minute 14 closed: it already holds the 10..14 candle.
    assert agg.seed(SYMBOL, history, delivered={"1m": T0 + 10 * MINUTE_MS, "5m": T0 + 10 * MINUTE_MS}) == []
    out = feed(agg, trades[22:]) + agg.advance(T0 + 20 * MINUTE_MS)
    assert [(c.interval, c.open_time) for c in out if c.interval == "5m"] == [("5m", T0 + 15 * MINUTE_MS)]


def test_truncated_history_starting_mid_period_does_not_emit_that_period() -> None:
    trades = [trade(T0 + i * 30_000, "100", tid=i) for i in range(40)]
    history = minutes_of(trades, T0, T0 + 13 * MINUTE_MS)[2:]  # starts at minute 2
    agg = CandleAggregator(["5m"])
    assert (
        agg.seed(SYMBOL, history, delivered={})
        == [  # 0..4 is incomplete; 5..9 complete
            rollup(history[3:8], "5m")
        ]
    )
    agg2 = CandleAggregator(["5m"])
    # The venue's whole history: the first period is what there is, as the venue's own klines.
    assert [c.open_time for c in agg2.seed(SYMBOL, history, truncated=False)] == [T0, T0 + 5 * MINUTE_MS]


def test_the_open_minute_is_replayed_not_taken_over_unless_asked() -> None:
    trades = [trade(T0 + i * 15_000, str(100 + i), tid=i) for i in range(12)]  # minutes 0..2
    history = minutes_of(trades[:6], T0, T0 + MINUTE_MS)  # minute 0 closed
    partial = brute_minutes(trades[4:6], T0 + MINUTE_MS, T0 + 2 * MINUTE_MS)[0]
    open_minute = msgspec.structs.replace(partial, closed=False)
    replay = CandleAggregator(["1m"])
    replay.seed(SYMBOL, [*history, open_minute])
    replay_out = feed(replay, trades[4:]) + replay.advance(T0 + 3 * MINUTE_MS)
    kept = CandleAggregator(["1m"])
    kept.seed(SYMBOL, [*history, open_minute], keep_open=True)
    kept_out = feed(kept, trades[6:]) + kept.advance(T0 + 3 * MINUTE_MS)
    expected = brute_minutes(trades, T0, T0 + 3 * MINUTE_MS)[1:]
    assert replay_out == expected and kept_out == expected


def test_seed_rejects_bad_history() -> None:
    agg = CandleAggregator(["1m"])
    one = brute_minutes([trade(T0, "1")], T0, T0 + MINUTE_MS)[0]
    with pytest.raises(ValueError, match="increasing"):
        agg.seed(SYMBOL, [one, one])
    agg.seed(SYMBOL, [one])
    with pytest.raises(ValueError, match="already seeded"):
        agg.seed(SYMBOL, [one])


# --- properties ---------------------------------------------------------------------------------------------

trade_steps = st.lists(
    st.tuples(
        st.integers(0, 200_000),  # ms since the previous trade: quiet minutes happen
        st.integers(1, 5000),  # price in ticks of 0.1
        st.integers(1, 10_000),  # qty in steps of 0.001
        st.booleans(),
    ),
    min_size=1,
    max_size=150,
)


def build(steps: list[tuple[int, int, int, bool]], start: int) -> list[Trade]:
    out: list[Trade] = []
    ts = start
    for i, (gap, price, qty, maker) in enumerate(steps):
        ts += gap
        out.append(trade(ts, Decimal(price) / 10, Decimal(qty) / 1000, maker=maker, tid=i))
    return out


TFS = ["1m", "3m", "5m", "15m", "1h"]


@settings(max_examples=150, deadline=None)
@given(steps=trade_steps, start=st.integers(0, 3_600_000), cut=st.integers(0, 150))
def test_stream_candles_equal_brute_force_and_roll_up(
    steps: list[tuple[int, int, int, bool]], start: int, cut: int
) -> None:
    trades = build(steps, T0 + start)
    end = trades[-1].ts - trades[-1].ts % MINUTE_MS + MINUTE_MS
    agg = CandleAggregator(TFS)
    out: list[Candle] = []
    for i, t in enumerate(trades):
        if i == cut:  # a timer tick at an arbitrary legal moment changes nothing
            out += agg.advance(t.ts)
        out += agg.on_trade(t)
    out += agg.advance(end + 2 * 3_600_000)
    first = trades[0].ts - trades[0].ts % MINUTE_MS
    minutes = [c for c in out if c.interval == "1m"]
    # Every minute up to now, no gap, each the brute-force candle; after the last trade, flat ones.
    assert [c.open_time for c in minutes] == list(range(first, minutes[-1].open_time + 1, MINUTE_MS))
    assert minutes[: (end - first) // MINUTE_MS] == brute_minutes(trades, first, end)
    assert sum((c.volume for c in minutes), ZERO) == sum((t.qty for t in trades), ZERO)
    assert out == sorted(out, key=lambda c: c.close_time)
    by_open = {c.open_time: c for c in minutes}
    for tf in TFS[1:]:
        higher = [c for c in out if c.interval == tf]
        length = interval_ms(tf)
        last_end = minutes[-1].open_time + MINUTE_MS
        assert [c.open_time for c in higher] == list(
            range(interval_open(tf, first), last_end - length + 1, length)
        )
        for c in higher:
            inside = [by_open[m] for m in range(max(c.open_time, first), c.open_time + length, MINUTE_MS)]
            assert c == rollup(inside, tf)


@settings(max_examples=100, deadline=None)
@given(steps=trade_steps, split=st.integers(1, 149))
def test_seeded_from_history_continues_exactly_as_if_live_throughout(
    steps: list[tuple[int, int, int, bool]], split: int
) -> None:
    trades = build(steps, T0)
    if split >= len(trades):
        return
    end = trades[-1].ts - trades[-1].ts % MINUTE_MS + 2 * 3_600_000
    live = CandleAggregator(TFS)
    reference = feed(live, trades) + live.advance(end)
    # History: the closed minutes before the split trade's minute, then the trades from that minute on.
    seam = trades[split].ts - trades[split].ts % MINUTE_MS
    history = [c for c in reference if c.interval == "1m" and c.open_time < seam]
    delivered = {tf: interval_open(tf, seam) - interval_ms(tf) for tf in TFS}
    seeded = CandleAggregator(TFS)
    catch_up = seeded.seed(SYMBOL, history, delivered=delivered, truncated=False)
    rest = [t for t in trades if t.ts >= seam]
    out = catch_up + feed(seeded, rest) + seeded.advance(end)
    expected = [c for c in reference if c.close_time >= seam]
    assert out == expected
