"""Deep states run, snapshot and restore without RecursionError (issue 10, item 21).

The frame, region and ctx-layer chains of a token nested deeper than
Python's recursion limit are walked with explicit loops everywhere: run,
snapshot, JSON, restore and the consistency checks.  1,200 levels is past
the default recursion limit (deeper only costs time: node paths are O(depth)
strings, so a Program's fingerprint is O(depth**2)); a 10,000-deep ``seq``
runs here too (a ``seq`` adds no frame).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

import wftrio as wf
from wftrio.engine import ExecState, Status
from wftrio.serialize import dumps_snapshot, loads_snapshot

DEEP = 1_200
assert sys.getrecursionlimit() < DEEP

step = wf.task("s", lambda c: {"n": c.get("n", 0) + 1})

NESTINGS: dict[str, Callable[[wf.Term, int], wf.Term]] = {
    "par": lambda t, i: wf.par(t, step),
    "region": lambda t, i: wf.region(f"r{i}", t),
    "loop": lambda t, i: wf.loop(t, times=1),
    "mi": lambda t, i: wf.mi(t, count=1),
    "first": lambda t, i: wf.join(wf.first(1), t, wf.wait_signal("never")),
}


def _deep(kind: str, depth: int) -> wf.Term:
    t: wf.Term = wf.wait_signal("go")
    nest = NESTINGS[kind]
    for i in range(depth):
        t = nest(t, i)
    return t


@pytest.mark.parametrize("kind", list(NESTINGS))
def test_a_deep_state_snapshots_restores_and_finishes(kind: str) -> None:
    prog = wf.compile(_deep(kind, DEEP))
    st = ExecState(prog)
    assert st.run() is Status.BLOCKED
    again = ExecState.restore(prog, loads_snapshot(dumps_snapshot(st.snapshot())))
    assert again.snapshot() == st.snapshot()
    for s in (st, again):
        s.feed_signal("go")
        s.run()
    assert again.ctx == st.ctx
    assert again.status is st.status
    if kind != "first":
        assert st.status is Status.DONE


def test_a_10000_deep_seq_runs_snapshots_and_restores() -> None:
    t: wf.Term = wf.wait_signal("go")
    for _ in range(10_000):
        t = wf.seq(t, step)
    prog = wf.compile(t)
    st = ExecState(prog)
    st.run()
    again = ExecState.restore(prog, loads_snapshot(dumps_snapshot(st.snapshot())))
    again.feed_signal("go")
    assert again.run() is Status.DONE
    assert again.ctx == {"n": 10_000}
