"""Behaviour of the derived patterns whose other tests only check their term
form (docs/PATTERNS.md names these as the tests covering them)."""

from __future__ import annotations

from typing import Any

import trio
import trio.testing
from reducer_helpers import completed, effect, noop, put, run

import wftrio as wf
from wftrio import patterns as P
from wftrio.engine import CancelEffect, Status


def test_cancel_mi_activity_withdraws_every_instance() -> None:
    body = wf.seq(noop("start"), wf.wait_signal("done"), noop("finish"))
    term = wf.seq(
        P.cancel_mi_activity("batch", body, count=3, compensate=put("undo", undone=True)),
        noop("after"),
    )
    st = run(term)
    assert st.status is Status.BLOCKED
    assert completed(st) == ["start", "start", "start"]
    st.feed_signal("done")  # one instance finishes ...
    st.run()
    assert completed(st)[-1] == "finish"
    assert st.cancel_region("batch") == 1  # ... the two still waiting are withdrawn
    assert st.run() is Status.DONE
    assert completed(st) == ["start", "start", "start", "finish", "undo", "after"]
    assert st.ctx == {"undone": True}
    assert st.pending_signals() == {}
    assert not st.live_regions()


def test_cancel_mi_activity_cancels_effects_of_every_instance() -> None:
    term = P.cancel_mi_activity("batch", effect("charge"), items=["a", "b"])
    st = run(term)
    assert len(st.effects) == 2
    st.take_outbox()
    st.cancel_region("batch")
    assert st.run() is Status.DONE
    assert sum(isinstance(c, CancelEffect) for c in st.take_outbox()) == 2


async def test_cancel_mi_activity_on_the_runtime(autojump_clock: trio.testing.MockClock) -> None:
    cleaned: list[Any] = []

    async def slow(ctx: Any) -> None:
        try:
            await trio.sleep(10)
        finally:
            cleaned.append(ctx["item"])

    term = P.cancel_mi_activity("batch", wf.task("slow", slow), items=["x", "y", "z"])
    async with wf.open_substrate() as sub:
        case = await sub.new_case(term)
        await trio.sleep(1)
        await sub.cancel_region(case, "batch")
        result = await sub.wait(case)
    assert result.state == "done"
    assert sorted(cleaned) == ["x", "y", "z"]
    assert [e.kind for e in result.trace].count("effect_cancelled") == 3
