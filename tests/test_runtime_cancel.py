"""Cancellation: regions with effects in flight, nesting, par branches, cases,
shutdown; every effect's cleanup runs and no withdrawn result is applied."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

import wftrio as wf
from wftrio.runtime import CaseState, open_substrate


class Effects:
    """Effect functions that log start, cleanup and completion."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str, float]] = []

    def make(self, name: str, seconds: float, **result: Any) -> Any:
        async def effect(ctx: Any) -> dict[str, Any]:
            self.log.append(("start", name, trio.current_time()))
            try:
                await trio.sleep(seconds)
            except trio.Cancelled:
                self.log.append(("cancelled", name, trio.current_time()))
                raise
            finally:
                self.log.append(("cleanup", name, trio.current_time()))
            self.log.append(("done", name, trio.current_time()))
            return dict(result)

        return wf.task(name, effect)

    def names(self, what: str) -> list[str]:
        return [n for w, n, _ in self.log if w == what]


def put(**kv: Any) -> Any:
    return lambda ctx: dict(kv)


def kinds(events: list[wf.TraceEvent]) -> list[str]:
    return [ev.kind for ev in events]


async def test_cancel_region_with_effects_in_flight(autojump_clock: trio.testing.MockClock) -> None:
    fx = Effects()
    term = wf.seq(
        wf.region(
            "r",
            wf.par(fx.make("e1", 10, e1=True), fx.make("e2", 20, e2=True)),
            compensate=wf.task("undo", put(undone=True)),
        ),
        wf.task("after", put(after=True)),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.wait_state(cid, CaseState.WAITING_EFFECT)
        await trio.sleep(1)
        assert sub.status(cid).effect_tasks == 2
        await sub.cancel_region(cid, "r")
        res = await sub.wait(cid)
        stats = sub.stats()
    assert res.state is CaseState.DONE
    assert res.ctx == {"undone": True, "after": True}  # no effect result applied
    assert sorted(fx.names("cancelled")) == ["e1", "e2"]
    assert sorted(fx.names("cleanup")) == ["e1", "e2"]
    assert fx.names("done") == []
    assert trio.current_time() == pytest.approx(1)
    ks = kinds(res.trace)
    assert ks.count("effect_cancelled") == 2
    assert "region_cancelled" in ks
    assert "effect_completed" not in ks
    assert stats.effects_cancelled == 2
    assert stats.effect_cancel_latency_max == 0.0  # cleanup takes no trio time here


async def test_cancel_region_cleanup_that_takes_time_is_awaited(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cleaned: list[float] = []

    async def stubborn(ctx: Any) -> dict[str, Any]:
        try:
            await trio.sleep(100)
        finally:
            with trio.CancelScope(shield=True):
                await trio.sleep(2)  # cleanup that needs time
            cleaned.append(trio.current_time())
        return {"never": True}

    term = wf.seq(wf.region("r", wf.task("s", stubborn)), wf.wait_signal("go"))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.wait_state(cid, CaseState.WAITING_EFFECT)
        await trio.testing.wait_all_tasks_blocked()  # the effect has started
        await sub.cancel_region(cid, "r")
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        assert sub.status(cid).effects_in_flight == 0
        await sub.signal(cid, "go")
        res = await sub.wait(cid)
        assert "never" not in res.ctx
        assert cleaned == [pytest.approx(2)]
        assert sub.stats().effect_cancel_latency_max == pytest.approx(2)


async def test_nested_regions(autojump_clock: trio.testing.MockClock) -> None:
    fx = Effects()
    term = wf.par(
        wf.region(
            "outer",
            wf.par(
                fx.make("o1", 10, o1=True),
                wf.region("inner", fx.make("i1", 10, i1=True), compensate=wf.task("ci", put(ci=1))),
            ),
            compensate=wf.task("co", put(co=1)),
        ),
        fx.make("bystander", 5, bystander=True),
    )
    async with open_substrate() as sub:
        # cancelling the inner region leaves the outer one running
        a = await sub.new_case(term)
        await trio.sleep(1)
        await sub.cancel_region(a, "inner")
        res = await sub.wait(a)
        assert res.ctx == {"o1": True, "ci": 1, "bystander": True}
        assert fx.names("cancelled") == ["i1"]

        # cancelling the outer region cancels the inner one with it
        fx.log.clear()
        b = await sub.new_case(term)
        await trio.sleep(1)
        assert sub.status(b).live_regions == ("inner", "outer")
        await sub.cancel_region(b, "outer")
        res = await sub.wait(b)
        assert res.ctx == {"co": 1, "bystander": True}
        assert sorted(fx.names("cancelled")) == ["i1", "o1"]
        assert sorted(fx.names("cleanup")) == ["bystander", "i1", "o1"]


async def test_region_in_a_par_branch_while_the_other_completes(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fx = Effects()
    term = wf.seq(
        wf.par(
            wf.region("left", wf.seq(fx.make("slow", 50, slow=True), wf.task("l2", put(l2=1)))),
            wf.seq(fx.make("fast", 2, fast=True), wf.task("r2", put(r2=1))),
        ),
        wf.task("joined", put(joined=True)),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await trio.sleep(3)  # the right branch has completed meanwhile
        assert sub.status(cid).effects_in_flight == 1
        await sub.cancel_region(cid, "left")
        res = await sub.wait(cid)
    assert res.ctx == {"fast": True, "r2": 1, "joined": True}
    assert fx.names("done") == ["fast"]
    assert fx.names("cancelled") == ["slow"]


async def test_cancel_region_that_is_not_live_is_recorded() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(
            wf.seq(wf.region("r", wf.task("a", put(a=1))), wf.wait_signal("go"))
        )
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        await sub.cancel_region(cid, "r")
        with pytest.raises(wf.UnknownRegion):  # not a region of the workflow
            await sub.cancel_region(cid, "never-there")
        await sub.signal(cid, "go")
        res = await sub.wait(cid)
    assert kinds(res.trace).count("region_cancel_ignored") == 1
    assert res.ctx == {"a": 1}


async def test_cancel_a_case_waiting_on_a_signal(autojump_clock: trio.testing.MockClock) -> None:
    fx = Effects()
    term = wf.par(wf.wait_signal("go"), fx.make("bg", 100, bg=True))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.wait_state(cid, CaseState.WAITING_EFFECT)
        await trio.testing.wait_all_tasks_blocked()  # the effect has started
        await sub.cancel(cid)
        with pytest.raises(wf.CaseCancelled) as info:
            await sub.wait(cid)
        assert info.value.case_id == cid
        assert info.value.result.state is CaseState.CANCELLED
        assert fx.names("cleanup") == ["bg"]
        assert fx.names("done") == []
        ev = [e for e in sub.events(cid) if e.kind == "case_cancelled"]
        assert len(ev) == 1
        st = sub.stats()
        assert st.cases_cancelled == 1
        assert st.case_cancel_latency_max == 0.0


async def test_cancel_a_long_running_case_between_bursts() -> None:
    steps = wf.loop(wf.task("inc", lambda ctx: {"n": ctx["n"] + 1}), times=1_000_000)
    async with open_substrate(step_quanta=100) as sub:
        cid = await sub.new_case(steps, {"n": 0})
        await trio.lowlevel.checkpoint()
        await sub.cancel(cid)
        with pytest.raises(wf.CaseCancelled) as info:
            await sub.wait(cid)
        assert 0 < info.value.result.ctx["n"] < 1_000_000


async def test_withdrawn_effects_are_cancelled_cancel_rest_and_terminate(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fx = Effects()
    race = wf.join(wf.first(1, cancel_rest=True), fx.make("quick", 1, q=1), fx.make("slow", 9, s=1))
    ends = wf.par(fx.make("long", 9, long=1), wf.seq(fx.make("short", 1), wf.terminate()))
    async with open_substrate() as sub:
        res = await sub.wait(await sub.new_case(race))
        assert res.ctx == {"q": 1}
        assert fx.names("cancelled") == ["slow"]
        res = await sub.wait(await sub.new_case(ends))
        assert res.state is CaseState.DONE
        assert "long" not in res.ctx
        assert fx.names("cancelled") == ["slow", "long"]
        assert trio.current_time() == pytest.approx(2)


async def test_deferred_choice_timer_withdrawn_by_signal(
    autojump_clock: trio.testing.MockClock,
) -> None:
    term = wf.defer(
        wf.on_signal("go", wf.task("sig", put(by="signal"))),
        wf.after(30, wf.task("tm", put(by="timer"))),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await trio.sleep(5)
        await sub.signal(cid, "go")
        res = await sub.wait(cid)
        assert res.ctx == {"by": "signal"}
        assert trio.current_time() == pytest.approx(5)
        await trio.testing.wait_all_tasks_blocked()
        cid = await sub.new_case(term)
        res = await sub.wait(cid)
        assert res.ctx == {"by": "timer"}
        assert trio.current_time() == pytest.approx(35)


async def test_shutdown_cancels_live_cases_and_runs_cleanup(
    autojump_clock: trio.testing.MockClock,
) -> None:
    fx = Effects()
    async with open_substrate() as sub:
        waiting = await sub.new_case(wf.wait_signal("go"))
        working = await sub.new_case(fx.make("work", 100))
        done = await sub.new_case(wf.task("a", put(a=1)))
        await sub.wait(done)
        await trio.sleep(1)
    # after the block: nothing runs, every live case was recorded CANCELLED
    for cid in (waiting, working):
        info = sub.status(cid)
        assert info.state is CaseState.CANCELLED
        assert info.reason == "shutdown"
        with pytest.raises(wf.CaseCancelled):
            await sub.wait(cid)
    assert sub.status(done).state is CaseState.DONE
    assert fx.names("cleanup") == ["work"]
    assert sub.stats().live_cases == 0


async def test_drain_and_drain_on_exit(autojump_clock: trio.testing.MockClock) -> None:
    fx = Effects()
    async with open_substrate() as sub:
        cids = [await sub.new_case(fx.make(f"e{i}", i + 1, i=i)) for i in range(3)]
        await sub.drain()
        assert all(sub.status(c).state is CaseState.DONE for c in cids)
        assert trio.current_time() == pytest.approx(3)
    async with open_substrate(shutdown="drain") as sub:
        cid = await sub.new_case(fx.make("late", 5, late=True))
    assert sub.status(cid).state is CaseState.DONE
    assert trio.current_time() == pytest.approx(8)


async def test_body_exception_propagates_unwrapped_and_cases_are_cancelled() -> None:
    sub = open_substrate()
    ids: list[str] = []

    async def body() -> None:
        async with sub:
            ids.append(await sub.new_case(wf.wait_signal("go")))
            raise KeyError("body")

    with pytest.raises(KeyError):
        await body()
    assert sub.status(ids[0]).state is CaseState.CANCELLED


async def test_cancelling_the_substrate_from_outside() -> None:
    with trio.CancelScope() as outer:
        async with open_substrate() as sub:
            cid = await sub.new_case(wf.wait_signal("go"))
            outer.cancel()
            await trio.sleep_forever()
    assert outer.cancelled_caught
    assert sub.status(cid).state is CaseState.CANCELLED
    # cancelled by a scope around the substrate: whether the runner saw the
    # cancellation before or after the block started to exit decides the reason
    assert sub.status(cid).reason in ("aborted", "shutdown")
