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


def _slow(log: list[str], name: str) -> Any:
    async def slow(ctx: Any) -> dict[str, Any]:
        try:
            await trio.sleep(100)
        except trio.Cancelled:
            log.append(f"cancelled {name}")
            raise
        log.append(f"done {name}")  # pragma: no cover - cancelled first
        return {name: 1}

    slow.__name__ = name
    return slow


def _boom(ctx: Any) -> dict[str, Any]:
    raise ValueError("boom")


async def _after(seconds: float) -> Any:
    async def later(ctx: Any) -> dict[str, Any]:
        await trio.sleep(seconds)
        return {}

    return later


async def test_an_effect_outside_regions_is_cancelled_with_its_case_on_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    term = wf.par(
        wf.task("slow", _slow(log, "slow")),
        wf.seq(wf.task("w", await _after(1)), wf.task("b", _boom)),
    )
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(term)
        with pytest.raises(wf.CaseFailed):
            await sub.wait(cid)
        assert log == ["cancelled slow"]
        assert trio.current_time() == 1
        assert sub.stats().effects_cancelled == 1


async def test_an_effect_outside_regions_is_cancelled_by_terminate_and_case_cancel(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    ends = wf.par(
        wf.task("a", _slow(log, "a")), wf.seq(wf.task("w", await _after(2)), wf.terminate())
    )
    async with wf.open_substrate() as sub:
        res = await sub.wait(await sub.new_case(ends))
        assert res.state is wf.CaseState.DONE
        assert log == ["cancelled a"]
        cid = await sub.new_case(wf.task("b", _slow(log, "b")))
        await trio.sleep(3)
        await sub.cancel(cid)
        with pytest.raises(wf.CaseCancelled):
            await sub.wait(cid)
        assert log == ["cancelled a", "cancelled b"]
        assert trio.current_time() == 5


async def test_only_effects_inside_regions_get_a_scope_of_their_own(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    race = wf.join(
        wf.first(1, cancel_rest=True),
        wf.task("quick", await _after(1)),
        wf.task("slow", _slow(log, "slow")),
    )
    term = wf.seq(race, wf.task("after", _inc))
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(term)
        await trio.testing.wait_all_tasks_blocked()
        kids = sub._get(cid).kids
        assert kids is not None
        # the cancelling join's branches run in a region: withdrawn alone, by their scope
        assert kids.effects
        assert set(kids.scopes) == set(kids.effects)
        res = await sub.wait(cid)
        assert res.ctx["n"] == 1
        assert log == ["cancelled slow"]
        cid = await sub.new_case(
            wf.par(wf.task("x", await _after(1)), wf.task("y", await _after(1)))
        )
        await trio.testing.wait_all_tasks_blocked()
        kids = sub._get(cid).kids
        assert kids is not None
        assert len(kids.effects) == 2
        assert not kids.scopes
        await sub.wait(cid)


def test_withdrawing_a_scopeless_effect_while_the_case_goes_on_is_an_engine_error() -> None:
    from wftrio.engine import StartEffect
    from wftrio.runtime._children import Children, Counters

    async def main() -> None:
        kids = Children(lambda m: True, lambda: None, Counters())
        cmd = StartEffect(1, "e", None, {}, (), 1)
        kids.start_effect(cmd)  # queued: the case nursery is not open
        with pytest.raises(wf.EngineError, match="outside every region"):
            kids.cancel_effect(1)
        kids.start_effect(StartEffect(2, "f", None, {}, (), 2))
        kids.cancel_effect(2, ending=True)  # with the case: the case nursery cancels it
        assert set(kids.withdrawn) == {1, 2}
        at = kids.withdrawn[2]
        await trio.sleep(1)
        kids.cancel_effect(2, ending=True)  # a second withdrawal changes nothing
        assert kids.withdrawn[2] == at
        assert kids.counters.effects_cancelled == 2

    trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


def test_effects_started_in_one_call_queue_in_order_and_count_once_each() -> None:
    from wftrio.engine import StartEffect
    from wftrio.runtime._children import Children, Counters

    async def main() -> None:
        kids = Children(lambda m: True, lambda: None, Counters())
        plain = [StartEffect(i, f"e{i}", None, {}, (), i) for i in (1, 2, 4)]
        region = StartEffect(3, "r", None, {}, (7,), 3)
        kids.start_effects([plain[0], plain[1], region, plain[2]])
        # the plain ones queued as themselves, in order, for the case nursery;
        # the one in a region in its host, with a scope of its own
        assert kids.root.pending is not None
        assert [p for p in kids.root.pending if isinstance(p, StartEffect)] == plain
        assert list(kids.hosts) == [7]
        assert set(kids.scopes) == {3}
        assert list(kids.effects) == [1, 2, 3, 4]
        assert kids.counters.effects_started == 4
        assert kids.unstarted == 4
        assert kids.root.live == 4  # three effects and the region's host
        kids.start_effects([StartEffect(5, "h", None, {}, (), 5)], hold=True)
        assert kids.held is not None
        assert set(kids.held) == {5}
        assert kids.counters.effects_started == 4  # held: not started yet

    trio.run(main)
