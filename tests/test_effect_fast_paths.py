"""The effect fast paths change no behaviour (issue #12; timings are the bench's job).

* an async task function runs with its ``EffectContext`` bound lazily: what
  ``current_effect()`` returns inside it is the context the runtime always
  gave (same fields, one object per attempt, a new one per retry), and it is
  unbound afterwards;
* a receipt is built from its parts when the trace is read: the events are
  those an eager recorder (``on_event``) records, and they pickle and replay;
* the substrate's live count drives ``drain()`` and ``stats()`` as before;
* ``CaseResult.ctx`` is the final ctx, a plain dict of its own.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.lowlevel
import trio.testing

import wftrio as wf
from wftrio.effects import EffectContext, bind_effect, current_effect, idempotency_key
from wftrio.engine import ExecState, StartEffect, Status
from wftrio.engine._receipt_records import PendingReceipt
from wftrio.errors import EffectContextError
from wftrio.receipts import Receipt, receipts
from wftrio.runtime import open_substrate
from wftrio.scheduling import Replay

Ctx = Mapping[str, Any]


async def test_current_effect_inside_an_async_task_gives_the_full_context() -> None:
    seen: list[tuple[EffectContext, EffectContext]] = []

    async def fx(ctx: Ctx) -> dict[str, Any]:
        first = current_effect()
        await trio.lowlevel.checkpoint()
        seen.append((first, current_effect()))
        return {"done": True}

    async with open_substrate() as sub:
        cid = await sub.new_case(wf.task("pay", fx, kind="payment"), {"n": 3})
        res = await sub.wait(cid)
    assert res.state is wf.CaseState.DONE
    ((a, b),) = seen
    assert a is b  # one context per attempt, however often it is asked for
    assert type(a) is EffectContext
    (r,) = receipts(res.trace, steps=False)
    assert a == EffectContext(cid, r.causal_id, r.key, "pay", "payment", 1, {"n": 3})
    assert a.key == idempotency_key(a.causal_id)
    with pytest.raises(EffectContextError):
        current_effect()  # unbound again outside the effect


async def test_each_retry_sees_its_attempt_number_and_the_binding_is_restored() -> None:
    attempts: list[int] = []
    outer = EffectContext("x", "x/t0/s0", "k", "outer", "outer", 7, {})

    async def flaky(ctx: Ctx) -> dict[str, Any]:
        attempts.append(current_effect().attempt)
        if len(attempts) < 3:
            raise OSError("down")
        return {"ok": True}

    async with open_substrate() as sub:
        with bind_effect(outer):
            term = wf.task("f", flaky, retry=wf.Retry(attempts=3, backoff=0.0))
            cid = await sub.new_case(term)
            res = await sub.wait(cid)
            assert current_effect() is outer  # the runner's task does not leak into ours
    assert res.state is wf.CaseState.DONE
    assert attempts == [1, 2, 3]
    (r,) = receipts(res.trace, steps=False)
    assert (r.outcome, r.attempts) == ("ok", 3)


async def test_a_handler_still_receives_the_context_it_is_bound_to() -> None:
    got: list[tuple[EffectContext, EffectContext]] = []

    async def handler(effect: wf.Effect, ectx: EffectContext) -> dict[str, Any]:
        got.append((ectx, current_effect()))
        return {"paid": effect.payload}

    term = wf.task("pay", lambda c: wf.Effect("payment", 5))
    async with open_substrate() as sub:
        cid = await sub.new_case(term, effect_handler={"payment": handler})
        res = await sub.wait(cid)
    assert res.ctx == {"paid": 5}
    ((ectx, cur),) = got
    assert ectx is cur
    assert (ectx.task, ectx.kind, ectx.attempt) == ("pay", "payment", 1)


def _fx(key: str, fail: bool = False) -> Any:
    async def fx(ctx: Ctx) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        if fail:
            raise ValueError("no")
        return {key: 1}

    return fx


def test_lazily_built_receipts_equal_eager_ones_and_pickle_as_events() -> None:
    term = wf.par(
        wf.task("a", _fx("x"), kind="http", cost=2.5),
        wf.task("b", _fx("y", fail=True), on_error=wf.task("fix", lambda c: {"f": 1})),
    )
    prog = wf.compile(term)
    traces = []
    for on_event in (None, lambda ev: None):
        st = ExecState(prog, {"k": 1}, trace_level="min", on_event=on_event)
        while st.run() is Status.BLOCKED:
            for c in st.take_outbox():
                if isinstance(c, StartEffect):
                    if c.name == "b":
                        st.feed_effect(c.eid, None, error=ValueError("no"), attempts=2)
                    else:
                        st.feed_effect(c.eid, {"x": 1}, started=0.5, ended=1.5)
        if on_event is None:
            pending = [e for e in st._events if type(e) is PendingReceipt]
            assert len(pending) == 2
            # built when read: the error's from its arguments, the ok one from
            # its closed EffectMeta (no tuple of arguments per ok outcome)
            assert not any(isinstance(p.receipt, Receipt) for p in pending)
            assert {type(p.receipt).__name__ for p in pending} == {"tuple", "EffectMeta"}
            for p in pending:
                assert pickle.loads(pickle.dumps(p)) == p.events()[0]
        traces.append(st.events)
    assert traces[0] == traces[1]
    rs = {r.task: r for r in receipts(traces[0], steps=False)}
    assert (rs["a"].outcome, rs["a"].cost, rs["a"].started, rs["a"].ended) == ("ok", 2.5, 0.5, 1.5)
    assert (rs["b"].outcome, rs["b"].attempts, rs["b"].error_type) == ("error", 2, "ValueError")


async def test_a_trace_with_lazy_receipts_replays_to_the_same_trace() -> None:
    term = wf.seq(wf.task("a", _fx("x")), wf.task("b", _fx("y")))
    async with open_substrate() as sub:
        cid = await sub.new_case(term, {"n": 1}, trace_level="full")
        first = await sub.wait(cid)
        sub.forget(cid)
        replay = Replay(wf.replay_log(first.trace))
        again = await sub.wait(await sub.new_case(term, {"n": 1}, scheduler=replay))
    assert again.ctx == first.ctx
    assert receipts(again.trace) == receipts(first.trace)


async def test_drain_and_stats_follow_the_live_count() -> None:
    term = wf.seq(wf.wait_signal("go"), wf.task("t", lambda c: {"t": 1}))
    async with open_substrate() as sub:
        await sub.drain()  # nothing live: returns at once
        ids = [await sub.new_case(term) for _ in range(3)]
        assert sub.stats().live_cases == 3
        drained = trio.Event()

        async def drain() -> None:
            await sub.drain()
            drained.set()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(drain)
            for cid in ids[:2]:
                await sub.signal(cid, "go")
                await sub.wait(cid)
            await trio.testing.wait_all_tasks_blocked()
            assert not drained.is_set()
            assert sub.stats().live_cases == 1
            await sub.signal(ids[2], "go")
        assert drained.is_set()
        assert sub.stats().live_cases == 0
        assert "live=0" in repr(sub)


async def test_the_result_ctx_is_the_final_ctx_as_a_plain_dict() -> None:
    async with open_substrate() as sub:
        start = {"n": 1}
        cid = await sub.new_case(wf.task("t", lambda c: {"m": c["n"] + 1}), start)
        res = await sub.wait(cid)
    assert type(res.ctx) is dict
    assert res.ctx == {"n": 1, "m": 2}
    assert start == {"n": 1}
    assert res.ctx is not start


@pytest.mark.parametrize("level", ["min", "full"])
async def test_a_par_of_effects_fed_in_one_batch_replays_to_the_same_trace(level: str) -> None:
    # the runner feeds the outcomes of a burst as one batch, which takes the
    # branches' join arrivals itself (min): a replay feeds them one at a
    # time and lets the run loop take those steps, to the same trace
    async def fx(ctx: Mapping[str, Any]) -> dict[str, Any]:
        await trio.lowlevel.checkpoint()
        return {"k": ctx["n"]}

    term = wf.seq(wf.par(*(wf.task(f"e{i}", fx) for i in range(8))), wf.task("z", _fx("z")))
    async with open_substrate() as sub:
        cid = await sub.new_case(term, {"n": 1}, trace_level=level)
        first = await sub.wait(cid)
        sub.forget(cid)
        replay = Replay(wf.replay_log(first.trace))
        cid = await sub.new_case(term, {"n": 1}, trace_level=level, scheduler=replay)
        again = await sub.wait(cid)
    assert again.ctx == first.ctx
    assert again.steps == first.steps

    def shape(trace: list[Any]) -> list[Any]:
        keys = ("at_step", "eid", "causal_id", "result", "steps")
        return [(e.kind, e.name, e.token, e.scope, [e.data.get(k) for k in keys]) for e in trace]

    assert shape(again.trace) == shape(first.trace)
    assert any(e.data.get("at_step") for e in first.trace)
    assert receipts(again.trace) == receipts(first.trace)
