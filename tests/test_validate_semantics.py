"""The explorer shares its semantics with the reducer (properties over random terms).

* Every run of the real reducer (real task functions and conditions, a
  ``Seeded`` scheduler, a random outside world) is a path in the explored
  state graph, compared on the control part of the canonical state keys.
* Every state the explorer calls a deadlock is reached again by the reducer
  driven along its witness; when the witness takes no condition outcome, the
  reducer on the *real* Program (real task functions) reaches it too, and so
  does the trio runtime replaying the witness's log.
* Partial-order and symmetry reduction change the state count, not the
  findings.
"""

from __future__ import annotations

import random

import pytest
import trio
import trio.testing
from hypothesis import assume, event, given
from hypothesis import strategies as st

import wftrio as wf
from wftrio import patterns as P
from wftrio.engine import FINAL, ExecState, Status
from wftrio.testing import Driver, Environment
from wftrio.testing.strategies import SIGNALS, bump, count_of, noop, scheduler_seeds, terms
from wftrio.trace import ReplayLog
from wftrio.validation import Report, analyze, witness_log
from wftrio.validation.abstract import instances_bound
from wftrio.validation.explore import Bounds, Move, Space, explore
from wftrio.validation.statekey import shape_key, state_key
from wftrio.validation.witness import replay_witness

BOUNDS = Bounds(max_states=1_500, max_depth=300, max_tokens=16, max_instances=3)
small_terms = terms(effects=True, max_depth=3, max_width=3, max_leaves=6, valid=False)


def control(st: ExecState) -> object:
    return state_key(st)[0]


@given(term=small_terms, seed=scheduler_seeds())
def test_every_real_run_is_a_path_of_the_explored_graph(term: wf.Term, seed: int) -> None:
    ex = explore(term, bounds=BOUNDS, cancel_regions=True, reduce=False, record_shapes=True)
    assume(ex.complete)
    assert ex.shapes is not None
    ctl = ex.shapes
    nodes = set(ctl)
    edges = {(ctl[i], ctl[j]) for i, ss in enumerate(ex.succ) for j in ss}

    st = ExecState(wf.compile(term), scheduler=wf.Seeded(seed), trace_level="none")
    env = Environment(seed=seed, early_signal=0.0, cancel_case=0.0, cancel_region=0.05)
    driver = Driver(st, env)
    rng = random.Random(seed)
    # an mi's more_on signal adds an instance; the explorer adds at most
    # max_instances (a bound, like a computed count's): past it, the graph
    # holds no more of the run
    full = instances_bound(st.program, BOUNDS.max_instances)
    prev = shape_key(st)
    assert prev in nodes
    for moves in range(600):
        if st.status in FINAL:
            break
        runnable = st.current is not None or any(t.wait is None for t in st.ready if t.alive)
        if not runnable or rng.random() < 0.2:
            if any(full(t) for t in st.tokens.values() if t.alive):
                break  # the next signal may add an instance the bound leaves out
            if driver.act() is None and not runnable:
                break  # waits for nothing the environment can send
        else:
            st.run(1)
            driver.sync()
        cur = shape_key(st)
        assert cur in nodes, f"state after {moves} moves is not in the explored graph"
        assert cur == prev or (prev, cur) in edges, f"move {moves} is not an explored edge"
        prev = cur


def _no_input(space: Space, st: ExecState) -> bool:
    return not space.input_moves(st, cancel_regions=False)


@given(
    term=terms(effects=True, max_depth=3, max_width=3, max_leaves=8, valid=False),
    declared=st.sets(st.sampled_from(SIGNALS)),
)
def test_deadlock_witnesses_lead_the_reducer_to_the_deadlock(
    term: wf.Term, declared: set[str]
) -> None:
    ex = explore(term, bounds=BOUNDS, signals=declared)
    for node in ex.deadlocks[:3]:
        witness = ex.witness(node)
        st = replay_witness(term, witness)
        assert state_key(st) == ex.keys[node]
        assert st.status not in FINAL
        assert all(t.wait is not None for t in st.tokens.values())
        assert _no_input(ex.space, st)
        if all(not s.answers for s in witness):
            # no condition outcome was chosen: the real Program, real task
            # functions included, follows the same path to the same deadlock
            space = ex.space
            real = ExecState(space.original, trace_level="none")
            real.take_outbox()
            for s in witness:
                real = space.apply(real, Move(s.kind, s.target, s.answers))
            assert control(real) == ex.keys[node][0]
            assert real.status is Status.BLOCKED or real.status is Status.RUNNING
            assert all(t.wait is not None for t in real.tokens.values())


@given(
    term=small_terms,
    declared=st.sets(st.sampled_from(SIGNALS)),
)
def test_the_runtime_driven_along_a_deadlock_witness_deadlocks(
    term: wf.Term, declared: set[str]
) -> None:
    # a branch waiting for an undeclared signal: every run ends in a deadlock
    term = wf.par(term, wf.wait_signal("never"))
    ex = explore(term, bounds=BOUNDS, signals=declared)
    witnesses = [ex.witness(n) for n in ex.deadlocks[:2]]
    witnesses = [w for w in witnesses if all(s.kind != "run" or not s.answers for s in w)]
    event(f"question-free deadlock witnesses: {min(len(witnesses), 1)}")

    async def replay(log: ReplayLog) -> wf.CaseInfo:
        async with wf.open_substrate() as sub:
            cid = await sub.new_case(term, scheduler=wf.Replay(log), validate=False)
            await trio.testing.wait_all_tasks_blocked()
            info = sub.status(cid)
            await sub.cancel(cid)
            return info

    for witness in witnesses:
        try:
            log = witness_log(term, witness)
        except ValueError:
            continue  # a computed mi count: the real workflow decides it
        info = trio.run(replay, log)
        st = replay_witness(term, witness)
        assert info.state is wf.CaseState.WAITING_SIGNAL
        assert sorted(info.waiting_signals) == st.blocked_on()["signals"]
        assert info.steps == st.steps


def _verdict(
    term: wf.Term,
    reduce: bool,
    signals: set[str] | None,
    cancel: bool,
    max_states: int = BOUNDS.max_states,
) -> tuple[Report, list[tuple[str, str, str]]]:
    rep = analyze(
        term,
        reduce=reduce,
        signals=signals,
        cancel_regions=cancel,
        max_states=max_states,
        max_tokens=BOUNDS.max_tokens,
    )
    return rep, sorted(
        (i.code, i.severity, i.path if i.code not in ("WF202",) else "") for i in rep.issues
    )


@given(
    term=small_terms,
    declared=st.none() | st.sets(st.sampled_from(SIGNALS)),
    cancel=st.booleans(),
)
def test_reduction_keeps_the_findings(
    term: wf.Term, declared: set[str] | None, cancel: bool
) -> None:
    full, full_v = _verdict(term, False, declared, cancel)
    assume(full.complete)
    red, red_v = _verdict(term, True, declared, cancel)
    assert red.complete
    assert red.states <= full.states
    assert red_v == full_v


def _sections(order_a: str, order_b: str, extra: wf.Term) -> wf.Term:
    def nested(order: str, name: str) -> wf.Term:
        inner = wf.task(name, noop())
        for lock in reversed(order):
            inner = P.critical_section(lock, inner)
        return inner

    return wf.par(nested(order_a, "x"), nested(order_b, "y"), extra)


@pytest.mark.parametrize("orders", [("AB", "BA"), ("AB", "AB"), ("A", "A"), ("ABC", "CAB")])
def test_reduction_keeps_the_findings_of_critical_sections(orders: tuple[str, str]) -> None:
    term = _sections(*orders, wf.seq(wf.task("z", noop()), wf.wait_signal("go")))
    full, full_v = _verdict(term, False, None, False, 20_000)
    red, red_v = _verdict(term, True, None, False, 20_000)
    assert full.complete
    assert red.complete
    assert red_v == full_v
    deadlocked = set(orders[0]) & set(orders[1]) and any(
        orders[0].index(a) < orders[0].index(b) and orders[1].index(a) > orders[1].index(b)
        for a in orders[0]
        for b in orders[0]
        if a in orders[1] and b in orders[1]
    )
    assert ("WF202" in {i.code for i in red.issues}) == bool(deadlocked)


def test_reduction_does_not_postpone_a_step_behind_an_input() -> None:
    # found by test_reduction_keeps_the_findings: once s1 woke the mi's close
    # waiter, the reduced exploration delivered s0 (to the more_on waiter)
    # before the close ran; the new instance terminated the case, and t0,
    # which runs after an mi closed with no instance, was reported dead
    term = wf.seq(
        wf.mi(wf.terminate(), count=0, more_on="s0", close_on="s1"), wf.task("t0", bump("a"))
    )
    full, full_v = _verdict(term, False, None, False)
    red, red_v = _verdict(term, True, None, False)
    assert full.complete
    assert red.complete
    assert "WF205" not in {i.code for i in full.issues}
    assert red_v == full_v


def test_reduction_reports_a_deadlock_at_the_same_path() -> None:
    # found by a long run of test_reduction_keeps_the_findings: the reduced
    # exploration runs the pure block first, so the tokens got other ids and
    # the WF201 issue named the first token by id, a different path
    term = wf.par(
        wf.mi(wf.wait_signal("s0"), count=count_of("a", 1)),
        wf.par(wf.task("t0", bump("a")), wf.wait_signal("s0")),
    )
    full, full_v = _verdict(term, False, set(), False)
    red, red_v = _verdict(term, True, set(), False)
    assert full.complete
    assert red.complete
    assert "WF201" in {i.code for i in full.issues}
    assert red_v == full_v
    msgs = [[i.message for i in r.issues if i.code == "WF201"] for r in (full, red)]
    assert msgs[0] == msgs[1]
