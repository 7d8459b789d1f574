"""The substrate's public API: every function, every typed error, the states."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.errors import CaseStillRunning, OptionError, SchedulerError, SubstrateClosed
from wftrio.runtime import CaseInfo, CaseResult, CaseState, SubstrateStats, open_substrate, run


def put(**kv: Any) -> Any:
    def fn(ctx: Any) -> dict[str, Any]:
        return dict(kv)

    return fn


def boom(ctx: Any) -> None:
    raise ValueError("boom")


async def slow_effect(ctx: Any) -> dict[str, Any]:
    await trio.sleep(1)
    return {"effect": ctx.get("x", 0) + 1}


def states(trace: list[wf.TraceEvent]) -> list[str]:
    return [str(ev.name) for ev in trace if ev.kind == "case_state"]


WAIT_GO = wf.seq(wf.wait_signal("go", store_as="got"), wf.task("after", put(done=True)))


# -- new_case / ids ---------------------------------------------------------


async def test_new_case_returns_once_initialised_and_runs_to_done() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(wf.task("a", put(a=1)), {"x": 0})
        info = sub.status(cid)
        assert isinstance(info, CaseInfo)
        assert info.state is not CaseState.INITIALIZING
        assert info.started_at is not None
        res = await sub.wait(cid)
        assert isinstance(res, CaseResult)
        assert res.state is CaseState.DONE
        assert res.ctx == {"x": 0, "a": 1}
        assert res.case_id == cid
        assert res.trace[0].kind == "case_started"
        assert sub.status(cid).finished_at is not None


async def test_generated_ids_are_unique_and_given_ids_are_kept() -> None:
    async with open_substrate() as sub:
        ids = {await sub.new_case(wf.task("a", put(a=1))) for _ in range(20)}
        assert len(ids) == 20
        assert await sub.new_case(wf.task("a", put(a=1)), case_id="mine") == "mine"
        await sub.drain()
        assert set(sub.case_ids()) == ids | {"mine"}
        assert sub.case_ids(CaseState.RUNNING) == []


async def test_duplicate_case_id() -> None:
    async with open_substrate() as sub:
        await sub.new_case(WAIT_GO, case_id="dup")
        with pytest.raises(wf.DuplicateCase):
            await sub.new_case(WAIT_GO, case_id="dup")
        await sub.cancel("dup")
        with pytest.raises(wf.CaseCancelled):
            await sub.wait("dup")
        with pytest.raises(wf.DuplicateCase):  # finished cases stay known
            await sub.new_case(WAIT_GO, case_id="dup")
        sub.forget("dup")
        assert await sub.new_case(wf.task("a", put(a=1)), case_id="dup") == "dup"


async def test_unknown_case_everywhere() -> None:
    async with open_substrate() as sub:
        with pytest.raises(wf.UnknownCase):
            sub.status("nope")
        with pytest.raises(wf.UnknownCase):
            await sub.signal("nope", "go")
        with pytest.raises(wf.UnknownCase):
            await sub.cancel("nope")
        with pytest.raises(wf.UnknownCase):
            await sub.cancel_region("nope", "r")
        with pytest.raises(wf.UnknownCase):
            await sub.wait("nope")
        with pytest.raises(wf.UnknownCase):
            await sub.wait_state("nope", CaseState.DONE)
        with pytest.raises(wf.UnknownCase):
            sub.events("nope")
        with pytest.raises(wf.UnknownCase):
            sub.trace("nope", "min")
        with pytest.raises(wf.UnknownCase):
            sub.forget("nope")
        assert issubclass(wf.UnknownCase, LookupError)


async def test_wait_state_rejects_what_is_not_a_case_state() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(wf.wait_signal("go"))
        with pytest.raises(
            OptionError, match=r"states holds 'bogus', which is not a case state.*'waiting_signal'"
        ):
            await sub.wait_state(cid, "bogus")  # type: ignore[arg-type]
        with pytest.raises(OptionError, match="not a case state"):
            await sub.wait_state(cid, CaseState.DONE, 3)  # type: ignore[arg-type]
        # a state's value is as good as the member
        assert await sub.wait_state(cid, "waiting_signal") is CaseState.WAITING_SIGNAL
        assert await sub.wait_state(cid, CaseState.WAITING_SIGNAL) is CaseState.WAITING_SIGNAL
        await sub.signal(cid, "go")
        assert (await sub.wait(cid)).state is CaseState.DONE


async def test_cancel_region_of_a_region_the_workflow_lacks_raises_unknown_region() -> None:
    term = wf.seq(
        wf.region("shipping", wf.wait_signal("shipped")),
        wf.region("billing", wf.task("bill", put(billed=True))),
        wf.wait_signal("end"),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        with pytest.raises(wf.UnknownRegion, match=r"'shiping'.*'billing', 'shipping'") as info:
            await sub.cancel_region(cid, "shiping")
        assert isinstance(info.value, LookupError)
        assert isinstance(info.value, wf.WftrioError)
        # nothing was recorded for the typo
        assert "region_cancel_ignored" not in [ev.kind for ev in sub.events(cid)]
        # a known region without a live activation stays a recorded no-op
        await sub.cancel_region(cid, "billing")
        await sub.cancel_region(cid, "shipping")  # live: cancelled
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        await sub.signal(cid, "end")
        res = await sub.wait(cid)
        kinds = [(ev.kind, ev.name) for ev in res.trace if ev.kind.startswith("region_cancel")]
        assert kinds == [("region_cancel_ignored", "billing"), ("region_cancelled", "shipping")]
        no_regions = await sub.new_case(wf.wait_signal("x"))
        with pytest.raises(wf.UnknownRegion, match="no regions"):
            await sub.cancel_region(no_regions, "r")
        await sub.cancel(no_regions)


async def test_finished_case_is_closed_but_known() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(wf.task("a", put(a=1)))
        await sub.wait(cid)
        with pytest.raises(wf.CaseClosed):
            await sub.signal(cid, "go")
        with pytest.raises(wf.CaseClosed):
            await sub.cancel(cid)
        with pytest.raises(wf.CaseClosed):
            await sub.cancel_region(cid, "r")
        with pytest.raises(wf.CaseClosed):
            sub.trace(cid, "none")
        # still known: status, wait, events work
        assert sub.status(cid).state is CaseState.DONE
        assert (await sub.wait(cid)).ctx == {"a": 1}
        assert sub.events(cid)[-1].kind == "case_state"


async def test_forget_and_retain_finished() -> None:
    async with open_substrate(retain_finished=2) as sub:
        live = await sub.new_case(WAIT_GO)
        with pytest.raises(CaseStillRunning):
            sub.forget(live)
        ids = []
        for i in range(4):
            ids.append(await sub.new_case(wf.task("a", put(a=i)), case_id=f"c{i}"))
            await sub.wait(ids[-1])
        # the two oldest finished cases were dropped
        with pytest.raises(wf.UnknownCase):
            sub.status("c0")
        with pytest.raises(wf.UnknownCase):
            sub.status("c1")
        assert sub.status("c3").state is CaseState.DONE
        sub.forget("c3")
        with pytest.raises(wf.UnknownCase):
            sub.status("c3")
        assert sub.stats().retained_cases == 1
        await sub.signal(live, "go")
        await sub.wait(live)


# -- options -----------------------------------------------------------------


async def test_bad_options_raise_typed_errors() -> None:
    async with open_substrate() as sub:
        term = wf.task("a", put(a=1))
        for name in ("effect_handler", "budget", "allow"):
            with pytest.raises(OptionError, match=name):
                await sub.new_case(term, **{name: object()})
        with pytest.raises(OptionError, match="unknown option"):
            await sub.new_case(term, colour="red")
        with pytest.raises(OptionError, match="step_quanta"):
            await sub.new_case(term, step_quanta=0)
        with pytest.raises(OptionError, match="timeout"):
            await sub.new_case(term, timeout=-1)
        with pytest.raises(OptionError, match="trace_level"):
            await sub.new_case(term, trace_level="loud")
        with pytest.raises(SchedulerError):
            await sub.new_case(term, scheduler="random")
        with pytest.raises(OptionError, match="ctx"):
            await sub.new_case(term, ctx=[1, 2])  # type: ignore[arg-type]
        with pytest.raises(OptionError, match="case_id"):
            await sub.new_case(term, case_id=3)  # type: ignore[arg-type]
        with pytest.raises(OptionError, match="name"):
            await sub.signal("x", 3)  # type: ignore[arg-type]
        with pytest.raises(OptionError, match="level"):
            sub.trace("x", "loud")
        assert sub.case_ids() == []
    with pytest.raises(OptionError, match="budget"):
        open_substrate(budget=3)
    with pytest.raises(OptionError):
        open_substrate(retain_finished=-1)
    with pytest.raises(OptionError):
        open_substrate(shutdown="later")  # type: ignore[arg-type]
    with pytest.raises(OptionError):
        open_substrate(inbox_capacity=0)


async def test_substrate_closed_outside_the_block() -> None:
    sub = open_substrate()
    with pytest.raises(SubstrateClosed):
        await sub.new_case(wf.task("a", put(a=1)))
    async with sub:
        pass
    with pytest.raises(SubstrateClosed):
        await sub.new_case(wf.task("a", put(a=1)))
    with pytest.raises(SubstrateClosed):
        async with sub:
            pass


async def test_substrate_defaults_apply_to_cases() -> None:
    async with open_substrate(trace_level="none", step_quanta=7) as sub:
        cid = await sub.new_case(wf.task("a", put(a=1)))
        res = await sub.wait(cid)
        assert res.trace == []
        assert sub.status(cid).trace_level == "none"
        cid2 = await sub.new_case(wf.task("a", put(a=1)), trace_level="min")
        assert [ev.kind for ev in (await sub.wait(cid2)).trace][0] == "case_started"


# -- wait ---------------------------------------------------------------------


async def test_wait_timeout_raises_too_slow(autojump_clock: trio.testing.MockClock) -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(WAIT_GO)
        with pytest.raises(trio.TooSlowError):
            await sub.wait(cid, timeout=5)
        assert trio.current_time() == pytest.approx(5)
        await sub.signal(cid, "go", 1)
        assert (await sub.wait(cid, timeout=5)).ctx == {"got": 1, "done": True}


async def test_wait_failed_case_raises_case_failed() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(wf.seq(wf.task("a", put(a=1)), wf.task("bad", boom)))
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
        assert info.value.case_id == cid
        assert isinstance(info.value.cause, ValueError)
        assert info.value.result.state is CaseState.FAILED
        assert info.value.result.ctx == {"a": 1}
        status = sub.status(cid)
        assert status.state is CaseState.FAILED
        assert isinstance(status.error, ValueError)
        kinds = [ev.kind for ev in sub.events(cid)]
        assert "task_failed" in kinds
        assert "case_failed" in kinds


async def test_wait_before_and_after_finish_and_many_waiters() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(WAIT_GO)
        results: list[CaseResult] = []

        async def waiter() -> None:
            results.append(await sub.wait(cid))

        async with trio.open_nursery() as n:
            for _ in range(5):
                n.start_soon(waiter)
            await trio.testing.wait_all_tasks_blocked()
            await sub.signal(cid, "go", "p")
        results.append(await sub.wait(cid))
        assert len(results) == 6
        assert all(r.ctx == {"got": "p", "done": True} for r in results)


# -- states and transitions ---------------------------------------------------


async def test_every_live_state_and_transition(autojump_clock: trio.testing.MockClock) -> None:
    term = wf.seq(
        wf.task("a", put(x=1)),
        wf.task("eff", slow_effect),
        wf.wait_signal("go"),
        wf.task("z", put(z=1)),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        assert await sub.wait_state(cid, CaseState.WAITING_EFFECT) is CaseState.WAITING_EFFECT
        info = sub.status(cid)
        assert info.effects_in_flight == 1
        assert info.effect_tasks == 1
        assert await sub.wait_state(cid, CaseState.WAITING_SIGNAL) is CaseState.WAITING_SIGNAL
        assert sub.status(cid).waiting_signals == ("go",)
        assert sub.status(cid).effects_in_flight == 0
        await sub.signal(cid, "go")
        res = await sub.wait(cid)
    assert states(res.trace) == [
        "running",
        "waiting_effect",
        "running",
        "waiting_signal",
        "running",
        "done",
    ]
    froms = [ev.data["from"] for ev in res.trace if ev.kind == "case_state"]
    assert froms == [
        "initializing",
        "running",
        "waiting_effect",
        "running",
        "waiting_signal",
        "running",
    ]
    assert res.ctx == {"x": 1, "effect": 2, "z": 1}


async def test_failed_and_cancelled_transitions(autojump_clock: trio.testing.MockClock) -> None:
    async with open_substrate() as sub:
        failing = await sub.new_case(wf.seq(wf.wait_signal("go"), wf.task("bad", boom)))
        cancelled = await sub.new_case(WAIT_GO)
        await sub.wait_state(failing, CaseState.WAITING_SIGNAL)
        await sub.wait_state(cancelled, CaseState.WAITING_SIGNAL)
        await sub.signal(failing, "go")
        await sub.cancel(cancelled)
        with pytest.raises(wf.CaseFailed):
            await sub.wait(failing)
        with pytest.raises(wf.CaseCancelled) as info:
            await sub.wait(cancelled)
        assert info.value.result.reason == "cancel"
        assert states(sub.events(failing))[-2:] == ["running", "failed"]
        assert states(sub.events(cancelled))[-2:] == ["waiting_signal", "cancelled"]
        assert sub.status(cancelled).reason == "cancel"


async def test_case_timeout_ends_cancelled(autojump_clock: trio.testing.MockClock) -> None:
    cleaned: list[float] = []

    async def forever(ctx: Any) -> None:
        try:
            await trio.sleep_forever()
        finally:
            cleaned.append(trio.current_time())

    async with open_substrate() as sub:
        cid = await sub.new_case(wf.par(wf.task("f", forever), WAIT_GO), timeout=3)
        with pytest.raises(wf.CaseCancelled) as info:
            await sub.wait(cid)
        assert info.value.result.reason == "timeout"
        assert trio.current_time() == pytest.approx(3)
        assert cleaned == [pytest.approx(3)]
        assert [ev.kind for ev in sub.events(cid)][-2:] == ["case_cancelled", "case_state"]
        # a case finishing in time is not affected
        ok = await sub.new_case(wf.task("e", slow_effect), timeout=3)
        assert (await sub.wait(ok)).ctx == {"effect": 1}


async def test_status_reports_signals_regions_and_timers(
    autojump_clock: trio.testing.MockClock,
) -> None:
    term = wf.region(
        "outer",
        wf.seq(
            wf.wait_signal("go"),
            wf.defer(
                wf.on_signal("s", wf.task("s", put(s=1))), wf.after(10, wf.task("t", put(t=1)))
            ),
            # "other" is a signal the workflow knows, in a branch never taken
            wf.xor(wf.branch(lambda ctx: False, wf.wait_signal("other")), wf.task("n", put())),
        ),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.signal(cid, "other", 1)
        await sub.signal(cid, "other", 2)
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        info = sub.status(cid)
        assert info.pending_signals == {"other": 2}
        assert info.live_regions == ("outer",)
        assert info.timers == 0
        await sub.signal(cid, "go")
        await trio.testing.wait_all_tasks_blocked()
        info = sub.status(cid)
        assert info.timers == 1
        assert info.waiting_signals == ("s",)
        res = await sub.wait(cid)
        assert res.ctx == {"t": 1}
        assert trio.current_time() == pytest.approx(10)
        assert sub.status(cid).pending_signals == {"other": 2}


# -- trace / events / stats ----------------------------------------------------


async def test_trace_reconfigures_a_live_case() -> None:
    seen: list[wf.TraceEvent] = []
    async with open_substrate() as sub:
        cid = await sub.new_case(
            wf.seq(wf.task("a", put(a=1)), wf.wait_signal("go"), wf.task("b", put(b=1)))
        )
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        assert "task_completed" in [ev.kind for ev in sub.events(cid)]
        sub.trace(cid, "min", sink=seen.append)
        assert sub.status(cid).trace_level == "min"
        await sub.signal(cid, "go")
        await sub.wait(cid)
        await trio.testing.wait_all_tasks_blocked()  # sinks are fed asynchronously
        after_go = [ev.kind for ev in seen]
        assert "signal_received" in after_go
        assert "task_completed" not in after_go  # min level from then on
        assert seen == sub.events(cid)[-len(seen) :]

        cid2 = await sub.new_case(WAIT_GO)
        await sub.wait_state(cid2, CaseState.WAITING_SIGNAL)
        before = sub.events(cid2)
        sub.trace(cid2, "none")
        await sub.signal(cid2, "go")
        res = await sub.wait(cid2)
        assert res.trace == before
        cid3 = await sub.new_case(WAIT_GO)
        sub.trace(cid3, "full", sink=seen.append)
        sub.trace(cid3, "full", sink=False)  # detach
        n = len(seen)
        await sub.signal(cid3, "go")
        await sub.wait(cid3)
        await trio.testing.wait_all_tasks_blocked()
        assert len(seen) == n


async def test_stats_count_the_substrate(autojump_clock: trio.testing.MockClock) -> None:
    async with open_substrate() as sub:
        a = await sub.new_case(wf.seq(wf.task("e", slow_effect), WAIT_GO))
        b = await sub.new_case(wf.task("bad", boom))
        c = await sub.new_case(WAIT_GO)
        await sub.wait_state(a, CaseState.WAITING_SIGNAL)
        await sub.signal(a, "go")
        await sub.cancel(c)
        await sub.drain()
        for cid in (a, b, c):
            assert sub.status(cid).state.final
        st = sub.stats()
        assert isinstance(st, SubstrateStats)
        assert st.live_cases == 0
        assert (st.cases_started, st.cases_done, st.cases_failed, st.cases_cancelled) == (
            3,
            1,
            1,
            1,
        )
        assert st.effects_started == st.effects_completed == 1
        assert st.signals == 1
        assert st.steps == sum(sub.status(x).steps for x in (a, b, c))
        assert st.steps_per_sec > 0
        assert st.case_cancel_latency_max >= 0.0


# -- run --------------------------------------------------------------------


def test_sync_run() -> None:
    res = run(wf.seq(wf.task("a", put(a=1)), wf.task("e", slow_effect)), {"x": 1})
    assert res.state is CaseState.DONE
    assert res.ctx == {"x": 1, "a": 1, "effect": 2}
    res = run(WAIT_GO, signals=[("go", 7)], case_id="one", trace_level="min")
    assert res.case_id == "one"
    assert res.ctx == {"got": 7, "done": True}
    with pytest.raises(wf.CaseFailed) as info:
        run(wf.task("bad", boom))
    assert isinstance(info.value.cause, ValueError)
    with pytest.raises(wf.CaseCancelled):
        run(WAIT_GO, timeout=60, clock=trio.testing.MockClock(autojump_threshold=0))


MOCK = trio.testing.MockClock


async def never(ctx: Any) -> None:
    await trio.Event().wait()


async def late_never(ctx: Any) -> None:
    await trio.sleep(1)
    await trio.Event().wait()


@pytest.mark.parametrize("clock", [None, "mock"], ids=["real_clock", "autojump"])
def test_run_names_the_signal_nobody_can_send(clock: str | None) -> None:
    term = wf.seq(
        wf.task("a", put(a=1)),
        wf.par(wf.wait_signal("approve"), wf.wait_signal("ok"), wf.wait_signal("sent")),
    )
    with pytest.raises(wf.CaseStuck, match=r"waits for signal 'approve' and signal 'ok',") as info:
        run(term, signals=[("sent", 1)], clock=MOCK(autojump_threshold=0) if clock else None)
    assert info.value.waiting_for == ("approve", "ok")
    assert info.value.result.state is CaseState.CANCELLED
    assert info.value.result.ctx == {"a": 1}
    assert "signals=" in str(info.value)  # says how to deliver them


@pytest.mark.parametrize(
    ("clock", "fn"),
    [(None, never), ("mock", never), ("mock", late_never)],
    ids=["real_clock", "autojump", "autojump_after_a_second"],
)
def test_run_names_the_effect_that_can_never_finish(clock: str | None, fn: Any) -> None:
    with pytest.raises(wf.CaseStuck, match=r"waits for effect 'stuck'") as info:
        run(wf.task("stuck", fn), clock=MOCK(autojump_threshold=0) if clock else None)
    assert info.value.waiting_for == ("stuck",)
    (receipt,) = info.value.result.receipts(steps=False)
    assert receipt.outcome == "cancelled"


def test_run_waits_for_what_can_still_come() -> None:
    mock = MOCK(autojump_threshold=0)

    async def slow(ctx: Any) -> dict[str, Any]:
        await trio.sleep(10)
        return {"slow": True}

    # a timer, a slow effect, signals run sends: none of them is stuck
    term = wf.seq(
        wf.defer(
            wf.on_signal("never", wf.task("n", put(n=1))), wf.after(5, wf.task("t", put(t=1)))
        ),
        wf.task("slow", slow),
        wf.wait_signal("go"),
    )
    res = run(term, signals=[("go", 1)], clock=mock)
    assert res.state is CaseState.DONE
    assert res.ctx == {"t": 1, "slow": True}
    # a case timeout is a deadline: the case ends CANCELLED by it, as asked
    with pytest.raises(wf.CaseCancelled) as info:
        run(WAIT_GO, timeout=60, clock=MOCK(autojump_threshold=0))
    assert info.value.result.reason == "timeout"
