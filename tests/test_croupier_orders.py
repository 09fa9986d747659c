"""The Croupier through the sandbox: each kind of rejection (entry -2019 and -4164, stop and take-profit
-2021), two decisions racing on one symbol, the emergency sweep and the dead-man switch.

Every test trades on its own sandbox account; assertions are made on the sandbox's own books.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
import pytest_asyncio

from core.enums import OrderType, Side, TimeInForce, WorkingType
from core.precision import round_price
from core.types import OrderRequest
from croupier.model import OutcomeStatus
from exchanges.binance.client_ids import Leg, client_order_id
from exchanges.sandbox.runner import Sandbox
from tests.croupier_support import FAST, account_env, sandbox_settings
from tests.helpers import eventually

pytestmark = [pytest.mark.timeout(60), pytest.mark.asyncio(loop_scope="module")]

D = Decimal
ACCOUNTS = {
    "poor": "croupPoor:croupPoorSecret:10",
    "small": "croupSmall:croupSmallSecret:10000",
    "sl2021": "croupSl21:croupSl21Secret:10000",
    "tp2021": "croupTp21:croupTp21Secret:10000",
    "race": "croupRace:croupRaceSecret:10000",
    "sweep": "croupSweep:croupSweepSecret:10000",
    "deadman": "croupDead:croupDeadSecret:10000",
    "reprotect": "croupReprot:croupReprotSecret:10000",
}


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def sandbox() -> AsyncIterator[Sandbox]:
    async with Sandbox(sandbox_settings(ACCOUNTS.values(), seed=9)) as sb:
        yield sb


def _account(name: str) -> tuple[str, str]:
    key, secret, _ = ACCOUNTS[name].split(":")
    return key, secret


async def test_entry_rejected_for_margin_closes_the_bracket(sandbox: Sandbox, tmp_path: Path) -> None:
    async with account_env(sandbox, _account("poor"), tmp_path) as env:
        decision = env.decision("BTCUSDT", Side.BUY)
        outcome = await env.croupier.execute(decision, env.verdict(decision, "0.01"))  # ~1,000 USDT on 10
        assert (outcome.status, outcome.code) == (OutcomeStatus.REJECTED, -2019), outcome
        assert env.venue_position("BTCUSDT").qty == 0 and not env.venue_orders() and not env.venue_algos()
        assert env.state.get_snapshot().brackets == {}
        alerts = await env.journal_rows("alerts")
        assert any("-2019" in a.message and decision.decision_id in a.message for a in alerts), alerts
        decisions = await env.journal_rows("decisions")
        assert [d.decision.decision_id for d in decisions] == [decision.decision_id]


async def test_entry_below_min_notional_is_rejected(sandbox: Sandbox, tmp_path: Path) -> None:
    async with account_env(sandbox, _account("small"), tmp_path) as env:
        decision = env.decision("ETHUSDT", Side.SELL)
        outcome = await env.croupier.execute(decision, env.verdict(decision, "0.001"))  # ~2 USDT < 20
        assert (outcome.status, outcome.code) == (OutcomeStatus.REJECTED, -4164), outcome
        assert env.venue_position("ETHUSDT").qty == 0 and not env.venue_algos()
        assert env.state.get_snapshot().brackets == {}
        # The symbol is free again: a correctly sized decision goes through.
        again = env.decision("ETHUSDT", Side.SELL)
        assert (
            await env.croupier.execute(again, env.verdict(again, "0.02"))
        ).status is OutcomeStatus.PROTECTED
        assert (await env.croupier.emergency_sweep()).flat


async def test_stop_refused_2021_is_placed_again_beyond_the_mark(sandbox: Sandbox, tmp_path: Path) -> None:
    async with account_env(sandbox, _account("sl2021"), tmp_path) as env:
        decision = env.decision("ETHUSDT", Side.BUY, stop_pct="0.01", tp_pct="0.05")
        low_mark = round_price(env.instruments["ETHUSDT"], decision.reference_price * D("0.97"))
        async with env.pinned_mark("ETHUSDT", low_mark):  # the mark is already below the planned stop
            outcome = await env.croupier.execute(decision, env.verdict(decision, "0.02"))
            assert outcome.status is OutcomeStatus.PROTECTED, outcome
            stops = [a for a in env.venue_algos("ETHUSDT") if a.order_type is OrderType.STOP_MARKET]
            assert len(stops) == 1 and stops[0].trigger_price < low_mark
            assert stops[0].client_algo_id.endswith("-S1")  # the adjusted retry carries the next attempt id
            assert outcome.sl_price == stops[0].trigger_price
        assert any("-2021" in a.message for a in env.alerts), env.alerts
        result = await env.croupier.emergency_sweep()
        assert result.flat and result.closed == (("ETHUSDT", D("0.02")),)
        await env.flat_and_clean("ETHUSDT")


async def test_take_profit_refused_2021_closes_at_market(sandbox: Sandbox, tmp_path: Path) -> None:
    settings = msgspec.structs.replace(FAST, tp_working_type="MARK_PRICE")
    async with account_env(sandbox, _account("tp2021"), tmp_path, settings) as env:
        decision = env.decision("BTCUSDT", Side.BUY, stop_pct="0.05", tp_pct="0.01")
        high_mark = round_price(env.instruments["BTCUSDT"], decision.reference_price * D("1.03"))
        async with env.pinned_mark("BTCUSDT", high_mark):  # the target is already reached on the mark
            outcome = await env.croupier.execute(decision, env.verdict(decision, "0.002"))
            assert outcome.status is OutcomeStatus.CLOSED and outcome.reason == "take_profit_passed", outcome
            await env.flat_and_clean("BTCUSDT")
        assert any("take-profit refused" in a.message for a in env.alerts), env.alerts
        tps = [a for a in await env.journal_rows("algo_orders") if a.type == "TAKE_PROFIT_MARKET"]
        assert tps == []  # refused: never placed
        trades = await env.journal_rows("trades")
        assert [(t.status, t.exit_reason) for t in trades] == [("closed", "market")]


async def test_two_decisions_racing_on_one_symbol_open_one_position(sandbox: Sandbox, tmp_path: Path) -> None:
    async with account_env(sandbox, _account("race"), tmp_path) as env:
        first = env.decision("BTCUSDT", Side.BUY)
        second = env.decision("BTCUSDT", Side.SELL)
        outcomes = await asyncio.gather(
            env.croupier.execute(first, env.verdict(first, "0.002")),
            env.croupier.execute(second, env.verdict(second, "0.003")),
        )
        assert sorted(o.status for o in outcomes) == [OutcomeStatus.PROTECTED, OutcomeStatus.REFUSED]
        assert env.venue_position("BTCUSDT").qty == D("0.002")
        assert len(env.venue_algos("BTCUSDT")) == 2
        # A later decision on the same symbol is refused too while the position is open.
        third = env.decision("BTCUSDT", Side.BUY)
        late = await env.croupier.execute(third, env.verdict(third, "0.002"))
        assert (late.status, late.reason) == (OutcomeStatus.REFUSED, "bracket already open")
        assert env.venue_position("BTCUSDT").qty == D("0.002")
        assert (await env.croupier.emergency_sweep()).flat


async def test_emergency_sweep_leaves_the_account_flat(sandbox: Sandbox, tmp_path: Path) -> None:
    async with account_env(sandbox, _account("sweep"), tmp_path) as env:
        for symbol, side, qty in (("BTCUSDT", Side.BUY, "0.002"), ("ETHUSDT", Side.SELL, "0.05")):
            decision = env.decision(symbol, side)
            assert (
                await env.croupier.execute(decision, env.verdict(decision, qty))
            ).status is OutcomeStatus.PROTECTED
        # A resting limit order that is not part of any bracket goes too.
        far = round_price(env.instruments["BTCUSDT"], env.last_price("BTCUSDT") * D("0.8"))
        await env.adapter.place_order(
            OrderRequest(
                symbol="BTCUSDT",
                side=Side.BUY,
                type=OrderType.LIMIT,
                quantity=D("0.002"),
                price=far,
                time_in_force=TimeInForce.GTC,
                client_order_id=client_order_id("sweep-test-limit", Leg.ENTRY),
            )
        )
        assert len(env.venue_algos()) == 4 and len(env.venue_orders()) == 1
        result = await env.croupier.emergency_sweep()
        assert result.flat and result.remaining_orders == 0 and result.errors == ()
        assert sorted(result.closed) == [("BTCUSDT", D("0.002")), ("ETHUSDT", D("-0.05"))]
        assert all(p.qty == 0 for p in env.core.positions(env.account, None))
        assert env.venue_orders() == [] and env.venue_algos() == []
        await eventually(
            lambda: env.state.get_snapshot().brackets == {}, timeout=5, message="brackets closed"
        )
        assert all(p.qty == 0 for p in env.state.get_snapshot().positions.values())


async def test_deadman_covers_resting_orders_and_spares_protected_positions(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    settings = msgspec.structs.replace(FAST, deadman_enabled=False)  # refreshed by hand: the bot "dies"
    async with account_env(sandbox, _account("deadman"), tmp_path, settings) as env:
        decision = env.decision("ETHUSDT", Side.BUY)
        assert (
            await env.croupier.execute(decision, env.verdict(decision, "0.02"))
        ).status is OutcomeStatus.PROTECTED
        far = round_price(env.instruments["BTCUSDT"], env.last_price("BTCUSDT") * D("0.8"))
        cid = client_order_id("deadman-limit", Leg.ENTRY)
        await env.adapter.place_order(
            OrderRequest(
                symbol="BTCUSDT",
                side=Side.BUY,
                type=OrderType.LIMIT,
                quantity=D("0.002"),
                price=far,
                time_in_force=TimeInForce.GTC,
                client_order_id=cid,
            )
        )
        await eventually(
            lambda: env.croupier.fills.orders.get(cid) is not None, timeout=5, message="the limit order seen"
        )
        step = await env.croupier.deadman.refresh()
        assert (step.arm, step.disarm) == (("BTCUSDT",), ())
        assert env.croupier.status().deadman_armed == ("BTCUSDT",)
        # No refresh any more: the countdown (30 s of exchange time) runs out and the venue cancels the
        # resting order, while the ETH position keeps both of its legs.
        await eventually(lambda: env.venue_orders("BTCUSDT") == [], timeout=10, message="countdown expiry")
        assert len(env.venue_algos("ETHUSDT")) == 2
        stops = [a for a in env.venue_algos("ETHUSDT") if a.order_type is OrderType.STOP_MARKET]
        assert stops[0].working_type is WorkingType.MARK_PRICE
        assert (await env.croupier.emergency_sweep()).flat


async def test_a_stop_cancelled_by_someone_else_and_a_bare_position_are_protected(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    async with account_env(sandbox, _account("reprotect"), tmp_path) as env:
        decision = env.decision("ETHUSDT", Side.BUY)
        outcome = await env.croupier.execute(decision, env.verdict(decision, "0.02"))
        assert outcome.status is OutcomeStatus.PROTECTED
        first = env.state.get_snapshot().brackets["ETHUSDT"].sl_client_id
        await env.adapter.cancel_algo_order(client_algo_id=first)  # "someone else" cancels our stop

        def new_stop(symbol: str, old: str) -> bool:
            return any(
                a.order_type is OrderType.STOP_MARKET and a.client_algo_id != old
                for a in env.venue_algos(symbol)
            )

        await eventually(lambda: new_stop("ETHUSDT", first), timeout=5, message="a new stop")
        stop = next(a for a in env.venue_algos("ETHUSDT") if a.order_type is OrderType.STOP_MARKET)
        assert stop.client_algo_id.endswith("-S1") and stop.trigger_price == outcome.sl_price
        # A position opened behind the Croupier's back (no bracket) gets a stop from the protection check.
        manual = client_order_id("manual-entry", Leg.ENTRY)
        req = OrderRequest(
            symbol="BTCUSDT",
            side=Side.SELL,
            type=OrderType.MARKET,
            quantity=D("0.002"),
            client_order_id=manual,
        )
        await env.adapter.place_order(req)
        await eventually(lambda: new_stop("BTCUSDT", ""), timeout=5, message="a stop for the bare position")
        bare = next(a for a in env.venue_algos("BTCUSDT") if a.order_type is OrderType.STOP_MARKET)
        entry = env.state.get_snapshot().position("BTCUSDT").entry_price
        assert bare.side is Side.BUY and bare.close_position and bare.trigger_price >= entry * D("1.02")
        assert len([a for a in env.alerts if "re-protecting" in a.message]) == 2
        assert (await env.croupier.emergency_sweep()).flat
