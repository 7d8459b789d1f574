"""Validation that scales (issue 11): state counts, not times, are asserted here.

* ``new_case`` validates within a time budget and never stalls: past it, a
  WF200 warning and the case starts (``validate_budget=``).
* The depth bound counts branching points, not steps: a long ``seq`` never
  hits it.
* Deterministic local steps (tasks, splits without guards, joins waiting for
  all their branches, counted loops, fixed ``mi`` spawns) run back to back
  as one edge: ``par`` / ``mi`` of k and nested ``mi`` explore a constant
  number of states, and witnesses still list every step.

Times are in ``python -m wftrio.bench --only validate``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import assume, event, given, settings
from hypothesis import strategies as st

import wftrio as wf
from wftrio.errors import OptionError, ValidationOptionError
from wftrio.terms import MI, Loop, Term, node_label
from wftrio.testing.strategies import terms
from wftrio.validation import analyze, check_program, replay_witness
from wftrio.validation._api import _CHECKED
from wftrio.validation.explore import Bounds, explore
from wftrio.validation.findings import exploration_issues


def nop(ctx: Mapping[str, Any]) -> None:
    return None


def t(name: str) -> wf.Term:
    return wf.task(name, nop)


def nested_mi(levels: int, body: wf.Term) -> wf.Term:
    for _ in range(levels):
        body = wf.mi(body, count=3)
    return body


def hard(k: int = 4) -> wf.Term:
    """A term whose exploration takes many states: racing discriminators."""
    return wf.par(
        *(wf.join(wf.first(1), wf.seq(t(f"a{i}"), t(f"b{i}")), t(f"c{i}")) for i in range(k))
    )


# -- the time budget at new_case ---------------------------------------------


def test_check_program_stops_at_its_time_budget_with_a_warning() -> None:
    program = wf.compile(hard())
    _CHECKED.pop(program, None)
    issues = check_program(program, budget_s=1e-9)
    assert [i.code for i in issues] == ["WF200"]
    assert "time_budget" in issues[0].message
    # cached per Program and budget; without a budget it completes
    assert check_program(program, budget_s=1e-9) is issues
    assert check_program(program, budget_s=None) == ()


def test_a_spent_budget_never_hides_a_structural_error() -> None:
    bad = wf.par(wf.join(wf.first(2), t("x"), wf.seq(t("y"), wf.terminate())), hard())
    with pytest.raises(wf.InvalidWorkflow) as err:
        wf.run(bad, validate_budget=1e-9)
    assert "WF102" in {i.code for i in err.value.issues}


def test_check_program_refuses_a_bad_budget() -> None:
    with pytest.raises(ValidationOptionError, match="budget"):
        check_program(wf.compile(t("a")), budget_s=0)


async def test_new_case_takes_a_validate_budget() -> None:
    async with wf.open_substrate(validate_budget=1e-9) as sub:
        case = await sub.new_case(hard(5))  # the exploration is cut short: it starts
        assert (await sub.wait(case)).state is wf.CaseState.DONE
        case = await sub.new_case(hard(5), validate_budget=None)
        assert (await sub.wait(case)).state is wf.CaseState.DONE
        with pytest.raises(OptionError, match="validate_budget"):
            await sub.new_case(t("a"), validate_budget="soon")
    with pytest.raises(OptionError, match="validate_budget"):
        async with wf.open_substrate(validate_budget=-1.0):
            pass


def test_validate_keeps_its_full_bounds() -> None:
    rep = analyze(hard())
    assert rep.complete
    assert rep.issues == ()


# -- depth counts branching points ------------------------------------------


@pytest.mark.parametrize("n", [1_000, 10_000])
def test_a_long_seq_never_hits_the_depth_bound(n: int) -> None:
    rep = analyze(wf.seq(*(t(f"t{i}") for i in range(n))), max_depth=1)
    assert rep.complete
    assert rep.issues == ()
    assert rep.states <= 2 + n // 4096


def test_depth_counts_branching_points() -> None:
    # three xors in a row: three branching points, whatever runs between them
    # (each waits in a branch, so no xor is a pure block run as one step)
    def step(i: int) -> wf.Term:
        waits = wf.seq(t("b"), wf.wait_signal(f"s{i}"))
        return wf.seq(t("a"), wf.xor(wf.branch(lambda ctx: True, waits), t("c")), t("d"))

    term = wf.seq(step(0), step(1), step(2))
    assert explore(term, bounds=Bounds(max_depth=3)).complete
    assert not explore(term, bounds=Bounds(max_depth=2)).complete


# -- deterministic runs and joins are one edge -------------------------------


@pytest.mark.parametrize("k", [8, 32, 128])
def test_par_and_mi_of_k_explore_a_constant_number_of_states(k: int) -> None:
    for term in (wf.par(*(t(f"t{i}") for i in range(k))), wf.mi(wf.seq(t("a"), t("b")), count=k)):
        ex = explore(term, bounds=Bounds(max_tokens=1_000))
        assert ex.complete
        assert ex.states <= 3
        assert ex.steps >= k  # every task still ran


@pytest.mark.parametrize("levels", [2, 3, 5])
def test_nested_mi_validates_without_issue(levels: int) -> None:
    rep = analyze(nested_mi(levels, wf.par(t("a"), t("b"), t("c"))))
    assert rep.complete
    assert rep.issues == ()
    assert rep.states <= 3


def test_a_witness_lists_every_step_of_a_run() -> None:
    stuck = wf.seq(wf.par(t("a"), t("b"), t("c")), wf.wait_signal("never"), t("d"))
    rep = analyze(stuck, signals={"go"})
    (dead,) = [i for i in rep.issues if i.code == "WF201"]
    assert [s.text.split(": ")[1].split(" ")[0] for s in dead.witness] == [
        "fork",
        "task",
        "join",
        "task",
        "join",
        "task",
        "join",
        "wait_signal",
    ]
    assert replay_witness(stuck, dead.witness).blocked_on()["signals"] == ["never"]


def test_dead_tasks_inside_runs_are_still_found() -> None:
    term = wf.par(wf.mi(t("never"), count=0), wf.loop(t("neither"), times=0), t("runs"))
    assert sorted(i.path for i in wf.validate(term)) == [
        "par[0].mi[0].task('never')",
        "par[1].loop[0].task('neither')",
    ]


@given(k=st.integers(1, 40))
def test_state_counts_do_not_grow_with_width(k: int) -> None:
    assert explore(wf.par(*(wf.seq(t(f"a{i}"), t(f"b{i}")) for i in range(k)))).states <= 3


# -- sound by construction ------------------------------------------------------


def test_pure_block_structured_terms_are_sound_by_construction() -> None:
    term = wf.seq(*(t(f"t{i}") for i in range(100_000)))
    rep = analyze(term)
    assert rep.by_construction
    assert rep.issues == ()
    assert analyze(nested_mi(5, wf.par(t("a"), t("b"), t("c")))).by_construction


@pytest.mark.parametrize(
    "term",
    [
        wf.mi(t("a"), count=0),
        wf.loop(t("a"), times=0),
        wf.join(wf.first(1), t("a"), t("b")),
        wf.mi(t("a"), count=3, join=2),
        wf.seq(t("a"), wf.wait_signal("go")),
        wf.seq(t("a"), wf.terminate()),
    ],
)
def test_what_is_not_sound_by_construction_is_explored(term: wf.Term) -> None:
    assert not analyze(term).by_construction
    assert not analyze(wf.region("r", t("a")), cancel_regions=True).by_construction


pure_terms = terms(
    signals=False, timers=False, effects=False, terminate=False, max_leaves=8, valid=False
)


@settings(max_examples=15)
@given(term=pure_terms)
def test_sound_by_construction_agrees_with_the_full_exploration(term: wf.Term) -> None:
    rep = analyze(term)
    assume(rep.by_construction)
    bounds = Bounds(max_states=300)
    ex = explore(term, reduce=False, bounds=bounds)
    assume(ex.complete)
    assert exploration_issues(ex, bounds) == []


def _zero_counts(term: Term) -> list[str]:
    """Paths of the nodes whose body never runs: ``mi`` of 0 instances, ``loop(times=0)``."""
    out: list[str] = []
    stack: list[tuple[str, Term]] = [(node_label(term), term)]
    while stack:
        here, node = stack.pop()
        if (isinstance(node, MI) and (node.count == 0 or node.items == ())) or (
            isinstance(node, Loop) and node.times == 0
        ):
            out.append(here)
        for i, kid in enumerate(node.children()):
            stack.append((f"{here}[{i}].{node_label(kid)}", kid))
    return out


# with the MI patterns' options (until, condition joins, cancel_rest; some mi
# draw none of them, so this covers the strategy without them too)
random_pure = terms(
    signals=False,
    timers=False,
    effects=False,
    terminate=False,
    max_leaves=20,
    max_width=4,
    mi_patterns=True,
)


# fresh draws every run: with pure first(n) joins, threads and regions in
# blocks (tests/test_validate_partial_blocks.py, test_validate_region_blocks.py)
# no term of this strategy hit a bound in 20,000 drawn by tests/sweep_pure.py
# (seeds 3, 7 and 11; docs/VALIDATION.md)
@settings(max_examples=500, deadline=None)
@given(term=random_pure)
def test_random_pure_compositions_validate_without_error(term: wf.Term) -> None:
    # Pure compositions (first(n), choice, xor, loops, mi of every join and the
    # MI patterns' options, threads, regions) never deadlock or livelock, and
    # within the default bounds the exploration completes on every one (pure
    # blocks inside explored terms run as one step, late arrivals at a fired
    # partial join are absorbed at once, branches gathered at a partial join
    # arrive before others move on, pure first(n) joins, MI-pattern mi,
    # threads and regions are blocks too): no
    # error, no WF200; the only finding is a task under a count of 0 (WF205).
    rep = analyze(term)
    assert rep.complete, rep.bounds_hit
    zero = _zero_counts(term)
    for issue in rep.issues:
        assert issue.code == "WF205", issue
        assert any(issue.path.startswith(z + "[") for z in zero), issue
    event("by construction" if rep.by_construction else "explored")


def _yes(ctx: Mapping[str, Any]) -> bool:
    return True


def test_halts_ending_branches_of_a_synchronising_merge_are_one_edge() -> None:
    # a halt takes its branch off its choice's / sync_merge's count, like an
    # arrival: a deterministic local step, so the halts of 3 x 3 instances
    # are no longer interleaved (1,541 states before)
    nested = wf.mi(wf.mi(wf.join("sync_merge", wf.halt(), wf.halt()), count=3), count=3)
    rep = analyze(nested)
    assert rep.complete
    assert not rep.issues
    assert explore(nested).states <= 4
    # the same verdicts as the full exploration (209 states)
    mixed = wf.mi(
        wf.choice(
            wf.branch(_yes, wf.halt()),
            wf.halt(),
            wf.branch(_yes, wf.choice(wf.halt(), t("a"))),
        ),
        count=2,
    )
    red = analyze(mixed)
    full = analyze(mixed, reduce=False)
    assert red.complete
    assert full.complete
    assert red.states < full.states
    assert [(i.code, i.path) for i in red.issues] == [(i.code, i.path) for i in full.issues]
