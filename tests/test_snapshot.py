"""Snapshot -> JSON -> restore -> continue behaves exactly like never stopping.

A case is driven by a deterministic outside world (``tick``): while the
reducer can step, one step per tick; when it is blocked, one input chosen
from the state alone (complete an effect, fire a timer, send a signal,
cancel a region).  Because the choice depends only on the state and the tick
number, a restored state that is equivalent to the original gets the same
inputs, so the trace after the snapshot, the final ctx and the outcome must
be identical to an uninterrupted run's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import wftrio as wf
from wftrio.engine import (
    FINAL,
    ExecState,
    Program,
    StartEffect,
    StartTimer,
    StateSnapshot,
    Status,
    error_info,
)
from wftrio.engine.objects import CtxLayer, JoinInst, LoopFrame, MIInst, RegionInst, Token
from wftrio.engine.replay import run_with_inputs
from wftrio.errors import ProgramMismatch, RecordedError, SerializationError
from wftrio.scheduling import Deterministic, Replay, Scheduler, Seeded
from wftrio.serialize import dumps_snapshot, loads_snapshot, pending_commands
from wftrio.testing.strategies import terms as shared_terms

SIGNALS = ("s0", "s1", "s2")

# ---------------------------------------------------------------------------
# task functions (pure, JSON-valued) and hand-fed effects


def bump(key: str) -> Callable[[Mapping[str, Any]], dict[str, int]]:
    def fn(ctx: Mapping[str, Any]) -> dict[str, int]:
        v = ctx.get(key, 0)
        return {key: (v if isinstance(v, int) else 0) + 1}

    return fn


def odd(key: str) -> Callable[[Mapping[str, Any]], bool]:
    def fn(ctx: Mapping[str, Any]) -> bool:
        v = ctx.get(key, 0)
        return isinstance(v, int) and v % 2 == 1

    return fn


def boom(ctx: Mapping[str, Any]) -> None:
    raise ValueError("bröken task")


async def remote(ctx: Mapping[str, Any]) -> dict[str, Any]:  # fed by hand, never awaited
    raise AssertionError("effects are fed by the test")


def see_item(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"seen": [ctx["item"], ctx["index"]]}


# ---------------------------------------------------------------------------
# the deterministic outside world

Action = tuple[str, Any]


def default_policy(st: ExecState, n: int) -> Action:
    """Pick an input for a blocked state from the state and the tick number alone."""
    b = st.blocked_on()
    opts: list[Action] = [("effect", e) for e in b["effects"]]
    opts += [("timer", t) for t in b["timers"]]
    opts += [("signal", s) for s in b["signals"]]
    if n % 3 == 2:
        opts += [("cancel_region", r) for r in st.live_regions()]
    if n % 61 == 60:
        return ("cancel", None)
    kind, key = opts[(n * 7 + st.steps) % len(opts)]
    if kind == "effect" and key % 23 == 22:
        return ("effect_failure", key)
    return kind, key


def no_cancel_policy(st: ExecState, n: int) -> Action:
    b = st.blocked_on()
    opts: list[Action] = [("effect", e) for e in b["effects"]]
    opts += [("timer", t) for t in b["timers"]] + [("signal", s) for s in b["signals"]]
    return opts[n % len(opts)]


Policy = Callable[[ExecState, int], Action]


def apply(st: ExecState, action: Action, n: int) -> None:
    kind, key = action
    if kind == "effect":
        st.feed_effect(key, {f"e{key}": [key, "ü", {"n": n}]})
    elif kind == "effect_failure":
        st.feed_effect(key, error=RuntimeError(f"effect {key} fäiled"))
    elif kind == "timer":
        st.fire_timer(key)
    elif kind == "signal":
        st.feed_signal(key, {"n": n, "txt": "sïgnal ✓", "at": [st.steps]})
    elif kind == "cancel_region":
        st.cancel_region(key)
    else:
        st.cancel()


def tick(st: ExecState, n: int, policy: Policy) -> None:
    st.take_outbox()
    if st.status is Status.RUNNING:
        if n % 13 == 12:  # a signal nobody may be waiting for yet: it queues
            st.feed_signal(SIGNALS[n % 3], {"early": n})
        st.run(1)
    elif st.status is Status.BLOCKED:
        apply(st, policy(st, n), n)


LIMIT = 4000


def drive(st: ExecState, start: int, policy: Policy, limit: int = LIMIT) -> int:
    n = start
    while st.status not in FINAL and n < limit:
        tick(st, n, policy)
        n += 1
    st.take_outbox()
    return n


# ---------------------------------------------------------------------------
# comparing runs


@attrs.frozen
class Case:
    program: Program
    ctx: dict[str, Any]
    scheduler: Callable[[], Scheduler]
    policy: Policy = default_policy

    def fresh(self) -> ExecState:
        return ExecState(self.program, self.ctx, scheduler=self.scheduler())


def outcome(st: ExecState) -> tuple[Any, ...]:
    err = error_info(st.error) if st.error is not None else None
    return (st.status, st.steps, st.seq, st.ctx, err)


def reference(case: Case) -> tuple[ExecState, int]:
    st = case.fresh()
    return st, drive(st, 0, case.policy)


def via_json(st: ExecState) -> tuple[StateSnapshot, ExecState]:
    """Snapshot -> JSON text -> snapshot -> restored state (checks the round trips)."""
    snap = st.snapshot()
    text = dumps_snapshot(snap)
    json.loads(text)  # plain JSON
    loaded = loads_snapshot(text)
    assert loaded == snap
    restored = ExecState.restore(st.program, loaded)
    # the restored graph snapshots to the same thing: nothing lost or reordered
    assert restored.snapshot() == snap
    return loaded, restored


def check_resume(case: Case, k: int, ref: ExecState | None = None) -> ExecState:
    """Stop after tick ``k``, go through JSON, continue; compare with ``ref``."""
    if ref is None:
        ref, _ = reference(case)
    st = case.fresh()
    for n in range(k):
        tick(st, n, case.policy)
    st.take_outbox()
    before = list(st.events)
    assert before == ref.events[: len(before)]
    _, restored = via_json(st)
    assert_isomorphic(st, restored)
    drive(restored, k, case.policy)
    assert restored.events == ref.events[len(before) :]
    assert outcome(restored) == outcome(ref)
    # taking a snapshot does not disturb the original either
    drive(st, k, case.policy)
    assert st.events == ref.events
    return restored


def first_tick(case: Case, pred: Callable[[ExecState], bool]) -> int:
    """The first k such that the state after k ticks satisfies ``pred``."""
    st = case.fresh()
    n = 0
    while st.status not in FINAL and n < LIMIT:
        tick(st, n, case.policy)
        n += 1
        if pred(st):
            return n
    raise AssertionError("the run never reached the state the test wants to snapshot")


# ---------------------------------------------------------------------------
# object graphs: the restored state has the same shape *and* the same sharing


def assert_isomorphic(a: ExecState, b: ExecState) -> None:
    mapping: dict[int, object] = {}
    taken: set[int] = set()

    def same(x: Any, y: Any, path: str) -> None:
        if x is None or y is None:
            assert x is y, path
            return
        assert type(x) is type(y), path
        if id(x) in mapping:
            assert mapping[id(x)] is y, f"{path}: sharing differs"
            return
        assert id(y) not in taken, f"{path}: one restored object stands for two"
        mapping[id(x)] = y
        taken.add(id(y))
        assert x.id == y.id, path
        if isinstance(x, Token):
            assert (x.alive, x.pc if x.alive else 0) == (y.alive, y.pc if y.alive else 0), path
            if x.alive:
                assert x.wait == y.wait, path
                same(x.frame, y.frame, f"{path}.frame")
                same(x.region, y.region, f"{path}.region")
                same(x.scope, y.scope, f"{path}.scope")
        elif isinstance(x, JoinInst):
            fields = ("needed", "started", "arrived", "fired", "cont")
            assert [getattr(x, f) for f in fields] == [getattr(y, f) for f in fields], path
            same(x.parent, y.parent, f"{path}.parent")
            same(x.region, y.region, f"{path}.region")
            same(x.scope, y.scope, f"{path}.scope")
            same(x.cancel_region, y.cancel_region, f"{path}.cancel_region")
        elif isinstance(x, LoopFrame):
            assert x.count == y.count, path
            same(x.parent, y.parent, f"{path}.parent")
        elif isinstance(x, MIInst):
            fields = ("n", "needed", "done", "fired", "cont", "results")
            assert [getattr(x, f) for f in fields] == [getattr(y, f) for f in fields], path
            same(x.parent, y.parent, f"{path}.parent")
            same(x.region, y.region, f"{path}.region")
            same(x.scope, y.scope, f"{path}.scope")
        elif isinstance(x, RegionInst):
            fields = ("scope_id", "cancel_pc", "exited", "alive")
            assert [getattr(x, f) for f in fields] == [getattr(y, f) for f in fields], path
            same(x.parent, y.parent, f"{path}.parent")
            same(x.frame, y.frame, f"{path}.frame")
            same(x.scope, y.scope, f"{path}.scope")
            assert len(x.tokens) == len(y.tokens), path
            for i, (tx, ty) in enumerate(zip(x.tokens, y.tokens, strict=True)):
                same(tx, ty, f"{path}.tokens[{i}]")
            assert len(x.children) == len(y.children), path
            for i, (cx, cy) in enumerate(zip(x.children, y.children, strict=True)):
                same(cx, cy, f"{path}.children[{i}]")
        else:
            assert isinstance(x, CtxLayer)
            assert (x.data, x.base, x.index) == (y.data, y.base, y.index), path
            assert list(x.view.items()) == list(y.view.items()), path
            same(x.parent, y.parent, f"{path}.parent")

    same(a.root, b.root, "root")
    assert list(a.tokens) == list(b.tokens)
    for i, t in a.tokens.items():
        same(t, b.tokens[i], f"tokens[{i}]")
    # withdrawn tokens the ready queue still lists never run; a snapshot drops them
    live_ready = [t for t in a.ready if t.alive]
    assert len(live_ready) == len(b.ready)
    for i, (x, y) in enumerate(zip(live_ready, b.ready, strict=True)):
        same(x, y, f"ready[{i}]")
    same(a.current, b.current, "current")
    assert list(a.regions) == list(b.regions)
    for sid in a.regions:
        assert len(a.regions[sid]) == len(b.regions[sid])
        for x, y in zip(a.regions[sid], b.regions[sid], strict=True):
            same(x, y, f"regions[{sid!r}]")
    assert list(a.waiters) == list(b.waiters)
    for name in a.waiters:
        wa, wb = a.signal_waiters(name), b.signal_waiters(name)
        assert [alt for _, alt in wa] == [alt for _, alt in wb]
        for (x, _), (y, _) in zip(wa, wb, strict=True):
            same(x, y, f"waiters[{name!r}]")
    assert list(a.effects) == list(b.effects)
    for eid in a.effects:
        same(a.effects[eid], b.effects[eid], f"effects[{eid}]")
    assert list(a.timers) == list(b.timers)
    for tid in a.timers:
        assert a.timers[tid][1] == b.timers[tid][1]
        same(a.timers[tid][0], b.timers[tid][0], f"timers[{tid}]")
    assert {n: list(q) for n, q in a.signals.items()} == {n: list(q) for n, q in b.signals.items()}
    assert (a.status, a.steps, a.seq, a._next_id, a.level) == (
        b.status,
        b.steps,
        b.seq,
        b._next_id,
        b.level,
    )


# ---------------------------------------------------------------------------
# one term using every constructor, snapshotted after every tick

EVERYTHING = wf.seq(
    wf.task("start", bump("n")),
    wf.par(
        wf.seq(wf.task("pick", bump("a")), wf.wait_signal("go", store_as="go")),
        wf.xor(
            wf.branch(odd("a"), wf.task("odd", bump("odd"))),
            wf.task("even", bump("even")),
            wf.task("other", bump("other")),
        ),
        wf.loop(wf.seq(wf.task("tick", bump("ticks")), wf.task("charge", remote)), times=2),
    ),
    wf.region(
        "pay",
        wf.seq(
            wf.task("auth", remote),
            wf.defer(
                wf.on_signal("ok", wf.task("approved", bump("ok"))),
                wf.after(5, wf.task("timed_out", bump("late"))),
            ),
        ),
        compensate=wf.task("undo", bump("undone")),
    ),
    wf.mi(
        wf.seq(wf.task("item", see_item), wf.task("ship", remote), wf.wait_signal("packed")),
        items=["x", "ÿ", "z"],
        join=2,
        collect="res",
    ),
    wf.join(
        wf.first(1, cancel_rest=True),
        wf.wait_signal("a1"),
        wf.seq(wf.task("fast", bump("fast")), wf.wait_signal("a2")),
    ),
    wf.choice(
        wf.branch(odd("n"), wf.task("c1", bump("c1"))),
        wf.branch(odd("nope"), wf.task("c2", bump("c2"))),
        wf.loop(wf.task("w", bump("w")), while_=lambda c: c.get("w", 0) < 2),
    ),
    wf.task("end", bump("end")),
)

SCHEDULERS: list[tuple[str, Callable[[], Scheduler]]] = [
    ("deterministic", Deterministic),
    ("seeded-7", lambda: Seeded(7)),
    ("seeded-2024", lambda: Seeded(2024)),
]


@pytest.mark.parametrize(("label", "sched"), SCHEDULERS, ids=[s[0] for s in SCHEDULERS])
@pytest.mark.parametrize("policy", [default_policy, no_cancel_policy])
def test_every_constructor_resumes_at_every_tick(
    label: str, sched: Callable[[], Scheduler], policy: Policy
) -> None:
    case = Case(wf.compile(EVERYTHING), {"given": {"ä": [1, 2.5, None, True]}}, sched, policy)
    ref, ticks = reference(case)
    assert ref.status in FINAL
    kinds = {e.kind for e in ref.events}
    if policy is no_cancel_policy:
        assert ref.status is Status.DONE
        assert {"effect_requested", "timer_started", "mi_spawned", "choice"} <= kinds
        if label != "deterministic":
            assert any(e.data.get("by") == "scheduler" for e in ref.events)
    for k in range(ticks + 1):
        check_resume(case, k, ref)


# ---------------------------------------------------------------------------
# snapshots in particular situations


def test_blocked_on_a_signal_with_queued_signals() -> None:
    term = wf.seq(
        wf.task("a", bump("a")),
        wf.wait_signal("go", store_as="go"),
        wf.wait_signal("s1", store_as="first"),
        wf.wait_signal("s1", store_as="second"),
        wf.task("b", bump("b")),
    )
    case = Case(wf.compile(term), {}, Deterministic, no_cancel_policy)
    k = first_tick(case, lambda s: s.status is Status.BLOCKED)
    st = case.fresh()
    for n in range(k):
        tick(st, n, case.policy)
    assert st.blocked_on()["signals"] == ["go"]
    st.feed_signal("s1", {"q": 1})
    st.feed_signal("s1", {"q": [2, "ü"]})
    _, restored = via_json(st)
    assert restored.blocked_on() == st.blocked_on()
    assert restored.pending_signals() == {"s1": 2}
    for s in (st, restored):
        s.feed_signal("go", "now")
        assert s.run() is Status.DONE
    assert (
        restored.ctx
        == st.ctx
        == {
            "a": 1,
            "go": "now",
            "first": {"q": 1},
            "second": {"q": [2, "ü"]},
            "b": 1,
        }
    )
    assert restored.events == st.events[len(st.events) - len(restored.events) :]


def test_two_tokens_at_a_defer_naming_one_signal_twice_restore() -> None:
    # found by the term strategy once it drew wf.threads: the second waiter of a
    # name was registered with the last alternative naming it, not the first,
    # so its snapshot was refused ("listed as a waiter ... but does not wait on it")
    choice = wf.defer(
        wf.on_signal("s0", wf.task("t0", bump("a"))), wf.on_signal("s0", wf.task("t1", bump("b")))
    )
    for term in (wf.threads(2, choice), wf.par(choice, choice)):
        st = ExecState(wf.compile(term), {})
        assert st.run() is Status.BLOCKED
        _, restored = via_json(st)
        for s in (st, restored):
            s.feed_signal("s0", 1)
            s.feed_signal("s0", 2)
            assert s.run() is Status.DONE
        # each token took the first alternative naming the signal
        assert restored.ctx == st.ctx == {"a": 2}


def test_blocked_on_an_effect_restarts_it_with_pending_commands() -> None:
    term = wf.seq(
        wf.region("outer", wf.par(wf.task("charge", remote), wf.wait_signal("s0"))),
        wf.task("done", bump("done")),
    )
    prog = wf.compile(term)
    st = ExecState(prog, {"order": 7})
    assert st.run() is Status.BLOCKED
    (start,) = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
    _, restored = via_json(st)
    assert restored.take_outbox() == []
    (again,) = pending_commands(restored)
    assert isinstance(again, StartEffect)
    assert (again.eid, again.name, again.fn, again.regions, again.token) == (
        start.eid,
        start.name,
        start.fn,
        start.regions,
        start.token,
    )
    assert dict(again.ctx) == dict(start.ctx) == {"order": 7}
    assert again.regions != ()
    case = Case(prog, {"order": 7}, Deterministic, no_cancel_policy)
    check_resume(case, first_tick(case, lambda s: bool(s.effects)))


def test_blocked_on_a_timer() -> None:
    term = wf.seq(
        wf.defer(
            wf.on_signal("s2", wf.task("sig", bump("sig"))),
            wf.after(2.5, wf.task("late", bump("late"))),
        ),
        wf.task("end", bump("end")),
    )
    prog = wf.compile(term)
    st = ExecState(prog)
    assert st.run() is Status.BLOCKED
    (tid,) = st.blocked_on()["timers"]
    _, restored = via_json(st)
    assert pending_commands(restored) == [StartTimer(tid, 2.5)]
    assert list(restored.waiters) == ["s2"]
    assert restored.signal_waiters("s2") == [(restored.timers[tid][0], 0)]
    for s in (st, restored):
        assert s.fire_timer(tid)
        assert s.feed_signal("s2") is True  # the signal alternative was withdrawn: queues
        assert s.run() is Status.DONE
    assert restored.ctx == st.ctx == {"late": 1, "end": 1}
    assert restored.pending_signals() == {"s2": 1}
    case = Case(prog, {}, Deterministic, lambda s, n: ("timer", s.blocked_on()["timers"][0]))
    check_resume(case, first_tick(case, lambda s: bool(s.timers)))


def cancel_when_deep(st: ExecState, n: int) -> Action:
    if "inner" in st.live_regions() and st.blocked_on()["effects"]:
        return ("cancel_region", "outer")
    return no_cancel_policy(st, n)


def test_inside_a_region_later_cancelled() -> None:
    term = wf.seq(
        wf.task("start", bump("n")),
        wf.region(
            "outer",
            wf.par(
                wf.region(
                    "inner",
                    wf.seq(wf.task("pay", remote), wf.wait_signal("s0")),
                    compensate=wf.task("refund", bump("refunded")),
                ),
                wf.loop(wf.seq(wf.task("t", bump("t")), wf.wait_signal("s1")), times=3),
                wf.join(wf.first(1, cancel_rest=True), wf.wait_signal("s2"), wf.task("q", remote)),
            ),
            compensate=wf.task("undo", bump("undone")),
        ),
        wf.task("after", bump("after")),
    )
    case = Case(wf.compile(term), {}, Deterministic, cancel_when_deep)
    ref, ticks = reference(case)
    assert ref.status is Status.DONE
    assert ref.ctx.get("undone") == 1
    assert "refunded" not in ref.ctx
    assert ref.ctx["after"] == 1
    cancelled_at = next(i for i, e in enumerate(ref.events) if e.kind == "region_cancelled")
    k = first_tick(case, lambda s: "inner" in s.live_regions() and bool(s.effects))
    st = case.fresh()
    for n in range(k):
        tick(st, n, case.policy)
    assert len(st.events) <= cancelled_at  # the snapshot is taken before the cancellation
    assert {"outer", "inner"} <= set(st.live_regions())
    restored = check_resume(case, k, ref)
    assert restored.live_regions() == []
    kinds = [e.kind for e in restored.events]
    assert "region_cancelled" in kinds
    assert "effect_cancelled" in kinds
    for k2 in range(ticks + 1):
        check_resume(case, k2, ref)


def test_region_token_order_is_kept() -> None:
    # A leaves "inner" after B was spawned, so "outer" holds [B, A]: not id order.
    # Cancelling "outer" withdraws in that order, which the trace shows.
    term = wf.region(
        "outer",
        wf.par(
            wf.seq(wf.region("inner", wf.task("a", bump("a"))), wf.wait_signal("s0")),
            wf.wait_signal("s1"),
        ),
    )
    prog = wf.compile(term)
    st = ExecState(prog)
    assert st.run() is Status.BLOCKED
    (outer,) = st.regions["outer"]
    ids = [t.id for t in outer.tokens]
    assert ids != sorted(ids)
    _, restored = via_json(st)
    assert_isomorphic(st, restored)
    for s in (st, restored):
        assert s.cancel_region("outer") == 1
        assert s.run() is Status.DONE
    assert restored.events == st.events[-len(restored.events) :]
    withdrawn = [e.token for e in restored.events if e.kind == "token_withdrawn"]
    assert withdrawn == ids


def test_inside_mi_instances() -> None:
    term = wf.seq(
        wf.mi(
            wf.seq(
                wf.task("item", see_item),
                wf.par(wf.wait_signal("packed"), wf.loop(wf.task("t", bump("t")), times=2)),
                wf.task("ship", remote),
            ),
            items=["α", "β", "γ"],
            join=2,
            collect="res",
        ),
        wf.task("end", bump("end")),
    )
    prog = wf.compile(term)
    case = Case(prog, {"base": 1}, lambda: Seeded(3), no_cancel_policy)
    k = first_tick(case, lambda s: len(s.signal_waiters("packed")) == 3)
    st = case.fresh()
    for n in range(k):
        tick(st, n, case.policy)
    _, restored = via_json(st)
    waiting = [t for t, _alt in restored.signal_waiters("packed")]
    scopes = {t.scope for t in waiting}
    assert len(scopes) == 3
    assert all(s.parent is restored.root for s in scopes)
    assert sorted(s.view["item"] for s in scopes) == ["α", "β", "γ"]
    # a fork inside an instance: both branches share the instance's JoinInst,
    # whose parent is the MIInst every instance shares
    joins = {t.frame for t in waiting}
    assert all(isinstance(j, JoinInst) for j in joins)
    assert len(joins) == 3
    (mi_frame,) = {j.parent for j in joins if j is not None}
    assert isinstance(mi_frame, MIInst)
    # the instance views read through to the restored root ctx, live
    restored.root.data["base"] = 99
    assert {s.view["base"] for s in scopes} == {99}
    check_resume(case, k)


def test_failed_case_snapshot() -> None:
    term = wf.seq(wf.task("a", bump("a")), wf.task("bad", boom), wf.task("never", bump("b")))
    prog = wf.compile(term)
    st = ExecState(prog)
    assert st.run() is Status.FAILED
    _, restored = via_json(st)
    assert restored.status is Status.FAILED
    assert isinstance(restored.error, RecordedError)
    assert (
        error_info(restored.error)
        == error_info(st.error)
        == {
            "error_type": "ValueError",
            "error": "bröken task",
        }
    )
    assert restored.run() is Status.FAILED
    assert restored.feed_signal("x") is False


def test_replay_scheduler_snapshot_resumes_the_replay() -> None:
    case = Case(wf.compile(EVERYTHING), {}, lambda: Seeded(11), no_cancel_policy)
    ref, _ = reference(case)
    log = wf.replay_log(ref.events)
    assert log.choices
    assert log.inputs
    for k in range(0, ref.steps + 1, 3):
        st = ExecState(case.program, {}, scheduler=Replay(log))
        run_with_inputs(st, log.inputs, max_steps=k)
        before = list(st.events)
        snap, restored = via_json(st)
        assert snap.scheduler.TAG == "replay"
        rest = [i for i in log.inputs if i.at_step > st.steps]
        run_with_inputs(restored, rest)
        assert before + restored.events == ref.events
        assert restored.ctx == ref.ctx


def test_restore_with_a_clock_continues_case_time() -> None:
    term = wf.seq(wf.wait_signal("s0"), wf.wait_signal("s1"))
    prog = wf.compile(term)
    now = [100.0]
    st = ExecState(prog, clock=lambda: now[0])
    st.run()
    now[0] = 103.0
    st.feed_signal("s0")
    st.run()
    snap = loads_snapshot(dumps_snapshot(st.snapshot()))
    assert (snap.t0, snap.elapsed) == (100.0, 3.0)
    later = [50.0]
    restored = ExecState.restore(prog, snap, clock=lambda: later[0], case_id="moved")
    later[0] = 52.0
    restored.feed_signal("s1")
    ev = restored.events[0]
    assert (ev.kind, ev.time, ev.case_id, ev.seq) == ("signal_received", 5.0, "moved", st.seq)


def test_restore_options_trace_level_and_on_event() -> None:
    prog = wf.compile(wf.seq(wf.wait_signal("s0"), wf.task("a", bump("a"))))
    st = ExecState(prog, trace_level="min")
    st.run()
    snap = st.snapshot()
    assert snap.trace_level == "min"
    seen: list[Any] = []
    quiet = ExecState.restore(prog, snap, trace_level="none")
    loud = ExecState.restore(prog, snap, on_event=seen.append, keep_events=False)
    for s in (quiet, loud):
        s.feed_signal("s0")
        assert s.run() is Status.DONE
    assert quiet.events == []
    assert loud.events == []
    assert [e.kind for e in seen] == ["signal_received", "signal_consumed", "case_completed"]


def test_snapshot_of_a_finished_and_of_a_fresh_case() -> None:
    prog = wf.compile(wf.seq(wf.task("a", bump("a")), wf.terminate(), wf.task("b", bump("b"))))
    fresh = ExecState(prog)
    _, r = via_json(fresh)
    assert r.run() is Status.DONE
    assert r.ctx == {"a": 1}
    fresh.run()
    _, done = via_json(fresh)
    assert done.status is Status.DONE
    assert done.tokens == {}
    assert done.ctx == {"a": 1}


# ---------------------------------------------------------------------------
# errors


def test_wrong_program_is_a_clear_typed_error() -> None:
    a = wf.compile(wf.seq(wf.task("a", bump("a")), wf.wait_signal("s0")))
    b = wf.compile(wf.seq(wf.task("b", bump("a")), wf.wait_signal("s0")))
    st = ExecState(a)
    st.run()
    snap = loads_snapshot(dumps_snapshot(st.snapshot()))
    with pytest.raises(ProgramMismatch, match="different program") as info:
        ExecState.restore(b, snap)
    assert isinstance(info.value, SerializationError)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, wf.WftrioError)
    # the same term compiled again (a distinct Program object) is accepted
    from wftrio.compiler import clear_cache

    clear_cache()
    again = wf.compile(a.term)
    assert again is not a
    assert ExecState.restore(again, snap).blocked_on() == st.blocked_on()


WORKFLOW_SOURCE = """
import wftrio as wf

def inc(c):
    return {"n": c.get("n", 0) + 1}

term = wf.seq(
    wf.task("a", inc),
    wf.mi(wf.seq(wf.task("b", inc), wf.wait_signal("s")), items=["x", 1, {"k": [2]}]),
    wf.region(
        "r", wf.defer(wf.after(1.5, wf.task("t", inc)), wf.on_signal("u", wf.task("u", inc)))
    ),
)
"""

CHILD = """
from wftrio.engine import ExecState
from wftrio.scheduling import Seeded
from wftrio.serialize import dumps_snapshot
st = ExecState(wf.compile(term), {"from": "child"}, scheduler=Seeded(4))
st.run()
st.feed_signal("s", "one")
st.run(2)
print(dumps_snapshot(st.snapshot()))
"""


def test_snapshot_restores_in_another_process() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    out = subprocess.run(
        [sys.executable, "-c", WORKFLOW_SOURCE + CHILD],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    ns: dict[str, Any] = {}
    exec(WORKFLOW_SOURCE, ns)
    prog = wf.compile(ns["term"])
    here = ExecState(prog, {"from": "child"}, scheduler=Seeded(4))
    here.run()
    here.feed_signal("s", "one")
    here.run(2)
    restored = ExecState.restore(prog, loads_snapshot(out))
    assert restored.snapshot() == here.snapshot()
    for s in (here, restored):
        s.feed_signal("s", "two")
        s.feed_signal("s", "three")
        assert s.run() is Status.BLOCKED
        s.fire_timer(s.blocked_on()["timers"][0])
        assert s.run() is Status.DONE
    assert restored.events == here.events[-len(restored.events) :]
    assert restored.ctx == here.ctx


@pytest.mark.parametrize(
    ("ctx", "where"),
    [
        ({"when": (1, 2)}, "ctx['when']"),
        ({"tags": {"a", "b"}}, "ctx['tags']"),
        ({"deep": [{"ok": 1}, {"bad": object()}]}, "ctx['deep'][1]['bad']"),
        ({"keys": {1: "x"}}, "ctx['keys']"),
        ({"raw": b"bytes"}, "ctx['raw']"),
    ],
)
def test_non_json_ctx_values_name_the_key(ctx: dict[str, Any], where: str) -> None:
    st = ExecState(wf.compile(wf.wait_signal("s0")), ctx)
    st.run()
    with pytest.raises(SerializationError) as info:
        st.snapshot()
    assert info.value.paths == (where,)
    assert where in str(info.value)


def test_non_json_mi_item_and_payload_name_where() -> None:
    st = ExecState(wf.compile(wf.mi(wf.wait_signal("s0"), items=[1, (2, 3)])))
    st.run()
    with pytest.raises(SerializationError, match=r"mi instance 1 .*item\['item'\].*tuple"):
        st.snapshot()
    st2 = ExecState(wf.compile(wf.wait_signal("s0")))
    st2.feed_signal("s1", {1, 2})
    with pytest.raises(SerializationError, match=r"signals\['s1'\]\[0\]"):
        st2.snapshot()
    loop: list[Any] = []
    loop.append(loop)
    st3 = ExecState(wf.compile(wf.wait_signal("s0")), {"loop": loop})
    with pytest.raises(SerializationError, match="circular"):
        st3.snapshot()


def test_unknown_scheduler_cannot_be_snapshotted() -> None:
    class Mine:
        preemptive = False
        name = "mine"

        def pick(self, n: int, what: str) -> int:
            return 0

    st = ExecState(wf.compile(wf.wait_signal("s0")), scheduler=Mine())
    with pytest.raises(SerializationError, match="no snapshot form"):
        st.snapshot()


def snapshot_json(term: wf.Term) -> tuple[Program, dict[str, Any]]:
    prog = wf.compile(term)
    st = ExecState(prog)
    st.run()
    return prog, json.loads(dumps_snapshot(st.snapshot()))


def test_malformed_snapshot_json_names_the_field() -> None:
    prog, doc = snapshot_json(wf.par(wf.wait_signal("s0"), wf.loop(wf.wait_signal("s1"), times=2)))
    with pytest.raises(SerializationError, match="invalid JSON") as info:
        loads_snapshot('{"version": 1,')
    assert info.value.paths == ("$",)
    bad = json.loads(json.dumps(doc))
    bad["tokens"][0]["pc"] = "3"
    with pytest.raises(SerializationError) as info:
        loads_snapshot(json.dumps(bad))
    assert "$.tokens[0].pc" in info.value.paths
    bad = json.loads(json.dumps(doc))
    bad["frames"][0]["kind"] = "spiral"
    del bad["steps"]
    bad["status"] = "sleepy"
    with pytest.raises(SerializationError) as info:
        loads_snapshot(json.dumps(bad))
    assert {"$.frames[0]", "$.steps", "$.status"} <= set(info.value.paths)
    with pytest.raises(SerializationError, match="expected a JSON object"):
        loads_snapshot("[1, 2]")
    bad = json.loads(json.dumps(doc))
    bad["scheduler"] = {"kind": "seeded", "seed": True}
    with pytest.raises(SerializationError) as info:
        loads_snapshot(json.dumps(bad))
    assert any(p.startswith("$.scheduler") for p in info.value.paths)


def test_inconsistent_snapshot_is_refused_on_restore() -> None:
    prog, doc = snapshot_json(wf.par(wf.wait_signal("s0"), wf.loop(wf.wait_signal("s1"), times=2)))
    loop_tok = next(i for i, t in enumerate(doc["tokens"]) if t["wait"]["name"] == "s1")
    cases: list[tuple[Callable[[dict[str, Any]], None], str]] = [
        (lambda d: d["tokens"][loop_tok].__setitem__("frame", 999), f"tokens[{loop_tok}].frame"),
        (lambda d: d["tokens"][0].__setitem__("pc", 10_000), "tokens[0].pc"),
        (lambda d: d["waiters"]["s0"][0].__setitem__("token", 424), "waiters['s0'][0]"),
        (lambda d: d.__setitem__("root", 77), "root"),
        (lambda d: d.__setitem__("version", 99), "version"),
        (lambda d: d["scopes"][0].__setitem__("parent", 5), "scopes[0].parent"),
    ]
    for mutate, path in cases:
        bad = json.loads(json.dumps(doc))
        mutate(bad)
        snap = loads_snapshot(json.dumps(bad))
        with pytest.raises(SerializationError) as info:
            ExecState.restore(prog, snap)
        assert not isinstance(info.value, ProgramMismatch)
        assert info.value.paths == (path,), str(info.value)


# ---------------------------------------------------------------------------
# property: random terms, random schedulers, a random snapshot point


def _build(spec: Any, ids: Iterator[int]) -> wf.Term:
    kind = spec[0]
    if kind == "task":
        key = "abc"[SIGNALS.index(spec[1])]
        return wf.task(f"t{key}", bump(key))
    if kind == "effect":
        return wf.task(f"e{spec[1]}", remote)
    if kind == "wait":
        return wf.wait_signal(spec[1], store_as=f"got_{spec[1]}")
    if kind == "defer":
        return wf.defer(
            wf.on_signal(spec[1], wf.task("won", bump("a"))),
            wf.after(1.0, wf.task("timeout", bump("b"))),
        )
    if kind == "fail":
        return wf.task("bad", boom)
    if kind == "terminate":
        return wf.terminate()
    kids = [_build(s, ids) for s in spec[-1]] if isinstance(spec[-1], list) else []
    if kind == "seq":
        return wf.seq(*kids)
    if kind == "par":
        return wf.par(*kids)
    if kind == "first":
        return wf.join(wf.first(1, cancel_rest=spec[1]), *kids)
    if kind == "xor":
        alts: list[wf.Term] = [wf.branch(odd("a"), kids[0]), *kids[1:]]
        if len(alts) == 1:
            alts.append(wf.task("dflt", bump("c")))
        return wf.xor(*alts)
    if kind == "choice":
        rest = kids[1:] or [wf.task("dflt", bump("c"))]
        return wf.choice(wf.branch(odd("b"), kids[0]), *rest)
    if kind == "loop":
        return wf.loop(_build(spec[1], ids), times=2)
    if kind == "region":
        body = _build(spec[1], ids)
        comp = wf.task("comp", bump("comp")) if spec[2] else None
        return wf.region(f"r{next(ids)}", body, compensate=comp)
    assert kind == "mi"
    return wf.mi(_build(spec[1], ids), items=["p", "q"], join=spec[2], collect="res")


LEAVES = ["task"] * 6 + ["effect"] * 3 + ["wait"] * 3 + ["defer"] * 2 + ["fail", "terminate"]


def _leaf() -> st.SearchStrategy[Any]:
    # failing tasks and terminate are rare, or most runs would be over at once
    return st.tuples(st.sampled_from(LEAVES), st.sampled_from(SIGNALS))


def _composite(kids: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    some = st.lists(kids, min_size=1, max_size=3)
    return st.one_of(
        st.tuples(st.just("seq"), some),
        st.tuples(st.just("par"), some),
        st.tuples(st.just("first"), st.booleans(), st.lists(kids, min_size=2, max_size=3)),
        st.tuples(st.just("xor"), some),
        st.tuples(st.just("choice"), some),
        st.tuples(st.just("loop"), kids),
        st.tuples(st.just("region"), kids, st.booleans()),
        st.tuples(st.just("mi"), kids, st.sampled_from(["all", 1, "none"])),
    )


def local_terms() -> st.SearchStrategy[wf.Term]:
    specs = st.recursive(_leaf(), _composite, max_leaves=12)
    return specs.map(lambda s: _build(s, iter(range(1_000))))


def _schedulers() -> st.SearchStrategy[Callable[[], Scheduler]]:
    seeded = st.integers(0, 2**32 - 1).map(lambda s: lambda: Seeded(s))
    return st.one_of(st.just(Deterministic), seeded)


def _check_random_point(term: wf.Term, sched: Callable[[], Scheduler], frac: float) -> None:
    case = Case(wf.compile(term), {"init": ["ä", 1]}, sched)
    ref, ticks = reference(case)
    k = round(frac * ticks)
    note(f"{ticks} ticks, snapshot after {k}")
    check_resume(case, k, ref)


@given(term=local_terms(), sched=_schedulers(), frac=st.floats(0, 1))
def test_property_random_terms_resume_identically(
    term: wf.Term, sched: Callable[[], Scheduler], frac: float
) -> None:
    _check_random_point(term, sched, frac)


@given(
    term=shared_terms(effects=True, failures=True, max_leaves=10, valid=False),
    sched=_schedulers(),
    frac=st.floats(0, 1),
)
def test_property_shared_strategy_terms_resume_identically(
    term: wf.Term, sched: Callable[[], Scheduler], frac: float
) -> None:
    _check_random_point(term, sched, frac)
