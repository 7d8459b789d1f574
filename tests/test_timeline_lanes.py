"""Timeline lanes from the tokens splits and ``mi`` record (``wftrio.web._timeline_model``):
each branch and each instance in its own lane, nested under the lane it was split from,
also for an ``mi`` spawning more than ``SPAWN_CHUNK`` instances across steps."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.engine._mi_ops import SPAWN_CHUNK
from wftrio.trace import TraceEvent
from wftrio.web._timeline_model import Lane, Timeline, build


def index_of(key: str) -> Any:
    def fn(ctx: Any) -> dict[str, int]:
        return {key: ctx["index"]}

    fn.__name__ = key
    return fn


def run(term: wf.Term, **kw: Any) -> list[TraceEvent]:
    clock = trio.testing.MockClock(autojump_threshold=0)
    return list(wf.run(term, trace_level="full", clock=clock, **kw).trace)


def parent(lanes: Sequence[Lane], lane: Lane) -> Lane | None:
    """The lane ``lane`` is nested under (lanes are in tree order)."""
    for other in reversed(lanes[: lane.index]):
        if other.depth == lane.depth - 1:
            return other
    return None


def lanes_of_instances(tl: Timeline, keys: Sequence[str]) -> dict[int, set[str]]:
    """For each instance index: the labels of the lanes its tasks' lanes are nested under."""
    out: dict[int, set[str]] = {}
    for bar in tl.bars:
        if bar.name in keys:
            lane = tl.lanes[bar.lane]
            assert lane.label.startswith("par branch "), lane.label
            up = parent(tl.lanes, lane)
            assert up is not None
            index = int(bar.detail.split("=")[1])
            out.setdefault(index, set()).add(up.label.split(" · ")[0])
    return out


def test_an_mi_of_more_than_a_chunk_in_nested_splits_keeps_each_instance_in_its_lane() -> None:
    n = SPAWN_CHUNK + 6
    body = wf.par(wf.task("x", index_of("x")), wf.task("y", index_of("y")))
    term = wf.seq(
        wf.par(wf.mi(body, count=n), wf.task("side", lambda c: {"side": 1})),
        wf.task("after", lambda c: {"after": 1}),
    )
    events = run(term)
    assert any(e.kind == "mi_chunk" for e in events)  # spawned in two steps
    tl = build(events)
    found = lanes_of_instances(tl, ("x", "y"))
    assert found == {i: {f"mi #{i}"} for i in range(n)}
    # each instance's lane hangs under the par branch that took the mi
    mi_lanes = [ln for ln in tl.lanes if ln.label.startswith("mi #")]
    assert len(mi_lanes) == n
    assert {parent(tl.lanes, ln).label.split(" · ")[0] for ln in mi_lanes} == {  # type: ignore[union-attr]
        "par branch 0"
    }
    (after,) = [b for b in tl.bars if b.name == "after"]
    assert tl.lanes[after.lane].label == "main"


def test_instances_added_to_an_open_mi_get_their_own_lanes() -> None:
    body = wf.par(wf.task("x", index_of("x")), wf.task("y", index_of("y")))
    term = wf.mi(body, items=[0], more_on="more", close_on="close")
    events = run(term, signals=[("more", 1), ("more", 2), ("close", None)])
    tl = build(events)
    assert lanes_of_instances(tl, ("x", "y")) == {i: {f"mi #{i}"} for i in range(3)}


def test_a_trace_without_recorded_tokens_still_gets_lanes() -> None:
    """Traces written before splits recorded their tokens: lanes are inferred from ids."""
    term = wf.par(wf.task("a", lambda c: None), wf.mi(wf.task("m", lambda c: None), count=3))
    old = [
        e._replace(data={k: v for k, v in e.data.items() if k not in ("tokens", "next")})
        for e in run(term)
    ]
    tl = build(old)
    labels = sorted(tl.lanes[b.lane].label.split(" · ")[0] for b in tl.bars if b.name == "m")
    assert labels == ["mi #0", "mi #1", "mi #2"]
