"""User-data frames: engine events as ORDER_TRADE_UPDATE, TRADE_LITE, ACCOUNT_UPDATE, ALGO_UPDATE,
ACCOUNT_CONFIG_UPDATE and listenKeyExpired.

Field names and JSON types follow Binance's "User Data Streams" pages and its official SDK's models;
decimals are plain-notation strings (:func:`ws_codec.dec`). Pure functions returning encoded bytes.
"""

from __future__ import annotations

import msgspec

from core.types import AlgoOrder, ExecutionType, MarginType, OrderType
from exchanges.sandbox.engine.events import AccountConfigEvent, AccountEvent, AlgoEvent, OrderEvent
from exchanges.sandbox.server.ws_codec import dec

__all__ = [
    "encode_account_config_update",
    "encode_account_update",
    "encode_algo_update",
    "encode_listen_key_expired",
    "encode_order_update",
    "encode_trade_lite",
]

_encoder = msgspec.json.Encoder()


class OrderBody(msgspec.Struct):
    s: str
    c: str
    S: str
    o: str
    f: str
    q: str
    p: str
    ap: str
    sp: str
    x: str
    X: str
    i: int
    l: str  # noqa: E741 - Binance's field name
    z: str
    L: str
    N: str
    n: str
    T: int
    t: int
    b: str
    a: str
    m: bool
    R: bool
    wt: str
    ot: str
    ps: str
    cp: bool
    rp: str
    pP: bool = msgspec.field(name="pP")  # noqa: N815 - Binance's field name
    si: int = 0
    ss: int = 0
    V: str = "EXPIRE_MAKER"
    pm: str = "NONE"
    gtd: int = 0
    er: str = "0"


class OrderTradeUpdate(msgspec.Struct):
    e: str
    E: int
    T: int
    o: OrderBody


def encode_order_update(event: OrderEvent) -> bytes:
    """``ORDER_TRADE_UPDATE``: the order after the event, the fill's last qty/price/fee when it traded.

    ``b``/``a`` are the notionals of the account's open BUY/SELL orders on the symbol, ``er`` the expiry
    reason code (see :class:`~exchanges.sandbox.engine.events.OrderEvent`).
    """
    order, fill = event.order, event.fill
    trade_time = fill.ts if fill is not None else (order.update_time or event.ts)
    body = OrderBody(
        s=order.symbol,
        c=order.client_order_id,
        S=order.side.value,
        o=order.type.value,
        f=order.time_in_force.value,
        q=dec(order.orig_qty),
        p=dec(order.price),
        ap=dec(order.avg_price),
        sp=dec(order.stop_price),
        x=event.execution_type.value,
        X=order.status.value,
        i=order.order_id,
        l=dec(fill.qty) if fill else "0",
        z=dec(order.executed_qty),
        L=dec(fill.price) if fill else "0",
        N=fill.commission_asset if fill else "USDT",
        n=dec(fill.commission) if fill else "0",
        T=trade_time,
        t=fill.trade_id if fill else 0,
        b=dec(event.bids_notional),
        a=dec(event.asks_notional),
        m=fill.is_maker if fill else False,
        R=order.reduce_only,
        wt=order.working_type.value,
        ot=order.orig_type.value,
        ps=order.position_side.value,
        cp=order.close_position,
        rp=dec(fill.realized_pnl) if fill else "0",
        pP=order.price_protect,
        V=order.self_trade_prevention_mode,
        pm=order.price_match.value,
        gtd=order.good_till_date,
        er=str(event.expire_reason),
    )
    return _encoder.encode(OrderTradeUpdate("ORDER_TRADE_UPDATE", event.ts, trade_time, body))


class TradeLite(msgspec.Struct):
    e: str
    E: int
    T: int
    s: str
    q: str
    p: str
    m: bool
    c: str
    S: str
    L: str
    l: str  # noqa: E741 - Binance's field name
    t: int
    i: int


def encode_trade_lite(event: OrderEvent) -> bytes | None:
    """``TRADE_LITE``: the short fill report Binance pushes alongside ORDER_TRADE_UPDATE for TRADE executions.

    None for any other event (liquidation fills are CALCULATED executions, which TRADE_LITE does not cover).
    """
    order, fill = event.order, event.fill
    if fill is None or event.execution_type is not ExecutionType.TRADE:
        return None
    return _encoder.encode(
        TradeLite(
            e="TRADE_LITE",
            E=event.ts,
            T=fill.ts,
            s=order.symbol,
            q=dec(order.orig_qty),
            p=dec(order.price),
            m=fill.is_maker,
            c=order.client_order_id,
            S=order.side.value,
            L=dec(fill.price),
            l=dec(fill.qty),
            t=fill.trade_id,
            i=order.order_id,
        )
    )


class LeverageConfig(msgspec.Struct):
    s: str
    l: int  # noqa: E741 - Binance's field name


class AccountConfigUpdate(msgspec.Struct):
    e: str
    E: int
    T: int
    ac: LeverageConfig


def encode_account_config_update(event: AccountConfigEvent) -> bytes:
    """``ACCOUNT_CONFIG_UPDATE`` with ``ac``: the symbol's new leverage."""
    body = LeverageConfig(event.symbol, event.leverage)
    return _encoder.encode(AccountConfigUpdate("ACCOUNT_CONFIG_UPDATE", event.ts, event.ts, body))


class BalanceBody(msgspec.Struct):
    a: str
    wb: str
    cw: str
    bc: str


class PositionBody(msgspec.Struct):
    s: str
    pa: str
    ep: str
    bep: str
    cr: str
    up: str
    mt: str
    iw: str
    ps: str


class AccountBody(msgspec.Struct):
    m: str
    B: list[BalanceBody]
    P: list[PositionBody]


class AccountUpdate(msgspec.Struct):
    e: str
    E: int
    T: int
    a: AccountBody


def encode_account_update(event: AccountEvent) -> bytes:
    """``ACCOUNT_UPDATE``: balances and positions that changed, with the reason ``m``.

    ``bc`` is the wallet change other than realized PnL and commission (a funding payment, an insurance
    clearance fee; 0 for trades); ``cr`` the position's accumulated realized PnL before fees.
    """
    balances = [
        BalanceBody(
            b.asset,
            dec(b.wallet_balance),
            dec(b.cross_wallet_balance or b.wallet_balance),
            dec(event.balance_change),
        )
        for b in event.balances
    ]
    positions = [
        PositionBody(
            p.symbol,
            dec(p.qty),
            dec(p.entry_price),
            dec(p.break_even_price),
            dec(p.accumulated_realized),
            dec(p.unrealized_pnl),
            "isolated" if p.margin_type is MarginType.ISOLATED else "cross",
            dec(p.isolated_margin),
            p.position_side.value,
        )
        for p in event.positions
    ]
    body = AccountBody(event.reason, balances, positions)
    return _encoder.encode(AccountUpdate("ACCOUNT_UPDATE", event.ts, event.ts, body))


class AlgoBody(msgspec.Struct, omit_defaults=True):
    caid: str
    aid: int
    at: str
    o: str
    s: str
    S: str
    ps: str
    f: str
    q: str
    X: str
    tp: str
    p: str
    V: str
    wt: str
    pm: str
    cp: bool
    pP: bool = msgspec.field(name="pP")  # noqa: N815 - Binance's field name
    R: bool
    tt: int
    gtd: int
    ai: str = ""  # only once the order reached the matching engine
    ap: str = ""
    aq: str = ""
    act: str = ""
    rm: str = ""


class AlgoUpdate(msgspec.Struct):
    e: str
    T: int
    E: int
    o: AlgoBody


def _actual_type(algo: AlgoOrder) -> str:
    return OrderType.MARKET.value if algo.order_type.is_market_on_trigger else OrderType.LIMIT.value


def encode_algo_update(event: AlgoEvent) -> bytes:
    """``ALGO_UPDATE``: the algo order after a status change; ``ai/ap/aq/act`` once it placed its order."""
    algo = event.algo
    placed = bool(algo.actual_order_id)
    body = AlgoBody(
        caid=algo.client_algo_id,
        aid=algo.algo_id,
        at=algo.algo_type.value,
        o=algo.order_type.value,
        s=algo.symbol,
        S=algo.side.value,
        ps=algo.position_side.value,
        f=algo.time_in_force.value,
        q=dec(algo.quantity),
        X=algo.status.value,
        tp=dec(algo.trigger_price),
        p=dec(algo.price),
        V=algo.self_trade_prevention_mode,
        wt=algo.working_type.value,
        pm=algo.price_match.value,
        cp=algo.close_position,
        pP=algo.price_protect,
        R=algo.reduce_only,
        tt=algo.trigger_time,
        gtd=algo.good_till_date,
        ai=algo.actual_order_id,
        ap=dec(algo.actual_price) if placed else "",
        aq=dec(algo.actual_qty) if placed else "",
        act=_actual_type(algo) if placed else "",
        rm=algo.reject_reason,
    )
    return _encoder.encode(AlgoUpdate("ALGO_UPDATE", event.ts, event.ts, body))


class ListenKeyExpired(msgspec.Struct):
    e: str
    E: int
    listenKey: str = msgspec.field(name="listenKey")  # noqa: N815 - Binance's field name


def encode_listen_key_expired(listen_key: str, event_ms: int) -> bytes:
    return _encoder.encode(ListenKeyExpired("listenKeyExpired", event_ms, listen_key))
