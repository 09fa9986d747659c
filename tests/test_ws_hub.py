"""Pure parts of the WebSocket side: routing, control messages, fan-out, user-data faults, publishing."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import pytest

from core.types import (
    BookTicker,
    Candle,
    ExecutionType,
    MarkPrice,
    Order,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    Trade,
)
from exchanges.sandbox.engine.events import OrderEvent, UserEvent
from exchanges.sandbox.faults import Faults, parse_fault_spec
from exchanges.sandbox.server.hub import MAX_STREAMS_PER_CONNECTION, Connection, Hub
from exchanges.sandbox.server.publisher import MarketPublisher
from exchanges.sandbox.server.streams import Route, StreamKind, parse_stream
from exchanges.sandbox.server.user_stream import UserEventShaper
from exchanges.sandbox.server.ws_control import MessageRate, handle_control


def _drain(queue: asyncio.Queue[bytes]) -> list[dict[str, Any]]:
    out = []
    while not queue.empty():
        out.append(json.loads(queue.get_nowait()))
    return out


# --- stream names ---


@pytest.mark.parametrize(
    ("name", "kind", "route"),
    [
        ("btcusdt@aggTrade", StreamKind.AGG_TRADE, Route.MARKET),
        ("btcusdt@markPrice", StreamKind.MARK_PRICE, Route.MARKET),
        ("btcusdt@markPrice@1s", StreamKind.MARK_PRICE, Route.MARKET),
        ("!markPrice@arr@1s", StreamKind.ALL_MARK_PRICE, Route.MARKET),
        ("ethusdt@kline_15m", StreamKind.KLINE, Route.MARKET),
        ("btcusdt@bookTicker", StreamKind.BOOK_TICKER, Route.PUBLIC),
        ("!bookTicker", StreamKind.ALL_BOOK_TICKER, Route.PUBLIC),
        ("btcusdt@depth", StreamKind.DIFF_DEPTH, Route.PUBLIC),
        ("btcusdt@depth@100ms", StreamKind.DIFF_DEPTH, Route.PUBLIC),
        ("btcusdt@depth20@500ms", StreamKind.PARTIAL_DEPTH, Route.PUBLIC),
    ],
)
def test_stream_routes(name: str, kind: StreamKind, route: Route) -> None:
    spec = parse_stream(name)
    assert spec is not None and spec.kind is kind and spec.route is route


def test_stream_parameters_and_unknown_names() -> None:
    assert parse_stream("btcusdt@depth20@500ms") == parse_stream("btcusdt@depth20@500ms")
    spec = parse_stream("btcusdt@depth10")
    assert spec is not None and (spec.symbol, spec.levels, spec.period_ms) == ("BTCUSDT", 10, 250)
    spec = parse_stream("btcusdt@markPrice@1s")
    assert spec is not None and spec.period_ms == 1000
    for bad in ("BTCUSDT@aggTrade", "btcusdt@kline_7m", "btcusdt@depth7", "nonsense", "btcusdt@trade"):
        assert parse_stream(bad) is None


# --- control messages ---


def _hub(spec: str = "") -> Hub:
    return Hub(Faults(parse_fault_spec(spec), seed=1), queue_size=64)


def _answer(hub: Hub, conn: Connection, text: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(handle_control(hub, conn, text))
    return result


def test_subscribe_list_unsubscribe_and_properties() -> None:
    hub = _hub()
    conn = hub.open(Route.MARKET, combined_mode=False)
    sub = '{"method":"SUBSCRIBE","params":["btcusdt@aggTrade","btcusdt@markPrice"],"id":1}'
    assert _answer(hub, conn, sub) == {"result": None, "id": 1}
    assert _answer(hub, conn, '{"method":"LIST_SUBSCRIPTIONS","id":3}') == {
        "result": ["btcusdt@aggTrade", "btcusdt@markPrice"],
        "id": 3,
    }
    assert _answer(hub, conn, '{"method":"UNSUBSCRIBE","params":["btcusdt@markPrice"],"id":312}') == {
        "result": None,
        "id": 312,
    }
    assert hub.has_subscribers(Route.MARKET, "btcusdt@aggTrade")
    assert not hub.has_subscribers(Route.MARKET, "btcusdt@markPrice")
    assert _answer(hub, conn, '{"method":"GET_PROPERTY","params":["combined"],"id":2}') == {
        "result": False,
        "id": 2,
    }
    assert _answer(hub, conn, '{"method":"SET_PROPERTY","params":["combined",true],"id":5}') == {
        "result": None,
        "id": 5,
    }
    assert conn.combined is True
    # string ids, as Binance's own SDK sends them, are echoed back
    assert _answer(hub, conn, '{"method":"LIST_SUBSCRIPTIONS","id":"a-b"}')["id"] == "a-b"


@pytest.mark.parametrize(
    ("text", "code", "rid"),
    [
        ("not json", 3, None),
        ("[1,2]", 2, None),
        ('{"method":"SUBSCRIBE","params":["x"]}', 2, None),
        ('{"method":"SUBSCRIBE","params":["x"],"id":-1}', 2, None),
        ('{"method":"SUBSCRIBE","params":["x"],"id":1.5}', 2, None),
        ('{"method":"SUBSCRIBES","params":[],"id":4}', 2, 4),
        ('{"params":[],"id":4}', 2, 4),
        ('{"method":"SUBSCRIBE","params":[1],"id":4}', 2, 4),
        ('{"method":"SET_PROPERTY","params":["combined","yes"],"id":6}', 1, 6),
        ('{"method":"SET_PROPERTY","params":["other",true],"id":6}', 0, 6),
        ('{"method":"GET_PROPERTY","params":[7],"id":6}', 2, 6),
    ],
)
def test_bad_requests_get_binance_errors(text: str, code: int, rid: object) -> None:
    hub = _hub()
    conn = hub.open(Route.PUBLIC, combined_mode=False)
    answer = _answer(hub, conn, text)
    assert answer["id"] == rid
    error = answer["error"]
    assert isinstance(error, dict) and error["code"] == code and isinstance(error["msg"], str)


def test_stream_limit_per_connection() -> None:
    hub = _hub()
    conn = hub.open(Route.PUBLIC, combined_mode=False)
    names = [f"s{i}usdt@bookTicker" for i in range(MAX_STREAMS_PER_CONNECTION)]
    assert hub.subscribe(conn, names)
    answer = _answer(hub, conn, '{"method":"SUBSCRIBE","params":["one@bookTicker"],"id":9}')
    assert answer["error"]["code"] == 2
    assert len(conn.streams) == MAX_STREAMS_PER_CONNECTION


def test_message_rate_window() -> None:
    rate = MessageRate(limit=10, window_s=1.0)
    assert all(rate.hit(0.05 * i) for i in range(10))
    assert not rate.hit(0.5)
    assert rate.hit(1.6)  # the window slid past the burst


# --- fan-out ---


def test_publish_respects_routes_and_modes() -> None:
    hub = _hub()
    raw = hub.open(Route.MARKET, combined_mode=False)
    comb = hub.open(Route.MARKET, combined_mode=True)
    wrong = hub.open(Route.PUBLIC, combined_mode=False)
    for c in (raw, comb, wrong):
        hub.subscribe(c, ["btcusdt@aggTrade"])
    assert hub.publish(Route.MARKET, "btcusdt@aggTrade", b'{"e":"aggTrade"}') == 2
    assert _drain(raw.queue) == [{"e": "aggTrade"}]
    assert _drain(comb.queue) == [{"stream": "btcusdt@aggTrade", "data": {"e": "aggTrade"}}]
    assert _drain(wrong.queue) == []
    hub.unregister(raw)
    assert hub.publish(Route.MARKET, "btcusdt@aggTrade", b"{}") == 1


def test_slow_consumer_is_marked_for_closing_without_blocking() -> None:
    hub = _hub()
    slow = hub.open(Route.MARKET, combined_mode=False)
    fast = hub.open(Route.MARKET, combined_mode=False)
    hub.subscribe(slow, ["x"])
    hub.subscribe(fast, ["x"])
    for i in range(100):
        hub.publish(Route.MARKET, "x", b"{}")
        if i % 10 == 0:
            _drain(fast.queue)
    assert slow.close_request is not None and slow.close_request[0] == 1008
    assert fast.close_request is None


def test_drop_frames_fault_drops_some_frames() -> None:
    hub = _hub("drop_frames=0.5")
    conn = hub.open(Route.MARKET, combined_mode=False)
    hub.subscribe(conn, ["x"])
    sent = sum(hub.publish(Route.MARKET, "x", b"{}") for _ in range(40))
    assert 5 < sent < 35 and conn.queue.qsize() == sent


def test_user_events_follow_listen_key_and_event_filter() -> None:
    hub = _hub()
    everything = hub.open(Route.PRIVATE, combined_mode=False)
    orders_only = hub.open(Route.PRIVATE, combined_mode=True, events=frozenset({"ORDER_TRADE_UPDATE"}))
    for c in (everything, orders_only):
        hub.subscribe(c, ["KEY"])
    hub.publish_user("KEY", "ACCOUNT_UPDATE", b'{"e":"ACCOUNT_UPDATE"}')
    hub.publish_user("KEY", "ORDER_TRADE_UPDATE", b'{"e":"ORDER_TRADE_UPDATE"}')
    hub.publish_user("OTHER", "ORDER_TRADE_UPDATE", b"{}")
    assert [m["e"] for m in _drain(everything.queue)] == ["ACCOUNT_UPDATE", "ORDER_TRADE_UPDATE"]
    assert _drain(orders_only.queue) == [{"stream": "KEY", "data": {"e": "ORDER_TRADE_UPDATE"}}]


# --- user-data faults ---


def _events(n: int) -> list[UserEvent]:
    order = Order(
        symbol="BTCUSDT",
        order_id=1,
        client_order_id="c",
        side=Side.BUY,
        type=OrderType.LIMIT,
        orig_type=OrderType.LIMIT,
        time_in_force=TimeInForce.GTC,
        orig_qty=Decimal(1),
        price=Decimal(1),
        status=OrderStatus.NEW,
    )
    return [OrderEvent(account="a", ts=i, order=order, execution_type=ExecutionType.NEW) for i in range(n)]


def test_shaper_without_faults_is_identity() -> None:
    events = _events(20)
    assert UserEventShaper(Faults()).shape(events) == events


@pytest.mark.parametrize("spec", ["user_drop=0.3", "user_dup=0.3", "user_reorder=0.3"])
def test_shaper_faults_are_observable_and_seeded(spec: str) -> None:
    events = _events(200)
    out = UserEventShaper(Faults(parse_fault_spec(spec), seed=3)).shape(events)
    again = UserEventShaper(Faults(parse_fault_spec(spec), seed=3)).shape(events)
    assert [e.ts for e in out] == [e.ts for e in again]  # same seed, same damage
    ts = [e.ts for e in out]
    if spec.startswith("user_drop"):
        assert 20 < 200 - len(ts) < 100 and ts == sorted(ts)
    elif spec.startswith("user_dup"):
        assert 20 < len(ts) - 200 < 100 and sorted(set(ts)) == list(range(200))
    else:
        assert sorted(ts) == list(range(200)) or sorted(ts) == list(range(199))
        assert ts != sorted(ts)


def test_reordered_event_is_released_on_an_idle_step() -> None:
    shaper = UserEventShaper(Faults(parse_fault_spec("user_reorder=1"), seed=0))
    first = shaper.shape(_events(1))
    assert first == []  # held back, waiting for the next event
    released = shaper.shape([])
    assert [e.ts for e in released] == [0]


# --- market publishing ---


class _Book:
    def __init__(self) -> None:
        self.bids = [(Decimal("100.0"), Decimal("1")), (Decimal("99.9"), Decimal("2"))]
        self.asks = [(Decimal("100.1"), Decimal("1")), (Decimal("100.2"), Decimal("2"))]

    def depth(
        self, symbol: str, limit: int
    ) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        return self.bids[:limit], self.asks[:limit]


class _Klines:
    def current_kline(self, symbol: str, interval: str, now_ms: int) -> Candle:
        open_time = now_ms - now_ms % 60_000
        return Candle(
            symbol=symbol,
            interval=interval,
            open_time=open_time,
            close_time=open_time + 59_999,
            open=Decimal(1),
            high=Decimal(2),
            low=Decimal(1),
            close=Decimal(2),
            volume=Decimal(3),
            closed=False,
        )


def _book_ticker(ts: int) -> BookTicker:
    return BookTicker(
        symbol="BTCUSDT",
        bid_price=Decimal("100.0"),
        bid_qty=Decimal(1),
        ask_price=Decimal("100.1"),
        ask_qty=Decimal(1),
        ts=ts,
    )


def test_depth_streams_throttle_and_diff() -> None:
    hub = _hub()
    book = _Book()
    pub = MarketPublisher(hub, book, _Klines())
    partial = hub.open(Route.PUBLIC, combined_mode=False)
    diff = hub.open(Route.PUBLIC, combined_mode=False)
    hub.subscribe(partial, ["btcusdt@depth5@500ms"])
    hub.subscribe(diff, ["btcusdt@depth@100ms"])
    pub.on_book_ticker(_book_ticker(1000), 1000)
    pub.flush(1000)
    first_diff = _drain(diff.queue)
    assert len(first_diff) == 1 and first_diff[0]["b"] == [["100.0", "1"], ["99.9", "2"]]
    assert _drain(partial.queue)[0]["a"] == [["100.1", "1"], ["100.2", "2"]]
    # 100 ms later: diff is due, partial (500 ms) is not; a vanished level is sent with qty 0
    book.bids = [(Decimal("100.0"), Decimal("3"))]
    pub.on_book_ticker(_book_ticker(1100), 1100)
    pub.flush(1100)
    assert _drain(partial.queue) == []
    update = _drain(diff.queue)[0]
    assert update["b"] == [["100.0", "3"], ["99.9", "0"]] and update["a"] == []
    assert update["pu"] == first_diff[0]["u"] and update["U"] == first_diff[0]["u"] + 1


def test_trades_marks_and_klines_reach_their_streams() -> None:
    hub = _hub()
    pub = MarketPublisher(hub, _Book(), _Klines())
    conn = hub.open(Route.MARKET, combined_mode=True)
    hub.subscribe(conn, ["btcusdt@aggTrade", "btcusdt@markPrice", "btcusdt@markPrice@1s", "btcusdt@kline_1m"])
    for i, ts in enumerate((59_000, 59_500, 60_100)):
        pub.on_trade(
            Trade(
                symbol="BTCUSDT",
                trade_id=10 + i,
                price=Decimal(1),
                qty=Decimal(1),
                is_buyer_maker=False,
                ts=ts,
            )
        )
        pub.flush(ts)
    for ts in (61_000, 62_000, 63_000):
        pub.on_mark_price(
            MarkPrice(
                symbol="BTCUSDT",
                mark_price=Decimal(1),
                index_price=Decimal(1),
                funding_rate=Decimal(0),
                next_funding_time=0,
                ts=ts,
            )
        )
    frames = _drain(conn.queue)
    streams = [f["stream"] for f in frames]
    assert streams.count("btcusdt@aggTrade") == 3
    assert streams.count("btcusdt@markPrice@1s") == 3
    assert streams.count("btcusdt@markPrice") == 2  # 61 s and 63 s fall in different 3-second slots; 62 s not
    klines = [f["data"]["k"] for f in frames if f["stream"] == "btcusdt@kline_1m"]
    closed = [k for k in klines if k["x"]]
    assert len(closed) == 1 and closed[0]["t"] == 0 and closed[0]["L"] == 11
    assert klines[-1]["t"] == 60_000 and klines[-1]["f"] == 12
