"""Trace sinks: the fan-in task, pluggable sinks, backpressure, failing sinks."""

from __future__ import annotations

import io
import logging
from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.runtime import CallbackSink, JsonlSink, MemorySink, as_sink, open_substrate
from wftrio.serialize import read_jsonl


def put(**kv: Any) -> Any:
    return lambda ctx: dict(kv)


TERM = wf.seq(wf.task("a", put(a=1)), wf.wait_signal("go"), wf.task("b", put(b=1)))


async def run_cases(sub: Any, n: int) -> list[str]:
    ids = [await sub.new_case(TERM, case_id=f"c{i}") for i in range(n)]
    for cid in ids:
        await sub.signal(cid, "go")
    for cid in ids:
        await sub.wait(cid)
    return ids


async def test_memory_sink_sees_every_case_in_order() -> None:
    mem = MemorySink()
    async with open_substrate(sinks=[mem]) as sub:
        ids = await run_cases(sub, 5)
        stores = {cid: sub.events(cid) for cid in ids}
    # after the block the sink task has drained: nothing lost, order kept per case
    for cid in ids:
        assert mem.for_case(cid) == stores[cid]
    assert len(mem.events) == sum(map(len, stores.values()))
    assert sub.stats().sink_events == len(mem.events)


async def test_jsonl_sink_to_a_path_and_to_a_file(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    buf = io.StringIO()
    async with open_substrate(sinks=[JsonlSink(path), JsonlSink(buf)]) as sub:
        ids = await run_cases(sub, 3)
        expected = [ev for cid in ids for ev in sub.events(cid)]
    from_path = list(read_jsonl(path.read_text().splitlines()))
    from_buf = list(read_jsonl(buf.getvalue().splitlines()))
    assert sorted(from_path, key=lambda e: (e.case_id, e.seq)) == sorted(
        expected, key=lambda e: (e.case_id, e.seq)
    )
    assert from_buf == from_path
    assert not buf.closed  # a file we were given is flushed, not closed


async def test_callback_sink_and_plain_callables() -> None:
    seen: list[str] = []
    async with open_substrate(sinks=[lambda ev: seen.append(ev.kind)]) as sub:
        await run_cases(sub, 1)
    assert seen[0] == "case_started"
    assert seen[-1] == "case_state"
    assert isinstance(as_sink(print), CallbackSink)
    with pytest.raises(TypeError):
        as_sink(42)


async def test_a_failing_sink_is_disabled_and_logged_never_failing_a_case(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[int] = []

    def bad(ev: wf.TraceEvent) -> None:
        calls.append(ev.seq)
        raise OSError("disk full")

    mem = MemorySink()
    with caplog.at_level(logging.ERROR, logger="wftrio.runtime"):
        async with open_substrate(sinks=[bad, mem]) as sub:
            ids = await run_cases(sub, 3)
            for cid in ids:
                assert (await sub.wait(cid)).state == "done"
    assert calls == [0]  # called once, then disabled
    assert sub.stats().sinks_disabled == 1
    assert len(mem.events) == sum(len(sub.events(c)) for c in ids)  # others unaffected
    assert any("disabled" in rec.getMessage() for rec in caplog.records)


async def test_backpressure_with_a_tiny_buffer_loses_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    mem = MemorySink()
    async with open_substrate(sinks=[mem], sink_buffer=1) as sub:
        ids = await run_cases(sub, 40)
        total = sum(len(sub.events(c)) for c in ids)
    assert len(mem.events) == total


async def test_per_case_sink_via_trace() -> None:
    mine = MemorySink()
    async with open_substrate() as sub:
        a = await sub.new_case(TERM)
        b = await sub.new_case(TERM)
        sub.trace(a, "full", sink=mine)
        for cid in (a, b):
            await sub.signal(cid, "go")
            await sub.wait(cid)
    assert {ev.case_id for ev in mine.events} == {a}
    assert mine.events == sub.events(a)[-len(mine.events) :]


class NotJson:
    """A payload no JSON sink can write."""


def non_json_term() -> wf.Term:
    return wf.seq(
        wf.task("a", put(a=1)),
        wf.task("odd", lambda ctx: {"odd": NotJson()}),
        wf.wait_signal("go"),
        wf.task("b", put(b=1)),
    )


@pytest.mark.parametrize("kind", ["jsonl", "callback", "plain_write"])
async def test_an_event_a_shared_sink_cannot_write_costs_only_that_event(
    kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    import json

    buf = io.StringIO()
    written: list[wf.TraceEvent] = []

    def strict(ev: wf.TraceEvent) -> None:
        json.dumps(dict(ev.data))  # raises TypeError for the odd payload
        written.append(ev)

    class PlainWrite:
        """A user sink writing a batch at once (all or nothing)."""

        def write(self, events: Any) -> None:
            for ev in events:
                json.dumps(dict(ev.data))
            written.extend(events)

    sink: Any = {"jsonl": JsonlSink(buf), "callback": strict, "plain_write": PlainWrite()}[kind]
    with caplog.at_level(logging.WARNING, logger="wftrio.runtime"):
        async with open_substrate(sinks=[sink]) as sub:
            bad = await sub.new_case(non_json_term(), case_id="bad")
            good = await run_cases(sub, 3)
            await sub.signal(bad, "go")
            await sub.wait(bad)
            info = sub.status(bad)
            stats = sub.stats()
            assert all(sub.status(c).sink_errors == 0 for c in good)
    # the case itself is unaffected, and only its unwritable event was lost
    assert info.state == "done"
    assert info.sink_errors == 1
    assert info.sink_error is not None
    assert "sink_error" in info.sink_error
    assert "task_completed" in info.sink_error
    assert "NotJson" in info.sink_error
    assert stats.sink_errors == 1
    assert stats.sinks_disabled == 0
    got = list(read_jsonl(buf.getvalue().splitlines())) if kind == "jsonl" else written
    expected = [
        ev
        for c in [*good, bad]
        for ev in sub.events(c)
        if not isinstance(ev.data.get("odd"), NotJson)
    ]
    assert sorted((ev.case_id, ev.seq) for ev in got) == sorted(
        (ev.case_id, ev.seq) for ev in expected
    )
    assert len(expected) == sum(len(sub.events(c)) for c in [*good, bad]) - 1
    assert any("cannot write event" in rec.getMessage() for rec in caplog.records)


async def test_per_case_sinks_are_released_when_their_case_ends() -> None:
    import gc
    import weakref

    class Sink:
        def __init__(self) -> None:
            self.events: list[wf.TraceEvent] = []

        def write(self, events: Any) -> None:
            self.events.extend(events)

    async with open_substrate(retain_finished=10) as sub:
        refs = []
        ids = []
        for i in range(3):
            sink = Sink()
            refs.append(weakref.ref(sink))
            cid = await sub.new_case(TERM, case_id=f"c{i}")
            sub.trace(cid, "full", sink=sink)
            ids.append(cid)
            del sink
        for cid in ids[:2]:
            await sub.signal(cid, "go")
            await sub.wait(cid)
        sub.forget(ids[1])
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        # finished (retained or forgotten) cases hold no sink; the live one does
        assert [r() is None for r in refs] == [True, True, False]
        live_sink = refs[2]()
        assert live_sink is not None
        await sub.signal(ids[2], "go")
        await sub.wait(ids[2])
        await trio.testing.wait_all_tasks_blocked()  # the sink task has delivered
        assert live_sink.events[-1].kind == "case_state"  # it got everything
        del live_sink
        await trio.testing.wait_all_tasks_blocked()
        gc.collect()
        assert refs[2]() is None


async def test_a_long_lived_case_keeps_a_bounded_window_of_its_trace() -> None:
    mem = MemorySink()
    body = wf.seq(wf.wait_signal("tick"), wf.task("count", lambda ctx: {"n": ctx["n"] + 1}))
    term = wf.loop(body, until=lambda ctx: ctx["n"] >= 300)
    async with open_substrate(sinks=[mem], keep_events=50) as sub:
        cid = await sub.new_case(term, {"n": 0})
        small = await sub.new_case(term, {"n": 0}, keep_events=None)
        for _ in range(300):
            await sub.signal(cid, "tick")
            await sub.signal(small, "tick")
        res = await sub.wait(cid)
        info = sub.status(cid)
        kept_all = await sub.wait(small)
    every = mem.for_case(cid)
    assert res.ctx == {"n": 300}
    assert len(res.trace) == info.events == 50  # the latest 50, in order
    assert res.trace == every[-50:]
    assert info.events_dropped == len(every) - 50 > 1000  # sinks got everything
    assert sub.status(small).events_dropped == 0
    assert kept_all.trace == mem.for_case(small)


async def test_keep_events_defaults_to_1000_and_is_checked() -> None:
    term = wf.loop(wf.task("t", lambda ctx: None), times=2000)
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        res = await sub.wait(cid)
        assert len(res.trace) == 1000
        assert sub.status(cid).events_dropped > 2000
        for bad in (-1, 1.5, True, "10"):
            with pytest.raises(wf.WftrioError, match="keep_events"):
                await sub.new_case(term, keep_events=bad)


async def test_a_results_trace_is_a_copy_that_cannot_alter_the_cases_trace() -> None:
    # issue 10 item 11 (the events themselves are frozen values)
    async with open_substrate() as sub:
        cid = await sub.new_case(wf.task("a", lambda ctx: {"x": 1}), trace_level="full")
        result = await sub.wait(cid)
        n = len(sub.events(cid))
        result.trace.clear()
        assert len(sub.events(cid)) == n


def _task_names() -> list[str]:
    out: list[str] = []
    todo = [trio.lowlevel.current_root_task()]
    while todo:
        task = todo.pop()
        assert task is not None
        out.append(task.name)
        todo.extend(t for n in task.child_nurseries for t in n.child_tasks)
    return out


async def test_the_sink_task_starts_only_when_a_sink_exists() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(TERM)
        await trio.testing.wait_all_tasks_blocked()
        assert not any("SinkHub.run" in n for n in _task_names())  # no sink: no task
        sink = MemorySink()
        sub.trace(cid, "full", sink)  # a case's own sink starts it
        await sub.signal(cid, "go")
        await sub.wait(cid)
        assert any("SinkHub.run" in n for n in _task_names())
    assert "case_completed" in [e.kind for e in sink.events]
    async with open_substrate(sinks=[MemorySink()]):
        await trio.testing.wait_all_tasks_blocked()
        assert any("SinkHub.run" in n for n in _task_names())


async def test_a_case_that_ends_in_its_first_burst_needs_no_runner_task() -> None:
    async with open_substrate() as sub:
        calls: list[int] = []
        cid = await sub.new_case(
            wf.seq(wf.task("a", put(a=1)), wf.task("b", lambda c: calls.append(1)))
        )
        # final when new_case returns: its tasks ran in new_case's burst
        assert sub.status(cid).state == "done"
        assert calls == [1]
        assert not any(n.startswith("wftrio case") for n in _task_names())
        assert (await sub.wait(cid)).ctx == {"a": 1}
        # a case that waits gets its runner task, which ends once the case
        # waits on a signal alone (the inbox is parked: Case.run)
        waiting = await sub.new_case(TERM)
        await trio.testing.wait_all_tasks_blocked()
        assert sub.status(waiting).state == "waiting_signal"
        assert not any(n == f"wftrio case {waiting}" for n in _task_names())
        await sub.signal(waiting, "go")
        assert (await sub.wait(waiting)).ctx == {"a": 1, "b": 1}
