"""The explorer's fast state key is the reference key (validation/fastkey.py).

:func:`~wftrio.validation.fastkey.fast_key` computes
:func:`~wftrio.validation.statekey.state_key`'s key another way (shapes
computed once, the mi instances ordered by a walk of the layer tree, the
numbering inlined).  If the two ever differed, the explorer would merge or
split states the reference does not, and state counts, witnesses and
findings would drift.  These tests key every state the explorer keys (the
expanded states changed in place by a move, before the undo, included) with
both and compare: on random terms, with and without reduction, with region
cancellation as an input, and on fixed terms that reach each part of the
key (several mi layers, signal waiters, region activations, queued
signals).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

import wftrio as wf
from wftrio.engine import FINAL, ExecState
from wftrio.patterns import critical_section
from wftrio.terms import first, join, mi, par, region, seq, task, wait_signal
from wftrio.testing.strategies import terms
from wftrio.validation import explore as explore_module
from wftrio.validation.explore import Bounds, explore
from wftrio.validation.fastkey import fast_key
from wftrio.validation.space import Move, Space
from wftrio.validation.statekey import state_key

BOUNDS = Bounds(max_states=300, max_depth=200, max_tokens=16, max_instances=3)
random_terms = terms(effects=True, max_depth=3, max_width=3, max_leaves=8, valid=False)


class Seen:
    """What the checked states had: how many, and which parts of the key they reached."""

    def __init__(self) -> None:
        self.states = 0
        self.layered = 0  # more than one ctx layer: the mi instance order
        self.waiting = 0  # signal waiters: ranks and the waiter table
        self.regions = 0  # live region activations
        self.queued = 0  # queued signals

    def note(self, s: ExecState) -> None:
        self.states += 1
        if s.status in FINAL:
            return
        if len({id(t.scope) for t in s.tokens.values()}) > 1:
            self.layered += 1
        self.waiting += bool(s.waiters)
        self.regions += any(s.regions.values())
        self.queued += any(s.signals.values())


@contextmanager
def checked() -> Iterator[Seen]:
    """Make the explorer key every state with both keys and check they are equal."""
    seen = Seen()

    def both(s: ExecState) -> Any:
        got = fast_key(s)
        assert got == state_key(s), "fast_key differs from state_key"
        seen.note(s)
        return got

    with mock.patch.object(explore_module, "fast_key", both):
        yield seen


@settings(max_examples=80, deadline=None)
@given(term=random_terms, reduce=st.booleans(), cancel=st.booleans())
def test_fast_key_is_the_reference_key_on_explored_states(
    term: wf.Term, reduce: bool, cancel: bool
) -> None:
    with checked() as seen:
        explore(term, bounds=BOUNDS, reduce=reduce, cancel_regions=cancel)
    assert seen.states > 0


@settings(max_examples=80, deadline=None)
@given(term=random_terms, seed=st.integers(0, 2**16))
def test_fast_key_is_the_reference_key_along_random_walks(term: wf.Term, seed: int) -> None:
    # states the explorer never stores: a random token or input each time
    # (the explorer keeps one state per orbit, so it never sees the others)
    space = Space(wf.compile(term), 3, None, cancel_regions=True)
    rng = random.Random(seed)
    s = space.initial()
    for _ in range(40):
        assert fast_key(s) == state_key(s)
        if s.status in FINAL or len(s.tokens) > 16:
            break
        moves = [Move("run", t.id) for t in s.tokens.values() if t.wait is None]
        moves += space.input_moves(s, cancel_regions=True)
        if not moves:
            break
        s = space.apply(s, rng.choice(moves))


def test_fast_key_orders_instances_by_their_place_among_waiters() -> None:
    # the younger instance registers first: the waiter queue, not the token
    # ids, orders the two instances
    space = Space(wf.compile(mi(seq(_pure("c"), wait_signal("go")), count=2)), 3, None)
    s = space.initial()
    while True:
        assert fast_key(s) == state_key(s)
        enabled = [t for t in s.tokens.values() if t.wait is None]
        if not enabled:
            break
        s = space.apply(s, Move("run", max(t.id for t in enabled)))
    waiting = [t.id for t, _ in s.signal_waiters("go")]
    assert len(waiting) == 2
    assert waiting[0] > waiting[1]


def _pure(name: str) -> wf.Term:
    def fn(ctx: Mapping[str, Any]) -> None:
        return None

    return task(name, fn)


def _pair(i: int) -> wf.Term:
    return join(first(1), _pure(f"a{i}"), _pure(f"b{i}"))


def test_fast_key_on_nested_mi_instances() -> None:
    # every state of the full exploration: instances at two levels, permuted
    with checked() as seen:
        ex = explore(mi(mi(_pair(0), count=2), count=2), reduce=False)
    assert ex.states == 5309  # the figure docs/VALIDATION.md gives (symmetry kept)
    assert seen.layered > 1000


def test_fast_key_on_waiters_regions_and_queued_signals() -> None:
    term = par(
        region("r", seq(_pure("x"), wait_signal("go"), _pure("y"))),
        seq(wait_signal("go"), _pure("z")),
        mi(seq(wait_signal("go"), _pure("w")), count=2),
        critical_section("A", _pure("c1"), section="s1"),
        critical_section("A", _pure("c2"), section="s2"),
    )
    with checked() as seen:
        explore(term, bounds=Bounds(max_states=3000), reduce=False, cancel_regions=True)
    assert seen.waiting > 100
    assert seen.regions > 100
    assert seen.layered > 100


def test_fast_key_on_queued_signals() -> None:
    # the explorer only sends a signal someone waits for; sent before, it is
    # queued (with its payload), which is part of the key too
    space = Space(wf.compile(par(wait_signal("s"), seq(_pure("x"), wait_signal("t")))), 3, None)
    s = space.initial()
    s.feed_signal("s", {"n": 1})
    s.feed_signal("t", [2])
    s.feed_signal("t", None)
    seen = Seen()
    while s.status not in FINAL:
        seen.note(s)
        assert fast_key(s) == state_key(s)
        moves = [Move("run", t.id) for t in s.tokens.values() if t.wait is None]
        if not moves:
            break
        s = space.apply(s, moves[0])
    assert seen.queued > 0
    assert fast_key(s) == state_key(s)
