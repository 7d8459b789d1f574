"""Validation that scales inside explored terms (issue 11, items 1 and 2).

* A pure block-structured sub-term inside an explored term (a ``choice``
  under a discriminator, an ``xor`` in a loop around ``first(n)``) runs as
  one step from its entry to its exit (``compose.summary_blocks``): every
  task in it counts as run, its witness moves still replay.
* A token arriving at a partial join that has fired is only absorbed: a
  deterministic local step.
* Tokens that all stand at one partial join, with no other branch of it
  left, arrive before anything else moves (their races are explored, other
  tokens may not run ahead of them forever).
* The deterministic steps a move enables belong to that move's edge, so the
  cycle proviso sees the cycles they close.

The property that every random pure composition of up to 20 leaves validates
with no bound hit is in ``test_validate_scale.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import assume, given, settings

import wftrio as wf
from wftrio import patterns as P
from wftrio.terms import Term, node_label
from wftrio.testing.strategies import terms
from wftrio.validation import analyze, replay_witness
from wftrio.validation.abstract import reads_ctx
from wftrio.validation.compose import summary_blocks
from wftrio.validation.explore import Bounds, explore


def nop(ctx: Mapping[str, Any]) -> None:
    return None


def yes(ctx: Mapping[str, Any]) -> bool:
    return True


def t(name: str) -> wf.Term:
    return wf.task(name, nop)


def pure_block(tag: str) -> wf.Term:
    """Four xors and a choice with a loop: 2^4 * 3 paths, one exit."""
    return wf.seq(
        *(wf.xor(wf.branch(yes, t(f"{tag}x{i}")), t(f"{tag}y{i}")) for i in range(4)),
        wf.choice(wf.branch(yes, t(f"{tag}p")), wf.branch(yes, wf.loop(t(f"{tag}q"), while_=yes))),
    )


def racing_blocks() -> wf.Term:
    return wf.par(
        *(
            wf.join(wf.first(1), wf.seq(pure_block(f"b{j}"), t(f"z{j}")), wf.wait_signal(f"go{j}"))
            for j in range(2)
        )
    )


# -- summaries ---------------------------------------------------------------------


def test_summary_blocks_are_the_maximal_pure_sub_terms() -> None:
    term = racing_blocks()
    blocks = summary_blocks(wf.compile(term))
    assert sorted(b.path for b in blocks.values()) == [
        "par[0].join[0].seq",
        "par[1].join[0].seq",
    ]
    # a region around a pure body is summarised with it (a withdrawal never runs
    # its compensation, see compose._region_in_block), but not when region
    # cancellations are explored; nor is an mi that collects the results of a
    # computed count (the list's length depends on the path)
    in_region = wf.join(wf.first(1), wf.region("r", pure_block("a")), t("b"))
    assert [b.path for b in summary_blocks(wf.compile(in_region)).values()] == [
        "join[0].region('r')"
    ]
    with_cancel = summary_blocks(wf.compile(in_region), cancel_regions=True)
    assert [b.path for b in with_cancel.values()] == ["join[0].region('r')[0].seq"]
    collected = wf.mi(t("a"), count=lambda ctx: 2, collect="got")
    assert not summary_blocks(wf.compile(wf.join(wf.first(1), collected, t("b"))))


def test_a_pure_block_inside_a_discriminator_is_one_step() -> None:
    term = racing_blocks()
    ex = explore(term)
    assert ex.complete
    assert ex.summarised >= 2
    # 1,221 states when every path through the blocks is explored (16: an input
    # waits while a token can step, see test_reduction_does_not_postpone_...)
    assert ex.states <= 16
    full = explore(term, reduce=False, bounds=Bounds(max_states=100))
    assert not full.complete


def test_every_task_of_a_summarised_block_counts_as_run() -> None:
    # one path through the block runs x or y, never both: both count as run
    term = wf.join(wf.first(1), wf.xor(wf.branch(yes, t("x")), t("y")), wf.wait_signal("go"))
    rep = analyze(term)
    assert rep.issues == ()
    # and a loop in a block counts as left
    looped = wf.join(wf.first(1), wf.seq(wf.loop(t("a"), until=yes), t("b")), wf.wait_signal("go"))
    assert analyze(looped).issues == ()


def test_a_witness_through_a_summarised_block_replays() -> None:
    stuck = wf.seq(
        wf.join(wf.first(1), pure_block("a"), wf.wait_signal("go")), wf.wait_signal("never")
    )
    rep = analyze(stuck, signals={"go"})
    (dead,) = [i for i in rep.issues if i.code == "WF201"]
    assert any("xor" in s.text for s in dead.witness)  # the block's moves are listed
    st_ = replay_witness(stuck, dead.witness)
    assert st_.blocked_on()["signals"] == ["never"]
    assert all(tok.wait is not None for tok in st_.tokens.values())


def test_findings_next_to_summarised_blocks_are_kept() -> None:
    crossed = wf.par(
        P.critical_section(
            "A", P.critical_section("B", pure_block("l"), section="l.B"), section="l.A"
        ),
        P.critical_section(
            "B", P.critical_section("A", pure_block("r"), section="r.A"), section="r.B"
        ),
    )
    assert [i.code for i in wf.validate(crossed)] == ["WF202"]
    stuck = wf.par(pure_block("a"), wf.seq(t("b"), wf.wait_signal("never")))
    assert [i.code for i in wf.validate(stuck, signals={"go"})] == ["WF105", "WF201", "WF108"]


# -- partial joins: late arrivals and gathered branches --------------------------------


def test_late_arrivals_at_a_fired_join_do_not_pile_up() -> None:
    # each iteration leaves a late branch behind: absorbed at once, not accumulated
    term = wf.loop(wf.seq(t("t0"), wf.join(wf.first(1), t("t1"), t("t2"), t("t3"))), until=yes)
    rep = analyze(term)
    assert rep.complete  # 1,255 states and a WF200 before
    assert rep.issues == ()
    assert rep.states <= 10


def test_branches_gathered_at_a_partial_join_arrive_first() -> None:
    inner = wf.join(wf.first(1), wf.seq(t("t3"), t("t4")), t("t5"))
    term = wf.loop(
        wf.seq(t("t0"), wf.join(wf.first(1), wf.seq(t("t1"), t("t2")), inner)), until=yes
    )
    rep = analyze(term)
    assert rep.complete  # max_tokens, then max_states, before
    assert rep.issues == ()
    assert rep.states <= 10


def test_deterministic_steps_belong_to_the_edge_that_enables_them() -> None:
    inner = wf.mi(t("t1"), count=lambda ctx: 2, join=1, collect="c0")
    term = wf.mi(
        wf.loop(wf.seq(t("t0"), inner), until=yes), count=lambda ctx: 2, join=1, collect="c1"
    )
    rep = analyze(term)
    assert rep.complete  # 20,000 states and a WF200 before
    assert rep.issues == ()


pure_blocks = terms(
    signals=False,
    timers=False,
    effects=False,
    terminate=False,
    regions=False,
    max_leaves=6,
    max_width=3,
    valid=False,
)


def test_an_xor_whose_one_branch_collects_is_not_a_block() -> None:
    # found by the property below: one path writes "col0", the other does not
    block = wf.xor(t("t0"), wf.mi(t("t1"), count=1, collect="col0"))
    probe = wf.seq(block, wf.wait_signal("never"))
    blocks = summary_blocks(wf.compile(probe))
    assert not any(b.path == "seq[0]." + node_label(block) for b in blocks.values())


# derandomized so that CI runs the same blocks every time; a random search with
# many more examples found the case above (run it by hand after changing compose.py)
@settings(max_examples=60, deadline=None, derandomize=True)
@given(block=pure_blocks)
def test_every_path_through_a_summarised_block_ends_in_one_state(block: Term) -> None:
    # what a summary relies on: explored without reduction, every path through
    # the block that does not fail the case reaches the same state after it
    # (up to names); the summary reaches that state too
    probe = wf.seq(block, wf.wait_signal("never"))
    program = wf.compile(probe)
    blocks = summary_blocks(program, collects=reads_ctx(program))
    assume(any(b.path == "seq[0]." + node_label(block) for b in blocks.values()))
    full = explore(probe, reduce=False, signals=set(), bounds=Bounds(max_states=3_000))
    assume(full.complete)
    ends = {full.keys[n] for n in full.deadlocks}
    assert len(ends) == 1
    red = explore(probe, signals=set())
    assert red.summarised >= 1
    assert {red.keys[n] for n in red.deadlocks} == ends
