"""The workflow graph with a case's progress (``graph_svg``) and the timeline of
traces that are not complete (level "min", older events not kept), from real
runs."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import trio
import trio.testing

import wftrio as wf
from wftrio.graph import diagram
from wftrio.trace import TraceEvent
from wftrio.web._timeline import case_page_html, graph_svg, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"


def step(key: str) -> Any:
    def fn(ctx: Any) -> dict[str, int]:
        return {key: ctx.get(key, 0) + 1}

    return fn


async def slow(ctx: Any) -> dict[str, int]:
    await trio.sleep(1)
    return {"s": 1}


def run(term: wf.Term, **kw: Any) -> list[TraceEvent]:
    kw.setdefault("trace_level", "full")
    result = wf.run(term, clock=trio.testing.MockClock(autojump_threshold=0), **kw)
    return list(result.trace)


def nodes(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG}g") if "node" in g.get("class", "").split()]


def status_by_label(svg: str) -> dict[str, str]:
    return {str(g.get("data-label")): str(g.get("data-status")) for g in nodes(svg)}


def centre(g: ET.Element) -> tuple[float, float]:
    shape = g[1]  # after the <title>
    if shape.tag == f"{SVG}rect":
        x, y = float(shape.get("x", 0)), float(shape.get("y", 0))
        return x + float(shape.get("width", 0)) / 2, y + float(shape.get("height", 0)) / 2
    if shape.tag == f"{SVG}circle":
        return float(shape.get("cx", 0)), float(shape.get("cy", 0))
    xs = [float(p.split(",")[0]) for p in shape.get("points", "").split()]
    ys = [float(p.split(",")[1]) for p in shape.get("points", "").split()]
    return (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2


def test_a_finished_case_colours_the_path_taken_and_lays_out_in_layers() -> None:
    term = wf.seq(
        wf.task("a", step("a")),
        wf.xor(
            wf.branch(lambda ctx: False, wf.par(wf.task("x", step("x")), wf.task("y", step("y")))),
            wf.task("b", step("b")),
        ),
        wf.loop(wf.task("c", step("c")), times=2),
        wf.task("d", slow),
    )
    events = run(term)
    svg = graph_svg(term, events)
    st = status_by_label(svg)
    assert st["a"] == st["b"] == st["c"] == st["d"] == "done"
    assert st["x"] == st["y"] == st["par"] == "not-reached"
    assert st["end"] == st["loop"] == st["times=2"] == "done"
    # one node per diagram node; each edge goes down but a loop's back edge
    assert len(nodes(svg)) == len(diagram(term).nodes)
    where = {g.get("data-id"): centre(g) for g in nodes(svg)}
    for e in diagram(term).edges:
        if not e.back and not e.from_cluster:
            assert where[e.dst][1] > where[e.src][1], e
    assert 'class="edge back"' in svg


def test_running_effect_and_mi_cluster_while_the_case_waits() -> None:
    async def main() -> tuple[wf.Term, list[TraceEvent]]:
        hold = trio.Event()

        async def blocked(ctx: Any) -> None:
            await hold.wait()

        term = wf.par(
            wf.task("blocked", blocked),
            wf.mi(wf.seq(wf.task("m1", step("m")), wf.wait_signal("more")), count=2),
        )
        async with wf.open_substrate() as sub:
            cid = await sub.new_case(term, trace_level="full")
            await sub.wait_state(cid, "waiting_effect", "waiting_signal")
            await trio.testing.wait_all_tasks_blocked()
            events = sub.events(cid)
            await sub.cancel(cid)
        return term, events

    term, events = trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))
    svg = graph_svg(term, events)
    st = status_by_label(svg)
    assert st["blocked"] == "running"
    assert st["m1"] == "done"
    assert st["wait signal more"] == "waiting"
    assert st["end"] == "not-reached"
    root = ET.fromstring(svg)
    (box,) = [r for r in root.iter(f"{SVG}rect") if "cluster" in r.get("class", "").split()]
    assert "mi" in box.get("class", "").split()
    # the mi body's nodes lie inside its box
    x0, y0 = float(box.get("x", 0)), float(box.get("y", 0))
    x1, y1 = x0 + float(box.get("width", 0)), y0 + float(box.get("height", 0))
    for g in nodes(svg):
        if g.get("data-label") in ("m1", "wait signal more"):
            cx, cy = centre(g)
            assert x0 < cx < x1
            assert y0 < cy < y1
        elif g.get("data-label") == "blocked":
            cx, _ = centre(g)
            assert not x0 < cx < x1
    tl = ET.fromstring(timeline_svg(events))
    (bar,) = [r for r in tl.iter(f"{SVG}rect") if r.get("data-name") == "blocked"]
    assert "running" in bar.get("class", "").split()


def test_min_level_and_truncated_traces_still_draw() -> None:
    async def eff(ctx: Any) -> dict[str, int]:
        await trio.sleep(2)
        return {"e": 1}

    term = wf.seq(*[wf.task(f"t{i}", step("n")) for i in range(10)], wf.task("eff", eff))
    events = run(term, trace_level="min")
    root = ET.fromstring(timeline_svg(events))
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("data-kind")]
    assert [(b.get("data-name"), b.get("data-start"), b.get("data-end")) for b in bars] == [
        ("eff", "0", "2")
    ]
    st = status_by_label(graph_svg(term, events))
    assert st["eff"] == "done"
    assert st["t0"] == "not-reached"  # pure steps are not recorded at "min"
    kept = run(term, keep_events=5)
    assert kept[0].seq > 0
    page = case_page_html("kept", kept, term)
    assert f"the trace starts at event #{kept[0].seq}" in page
    for svg in re.findall(r"<svg .*?</svg>", page, re.S):
        ET.fromstring(svg)


def test_a_signal_sent_before_its_wait_marks_the_wait_done() -> None:
    term = wf.seq(wf.task("a", slow), wf.wait_signal("go"), wf.task("b", step("b")))
    events = run(term, signals=[("go", 1)])
    assert "signal_waiting" not in {ev.kind for ev in events}  # queued, consumed at once
    st = status_by_label(graph_svg(term, events))
    assert st == {
        "start": "done",
        "a": "done",
        "wait signal go": "done",
        "b": "done",
        "end": "done",
    }
