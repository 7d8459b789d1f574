"""A waiting case holds few objects the cyclic collector tracks (issue 12, figure 12b).

CPython's collector traverses every tracked object at each collection of its
oldest generation; with 100,000 waiting cases that made the time per start
grow with the number of cases (docs/BENCHMARKS.md, figure 12b).  A waiting
case's trace events are kept as plain tuples (untracked once collected),
its parked inbox holds the case itself, parked cases share one contextvars
context when theirs hold the same objects, and a parked case's state shares
one read-only empty list for its empty events, outbox and ready stack
(engine ``idle`` / ``wake``).
None of it may change what is read back.
"""

from __future__ import annotations

import contextvars
import gc
from collections import Counter
from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.compiler import compile as compile_term
from wftrio.engine import ExecState, idle, materialise, wake
from wftrio.engine._idle import IDLE_LIST
from wftrio.engine.frozen import NO_UPDATES, FrozenDict
from wftrio.runtime import open_substrate
from wftrio.trace import TraceEvent

MAX_TRACKED_PER_WAITING_CASE = 9
"""Case, Inbox, ExecState, its root CtxLayer, that layer's read-only view and
its Token, the tokens and waiters dicts, and the case's event list.  It was
19: four TraceEvents, a FrozenDict, a bound method, a contextvars Context
and the state's three empty lists (events, outbox, ready stack) more."""


def _done(ctx: Any) -> dict[str, Any]:
    return {"done": True}


def _tracked() -> Counter[str]:
    gc.collect()
    gc.collect()
    return Counter(type(o).__name__ for o in gc.get_objects())


async def test_a_waiting_case_holds_at_most_9_tracked_objects() -> None:
    n = 400
    term = wf.seq(wf.wait_signal("go", store_as="payload"), wf.task("done", _done))
    async with open_substrate(retain_finished=None) as sub:
        warm = await sub.new_case(term)  # compiles the term, makes the lazy structures
        await sub.signal(warm, "go")
        await sub.wait(warm)
        sub.forget(warm)
        before = _tracked()
        ids = [await sub.new_case(term, case_id=f"c{i}") for i in range(n)]
        await trio.testing.wait_all_tasks_blocked()
        grown = _tracked() - before
        per_case = sum(grown.values()) / n
        assert per_case < MAX_TRACKED_PER_WAITING_CASE + 0.5, grown
        assert "TraceEvent" not in grown, grown
        assert "FrozenDict" not in grown, grown
        for i, cid in enumerate(ids):
            await sub.signal(cid, "go", i)
        results = [await sub.wait(cid) for cid in ids]
    for i, res in enumerate(results):
        assert res.ctx == {"payload": i, "done": True}
        assert all(type(ev) is TraceEvent for ev in res.trace)
        assert [ev.seq for ev in res.trace] == list(range(len(res.trace)))
        assert res.trace[0].data == {
            "scheduler": "deterministic",
            "preemptive": False,
            "root": res.trace[0].data["root"],
        }
        assert type(res.trace[0].data) is FrozenDict


def _states(term: wf.Term) -> tuple[ExecState, ExecState, list[TraceEvent]]:
    """One state recording compactly, one recording eagerly (``on_event``)."""
    program = compile_term(term)
    seen: list[TraceEvent] = []
    compact = ExecState(program, {"x": 1}, case_id="c")
    eager = ExecState(program, {"x": 1}, case_id="c", on_event=seen.append)
    return compact, eager, seen


def test_the_events_read_back_are_those_an_eager_recorder_gets() -> None:
    term = wf.seq(
        wf.wait_signal("a", store_as="a"),
        wf.task("t", lambda ctx: {"y": ctx["x"] + 1, "z": [1, {"k": "v"}]}),
        wf.wait_signal("b"),
        wf.task("u", lambda ctx: None),
    )
    compact, eager, seen = _states(term)
    for st in (compact, eager):
        st.run()
        st.feed_signal("a", {"nested": [1, 2]})  # not a scalar: frozen, still read back
        st.run()
        st.feed_signal("b")
        st.feed_signal("late", 3)  # queued: no waiter
        st.run()
    events = compact.events
    assert events == seen == eager.events
    assert all(type(ev) is TraceEvent and type(ev.data) is FrozenDict for ev in events)
    assert [list(ev.data) for ev in events] == [list(ev.data) for ev in seen]  # key order
    assert any(ev.data is NO_UPDATES for ev in events)
    got = next(ev for ev in events if ev.kind == "signal_received" and ev.name == "a")
    assert got.data["payload"] == {"nested": [1, 2]}
    assert type(got.data["payload"]) is FrozenDict


def test_take_events_defers_the_plain_records_only_when_asked() -> None:
    term = wf.seq(wf.wait_signal("go"), wf.task("t", _done))
    compact, eager, seen = _states(term)
    for st in (compact, eager):
        st.run()
    kept = compact.take_events(defer_receipts=True)
    assert kept
    assert all(type(r) is tuple for r in kept)
    materialise(kept)
    assert kept == seen
    for st in (compact, eager):
        st.feed_signal("go")
        st.run()
    rest = compact.take_events()
    assert rest
    assert all(type(ev) is TraceEvent for ev in rest)
    assert kept + rest == seen


_WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who12b", default="nobody")


async def test_parked_cases_share_a_context_only_when_it_holds_the_same_objects() -> None:
    seen: dict[str, list[str]] = {}

    def note(ctx: Any) -> dict[str, Any]:
        seen.setdefault(ctx["name"], []).append(_WHO.get())
        return {}

    def set_mine(ctx: Any) -> dict[str, Any]:
        _WHO.set("mine")  # set in the runner task: this case's context differs
        return {}

    plain = wf.seq(wf.wait_signal("go"), wf.task("n", note))
    setter = wf.seq(wf.task("s", set_mine), wf.wait_signal("go"), wf.task("n", note))
    async with open_substrate() as sub:
        _WHO.set("starter")
        a = await sub.new_case(plain, {"name": "a"})
        b = await sub.new_case(plain, {"name": "b"})
        c = await sub.new_case(setter, {"name": "c"})

        async def other_starter() -> str:
            _WHO.set("other")
            return await sub.new_case(plain, {"name": "d"})

        box: list[str] = []

        async def start_d() -> None:
            box.append(await other_starter())

        async with trio.open_nursery() as nursery:
            nursery.start_soon(start_d)
        d = box[0]
        await trio.testing.wait_all_tasks_blocked()
        cases = sub._cases
        assert cases[a]._context is cases[b]._context  # the same objects: shared
        assert cases[c]._context is not cases[a]._context
        assert cases[d]._context is not cases[a]._context
        for cid in (a, b, c, d):
            await sub.signal(cid, "go")
            await sub.wait(cid)
    assert seen == {"a": ["starter"], "b": ["starter"], "c": ["mine"], "d": ["other"]}


def test_an_idle_state_reads_as_empty_refuses_changes_and_wakes() -> None:
    term = wf.seq(wf.wait_signal("go", store_as="p"), wf.task("t", _done))
    compact, eager, seen = _states(term)
    for st in (compact, eager):
        st.run()
    assert not idle(compact)  # its events are not taken yet
    before = compact.take_events()
    assert idle(compact)
    assert compact.outbox is IDLE_LIST
    assert compact.ready is IDLE_LIST
    assert not compact.has_events()
    assert compact.events == []
    assert compact.blocked_on()["signals"] == ["go"]
    for change in (lambda: IDLE_LIST.append(1), lambda: IDLE_LIST.insert(0, 1)):
        try:
            change()
        except TypeError:
            pass
        else:  # pragma: no cover
            raise AssertionError("the idle list changed")
    wake(compact)
    assert compact.outbox == []
    assert compact.outbox is not IDLE_LIST
    assert compact.ready is not IDLE_LIST
    for st in (compact, eager):
        assert st.feed_signal("go", 1)
        st.run()
    assert compact.ctx == eager.ctx == {"x": 1, "p": 1, "done": True}
    assert before + compact.take_events() == seen
