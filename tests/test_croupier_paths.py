"""The Croupier through the sandbox: take-profit and stop-loss paths with the sibling cancelled, liquidation,
a stop stuck in TRIGGERING, and PnL/fees in state and journal equal to the sandbox's income ledger.

Every test trades on its own sandbox account through the real connector, user stream, WAL, state and
journal; assertions are made on the sandbox's own books (``sb.context.core``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from core.enums import AlgoStatus, OrderType, Side, WorkingType
from croupier.model import OutcomeStatus
from exchanges.sandbox.runner import Sandbox
from tests.croupier_support import Env, account_env, sandbox_settings
from tests.helpers import eventually

pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]

D = Decimal
ACCOUNTS = {
    "tp": "croupTp:croupTpSecret:10000",
    "sl": "croupSl:croupSlSecret:10000",
    "liq": "croupLiq:croupLiqSecret:30",
    "stuck": "croupStuck:croupStuckSecret:10000",
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(sandbox_settings(ACCOUNTS.values(), seed=5)) as sb:
        yield sb


def _account(name: str) -> tuple[str, str]:
    key, secret, _ = ACCOUNTS[name].split(":")
    return key, secret


async def _assert_money_matches(env: Env) -> None:
    """Realized PnL and fees in state and in the journal equal the sandbox's income ledger, to the cent."""
    await eventually(lambda: not env.croupier._queue.qsize(), timeout=5, message="events handled")
    pnl, commission = env.venue_pnl_and_fees()
    snap = env.state.get_snapshot()
    assert snap.realized_pnl_total == pnl
    assert snap.fees_total == -commission
    totals = await env.journal_rows("totals")
    assert (totals.realized_pnl, totals.fees) == (pnl, -commission)


async def _seen(env: Env, client_algo_id: str, status: AlgoStatus) -> None:
    """The Croupier heard from the user stream that the algo order reached ``status``."""

    def check() -> bool:
        algo = env.croupier.oco.algo(client_algo_id)
        return algo is not None and algo.status is status

    await eventually(check, timeout=5, message=f"{client_algo_id} {status}")


async def test_take_profit_path_cancels_the_stop(sandbox: Sandbox, tmp_path: Path) -> None:
    async with account_env(sandbox, _account("tp"), tmp_path) as env:
        decision = env.decision("BTCUSDT", Side.BUY, stop_pct="0.02", tp_pct="0.003")
        outcome = await env.croupier.execute(decision, env.verdict(decision, "0.002"))
        assert outcome.status is OutcomeStatus.PROTECTED, outcome
        pos = env.venue_position("BTCUSDT")
        assert pos.qty == D("0.002") and pos.entry_price == outcome.avg_price
        algos = {a.order_type: a for a in env.venue_algos("BTCUSDT")}
        tp, sl = algos[OrderType.TAKE_PROFIT_MARKET], algos[OrderType.STOP_MARKET]
        assert tp.close_position and sl.close_position and tp.side is sl.side is Side.SELL
        assert sl.working_type is WorkingType.MARK_PRICE
        assert (tp.trigger_price, sl.trigger_price) == (outcome.tp_price, outcome.sl_price)
        assert sl.trigger_price < outcome.avg_price < tp.trigger_price
        assert env.state.get_snapshot().brackets["BTCUSDT"].status.value == "PROTECTED"

        env.inject_trade("BTCUSDT", tp.trigger_price + 1)  # the tape trades through the take-profit
        await env.flat_and_clean("BTCUSDT")
        await _seen(env, sl.client_algo_id, AlgoStatus.CANCELED)
        trades = await env.journal_rows("trades")
        assert [(t.status, t.exit_reason, t.decision_id) for t in trades] == [
            ("closed", "take_profit", decision.decision_id)
        ]
        await _assert_money_matches(env)


async def test_stop_loss_path_cancels_the_take_profit(sandbox: Sandbox, tmp_path: Path) -> None:
    async with account_env(sandbox, _account("sl"), tmp_path) as env:
        decision = env.decision("ETHUSDT", Side.SELL, stop_pct="0.004", tp_pct="0.05")
        outcome = await env.croupier.execute(decision, env.verdict(decision, "0.05"))
        assert outcome.status is OutcomeStatus.PROTECTED, outcome
        assert env.venue_position("ETHUSDT").qty == D("-0.05")
        assert len(env.venue_algos("ETHUSDT")) == 2

        env.inject_mark("ETHUSDT", outcome.sl_price + 1)  # the mark rises through the short's stop
        await env.flat_and_clean("ETHUSDT")
        trades = await env.journal_rows("trades")
        assert [(t.side, t.exit_reason) for t in trades] == [(Side.SELL, "stop_loss")]
        want = {"STOP_MARKET": "FINISHED", "TAKE_PROFIT_MARKET": "CANCELED"}

        async def journaled() -> bool:
            return {a.type: a.status for a in await env.journal_rows("algo_orders")} == want

        await eventually(journaled, timeout=5, message="both legs journaled in their final status")
        await _assert_money_matches(env)


async def test_liquidation_cancels_both_legs(sandbox: Sandbox, tmp_path: Path) -> None:
    async with account_env(sandbox, _account("liq"), tmp_path) as env:
        assert await env.adapter.set_leverage("ETHUSDT", 50) == 50
        # A 30 USDT wallet carrying ~1,000 USDT of ETH: liquidated after a ~2.5 % drop, long before the
        # 20 % stop would fire.
        decision = env.decision("ETHUSDT", Side.BUY, stop_pct="0.20", tp_pct="0.20")
        qty = (D(1000) / decision.reference_price).quantize(D("0.001"))
        outcome = await env.croupier.execute(decision, env.verdict(decision, str(qty)))
        assert outcome.status is OutcomeStatus.PROTECTED, outcome
        assert len(env.venue_algos("ETHUSDT")) == 2

        env.inject_mark("ETHUSDT", outcome.avg_price * D("0.95"))
        await env.flat_and_clean("ETHUSDT")
        trades = await env.journal_rows("trades")
        assert [t.exit_reason for t in trades] == ["liquidation"]
        assert env.croupier.oco.exit_reason("ETHUSDT") is None  # the bracket was settled and forgotten
        await _assert_money_matches(env)  # realized PnL is the venue's capped figure, to the cent
        # State equals the venue: flat, and every venue trade (the liquidation's too) booked exactly once,
        # from the user stream's CALCULATED fill (nothing fetches it by REST any more).
        snap = env.state.get_snapshot()
        assert snap.position("ETHUSDT").qty == env.venue_position("ETHUSDT").qty == 0
        venue_trades = env.core.user_trades(env.account, "ETHUSDT")
        assert snap.applied_fills == len(venue_trades)
        assert {t.trade_id for t in venue_trades} <= set(snap.recent_trade_ids["ETHUSDT"])
        assert any(t.client_order_id.startswith("autoclose-") for t in venue_trades)
        assert any(a.level == "critical" and "force-closed" in a.message for a in env.alerts), env.alerts


async def test_stop_stuck_in_triggering_is_closed_within_the_bound(sandbox: Sandbox, tmp_path: Path) -> None:
    async with account_env(sandbox, _account("stuck"), tmp_path) as env:
        decision = env.decision("BTCUSDT", Side.BUY, stop_pct="0.004", tp_pct="0.05")
        outcome = await env.croupier.execute(decision, env.verdict(decision, "0.002"))
        assert outcome.status is OutcomeStatus.PROTECTED, outcome
        env.core.stall_triggering("BTCUSDT", True)
        try:
            env.inject_mark("BTCUSDT", outcome.sl_price - 1)
            stop_id = env.state.get_snapshot().brackets["BTCUSDT"].sl_client_id
            await eventually(
                lambda: any(a.status is AlgoStatus.TRIGGERING for a in env.venue_algos("BTCUSDT")),
                timeout=5,
                message="the stop stuck in TRIGGERING",
            )
            stuck_at = env.now()
            await env.flat_and_clean("BTCUSDT")
            # Within the bound: triggering timeout plus one protection interval (and a little slack).
            settings = env.croupier.settings
            bound_ms = (settings.triggering_timeout_s + 2 * settings.protect_interval_s) * 1000
            assert env.now() - stuck_at < bound_ms + 3000
        finally:
            env.core.stall_triggering("BTCUSDT", False)
        assert any(a.level == "critical" and "stuck" in a.message for a in env.alerts), env.alerts
        await _seen(env, stop_id, AlgoStatus.CANCELED)
        trades = await env.journal_rows("trades")
        assert [t.exit_reason for t in trades] == ["market"]
        await _assert_money_matches(env)
