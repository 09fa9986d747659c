"""A fresh bracket's legs must survive the window where its entry fill has not reached state yet.

The race from a paper run: a bracket on BTCUSDT ended without the OcoBook hearing about it (reconciliation
closes a stale bracket in state directly), so the book still remembered the symbol as "seen open". The next
bracket on the symbol became PROTECTED from the entry's REST answer before the user stream's fill reached
state; the first event after that (its stop's ALGO_UPDATE NEW) found the position flat and, since "seen
open" was per symbol, took it for a close: the take-profit and stop were cancelled 3 ms after "protected".
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from core.enums import AlgoStatus
from croupier.oco import CancelLeg, Finish, OcoBook
from croupier.protection import ProtectTask, assess
from state.model import Bracket, BracketStatus, PositionState, StateSnapshot
from tests.test_croupier_units import BTC, SL, TP, algo, bracket

D = Decimal
TP2, SL2 = "cas-d2-T0", "cas-d2-S0"


def _second() -> Bracket:
    """The symbol's next bracket (decision d2), PROTECTED."""
    return msgspec.structs.replace(
        bracket(), decision_id="d2", entry_client_id="cas-d2-E0", tp_client_id=TP2, sl_client_id=SL2
    )


def test_a_previous_brackets_seen_open_does_not_count_for_the_next_one() -> None:
    book = OcoBook(5000)
    first = bracket()
    assert book.on_position(first, D("0.01")) == []  # d1's position open in state
    # d1 is closed by reconciliation (state only): the book is not told, nothing calls forget().
    second = _second()
    # d2 PROTECTED from the entry's REST answer; its stop's NEW arrives before the entry fill reaches state.
    stop_new = msgspec.structs.replace(algo(SL, AlgoStatus.NEW), client_algo_id=SL2)
    assert book.on_algo(second, stop_new, D(0)) == []
    assert book.on_position(second, D(0)) == []  # not a close: d2's position was never seen open
    assert not book.seen_open(second)
    # The entry fill reaches state, later the position really closes: then the legs go and d2 finishes.
    assert book.on_position(second, D("0.01")) == []
    assert book.seen_open(second) and not book.seen_open(first)
    assert book.on_position(second, D(0)) == [
        CancelLeg(symbol=BTC, client_algo_id=TP2, reason="position closed (closed_externally)"),
        CancelLeg(symbol=BTC, client_algo_id=SL2, reason="position closed (closed_externally)"),
        Finish(symbol=BTC, reason="closed_externally"),
    ]


def test_the_protection_check_does_not_settle_a_fresh_bracket_after_a_stale_one() -> None:
    book = OcoBook(5000)
    book.on_position(bracket(), D("0.01"))  # d1 seen open, then closed behind the book's back
    second = _second()
    book.observe(msgspec.structs.replace(algo(SL, AlgoStatus.NEW), client_algo_id=SL2))
    snap = msgspec.structs.replace(
        StateSnapshot.empty(0),
        brackets={BTC: second},
        positions={BTC: PositionState(symbol=BTC)},  # its entry fill not in state yet
    )
    assert assess(snap, book, 10, busy=(), stale_ms=60_000) == []
    # Once the bracket is stale with the position still flat, it is settled as before.
    assert assess(snap, book, 60_001, busy=(), stale_ms=60_000) == [
        ProtectTask(symbol=BTC, kind="settle", reason="position is flat")
    ]


def test_the_same_bracket_still_finishes_when_its_position_goes_flat() -> None:
    book, b = OcoBook(5000), bracket(BracketStatus.CLOSING)
    book.on_position(b, D("0.01"))
    assert book.on_algo(b, algo(TP, AlgoStatus.FINISHED), D("0.01")) == [
        CancelLeg(symbol=BTC, client_algo_id=SL, reason="take-profit fired")
    ]
    assert book.on_position(b, D(0)) == [Finish(symbol=BTC, reason="take_profit")]
