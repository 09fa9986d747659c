"""Session reports: the end-of-session report written from the journal, and the live report (SIGUSR2).

:func:`write_report` writes ``<reports>/<session id>/``: ``report.html`` (self-contained), ``report.md``,
``report.json`` (every figure and every trade, for machines) and the PNG plots. It only reads the journal,
so ``python main.py report <session>`` re-renders the same report at any time. It blocks (SQLite, files):
from a running event loop call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import msgspec

from core.report.live import live_report
from core.report.model import REPORT_FORMAT, AccountFacts, ReportDocument, ReportPaths
from core.report.plots import PLOT_FILES, render_plots
from core.report.render_html import render_html
from core.report.render_md import render_markdown
from core.report.source import SessionNotInJournalError, build_document, load_input
from state.journal_queries import JournalReader

__all__ = [
    "HTML_FILE",
    "JSON_FILE",
    "MARKDOWN_FILE",
    "AccountFacts",
    "ReportDocument",
    "ReportFormatError",
    "ReportPaths",
    "SessionNotInJournalError",
    "encode_report",
    "live_report",
    "read_report",
    "report_folder",
    "write_report",
]

HTML_FILE = "report.html"
MARKDOWN_FILE = "report.md"
JSON_FILE = "report.json"


class ReportFormatError(ValueError):
    """``report.json`` is not a Casino report (or of another format): re-render it from the journal."""


def report_folder(out_dir: str | Path, session_id: str) -> Path:
    """``out_dir/<session_id>``; ``out_dir`` itself when it is already named after the session."""
    base = Path(out_dir)
    return base if base.name == session_id else base / session_id


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and a rename: a reader (or a crash) never sees a
    half-written file. The file gets the usual permissions (0666 less the umask), like any other output."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def encode_report(doc: ReportDocument) -> bytes:
    """``report.json``'s bytes: indented, keys in declaration order, Decimals as exact strings."""
    return msgspec.json.format(msgspec.json.encode(doc), indent=2) + b"\n"


def read_report(path: str | Path) -> ReportDocument:
    """Decode a ``report.json`` (or the one inside a report folder)."""
    file = Path(path)
    if file.is_dir():
        file = file / JSON_FILE
    try:
        doc = msgspec.json.decode(file.read_bytes(), type=ReportDocument)
    except msgspec.ValidationError as exc:
        raise ReportFormatError(f"{file} is not a Casino report: {exc}") from None
    if doc.format != REPORT_FORMAT:
        raise ReportFormatError(f"{file} is a {doc.format!r} report; this Casino writes {REPORT_FORMAT!r}")
    return doc


def write_report(
    journal_path: str | Path, session_id: str, out_dir: str | Path, *, account: AccountFacts
) -> ReportPaths:
    """Render the report of ``session_id`` from the journal at ``journal_path`` into
    :func:`report_folder` ``(out_dir, session_id)``; ``account`` is the exchange account's view, shown
    beside the journal's totals (a mismatch is flagged at the top of every rendering).

    Raises :class:`~state.journal_queries.JournalNotFoundError` or :class:`SessionNotInJournalError`.
    """
    journal = Path(journal_path).resolve()
    with JournalReader.open(journal) as reader:
        inp = load_input(reader, session_id)
    doc, curve, drawdown = build_document(inp, account, journal)
    plots = render_plots(doc.figures, curve, drawdown, account.asset)
    folder = report_folder(out_dir, session_id)
    folder.mkdir(parents=True, exist_ok=True)
    plot_paths = {}
    for name, png in plots.items():
        plot_paths[name] = folder / PLOT_FILES[name]
        _write_atomic(plot_paths[name], png)
    paths = ReportPaths(
        folder=folder,
        html=folder / HTML_FILE,
        markdown=folder / MARKDOWN_FILE,
        json=folder / JSON_FILE,
        plots=plot_paths,
    )
    _write_atomic(paths.markdown, render_markdown(doc).encode("utf-8"))
    _write_atomic(paths.html, render_html(doc, plots).encode("utf-8"))
    _write_atomic(paths.json, encode_report(doc))
    return paths
