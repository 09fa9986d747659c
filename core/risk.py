"""The RiskEngine: sizes a decision's entry, or refuses it with a reason; raises halts on loss limits.

Pure: no I/O, no asyncio. Everything it judges by comes in with the call (:class:`RiskInputs`, built from the
state snapshot), except the closed-trade statistics of the Kelly bound (:meth:`RiskEngine.record_trade`).

Sizing (all ``Decimal``, at the decision's reference price ``P``):

- risk budget ``equity × f`` where ``f`` is ``risk_per_trade``, bounded once ``kelly_min_trades`` trades
  are known by ``kelly_fraction × Kelly`` (never below ``kelly_floor``, never above ``risk_per_trade``);
- ``qty = budget / stop_distance``, its notional capped by ``equity × max_leverage``, ``available ×
  leverage`` (margin), ``max_notional``, the room left under ``max_exposure × equity`` and the leverage
  bracket allowing ``leverage``;
- then the instrument's MARKET_LOT_SIZE and MIN_NOTIONAL through :func:`core.precision.size_order`, floored,
  never rounded up: MIN_NOTIONAL must hold at ``P × (1 - notional_buffer)`` so a small move before the entry
  reaches the exchange does not get it refused. Too small is refused as ``below_min_notional``.

Rejection reasons: ``unknown_symbol``, ``halted:<kind>``, ``invalid_decision``, ``no_equity``,
``position_open``, ``max_positions``, ``order_velocity``, ``max_exposure``, ``insufficient_margin``,
``below_min_notional``, ``filters``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from decimal import Decimal

from core.clock import Clock
from core.config_trading import RiskSettings
from core.decisions import Decision, RiskVerdict
from core.precision import QuantityBelowMinimumError, RejectOrderError, format_decimal, size_order
from core.risk_limits import RiskInputs, TradeStats, daily_loss_breach, drawdown_breach, next_utc_midnight
from core.types import Instrument
from state.model import Halt

__all__ = ["RiskEngine"]

ZERO = Decimal(0)


class _RefusedError(Exception):
    """Internal: a check refused the decision (reason, detail)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class RiskEngine:
    """Sizing and limits for new entries. Counts every rejection by reason (:meth:`rejections`)."""

    def __init__(self, settings: RiskSettings, clock: Clock, instruments: Mapping[str, Instrument]) -> None:
        self._settings = settings
        self._clock = clock
        self._instruments = dict(instruments)
        self._stats = TradeStats(window=settings.kelly_window, min_trades=settings.kelly_min_trades)
        self._rejections: Counter[str] = Counter()

    # --- inputs -------------------------------------------------------------------------------------------

    def record_trade(self, pnl: Decimal, risk: Decimal) -> None:
        """A closed trade: realized PnL (after fees) and the amount it risked (stop distance × qty), USDT.

        The session replays the journal's closed trades through this at start, so the Kelly bound survives
        a restart.
        """
        self._stats.record(pnl, risk)

    # --- outputs ------------------------------------------------------------------------------------------

    def rejections(self) -> dict[str, int]:
        """How many decisions were refused, by reason (for metrics)."""
        return dict(self._rejections)

    def risk_fraction(self) -> Decimal:
        """The share of equity a new trade may risk now: ``risk_per_trade``, bounded by fractional Kelly."""
        s = self._settings
        kelly = self._stats.kelly()
        if kelly is None:
            return s.risk_per_trade
        return min(max(s.kelly_fraction * kelly, s.kelly_floor), s.risk_per_trade)

    def halts_to_raise(self, account: RiskInputs) -> list[Halt]:
        """Halts the account's state calls for that are not already active: write them into state.

        ``daily_loss`` lifts at the next UTC midnight of the exchange clock; ``drawdown`` lasts until cleared.
        """
        now = self._clock.now_ms()
        active = {halt.kind for halt in account.halts if halt.active(now)}
        raised = []
        for kind, breach, until in (
            ("daily_loss", daily_loss_breach(self._settings, account), next_utc_midnight(now)),
            ("drawdown", drawdown_breach(self._settings, account), 0),
        ):
            if breach is not None and kind not in active:
                raised.append(Halt(kind=kind, reason=breach, since_ts=now, until_ts=until))
        return raised

    def allow(self, decision: Decision, account: RiskInputs) -> RiskVerdict:
        """Size ``decision`` for ``account``, or refuse it with a machine reason and a human detail."""
        try:
            instrument = self._check_limits(decision, account)
            qty, notional, leverage, detail = self._size(decision, account, instrument)
        except _RefusedError as refusal:
            self._rejections[refusal.reason] += 1
            return RiskVerdict(
                decision_id=decision.decision_id,
                accepted=False,
                reason=refusal.reason,
                detail=f"{decision.symbol}: {refusal.detail}",
            )
        return RiskVerdict(
            decision_id=decision.decision_id,
            accepted=True,
            qty=qty,
            notional=notional,
            leverage=leverage,
            detail=detail,
        )

    # --- checks -------------------------------------------------------------------------------------------

    def _check_limits(self, decision: Decision, account: RiskInputs) -> Instrument:
        s = self._settings
        instrument = self._instruments.get(decision.symbol)
        if instrument is None:
            raise _RefusedError("unknown_symbol", "no instrument is known for this symbol")
        now = self._clock.now_ms()
        for halt in sorted(account.halts, key=lambda h: h.kind):
            if halt.active(now):
                raise _RefusedError(f"halted:{halt.kind}", f"entries are halted ({halt.kind}): {halt.reason}")
        for kind, breach in (
            ("daily_loss", daily_loss_breach(s, account)),
            ("drawdown", drawdown_breach(s, account)),
        ):
            if breach is not None:
                raise _RefusedError(f"halted:{kind}", f"entries are halted ({kind}): {breach}")
        price, stop = decision.reference_price, decision.stop_distance
        if not (price.is_finite() and stop.is_finite() and price > 0 and 0 < stop < price):
            raise _RefusedError(
                "invalid_decision",
                f"reference price {price} and stop distance {stop} do not make a stop above zero",
            )
        if account.equity <= 0:
            raise _RefusedError("no_equity", f"equity is {account.equity:f} USDT")
        position = account.positions.get(decision.symbol)
        if position is not None and position.qty != 0:
            raise _RefusedError(
                "position_open", f"a position of {position.qty:f} is already open (one per symbol)"
            )
        if account.open_positions() >= s.max_positions:
            raise _RefusedError(
                "max_positions", f"{account.open_positions()} positions open, limit {s.max_positions}"
            )
        if account.orders_last_minute >= s.max_orders_per_minute:
            raise _RefusedError(
                "order_velocity",
                f"{account.orders_last_minute} orders in the last minute, limit {s.max_orders_per_minute}",
            )
        return instrument

    def _size(
        self, decision: Decision, account: RiskInputs, instrument: Instrument
    ) -> tuple[Decimal, Decimal, int, str]:
        s = self._settings
        price = decision.reference_price
        fraction = self.risk_fraction()
        exposure = account.exposure()
        room = s.max_exposure * account.equity - exposure
        if room <= 0:
            raise _RefusedError(
                "max_exposure",
                f"exposure {exposure:f} USDT already at {s.max_exposure}× equity {account.equity:f} USDT",
            )
        if account.available <= 0:
            raise _RefusedError("insufficient_margin", f"available balance is {account.available:f} USDT")
        leverage, bracket_cap = self._leverage(instrument)
        caps: dict[str, Decimal] = {
            "risk": account.equity * fraction / decision.stop_distance * price,
            "max_leverage": account.equity * s.max_leverage,
            "margin": account.available * leverage,
            "max_notional": s.max_notional,
            "max_exposure": room,
        }
        if bracket_cap is not None:
            caps["leverage_bracket"] = bracket_cap
        bound = min(caps, key=lambda name: (caps[name], name != "risk"))
        buffered = price * (1 - s.notional_buffer)
        try:
            size = size_order(
                instrument, price=buffered, qty=caps[bound] / price, market=True, clip_to_max=True
            )
        except QuantityBelowMinimumError as exc:
            raise _RefusedError(
                "below_min_notional",
                f"size capped by {bound} ({caps[bound]:.2f} USDT) is below the exchange minimum "
                f"{format_decimal(exc.minimum)} (not rounded up)",
            ) from None
        except RejectOrderError as exc:
            raise _RefusedError("filters", str(exc)) from None
        notional = size.qty * price
        detail = (
            f"{decision.side} {format_decimal(size.qty)} (notional {notional:.2f} USDT, {leverage}x) risking "
            f"{fraction:%} of equity {account.equity:f} USDT over a stop of {decision.stop_distance:f}; "
            f"bound by {bound}"
        )
        if size.qty == instrument.filters.market_max_qty and caps[bound] / price > size.qty:
            detail += ", clipped to the market lot maximum"
        return size.qty, notional, leverage, detail

    def _leverage(self, instrument: Instrument) -> tuple[int, Decimal | None]:
        """The leverage to use on ``instrument`` and the largest notional its brackets allow at it."""
        leverage = self._settings.leverage
        if not instrument.brackets:
            return leverage, None
        leverage = min(leverage, max(b.max_leverage for b in instrument.brackets))
        cap = max(b.notional_cap for b in instrument.brackets if b.max_leverage >= leverage)
        return leverage, cap
