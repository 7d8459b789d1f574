"""Cancelled effects: the budget and their receipts (issue 10 item 8).

* The time from a cancelled effect's request to its withdrawal counts
  against ``max_time``, like a finished effect's.
"""

from __future__ import annotations

from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.runtime import open_substrate


async def _slow(ctx: Any) -> dict[str, int]:
    await trio.sleep(100)
    return {"slow": 1}


async def test_a_cancelled_effects_time_is_charged_to_max_time(
    autojump_clock: trio.testing.MockClock,
) -> None:
    term = wf.seq(
        wf.region("r", wf.task("slow", _slow)),
        wf.task("after", lambda ctx: {"after": 1}),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term, budget=wf.Budget(max_time=1000))
        await trio.sleep(7)
        await sub.cancel_region(cid, "r")
        result = await sub.wait(cid)
        assert result.ctx == {"after": 1}
        [r] = [r for r in sub.receipts(cid) if r.task == "slow"]
        assert r.outcome == "cancelled"
        assert r.attempts == 1  # its function was running
        assert sub.status(cid).budget.time == 7.0


def _recording(calls: list[str]) -> Any:
    async def fn(ctx: Any) -> dict[str, int]:
        calls.append("called")
        await trio.sleep(100)
        return {"slow": 1}

    return fn


def _pure_chain(n: int) -> wf.Term:
    return wf.seq(*(wf.task(f"p{i}", lambda ctx: {}) for i in range(n)))


async def test_an_effect_withdrawn_before_it_started_made_no_attempt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # the effect's branch runs first and requests it; the pure branch then
    # fires the cancelling discriminator in the same reduction
    calls: list[str] = []
    term = wf.join(
        wf.first(1, cancel_rest=True), wf.task("slow", _recording(calls)), _pure_chain(1)
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.wait(cid)
        [r] = [r for r in sub.receipts(cid) if r.task == "slow"]
        assert r.outcome == "cancelled"
        assert r.attempts == 0
    assert calls == []  # and its function was indeed never called


async def test_an_effect_held_across_step_quanta_and_withdrawn_never_starts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # the reduction is cut into slices (the runner yields between them) but
    # does not block: the effect waits for the block, and is withdrawn first
    calls: list[str] = []
    term = wf.join(
        wf.first(1, cancel_rest=True), wf.task("slow", _recording(calls)), _pure_chain(300)
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term, step_quanta=7)
        await sub.wait(cid)
        [r] = [r for r in sub.receipts(cid) if r.task == "slow"]
        assert (r.outcome, r.attempts) == ("cancelled", 0)
    assert calls == []


async def test_an_effect_started_when_the_case_blocked_counts_its_attempt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # cancelled at once, before the runner yields to the effect's task: the
    # runner lets the effect begin first, so attempts=1 is the truth
    calls: list[str] = []
    term = wf.region("r", wf.task("slow", _recording(calls)))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.cancel_region(cid, "r")
        await sub.wait(cid)
        [r] = [r for r in sub.receipts(cid) if r.task == "slow"]
        assert (r.outcome, r.attempts) == ("cancelled", 1)
    assert calls == ["called"]


async def test_a_replay_of_a_withdrawn_effect_gives_the_same_receipt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls: list[str] = []
    term = wf.join(
        wf.first(1, cancel_rest=True), wf.task("slow", _recording(calls)), _pure_chain(40)
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term, step_quanta=3)
        res = await sub.wait(cid)
        sub.forget(cid)
        again = await sub.new_case(
            term, scheduler=wf.Replay(wf.replay_log(res.trace)), step_quanta=1000
        )
        res2 = await sub.wait(again)
    assert [r.attempts for r in res2.receipts(steps=False)] == [0]
    assert res2.receipts(steps=False) == res.receipts(steps=False)
