"""A case as pictures (``wftrio.web._timeline``): the timeline and graph SVG and
the self-contained HTML page, from real traces of real runs (``wf.run`` or a
substrate, under trio's ``MockClock``)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import Any

import pytest
import trio
import trio.testing
from hypothesis import given

import wftrio as wf
from wftrio.graph import diagram
from wftrio.testing.strategies import terms
from wftrio.trace import TraceEvent
from wftrio.web._timeline import case_page_html, graph_svg, timeline_svg
from wftrio.web._timeline_status import gateway_paths

SVG = "{http://www.w3.org/2000/svg}"


def step(key: str) -> Any:
    def fn(ctx: Any) -> dict[str, int]:
        return {key: 1}

    fn.__name__ = key
    return fn


def sleeper(seconds: float, key: str) -> Any:
    async def fn(ctx: Any) -> dict[str, int]:
        await trio.sleep(seconds)
        return {key: 1}

    return fn


def run(term: wf.Term, **kw: Any) -> list[TraceEvent]:
    result = wf.run(
        term, trace_level="full", clock=trio.testing.MockClock(autojump_threshold=0), **kw
    )
    return list(result.trace)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def classes(el: ET.Element) -> set[str]:
    return set(el.get("class", "").split())


def bars(root: ET.Element, name: str | None = None) -> list[ET.Element]:
    return [
        el
        for el in root.iter(f"{SVG}rect")
        if "bar" in classes(el)
        and el.get("data-kind") is not None
        and (name is None or el.get("data-name") == name)
    ]


def marks(root: ET.Element, kind: str) -> list[ET.Element]:
    """The marks of ``kind`` drawn for events (not the legend's: they carry no data)."""
    return [
        el
        for el in root.iter(f"{SVG}path")
        if {"mark", kind} <= classes(el) and el.get("data-kind") == kind
    ]


def lanes(root: ET.Element) -> list[ET.Element]:
    return [el for el in root.iter(f"{SVG}g") if "lane" in classes(el)]


def test_par_of_three_has_a_lane_per_branch_and_a_bar_per_task() -> None:
    events = run(wf.par(wf.task("a", step("a")), wf.task("b", step("b")), wf.task("c", step("c"))))
    root = parse(timeline_svg(events))
    found = {name: bars(root, name) for name in "abc"}
    assert all(len(v) == 1 for v in found.values())
    assert {v[0].get("data-lane") for v in found.values()} == {"2", "3", "4"}
    labels = [ln.get("data-label", "") for ln in lanes(root)]
    assert [lb for lb in labels if "branch" in lb] == [
        "par branch 0 · token 3",
        "par branch 1 · token 4",
        "par branch 2 · token 5",
    ]
    for v in found.values():
        assert {"task", "ok"} <= classes(v[0])
        assert float(v[0].get("width", "0")) >= 3  # a pure task still shows
        assert v[0].find(f"{SVG}title") is not None


def test_effect_bars_span_their_time_and_show_outcomes() -> None:
    async def bad(ctx: Any) -> None:
        await trio.sleep(1)
        raise ValueError("no")

    term = wf.seq(
        wf.task("slow", sleeper(2, "s")),
        wf.par(wf.task("long", sleeper(5, "l")), wf.task("bad", bad)),
    )
    with pytest.raises(wf.CaseFailed) as info:
        run(term)
    assert info.value.result is not None
    events = list(info.value.result.trace)
    root = parse(timeline_svg(events))
    (slow,) = bars(root, "slow")
    assert {"effect", "ok"} <= classes(slow)
    assert (slow.get("data-start"), slow.get("data-end")) == ("0", "2")
    (b,) = bars(root, "bad")
    assert "failed" in classes(b)
    (long_,) = bars(root, "long")
    assert "cancelled" in classes(long_)  # withdrawn when the case failed
    assert marks(root, "fail")
    assert float(slow.get("width", "0")) > float(b.get("width", "0")) / 2


def test_retried_effect_has_retry_marks_and_the_retried_colour() -> None:
    tries = {"n": 0}

    async def flaky(ctx: Any) -> dict[str, int]:
        tries["n"] += 1
        await trio.sleep(0.5)
        if tries["n"] < 3:
            raise RuntimeError("boom")
        return {"f": 1}

    events = run(wf.task("flaky", flaky, retry=wf.Retry(3, 0.5)))
    root = parse(timeline_svg(events))
    (bar,) = bars(root, "flaky")
    assert "retried" in classes(bar)
    assert bar.get("data-attempts") == "3"
    assert len(marks(root, "retry")) == 2


def test_signal_and_timer_marks() -> None:
    term = wf.seq(
        wf.wait_signal("go", store_as="g"),
        wf.defer(wf.on_signal("x", wf.task("a", step("a"))), wf.after(5, wf.task("b", step("b")))),
    )
    events = run(term, signals=[("go", 7)])
    root = parse(timeline_svg(events))
    sig = marks(root, "signal")
    assert {m.get("data-name") for m in sig} == {"go"}
    (timer,) = marks(root, "timer")
    assert timer.get("data-time") == "5"
    waits = [b for b in bars(root) if b.get("data-kind") == "wait"]
    assert {w.get("data-name") for w in waits} == {"signal go", "timer seq[1].defer"}


async def test_cancelled_region_and_graph_of_a_case_waiting_on_a_signal(
    autojump_clock: trio.testing.MockClock,
) -> None:
    term = wf.seq(
        wf.par(
            wf.region(
                "r",
                wf.seq(wf.task("slow", sleeper(2, "s")), wf.task("a", step("a"))),
                compensate=wf.task("comp", step("c")),
            ),
            wf.seq(wf.task("eff", sleeper(1, "e")), wf.wait_signal("x")),
        ),
        wf.task("b", step("b")),
    )
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(term, trace_level="full")
        await trio.sleep(0.5)
        await sub.cancel_region(cid, "r")
        await trio.sleep(3)
        events = sub.events(cid)
        await sub.cancel(cid)
    root = parse(timeline_svg(events))
    cancels = marks(root, "cancel")
    assert any(m.get("data-name") == "r" for m in cancels)
    (slow,) = bars(root, "slow")
    assert "cancelled" in classes(slow)
    (comp,) = bars(root, "comp")
    assert comp.get("data-lane") == slow.get("data-lane")  # compensation goes on in its branch
    (wait,) = [b for b in bars(root) if b.get("data-kind") == "wait"]
    assert "running" in classes(wait)

    g = parse(graph_svg(term, events))
    status = {
        el.get("data-label"): el.get("data-status")
        for el in g.iter(f"{SVG}g")
        if "node" in classes(el)
    }
    assert status == {
        "start": "done",
        "par": "done",
        "slow": "cancelled",
        "a": "not-reached",
        "comp": "done",
        "eff": "done",
        "wait signal x": "waiting",
        "all": "waiting",
        "b": "not-reached",
        "end": "not-reached",
    }
    (region,) = [el for el in g.iter(f"{SVG}rect") if "cluster" in classes(el)]
    assert "cancelled" in classes(region)


def _page_urls(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']?([^"'\s>]+)""", page)


def test_page_is_self_contained_and_escapes_names() -> None:
    evil = "<script>alert(1)</script>&"
    events = run(wf.seq(wf.task(evil, step("a")), wf.task("b", step("b"))))
    page = case_page_html(
        "case <1>", events, wf.seq(wf.task(evil, step("a")), wf.task("b", step("b")))
    )
    assert "<script>alert" not in page
    assert _page_urls(page) == []
    assert "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert page.count("<svg") == 2
    for svg in re.findall(r"<svg .*?</svg>", page, re.S):
        parse(svg)


def test_timeline_of_no_events_and_of_odd_values_is_still_svg() -> None:
    parse(timeline_svg([]))
    odd: Sequence[TraceEvent] = [
        TraceEvent(0, "c\x00", "case_started"),
        TraceEvent(1, "c", "task_completed", "t\x01<", 7, None, float("nan")),
        TraceEvent(2, "c", "mystery", None, None, None, 1.0, {"x": object()}),
        TraceEvent(3, "c", "task_started", "e", 7, "r\x02", 2.0),
    ]
    root = parse(timeline_svg(odd))
    assert len(bars(root)) == 2
    page = case_page_html("odd", odd)
    for svg in re.findall(r"<svg .*?</svg>", page, re.S):
        parse(svg)
    assert "\x00" not in page


def test_refused_effects_and_rejected_approvals_are_rejected_bars() -> None:
    term = wf.seq(
        wf.region(
            "sandbox",
            wf.task(
                "mail",
                lambda ctx: wf.Effect("mail", {}),
                on_error=wf.task("skip", step("skip")),
            ),
            allow={"payment"},
        ),
        wf.approval(
            "deploy",
            approver={"ann"},
            then=wf.task("deploy", step("d")),
            on_reject=wf.task("undo", step("u")),
        ),
    )
    events = run(term, signals=[(wf.approval_signal("deploy"), wf.reject("ann", "no"))])
    root = parse(timeline_svg(events))
    (mail,) = bars(root, "mail")
    assert "rejected" in classes(mail)
    assert "region sandbox" in (mail.findtext(f"{SVG}title") or "")
    (decision,) = bars(root, "approval:deploy")
    assert "rejected" in classes(decision)
    assert {"ok"} <= classes(bars(root, "undo")[0])
    assert bars(root, "deploy") == []


def test_mi_instances_get_lanes_and_the_continuation_goes_on_in_the_main_lane() -> None:
    term = wf.seq(
        wf.mi(wf.task("each", sleeper(1, "e")), items=[1, 2, 3]),
        wf.task("after", step("after")),
    )
    events = run(term)
    root = parse(timeline_svg(events))
    each = bars(root, "each")
    assert len({b.get("data-lane") for b in each}) == 3
    assert all(b.get("data-end") == "1" for b in each)
    labels = {ln.get("data-lane"): ln.get("data-label") for ln in lanes(root)}
    assert sorted(str(labels[b.get("data-lane")]).split(" · ")[0] for b in each) == [
        "mi #0",
        "mi #1",
        "mi #2",
    ]
    (after,) = bars(root, "after")
    assert labels[after.get("data-lane")] == "main"


def test_the_standalone_svg_has_no_script_and_the_page_zooms_both_pictures() -> None:
    term = wf.seq(wf.task("a", step("a")), wf.task("slow", sleeper(2, "s")))
    events = run(term)
    svg = timeline_svg(events)
    assert "<script" not in svg
    assert "<style>" in svg
    root = parse(svg)
    assert root.get("viewBox", "").startswith("0 0 ")
    axis = [t.text for g in root.iter(f"{SVG}g") if "axis" in classes(g) for t in g]
    assert "2s" in [t for t in axis if t]
    page = case_page_html("zoom", events, term)
    assert page.count("data-pane=") == 2
    assert page.count('data-act="in"') == 2
    assert "addEventListener('wheel'" in page


@given(terms(signals=False, timers=False, effects=False, failures=True, valid=False))
def test_random_pure_workflows_render_to_well_formed_svg(term: wf.Term) -> None:
    try:
        events = run(term, validate=False)
    except wf.CaseFailed as failed:
        events = list(failed.result.trace) if failed.result is not None else []
    assert events
    root = parse(timeline_svg(events))
    steps = [ev for ev in events if ev.kind in ("task_completed", "task_failed")]
    assert len(bars(root)) == len(steps)  # a bar per step, none twice
    lane_of_token: dict[str, str] = {}
    for ln in lanes(root):
        for tok in (ln.get("data-tokens") or "").split():
            assert tok not in lane_of_token  # each token in one lane
            lane_of_token[tok] = str(ln.get("data-lane"))
    for b in bars(root):
        assert lane_of_token[str(b.get("data-token"))] == b.get("data-lane")
    graph = parse(graph_svg(term, events))
    nodes = [g for g in graph.iter(f"{SVG}g") if "node" in classes(g)]
    assert len(nodes) == len(diagram(term).nodes)
    status = {
        g.get("data-shape"): g.get("data-status")
        for g in nodes
        if g.get("data-shape") in ("start", "end")
    }
    assert status["start"] == "done"
    assert (status["end"] == "done") == any(ev.kind == "case_completed" for ev in events)
    assert "running" not in {g.get("data-status") for g in nodes}
    # the graph's gateways are matched to the paths the trace names
    roles = gateway_paths(term, diagram(term))
    assert roles is not None
    paths = {path for path, _ in roles}
    for ev in events:
        if ev.kind in ("split", "join_fired", "choice", "loop_exited", "loop_iteration"):
            assert ev.name in paths, (ev, sorted(paths))


def test_an_mi_that_does_not_wait_continues_in_the_main_lane() -> None:
    term = wf.seq(
        wf.mi(wf.seq(wf.task("note", step("n")), wf.wait_signal("ok")), count=2, join="none"),
        wf.task("ship", step("ship")),
    )
    events = run(term, signals=[("ok", 1), ("ok", 2)])
    root = parse(timeline_svg(events))
    labels = {ln.get("data-lane"): ln.get("data-label") for ln in lanes(root)}
    (ship,) = bars(root, "ship")
    assert labels[ship.get("data-lane")] == "main"
    notes = bars(root, "note")
    assert sorted(str(labels[b.get("data-lane")]).split(" · ")[0] for b in notes) == [
        "mi #0",
        "mi #1",
    ]
    waits = [b for b in bars(root) if b.get("data-kind") == "wait"]
    assert {w.get("data-lane") for w in waits} == {b.get("data-lane") for b in notes}


async def test_a_timer_that_lost_its_deferred_choice_ends_when_the_signal_won(
    autojump_clock: trio.testing.MockClock,
) -> None:
    term = wf.defer(
        wf.on_signal("x", wf.task("a", step("a"))), wf.after(60, wf.task("b", step("b")))
    )
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(term, trace_level="full")
        await trio.sleep(2)
        await sub.signal(cid, "x")
        await sub.wait(cid)
        events = sub.events(cid)
    root = parse(timeline_svg(events))
    (timer,) = [b for b in bars(root) if b.get("data-kind") == "wait"]
    assert {"wait", "cancelled"} <= classes(timer)
    assert (timer.get("data-start"), timer.get("data-end")) == ("0", "2")
    assert marks(root, "timer") == []
