"""``python main.py report <session-id|path>``: re-render a session's report from its journal.

What the argument may be:

- a session id: the journal is ``<state dir>/journal.sqlite3`` (``--state-dir``, default ``state.dir``);
- a report folder, or its ``report.json``: the session and journal it names, re-rendered in place;
- a journal file, or a state directory holding ``journal.sqlite3``: its latest session (or ``--session``).

The report goes to ``<report dir>/<session id>/`` (``--report-dir``, default ``session.report_dir``), or back
into the report folder it was given. The exchange account's figures cannot be read from the journal: they
are carried over from the report already in that folder (so a re-render yields the same ``report.json``),
and the report says "not checked" when there is none. Exit status: 0 when written and the journal equals
the account (or there was nothing to check), 1 on a mismatch, 2 when the report cannot be made.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import msgspec

from core.commands.venue import settings_from_args
from core.config import ConfigError
from core.report import (
    JSON_FILE,
    AccountFacts,
    ReportFormatError,
    SessionNotInJournalError,
    read_report,
    report_folder,
    write_report,
)
from state.journal_queries import JournalNotFoundError, JournalReader, JournalVersionError
from state.recovery import JOURNAL_FILE

__all__ = ["ReportTarget", "UnknownReportTargetError", "add_arguments", "resolve_target", "run"]


class UnknownReportTargetError(LookupError):
    """The argument names no session, journal or report: give a session id, a report folder or a journal."""


class ReportTarget(msgspec.Struct, frozen=True, kw_only=True):
    """What to re-render: the journal, the session in it, where the report goes, and the account facts."""

    journal: Path
    session_id: str
    out_dir: Path
    account: AccountFacts
    account_from: Path | None  # the report the account facts were carried over from


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "target",
        metavar="SESSION_OR_PATH",
        help="a session id, a report folder (or its report.json), a journal file or a state directory",
    )
    parser.add_argument("--session", metavar="ID", help="with a journal or state directory: which session")
    parser.add_argument(
        "--state-dir", metavar="DIR", help="state directory of the journal (default state.dir)"
    )
    parser.add_argument(
        "--report-dir", metavar="DIR", help="folder of the reports (default session.report_dir: reports)"
    )


def _latest_session(journal: Path) -> str:
    with JournalReader.open(journal) as reader:
        latest = reader.latest_session()
    if latest is None:
        raise UnknownReportTargetError(f"the journal {journal} holds no session")
    return latest.session_id


def _carried_account(folder: Path, session_id: str) -> tuple[AccountFacts, Path | None]:
    existing = folder / JSON_FILE
    if not existing.is_file():
        return AccountFacts(), None
    doc = read_report(existing)
    if doc.session.session_id != session_id:
        return AccountFacts(), None
    return doc.account, existing


def resolve_target(target: str, *, session: str | None, state_dir: Path, report_dir: Path) -> ReportTarget:
    """Work out what ``target`` names (see the module docstring)."""
    path = Path(target)
    if (path.is_file() and path.name == JSON_FILE) or (path.is_dir() and (path / JSON_FILE).is_file()):
        doc = read_report(path)
        folder = path.parent if path.is_file() else path
        return ReportTarget(
            journal=Path(doc.journal),
            session_id=doc.session.session_id,
            out_dir=folder,
            account=doc.account,
            account_from=folder / JSON_FILE,
        )
    if path.is_file() or (path.is_dir() and (path / JOURNAL_FILE).is_file()):
        journal = path if path.is_file() else path / JOURNAL_FILE
        session_id = session or _latest_session(journal)
    elif path.is_dir():
        raise UnknownReportTargetError(f"{path} holds neither a {JSON_FILE} nor a {JOURNAL_FILE}")
    else:
        journal = state_dir / JOURNAL_FILE
        session_id = session or target
    folder = report_folder(report_dir, session_id)
    account, source = _carried_account(folder, session_id)
    return ReportTarget(
        journal=journal, session_id=session_id, out_dir=folder, account=account, account_from=source
    )


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Re-render the report (see the module docstring for the exit status)."""
    stream = out if out is not None else sys.stdout
    extra = {"state.dir": args.state_dir, "session.report_dir": args.report_dir}
    try:
        settings = settings_from_args(args, extra)
        target = resolve_target(
            args.target,
            session=args.session,
            state_dir=Path(settings.state.dir),
            report_dir=Path(settings.session.report_dir),
        )
        paths = write_report(target.journal, target.session_id, target.out_dir, account=target.account)
        doc = read_report(paths.json)
    except (
        ConfigError,
        UnknownReportTargetError,
        SessionNotInJournalError,
        JournalNotFoundError,
        JournalVersionError,
        ReportFormatError,
    ) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 2
    f = doc.figures
    print(f"session {target.session_id} from {target.journal}", file=stream)
    print(
        f"net PnL {f.net_pnl} {doc.account.asset}; {f.trades} trades ({f.closed_trades} closed);"
        f" fees {f.fees}; funding {f.funding}",
        file=stream,
    )
    if target.account_from is None:
        print("account figures: none carried over (not checked against the exchange)", file=stream)
    print(f"check: {doc.cross_check.message}", file=stream)
    print(f"report: {paths.html}", file=stream)
    print(f"        {paths.markdown}", file=stream)
    print(f"        {paths.json}", file=stream)
    return 1 if doc.cross_check.ok is False else 0
