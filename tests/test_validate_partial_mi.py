"""The last random pure compositions that hit a bound (issue 11), as regression tests.

Two rules close them: a pure ``mi(join=n | "none")`` is a summarised block
(the instances that arrive after the join fired are invisible), and when
nothing in the abstract run reads the ctx (no wftrio lock or routing
functions) ``mi`` results are not collected, so a collecting ``mi`` is one
too.  Findings inside such an ``mi`` are still made: a body that is not pure
is explored as before.
"""

from __future__ import annotations

import wftrio as wf
from wftrio import patterns as P
from wftrio.terms import Term
from wftrio.testing.strategies import count_of, has, items_upto, noop, reached
from wftrio.validation import analyze
from wftrio.validation.abstract import reads_ctx
from wftrio.validation.compose import summary_blocks
from wftrio.validation.explore import explore


def t(name: str) -> wf.Term:
    return wf.task(name, noop())


def _verdict(term: Term, **kw: object) -> set[tuple[str, str]]:
    return {(i.code, i.path) for i in analyze(term, **kw).issues}


def test_nested_partial_joins_racing_inside_loops_validate() -> None:
    # docs/VALIDATION.md's example: about 11,000 states and a WF200 before
    f = items_upto("a", 3)
    inner = wf.loop(wf.seq(t("t0"), wf.mi(t("t1"), items=f, join=1)), until=has("x"))
    term = wf.mi(wf.mi(inner, items=f, join=1), items=f, join=1)
    rep = analyze(term)
    assert rep.complete
    assert rep.issues == ()
    assert rep.states <= 10


def test_nested_collecting_mi_without_join_validate() -> None:
    # found by tests/sweep_pure.py: ~5,000 states and 3 s before
    def level(body: Term, i: int) -> Term:
        return wf.mi(body, count=count_of("c", 1), join="none", collect=f"col{i}")

    term = level(level(level(wf.task("t0", noop()), 0), 1), 2)
    rep = analyze(term)
    assert rep.complete
    assert rep.issues == ()
    assert rep.states <= 10


def test_loop_around_an_mi_holding_a_partial_mi_validates() -> None:
    # found by tests/sweep_pure.py: ~4,000 states and 3 s before
    alt = wf.xor(
        wf.branch(lambda ctx: False, t("t1")),
        wf.mi(t("t2"), items=(0, 8), join=1, collect="col0"),
        t("t3"),
    )
    term = wf.loop(
        wf.seq(t("t0"), wf.mi(alt, count=count_of("a", 1), join="none")),
        until=reached("loop0", 2),
    )
    rep = analyze(term)
    assert rep.complete
    assert rep.issues == ()
    assert rep.states <= 20


def test_a_pure_partial_mi_is_one_block() -> None:
    term = wf.seq(wf.mi(wf.seq(t("a"), t("b")), count=3, join=2), wf.wait_signal("go"))
    (block,) = summary_blocks(wf.compile(term)).values()
    assert block.path == "seq[0].mi"
    # a computed count: the summary's completing path starts join=n instances
    short = wf.seq(wf.mi(t("a"), count=count_of("c", 3), join=2), wf.wait_signal("go"))
    assert [b.path for b in summary_blocks(wf.compile(short)).values()] == ["seq[0].mi"]


def test_summaries_agree_with_the_full_exploration() -> None:
    for term in (
        wf.mi(wf.seq(t("t0"), wf.mi(t("t1"), count=2, join=1)), count=2, join=1),
        wf.mi(wf.mi(t("t0"), count=count_of("c", 2), join="none", collect="c0"), count=2),
        wf.seq(wf.mi(t("a"), count=count_of("c", 2), join=1), wf.wait_signal("go")),
    ):
        full = explore(term, reduce=False, signals={"go"})
        red = explore(term, signals={"go"})
        assert full.complete
        assert red.complete
        assert red.states < full.states
        assert _verdict(term, signals={"go"}) == _verdict(term, signals={"go"}, reduce=False)


def test_findings_inside_a_partial_mi_are_still_made() -> None:
    # a task that never runs (a count of 0 inside the body): not pure, explored
    dead = wf.mi(wf.seq(t("a"), wf.loop(t("never"), times=0)), count=2, join=1)
    assert ("WF205", "mi[0].seq[1].loop[0].task('never')") in _verdict(dead)
    # a wait nobody answers, inside instances of a partial join
    stuck = wf.seq(wf.mi(wf.seq(t("a"), wf.wait_signal("never")), count=2, join=2), t("b"))
    assert "WF201" in {code for code, _ in _verdict(stuck, signals={"go"})}


def test_collected_results_stay_when_lock_functions_read_the_ctx() -> None:
    collected = wf.mi(t("a"), count=count_of("c", 2), collect="got")
    plain = wf.compile(wf.seq(collected, wf.wait_signal("go")))
    assert not reads_ctx(plain)
    locked = wf.compile(wf.seq(collected, P.critical_section("L", t("b"))))
    assert reads_ctx(locked)
    assert not any(b.path == "seq[0].mi" for b in summary_blocks(locked).values())
