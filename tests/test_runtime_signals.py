"""Signals: persistent and transient, before and after the wait, many at once,
to unknown and finished cases, and none lost under load."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.runtime import CaseState, open_substrate


def collect(name: str) -> Any:
    """A task appending ctx['got'] to ctx[name] (a list)."""
    return lambda ctx: {name: [*ctx.get(name, []), ctx["got"]]}


def receiver(n: int, signal: str = "go") -> wf.Term:
    return wf.loop(
        wf.seq(wf.wait_signal(signal, store_as="got"), wf.task("keep", collect("seen"))), times=n
    )


async def test_signal_before_the_wait_is_kept() -> None:
    term = wf.seq(wf.wait_signal("first"), wf.wait_signal("go", store_as="got"))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.signal(cid, "go", "early")  # nobody waits for "go" yet
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        assert sub.status(cid).pending_signals == {"go": 1}
        await sub.signal(cid, "first")
        res = await sub.wait(cid)
    assert res.ctx == {"got": "early"}
    kinds = [ev.kind for ev in res.trace if ev.name == "go"]
    assert kinds == ["signal_received", "signal_consumed"]


async def test_signal_after_the_wait() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(wf.wait_signal("go", store_as="got"))
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        await sub.signal(cid, "go", {"deep": [1, 2]})
        assert (await sub.wait(cid)).ctx == {"got": {"deep": [1, 2]}}


async def test_many_signals_at_once_keep_their_order() -> None:
    async with open_substrate(inbox_capacity=4) as sub:
        cid = await sub.new_case(receiver(50))
        for i in range(50):  # more than the inbox holds: signal() waits for room
            await sub.signal(cid, "go", i)
        res = await sub.wait(cid)
    assert res.ctx["seen"] == list(range(50))


async def test_transient_signal_is_dropped_when_nobody_waits() -> None:
    term = wf.seq(wf.wait_signal("ready"), wf.wait_signal("go", store_as="got"))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        await sub.signal(cid, "go", "lost", transient=True)
        await sub.signal(cid, "ready")
        await trio.testing.wait_all_tasks_blocked()
        assert sub.status(cid).pending_signals == {}
        await sub.signal(cid, "go", "kept", transient=True)  # now someone waits
        res = await sub.wait(cid)
    assert res.ctx == {"got": "kept"}
    dropped = [ev for ev in res.trace if ev.kind == "signal_dropped"]
    assert [ev.data["payload"] for ev in dropped] == ["lost"]


async def test_signals_to_unknown_and_finished_cases() -> None:
    async with open_substrate() as sub:
        with pytest.raises(wf.UnknownCase):
            await sub.signal("ghost", "go")
        cid = await sub.new_case(wf.wait_signal("go"))
        await sub.signal(cid, "go")
        await sub.wait(cid)
        with pytest.raises(wf.CaseClosed):
            await sub.signal(cid, "go")
        assert sub.status(cid).undelivered_signals == 0


async def test_senders_blocked_on_a_full_inbox_learn_the_case_finished() -> None:
    async with open_substrate(inbox_capacity=1) as sub:
        cid = await sub.new_case(wf.seq(*(wf.wait_signal(n) for n in "abxyz")))
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        outcomes: list[str] = []

        async def send(name: str) -> None:
            try:
                await sub.signal(cid, name)
                outcomes.append("accepted")
            except wf.CaseClosed:
                outcomes.append("closed")

        async with trio.open_nursery() as n:
            n.start_soon(sub.cancel, cid)
            for name in "xyz":
                n.start_soon(send, name)
        with pytest.raises(wf.CaseCancelled):
            await sub.wait(cid)
        info = sub.status(cid)
        # every signal is either refused or counted: none vanishes silently
        accepted = outcomes.count("accepted")
        assert accepted + outcomes.count("closed") == 3
        received = sum(1 for ev in sub.events(cid) if ev.kind == "signal_received")
        assert received + info.undelivered_signals == accepted


async def test_thousand_cases_ten_signals_each_none_lost() -> None:
    n_cases, n_signals = 1000, 10
    async with open_substrate(trace_level="none", inbox_capacity=4) as sub:
        ids = [await sub.new_case(receiver(n_signals), case_id=f"c{i}") for i in range(n_cases)]

        async def pump(cid: str) -> None:
            for k in range(n_signals):
                await sub.signal(cid, "go", k)

        async with trio.open_nursery() as nursery:
            for cid in ids:
                nursery.start_soon(pump, cid)
        for cid in ids:
            res = await sub.wait(cid)
            assert res.ctx["seen"] == list(range(n_signals)), cid
        assert sub.stats().signals == n_cases * n_signals


async def test_a_signal_the_workflow_never_waits_for_is_refused() -> None:
    term = wf.seq(
        wf.wait_signal("go"),
        wf.defer(wf.on_signal("ship", wf.task("s", lambda ctx: None)), wf.after(5, wf.terminate())),
        wf.approval("manager", approver="boss"),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        with pytest.raises(wf.UnknownSignal, match=r"'gogo'.*'go'.*'ship'") as info:
            await sub.signal(cid, "gogo")
        assert isinstance(info.value, LookupError)
        # a transient signal nobody can consume is still just dropped
        await sub.signal(cid, "gogo", transient=True)
        # every name a step can consume is accepted, the approval's included
        await sub.signal(cid, "ship")
        await sub.signal(cid, wf.approval_signal("manager"), wf.approve("boss"))
        await sub.signal(cid, "go")
        res = await sub.wait(cid)
        assert res.state == "done"
        assert "signal_received" not in [ev.kind for ev in res.trace if ev.name == "gogo"]


async def test_the_queue_of_unconsumed_signals_is_bounded() -> None:
    term = wf.seq(wf.wait_signal("go"), wf.loop(wf.wait_signal("tick"), times=20))
    async with open_substrate(max_pending_signals=5) as sub:
        cid = await sub.new_case(term)
        await sub.wait_state(cid, CaseState.WAITING_SIGNAL)
        for _ in range(5):
            await sub.signal(cid, "tick")
        await trio.testing.wait_all_tasks_blocked()
        assert sub.status(cid).pending_signals == {"tick": 5}
        with pytest.raises(wf.SignalQueueFull, match="max_pending_signals=5"):
            await sub.signal(cid, "tick")
        # a signal some token waits for is consumed at once: never refused
        await sub.signal(cid, "go")
        await trio.testing.wait_all_tasks_blocked()
        assert sub.status(cid).pending_signals == {}
        for _ in range(15):
            await sub.signal(cid, "tick")
        assert (await sub.wait(cid)).state == "done"
        # per case, and None lifts the bound
        big = await sub.new_case(term, max_pending_signals=None)
        for _ in range(50):
            await sub.signal(big, "tick")
        await sub.cancel(big)
        with pytest.raises(wf.WftrioError, match="max_pending_signals"):
            await sub.new_case(term, max_pending_signals=0)
