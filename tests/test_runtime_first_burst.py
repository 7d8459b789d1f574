"""A case that ends in its first burst (figure 11): the runtime's shortcuts for it.

``new_case``'s fast path (the bare term started last, with the defaults),
the shared closed inbox of a case that never needed one, the result built
without the attrs constructor, the event window kept without ``_commit``'s
store and sink branches, and the live count's wake-up at zero: each is
checked against what it stands for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.errors import CaseClosed, DuplicateCase, OptionError
from wftrio.runtime._inbox import NO_INBOX, Inbox
from wftrio.runtime._types import CaseResult, CaseState, new_result


def _inc(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


def test_new_result_is_the_constructors_result() -> None:
    ev = wf.TraceEvent(0, "c", "case_started", None, None, None, 0.0, {})
    err = ValueError("x")
    a = new_result("c", CaseState.FAILED, {"k": 1}, [ev], err, None, 3)
    b = CaseResult("c", CaseState.FAILED, {"k": 1}, [ev], err, None, 3)
    assert type(a) is CaseResult
    assert a == b
    assert repr(a) == repr(b)
    assert (a.case_id, a.state, a.ctx, a.trace, a.error, a.reason, a.steps) == (
        "c",
        CaseState.FAILED,
        {"k": 1},
        [ev],
        err,
        None,
        3,
    )
    with pytest.raises(AttributeError):
        a.steps = 4  # type: ignore[misc]  # frozen, as the constructor's


def test_the_shared_inbox_is_closed_and_takes_nothing() -> None:
    assert NO_INBOX.closed
    assert len(NO_INBOX) == 0
    assert NO_INBOX.put("x") is False
    assert NO_INBOX.close() == []
    with pytest.raises(trio.ClosedResourceError):
        NO_INBOX.send_nowait("x")
    assert not NO_INBOX.park(lambda batch: None)
    assert NO_INBOX.receive_nowait() is None


async def test_a_case_ending_in_its_first_burst_has_no_inbox_of_its_own() -> None:
    term = wf.task("t", _inc)
    async with wf.open_substrate() as sub:
        done = await sub.new_case(term, {"n": 0})
        again = await sub.new_case(term, {"n": 5})  # the fast path
        for cid, n in ((done, 1), (again, 6)):
            assert sub._get(cid).inbox is NO_INBOX
            assert sub.status(cid).inbox == 0
            assert (await sub.wait(cid)).ctx == {"n": n}
            with pytest.raises(CaseClosed):
                await sub.signal(cid, "go")
            with pytest.raises(CaseClosed):
                await sub.cancel(cid)
        # a case that waits gets its own inbox, and signals reach it
        waiting = await sub.new_case(wf.seq(wf.wait_signal("go"), term), {"n": 0})
        inbox = sub._get(waiting).inbox
        assert inbox is not NO_INBOX
        assert isinstance(inbox, Inbox)
        await sub.signal(waiting, "go")
        assert (await sub.wait(waiting)).ctx == {"n": 1}
        # a case with a timeout takes its first burst in its runner: own inbox too
        timed = await sub.new_case(term, timeout=5)
        assert sub._get(timed).inbox is not NO_INBOX
        assert (await sub.wait(timed)).ctx == {"n": 1}


async def test_a_task_may_reconfigure_its_own_case_during_the_first_burst() -> None:
    async with wf.open_substrate() as sub:

        def quiet(ctx: Mapping[str, Any]) -> dict[str, Any]:
            (cid,) = sub.case_ids(CaseState.RUNNING)
            sub.trace(cid, "none")  # the case is live: no CaseClosed
            return {"n": 1}

        term = wf.seq(wf.task("a", quiet), wf.task("b", _inc))
        cid = await sub.new_case(term)
        res = await sub.wait(cid)
        assert res.ctx == {"n": 2}
        assert sub.status(cid).trace_level == "none"
        # traced until the task turned tracing off: not its end
        kinds = [e.kind for e in res.trace]
        assert kinds[:2] == ["case_started", "case_state"]
        assert "case_completed" not in kinds


async def test_the_fast_path_refuses_and_starts_what_the_general_path_does() -> None:
    term = wf.task("t", _inc)
    async with wf.open_substrate() as sub:
        first = await sub.new_case(term)  # general path: compiled, validated
        assert sub._fast is not None
        assert sub._fast[0] is term
        with pytest.raises(OptionError):
            await sub.new_case(term, case_id="")
        with pytest.raises(OptionError):
            await sub.new_case(term, version=0)
        with pytest.raises(DuplicateCase):
            await sub.new_case(term, case_id=first)
        with pytest.raises(OptionError):
            await sub.new_case(term, {1: 2})  # type: ignore[dict-item]
        with pytest.raises(OptionError):
            await sub.new_case(term, [("n", 1)])  # type: ignore[arg-type]
        named = await sub.new_case(term, case_id="mine")
        assert named == "mine"
        fast = await sub.new_case(term, {"n": 1})
        assert sub._fast is not None  # options are the defaults: still fast
        res = await sub.wait(fast)
        assert res.ctx == {"n": 2}
        assert res.trace[0].data["root"].startswith(fast)  # its own run root
        # options leave no fast path until the defaults pass again
        await sub.new_case(term, trace_level="none")
        assert sub._fast is None
        await sub.new_case(term)
        assert sub._fast is not None
        stats = sub.stats()
        assert stats.cases_started == 5
        assert stats.cases_done == 5


async def test_the_fast_path_is_a_checkpoint_and_refuses_when_closed() -> None:
    term = wf.task("t", _inc)
    async with wf.open_substrate() as sub:
        await sub.new_case(term)
        with trio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(trio.Cancelled):
                await sub.new_case(term)  # cancelled: no case started
        assert len(sub.case_ids()) == 1
    with pytest.raises(wf.SubstrateClosed):
        await sub.new_case(term)


async def test_keep_events_trims_a_first_burst_batch() -> None:
    term = wf.seq(*(wf.task(f"t{i}", _inc) for i in range(5)))
    async with wf.open_substrate(keep_events=3) as sub:
        cid = await sub.new_case(term)
        res = await sub.wait(cid)
        assert res.ctx == {"n": 5}
        assert len(res.trace) == 3
        assert res.trace[-1].kind == "case_state"
        info = sub.status(cid)
        assert info.events == 3
        assert info.events_dropped > 0
    async with wf.open_substrate() as whole:
        full = await whole.wait(await whole.new_case(term))

    def key(ev: wf.TraceEvent) -> tuple[Any, ...]:
        return (ev.seq, ev.kind, ev.name, ev.token, ev.data)

    assert [key(e) for e in res.trace] == [key(e) for e in full.trace[-3:]]
    assert info.events_dropped == len(full.trace) - 3


async def test_drain_wakes_when_the_last_case_ends() -> None:
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(wf.seq(wf.wait_signal("go"), wf.task("t", _inc)))
        drained = trio.Event()

        async def drain() -> None:
            await sub.drain()
            drained.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain)
            await trio.testing.wait_all_tasks_blocked()
            assert not drained.is_set()
            await sub.signal(cid, "go")
            await sub.wait(cid)
        assert drained.is_set()
        # the count is back at 0: drain returns at once, and again after more cases
        await sub.drain()
        await sub.wait(await sub.new_case(wf.task("t", _inc)))
        await sub.drain()
        assert sub.stats().live_cases == 0


def _boom(ctx: Mapping[str, Any]) -> dict[str, Any]:
    raise ValueError("boom")


def _same(a: wf.CaseInfo, b: wf.CaseInfo) -> None:
    for field in ("state", "steps", "pending_signals", "budget", "events", "reason", "ctx"):
        assert getattr(a, field) == getattr(b, field), field
    assert a.term is b.term
    assert type(a.error) is type(b.error)
    assert a.finished_at is not None
    assert a.started_at is not None
    assert a.finished_at >= a.started_at


@pytest.mark.parametrize("name", ["done", "failed"])
async def test_the_first_burst_end_records_what_the_runner_end_does(name: str) -> None:
    # the same case ended in start's first burst (defaults) and by the runner
    # task (a timeout makes the runner task take the burst)
    term = wf.seq(wf.task("a", _inc), wf.task("b", _inc if name == "done" else _boom))
    async with wf.open_substrate() as sub:
        quick = await sub.new_case(term, {"n": 0})
        slow = await sub.new_case(term, {"n": 0}, timeout=60)
        results = []
        for cid in (quick, slow):
            if name == "done":
                results.append(await sub.wait(cid))
                continue
            with pytest.raises(wf.CaseFailed) as info:
                await sub.wait(cid)
            assert isinstance(info.value.cause, ValueError)
            results.append(info.value.result)
        a, b = results
        assert sub._get(quick).inbox is NO_INBOX
        assert sub._get(slow).inbox is not NO_INBOX
        assert (a.state, a.ctx, a.steps, a.reason) == (b.state, b.ctx, b.steps, b.reason)
        assert type(a.error) is type(b.error)

        def key(ev: wf.TraceEvent) -> tuple[Any, ...]:
            data = {k: v for k, v in ev.data.items() if k != "root"}  # (the run's own)
            return (ev.seq, ev.kind, ev.name, ev.token, ev.scope, data)

        assert [key(e) for e in a.trace] == [key(e) for e in b.trace]
        assert a.trace is not sub._get(quick).events  # a copy
        assert a.trace == sub.events(quick)
        _same(sub.status(quick), sub.status(slow))
        stats = sub.stats()
        assert stats.live_cases == 0
        assert (stats.cases_done, stats.cases_failed) == ((2, 0) if name == "done" else (0, 2))
        sub.forget(quick)
        with pytest.raises(wf.UnknownCase):
            await sub.wait(quick)


async def test_a_named_workflow_ending_in_its_first_burst_keeps_its_name() -> None:
    reg = wf.Registry()
    reg.register("inc", wf.task("t", _inc))
    async with wf.open_substrate(registry=reg) as sub:
        cid = await sub.new_case("inc", {"n": 1})
        assert (await sub.wait(cid)).ctx == {"n": 2}
        info = sub.status(cid)
        assert info.workflow == "inc"
        assert info.term is reg.get("inc").term
        assert sub._get(cid).inbox is NO_INBOX


@pytest.mark.parametrize("runner", [False, True])
async def test_a_results_trace_is_a_copy_made_when_first_read(runner: bool) -> None:
    term = wf.seq(wf.task("a", _inc), wf.task("b", _inc))
    opts: dict[str, Any] = {"timeout": 60} if runner else {}
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(term, **opts)
        res = await sub.wait(cid)
        before = sub.events(cid)  # read first: the result's copy is still to come
        assert res._trace is sub._get(cid).events  # handed over, not copied yet
        trace = res.trace
        assert trace is res.trace  # copied once
        assert trace == before
        assert trace is not sub._get(cid).events
        trace.clear()  # the caller's copy: the case's trace stays whole
        assert sub.events(cid) == before
        assert len(before) > 0
        again = await sub.wait(cid)
        assert again is res
