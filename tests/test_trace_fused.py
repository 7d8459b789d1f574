"""Level full records a fused run of pure tasks compactly and builds its events when read.

The trace read back must be exactly the one the eager loop records (the loop
an ``on_event`` callback still gets): same events, same ``seq``, same data,
and replayable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as hs

import wftrio as wf
from wftrio.engine import ExecState, Status
from wftrio.engine._fused import FusedRun
from wftrio.engine.frozen import FrozenDict
from wftrio.engine.replay import run_with_inputs
from wftrio.serialize import dumps_trace
from wftrio.validation.clone import clone_state

Ctx = Mapping[str, Any]


def _fn(kind: str, i: int) -> Any:
    key = f"k{i % 3}"
    if kind == "inc":
        return lambda c: {key: c.get(key, 0) + 1}
    if kind == "none":
        return lambda c: None
    if kind == "list":  # not atomic: frozen on the slow path
        return lambda c: {key: [i, {"n": i}]}
    if kind == "boom":

        def boom(c: Ctx) -> None:
            raise ValueError(f"boom {i}")

        return boom
    if kind == "effect":
        return lambda c: wf.Effect("k", {"i": i})
    raise AssertionError(kind)


def _term(kinds: list[str]) -> wf.Term:
    return wf.seq(*[wf.task(f"t{i}", _fn(k, i)) for i, k in enumerate(kinds)])


def _pair(term: wf.Term, **kw: Any) -> tuple[ExecState, ExecState]:
    """The same case run compactly (the default) and eagerly (an ``on_event``)."""
    prog = wf.compile(term)
    lazy = ExecState(prog, {"k0": 0}, **kw)
    eager = ExecState(prog, {"k0": 0}, on_event=lambda ev: None, **kw)
    return lazy, eager


def _has_run(st: ExecState) -> bool:
    return any(type(e) is FusedRun for e in st._events)


kinds_st = hs.lists(
    hs.sampled_from(["inc", "inc", "inc", "none", "list", "boom", "effect"]),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(kinds=kinds_st, chunk=hs.sampled_from([1, 2, 3, 1 << 30]))
def test_the_compact_trace_reads_back_as_the_eager_one(kinds: list[str], chunk: int) -> None:
    lazy, eager = _pair(_term(kinds))
    for st in (lazy, eager):
        while st.run(chunk) is Status.RUNNING:
            pass
        if st.status is Status.BLOCKED:  # an effect: feed it and finish
            for cmd in st.take_outbox():
                st.feed_effect(cmd.eid, {"done": True})  # type: ignore[attr-defined]
            st.run()
    assert lazy.seq == eager.seq
    assert not _has_run(eager)
    assert lazy.events == eager.events
    assert dumps_trace(lazy.events) == dumps_trace(eager.events)
    assert [ev.seq for ev in lazy.events] == list(range(len(lazy.events)))
    assert all(type(ev) is wf.TraceEvent for ev in lazy.events)
    assert (lazy.status, lazy.ctx) == (eager.status, eager.ctx)


def test_a_run_is_kept_compact_until_the_trace_is_read() -> None:
    lazy, eager = _pair(_term(["inc"] * 50))
    lazy.run()
    eager.run()
    assert _has_run(lazy)
    n = lazy.seq
    evs = lazy.events
    assert not _has_run(lazy)
    assert evs is lazy.events  # built in place, once
    assert len(evs) == n == 52  # case_started, 50 tasks, case_completed
    assert evs == eager.events
    assert lazy.recorder == lazy.events.append  # still the list the recorder appends to


def test_a_dict_the_task_keeps_and_changes_later_does_not_change_the_trace() -> None:
    kept: dict[str, Any] = {"x": 1}

    def a(c: Ctx) -> dict[str, Any]:
        return kept

    def b(c: Ctx) -> None:
        kept["x"] = 99  # the dict task a returned, changed by a later task of the run

    st = ExecState(wf.compile(wf.seq(wf.task("a", a), wf.task("b", b))))
    st.run()
    (ev,) = [e for e in st.events if e.name == "a"]
    assert ev.data == {"x": 1}
    assert st.ctx == {"x": 1}
    assert type(ev.data) is FrozenDict


def test_take_events_and_later_events_keep_their_order_and_seq() -> None:
    term = wf.seq(
        _term(["inc"] * 5), wf.wait_signal("go"), _term(["inc"] * 4), wf.wait_signal("go")
    )
    lazy, eager = _pair(term)
    for st in (lazy, eager):
        st.run()
    first = lazy.take_events()
    assert first == eager.take_events()
    assert [e.seq for e in first] == list(range(len(first)))
    for st in (lazy, eager):
        st.feed_signal("go", 1)
        st.run()
    assert _has_run(lazy)
    later = lazy.events
    assert later == eager.events
    assert later[0].seq == first[-1].seq + 1


def test_a_copy_of_a_state_holding_a_compact_run_reads_the_same_trace() -> None:
    st = ExecState(wf.compile(wf.seq(_term(["inc"] * 6), wf.wait_signal("go"))))
    st.run()
    assert _has_run(st)
    copy = clone_state(st)
    assert copy.events == st.events
    copy.feed_signal("go")
    copy.run()
    assert copy.status is Status.DONE
    assert st.status is Status.BLOCKED  # the original is unchanged
    assert len(copy.events) > len(st.events)


def test_a_compact_trace_replays() -> None:
    term = wf.par(_term(["inc"] * 4), wf.seq(wf.wait_signal("go"), _term(["inc", "none"] * 3)))
    prog = wf.compile(term)
    st = ExecState(prog, {"k0": 0}, case_id="c", scheduler=wf.Seeded(7))
    st.run()
    st.feed_signal("go", {"p": 1})
    st.run()
    assert st.status is Status.DONE
    log = wf.replay_log(st.events)
    again = ExecState(prog, {"k0": 0}, case_id="c", scheduler=wf.Replay(log))
    run_with_inputs(again, log.inputs)
    assert again.status is Status.DONE
    assert again.events == st.events
