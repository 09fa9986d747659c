"""The reconciler's funding step: the exchange's FUNDING_FEE income rows into the state and the journal.

On Binance a cross-margin funding ACCOUNT_UPDATE carries the balance change but no symbol, so the income
history (``GET /fapi/v1/income?incomeType=FUNDING_FEE``: symbol, amount, time) is the reliable source.
:class:`FundingSync` fetches it from a little before the last funding time the state knows (or from the
session's start for a state that never booked funding; later rounds from a little before the newest row
already read) and books every row the state has not seen:

- ``StateManager.apply_funding`` keeps only a time after the symbol's last one, so a row is applied when
  its time is after the state's ``last_funding_ts`` for its symbol (or, for a symbol never funded, at or
  after the start): applying the same rows twice books nothing twice;
- ``Journal.record_funding`` is idempotent per (symbol, time); rows of this session already in the state
  are journaled again once per process, which repairs a journal write lost in a crash between the two.
"""

from __future__ import annotations

import msgspec

from core.logs import get_logger
from core.types import Income, IncomeType
from exchanges.adapter import ExchangeAdapter
from state.journal import Journal
from state.manager import StateManager

__all__ = ["FundingResult", "FundingSync"]

log = get_logger("reconcile")

INCOME_PAGE = 1000  # /fapi/v1/income's maximum limit


class FundingResult(msgspec.Struct, frozen=True, kw_only=True):
    """One funding step: rows read, rows newly booked in the state, journal writes that failed."""

    seen: int = 0
    applied: int = 0
    errors: tuple[str, ...] = ()


class FundingSync:
    """Books the venue's funding payments in the state and the journal (see the module docstring).

    ``lookback_ms``: how far before the last known funding time rows are read again (a row booked late by
    the venue); ``history_start_ms``: where a state that never booked funding starts (``None``: the state's
    session start).
    """

    def __init__(
        self,
        adapter: ExchangeAdapter,
        state: StateManager,
        journal: Journal | None,
        *,
        lookback_ms: int,
        history_start_ms: int | None = None,
    ) -> None:
        self._adapter = adapter
        self._state = state
        self._journal = journal
        self._lookback_ms = lookback_ms
        self._history_start_ms = history_start_ms
        self._journaled: set[tuple[str, int]] = set()
        self._newest: int | None = None  # the newest funding time read by this process

    async def sync(self) -> FundingResult:
        """Read the funding rows due and book the new ones. Venue errors propagate (the round stops)."""
        snap = self._state.get_snapshot()
        fresh_start = self._history_start_ms if self._history_start_ms is not None else snap.session_start_ts
        last = dict(snap.last_funding_ts)
        if last:
            start = max(0, min(last.values()) - self._lookback_ms)
        elif fresh_start > 0:
            start = fresh_start
        else:
            return FundingResult()  # no start known: nothing to read from
        if self._newest is not None:
            # Rows appear at about their time: once one at T was read, older ones were read with it.
            start = max(start, self._newest - self._lookback_ms)
        rows = await self._adapter.income(
            income_type=IncomeType.FUNDING_FEE, start_time=start, limit=INCOME_PAGE
        )
        if rows:
            self._newest = max(self._newest or 0, *(r.ts for r in rows))
        applied = 0
        errors: list[str] = []
        for row in sorted(rows, key=lambda r: (r.ts, r.tran_id)):
            if not row.symbol:
                log.warning("funding row %d without a symbol ignored: %s", row.tran_id, row.income)
                continue
            known = last.get(row.symbol)
            due = row.ts > known if known is not None else row.ts >= fresh_start
            if due:
                await self._state.apply_funding(row.symbol, row.income, row.ts)
                last[row.symbol] = row.ts
                applied += 1
                log.info("funding %s %s at %d booked", row.income, row.asset, row.ts, symbol=row.symbol)
            if due or row.ts >= snap.session_start_ts:
                error = await self._record(row)
                if error is not None:
                    errors.append(error)
        return FundingResult(seen=len(rows), applied=applied, errors=tuple(errors))

    async def _record(self, row: Income) -> str | None:
        key = (row.symbol, row.ts)
        if self._journal is None or key in self._journaled:
            return None
        try:
            await self._journal.record_funding(row.symbol, row.income, row.ts, asset=row.asset)
        except Exception as exc:
            # The state has it; a later round journals it again while its time is still in the read window.
            log.exception("could not journal the funding payment at %d", row.ts, symbol=row.symbol)
            return f"journal funding {row.symbol}@{row.ts}: {exc}"
        self._journaled.add(key)
        return None
