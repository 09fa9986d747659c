"""A journal process killed (SIGKILL) inside a batch: reopened, the batch is gone whole, the rest intact."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.enums import Side
from state.journal import Journal
from state.journal_queries import JournalReader
from tests.helpers import REPO_ROOT
from tests.journal_support import decision, fill, verdict

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

_CHILD = r"""
import asyncio, json, os, signal, sys
from state.journal import Journal
from core.enums import Side
from tests.journal_support import decision, fill, verdict

path, marker, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])


class Killer(Journal):
    armed = False
    applied = 0
    batch = []

    def _commit(self, conn, records):
        Killer.batch = records
        super()._commit(conn, records)

    def _apply(self, conn, record):
        if not Killer.armed:
            return super()._apply(conn, record)
        Killer.applied += 1
        position = Killer.batch.index(record)
        if Killer.applied >= kill_after and position >= 1 and record.label.startswith("decision"):
            # Half of this record and the records before it in the batch are written, not committed.
            for text, params in record.statements[:2]:
                conn.execute(text, params)
            with open(marker, "w") as fh:
                json.dump({"batch": [r.label for r in Killer.batch], "at": position}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.kill(os.getpid(), signal.SIGKILL)
        return super()._apply(conn, record)


async def main():
    j = await Killer.open(path)
    await j.start_session("crash", started_ts=0, venue="paper", account="a", symbols=["BTCUSDT"], config={})
    for n in range(1, 101):
        await j.record_fill(fill(n, Side.BUY, "100", "0.001", n))
    await j.flush()
    Killer.armed = True
    n = 100
    while True:  # until the writer kills the process
        n += 1
        await j.record_fill(fill(n, Side.BUY, "100", "0.001", n))
        if n % 7 == 0:
            await j.record_decision(decision(f"D{n}", reasons=3), verdict(f"D{n}"))
        if n % 37 == 0:
            await asyncio.sleep(0.001)


asyncio.run(main())
"""


@pytest.mark.parametrize("kill_after", [5, 60, 400])
async def test_sigkill_mid_batch_keeps_whole_batches_only(tmp_path: Path, kill_after: int) -> None:
    path = tmp_path / "journal.sqlite"
    marker = tmp_path / "marker.json"
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _CHILD,
        str(path),
        str(marker),
        str(kill_after),
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stderr=subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == -signal.SIGKILL, stderr.decode()
    killed = json.loads(marker.read_text())
    batch_fills = {int(label.split("#")[1]) for label in killed["batch"] if label.startswith("fill")}
    batch_decisions = {label.split()[1] for label in killed["batch"] if label.startswith("decision")}
    assert killed["at"] >= 1 and batch_fills

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()

    journal = await Journal.open(path)  # reopens (WAL recovery) and accepts new records
    await journal.record_alert(ts=1, level="info", component="test", message="after crash")
    await journal.close()
    with JournalReader.open(path) as reader:
        ids = [jf.fill.trade_id for jf in reader.fills()]
        decisions = reader.decisions()
        assert len(reader.alerts()) == 1
    # The child enqueued in a known order; the killed batch is a contiguous run of it.
    order = _enqueue_order(max(batch_fills) + 1)
    start = order.index(killed["batch"][0])
    assert order[start : start + len(killed["batch"])] == killed["batch"]
    before = order[:start]
    # Everything before the killed batch is there; nothing of it is.
    assert ids == [int(label.split("#")[1]) for label in before if label.startswith("fill")]
    present = {d.decision.decision_id for d in decisions}
    assert present == {label.split()[1] for label in before if label.startswith("decision")}
    assert not batch_decisions & present
    assert all(len(d.decision.reasons) == 3 for d in decisions)


def _enqueue_order(last: int) -> list[str]:
    """The labels of the child's records, in the order it enqueued them."""
    labels = [f"fill BTCUSDT#{n}" for n in range(1, 101)]
    for n in range(101, last + 1):
        labels.append(f"fill BTCUSDT#{n}")
        if n % 7 == 0:
            labels.append(f"decision D{n}")
    return labels


async def test_reopen_after_clean_close_keeps_everything(tmp_path: Path) -> None:
    """The control case: the same writes, closed normally, are all there."""
    path = tmp_path / "journal.sqlite"
    journal = await Journal.open(path)
    for n in range(1, 301):
        await journal.record_fill(fill(n, Side.BUY, "100", "0.001", n))
        if n % 7 == 0:
            await journal.record_decision(decision(f"D{n}", reasons=3), verdict(f"D{n}"))
    await journal.close()
    with JournalReader.open(path) as reader:
        assert [jf.fill.trade_id for jf in reader.fills()] == list(range(1, 301))
        assert len(reader.decisions()) == 42
