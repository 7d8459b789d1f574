"""Deterministic order in which woken tokens run."""

from __future__ import annotations

import wftrio as wf
from tests.reducer_helpers import completed, noop, run


def test_tokens_woken_by_inputs_run_in_arrival_order() -> None:
    term = wf.par(
        wf.seq(wf.wait_signal("a"), noop("after_a")),
        wf.seq(wf.wait_signal("b"), noop("after_b")),
        wf.seq(wf.wait_signal("c"), noop("after_c")),
    )
    st = run(term)
    # fed in the order c, a, b before the reducer runs again
    for name in ("c", "a", "b"):
        st.feed_signal(name)
    st.run()
    assert completed(st) == ["after_c", "after_a", "after_b"]
    assert st.status == "done"


def test_terminate_counts_its_step_before_the_case_completes() -> None:
    st = run(wf.seq(noop("a"), wf.par(wf.wait_signal("never"), wf.terminate())))
    assert st.status == "done"
    last = st.events[-1]
    assert last.kind == "case_completed"
    assert last.data["steps"] == st.steps
