"""The engine's typed protocol: wait records, event kinds, the public state
changes of ExecState, and the public replay module."""

from __future__ import annotations

import io
from typing import Any

import pytest
from reducer_helpers import effect, noop, run, start

import wftrio as wf
from wftrio.engine import ExecState, Status
from wftrio.engine.protocol import (
    DeferArm,
    DeferWait,
    EffectWait,
    EventKind,
    SignalWait,
    WaitKind,
)
from wftrio.serialize import dumps_snapshot, loads_snapshot, read_jsonl, write_jsonl
from wftrio.testing.invariants import check_invariants
from wftrio.trace import TraceEvent


def waits(st: ExecState) -> list[Any]:
    return [t.wait for t in sorted(st.tokens.values(), key=lambda t: t.id)]


def blocked_everywhere() -> wf.Term:
    return wf.par(
        effect("fetch"),
        wf.wait_signal("go", store_as="payload"),
        wf.defer(wf.on_signal("yes", noop("y")), wf.after(3, noop("late"))),
    )


class TestWaits:
    def test_blocked_tokens_hold_typed_records(self) -> None:
        st = run(blocked_everywhere())
        assert st.status is Status.BLOCKED
        eff, sig, dfr = waits(st)
        assert isinstance(eff, EffectWait)
        assert eff.kind is WaitKind.EFFECT
        assert eff.eid in st.effects
        assert sig == SignalWait(WaitKind.SIGNAL, "go")
        assert isinstance(dfr, DeferWait)
        (tid,) = st.timers
        assert dfr.arms == (
            DeferArm(WaitKind.SIGNAL, "yes", 0),
            DeferArm(WaitKind.TIMER, tid, 1),
        )
        # the records are the old tuples too: kinds are StrEnums equal to the old strings
        assert sig == ("signal", "go")

    def test_a_restored_state_holds_typed_records(self) -> None:
        st = run(blocked_everywhere())
        snap = loads_snapshot(dumps_snapshot(st.snapshot()))
        again = ExecState.restore(st.program, snap)
        assert waits(again) == waits(st)
        assert [type(w) for w in waits(again)] == [EffectWait, SignalWait, DeferWait]
        assert again.feed_signal("yes") is True
        assert again.fire_timer(next(iter(st.timers))) is False  # withdrawn with its defer
        check_invariants(again)  # raises on a broken invariant

    def test_inputs_consume_the_records(self) -> None:
        st = run(blocked_everywhere())
        (tid,) = st.timers
        (eid,) = st.effects
        st.feed_signal("go", {"x": 1})
        assert st.fire_timer(tid) is True
        assert st.feed_effect(eid, {"fetched": True}) is True
        assert st.run() is Status.DONE
        assert st.ctx == {"payload": {"x": 1}, "fetched": True}


class TestEventKinds:
    def test_the_engine_records_event_kind_members(self) -> None:
        st = start(
            wf.seq(
                wf.region("r", wf.loop(noop("a"), times=2)),
                wf.xor(wf.branch(lambda ctx: False, noop("no")), noop("b")),
                wf.mi(noop("m"), count=2),
                blocked_everywhere(),
            )
        )
        st.run()
        st.cancel()
        kinds = {ev.kind for ev in st.events}
        assert {EventKind.CASE_CANCELLED, EventKind.SPLIT, EventKind.MI_JOINED} <= kinds
        # recorded as the members' plain strings, as in a trace read back from JSON
        assert all(type(ev.kind) is str and EventKind(ev.kind) == ev.kind for ev in st.events)
        buf = io.StringIO()
        write_jsonl(st.events, buf)
        loaded = list(read_jsonl(buf.getvalue().splitlines()))
        assert [repr(ev.kind) for ev in loaded] == [repr(ev.kind) for ev in st.events]


class TestPublicStateChanges:
    def test_emit_and_record(self) -> None:
        st = start(noop("a"))
        st.emit(EventKind.CASE_STATE, "running", None, {"from": "initializing"})
        ev = st.events[-1]
        assert (ev.kind, ev.name, ev.data) == ("case_state", "running", {"from": "initializing"})
        st.record(TraceEvent(st.seq, st.case_id, EventKind.RECEIPT, "x", None, None, 0.0, {}))
        assert st.events[-1].name == "x"
        assert st.recorder == st.events.append  # level full, no on_event: events.append

    def test_emit_respects_the_trace_level(self) -> None:
        st = start(noop("a"), trace_level="min")
        before = len(st.events)
        st.emit(EventKind.SPLIT, "p", None)  # a full-level kind: dropped at min
        st.emit(EventKind.CASE_STATE, "x", None)  # kept at min
        assert [ev.kind for ev in st.events[before:]] == ["case_state"]

    def test_withdraw_all_and_issued(self) -> None:
        st = run(blocked_everywhere())
        (eid,) = st.effects
        assert st.issued(eid)
        assert not st.issued(eid + 1000)
        assert not st.issued(0)
        st.withdraw_all()
        assert not st.tokens
        assert not st.effects
        assert not st.timers
        assert not st.waiters
        assert {type(c).__name__ for c in st.take_outbox()} >= {"CancelEffect", "CancelTimer"}

    def test_run_takes_max_steps(self) -> None:
        st = start(wf.seq(noop("a"), noop("b"), noop("c")))
        assert st.run(max_steps=2) is Status.RUNNING
        assert st.steps == 2
        assert st.run() is Status.DONE


class TestReplayModule:
    def test_replay_is_public_and_drive_an_alias(self) -> None:
        from wftrio.engine import _drive, replay

        assert _drive.run_with_inputs is replay.run_with_inputs
        assert _drive.feed_input is replay.feed_input

    def test_run_with_inputs_reproduces_a_recorded_run(self) -> None:
        from wftrio.engine.replay import run_with_inputs

        st = run(blocked_everywhere(), scheduler=wf.Seeded(3))
        st.feed_signal("yes")
        st.feed_signal("go", 7)
        (eid,) = st.effects
        st.feed_effect(eid, {"ok": 1})
        assert st.run() is Status.DONE
        log = wf.replay_log(st.events)
        again = start(blocked_everywhere(), scheduler=wf.Replay(log))
        assert run_with_inputs(again, log.inputs) is Status.DONE
        assert again.events == st.events

    def test_an_unknown_input_kind_is_a_divergence(self) -> None:
        from wftrio.engine.replay import feed_input
        from wftrio.errors import ReplayDivergence
        from wftrio.trace import InputEvent

        st = start(noop("a"))
        with pytest.raises(ReplayDivergence, match="cannot feed"):
            feed_input(st, InputEvent("task_completed", 0, "a"))
