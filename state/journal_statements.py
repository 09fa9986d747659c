"""Domain values → the SQL statements that journal them: pure functions, no I/O.

Each function returns the statements of one journal record (applied atomically by the writer). Upserts
carry the idempotency rules: fills once per (symbol, trade id), orders and algo orders kept at their latest
update, decisions by id, funding by (symbol, time), halts by (kind, since).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import msgspec

from core.decisions import Decision, RiskVerdict
from core.types import AlgoOrder, Fill, Order, Position

__all__ = [
    "Statement",
    "alert",
    "algo_order",
    "decision",
    "end_session",
    "equity",
    "fill",
    "funding",
    "halt",
    "order",
    "position",
    "start_session",
]

Statement = tuple[str, tuple[object, ...]]
Session = str | None


def _dec(value: Decimal) -> str:
    """Decimals are stored as their exact string; never through float."""
    return str(value)


def start_session(
    session_id: str,
    *,
    started_ts: int,
    venue: str,
    account: str,
    symbols: Iterable[str],
    config: Mapping[str, object] | msgspec.Struct,
) -> tuple[Statement, ...]:
    symbols_json = msgspec.json.encode(list(symbols)).decode()
    config_json = msgspec.json.encode(config).decode()
    return (
        (
            """INSERT INTO sessions (id, started_ts, ended_ts, venue, account, symbols, config, status)
               VALUES (?, ?, NULL, ?, ?, ?, ?, 'running')
               ON CONFLICT (id) DO UPDATE SET ended_ts = NULL, status = 'running',
                   venue = excluded.venue, account = excluded.account,
                   symbols = excluded.symbols, config = excluded.config""",
            (session_id, started_ts, venue, account, symbols_json, config_json),
        ),
    )


def end_session(session_id: str, *, ended_ts: int, status: str) -> tuple[Statement, ...]:
    return (("UPDATE sessions SET ended_ts = ?, status = ? WHERE id = ?", (ended_ts, status, session_id)),)


def decision(d: Decision, v: RiskVerdict, session: Session) -> tuple[Statement, ...]:
    """The decision row (a re-record updates the verdict) and its reasons, replaced as a whole."""
    head: Statement = (
        """INSERT INTO decisions (id, session, symbol, side, conviction, reference_price, stop_distance,
               take_profit_distance, atr, ts, timeframe, accepted, risk_reason, risk_detail, qty, notional,
               leverage)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET accepted = excluded.accepted,
               risk_reason = excluded.risk_reason, risk_detail = excluded.risk_detail,
               qty = excluded.qty, notional = excluded.notional, leverage = excluded.leverage""",
        (
            d.decision_id,
            session,
            d.symbol,
            d.side.value,
            d.conviction,
            _dec(d.reference_price),
            _dec(d.stop_distance),
            _dec(d.take_profit_distance),
            _dec(d.atr),
            d.ts,
            d.timeframe,
            int(v.accepted),
            v.reason,
            v.detail,
            _dec(v.qty),
            _dec(v.notional),
            v.leverage,
        ),
    )
    clear: Statement = ("DELETE FROM decision_reasons WHERE decision_id = ?", (d.decision_id,))
    reasons = tuple(
        (
            """INSERT INTO decision_reasons (decision_id, sensor_id, timeframe, direction, strength, weight)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT DO UPDATE SET direction = excluded.direction,
                   strength = excluded.strength, weight = excluded.weight""",
            (d.decision_id, r.sensor_id, r.timeframe, r.direction, r.strength, r.weight),
        )
        for r in d.reasons
    )
    return (head, clear, *reasons)


def order(o: Order, decision_id: str | None, session: Session) -> tuple[Statement, ...]:
    """Upsert by client order id; an update older than the stored one is ignored."""
    return (
        (
            """INSERT INTO orders (client_order_id, order_id, session, symbol, side, type, orig_type,
                   time_in_force, qty, price, stop_price, executed_qty, avg_price, status, reduce_only,
                   close_position, decision_id, ts, update_ts)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (client_order_id) DO UPDATE SET order_id = excluded.order_id,
                   qty = excluded.qty, price = excluded.price, stop_price = excluded.stop_price,
                   executed_qty = excluded.executed_qty, avg_price = excluded.avg_price,
                   status = excluded.status, update_ts = excluded.update_ts,
                   decision_id = COALESCE(excluded.decision_id, orders.decision_id)
               WHERE excluded.update_ts >= orders.update_ts""",
            (
                o.client_order_id,
                o.order_id,
                session,
                o.symbol,
                o.side.value,
                o.type.value,
                o.orig_type.value,
                o.time_in_force.value,
                _dec(o.orig_qty),
                _dec(o.price),
                _dec(o.stop_price),
                _dec(o.executed_qty),
                _dec(o.avg_price),
                o.status.value,
                int(o.reduce_only),
                int(o.close_position),
                decision_id,
                o.time or o.update_time,
                o.update_time or o.time,
            ),
        ),
    )


def algo_order(a: AlgoOrder, decision_id: str | None, session: Session) -> tuple[Statement, ...]:
    """Upsert by client algo id; an update older than the stored one is ignored."""
    return (
        (
            """INSERT INTO algo_orders (client_algo_id, algo_id, session, symbol, side, type, qty,
                   trigger_price, status, close_position, reduce_only, actual_order_id, decision_id, ts,
                   update_ts, reason)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (client_algo_id) DO UPDATE SET algo_id = excluded.algo_id,
                   qty = excluded.qty, trigger_price = excluded.trigger_price, status = excluded.status,
                   actual_order_id = excluded.actual_order_id, update_ts = excluded.update_ts,
                   reason = excluded.reason,
                   decision_id = COALESCE(excluded.decision_id, algo_orders.decision_id)
               WHERE excluded.update_ts >= algo_orders.update_ts""",
            (
                a.client_algo_id,
                a.algo_id,
                session,
                a.symbol,
                a.side.value,
                a.order_type.value,
                _dec(a.quantity),
                _dec(a.trigger_price),
                a.status.value,
                int(a.close_position),
                int(a.reduce_only),
                a.actual_order_id,
                decision_id,
                a.create_time or a.update_time,
                a.update_time or a.create_time,
                a.reject_reason,
            ),
        ),
    )


def fill(f: Fill, decision_id: str | None, session: Session) -> tuple[Statement, ...]:
    """Insert once per (symbol, trade id); a later record may only add the decision it belongs to."""
    return (
        (
            """INSERT INTO fills (session, symbol, trade_id, order_id, client_order_id, side, price, qty,
                   quote_qty, commission, commission_asset, realized_pnl, maker, ts, decision_id)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
               ON CONFLICT (symbol, trade_id) DO UPDATE
                   SET decision_id = COALESCE(fills.decision_id, excluded.decision_id)""",
            (
                session,
                f.symbol,
                f.trade_id,
                f.order_id,
                f.client_order_id,
                f.side.value,
                _dec(f.price),
                _dec(f.qty),
                _dec(f.quote_qty),
                _dec(f.commission),
                f.commission_asset,
                _dec(f.realized_pnl),
                int(f.is_maker),
                f.ts,
                decision_id,
            ),
        ),
    )


def position(p: Position, ts: int, session: Session) -> tuple[Statement, ...]:
    return (
        (
            """INSERT INTO positions (session, symbol, qty, entry_price, mark_price, unrealized_pnl, ts)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            (
                session,
                p.symbol,
                _dec(p.qty),
                _dec(p.entry_price),
                _dec(p.mark_price),
                _dec(p.unrealized_pnl),
                ts,
            ),
        ),
    )


def equity(ts: int, wallet: Decimal, unrealized: Decimal, session: Session) -> tuple[Statement, ...]:
    return (
        (
            "INSERT INTO equity (session, ts, wallet, unrealized, equity) VALUES (?, ?, ?, ?, ?)",
            (session, ts, _dec(wallet), _dec(unrealized), _dec(wallet + unrealized)),
        ),
    )


def funding(symbol: str, amount: Decimal, ts: int, asset: str, session: Session) -> tuple[Statement, ...]:
    return (
        (
            """INSERT INTO funding (session, symbol, amount, asset, ts) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (symbol, ts) DO NOTHING""",
            (session, symbol, _dec(amount), asset, ts),
        ),
    )


def alert(
    ts: int, level: str, component: str, symbol: str, message: str, *, session: Session
) -> tuple[Statement, ...]:
    return (
        (
            "INSERT INTO alerts (session, ts, level, component, symbol, message) VALUES (?, ?, ?, ?, ?, ?)",
            (session, ts, level, component, symbol, message),
        ),
    )


def halt(kind: str, reason: str, since_ts: int, until_ts: int, session: Session) -> tuple[Statement, ...]:
    return (
        (
            """INSERT INTO halts (session, kind, reason, since_ts, until_ts) VALUES (?, ?, ?, ?, ?)
               ON CONFLICT (kind, since_ts) DO UPDATE
                   SET reason = excluded.reason, until_ts = excluded.until_ts""",
            (session, kind, reason, since_ts, until_ts),
        ),
    )
