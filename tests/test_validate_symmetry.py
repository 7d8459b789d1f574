"""Symmetry: one explored state per orbit of permuted ``mi`` instances.

The canonical state key sorts the instances of every ``mi`` activation by
their whole sub-state (the shapes of their tokens and, recursively, of their
nested instances), so two states that differ by a permutation of instances
get one key.  The orbits are counted here independently: the least key over
*every* order of the tokens is a canonical form of the state up to renaming.
"""

from __future__ import annotations

import itertools

import pytest

import wftrio as wf
from wftrio.engine import FINAL
from wftrio.terms import Term
from wftrio.testing.strategies import noop
from wftrio.validation import analyze
from wftrio.validation.explore import explore
from wftrio.validation.statekey import encode, state_key


def t(name: str) -> wf.Term:
    return wf.task(name, noop())


def _orbits(term: Term) -> tuple[int, int]:
    """(states explored without reduction, orbits among them, counted by brute force)."""
    ex = explore(term, reduce=False)
    space = ex.space
    canon = set()
    for node in range(ex.states):
        st = space.initial()
        for move in ex.moves(node):
            st = space.apply(st, move)
        if st.status in FINAL:
            canon.add(state_key(st))
        else:
            canon.add(min(encode(st, list(p)) for p in itertools.permutations(st.tokens.values())))
    return ex.states, len(canon)


@pytest.mark.parametrize(
    ("term", "states"),
    [
        # (states before the orbit-canonical keys: 62, 117, 40, 73)
        (wf.mi(wf.par(t("a"), t("b")), count=2), 57),
        (wf.mi(wf.join(wf.first(1), t("a"), t("b")), count=2), 102),
        (wf.mi(wf.mi(t("a"), count=2), count=2), 38),
        (wf.mi(wf.seq(t("a"), wf.par(t("b"), t("c"))), count=2), 68),
    ],
    ids=["mi(par)", "mi(first(1))", "mi(mi)", "mi(seq(par))"],
)
def test_one_state_per_orbit_of_permuted_instances(term: Term, states: int) -> None:
    # the unreduced exploration stores exactly one state per orbit
    assert _orbits(term) == (states, states)


def test_symmetric_states_share_a_key_whatever_the_creation_order() -> None:
    # two instances, one stepped ahead of the other: which one is ahead is
    # one orbit, so one key (before: the tie between equal shapes was broken
    # by token id, and the two orders got two keys)
    term = wf.mi(wf.par(t("a"), t("b")), count=2)
    ex = explore(term, reduce=False)
    space = ex.space
    st = space.initial()
    while len(st.tokens) < 4:  # spawn, fork both instances
        tok = min((x for x in st.tokens.values() if x.wait is None), key=lambda x: x.id)
        st = space.run_token(st, tok.id, [])
    a_tokens = sorted(
        (x for x in st.tokens.values() if space.program.instrs[x.pc].path.endswith("task('a')")),
        key=lambda x: x.id,
    )
    first = space.run_token(st, a_tokens[0].id, [])
    second = space.run_token(st, a_tokens[1].id, [])
    assert state_key(first) == state_key(second)


def test_symmetry_keeps_the_findings() -> None:
    # instances racing to a partial join inside nested mi: still no finding,
    # and a deadlock in one instance is still found with a replayable witness
    ok = wf.mi(wf.mi(wf.join(wf.first(1), t("a"), t("b")), count=2), count=3)
    assert analyze(ok).issues == ()
    stuck = wf.mi(wf.par(t("a"), wf.wait_signal("never")), count=3)
    codes = [i.code for i in analyze(stuck, signals={"go"}).issues]
    assert "WF201" in codes
