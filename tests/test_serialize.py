"""JSON round trips of traces, replay logs and snapshots, and their errors."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

import attrs
import cattrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

import wftrio as wf
from wftrio.engine import ExecState, StartEffect, Status
from wftrio.engine._mi_ops import SPAWN_CHUNK
from wftrio.errors import SerializationError
from wftrio.scheduling import Replay, Seeded
from wftrio.serialize import (
    converter,
    dumps_log,
    dumps_snapshot,
    dumps_trace,
    loads_log,
    loads_snapshot,
    loads_trace,
    make_converter,
    read_jsonl,
    write_jsonl,
)
from wftrio.trace import EventKind, InputEvent, ReplayLog, TraceEvent


def bump(key: str) -> Any:
    def fn(ctx: Mapping[str, Any]) -> dict[str, int]:
        return {key: ctx.get(key, 0) + 1}

    return fn


def boom(ctx: Mapping[str, Any]) -> None:
    raise KeyError("nö")


async def remote(ctx: Mapping[str, Any]) -> None:  # fed by hand, never awaited
    raise AssertionError("effects are fed by the test")


def effect_ids(st: ExecState) -> list[int]:
    return [c.eid for c in st.take_outbox() if isinstance(c, StartEffect)]


def traces() -> list[list[TraceEvent]]:
    """Real traces that between them hold every kind of event the reducer records."""
    out = []
    # 1: the happy path through every constructor
    term = wf.seq(
        wf.task("start", bump("n")),
        wf.par(wf.wait_signal("go", store_as="go"), wf.task("side", bump("side"))),
        wf.join(wf.first(1), wf.task("x", bump("x")), wf.seq(wf.task("y", bump("y")))),
        wf.loop(wf.task("again", bump("again")), times=2),
        wf.region("r", wf.task("charge", remote)),
        wf.mi(wf.task("item", lambda c: {"seen": c["item"]}), items=["α", "β"], collect="res"),
        wf.defer(
            wf.on_signal("s", wf.task("s", bump("s"))), wf.after(1.5, wf.task("t", bump("t")))
        ),
        wf.xor(wf.task("left", bump("l")), wf.task("right", bump("r"))),
    )
    st = ExecState(wf.compile(term), {"given": ["ünïcödé", {"deep": [1, 2.5, None]}]})
    assert st.run() is Status.BLOCKED
    st.feed_signal("go", {"nested": [1, {"ü": "✓"}], "emoji": "🚀", "none": None})
    assert st.run() is Status.BLOCKED
    (eid,) = effect_ids(st)
    st.feed_effect(eid, {"receipt": [1.5, None, True, {"k": "v"}]})
    assert st.run() is Status.BLOCKED
    (tid,) = st.blocked_on()["timers"]
    st.fire_timer(tid)
    assert st.run() is Status.DONE
    out.append(st.events)
    # 2: cancellations, drops and withdrawals
    term = wf.seq(
        wf.region("r", wf.par(wf.wait_signal("s"), wf.task("charge", remote))),
        wf.wait_signal("last"),
    )
    st = ExecState(wf.compile(term))
    st.run()
    st.cancel_region("elsewhere")
    st.cancel_region("r")
    st.feed_signal("nobody", "x", transient=True)
    st.run()
    st.cancel()
    out.append(st.events)
    # 3: failures
    st = ExecState(wf.compile(wf.task("bad", boom)))
    st.run()
    out.append(st.events)
    st = ExecState(wf.compile(wf.task("charge", remote)))
    st.run()
    (eid,) = effect_ids(st)
    st.feed_effect_retry(eid, 1, OSError("dïsk busy"), 0.5)
    st.feed_effect(eid, error=OSError("dïsk full"), attempts=2)
    out.append(st.events)

    # 4: the MI patterns: instances added, adding closed, an activity completed
    def two(results: list[Any]) -> bool:
        return len(results) >= 2

    more = wf.mi(wf.task("m", bump("m")), items=[1], more_on="add", close_on="close")
    done = wf.mi(wf.wait_signal("w"), count=3, until=two)
    st = ExecState(wf.compile(wf.seq(more, done)))
    st.run()
    st.feed_signal("add", {"ïtem": 2})
    st.feed_signal("close")
    st.run()
    st.feed_signal("w")
    st.feed_signal("w")
    assert st.run() is Status.DONE
    out.append(st.events)
    # 5: explicit termination, seeded choices
    st = ExecState(
        wf.compile(wf.par(wf.task("a", bump("a")), wf.seq(wf.terminate()))), scheduler=Seeded(5)
    )
    st.run()
    out.append(st.events)
    # 6: an mi spawning its instances in two steps (mi_chunk)
    st = ExecState(wf.compile(wf.mi(wf.task("n", bump("n")), count=SPAWN_CHUNK + 1)))
    assert st.run() is Status.DONE
    out.append(st.events)
    return out


def test_converter_is_one_private_converter() -> None:
    assert converter() is converter()
    assert isinstance(converter(), cattrs.Converter)
    assert converter() is not cattrs.global_converter


def test_make_converter_makes_fresh_converters_configured_alike() -> None:
    mine = make_converter()
    assert mine is not converter()
    assert mine is not cattrs.global_converter
    ev = TraceEvent(3, "c", "task_completed", "t", 1, None, 0.0, {"k": [1]})
    assert mine.unstructure(ev) == converter().unstructure(ev)


def test_trace_jsonl_lives_in_serialize_and_the_old_names_are_deprecated() -> None:
    import wftrio.trace

    assert "write_jsonl" not in wftrio.trace.__all__
    with pytest.warns(DeprecationWarning, match="wftrio.serialize.write_jsonl"):
        old = wftrio.trace.write_jsonl  # type: ignore[attr-defined]
    assert old is write_jsonl
    with pytest.warns(DeprecationWarning, match="wftrio.serialize.read_jsonl"):
        assert wftrio.trace.read_jsonl is read_jsonl  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        _ = wftrio.trace.no_such_name  # type: ignore[attr-defined]


def test_read_jsonl_names_the_bad_line() -> None:
    good = dumps_trace([TraceEvent(0, "c", "case_started")])
    with pytest.raises(SerializationError, match="trace line 2"):
        list(read_jsonl([good, '{"seq": "x"}']))


def test_trace_round_trip_covers_every_event_kind() -> None:
    runs = traces()
    # the runtime's own kind, which the bare reducer never records
    runs.append([TraceEvent(0, "c", EventKind.CASE_STATE, None, None, None, 0.5, {"to": "done"})])
    kinds = {e.kind for run in runs for e in run}
    assert kinds == {k.value for k in EventKind}
    for events in runs:
        text = dumps_trace(events)
        assert len(text.splitlines()) == len(events)
        assert all(json.loads(line)["case_id"] for line in text.splitlines())
        back = loads_trace(text)
        assert back == events
        assert dumps_trace(back) == text
        # the same format as wftrio.trace's writer and reader
        buf = io.StringIO()
        write_jsonl(events, buf)
        assert buf.getvalue() == text
        assert list(read_jsonl(text.splitlines())) == events


def test_trace_unicode_and_nested_data_survive() -> None:
    ev = TraceEvent(
        3,
        "cäse-✓",
        "signal_received",
        "sïgnal",
        7,
        "règion",
        1.25,
        {"payload": {"list": [1, [2, [3, {"x": "🚀"}]]], "f": -0.5, "big": 2**70, "t": True}},
    )
    (back,) = loads_trace(dumps_trace([ev]) + "\n\n")
    assert back == ev
    assert back.data["payload"]["list"][1][1][1] == {"x": "🚀"}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(), kids, max_size=4),
    max_leaves=12,
)

events = st.builds(
    TraceEvent,
    seq=st.integers(0, 10**9),
    case_id=st.text(),
    kind=st.sampled_from([k.value for k in EventKind]) | st.text(),
    name=st.none() | st.text(),
    token=st.none() | st.integers(0, 10**9),
    scope=st.none() | st.text(),
    time=st.floats(allow_nan=False),
    data=st.dictionaries(st.text(), json_values, max_size=5),
)


@given(st.lists(events, max_size=6))
def test_property_trace_round_trip(evs: list[TraceEvent]) -> None:
    assert loads_trace(dumps_trace(evs)) == evs


def in_order(inputs: list[InputEvent]) -> tuple[InputEvent, ...]:
    """The inputs at their steps and times sorted: as a case records them."""
    steps = sorted(i.at_step for i in inputs)
    times = sorted(i.time for i in inputs)
    return tuple(
        attrs.evolve(i, at_step=s, time=t) for i, s, t in zip(inputs, steps, times, strict=True)
    )


@given(
    st.builds(
        ReplayLog,
        preemptive=st.booleans(),
        choices=st.lists(st.integers(0, 50)).map(tuple),
        inputs=st.lists(
            st.builds(
                InputEvent,
                kind=st.sampled_from(["signal_received", "effect_completed", "timer_fired"]),
                at_step=st.integers(0, 10**6),
                name=st.none() | st.text(),
                time=st.floats(0, 1e9),
                data=st.dictionaries(st.text(), json_values, max_size=3),
            ),
            max_size=5,
        ).map(in_order),
    )
)
def test_property_replay_log_round_trip(log: ReplayLog) -> None:
    assert loads_log(dumps_log(log)) == log


def test_replay_log_from_a_real_trace_round_trips_and_replays() -> None:
    run = traces()[0]
    log = wf.replay_log(run)
    back = loads_log(dumps_log(log))
    assert back == log
    assert back.inputs
    assert isinstance(back.choices, tuple)
    assert isinstance(back.inputs, tuple)
    from wftrio.engine.replay import run_with_inputs

    prog = wf.compile(traces_term_for_replay())
    st = ExecState(prog, scheduler=Seeded(9))
    st.run()
    st.feed_signal("go", {"ü": [1]})
    st.run()
    rec = loads_log(dumps_log(wf.replay_log(st.events)))
    again = ExecState(prog, scheduler=Replay(rec))
    run_with_inputs(again, rec.inputs)
    assert again.events == st.events


def traces_term_for_replay() -> wf.Term:
    return wf.par(
        wf.seq(wf.task("a", bump("a")), wf.wait_signal("go", store_as="go")),
        wf.task("b", bump("b")),
        wf.xor(wf.task("l", bump("l")), wf.task("r", bump("r"))),
    )


# ---------------------------------------------------------------------------
# errors


def test_dumping_a_value_json_cannot_hold_names_it() -> None:
    ok = TraceEvent(0, "c", "case_started")
    bad = TraceEvent(1, "c", "signal_received", "s", data={"payload": {"at": (1, 2)}})
    with pytest.raises(SerializationError, match="tuple") as info:
        dumps_trace([ok, bad])
    assert info.value.paths == ("events[1].data['payload']['at']",)
    log = ReplayLog(False, (), (InputEvent("signal_received", 0, "s", 0.0, {"payload": {3}}),))
    with pytest.raises(SerializationError) as info:
        dumps_log(log)
    assert info.value.paths == ("inputs[0].data['payload']",)


def test_malformed_trace_lines_name_line_and_field() -> None:
    good = dumps_trace([TraceEvent(0, "c", "case_started")])
    with pytest.raises(SerializationError, match="trace line 2: invalid JSON") as info:
        loads_trace(good + '{"seq": 1, "case_id"\n')
    assert info.value.paths == ("$",)
    with pytest.raises(SerializationError, match="trace line 1") as info:
        loads_trace('{"seq": "1", "case_id": "c", "kind": "x", "token": true}')
    assert set(info.value.paths) == {"$.seq", "$.token"}
    with pytest.raises(SerializationError, match="required field missing") as info:
        loads_trace('{"case_id": "c"}')
    assert set(info.value.paths) == {"$.seq", "$.kind"}
    with pytest.raises(SerializationError, match="expected a JSON object"):
        loads_trace("[1, 2, 3]")
    with pytest.raises(SerializationError) as info:
        loads_trace('{"seq": 0, "case_id": "c", "kind": "x", "data": [1]}')
    assert info.value.paths == ("$.data",)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, wf.WftrioError)


def test_malformed_replay_log() -> None:
    with pytest.raises(SerializationError) as info:
        loads_log('{"preemptive": 1, "choices": [0, "1"], "inputs": [{"kind": "x"}]}')
    assert {"$.preemptive", "$.choices[1]", "$.inputs[0].at_step"} <= set(info.value.paths)
    with pytest.raises(SerializationError, match="cannot read JSON"):
        loads_log(b"\xff\xfe not json")
    with pytest.raises(SerializationError, match="invalid JSON"):
        loads_log(b'{"preemptive": tru')


# ---------------------------------------------------------------------------
# snapshots as JSON


def blocked_state() -> ExecState:
    term = wf.seq(
        wf.task("a", bump("a")),
        wf.par(
            wf.loop(wf.wait_signal("tick"), times=3),
            wf.defer(
                wf.on_signal("s", wf.task("s", bump("s"))), wf.after(2, wf.task("t", bump("t")))
            ),
            wf.region("r", wf.mi(wf.task("pay", remote), items=["x", "ÿ"], collect="paid")),
        ),
    )
    st = ExecState(wf.compile(term), {"ünï": {"códe": [1, None, 2.5]}}, scheduler=Seeded(1))
    assert st.run() is Status.BLOCKED
    st.feed_signal("queued", ["a", {"b": None}])
    return st


def test_snapshot_json_round_trip_and_shape() -> None:
    st = blocked_state()
    snap = st.snapshot()
    text = dumps_snapshot(snap)
    assert loads_snapshot(text) == snap
    assert dumps_snapshot(loads_snapshot(text)) == text
    assert loads_snapshot(text.encode()) == snap
    doc = json.loads(text)
    assert {f["kind"] for f in doc["frames"]} == {"join", "loop", "mi"}
    assert {t["wait"]["on"] for t in doc["tokens"] if t["wait"]} == {"signal", "defer", "effect"}
    assert doc["scheduler"]["kind"] == "seeded"
    assert len(doc["scheduler"]["rng_state"]) == 625
    assert doc["scopes"][0]["data"] == {"ünï": {"códe": [1, None, 2.5]}, "a": 1}
    assert doc["signals"] == {"queued": [["a", {"b": None}]]}
    assert "ünï" in text  # written as UTF-8 text, not \\u escapes


def test_snapshot_with_replay_scheduler_and_error_round_trips() -> None:
    st = blocked_state()
    log = wf.replay_log(st.events)
    replay = ExecState(st.program, {"ünï": {"códe": [1, None, 2.5]}}, scheduler=Replay(log))
    replay.run(3)
    snap = replay.snapshot()
    assert loads_snapshot(dumps_snapshot(snap)) == snap
    failed = ExecState(wf.compile(wf.task("bad", boom)))
    failed.run()
    fsnap = failed.snapshot()
    assert fsnap.error is not None
    assert fsnap.error.error_type == "KeyError"
    assert loads_snapshot(dumps_snapshot(fsnap)) == fsnap


@pytest.mark.parametrize("where", ["$.effects", "$.ready", "$.regions", "$.tokens"])
@pytest.mark.parametrize("value", ["", {}, "ab"])
def test_a_string_or_object_is_no_array(where: str, value: Any) -> None:
    doc = json.loads(dumps_snapshot(blocked_state().snapshot()))
    doc[where[2:]] = value
    with pytest.raises(SerializationError) as info:
        loads_snapshot(json.dumps(doc))
    assert info.value.paths == (where,)


def test_a_string_or_array_is_no_object() -> None:
    doc = json.loads(dumps_snapshot(blocked_state().snapshot()))
    doc["signals"] = ""
    doc["waiters"] = [["go", [1]]]
    with pytest.raises(SerializationError) as info:
        loads_snapshot(json.dumps(doc))
    assert set(info.value.paths) == {"$.signals", "$.waiters"}
    with pytest.raises(SerializationError) as info:
        loads_log('{"preemptive": false, "choices": "", "inputs": {}}')
    assert set(info.value.paths) == {"$.choices", "$.inputs"}


@pytest.mark.parametrize("bad", ["5", 1.7, None, True])
def test_replay_log_never_coerces_a_recorded_step(bad: object) -> None:
    # found by the entry-point fuzz: int() took "5" and 1.7 as steps
    import trio.testing

    term = wf.seq(wf.wait_signal("go"), wf.task("a", lambda c: None))
    res = wf.run(term, signals=[("go", 1)], clock=trio.testing.MockClock(autojump_threshold=0))
    trace = [
        e._replace(data={**e.data, "at_step": bad}) if e.kind == "signal_received" else e
        for e in res.trace
    ]
    with pytest.raises(ValueError, match="at_step"):
        wf.replay_log(trace)
