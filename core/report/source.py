"""From a journal to a :class:`~core.report.model.ReportDocument` (blocking: SQLite reads; run it in a thread
when an event loop is running)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.report.figures import METHODOLOGY, ReportInput, compute_figures, cross_check, equity_curve
from core.report.model import REPORT_FORMAT, AccountFacts, ReportDocument
from core.report.plots import PLOT_FILES
from core.report.stats import drawdown_series
from state.journal_queries import JournalReader

__all__ = ["SessionNotInJournalError", "build_document", "load_input"]


class SessionNotInJournalError(LookupError):
    """The journal has no such session: check the session id (``report`` lists the ones it has)."""

    def __init__(self, session_id: str, path: Path, known: tuple[str, ...]) -> None:
        listed = ", ".join(known[-10:]) if known else "none"
        super().__init__(f"session {session_id!r} is not in the journal {path} (sessions there: {listed})")
        self.session_id = session_id
        self.known = known


def load_input(reader: JournalReader, session_id: str) -> ReportInput:
    """Everything the report needs about ``session_id``, read on one consistent snapshot of the journal."""
    with reader.snapshot():
        session = reader.session(session_id)
        if session is None:
            known = tuple(s.session_id for s in reader.sessions())
            raise SessionNotInJournalError(session_id, reader.path, known)
        return ReportInput(
            session=session,
            totals=reader.totals(session_id),
            trades=reader.trades(session_id),
            fills=reader.fills(session_id),
            funding=reader.funding(session_id),
            equity=reader.equity(session_id),
            decisions=reader.decisions(session_id),
            halts=reader.halts(session_id),
        )


def build_document(
    inp: ReportInput, account: AccountFacts, journal: Path
) -> tuple[ReportDocument, list[tuple[int, Decimal]], list[tuple[int, Decimal]]]:
    """The report document, with the equity curve and drawdown series its plots draw."""
    figures = compute_figures(inp, account)
    _, curve = equity_curve(inp, account)
    doc = ReportDocument(
        format=REPORT_FORMAT,
        session=inp.session,
        journal=str(journal),
        figures=figures,
        account=account,
        cross_check=cross_check(inp.totals, account),
        methodology=METHODOLOGY,
        plots=dict(PLOT_FILES),
        halts=inp.halts,
        trades=inp.trades,
    )
    return doc, curve, drawdown_series(curve)
