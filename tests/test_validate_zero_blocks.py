"""Zero counts inside pure blocks (issue 11: a hit of the property test with the MI patterns).

A ``loop(times=0)`` or a plain ``mi`` of 0 instances is a deterministic step
whatever its body holds: its body runs on no path.  So it may be part of a
summarised block (``compose._zero_count``), its body left out of the block:
its tasks are not recorded as run and stay reported dead (``WF205``),
exactly as in the full exploration.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import wftrio as wf
from wftrio.terms import node_label
from wftrio.testing.strategies import below, bump, noop, set_to
from wftrio.validation import analyze
from wftrio.validation.compose import summary_blocks
from wftrio.validation.explore import Bounds, explore


def nop(ctx: Mapping[str, Any]) -> None:
    return None


def t(name: str) -> wf.Term:
    return wf.task(name, nop)


def block_paths(term: wf.Term) -> set[str]:
    return {b.path for b in summary_blocks(wf.compile(term)).values()}


def _found(term: wf.Term, **options: Any) -> list[tuple[str, str]]:
    return [(i.code, i.path) for i in analyze(term, **options).issues]


def test_a_loop_around_a_blocking_join_with_a_zero_count_validates() -> None:
    # drawn by the property test with the MI patterns' options: the blocking
    # first(4) held a loop(times=0), so it was explored, and the outer loop
    # piled its activations up; before: WF200 (max_tokens, then 20,000 states)
    blocking = wf.join(
        wf.first(4, blocking=True),
        wf.loop(wf.task("t1", noop()), times=3),
        wf.loop(
            wf.seq(wf.task("t2", bump("loop1")), wf.task("t3", set_to("b", 2))),
            while_=below("loop1", 0),
        ),
        wf.mi(wf.task("t4", noop()), items=(6, 2, 3), join=2, cancel_rest=True),
        wf.loop(wf.task("t5", set_to("a", 2)), times=0),
    )
    other = wf.seq(wf.loop(wf.task("t6", set_to("b", 2)), times=1), wf.task("t7", bump("a")))
    term = wf.loop(
        wf.seq(wf.task("t0", bump("loop0")), wf.join(wf.first(1), blocking, other)),
        while_=below("loop0", 2),
    )
    rep = analyze(term)
    assert rep.complete, rep.bounds_hit
    assert rep.states == 2
    # the body of the zero loop is still dead
    assert _found(term) == [("WF205", "loop[0].seq[1].join[0].join[3].loop[0].task('t5')")]


def test_nested_mi_around_a_zero_loop_validate() -> None:
    # from tests/sweep_pure.py (seed 11): 1,310 states and 2-3 s before
    zero = wf.loop(wf.task("t0", bump("c")), times=0)
    inner = wf.mi(zero, count=3, join=2, cancel_rest=True)
    term = wf.mi(wf.mi(inner, count=3, join=2, cancel_rest=True), count=2, join=1)
    rep = analyze(term)
    assert rep.complete
    assert rep.states <= 6
    assert _found(term) == [("WF205", "mi[0].mi[0].mi[0].loop[0].task('t0')")]


def test_a_block_with_zero_counts_has_the_findings_of_the_full_exploration() -> None:
    # each block races a wait; its zero counts' bodies (tasks, a loop, a wait
    # that would deadlock) never run, in the reduced and the full exploration
    blocks = [
        wf.seq(t("a"), wf.loop(wf.seq(t("b"), wf.wait_signal("x")), times=0)),
        wf.region("r", wf.seq(t("a"), wf.mi(t("x"), count=0))),
        wf.par(wf.mi(wf.loop(t("b"), until=nop), items=(), join="none"), t("c")),
        wf.mi(wf.seq(t("a"), wf.mi(t("b"), count=0)), count=2, join=1),
    ]
    for block in blocks:
        term = wf.seq(wf.join(wf.first(1), block, wf.wait_signal("go")), t("z"))
        assert "seq[0].join[0]." + node_label(block) in block_paths(term), block
        full = explore(term, reduce=False, bounds=Bounds(max_tokens=64))
        assert full.complete
        want = _found(term, reduce=False)
        assert any(code == "WF205" for code, _ in want)
        assert _found(term) == want


def test_a_computed_count_or_an_mi_pattern_with_no_instances_is_not_a_zero_count() -> None:
    # a computed count is explored with 0..3 instances (the body runs on some
    # path); an mi with a condition join and no instances is explored as before
    computed = wf.seq(wf.join(wf.first(1), wf.mi(t("a"), count=lambda c: 0), t("b")), t("z"))
    assert _found(computed) == []
    cond = wf.seq(
        wf.join(wf.first(1), wf.mi(t("a"), count=0, join=lambda rs: True), wf.wait_signal("go")),
        t("z"),
    )
    assert "seq[0].join[0].mi" not in block_paths(cond)
    assert _found(cond, reduce=False) == _found(cond)
