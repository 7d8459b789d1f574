"""Regions that control has left while late (absorbed) tokens still run in them."""

from __future__ import annotations

import wftrio as wf
from tests.reducer_helpers import completed, noop, run, start
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


def test_a_late_join_resumes_inside_an_exited_region() -> None:
    # t2 wins the discriminator and control leaves r0 while the par is still
    # running in it; the par's own join must resume inside r0, not a closed r0
    term = wf.region("r0", wf.join(wf.first(1), wf.par(noop("t0"), noop("t1")), noop("t2")))
    st = start(term, scheduler=wf.Seeded(0))
    while st.status not in ("done", "failed"):
        st.run(1)
        check_invariants(st)
    assert st.status == "done"
    assert sorted(completed(st)) == ["t0", "t1", "t2"]


def test_a_late_mi_join_resumes_inside_an_exited_region() -> None:
    body = wf.mi(noop("m"), count=2)
    term = wf.region("r0", wf.join(wf.first(1), body, noop("fast")))
    for seed in range(20):
        st = start(term, scheduler=wf.Seeded(seed))
        while st.status not in ("done", "failed"):
            st.run(1)
            check_invariants(st)
        assert st.status == "done"
