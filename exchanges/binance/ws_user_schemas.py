"""Binance USDⓈ-M user-data frames: ORDER_TRADE_UPDATE, ACCOUNT_UPDATE, ALGO_UPDATE and listenKeyExpired.

Field names and JSON types follow Binance's "User Data Streams" event pages. The frames form a tagged union
on ``"e"`` decoded in one msgspec pass and converted to :mod:`core.events` types. Deliberate choices:

- ``listenKeyExpired``'s ``E`` is a string on the live venue (an integer in the docs' older examples): both
  are accepted.
- ``ALGO_UPDATE``'s ``ap``/``aq``/``act``/``ai`` only carry values once the order reached the matching engine
  and may be empty strings or absent before: they are read leniently.
- ACCOUNT_UPDATE carries no available balance: :class:`~core.types.Balance.available_balance` is set to the
  cross wallet balance (``cw``), an upper bound; the state layer reads the real one from REST.
- A fill is built for TRADE and for CALCULATED executions (liquidation and ADL orders, whose ``l``/``L``/
  ``t``/``n``/``rp`` are set like a trade's) whenever a quantity was filled.
- Event types we do not use (TRADE_LITE, ACCOUNT_CONFIG_UPDATE, MARGIN_CALL, ...) decode to ``None``.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

from core.events import AccountUpdate, AlgoUpdate, OrderUpdate, UserEvent
from core.types import (
    ZERO,
    AlgoOrder,
    AlgoStatus,
    AlgoType,
    Balance,
    ExecutionType,
    Fill,
    MarginType,
    Order,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    PriceMatch,
    Side,
    TimeInForce,
    WorkingType,
)
from exchanges.binance.ws_schemas import FrameDecodeError

__all__ = [
    "IGNORED_USER_EVENTS",
    "ListenKeyExpired",
    "UserFrameDecoder",
]

# Binance USDⓈ-M user events the connector does not turn into domain events.
IGNORED_USER_EVENTS = frozenset(
    {
        "TRADE_LITE",
        "ACCOUNT_CONFIG_UPDATE",
        "MARGIN_CALL",
        "STRATEGY_UPDATE",
        "GRID_UPDATE",
        "CONDITIONAL_ORDER_TRIGGER_REJECT",
    }
)


# Execution types that report a trade of ours: TRADE, and CALCULATED (a liquidation or ADL fill).
_FILL_EXECUTIONS = frozenset({ExecutionType.TRADE, ExecutionType.CALCULATED})


def _tif(value: str) -> TimeInForce:
    # GTE_GTC ("good till the position is closed") is GTC as far as our order model is concerned.
    return TimeInForce.GTC if value == "GTE_GTC" else TimeInForce(value)


def _lenient_decimal(value: str) -> Decimal:
    """``""`` (field not applicable yet) reads as zero; anything else must be a decimal."""
    if not value:
        return ZERO
    try:
        return Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"not a decimal: {value!r}") from exc


class OrderBody(msgspec.Struct, frozen=True):
    symbol: str = msgspec.field(name="s")
    client_order_id: str = msgspec.field(name="c")
    side: Side = msgspec.field(name="S")
    type: OrderType = msgspec.field(name="o")
    time_in_force: str = msgspec.field(name="f")
    orig_qty: Decimal = msgspec.field(name="q")
    price: Decimal = msgspec.field(name="p")
    avg_price: Decimal = msgspec.field(name="ap")
    execution_type: ExecutionType = msgspec.field(name="x")
    status: OrderStatus = msgspec.field(name="X")
    order_id: int = msgspec.field(name="i")
    last_qty: Decimal = msgspec.field(name="l")
    executed_qty: Decimal = msgspec.field(name="z")
    last_price: Decimal = msgspec.field(name="L")
    trade_time: int = msgspec.field(name="T")
    trade_id: int = msgspec.field(name="t")
    is_maker: bool = msgspec.field(name="m")
    reduce_only: bool = msgspec.field(name="R")
    position_side: PositionSide = msgspec.field(name="ps")
    stop_price: Decimal = msgspec.field(name="sp", default=ZERO)
    commission_asset: str = msgspec.field(name="N", default="")
    commission: Decimal = msgspec.field(name="n", default=ZERO)
    working_type: WorkingType = msgspec.field(name="wt", default=WorkingType.CONTRACT_PRICE)
    orig_type: OrderType | None = msgspec.field(name="ot", default=None)
    close_position: bool = msgspec.field(name="cp", default=False)
    realized_pnl: Decimal = msgspec.field(name="rp", default=ZERO)
    price_protect: bool = msgspec.field(name="pP", default=False)
    stp_mode: str = msgspec.field(name="V", default="EXPIRE_MAKER")
    price_match: PriceMatch = msgspec.field(name="pm", default=PriceMatch.NONE)
    good_till_date: int = msgspec.field(name="gtd", default=0)


class OrderTradeUpdateMsg(msgspec.Struct, tag_field="e", tag="ORDER_TRADE_UPDATE", frozen=True):
    event_time: int = msgspec.field(name="E")
    transaction_time: int = msgspec.field(name="T")
    order: OrderBody = msgspec.field(name="o")

    def to_domain(self) -> OrderUpdate:
        o = self.order
        order = Order(
            symbol=o.symbol,
            order_id=o.order_id,
            client_order_id=o.client_order_id,
            side=o.side,
            type=o.type,
            orig_type=o.orig_type or o.type,
            time_in_force=_tif(o.time_in_force),
            orig_qty=o.orig_qty,
            price=o.price,
            status=o.status,
            executed_qty=o.executed_qty,
            # The event has no cumulative quote: average price × executed quantity is its definition.
            cum_quote=o.avg_price * o.executed_qty,
            avg_price=o.avg_price,
            stop_price=o.stop_price,
            reduce_only=o.reduce_only,
            close_position=o.close_position,
            position_side=o.position_side,
            working_type=o.working_type,
            price_protect=o.price_protect,
            price_match=o.price_match,
            self_trade_prevention_mode=o.stp_mode,
            good_till_date=o.good_till_date,
            update_time=self.transaction_time,
        )
        fill = None
        # Liquidation and ADL fills come as CALCULATED executions carrying the same trade fields as TRADE.
        if o.execution_type in _FILL_EXECUTIONS and o.last_qty > 0:
            fill = Fill(
                symbol=o.symbol,
                trade_id=o.trade_id,
                order_id=o.order_id,
                client_order_id=o.client_order_id,
                side=o.side,
                price=o.last_price,
                qty=o.last_qty,
                quote_qty=o.last_price * o.last_qty,
                commission=o.commission,
                commission_asset=o.commission_asset,
                realized_pnl=o.realized_pnl,
                is_maker=o.is_maker,
                ts=o.trade_time,
                position_side=o.position_side,
            )
        return OrderUpdate(ts=self.event_time, order=order, execution_type=o.execution_type, fill=fill)


class BalanceBody(msgspec.Struct, frozen=True):
    asset: str = msgspec.field(name="a")
    wallet_balance: Decimal = msgspec.field(name="wb")
    cross_wallet_balance: Decimal = msgspec.field(name="cw")
    balance_change: Decimal = msgspec.field(name="bc", default=ZERO)


class PositionBody(msgspec.Struct, frozen=True):
    symbol: str = msgspec.field(name="s")
    qty: Decimal = msgspec.field(name="pa")
    entry_price: Decimal = msgspec.field(name="ep")
    unrealized_pnl: Decimal = msgspec.field(name="up")
    margin_type: str = msgspec.field(name="mt")
    position_side: PositionSide = msgspec.field(name="ps")
    break_even_price: Decimal = msgspec.field(name="bep", default=ZERO)
    accumulated_realized: Decimal = msgspec.field(name="cr", default=ZERO)
    isolated_wallet: Decimal = msgspec.field(name="iw", default=ZERO)


class AccountBody(msgspec.Struct, frozen=True):
    reason: str = msgspec.field(name="m")
    balances: list[BalanceBody] = msgspec.field(name="B", default_factory=list)
    positions: list[PositionBody] = msgspec.field(name="P", default_factory=list)


class AccountUpdateMsg(msgspec.Struct, tag_field="e", tag="ACCOUNT_UPDATE", frozen=True):
    event_time: int = msgspec.field(name="E")
    transaction_time: int = msgspec.field(name="T")
    account: AccountBody = msgspec.field(name="a")

    def to_domain(self) -> AccountUpdate:
        t = self.transaction_time
        balances = tuple(
            Balance(
                asset=b.asset,
                wallet_balance=b.wallet_balance,
                available_balance=b.cross_wallet_balance,
                cross_wallet_balance=b.cross_wallet_balance,
                update_time=t,
            )
            for b in self.account.balances
        )
        positions = tuple(
            Position(
                symbol=p.symbol,
                qty=p.qty,
                entry_price=p.entry_price,
                break_even_price=p.break_even_price,
                unrealized_pnl=p.unrealized_pnl,
                margin_type=MarginType.ISOLATED
                if p.margin_type.lower() == "isolated"
                else MarginType.CROSSED,
                isolated_margin=p.isolated_wallet,
                position_side=p.position_side,
                update_time=t,
            )
            for p in self.account.positions
        )
        return AccountUpdate(
            ts=self.event_time, reason=self.account.reason, balances=balances, positions=positions
        )


class AlgoBody(msgspec.Struct, frozen=True):
    client_algo_id: str = msgspec.field(name="caid")
    algo_id: int = msgspec.field(name="aid")
    algo_type: AlgoType = msgspec.field(name="at")
    order_type: OrderType = msgspec.field(name="o")
    symbol: str = msgspec.field(name="s")
    side: Side = msgspec.field(name="S")
    status: AlgoStatus = msgspec.field(name="X")
    quantity: str = msgspec.field(name="q", default="")
    trigger_price: str = msgspec.field(name="tp", default="")
    price: str = msgspec.field(name="p", default="")
    position_side: PositionSide = msgspec.field(name="ps", default=PositionSide.BOTH)
    time_in_force: str = msgspec.field(name="f", default="GTC")
    stp_mode: str = msgspec.field(name="V", default="EXPIRE_MAKER")
    working_type: WorkingType = msgspec.field(name="wt", default=WorkingType.CONTRACT_PRICE)
    price_match: PriceMatch = msgspec.field(name="pm", default=PriceMatch.NONE)
    close_position: bool = msgspec.field(name="cp", default=False)
    price_protect: bool = msgspec.field(name="pP", default=False)
    reduce_only: bool = msgspec.field(name="R", default=False)
    trigger_time: int = msgspec.field(name="tt", default=0)
    good_till_date: int = msgspec.field(name="gtd", default=0)
    actual_order_id: str = msgspec.field(name="ai", default="")
    actual_price: str = msgspec.field(name="ap", default="")
    actual_qty: str = msgspec.field(name="aq", default="")
    reject_reason: str = msgspec.field(name="rm", default="")


class AlgoUpdateMsg(msgspec.Struct, tag_field="e", tag="ALGO_UPDATE", frozen=True):
    event_time: int = msgspec.field(name="E")
    transaction_time: int = msgspec.field(name="T")
    algo: AlgoBody = msgspec.field(name="o")

    def to_domain(self) -> AlgoUpdate:
        a = self.algo
        algo = AlgoOrder(
            symbol=a.symbol,
            algo_id=a.algo_id,
            client_algo_id=a.client_algo_id,
            side=a.side,
            order_type=a.order_type,
            quantity=_lenient_decimal(a.quantity),
            trigger_price=_lenient_decimal(a.trigger_price),
            status=a.status,
            algo_type=a.algo_type,
            price=_lenient_decimal(a.price),
            time_in_force=_tif(a.time_in_force),
            working_type=a.working_type,
            position_side=a.position_side,
            close_position=a.close_position,
            reduce_only=a.reduce_only,
            price_protect=a.price_protect,
            price_match=a.price_match,
            self_trade_prevention_mode=a.stp_mode,
            good_till_date=a.good_till_date,
            update_time=self.event_time,
            trigger_time=a.trigger_time,
            actual_order_id=a.actual_order_id,
            actual_price=_lenient_decimal(a.actual_price),
            actual_qty=_lenient_decimal(a.actual_qty),
            reject_reason=a.reject_reason,
        )
        return AlgoUpdate(ts=self.event_time, algo=algo)


class ListenKeyExpired(msgspec.Struct, tag_field="e", tag="listenKeyExpired", frozen=True):
    """The listenKey expired: nothing more arrives on this stream until a new key is connected."""

    event_time: int | str = msgspec.field(name="E")
    listen_key: str = msgspec.field(name="listenKey", default="")

    @property
    def ts(self) -> int:
        return int(self.event_time)


UserPayload = OrderTradeUpdateMsg | AccountUpdateMsg | AlgoUpdateMsg | ListenKeyExpired


class _Tagged(msgspec.Struct, frozen=True):
    e: str


class _Combined(msgspec.Struct, frozen=True):
    stream: str
    data: msgspec.Raw


_KNOWN = frozenset({"ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "ALGO_UPDATE", "listenKeyExpired"})


class UserFrameDecoder:
    """Decodes user-data frames (raw ``/ws/<listenKey>`` payloads, or combined ``{"stream", "data"}``).

    :meth:`decode` returns a :data:`~core.events.UserEvent`, a :class:`ListenKeyExpired`, or ``None`` for
    an event type in :data:`IGNORED_USER_EVENTS`; it raises :class:`FrameDecodeError` for anything else.
    """

    def __init__(self) -> None:
        self._payload: msgspec.json.Decoder[UserPayload] = msgspec.json.Decoder(UserPayload)
        self._tagged = msgspec.json.Decoder(_Tagged)
        self._combined = msgspec.json.Decoder(_Combined)

    def decode(self, frame: bytes | str) -> UserEvent | ListenKeyExpired | None:
        data = frame.encode() if isinstance(frame, str) else frame
        try:
            msg = self._payload.decode(data)
        except msgspec.DecodeError:
            return self._slow_path(data)
        return self._convert(msg, data)

    def _convert(self, msg: UserPayload, data: bytes) -> UserEvent | ListenKeyExpired:
        if isinstance(msg, ListenKeyExpired):
            return msg
        try:
            return msg.to_domain()
        except ValueError as exc:  # an enum value or decimal the domain cannot hold
            raise FrameDecodeError("malformed", str(exc), data) from exc

    def _slow_path(self, data: bytes) -> UserEvent | ListenKeyExpired | None:
        payload: bytes | msgspec.Raw = data
        try:
            payload = self._combined.decode(data).data
        except msgspec.ValidationError:
            pass  # not an envelope: the frame is the payload itself
        except msgspec.DecodeError as exc:
            raise FrameDecodeError("malformed", str(exc), data) from exc
        try:
            tag = self._tagged.decode(payload).e
        except msgspec.DecodeError as exc:
            raise FrameDecodeError("unknown", f"no event type: {exc}", data) from exc
        if tag in IGNORED_USER_EVENTS:
            return None
        if tag not in _KNOWN:
            raise FrameDecodeError("unknown", f"event type {tag!r}", data)
        try:
            msg = self._payload.decode(payload)
        except msgspec.DecodeError as exc:
            raise FrameDecodeError("malformed", f"{tag}: {exc}", data) from exc
        return self._convert(msg, data)
