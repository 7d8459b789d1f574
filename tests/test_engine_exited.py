"""Regions that control has left while late (absorbed) tokens still run in them."""

from __future__ import annotations

import wftrio as wf
from tests.reducer_helpers import completed, noop, run
from wftrio.testing.invariants import check_invariants


def test_cancelling_an_inner_region_resumes_inside_an_exited_outer_region() -> None:
    term = wf.seq(
        wf.region(
            "outer",
            wf.join(wf.first(1), noop("fast"), wf.region("r", wf.wait_signal("b"))),
        ),
        noop("after"),
    )
    st = run(term)
    assert completed(st) == ["fast", "after"]
    assert st.status == "blocked"
    assert st.cancel_region("r") == 1
    check_invariants(st)  # the resuming token is not in a closed region
    assert all(t.region is None or t.region.alive for t in st.tokens.values())
    st.run()
    check_invariants(st)
    assert st.status == "done"
    assert st.live_regions() == []


def test_cancel_rest_join_resumes_inside_an_exited_region() -> None:
    inner = wf.join(wf.first(1, cancel_rest=True), wf.wait_signal("a"), wf.wait_signal("b"))
    term = wf.seq(wf.region("outer", wf.join(wf.first(1), noop("fast"), inner)), noop("after"))
    st = run(term)
    assert st.status == "blocked"
    st.feed_signal("a")
    st.run(1)  # the arrival at the cancelling join: it fires and withdraws "b"
    check_invariants(st)
    assert all(t.region is None or t.region.alive for t in st.tokens.values())
    st.run()
    check_invariants(st)
    assert st.status == "done"
    assert st.waiters.get("b", {}) == {}
