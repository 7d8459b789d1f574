"""Property-based tests of the core: terms, compiler and the pure reducer.

Terms come from ``wftrio.testing.strategies.terms``; runs use the real
reducer, driven in random bursts by ``wftrio.testing.Driver`` (a seeded
outside world feeding signals, timers, effect results and cancellations
through the reducer's public input methods).  ``check_invariants`` runs
after every burst and every input.
"""

from __future__ import annotations

import json
import random
from collections.abc import Generator
from typing import Any

import attrs
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

import wftrio as wf
from wftrio.engine import FINAL, ExecState, StartEffect, Status
from wftrio.engine.objects import RegionInst, Token
from wftrio.engine.replay import run_with_inputs
from wftrio.errors import EffectSuspended
from wftrio.terms import MI, Term, WaitSignal, walk
from wftrio.testing import Driver, Environment, check_invariants, drive
from wftrio.testing.strategies import bump, scheduler_seeds, terms
from wftrio.trace import MIN_KINDS

MAX_STEPS = 20_000

pure_terms = st.one_of(
    terms(signals=False, timers=False, effects=False, valid=False),
    terms(signals=False, timers=False, effects=False, failures=True, valid=False),
)
open_terms = terms(effects=True, valid=False)
environments = st.builds(
    Environment,
    seed=scheduler_seeds(),
    max_burst=st.sampled_from([1, 4, 32]),
    interject=st.sampled_from([0.2, 0.6]),
    early_signal=st.sampled_from([0.0, 0.2]),
    cancel_region=st.sampled_from([0.0, 0.05, 0.2]),
    cancel_case=st.sampled_from([0.0, 0.02]),
)
ctxs = st.dictionaries(st.sampled_from(["a", "b", "user"]), st.integers(0, 5), max_size=2)


def schedule(seed: int | None) -> wf.Deterministic | wf.Seeded:
    return wf.Deterministic() if seed is None else wf.Seeded(seed)


def run_in_bursts(st_: ExecState, seed: int, max_steps: int = MAX_STEPS) -> Status:
    """Run to a non-RUNNING status in random bursts, checking invariants after each."""
    rng = random.Random(seed)
    check_invariants(st_)
    while st_.steps < max_steps:
        status = st_.run(rng.randint(1, 40))
        check_invariants(st_)
        if status is not Status.RUNNING:
            return status
    return st_.status


def allowed_ctx_keys(term: Term, ctx: dict[str, Any], st_: ExecState) -> set[str]:
    """Keys the caller or a task (or the term, via store_as / collect) can put in ctx."""
    keys = set(ctx)
    for _, node in walk(term):
        if isinstance(node, WaitSignal) and node.store_as is not None:
            keys.add(node.store_as)
        elif isinstance(node, MI) and node.collect is not None:
            keys.add(node.collect)
    for ev in st_.events:
        if ev.kind == "task_completed":
            keys.update(ev.data)
        elif ev.kind == "effect_completed" and ev.data.get("result"):
            keys.update(ev.data["result"])
    return keys


def assert_sound_ctx(term: Term, ctx: dict[str, Any], st_: ExecState) -> None:
    extra = set(st_.ctx) - allowed_ctx_keys(term, ctx, st_)
    assert not extra, f"ctx gained keys nobody put there: {sorted(extra)}"
    json.dumps(st_.ctx)  # generated tasks write JSON-able values only


def assert_final_is_clean(st_: ExecState) -> None:
    assert st_.status in FINAL
    assert not st_.tokens
    assert not any(st_.blocked_on().values())
    assert st_.live_regions() == []
    last = st_.events[-1].kind
    expected = {
        Status.DONE: "case_completed",
        Status.FAILED: "case_failed",
        Status.CANCELLED: "case_cancelled",
    }
    assert last == expected[st_.status]
    assert (st_.error is not None) == (st_.status is Status.FAILED)


# ---------------------------------------------------------------------------
# termination and blocking


@given(pure_terms, ctxs, st.one_of(st.none(), scheduler_seeds()), scheduler_seeds())
def test_pure_terms_terminate(
    term: Term, ctx: dict[str, Any], sched: int | None, seed: int
) -> None:
    st_ = ExecState(wf.compile(term), ctx, scheduler=schedule(sched))
    status = run_in_bursts(st_, seed)
    assert status in (Status.DONE, Status.FAILED), f"{status} after {st_.steps} steps"
    assert_final_is_clean(st_)
    assert_sound_ctx(term, ctx, st_)


@given(open_terms, st.one_of(st.none(), scheduler_seeds()), scheduler_seeds())
def test_blocked_iff_waiting_on_something(term: Term, sched: int | None, seed: int) -> None:
    """Without any input a term ends, or is BLOCKED reporting exactly what on."""
    st_ = ExecState(wf.compile(term), scheduler=schedule(sched))
    status = run_in_bursts(st_, seed)
    assert status is not Status.RUNNING
    blocked = st_.blocked_on()
    assert (status is Status.BLOCKED) == any(blocked.values())
    if status is Status.BLOCKED:
        # every live token waits, and on something blocked_on() names
        for tok in st_.tokens.values():
            assert tok.wait is not None
    else:
        assert_final_is_clean(st_)


# ---------------------------------------------------------------------------
# driven runs: invariants, determinism, replay


@given(open_terms, ctxs, st.one_of(st.none(), scheduler_seeds()), environments)
def test_driven_runs_keep_invariants(
    term: Term, ctx: dict[str, Any], sched: int | None, env: Environment
) -> None:
    st_ = ExecState(wf.compile(term), ctx, scheduler=schedule(sched))
    result = drive(st_, env, max_steps=MAX_STEPS, check=check_invariants)
    assert not result.stuck, result.actions
    assert result.status in FINAL, result
    event(f"status: {result.status}")
    event(f"inputs: {min(len(result.actions), 5)}+")
    assert_final_is_clean(st_)
    assert_sound_ctx(term, ctx, st_)


@given(open_terms, ctxs, environments)
def test_two_deterministic_runs_give_identical_traces(
    term: Term, ctx: dict[str, Any], env: Environment
) -> None:
    runs = []
    for _ in range(2):
        st_ = ExecState(wf.compile(term), ctx)
        result = drive(st_, env, max_steps=MAX_STEPS)
        runs.append((result, st_.events, st_.ctx))
    (r1, ev1, ctx1), (r2, ev2, ctx2) = runs
    assert ev1 == ev2
    assert ctx1 == ctx2
    assert r1 == r2


@given(open_terms, ctxs, st.one_of(st.none(), scheduler_seeds()), environments)
def test_trace_levels_record_the_same_run(
    term: Term, ctx: dict[str, Any], sched: int | None, env: Environment
) -> None:
    """``min`` keeps exactly the MIN_KINDS events of ``full``; ``none`` changes nothing else."""
    runs = {}
    for level in ("full", "min", "none"):
        st_ = ExecState(wf.compile(term), ctx, scheduler=schedule(sched), trace_level=level)
        result = drive(st_, env, max_steps=MAX_STEPS)
        runs[level] = (result, st_)
    (r_full, full), (r_min, mini), (r_none, none) = runs["full"], runs["min"], runs["none"]
    assert r_full == r_min == r_none
    assert full.ctx == mini.ctx == none.ctx
    assert none.events == []

    def strip(evs: list[Any]) -> list[tuple[Any, ...]]:
        return [(e.kind, e.name, e.token, e.scope, e.data) for e in evs]

    assert strip(mini.events) == strip([e for e in full.events if e.kind in MIN_KINDS])
    assert [e.seq for e in mini.events] == list(range(len(mini.events)))
    assert [e.seq for e in full.events] == list(range(len(full.events)))


@given(
    open_terms,
    ctxs,
    st.one_of(scheduler_seeds(), st.none()),
    environments,
    st.sampled_from(["min", "full"]),
)
def test_seeded_run_replays_identically(
    term: Term, ctx: dict[str, Any], sched: int | None, env: Environment, level: str
) -> None:
    """A run with random scheduling and inputs replays from its trace (also deterministic runs)."""
    prog = wf.compile(term)
    st_ = ExecState(prog, ctx, scheduler=schedule(sched), trace_level=level)
    result = drive(st_, env, max_steps=MAX_STEPS)
    log = wf.replay_log(st_.events)
    again = ExecState(prog, ctx, scheduler=wf.Replay(log), trace_level=level)
    # a run cut at the step limit replays up to the same step; a finished one
    # replays to its end (it may finish after its last input without a step)
    run_with_inputs(again, log.inputs, max_steps=st_.steps if result.hit_step_limit else None)
    assert again.events == st_.events
    assert again.status == st_.status
    assert again.ctx == st_.ctx
    assert again.steps == st_.steps


# ---------------------------------------------------------------------------
# region withdrawal


def _in_activation(tok: Token, insts: list[RegionInst]) -> bool:
    r = tok.region
    while r is not None:
        if r in insts:
            return True
        r = r.parent
    return False


def _snapshot(st_: ExecState) -> dict[int, tuple[int, Any, RegionInst | None]]:
    return {t.id: (t.pc, t.wait, t.region) for t in st_.tokens.values()}


def _in_outer_region(term: Term) -> Term:
    # generated region ids are r0, r1, ...: "outer" and "inner" never clash
    inner = wf.region(
        "inner",
        wf.seq(wf.wait_signal("s2"), wf.task("inner", bump("b"))),
        compensate=wf.task("undo", bump("c")),
    )
    outside = wf.seq(wf.wait_signal("s1"), wf.task("outside", bump("c")))
    return wf.par(wf.region("outer", wf.par(term, inner)), outside)


@given(
    terms(effects=True, terminate=False, valid=False).map(_in_outer_region),
    st.one_of(st.none(), scheduler_seeds()),
    scheduler_seeds(),
)
def test_cancel_region_withdraws_exactly_the_region(
    term: Term, sched: int | None, seed: int
) -> None:
    st_ = ExecState(wf.compile(term), scheduler=schedule(sched))
    rng = random.Random(seed)
    env = Environment(seed=seed, max_burst=3, interject=0.5, cancel_region=0.0, cancel_case=0.0)
    driver = Driver(st_, env)
    cancelled = 0
    while st_.status not in FINAL and st_.steps < MAX_STEPS and cancelled < 3:
        driver.burst()
        live = st_.live_regions()
        if not live or st_.status in FINAL or rng.random() < 0.3:
            continue
        # mostly inner regions (live only while something in them waits);
        # the outer one (everything but one branch) now and then
        inner = [s for s in live if s != "outer"]
        if inner:
            sid = rng.choice(inner)
            event("cancelled a generated region" if sid != "inner" else "cancelled 'inner'")
        elif rng.random() < 0.1:
            sid = "outer"
            event("cancelled 'outer'")
        else:
            continue
        insts = list(st_.regions[sid])
        resuming = [r for r in insts if not r.exited]
        before = _snapshot(st_)
        inside = {i for i, t in st_.tokens.items() if _in_activation(t, insts)}
        assert st_.cancel_region(sid) == len(insts)
        cancelled += 1
        after = _snapshot(st_)
        check_invariants(st_)
        assert sid not in st_.live_regions()
        assert all(not r.alive for r in insts)
        # nothing of the region is left
        assert not inside & after.keys()
        assert not any(_in_activation(t, insts) for t in st_.tokens.values())
        # nothing outside it was touched
        for tid, state in before.items():
            if tid not in inside:
                assert after.get(tid) == state, f"token {tid} outside {sid!r} changed"
        # one continuation per activation control had not left yet
        new = [st_.tokens[i] for i in after.keys() - before.keys()]
        assert sorted((t.pc, id(t.region)) for t in new) == sorted(
            (r.cancel_pc, id(r.parent)) for r in resuming
        )
        assert all(t.wait is None for t in new)
        driver.sync()
    event(f"regions cancelled: {cancelled}")


@given(scheduler_seeds())
def test_driver_is_reproducible(seed: int) -> None:
    term = wf.seq(
        wf.par(
            wf.wait_signal("s0"), wf.defer(wf.on_signal("s1", wf.task("x", lambda ctx: {"x": 1})))
        ),
        wf.region("r", wf.wait_signal("s2")),
    )
    results = []
    for _ in range(2):
        st_ = ExecState(wf.compile(term))
        results.append((drive(st_, Environment(seed=seed)), st_.events))
    assert results[0] == results[1]


class _Suspend:
    """An awaitable that suspends once, as real I/O would."""

    def __await__(self) -> Generator[None, None, None]:
        yield


def test_driver_answers_effects_through_a_hook() -> None:
    async def slow(ctx: Any) -> dict[str, int]:
        await _Suspend()
        return {"never": 1}

    term = wf.seq(wf.task("fetch", slow), wf.task("after", lambda ctx: {"done": ctx["x"]}))
    seen: list[str] = []

    def answer(cmd: StartEffect) -> dict[str, int]:
        seen.append(cmd.name)
        return {"x": 7}

    st_ = ExecState(wf.compile(term))
    env = Environment(seed=1, fail_effect=0.0, cancel_case=0.0, cancel_region=0.0)
    result = drive(st_, attrs.evolve(env, effect_result=answer), check=check_invariants)
    assert result.status is Status.DONE
    assert seen == ["fetch"]
    assert st_.ctx == {"x": 7, "done": 7}

    # without the hook the driver cannot run an effect that suspends
    st2 = ExecState(wf.compile(term))
    with pytest.raises(EffectSuspended, match="fetch"):
        drive(st2, env)


def test_driver_reports_a_case_nothing_can_unblock() -> None:
    # a wait the environment never answers: its signal name is not in the term
    st_ = ExecState(wf.compile(wf.wait_signal("s0")))
    driver = Driver(st_, Environment(seed=3, early_signal=0.0))
    driver.signal_names = []
    driver._feed_waited_signal = lambda: False  # type: ignore[method-assign]
    result = driver.run(max_idle=5)
    assert result.stuck
    assert result.status is Status.BLOCKED
    assert not result.hit_step_limit


# ---------------------------------------------------------------------------
# regressions found by the properties above


def test_replay_reproduces_case_started() -> None:
    # regression: case_started recorded the replaying policy's name ("replay")
    # instead of the recorded one, so no replayed trace was identical
    term = wf.seq(wf.par(wf.task("a", bump("a")), wf.task("b", bump("b"))), wf.wait_signal("s0"))
    prog = wf.compile(term)
    st_ = ExecState(prog, scheduler=wf.Seeded(5))
    st_.run()
    st_.feed_signal("s0", 1)
    assert st_.run() is Status.DONE
    log = wf.replay_log(st_.events)
    again = ExecState(prog, scheduler=wf.Replay(log))
    run_with_inputs(again, log.inputs)
    assert again.events[0] == st_.events[0]
    assert again.events[0].data["scheduler"] == "seeded"
    assert again.events == st_.events
