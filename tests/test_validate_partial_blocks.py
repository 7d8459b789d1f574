"""Pure partial joins and ``threads`` as blocks (issue 11, the last sweep hits).

* A ``first(n)`` join (plain, ``cancel_rest`` or ``blocking``) whose
  branches are pure runs as one block: which branches win decides nothing
  anybody reads, and a blocking join's previous activation always resets
  (its pure late branches always arrive), so holding a new activation only
  delays it.
* ``threads(n, body)`` is a ``par`` of ``n`` copies of ``body``: sound by
  construction when the body is, and a block inside explored terms.
* An ``mi`` with the MI patterns' options that need no outside input
  (``until``, a condition ``join``, ``cancel_rest``) around a pure body is a
  block: whichever instance the abstracted conditions hold after (or none:
  a condition join then fires when every instance is done), the join fires
  once and the rest end or are withdrawn.

Each rule has a term that hit a bound before (20,000 states and a ``WF200``)
and a term where it must not apply, whose finding is still reported.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import wftrio as wf
from wftrio import patterns as P
from wftrio.engine.objects import Frame, JoinInst
from wftrio.terms import node_label
from wftrio.testing.strategies import (
    always,
    bump,
    count_mod,
    finished_at_least,
    has,
    items_upto,
    noop,
    note,
    reached,
    set_to,
)
from wftrio.validation import analyze, replay_witness
from wftrio.validation.compose import summary_blocks
from wftrio.validation.explore import Bounds, explore


def nop(ctx: Mapping[str, Any]) -> None:
    return None


def yes(ctx: Mapping[str, Any]) -> bool:
    return True


def t(name: str) -> wf.Term:
    return wf.task(name, nop)


def _chain(frame: Frame | None) -> list[Frame]:
    out: list[Frame] = []
    while frame is not None:
        out.append(frame)
        frame = frame.parent
    return out


def block_paths(term: wf.Term) -> set[str]:
    return {b.path for b in summary_blocks(wf.compile(term)).values()}


def test_threads_around_instances_racing_to_a_blocking_join_validate() -> None:
    # the property test's sweep (seed 2): 3 threads x 3 instances x 4 branches
    # is 36 live tokens, past max_tokens=32; before: 20,000 states, WF200 (16 s)
    body = wf.seq(
        wf.threads(1, wf.task("t0", note("t0"))),
        wf.xor(
            wf.branch(count_mod("a", 2, 0), wf.task("t1", note("t1"))),
            wf.branch(always(), wf.task("t2", set_to("b", 2))),
            wf.branch(has("c"), wf.task("t3", noop())),
        ),
        wf.join(
            wf.first(4, blocking=True),
            wf.task("t4", set_to("b", 2)),
            wf.task("t5", bump("a")),
            wf.task("t6", note("t6")),
            wf.task("t7", bump("c")),
        ),
        wf.task("t8", note("t8")),
    )
    term = wf.threads(3, wf.mi(body, items=items_upto("b", 3)))
    rep = analyze(term)
    assert rep.complete
    assert rep.issues == ()
    assert rep.states == 2
    assert "threads[0].mi" in block_paths(term)


def test_a_loop_around_a_discriminator_with_a_blocking_branch_validates() -> None:
    # a loop around first(1), one branch of which is a blocking first(3):
    # before, late branches and held activations piled up round after round
    # (20,000 states, WF200, 16 s)
    inner = wf.join(wf.first(3, blocking=True), t("a"), t("b"), t("c"))
    term = wf.loop(wf.join(wf.first(1), inner, wf.seq(t("d"), t("e"))), while_=yes)
    rep = analyze(term)
    assert rep.complete
    assert rep.issues == ()
    assert rep.states == 2
    assert block_paths(term) == {"loop[0].join"}


def test_every_path_through_a_pure_partial_join_ends_in_one_state() -> None:
    # what the block relies on, against the unreduced exploration: held
    # activations (threads, loop rounds), cancel_rest, late branches
    blocks = [
        wf.threads(3, wf.join(wf.first(2, blocking=True), t("a"), t("b"), t("c"))),
        wf.loop(wf.join(wf.first(1, blocking=True), t("a"), wf.seq(t("b"), t("c"))), times=2),
        wf.threads(
            2, wf.loop(wf.join(wf.first(2, cancel_rest=True), t("a"), t("b"), t("c")), times=2)
        ),
        wf.threads(2, wf.mi(wf.join(wf.first(1, blocking=True), t("a"), t("b")), count=2)),
        wf.mi(wf.join(wf.first(1), t("a"), wf.par(t("b"), t("c"))), count=2),
    ]
    for block in blocks:
        probe = wf.seq(block, wf.wait_signal("never"))
        assert "seq[0]." + node_label(block) in block_paths(probe)
        full = explore(probe, reduce=False, signals=set(), bounds=Bounds(max_tokens=64))
        assert full.complete
        ends = {full.keys[n] for n in full.deadlocks}
        assert len(ends) == 1, block
        red = explore(probe, signals=set())
        assert red.summarised >= 1
        assert red.states <= 3
        assert {red.keys[n] for n in red.deadlocks} == ends


def test_tasks_of_withdrawn_branches_are_not_dead() -> None:
    # the summary runs one completing path, on which cancel_rest withdraws the
    # later branches; each of them wins on some other path, so none is dead
    term = wf.seq(
        wf.join(wf.first(1, cancel_rest=True), t("a"), wf.seq(t("b"), t("c"))),
        wf.wait_signal("go"),
    )
    assert block_paths(term) == {"seq[0].join"}
    assert wf.validate(term) == []
    rep = analyze(term, signals={"other"})
    (dead,) = [i for i in rep.issues if i.code == "WF201"]
    st = replay_witness(term, dead.witness)
    assert st.blocked_on()["signals"] == ["go"]


def test_threads_of_a_pure_body_are_sound_by_construction() -> None:
    term = wf.threads(3, wf.seq(t("a"), wf.par(t("b"), t("c")), wf.loop(t("d"), times=2)))
    rep = analyze(term)
    assert rep.by_construction
    assert rep.issues == ()
    # inside an explored term the threads are one block
    probe = wf.seq(term, wf.wait_signal("go"))
    assert block_paths(probe) == {"seq[0].threads"}


def test_a_blocking_join_whose_previous_activation_never_resets_is_still_a_deadlock() -> None:
    # not pure (a branch waits): the join is explored, and the second thread's
    # activation, held by the first one's, never fires
    term = wf.seq(
        wf.threads(2, wf.join(wf.first(1, blocking=True), t("a"), wf.wait_signal("s"))), t("z")
    )
    assert block_paths(term) == set()
    rep = analyze(term, signals=set())
    (dead,) = [i for i in rep.issues if i.code == "WF201"]
    assert dead.path == "seq[0].threads[0].join[1].wait_signal('s')"
    st = replay_witness(term, dead.witness)
    assert sum(tok.wait is not None for tok in st.tokens.values()) == 2
    frames = {f for tok in st.tokens.values() for f in _chain(tok.frame)}
    # the second activation holds the arrival of its task('a') and never fires
    assert any(isinstance(f, JoinInst) and f.held == 1 and not f.fired for f in frames)


def test_a_discriminator_around_crossed_critical_sections_is_explored() -> None:
    # the lock bookkeeping reads shared ctx keys: the join is not a block and
    # the livelock is still found
    crossed = wf.join(
        wf.first(2),
        P.critical_section("A", P.critical_section("B", t("x"), section="l.B"), section="l.A"),
        P.critical_section("B", P.critical_section("A", t("y"), section="r.A"), section="r.B"),
    )
    assert "join" not in block_paths(wf.seq(crossed, t("after")))
    (livelock,) = wf.validate(crossed)
    assert livelock.code == "WF202"


def test_a_partial_join_with_a_terminating_branch_is_not_a_block() -> None:
    # terminate() withdraws the other branch: explored; first(2) can never
    # fire, and the task after it is dead
    term = wf.seq(wf.join(wf.first(2), wf.seq(t("a"), wf.terminate()), t("b")), t("d"))
    assert "seq[0].join" not in block_paths(term)
    rep = analyze(term)
    assert rep.complete
    assert [(i.code, i.path) for i in rep.issues] == [
        ("WF102", "seq[0].join"),
        ("WF205", "seq[1].task('d')"),
    ]


def test_a_loop_around_an_mi_with_a_condition_join_validates() -> None:
    # the sweep's default strategy (seed 2): late instances of every round
    # piled up; before: WF200 (max_tokens) after 14,477 states, 51 s
    inner = wf.mi(wf.task("t1", noop()), count=3, join=finished_at_least(1), item_key="it")
    term = wf.loop(wf.seq(wf.task("t0", bump("loop0")), inner), until=reached("loop0", 1))
    rep = analyze(term)
    assert rep.complete
    assert rep.issues == ()
    assert rep.states == 3
    assert block_paths(term) == {"loop[0].seq"}


def test_nested_mi_completed_by_until_validate() -> None:
    # three nested mi, each completed early by until; before: 20,000 states, WF200, 27 s
    body: wf.Term = wf.task("t0", noop())
    for level, k in enumerate((1, 2, 1)):
        body = wf.mi(
            body, items=items_upto("c", 2), collect=f"col{level}", until=finished_at_least(k)
        )
    rep = analyze(body)
    assert rep.complete
    assert rep.issues == ()
    assert rep.states == 8


def test_every_path_through_a_pure_mi_pattern_ends_in_one_state() -> None:
    fal = finished_at_least
    blocks = [
        wf.mi(wf.par(t("a"), t("b")), count=3, until=fal(1)),
        wf.mi(t("a"), count=lambda ctx: 2, until=fal(2), join="none"),
        wf.mi(t("a"), count=3, join=fal(2), cancel_rest=True),
        wf.loop(wf.mi(t("a"), count=2, join=fal(1)), times=2),
        wf.threads(2, wf.mi(wf.seq(t("a"), t("b")), count=2, join=1, cancel_rest=True)),
        wf.mi(wf.mi(t("a"), count=2, until=fal(1)), count=2, join=fal(1)),
    ]
    for block in blocks:
        probe = wf.seq(block, wf.wait_signal("never"))
        assert "seq[0]." + node_label(block) in block_paths(probe)
        full = explore(probe, reduce=False, signals=set())
        assert full.complete
        ends = {full.keys[n] for n in full.deadlocks}
        assert len(ends) == 1, block
        red = explore(probe, signals=set())
        assert red.summarised >= 1
        assert red.states <= 3
        assert {red.keys[n] for n in red.deadlocks} == ends


def test_an_mi_pattern_that_waits_is_explored() -> None:
    # a body that waits is not pure: the mi is explored and its deadlock found;
    # an mi completed from outside (complete_on) is never a block
    waits = wf.mi(wf.seq(t("a"), wf.wait_signal("s")), count=2, join=finished_at_least(1))
    term = wf.seq(waits, t("z"))
    assert block_paths(term) == set()
    rep = analyze(term, signals=set())
    assert "WF201" in {i.code for i in rep.issues}
    watched = wf.seq(wf.mi(t("a"), count=2, complete_on="stop"), wf.wait_signal("go"))
    assert "seq[0].mi" not in block_paths(watched)
