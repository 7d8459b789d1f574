"""The effect boundary on the real runtime: every outcome and its receipt, field by field.

Outcomes: ok (handler and async function), error, timeout, retry then ok,
retry exhausted, cancelled mid-flight (region, case, during a backoff),
disallowed (region and case allowlists) and over budget (count, cost,
time).  Everything runs under ``autojump_clock``, so times are exact.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.effects import causal_id, idempotency_key, root_case
from wftrio.errors import EffectSpecError, OptionError
from wftrio.receipts import stable_hash
from wftrio.runtime import open_substrate


def without_run(cid: str) -> str:
    """A causal id with its run nonce dropped: ``"c1~1f3a9c2e/t1/s1"`` -> ``"c1/t1/s1"``."""
    root, _, rest = cid.partition("/")
    return f"{root_case(root)}/{rest}"


class Recorder:
    """An effect handler scripted per kind: sleep, fail some attempts, return a result."""

    def __init__(
        self,
        *,
        sleep: float = 0.0,
        fail: int = 0,
        error: type[Exception] = ConnectionError,
        result: Mapping[str, Any] | None = None,
    ) -> None:
        self.sleep = sleep
        self.fail = fail
        self.error = error
        self.result = result
        self.calls: list[wf.EffectContext] = []
        self.effects: list[wf.Effect] = []
        self.cleaned = 0

    async def handle(self, effect: wf.Effect, ctx: wf.EffectContext) -> Mapping[str, Any] | None:
        self.calls.append(ctx)
        self.effects.append(effect)
        try:
            await trio.sleep(self.sleep)
        finally:
            self.cleaned += 1
        if self.fail:
            self.fail -= 1
            raise self.error(f"attempt {ctx.attempt} failed")
        return self.result if self.result is not None else {effect.kind: effect.payload}


def spec(kind: str, payload: Any = None, **kw: Any) -> Any:
    """A sync task function returning ``Effect(kind, payload, **kw)``."""

    def fn(ctx: Mapping[str, Any]) -> wf.Effect:
        return wf.Effect(kind, payload, **kw)

    fn.__qualname__ = f"spec({kind!r})"
    return fn


def effect_receipts(sub: wf.Substrate, cid: str) -> list[wf.Receipt]:
    return sub.receipts(cid, steps=False)


async def finish(sub: wf.Substrate, cid: str) -> wf.CaseResult:
    """Wait for a case, returning its result whatever the final state."""
    try:
        return await sub.wait(cid)
    except (wf.CaseFailed, wf.CaseCancelled) as exc:
        res: wf.CaseResult = exc.result
        return res


# ---------------------------------------------------------------------------
# ok


async def test_effect_spec_ok_receipt_field_by_field(
    autojump_clock: trio.testing.MockClock,
) -> None:
    h = Recorder(sleep=1.5, result={"paid": 7})
    term = wf.seq(
        wf.task("price", lambda ctx: {"amount": 7}),
        wf.task("pay", lambda ctx: wf.Effect("payment", {"amount": ctx["amount"]}, cost=2.5)),
    )
    async with open_substrate(effect_handler=h) as sub:
        await trio.sleep(3)  # case time is relative to the case's start
        cid = await sub.new_case(term, {"order": 1}, case_id="c1")
        res = await sub.wait(cid)
        assert res.ctx == {"order": 1, "amount": 7, "paid": 7}
        (r,) = effect_receipts(sub, cid)
    assert without_run(r.causal_id) == "c1/t1/s1" == causal_id("c1", 1, 1)
    assert r.kind == "payment"
    assert r.task == "pay"
    assert r.outcome == "ok"
    assert r.ok
    assert r.attempts == 1
    assert (r.started, r.ended) == (0.0, 1.5)
    assert r.request == stable_hash({"task": "pay", "kind": "payment", "payload": {"amount": 7}})
    assert r.result == stable_hash({"paid": 7})
    assert r.key == idempotency_key(r.causal_id) == h.calls[0].key
    assert r.cost == 2.5
    assert (r.error_type, r.error, r.detail) == (None, None, None)
    assert r.source == "effect"
    (ectx,) = h.calls
    assert ectx.case_id == "c1"
    assert ectx.causal_id == r.causal_id
    assert ectx.attempt == 1
    assert ectx.task == "pay"
    assert ectx.kind == "payment"
    assert dict(ectx.ctx) == {"order": 1, "amount": 7}
    assert h.effects == [wf.Effect("payment", {"amount": 7}, cost=2.5)]


async def test_async_function_effect_gets_its_context(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[wf.EffectContext] = []

    async def fetch(ctx: Mapping[str, Any]) -> dict[str, Any]:
        seen.append(wf.current_effect())
        await trio.sleep(2)
        return {"fetched": ctx["url"]}

    term = wf.task("fetch", fetch, kind="http", cost=1)
    async with open_substrate() as sub:
        cid = await sub.new_case(term, {"url": "u"}, case_id="c2")
        await sub.wait(cid)
        (r,) = effect_receipts(sub, cid)
    assert (r.kind, r.task, r.outcome, r.attempts, r.started, r.ended, r.cost) == (
        "http",
        "fetch",
        "ok",
        1,
        0.0,
        2.0,
        1.0,
    )
    assert r.request == stable_hash({"task": "fetch", "kind": "http", "ctx": {"url": "u"}})
    assert r.result == stable_hash({"fetched": "u"})
    (ectx,) = seen
    assert (ectx.key, ectx.kind, ectx.attempt) == (r.key, "http", 1)
    with pytest.raises(wf.WftrioError, match="only available inside an effect"):
        wf.current_effect()


async def test_bind_effect_is_the_public_way_to_set_the_current_effect() -> None:
    from wftrio.effects import EffectContext, bind_effect

    outer = EffectContext("c", "c/t0/s1", "k1", "a", "ka", 1, {})
    inner = EffectContext("c", "c/t1/s2", "k2", "b", "kb", 2, {})
    seen: list[str] = []

    async def handler(effect: wf.Effect, ectx: EffectContext) -> None:
        seen.append(wf.current_effect().key)

    with bind_effect(outer) as got:
        assert got is outer

        async def fails_inside() -> None:
            with bind_effect(inner):
                await handler(wf.Effect("kb"), inner)
                raise KeyError("the binding is undone on the way out")

        with pytest.raises(KeyError):
            await fails_inside()
        assert wf.current_effect() is outer
        await handler(wf.Effect("ka"), outer)
    assert seen == ["k2", "k1"]
    with pytest.raises(wf.WftrioError, match="only available inside an effect"):
        wf.current_effect()
    # the runtime binds it through the same public API, not a private variable
    import wftrio.runtime._effects as rt_effects

    assert not hasattr(rt_effects, "_CURRENT")


async def test_async_effect_kind_defaults_to_task_name() -> None:
    async def ping(ctx: Mapping[str, Any]) -> None:
        return None

    async with open_substrate() as sub:
        cid = await sub.new_case(wf.task("ping", ping))
        res = await sub.wait(cid)
        (r,) = effect_receipts(sub, cid)
    assert (r.kind, r.result) == ("ping", stable_hash(None))
    assert [ev.data["kind"] for ev in res.trace if ev.kind == "effect_requested"] == ["ping"]


async def test_mapping_handler_by_kind_and_missing_kind() -> None:
    async def mail(effect: wf.Effect, ctx: wf.EffectContext) -> dict[str, Any]:
        return {"mailed": effect.payload}

    term = wf.seq(
        wf.task("m", spec("mail", "hi")),
        wf.task("s", spec("sms", "yo"), retry=wf.Retry(5)),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term, effect_handler={"mail": mail})
        res = await finish(sub, cid)
        assert res.state is wf.CaseState.FAILED
        assert isinstance(res.error, wf.NoHandler)
        ok, missing = effect_receipts(sub, cid)
    assert (ok.outcome, ok.result) == ("ok", stable_hash({"mailed": "hi"}))
    # a missing handler is configuration, not the world: never retried
    assert (missing.outcome, missing.attempts, missing.error_type) == ("error", 1, "NoHandler")
    assert "'sms'" in (missing.error or "")
    assert not [ev for ev in res.trace if ev.kind == "effect_retry"]


async def test_effect_without_any_handler_fails_with_no_handler() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(wf.task("x", spec("db")))
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
    assert isinstance(info.value.cause, wf.NoHandler)
    assert "no effect_handler" in str(info.value.cause)


async def test_async_callable_object_in_mapping_and_handle_method() -> None:
    class Call:
        async def __call__(self, effect: wf.Effect, ctx: wf.EffectContext) -> dict[str, int]:
            return {"n": 1}

    async with open_substrate(effect_handler={"k": Call()}) as sub:
        res = await sub.wait(await sub.new_case(wf.task("t", spec("k"))))
    assert res.ctx == {"n": 1}


# ---------------------------------------------------------------------------
# error, timeout, retries


async def test_error_receipt_and_case_failure(autojump_clock: trio.testing.MockClock) -> None:
    h = Recorder(sleep=0.5, fail=1, error=ValueError)
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(wf.seq(wf.task("x", spec("db", 1)), wf.task("after", put)))
        res = await finish(sub, cid)
        (r,) = effect_receipts(sub, cid)
    assert res.state is wf.CaseState.FAILED
    assert isinstance(res.error, ValueError)
    assert "after" not in res.ctx
    assert (r.outcome, r.attempts, r.started, r.ended) == ("error", 1, 0.0, 0.5)
    assert (r.error_type, r.error, r.result) == ("ValueError", "attempt 1 failed", None)
    kinds = [ev.kind for ev in res.trace if ev.kind in ("effect_failed", "receipt", "task_failed")]
    assert kinds == ["effect_failed", "receipt", "task_failed"]
    failed = next(ev for ev in res.trace if ev.kind == "effect_failed")
    assert failed.data["outcome"] == "error"
    assert failed.data["attempts"] == 1


def put(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"after": True}


async def test_timeout_receipt(autojump_clock: trio.testing.MockClock) -> None:
    h = Recorder(sleep=100)
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(wf.task("slow", spec("db"), timeout=2.5))
        res = await finish(sub, cid)
        (r,) = effect_receipts(sub, cid)
    assert isinstance(res.error, wf.EffectTimeout)
    assert isinstance(res.error, TimeoutError)
    assert (r.outcome, r.attempts, r.started, r.ended) == ("timed_out", 1, 0.0, 2.5)
    assert r.error_type == "EffectTimeout"
    assert "timeout of 2.5s" in (r.error or "")
    assert h.cleaned == 1  # the attempt was cancelled and cleaned up


async def test_timeout_of_async_function(autojump_clock: trio.testing.MockClock) -> None:
    async def hang(ctx: Mapping[str, Any]) -> None:
        await trio.sleep_forever()

    async with open_substrate() as sub:
        cid = await sub.new_case(wf.task("hang", hang, timeout=1))
        res = await finish(sub, cid)
        (r,) = effect_receipts(sub, cid)
    assert (r.outcome, r.ended) == ("timed_out", 1.0)
    assert res.state is wf.CaseState.FAILED


async def test_retry_then_ok(autojump_clock: trio.testing.MockClock) -> None:
    h = Recorder(sleep=0.25, fail=2)
    term = wf.task("x", spec("db", 1), retry=wf.Retry(4, backoff=0.5, factor=3))
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(term)
        res = await sub.wait(cid)
        (r,) = effect_receipts(sub, cid)
        stats = sub.stats()
    # attempt 1: 0-0.25, wait 0.5; attempt 2: 0.75-1.0, wait 1.5; attempt 3: 2.5-2.75
    assert (r.outcome, r.attempts, r.started, r.ended) == ("ok", 3, 0.0, 2.75)
    assert [c.attempt for c in h.calls] == [1, 2, 3]
    assert len({c.key for c in h.calls}) == 1
    assert h.calls[0].key == r.key
    retries = [ev for ev in res.trace if ev.kind == "effect_retry"]
    assert [(ev.data["attempt"], ev.data["delay"], ev.time) for ev in retries] == [
        (1, 0.5, 0.25),
        (2, 1.5, 1.0),
    ]
    assert retries[0].data["error_type"] == "ConnectionError"
    assert stats.effect_retries == 2


async def test_retry_exhausted(autojump_clock: trio.testing.MockClock) -> None:
    h = Recorder(fail=10)
    term = wf.task("x", spec("db"), retry=wf.Retry(3, backoff=1, max_backoff=1.5))
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(term)
        res = await finish(sub, cid)
        (r,) = effect_receipts(sub, cid)
    assert (r.outcome, r.attempts, r.started, r.ended) == ("error", 3, 0.0, 2.5)
    assert r.error == "attempt 3 failed"
    assert res.state is wf.CaseState.FAILED
    assert isinstance(res.error, ConnectionError)


async def test_retry_only_on_listed_exceptions() -> None:
    h = Recorder(fail=5, error=KeyError)
    term = wf.task("x", spec("db"), retry=wf.Retry(3, on=ConnectionError))
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(term)
        await finish(sub, cid)
        (r,) = effect_receipts(sub, cid)
    assert (r.outcome, r.attempts, r.error_type) == ("error", 1, "KeyError")


async def test_timeouts_are_retried(autojump_clock: trio.testing.MockClock) -> None:
    h = Recorder(sleep=10)
    term = wf.task("x", spec("db"), timeout=1, retry=wf.Retry(2, backoff=0.5))
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(term)
        await finish(sub, cid)
        (r,) = effect_receipts(sub, cid)
    assert (r.outcome, r.attempts, r.started, r.ended) == ("timed_out", 2, 0.0, 2.5)


async def test_on_error_compensates_a_failed_effect(
    autojump_clock: trio.testing.MockClock,
) -> None:
    h = Recorder(fail=1)
    term = wf.seq(
        wf.task("x", spec("db"), on_error=wf.task("undo", lambda ctx: {"undone": True})),
        wf.task("after", put),
    )
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(term)
        res = await sub.wait(cid)
        (r,) = effect_receipts(sub, cid)
    assert res.ctx == {"undone": True, "after": True}
    assert r.outcome == "error"
    (failed,) = [ev for ev in res.trace if ev.kind == "task_failed"]
    assert failed.name == "x"
    assert failed.data["on_error"] is True
    assert failed.data["error_type"] == "ConnectionError"


async def test_on_error_of_a_raising_sync_task() -> None:
    def boom(ctx: Mapping[str, Any]) -> None:
        raise RuntimeError("boom")

    term = wf.seq(
        wf.task("b", boom, on_error=wf.task("c", lambda ctx: {"c": 1})), wf.task("d", put)
    )
    async with open_substrate() as sub:
        res = await sub.wait(await sub.new_case(term))
    assert res.ctx == {"c": 1, "after": True}


# ---------------------------------------------------------------------------
# cancellation


async def test_region_cancel_mid_flight(autojump_clock: trio.testing.MockClock) -> None:
    h = Recorder(sleep=50)
    term = wf.seq(
        wf.region("r", wf.task("x", spec("db", 1), timeout=100), compensate=wf.task("comp", put)),
        wf.task("end", lambda ctx: {"end": True}),
    )
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(term, case_id="c")
        await trio.sleep(4)
        await sub.cancel_region(cid, "r")
        res = await sub.wait(cid)
        (r,) = effect_receipts(sub, cid)
    assert res.ctx == {"after": True, "end": True}  # the result never applied
    assert h.cleaned == 1
    assert without_run(r.causal_id) == "c/t1/s1"  # step 0 entered the region
    assert (r.outcome, r.attempts, r.started, r.ended, r.result) == ("cancelled", 1, 0.0, 4.0, None)
    assert (r.error_type, r.error) == (None, None)
    assert r.request == stable_hash({"task": "x", "kind": "db", "payload": 1})
    kinds = [ev.kind for ev in res.trace if ev.kind in ("effect_cancelled", "receipt")]
    assert kinds == ["effect_cancelled", "receipt"]


async def test_case_cancel_mid_flight(autojump_clock: trio.testing.MockClock) -> None:
    h = Recorder(sleep=50)
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(wf.par(wf.task("x", spec("a")), wf.task("y", spec("b"))))
        await trio.sleep(1)
        await sub.cancel(cid)
        res = await finish(sub, cid)
        rs = effect_receipts(sub, cid)
    assert res.state is wf.CaseState.CANCELLED
    assert h.cleaned == 2
    assert [(r.task, r.outcome, r.ended) for r in rs] == [
        ("x", "cancelled", 1.0),
        ("y", "cancelled", 1.0),
    ]


async def test_cancel_during_backoff_counts_the_pending_attempt(
    autojump_clock: trio.testing.MockClock,
) -> None:
    h = Recorder(fail=10)
    term = wf.region("r", wf.task("x", spec("db"), retry=wf.Retry(5, backoff=10)))
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(term)
        await trio.sleep(15)  # attempt 1 at 0, attempt 2 at 10, now backing off 20 s
        await sub.cancel_region(cid, "r")
        res = await sub.wait(cid)
        (r,) = effect_receipts(sub, cid)
    assert len(h.calls) == 2
    assert (r.outcome, r.attempts, r.ended) == ("cancelled", 3, 15.0)
    assert res.state is wf.CaseState.DONE


async def test_cancelling_join_withdraws_the_slower_effect(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow(ctx: Mapping[str, Any]) -> dict[str, bool]:
        await trio.sleep(10)
        return {"slow": True}

    async def fast(ctx: Mapping[str, Any]) -> dict[str, bool]:
        await trio.sleep(1)
        return {"fast": True}

    term = wf.join(wf.first(1, cancel_rest=True), wf.task("slow", slow), wf.task("fast", fast))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        res = await sub.wait(cid)
        rs = effect_receipts(sub, cid)
    assert res.ctx == {"fast": True}
    assert sorted((r.task, r.outcome, r.ended) for r in rs) == [
        ("fast", "ok", 1.0),
        ("slow", "cancelled", 1.0),
    ]


# ---------------------------------------------------------------------------
# governance: allowlists and budgets


async def test_disallowed_by_region(autojump_clock: trio.testing.MockClock) -> None:
    h = Recorder()
    term = wf.region(
        "outer",
        wf.region("inner", wf.task("mail", spec("mail", "hi")), allow={"mail", "db"}),
        allow={"db"},
    )
    async with open_substrate(effect_handler=h) as sub:
        await trio.sleep(2)
        cid = await sub.new_case(term, case_id="g")
        res = await finish(sub, cid)
        (r,) = effect_receipts(sub, cid)
    assert h.calls == []  # never ran
    assert res.state is wf.CaseState.FAILED
    err = res.error
    assert isinstance(err, wf.GuardViolation)
    assert isinstance(err, PermissionError)
    assert (err.kind, err.task, err.scope, err.allowed) == ("mail", "mail", "outer", ("db",))
    assert without_run(r.causal_id) == "g/t1/s2"
    assert (r.kind, r.task, r.outcome, r.attempts, r.started, r.ended) == (
        "mail",
        "mail",
        "disallowed",
        0,
        0.0,
        0.0,
    )
    assert r.request == stable_hash({"task": "mail", "kind": "mail", "payload": "hi"})
    assert (r.result, r.cost, r.key) == (None, 0.0, idempotency_key(r.causal_id))
    assert r.error_type == "GuardViolation"
    assert "region 'outer'" in (r.error or "")
    assert r.detail == {
        "violation": "allowlist",
        "kind": "mail",
        "task": "mail",
        "scope": "outer",
        "allowed": ["db"],
    }
    assert not [ev for ev in res.trace if ev.kind == "effect_requested"]


async def test_disallowed_by_case_option_and_on_error() -> None:
    async def http(ctx: Mapping[str, Any]) -> None:
        raise AssertionError("must not run")

    term = wf.seq(
        wf.task("get", http, kind="http", on_error=wf.task("skip", lambda ctx: {"skipped": 1})),
        wf.task("after", put),
    )
    async with open_substrate(allow={"db"}) as sub:
        cid = await sub.new_case(term)
        res = await sub.wait(cid)
        (r,) = effect_receipts(sub, cid)
        cid2 = await sub.new_case(term, allow={"http"})
        res2 = await sub.wait(cid2)
    assert res.ctx == {"skipped": 1, "after": True}
    assert (r.outcome, r.detail and r.detail["scope"]) == ("disallowed", None)
    assert "this case" in (r.error or "")
    assert "skipped" in res2.ctx  # allowed kind ran (and raised), compensated


async def test_over_budget_effect_count(autojump_clock: trio.testing.MockClock) -> None:
    h = Recorder(sleep=1)
    term = wf.seq(*(wf.task(f"t{i}", spec("db", i)) for i in range(3)))
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(term, budget=wf.Budget(max_effects=2))
        res = await finish(sub, cid)
        rs = effect_receipts(sub, cid)
        usage = sub.status(cid).budget
    assert len(h.calls) == 2
    assert [(r.task, r.outcome, r.attempts) for r in rs] == [
        ("t0", "ok", 1),
        ("t1", "ok", 1),
        ("t2", "over_budget", 0),
    ]
    r = rs[2]
    assert (r.started, r.ended, r.result, r.error_type) == (2.0, 2.0, None, "BudgetExceeded")
    assert r.detail == {
        "violation": "budget",
        "resource": "effects",
        "limit": 2,
        "used": 2,
        "requested": 1,
        "kind": "db",
        "task": "t2",
    }
    err = res.error
    assert isinstance(err, wf.BudgetExceeded)
    assert (err.resource, err.limit, err.used) == (
        "effects",
        2,
        2,
    )
    assert (usage.effects, usage.time, usage.cost) == (2, 2.0, 0.0)
    assert usage.budget == wf.Budget(max_effects=2)
    assert usage.remaining == {"effects": 0, "time": None, "cost": None}


async def test_over_budget_cost_and_status_while_live(
    autojump_clock: trio.testing.MockClock,
) -> None:
    h = Recorder(sleep=1)
    term = wf.seq(
        wf.task("a", spec("db"), cost=4),
        wf.wait_signal("go"),
        wf.task("b", spec("db", cost=7), cost=1),  # the Effect's own cost wins
    )
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(term, budget={"max_cost": 10})
        await sub.wait_state(cid, wf.CaseState.WAITING_SIGNAL)
        live = sub.status(cid).budget
        await sub.signal(cid, "go")
        res = await finish(sub, cid)
        rs = effect_receipts(sub, cid)
    assert (live.effects, live.cost, live.time) == (1, 4.0, 1.0)
    assert live.remaining == {"effects": None, "time": None, "cost": 6.0}
    assert [(r.outcome, r.cost) for r in rs] == [("ok", 4.0), ("over_budget", 0.0)]
    assert rs[1].detail is not None
    assert rs[1].detail["requested"] == 7.0
    assert isinstance(res.error, wf.BudgetExceeded)
    assert res.error.resource == "cost"


async def test_over_budget_time(autojump_clock: trio.testing.MockClock) -> None:
    h = Recorder(sleep=3)
    term = wf.seq(wf.task("a", spec("db")), wf.task("b", spec("db")), wf.task("c", spec("db")))
    async with open_substrate(effect_handler=h, budget=wf.Budget(max_time=5)) as sub:
        cid = await sub.new_case(term)
        res = await finish(sub, cid)
        rs = effect_receipts(sub, cid)
        usage = sub.status(cid).budget
    # a and b ran (3 s each: 6 s, overshooting 5 while b was in flight); c is refused
    assert [r.outcome for r in rs] == ["ok", "ok", "over_budget"]
    assert isinstance(res.error, wf.BudgetExceeded)
    assert (res.error.resource, res.error.used, res.error.requested) == ("time", 6.0, None)
    assert usage.time == 6.0
    assert usage.remaining["time"] == 0.0


async def test_refused_effects_do_not_count_against_the_budget() -> None:
    h = Recorder()
    skip = wf.task("skip", lambda ctx: None)
    term = wf.seq(
        wf.region("r", wf.task("a", spec("mail"), on_error=skip), allow={"db"}),
        wf.task("b", spec("db")),
    )
    async with open_substrate(effect_handler=h) as sub:
        cid = await sub.new_case(term, budget=wf.Budget(max_effects=1))
        await sub.wait(cid)
        assert sub.status(cid).budget.effects == 1
        assert [r.outcome for r in effect_receipts(sub, cid)] == ["disallowed", "ok"]


# ---------------------------------------------------------------------------
# declared kinds, audited steps, receipts of steps


async def test_declared_kind_must_match_the_effect() -> None:
    async with open_substrate(effect_handler=Recorder()) as sub:
        cid = await sub.new_case(wf.task("x", spec("sms"), kind="mail"))
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
    assert isinstance(info.value.cause, wf.TaskError)
    assert "kind='mail'" in str(info.value.cause)


async def test_audited_step_and_step_receipts() -> None:
    term = wf.seq(
        wf.task("plain", lambda ctx: {"p": 1}),
        wf.task("audit", lambda ctx: {"who": "ann"}, kind="review"),
        wf.task("pay", spec("db", 1)),
    )
    async with open_substrate(effect_handler=Recorder()) as sub:
        cid = await sub.new_case(term, case_id="s")
        res = await sub.wait(cid)
        rs = sub.receipts(cid)
        assert res.receipts() == rs
        assert sub.receipts(cid, steps=False) == rs[1:]
    plain, audit, pay = rs
    assert (plain.kind, plain.source, plain.outcome, plain.attempts) == ("step", "step", "ok", 1)
    assert without_run(plain.causal_id).startswith("s/t1/e")
    assert plain.key is None
    assert plain.result == stable_hash({"p": 1})
    assert plain.request == stable_hash({"task": "plain", "kind": "step"})
    assert (audit.kind, audit.source, audit.detail) == ("review", "audit", {"who": "ann"})
    assert without_run(audit.causal_id) == "s/t1/s1"
    assert audit.request == stable_hash({"task": "audit", "kind": "review", "ctx": {"p": 1}})
    assert audit.result == stable_hash({"who": "ann"})
    assert (pay.task, pay.source) == ("pay", "effect")  # its task_completed is not a step
    assert len([ev for ev in res.trace if ev.kind == "task_completed"]) == 3


async def test_receipts_by_trace_level() -> None:
    term = wf.seq(wf.task("a", put), wf.task("b", spec("db")))
    async with open_substrate(effect_handler=Recorder()) as sub:
        full = await sub.new_case(term, trace_level="full")
        low = await sub.new_case(term, trace_level="min")
        off = await sub.new_case(term, trace_level="none")
        for cid in (full, low, off):
            await sub.wait(cid)
        assert [r.task for r in sub.receipts(full)] == ["a", "b"]
        assert [r.task for r in sub.receipts(low)] == ["b"]
        assert sub.receipts(off) == []
        assert sub.status(off).budget.effects == 1  # governance works without a trace
        with pytest.raises(wf.UnknownCase):
            sub.receipts("nope")


# ---------------------------------------------------------------------------
# options


async def test_bad_effect_options_raise_option_errors() -> None:
    async with open_substrate() as sub:
        term = wf.task("a", put)
        with pytest.raises(OptionError, match="effect_handler"):
            await sub.new_case(term, effect_handler=lambda e, c: None)
        with pytest.raises(OptionError, match="effect_handler"):
            await sub.new_case(term, effect_handler={"k": lambda e, c: None})
        with pytest.raises(OptionError, match="budget"):
            await sub.new_case(term, budget={"max_money": 3})
        with pytest.raises(OptionError, match="max_effects"):
            await sub.new_case(term, budget={"max_effects": -1})
        with pytest.raises(OptionError, match="allow"):
            await sub.new_case(term, allow="db")
        with pytest.raises(OptionError, match="allow"):
            await sub.new_case(term, allow={"db", 3})
        assert sub.case_ids() == []
    with pytest.raises(OptionError, match="effect_handler"):
        open_substrate(effect_handler=object())


def test_effect_spec_validation() -> None:
    with pytest.raises(EffectSpecError, match="kind"):
        wf.Effect("")
    with pytest.raises(EffectSpecError, match="cost"):
        wf.Effect("k", cost=-1)
    with pytest.raises(TypeError):
        wf.Effect("k", cost=float("nan"))
    e = wf.Effect("k", {"a": [1]}, cost=2)
    assert e.cost == 2.0
    assert repr(e) == "Effect('k', {'a': [1]}, cost=2.0)"
    assert e == wf.Effect("k", {"a": [1]}, cost=2.0)


async def test_sync_wf_run_with_effect_handler() -> None:
    h = Recorder()
    res = await trio.to_thread.run_sync(
        lambda: wf.run(wf.task("t", spec("db", 5)), effect_handler=h, case_id="r")
    )
    assert res.ctx == {"db": 5}
    assert without_run(res.receipts()[0].causal_id) == "r/t1/s0"
