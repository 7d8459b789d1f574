"""The explorer's copy-on-write (validation/checkpoint.py): sharing never leaks.

The explorer applies every move to the state it expands in place and undoes
it with a :class:`~wftrio.validation.checkpoint.Checkpoint`, copying only the
states that are new.  A move that changed something the checkpoint does not
put back would change the parent (and every later sibling) behind the
explorer's back.  These properties, over random terms of
:func:`wftrio.testing.strategies.terms`, would catch it:

* a restore leaves the whole object graph as it was: every object's fields,
  the identity of everything they point at, every container's contents in
  order (compared with a dump walked from the schema, independently of the
  checkpoint's own walk);
* exploring with sharing builds the same graph as exploring with a full copy
  per move (``share=False``);
* every stored state, derived again from scratch along its witness (fresh
  copies, no checkpoint), has the key the explorer stored for it.
"""

from __future__ import annotations

import random
from collections import OrderedDict, deque
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

import wftrio as wf
from wftrio.engine import FINAL, ExecState
from wftrio.engine.objects import EMPTY
from wftrio.engine.schema import SCHEMA, Kind
from wftrio.testing.strategies import terms
from wftrio.validation.checkpoint import Checkpoint
from wftrio.validation.clone import clone_with_checkpoint
from wftrio.validation.explore import Bounds, Exploration, Move, Space, explore
from wftrio.validation.statekey import state_key

BOUNDS = Bounds(max_states=400, max_depth=200, max_tokens=16, max_instances=3)
random_terms = terms(effects=True, max_depth=3, max_width=3, max_leaves=8, valid=False)
_CONTAINERS = (dict, OrderedDict, list, deque, set, tuple)


def dump(root: ExecState) -> list[tuple[Any, ...]]:
    """Every object reachable from ``root`` through REF fields, and every container.

    Objects are described by their fields (an object or container field by
    its identity), containers by their contents in order; walked from the
    schema, not with the checkpoint's code.
    """
    out: list[tuple[Any, ...]] = []
    seen: set[int] = set()
    todo: list[Any] = [root]

    def ref(v: Any) -> Any:
        if type(v) in SCHEMA or type(v) in _CONTAINERS:
            todo.append(v)
            return ("@", id(v))
        return v

    while todo:
        o = todo.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        t = type(o)
        if t in SCHEMA:
            fields: list[Any] = []
            for f in SCHEMA[t].fields:
                v = getattr(o, f.name, "<unset>")
                if f.kind is Kind.REF:
                    fields.append(ref(v))
                elif f.kind is Kind.DATA and type(v) in _CONTAINERS:
                    inner = v.items() if isinstance(v, dict) else v
                    fields.append(("@", id(v), tuple(map(repr, inner))))
                    if isinstance(v, dict):
                        for x in v.values():
                            if type(x) is deque:
                                fields.append(("@", id(x), tuple(map(repr, x))))
                else:
                    fields.append(("=", id(v)) if f.kind is Kind.DERIVED else v)
            out.append((t.__name__, id(o), tuple(fields)))
        elif isinstance(o, dict):
            out.append(("dict", id(o), tuple((ref(k), ref(x)) for k, x in o.items())))
        elif t in _CONTAINERS:
            out.append((t.__name__, id(o), tuple(ref(x) for x in o)))
    assert EMPTY == {}  # the shared empty table stays empty
    return out


def all_moves(space: Space, s: ExecState) -> list[Move]:
    """Every step of every enabled token (first outcome) and every input."""
    moves = [Move("run", t.id) for t in s.tokens.values() if t.wait is None]
    return moves + space.input_moves(s, cancel_regions=True)


@settings(max_examples=60, deadline=None)
@given(term=random_terms, seed=st.integers(0, 2**16))
def test_restore_puts_the_whole_state_back(term: wf.Term, seed: int) -> None:
    space = Space(wf.compile(term), 3, None, cancel_regions=True)
    rng = random.Random(seed)
    s = space.initial()
    for _ in range(12):
        if s.status in FINAL or len(s.tokens) > 16:
            break
        moves = all_moves(space, s)
        if not moves:
            break
        key = state_key(s)
        # a checkpoint taken of the state, and the one the copier makes with a copy
        copy, copy_ck = clone_with_checkpoint(s)
        for work, ck in ((s, Checkpoint(s)), (copy, copy_ck)):
            before = dump(work)
            for m in moves:
                if m.kind == "run":
                    space.step_token(work, int(m.target), [])
                else:
                    space.feed(work, m)
                ck.restore()
                assert dump(work) == before, f"restoring after {m} left the state changed"
                assert state_key(work) == key
        s = space.apply(s, rng.choice(moves))


def same_graph(a: Exploration, b: Exploration) -> None:
    assert a.keys == b.keys
    assert a.parent == b.parent
    assert a.via == b.via
    assert a.succ == b.succ
    assert a.status == b.status
    assert a.deadlocks == b.deadlocks
    assert a.hit == b.hit
    assert a.expanded == b.expanded
    assert a.covered == b.covered
    assert (a.stepped, a.loop_exited, a.loop_entered) == (b.stepped, b.loop_exited, b.loop_entered)
    assert a.terminations == b.terminations
    assert (a.edges, a.steps, a.reduced) == (b.edges, b.steps, b.reduced)
    assert a.shapes == b.shapes


@settings(max_examples=60, deadline=None)
@given(term=random_terms, reduce=st.booleans(), cancel=st.booleans())
def test_sharing_explores_the_graph_of_full_copies(
    term: wf.Term, reduce: bool, cancel: bool
) -> None:
    kw: dict[str, Any] = {
        "bounds": BOUNDS,
        "reduce": reduce,
        "cancel_regions": cancel,
        "record_shapes": True,
    }
    same_graph(explore(term, share=True, **kw), explore(term, share=False, **kw))


@settings(max_examples=60, deadline=None)
@given(term=random_terms, reduce=st.booleans())
def test_every_stored_state_derived_again_has_its_key(term: wf.Term, reduce: bool) -> None:
    ex = explore(term, bounds=BOUNDS, reduce=reduce, cancel_regions=True)
    space = ex.space
    for node in range(ex.states):
        s = space.initial()
        for m in ex.moves(node):
            s = space.apply(s, m)  # a fresh copy per move
        assert state_key(s) == ex.keys[node], f"node {node} re-derived has another key"


def test_a_move_that_writes_ctx_and_results_is_undone() -> None:
    """An mi collecting results and a signal stored in ctx: DATA containers are put back."""
    term = wf.seq(
        wf.wait_signal("go", store_as="payload"),
        wf.mi(wf.task("t", lambda ctx: {"r": 1}), count=2, collect="out"),
    )
    space = Space(wf.compile(term), 3, None)
    s = space.initial()
    seen_kinds = set()
    for _ in range(40):
        if s.status in FINAL:
            break
        moves = all_moves(space, s)
        before = dump(s)
        ck = Checkpoint(s)
        for m in moves:
            seen_kinds.add(m.kind)
            if m.kind == "run":
                space.step_token(s, int(m.target), [])
            else:
                space.feed(s, m)
            ck.restore()
            assert dump(s) == before
        s = space.apply(s, moves[0])
    assert s.status in FINAL
    assert {"run", "signal"} <= seen_kinds
