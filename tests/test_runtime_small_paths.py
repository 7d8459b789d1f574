"""The small-case fast paths: generated ids, the run clock, wf.run without a watchdog."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.runtime._runner import run_clock
from wftrio.runtime._substrate import new_ids


def _inc(ctx: Any) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


def test_new_ids_are_uuid4_hex_and_a_4_byte_token() -> None:
    seen = set()
    for _ in range(500):
        case_id, token = new_ids()
        u = uuid.UUID(hex=case_id)
        assert u.hex == case_id
        assert u.version == 4
        assert u.variant == uuid.RFC_4122
        assert len(token) == 8
        int(token, 16)
        seen.add(case_id)
    assert len(seen) == 500


async def test_generated_case_id_is_uuid4_hex() -> None:
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(wf.task("t", _inc))
        assert uuid.UUID(hex=cid).version == 4
        assert (await sub.wait(cid)).ctx["n"] == 1


def test_run_clock_reads_the_runs_clock() -> None:
    async def main() -> tuple[float, float, float]:
        fn = run_clock()
        assert run_clock() is fn  # made once per clock
        before = fn()
        await trio.sleep(5)
        return before, fn(), trio.current_time()

    clock = trio.testing.MockClock(autojump_threshold=0)
    before, after, now = trio.run(main, clock=clock)
    assert after - before == 5
    assert after == now

    async def other() -> float:
        return run_clock()() - trio.current_time()

    # another run with another clock gets that clock, not the cached one
    assert trio.run(other, clock=trio.testing.MockClock(rate=0)) == 0


def test_wf_run_of_a_case_ending_in_its_first_burst() -> None:
    res = wf.run(wf.seq(wf.task("a", _inc), wf.task("b", _inc)), {"n": 1})
    assert res.ctx["n"] == 3
    assert res.state is wf.CaseState.DONE


def test_wf_run_of_a_waiting_case_still_watches_for_stuck() -> None:
    term = wf.seq(wf.wait_signal("go"), wf.task("t", _inc))
    clock = trio.testing.MockClock(autojump_threshold=0)
    with pytest.raises(wf.CaseStuck, match="go"):
        wf.run(term, clock=clock)
    assert wf.run(term, signals=[("go", 1)]).ctx["n"] == 1


async def test_sink_channel_is_made_when_a_sink_first_needs_it() -> None:
    seen: list[str] = []
    async with wf.open_substrate(sink_buffer=7) as sub:
        assert sub.hub.statistics()["queued"] == 0
        assert sub.hub.statistics()["capacity"] == 7
        first = await sub.new_case(wf.task("t", _inc))
        await sub.wait(first)
        assert sub.hub._send is None  # no sink yet: no channel, no sink task
        cid = await sub.new_case(wf.seq(wf.wait_signal("go"), wf.task("t", _inc)))
        sub.trace(cid, "full", lambda ev: seen.append(ev.kind))
        await sub.signal(cid, "go", 1)
        await sub.wait(cid)
        assert sub.hub.statistics()["capacity"] == 7
    assert seen[-2:] == ["case_completed", "case_state"], seen


async def test_substrate_without_sinks_opens_and_closes_twice() -> None:
    for _ in range(2):
        async with wf.open_substrate() as sub:
            assert (await sub.wait(await sub.new_case(wf.task("t", _inc)))).ctx["n"] == 1
        assert sub.hub._send is None
