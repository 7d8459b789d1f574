"""An async task's request hash is computed when its receipt is read, not when it is requested.

The hash is the documented one (``stable_hash({"task", "kind", "ctx"})`` of
the ctx the effect was given): equal for equal data, different for
different data, the same whether the receipt is built at once (an
``on_event`` callback) or when the trace is read.
"""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping
from typing import Any

import trio
import trio.lowlevel

import wftrio as wf
from wftrio.engine import ExecState, StartEffect, Status, snapshot
from wftrio.engine._receipt_records import PendingReceipt
from wftrio.receipts import receipts, stable_hash
from wftrio.runtime import open_substrate

Ctx = Mapping[str, Any]


def _fx(key: str) -> Any:
    async def fx(ctx: Ctx) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        return {key: 1}

    return fx


def _drive(st: ExecState, fail: str | None = None) -> None:
    """Run ``st`` to the end, feeding every effect (``fail``: the task whose effect fails)."""
    while st.run() is Status.BLOCKED:
        cmds = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
        assert cmds
        for c in cmds:
            if c.name == fail:
                st.feed_effect(c.eid, None, error=OSError("down"))
            else:
                st.feed_effect(c.eid, {f"r_{c.name}": 1})


def _pending(st: ExecState) -> int:
    return sum(type(e) is PendingReceipt for e in st._events)


def test_the_deferred_hash_is_the_documented_one_and_equal_to_the_eager_one() -> None:
    term = wf.seq(
        wf.par(wf.task("a", _fx("x")), wf.task("b", _fx("y"), kind="http")),
        wf.task("c", _fx("z")),
    )
    prog = wf.compile(term)
    lazy = ExecState(prog, {"n": 1, "s": "t"}, trace_level="min")
    eager = ExecState(prog, {"n": 1, "s": "t"}, trace_level="min", on_event=lambda ev: None)
    lazy.run()
    assert _pending(lazy) == 0  # nothing to defer yet: requests only
    _drive(lazy)
    _drive(eager)
    assert _pending(lazy) == 3
    assert lazy.events == eager.events
    assert _pending(lazy) == 0
    results = {r.task: r.result for r in receipts(lazy.events, steps=False)}
    assert results == {t: stable_hash({f"r_{t}": 1}) for t in ("a", "b", "c")}
    rs = {r.task: r.request for r in receipts(lazy.events, steps=False)}
    base = {"n": 1, "s": "t"}
    assert rs == {
        "a": stable_hash({"task": "a", "kind": "a", "ctx": base}),
        "b": stable_hash({"task": "b", "kind": "http", "ctx": base}),
        "c": stable_hash({"task": "c", "kind": "c", "ctx": {**base, "r_a": 1, "r_b": 1}}),
    }


def test_equal_ctx_gives_equal_hashes_and_a_different_ctx_a_different_one() -> None:
    prog = wf.compile(wf.task("a", _fx("x")))

    def request(ctx: dict[str, Any], case_id: str) -> str:
        st = ExecState(prog, ctx, case_id=case_id, trace_level="min")
        _drive(st)
        (r,) = receipts(st.events, steps=False)
        return r.request

    one = request({"a": 1, "b": [1, 2]}, "c1")
    assert request({"b": [1, 2], "a": 1}, "c2") == one  # same data, other order and case
    assert request({"a": 1, "b": [1, 3]}, "c1") != one
    assert request({"a": 1}, "c1") != one


def test_failed_and_cancelled_receipts_are_deferred_too_and_read_back_alike() -> None:
    term = wf.par(
        wf.task("ok", _fx("x")),
        wf.task("bad", _fx("y"), on_error=wf.task("fix", lambda c: {"fixed": True})),
        wf.join(wf.first(1, cancel_rest=True), wf.wait_signal("go"), wf.task("slow", _fx("z"))),
    )
    prog = wf.compile(term)
    out = []
    for on_event in (None, lambda ev: None):
        st = ExecState(prog, {"k": 1}, trace_level="min", on_event=on_event)
        st.run()
        st.feed_signal("go")  # the discriminator fires: "slow" is withdrawn
        _drive(st, fail="bad")
        assert st.status is Status.DONE
        out.append(st.events)
    assert out[0] == out[1]
    outcomes = sorted(r.outcome for r in receipts(out[0], steps=False))
    assert outcomes == ["cancelled", "error", "ok"]


def test_pending_receipts_keep_at_most_one_ctx_copy() -> None:
    # each effect writes, so each request gets a new snapshot of the ctx
    term = wf.seq(*[wf.task(f"e{i}", _fx(f"k{i}")) for i in range(5)])
    st = ExecState(wf.compile(term), {"big": list(range(100))}, trace_level="min")
    _drive(st)
    recs = [e for e in st._events if type(e) is PendingReceipt]
    assert len(recs) == 5
    digests = [r.request.digest for r in recs]
    assert len({id(d) for d in digests}) == 5
    assert all(d is not None and d.data is None for d in digests[:-1])  # hashed: copy dropped
    assert digests[-1] is not None
    assert digests[-1].data is not None  # the last one waits
    big = list(range(100))
    want = [
        stable_hash(
            {
                "task": f"e{i}",
                "kind": f"e{i}",
                "ctx": {"big": big, **{f"r_e{j}": 1 for j in range(i)}},
            }
        )
        for i in range(5)
    ]
    assert [r.request for r in receipts(st.events, steps=False)] == want


def test_a_snapshot_of_a_pending_effect_holds_its_request_hash() -> None:
    st = ExecState(wf.compile(wf.task("a", _fx("x"))), {"n": 1}, trace_level="min")
    st.run()
    snap = snapshot(st)
    (pe,) = snap.effects
    assert pe.request == stable_hash({"task": "a", "kind": "a", "ctx": {"n": 1}})


async def test_the_runtime_builds_deferred_receipts_when_the_trace_is_read() -> None:
    term = wf.par(wf.task("a", _fx("x")), wf.task("b", _fx("y")))
    want = {t: stable_hash({"task": t, "kind": t, "ctx": {"n": 1}}) for t in ("a", "b")}
    async with open_substrate(trace_level="min") as sub:
        cid = await sub.new_case(term, {"n": 1})
        res = await sub.wait(cid)
        assert any(type(e) is PendingReceipt for e in res._trace)
        again = copy.deepcopy(res)  # copies (and pickles) as built events
        assert {r.task: r.request for r in res.receipts(steps=False)} == want
        assert all(type(e) is wf.TraceEvent for e in res.trace)
        assert res.trace is res.trace  # built once, in place
        assert "trace=[TraceEvent(seq=0" in repr(res)
        assert again.trace == res.trace
        assert pickle.loads(pickle.dumps(res)).trace == res.trace
        assert {r.task: r.request for r in sub.receipts(cid, steps=False)} == want
        assert res == again
