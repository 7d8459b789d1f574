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

import wftrio as wf
from wftrio.trace import TraceEvent
from wftrio.web._timeline import case_page_html, graph_svg, timeline_svg

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


async def test_cancelled_region_and_graph_of_a_case_waiting_on_a_signal() -> None:
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
