"""Builders for the session tests (no tests here): aggressive trading settings and the exchange's truth.

"Aggressive" makes the player decide at nearly every 1-minute close (tiny threshold, one agreeing sensor,
no debounce, no cooldown, no trend filter) so a sped-up paper session trades within seconds.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from decimal import Decimal

from core.types import AlgoOrder, Order, Position

SYMBOLS = ("BTCUSDT", "ETHUSDT")

AGGRESSIVE: dict[str, object] = {
    "symbols": ",".join(SYMBOLS),
    "engine.timeframes": "1m,5m",
    "engine.warmup_bars": "120",
    "player.timeframe": "1m",
    "player.confirm_timeframes": "",
    "player.trend_timeframes": "",
    "player.threshold": "0.01",
    "player.min_agreeing": "1",
    "player.confirm_closes": "1",
    "player.cooldown_s": "0",
    "player.stop_mode": "percent",
    "player.sl_pct": "0.004",
    "player.tp_pct": "0.004",
    "sensors.workers": "1",
    "risk.daily_loss_limit": "0",
    "risk.max_drawdown": "0",
    "risk.max_orders_per_minute": "1000",
    "session.status_interval_s": "1",
    "session.equity_interval_s": "1",
    "session.reconcile_interval_s": "5",
    "log.json": "false",
}


def toml_of(overrides: dict[str, object]) -> str:
    """The same settings as a casino.toml (top-level keys first, then a table per section)."""
    sections: dict[str, dict[str, str]] = {}
    for key, value in overrides.items():
        section, _, name = key.rpartition(".")
        sections.setdefault(section, {})[name] = str(value)
    out = [f"{name} = {_toml_value(name, text)}" for name, text in sections.pop("", {}).items()]
    for section, values in sections.items():
        out.append(f"[{section}]")
        out += [f"{name} = {_toml_value(name, text)}" for name, text in values.items()]
    return "\n".join(out) + "\n"


_LISTS = {"symbols", "timeframes", "confirm_timeframes", "trend_timeframes"}
_STRINGS = {"timeframe", "stop_mode", "level", "dir", "report_dir", "on_exit"}
_BOOLS = {"json", "live_confirm"}


def _toml_value(name: str, text: str) -> str:
    if name in _LISTS:
        return "[" + ", ".join(f'"{part}"' for part in text.split(",") if part) + "]"
    if name in _STRINGS:
        return f'"{text}"'
    if name in _BOOLS:
        return text.lower()
    if name in {"sl_pct", "tp_pct", "daily_loss_limit", "max_drawdown"}:
        return f'"{text}"'  # Decimals as strings: exact
    return text


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def orphans(positions: Iterable[Position], orders: Iterable[Order], algos: Iterable[AlgoOrder]) -> list[str]:
    """Orders that protect nothing: any resting regular order (entries are MARKET), or an algo order on a
    symbol without a position. Empty when the account is clean."""
    holding = {p.symbol for p in positions if p.qty != Decimal(0)}
    found = [f"order {o.symbol} {o.client_order_id} {o.status}" for o in orders]
    found += [f"algo {a.symbol} {a.client_algo_id}" for a in algos if a.symbol not in holding]
    return found


def unprotected(positions: Iterable[Position], algos: Iterable[AlgoOrder]) -> list[str]:
    """Open positions without a resting stop (a STOP_MARKET algo order on the symbol)."""
    stops = {a.symbol for a in algos if str(a.order_type) == "STOP_MARKET"}
    return [p.symbol for p in positions if p.qty != 0 and p.symbol not in stops]
