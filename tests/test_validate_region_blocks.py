"""Regions inside pure blocks (issue 11, the last hits of the sweep's ``all`` strategy).

A ``region`` around a pure body is part of a summarised block while region
cancellations are not explored (``compose._region_in_block``): only the
outside input ``cancel_region`` runs a compensation, and every other way an
activation ends (its exit, a withdrawal decided inside the block, a
withdrawal of an activation around the block) leaves nothing in the state.
Each test below has a term that hit a bound before, a check of that
argument against the unreduced exploration, or a term where the rule must
not apply whose finding is still reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import wftrio as wf
from wftrio.terms import node_label
from wftrio.testing.strategies import (
    below,
    bump,
    count_mod,
    finished_at_least,
    items_upto,
    noop,
    note,
    set_to,
)
from wftrio.validation import analyze, replay_witness
from wftrio.validation.compose import summary_blocks
from wftrio.validation.explore import Bounds, Exploration, explore

fal = finished_at_least


def nop(ctx: Mapping[str, Any]) -> None:
    return None


def t(name: str) -> wf.Term:
    return wf.task(name, nop)


def block_paths(term: wf.Term, collects: bool = True) -> set[str]:
    """The blocks; ``collects=False``: as the explorer sees them when nothing reads the ctx."""
    return {b.path for b in summary_blocks(wf.compile(term), collects=collects).values()}


def nested(body: wf.Term, threads: int = 2, **outer: Any) -> wf.Term:
    """The sweep's shape: threads of an mi(join="none") of an mi with a condition join."""
    inner = wf.mi(body, items=items_upto("a", 2), join=fal(2))
    return wf.threads(threads, wf.mi(inner, items=items_upto("b", 2), join="none", **outer))


def test_a_region_inside_nested_mi_with_a_condition_join_validates() -> None:
    # the sweep's last hits (seed 7, `all`, 4 of 10,000 terms at the 5 s cap);
    # before: 20,000 states and WF200 (max_states) in 25-34 s each
    terms = [
        nested(wf.region("r0", wf.task("t0", note("t0")), compensate=wf.task("t1", bump("b")))),
        nested(wf.region("r0", wf.task("t0", noop())), collect="col0"),
    ]
    for term in terms:
        rep = analyze(term)
        assert rep.complete, rep.bounds_hit
        assert rep.issues == ()
        assert rep.states == 2
        # the outer mi's collected results are read by nobody: it is the block
        assert block_paths(term, collects=False) == {"threads[0].mi"}


def test_a_loop_around_an_mi_of_a_choice_holding_a_region_validates() -> None:
    # the sweep's hits on seed 3 (`all`, 6 of 5,000 terms at the 5 s cap);
    # before: 20,000 states and WF200 (max_states), 1-2 minutes
    region = wf.region("r0", wf.task("t1", note("t1")), compensate=wf.task("t2", set_to("b", 2)))
    body = wf.choice(
        wf.branch(count_mod("a", 3, 0), region), wf.branch(count_mod("b", 3, 2), t("t3"))
    )
    inner = wf.mi(body, items=items_upto("c", 2), join="none", collect="col0", item_key="it")
    term = wf.loop(wf.seq(wf.task("t0", bump("loop0")), inner), while_=below("loop0", 3))
    rep = analyze(term)
    assert rep.complete, rep.bounds_hit
    assert rep.issues == ()
    assert rep.states == 2
    assert block_paths(term, collects=False) == {"loop[0].seq"}


def test_the_brief_shape_with_fixed_items_is_one_block() -> None:
    # threads(2, mi(mi(region(t0), items=3, join=fal(2)), items=3, join="none")):
    # before 4,121 states (4-6 s); one thread of the items_upto shape: 383 states
    body = wf.mi(wf.region("r0", wf.task("t0", noop())), items=(1, 2, 3), join=fal(2))
    term = wf.threads(2, wf.mi(body, items=(1, 2, 3), join="none"))
    rep = analyze(term)
    assert rep.complete
    assert rep.issues == ()
    assert rep.states == 2
    one = nested(wf.region("r0", wf.task("t0", noop())), threads=1)
    assert explore(one).states == 2


def _ends(ex: Exploration) -> tuple[set[object], set[object]]:
    """The deadlock keys and the final statuses an exploration reached."""
    finals = {s for s in ex.status if s is not None}
    return {ex.keys[n] for n in ex.deadlocks}, finals


def test_every_path_through_a_pure_block_with_regions_ends_in_one_state() -> None:
    # regions left at their exit, exited with late branches, withdrawn by an
    # until / cancel_rest / condition join inside the block, around a
    # cancel_rest join, under threads and nested mi; with compensations
    blocks = [
        wf.mi(wf.region("r", wf.par(t("a"), t("b")), compensate=t("c")), count=3, until=fal(1)),
        wf.mi(wf.region("r", wf.seq(t("a"), t("b"))), count=3, join=2, cancel_rest=True),
        wf.region("r", wf.join(wf.first(1), t("a"), wf.seq(t("b"), t("c")))),
        wf.join(wf.first(1, cancel_rest=True), wf.region("r", wf.seq(t("a"), t("b"))), t("c")),
        wf.threads(2, wf.region("r", wf.mi(t("a"), count=2, join=fal(1)), compensate=t("c"))),
        wf.mi(wf.mi(wf.region("r", t("a")), count=2, join=fal(1)), count=2, join="none"),
        wf.mi(wf.region("r", wf.region("q", t("a"))), count=2, until=fal(1)),
    ]
    for block in blocks:
        probe = wf.seq(block, wf.wait_signal("never"))
        assert "seq[0]." + node_label(block) in block_paths(probe), block
        full = explore(probe, reduce=False, signals=set(), bounds=Bounds(max_tokens=64))
        assert full.complete
        ends, finals = _ends(full)
        assert len(ends) == 1, block
        red = explore(probe, signals=set())
        assert red.summarised >= 1
        assert red.states <= 3
        assert _ends(red) == (ends, finals)


def _live_r(key: object) -> bool:
    """Whether a state key lists a live activation of region ``r`` (its ``"R"`` record)."""
    ctl = key[0]  # type: ignore[index]
    return any(o[0] == "R" and o[1] == "r" and o[4] for o in ctl[1])


def _withdrawn_half_way(ex: Exploration) -> bool:
    """Whether some edge of ``ex`` withdraws a live activation of ``r`` with its token.

    Its exit keeps the token (it moves on); a withdrawal (a join or mi firing
    with ``cancel_rest`` / a condition) takes it: fewer tokens after the edge.
    """
    keys = ex.keys
    for i in range(ex.states):
        if ex.status[i] is not None or not _live_r(keys[i]):
            continue
        tokens = len(keys[i][0][0])  # type: ignore[index]
        for j in ex.succ[i]:
            fewer = len(keys[j][0][0]) < tokens  # type: ignore[index]
            if ex.status[j] is None and fewer and not _live_r(keys[j]):
                return True
    return False


def test_a_region_block_withdrawn_from_outside_ends_as_if_withdrawn_at_its_entry() -> None:
    # the block (a region of pure tasks) races an explored branch that waits:
    # unreduced, the withdrawal (cancel_rest, an until) can catch the token
    # half-way through the region; reduced, only before or after it.  The
    # deadlocks (by key), final statuses and findings are the same.
    terms = [
        wf.seq(
            wf.join(
                wf.first(1, cancel_rest=True),
                wf.region("r", wf.seq(t("a"), t("b")), compensate=t("c")),
                wf.seq(wf.wait_signal("s"), t("d")),
            ),
            wf.wait_signal("never"),
        ),
        wf.seq(
            wf.mi(
                wf.seq(wf.region("r", wf.seq(t("a"), t("b"))), wf.wait_signal("s")),
                count=2,
                until=fal(1),
            ),
            wf.wait_signal("never"),
        ),
    ]
    for term in terms:
        assert any("region('r')" in p for p in block_paths(term)), term
        full = explore(term, reduce=False, signals={"s"})
        red = explore(term, signals={"s"})
        assert full.complete
        assert red.complete
        assert red.summarised >= 1
        assert _withdrawn_half_way(full)  # the case the argument is about happens
        assert _ends(red) == _ends(full)
        want = [(i.code, i.path) for i in analyze(term, reduce=False, signals={"s"}).issues]
        assert [(i.code, i.path) for i in analyze(term, signals={"s"}).issues] == want


def test_a_compensation_is_not_part_of_the_block() -> None:
    # it never runs while cancellations are not explored: its tasks are not
    # recorded as run (nor reported dead), and what it holds (a wait) does
    # not keep the region out of a block
    term = wf.seq(
        wf.mi(
            wf.region("r", t("a"), compensate=wf.seq(t("c"), wf.wait_signal("x"))),
            count=2,
            until=fal(1),
        ),
        wf.wait_signal("go"),
    )
    program = wf.compile(term)
    (block,) = summary_blocks(program).values()
    assert block.path == "seq[0].mi"
    paths = {program.instrs[pc].path for pc in block.pcs}
    assert not any("[1]." in p for p in paths)
    assert {program.instrs[pc].path for pc in block.tasks} == {
        "seq[0].mi[0].region('r')[0].task('a')"
    }
    assert wf.validate(term) == []


# -- where the rule must not apply -------------------------------------------------


def test_a_region_whose_body_waits_inside_nested_mi_is_explored() -> None:
    # not pure: neither mi nor the region is a block, and the deadlock is found
    body = wf.region("r0", wf.seq(t("t0"), wf.wait_signal("s")))
    term = wf.mi(wf.mi(body, count=2, join=fal(2)), count=2, join="none")
    assert block_paths(term) == set()
    rep = analyze(term, signals=set())
    (dead,) = [i for i in rep.issues if i.code == "WF201"]
    assert dead.path == "mi[0].mi[0].region('r0')[0].seq[1].wait_signal('s')"
    st = replay_witness(term, dead.witness)
    assert st.blocked_on()["signals"] == ["s"]


def test_with_explored_cancellations_a_region_is_never_in_a_block() -> None:
    # cancelling r runs its compensation, which waits forever: found only
    # when cancellations are explored, where nothing is summarised
    term = wf.seq(
        wf.mi(wf.region("r", t("a"), compensate=wf.wait_signal("never")), count=2, until=fal(1)),
        t("z"),
    )
    assert block_paths(term) == {"seq[0].mi"}
    assert analyze(term).issues == ()
    rep = analyze(term, cancel_regions=True, signals=set())
    assert not rep.by_construction
    dead = [i for i in rep.issues if i.code == "WF201"]  # one or both instances cancelled
    assert dead
    for issue in dead:
        assert issue.path == "seq[0].mi[0].region('r')[1].wait_signal('never')"
        assert any(s.kind == "cancel_region" for s in issue.witness)
    assert explore(term, cancel_regions=True, signals=set()).summaries == 0
    # a pure term holding a region is sound by construction only without them
    pure = wf.region("r", wf.par(t("a"), t("b")))
    assert analyze(pure).by_construction
    assert not analyze(pure, cancel_regions=True).by_construction


def test_a_region_around_a_terminate_is_not_a_block() -> None:
    # terminate() withdraws the other branch: explored; first(2) can never
    # fire, and the task after it is dead
    term = wf.seq(
        wf.join(wf.first(2), wf.region("r", wf.seq(t("a"), wf.terminate())), t("b")), t("d")
    )
    assert block_paths(term) == set()
    rep = analyze(term)
    assert rep.complete
    assert [(i.code, i.path) for i in rep.issues] == [
        ("WF102", "seq[0].join"),
        ("WF205", "seq[1].task('d')"),
    ]
