"""Frozen data: tasks and effects get a deeply read-only ctx, updates are str-keyed
Mappings, and recorded trace events cannot change (issue 10, items 11-13)."""

from __future__ import annotations

import copy
import json
import pickle
from collections.abc import Mapping
from typing import Any

import pytest
import trio

import wftrio as wf
from wftrio.engine import ExecState, Status
from wftrio.engine.frozen import FrozenDict, FrozenList, freeze
from wftrio.errors import TaskError
from wftrio.runtime import open_substrate


def start(term: wf.Term, ctx: Mapping[str, Any] | None = None, **kw: Any) -> ExecState:
    st = ExecState(wf.compile(term), ctx, **kw)
    st.run()
    return st


def nop(name: str) -> wf.Term:
    return wf.task(name, lambda ctx: None)


ORDER = {"order": {"qty": 3, "lines": [{"sku": "a"}]}, "items": [1, 2]}

# ---------------------------------------------------------------------------
# item 12: a deeply read-only ctx


def _set_qty(ctx: Mapping[str, Any]) -> None:
    ctx["order"]["qty"] = 0


def _append(ctx: Mapping[str, Any]) -> None:
    ctx["items"].append(3)


def _nested_append(ctx: Mapping[str, Any]) -> None:
    ctx["order"]["lines"][0]["sku"] = "b"


@pytest.mark.parametrize("level", ["none", "full"])
@pytest.mark.parametrize("mutate", [_set_qty, _append, _nested_append])
def test_a_nested_mutation_by_a_pure_task_raises_and_changes_nothing(
    mutate: Any, level: str
) -> None:
    term = wf.seq(wf.task("a", lambda c: {"a": 1}), wf.task("bad", mutate), nop("c"))
    st = start(term, copy.deepcopy(ORDER), trace_level=level)
    assert st.status is Status.FAILED
    assert isinstance(st.error, TypeError)
    assert "read-only" in str(st.error)
    assert st.ctx == {**ORDER, "a": 1}


def test_a_step_task_s_nested_mutation_runs_its_on_error() -> None:
    term = wf.task("bad", _append, on_error=wf.task("fix", lambda c: {"items": [*c["items"], 3]}))
    st = start(term, copy.deepcopy(ORDER))
    assert st.status is Status.DONE
    assert st.ctx["items"] == [1, 2, 3]


def test_every_way_into_the_ctx_freezes_values() -> None:
    caller = copy.deepcopy(ORDER)
    payload = {"tags": ["x"]}
    term = wf.seq(
        wf.task("put", lambda c: {"new": {"a": [1, {"b": 2}]}, "s": {1, 2}, "t": ([1],)}),
        wf.wait_signal("go", store_as="got"),
        wf.mi(
            wf.task("keep", lambda c: {"seen": c["item"]}), items=[[1], {"k": [2]}], collect="all"
        ),
    )
    st = ExecState(wf.compile(term), caller)
    caller["order"]["qty"] = 99  # the caller's own dict is not the case's
    st.run()
    st.feed_signal("go", payload)
    payload["tags"].append("y")  # nor is the sender's payload
    assert st.run() is Status.DONE
    ctx = st.ctx
    assert ctx["order"]["qty"] == 3
    assert ctx["got"] == {"tags": ["x"]}
    assert isinstance(ctx["order"], FrozenDict)
    assert isinstance(ctx["items"], FrozenList)
    assert isinstance(ctx["new"]["a"][1], FrozenDict)
    assert ctx["s"] == frozenset({1, 2})
    assert isinstance(ctx["t"][0], FrozenList)
    assert isinstance(ctx["all"], FrozenList)
    assert ctx["all"] == [{"seen": [1]}, {"seen": {"k": [2]}}]
    assert isinstance(ctx["all"][1]["seen"]["k"], FrozenList)
    for v in (ctx["order"], ctx["items"], ctx["all"]):
        with pytest.raises(TypeError, match="read-only"):
            v.clear()


def test_frozen_values_are_plain_data_to_everything_else() -> None:
    v = freeze({"a": [1, {"b": (2, [3])}], "c": None})
    assert v == {"a": [1, {"b": (2, [3])}], "c": None}
    assert json.loads(json.dumps(v)) == {"a": [1, {"b": [2, [3]]}], "c": None}
    assert pickle.loads(pickle.dumps(v)) == v
    assert type(pickle.loads(pickle.dumps(v))) is FrozenDict
    assert copy.deepcopy(v) is v
    assert copy.copy(v) is v
    mutable = dict(v)  # a copy to build an update from
    mutable["c"] = 1
    assert v["c"] is None
    items = list(v["a"])
    items.append(2)
    assert v["a"] == [1, {"b": (2, [3])}]
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    assert freeze(cyclic)[0] is cyclic  # the cycle is kept where it closes


def test_snapshot_and_restore_keep_values_frozen() -> None:
    term = wf.seq(wf.wait_signal("go"), wf.task("bad", _append))
    st = start(term, copy.deepcopy(ORDER))
    again = ExecState.restore(wf.compile(term), st.snapshot())
    assert isinstance(again.ctx["items"], FrozenList)
    again.feed_signal("go")
    assert again.run() is Status.FAILED
    assert again.ctx["items"] == [1, 2]


def test_an_effect_gets_a_deeply_read_only_ctx() -> None:
    async def fetch(ctx: Mapping[str, Any]) -> None:
        return None

    st = start(wf.task("fetch", fetch), copy.deepcopy(ORDER))
    (cmd,) = st.take_outbox()
    with pytest.raises(TypeError, match="read-only"):
        cmd.ctx["order"]["qty"] = 0
    with pytest.raises(TypeError, match="read-only"):
        cmd.ctx["items"].append(3)
    assert st.ctx == ORDER


async def test_an_effect_mutating_its_ctx_fails_on_the_runtime_and_changes_nothing() -> None:
    async def sneaky(ctx: Mapping[str, Any]) -> None:
        await trio.lowlevel.checkpoint()
        ctx["order"]["qty"] = 0

    async with open_substrate() as sub:
        cid = await sub.new_case(wf.task("sneaky", sneaky), ctx=copy.deepcopy(ORDER))
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
        rs = [r for r in sub.receipts(cid) if r.task == "sneaky"]
    assert isinstance(info.value.cause, TypeError)
    assert info.value.result.ctx == ORDER
    assert [r.outcome for r in rs] == ["error"]


# ---------------------------------------------------------------------------
# item 13: updates and effect results are Mappings with str keys


@pytest.mark.parametrize("level", ["none", "full"])
@pytest.mark.parametrize("bad", [{1: "x"}, {"ok": 1, (2,): 3}, [("a", 1)], 42])
def test_a_pure_task_in_a_fused_run_returning_bad_updates_fails_naming_it(
    bad: Any, level: str
) -> None:
    term = wf.seq(wf.task("a", lambda c: {"a": 1}), wf.task("bad", lambda c: bad), nop("c"))
    st = start(term, trace_level=level)
    assert st.status is Status.FAILED
    assert isinstance(st.error, TaskError)
    assert "'bad'" in str(st.error)
    assert st.ctx == {"a": 1}


def test_a_str_subclass_key_is_a_str() -> None:
    class Key(str):
        pass

    st = start(wf.task("a", lambda c: {Key("k"): 1}))
    assert st.status is Status.DONE
    assert st.ctx == {"k": 1}


def test_a_step_task_returning_a_non_str_key_runs_on_error_or_fails() -> None:
    bad = wf.task("bad", lambda c: {1: 2}, on_error=wf.task("fix", lambda c: {"fixed": True}))
    st = start(bad)
    assert st.status is Status.DONE
    assert st.ctx == {"fixed": True}
    (failed,) = [ev for ev in st.events if ev.kind == "task_failed"]
    assert failed.name == "bad"
    assert failed.data["error_type"] == "TaskError"
    st = start(wf.task("audited", lambda c: {1: 2}, kind="review"))
    assert st.status is Status.FAILED
    assert "'audited'" in str(st.error)


@pytest.mark.parametrize("result", [{1: "x"}, ["a"], "text"])
def test_an_effect_result_that_is_no_str_keyed_mapping_fails_with_a_receipt(result: Any) -> None:
    async def fetch(ctx: Mapping[str, Any]) -> None:
        return None

    st = start(wf.task("fetch", fetch))
    (cmd,) = st.take_outbox()
    st.feed_effect(cmd.eid, result)
    assert st.run() is Status.FAILED
    assert isinstance(st.error, TaskError)
    assert "'fetch'" in str(st.error)
    (receipt,) = [ev for ev in st.events if ev.kind == "receipt"]
    assert receipt.data["outcome"] == "error"
    assert receipt.data["error_type"] == "TaskError"
    assert st.ctx == {}


async def test_an_effect_returning_int_keys_fails_the_case_on_the_runtime() -> None:
    async def fetch(ctx: Mapping[str, Any]) -> dict[int, str]:
        return {1: "x"}

    async with open_substrate() as sub:
        cid = await sub.new_case(wf.task("fetch", fetch))
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
        (r,) = [r for r in sub.receipts(cid) if r.task == "fetch"]
    assert isinstance(info.value.cause, TaskError)
    assert "'fetch'" in str(info.value.cause)
    assert (r.outcome, r.error_type) == ("error", "TaskError")


# ---------------------------------------------------------------------------
# item 11: recorded events cannot change


def test_a_recorded_task_event_cannot_be_changed_by_the_task_or_a_sink() -> None:
    kept: dict[str, Any] = {"x": 1}
    seen: list[Any] = []

    def sink(ev: Any) -> None:
        seen.append(ev)
        with pytest.raises(TypeError):
            ev.data["hacked"] = True

    st = start(wf.seq(wf.task("a", lambda c: kept), nop("b")), on_event=sink)
    kept["x"] = 2  # the task's own dict, changed after it was merged
    (a,) = [ev for ev in st.events if ev.name == "a"]
    assert a.data == {"x": 1}
    assert st.ctx == {"x": 1}
    assert seen


def test_engine_built_event_data_is_read_only_all_the_way_down() -> None:
    async def fetch(ctx: Mapping[str, Any]) -> None:
        return None

    st = start(wf.seq(wf.par(nop("a"), nop("b")), wf.task("fetch", fetch)), {"k": [1]})
    (cmd,) = st.take_outbox()
    st.feed_effect(cmd.eid, {"r": [1, 2]})
    st.run()
    (split,) = [ev for ev in st.events if ev.kind == "split"]
    with pytest.raises(TypeError):
        split.data["branches"].append(9)
    (done,) = [ev for ev in st.events if ev.kind == "effect_completed"]
    with pytest.raises(TypeError):
        done.data["result"]["r"].append(3)
    for ev in st.events:
        with pytest.raises(TypeError):
            ev.data["x"] = 1  # type: ignore[index]


# ---------------------------------------------------------------------------
# item 26: late discriminator branches


def test_a_late_discriminator_branch_s_updates_are_merged_and_marked_late() -> None:
    async def slow(ctx: Mapping[str, Any]) -> dict[str, str]:
        return {"winner": "slow", "slow_done": True}

    term = wf.seq(
        wf.join(wf.first(1), wf.task("fast", lambda c: {"winner": "fast"}), wf.task("slow", slow)),
        wf.task("go_on", lambda c: {"saw": c["winner"]}),
    )
    st = start(term)
    (cmd,) = st.take_outbox()
    assert st.ctx == {"winner": "fast", "saw": "fast"}  # the join fired on the fast branch
    st.feed_effect(cmd.eid, {"winner": "slow", "slow_done": True})
    assert st.run() is Status.DONE
    assert st.ctx == {"winner": "slow", "saw": "fast", "slow_done": True}  # applied, last wins
    (done,) = [ev for ev in st.events if ev.kind == "effect_completed"]
    assert done.data["late"] is True
    (absorbed,) = [ev for ev in st.events if ev.kind == "join_absorbed"]
    assert absorbed.data == {"arrived": 2, "late": True}
    assert absorbed.token == done.token


def test_an_on_time_effect_is_not_marked_late() -> None:
    async def slow(ctx: Mapping[str, Any]) -> None:
        return None

    st = start(wf.join(wf.first(1), wf.task("slow", slow), wf.wait_signal("never")))
    (cmd,) = st.take_outbox()
    st.feed_effect(cmd.eid, None)
    st.run()
    (done,) = [ev for ev in st.events if ev.kind == "effect_completed"]
    assert "late" not in done.data
