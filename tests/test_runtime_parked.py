"""A case waiting only on signals keeps no trio task (its inbox is parked; issue 12, figure 7).

The runner task ends where it would have blocked on its inbox, and the
first message sent starts a new one with the batch ``receive`` would have
returned.  Nothing else may change: states, traces, backpressure, cancel,
``cancel_region``, shutdown, sinks and the contextvars the case's code sees
are the same as for a case whose runner keeps its task (one with a
``timeout=``, which never parks).
"""

from __future__ import annotations

import contextvars
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

import wftrio as wf
from wftrio.runtime import open_substrate
from wftrio.runtime._substrate import Substrate

LONG = 10.0**9  # a timeout that never fires: the runner keeps its task (never parks)


def _task_names() -> list[str]:
    root = trio.lowlevel.current_root_task()
    assert root is not None
    names: list[str] = []

    def walk(task: trio.lowlevel.Task) -> None:
        names.append(task.name)
        for nursery in task.child_nurseries:
            for child in nursery.child_tasks:
                walk(child)

    walk(root)
    return names


def _runner_of(cid: str) -> bool:
    return f"wftrio case {cid}" in _task_names()


def _parked(sub: Substrate, cid: str) -> bool:
    return sub._get(cid).inbox.parked


def _add(key: str) -> Any:
    def fn(ctx: Any) -> dict[str, Any]:
        return {key: ctx.get(key, 0) + 1}

    return fn


LOOP = wf.loop(
    wf.seq(wf.wait_signal("go", store_as="got"), wf.task("count", _add("n"))),
    until=lambda ctx: ctx["n"] >= 3,
)


def _shape(trace: list[wf.TraceEvent]) -> list[tuple[Any, ...]]:
    """A trace without its times, case id and causal root (two cases compared)."""
    return [
        (e.seq, e.kind, e.name, e.token, e.scope, {k: v for k, v in e.data.items() if k != "root"})
        for e in trace
    ]


async def _signalled(sub: Substrate, **opts: Any) -> wf.CaseResult:
    cid = await sub.new_case(LOOP, **opts)
    for i in range(3):
        await sub.wait_state(cid, "waiting_signal")
        await sub.signal(cid, "go", i)
    return await sub.wait(cid)


async def test_a_case_waiting_on_a_signal_has_no_task_and_resumes_on_one() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(LOOP)
        await trio.testing.wait_all_tasks_blocked()
        assert sub.status(cid).state == "waiting_signal"
        assert _parked(sub, cid)
        assert not _runner_of(cid)
        await sub.signal(cid, "go", 1)
        await trio.testing.wait_all_tasks_blocked()
        assert sub.status(cid).ctx == {"got": 1, "n": 1}
        assert sub.status(cid).state == "waiting_signal"
        assert _parked(sub, cid)
        assert not _runner_of(cid)


async def test_the_trace_is_the_one_of_a_runner_that_keeps_its_task() -> None:
    async with open_substrate() as sub:
        parked = await _signalled(sub)
        kept = await _signalled(sub, timeout=LONG)
    assert parked.ctx == kept.ctx == {"got": 2, "n": 3}
    assert _shape(parked.trace) == _shape(kept.trace)


async def test_signals_sent_in_a_burst_keep_their_order_and_backpressure() -> None:
    async with open_substrate(inbox_capacity=1) as sub:
        cid = await sub.new_case(LOOP)
        await trio.testing.wait_all_tasks_blocked()
        assert _parked(sub, cid)
        for i in range(3):  # the third waits for room: the runner takes the second
            await sub.signal(cid, "go", i)
        res = await sub.wait(cid)
    assert res.ctx == {"got": 2, "n": 3}
    assert [e.data["payload"] for e in res.trace if e.kind == "signal_received"] == [0, 1, 2]


async def test_cancel_and_cancel_region_reach_a_parked_case() -> None:
    term = wf.seq(wf.region("r", wf.wait_signal("a")), wf.wait_signal("b"))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await trio.testing.wait_all_tasks_blocked()
        assert _parked(sub, cid)
        await sub.cancel_region(cid, "r")
        await trio.testing.wait_all_tasks_blocked()
        assert sub.status(cid).waiting_signals == ("b",)
        assert _parked(sub, cid)
        await sub.cancel(cid)
        with pytest.raises(wf.CaseCancelled) as info:
            await sub.wait(cid)
    assert info.value.result.reason == "cancel"


@pytest.mark.parametrize("case_timeout", [None, LONG], ids=["parked", "task-kept"])
async def test_shutdown_ends_a_parked_case_as_one_blocked_in_its_task(
    case_timeout: float | None,
) -> None:
    sink = wf.MemorySink()
    async with open_substrate(sinks=[sink]) as sub:
        cid = await sub.new_case(LOOP, timeout=case_timeout)
        await sub.signal(cid, "go", 1)
        await trio.testing.wait_all_tasks_blocked()
        assert _parked(sub, cid) is (case_timeout is None)
    res = outcome_of(sub, cid)
    assert res.state == "cancelled"
    assert res.reason == "shutdown"
    kinds = [e.kind for e in res.trace]
    assert kinds[-1] == "case_state"
    assert res.trace[-1].name == "cancelled"
    assert "case_cancelled" in kinds
    assert [e.seq for e in sink.events] == [e.seq for e in res.trace]  # the sink got them all


def outcome_of(sub: Substrate, cid: str) -> wf.CaseResult:
    res = sub._get(cid).result
    assert res is not None
    return res


async def test_drain_waits_for_a_parked_case_signalled_later() -> None:
    async with open_substrate(shutdown="drain") as sub:
        cid = await sub.new_case(LOOP)

        async def later() -> None:
            for i in range(3):
                await trio.sleep(0.01)
                await sub.signal(cid, "go", i)

        async with trio.open_nursery() as n:
            n.start_soon(later)
    assert outcome_of(sub, cid).ctx["n"] == 3


_WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


async def test_the_case_keeps_its_contextvars_not_the_senders() -> None:
    seen: list[str] = []

    def note(ctx: Any) -> dict[str, Any]:
        seen.append(_WHO.get())
        return {}

    term = wf.seq(wf.task("a", note), wf.wait_signal("go"), wf.task("b", note))
    async with open_substrate() as sub:
        _WHO.set("starter")
        cid = await sub.new_case(term)
        await trio.testing.wait_all_tasks_blocked()
        assert _parked(sub, cid)

        async def sender() -> None:
            _WHO.set("sender")
            await sub.signal(cid, "go")

        async with trio.open_nursery() as n:
            n.start_soon(sender)
        await sub.wait(cid)
    assert seen == ["starter", "starter"]


async def _effect(ctx: Any) -> dict[str, Any]:
    await trio.lowlevel.checkpoint()
    return {"e": ctx.get("e", 0) + 1}


async def test_effects_before_and_after_a_parked_wait() -> None:
    term = wf.seq(
        wf.task("e1", _effect),
        wf.wait_signal("go"),
        wf.task("e2", _effect),
        wf.wait_signal("go"),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.wait_state(cid, "waiting_signal")
        await trio.testing.wait_all_tasks_blocked()
        assert _parked(sub, cid)  # its effect's child ended: nothing left in flight
        await sub.signal(cid, "go")
        await trio.testing.wait_all_tasks_blocked()
        assert sub.status(cid).ctx == {"e": 2}
        assert _parked(sub, cid)
        await sub.signal(cid, "go")
        res = await sub.wait(cid)
    assert res.ctx == {"e": 2}
    assert len(res.receipts()) == 2


async def test_a_case_with_a_timeout_keeps_its_task_and_times_out(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(LOOP, timeout=5)
        await trio.testing.wait_all_tasks_blocked()
        assert not _parked(sub, cid)
        assert _runner_of(cid)
        with pytest.raises(wf.CaseCancelled) as info:
            await sub.wait(cid)
    assert info.value.result.reason == "timeout"


def test_wf_run_of_a_parked_case() -> None:
    res = wf.run(LOOP, signals=[("go", 1), ("go", 2), ("go", 3)])
    assert res.ctx == {"got": 3, "n": 3}
    with pytest.raises(wf.CaseStuck):
        wf.run(LOOP, signals=[("go", 1)])
