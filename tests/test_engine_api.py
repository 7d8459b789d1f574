"""The engine's public entry points: snapshot / restore / pending_commands, objects, schedulers."""

from __future__ import annotations

import pytest

import wftrio as wf
import wftrio.engine
from wftrio.engine import ExecState, Status, pending_commands, restore, snapshot
from wftrio.errors import SchedulerError
from wftrio.scheduling import Replay, Seeded
from wftrio.trace import replay_log


def test_snapshot_restore_and_pending_commands_are_public() -> None:
    async def remote(ctx: object) -> dict[str, int]:
        return {"r": 1}

    prog = wf.compile(wf.seq(wf.task("e", remote), wf.wait_signal("go")))
    st = ExecState(prog)
    assert st.run() is Status.BLOCKED
    (cmd,) = st.take_outbox()
    snap = wftrio.engine.snapshot(st)
    assert snap == st.snapshot()
    back = restore(prog, snap)
    (again,) = pending_commands(back)
    assert (again.eid, again.name) == (cmd.eid, "e")  # type: ignore[attr-defined]
    back.feed_effect(again.eid, {"r": 1})  # type: ignore[attr-defined]
    back.feed_signal("go")
    assert back.run() is Status.DONE
    assert snapshot(back).status is Status.DONE


def test_ctx_layer_is_the_objects_name_and_scope_an_alias() -> None:
    from wftrio.engine import objects

    assert objects.Scope is objects.CtxLayer
    st = ExecState(wf.compile(wf.wait_signal("go")))
    assert type(st.root) is objects.CtxLayer
    assert repr(st.root).startswith("<CtxLayer #0")
    from wftrio.engine import _objects  # the old module name still imports

    assert _objects.Token is objects.Token


def test_seeded_exports_and_imports_its_position() -> None:
    a = Seeded(7)
    first = [a.pick(10, "x") for _ in range(5)]
    mark = a.state()
    rest = [a.pick(10, "x") for _ in range(5)]
    b = Seeded.from_state(7, mark, preemptive=False)
    assert [b.pick(10, "x") for _ in range(5)] == rest
    assert b.preemptive is False
    assert first != rest
    with pytest.raises(SchedulerError, match="not a random.Random state"):
        Seeded.from_state(7, (3, (1, 2), None))


def test_replay_exports_and_imports_its_position() -> None:
    prog = wf.compile(wf.par(wf.task("a", lambda c: None), wf.task("b", lambda c: None)))
    st = ExecState(prog, scheduler=Seeded(3))
    st.run()
    log = replay_log(st.events)
    r = Replay(log)
    assert r.state() == 0
    r.pick(2, "x")
    assert r.state() == 1
    assert Replay.from_state(log, 1).state() == 1
    for bad in (-1, len(log.choices) + 1, True):
        with pytest.raises(SchedulerError, match="outside the log"):
            Replay.from_state(log, bad)
