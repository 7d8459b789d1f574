"""Causal ids, idempotency keys and receipts across replays, resumes and snapshots."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.engine import ExecState, StartEffect, Status, pending_commands
from wftrio.engine.replay import run_with_inputs
from wftrio.receipts import receipts, stable_hash
from wftrio.runtime import open_substrate
from wftrio.serialize import dumps_snapshot, loads_snapshot
from wftrio.testing import check_invariants


class Ledger:
    """A handler that makes effects at-most-once by their idempotency key.

    The remote side commits an effect (``executed``) as soon as it sees a new
    key, then answers slowly; the same key again gets the stored answer.
    ``seen`` is every (key, attempt) the handler was called with.
    """

    def __init__(self, slow: float = 1.0, fail_first: int = 0) -> None:
        self.slow = slow
        self.fail_first = fail_first
        self.seen: list[tuple[str, int]] = []
        self.executed: list[str] = []
        self.answers: dict[str, Mapping[str, Any]] = {}

    async def handle(self, effect: wf.Effect, ctx: wf.EffectContext) -> Mapping[str, Any]:
        self.seen.append((ctx.key, ctx.attempt))
        if self.fail_first:
            self.fail_first -= 1
            raise ConnectionError("flaky")
        if ctx.key not in self.answers:
            self.executed.append(ctx.key)
            self.answers[ctx.key] = {effect.kind: len(self.executed)}
        await trio.sleep(self.slow)
        return self.answers[ctx.key]


def spec(kind: str) -> Any:
    def fn(ctx: Mapping[str, Any]) -> wf.Effect:
        return wf.Effect(kind, dict(ctx))

    return fn


TERM = wf.seq(
    wf.task("a", spec("charge"), retry=wf.Retry(3, backoff=0.5)),
    wf.wait_signal("go", store_as="go"),
    wf.par(wf.task("b", spec("ship")), wf.task("c", spec("mail"), timeout=30)),
)


def as_json(rs: list[wf.Receipt]) -> list[str]:
    return [r.to_json() for r in rs]


async def test_full_replay_calls_no_handler_and_reproduces_receipts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ledger = Ledger(fail_first=1)
    async with open_substrate(effect_handler=ledger) as sub:
        cid = await sub.new_case(TERM, {"n": 1}, case_id="orig")
        await trio.sleep(3)
        await sub.signal(cid, "go", 9)
        original = await sub.wait(cid)
        seen = list(ledger.seen)
        first = sub.receipts(cid)
        log = wf.replay_log(original.trace)
        # a replay continues the recorded run: never under another case id
        with pytest.raises(wf.ReplayDivergence, match="belongs to case 'orig'"):
            await sub.new_case(TERM, {"n": 1}, case_id="again", scheduler=wf.Replay(log))
        sub.forget(cid)
        rid = await sub.new_case(TERM, {"n": 1}, scheduler=wf.Replay(log))
        assert rid == "orig"
        replayed = await sub.wait(rid)
        again = sub.receipts(rid)
    assert ledger.seen == seen  # the replay called nothing
    keys = [k for k, _ in seen]
    assert len(set(keys)) == 3
    assert len(ledger.executed) == 3
    assert as_json(first) == as_json(again)  # byte-identical
    root = original.trace[0].data["root"]
    assert root.startswith("orig~")  # the case id and its run's nonce
    assert [r.causal_id.split("/")[0] for r in again] == [root] * len(again)
    assert replayed.ctx == original.ctx
    assert replayed.trace[0].data["root"] == root
    retried = [r for r in first if r.task == "a"]
    assert retried[0].attempts == 2


async def test_resumed_replay_hands_the_same_key_to_an_effect_in_flight(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ledger = Ledger(slow=10, fail_first=1)
    async with open_substrate(effect_handler=ledger) as sub:
        cid = await sub.new_case(TERM, {"n": 1}, case_id="crashy")
        await trio.sleep(5)  # attempt 1 failed, attempt 2 committed remotely, answer slow
        partial = sub.events(cid)
        await sub.cancel(cid)  # the process "crashes": the answer is lost
        await finish(sub, cid)
        assert [a for _, a in ledger.seen] == [1, 2]
        assert [ev.kind for ev in partial].count("effect_retry") == 1
        sub.forget(cid)

        rid = await sub.new_case(TERM, {"n": 1}, scheduler=wf.Replay(wf.replay_log(partial)))
        await sub.wait_state(rid, wf.CaseState.WAITING_SIGNAL)
        await sub.signal(rid, "go", 1)
        res = await sub.wait(rid)
        rs = sub.receipts(rid, steps=False)
    (key,) = {k for k, _ in ledger.seen[:2]}
    # resumed: the same key; attempts go on from what the trace recorded (one
    # failed attempt): the lost attempt 2 is made again, as attempt 2
    assert ledger.seen[2] == (key, 2)
    assert ledger.executed.count(key) == 1  # the handler saw it again; executed once
    assert len(ledger.executed) == len(set(ledger.executed)) == 3
    a = rs[0]
    assert (a.task, a.outcome, a.attempts, a.key) == ("a", "ok", 2, key)
    assert res.ctx["charge"] == 1


async def finish(sub: wf.Substrate, cid: str) -> None:
    with contextlib.suppress(wf.CaseFailed, wf.CaseCancelled):
        await sub.wait(cid)


async def test_replay_reproduces_cancelled_and_refused_receipts(
    autojump_clock: trio.testing.MockClock,
) -> None:
    ledger = Ledger(slow=20)
    term = wf.seq(
        wf.region("r", wf.task("slow", spec("ship"))),
        wf.region(
            "g",
            wf.task("mail", spec("mail"), on_error=wf.task("skip", lambda c: {"s": 1})),
            allow={"ship"},
        ),
        wf.task("x", spec("ship")),
        wf.task("y", spec("ship")),
    )
    async with open_substrate(effect_handler=ledger) as sub:
        cid = await sub.new_case(term, budget=wf.Budget(max_effects=2))
        await trio.sleep(2)
        await sub.cancel_region(cid, "r")
        res = await finish_result(sub, cid)
        first = sub.receipts(cid)
        sub.forget(cid)
        rid = await sub.new_case(
            term, budget=wf.Budget(max_effects=2), scheduler=wf.Replay(wf.replay_log(res.trace))
        )
        res2 = await finish_result(sub, rid)
        again = sub.receipts(rid)
    assert [r.outcome for r in first if r.source == "effect"] == [
        "cancelled",
        "disallowed",
        "ok",
        "over_budget",
    ]
    assert as_json(first) == as_json(again)
    assert res2.state is res.state is wf.CaseState.FAILED


async def finish_result(sub: wf.Substrate, cid: str) -> wf.CaseResult:
    try:
        return await sub.wait(cid)
    except (wf.CaseFailed, wf.CaseCancelled) as exc:
        result: wf.CaseResult = exc.result
        return result


# ---------------------------------------------------------------------------
# the bare reducer


def drive(st: ExecState, outcomes: dict[str, Any]) -> None:
    """Answer every effect of ``st`` from ``outcomes`` (kind -> result or exception)."""
    while st.run() is Status.BLOCKED:
        cmds = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
        if not cmds:
            return
        for c in cmds:
            out = outcomes[c.kind]
            if isinstance(out, Exception):
                st.feed_effect_retry(c.eid, 1, out, 0.5)
                st.feed_effect(c.eid, error=out, attempts=2, started=1.0, ended=2.0)
            else:
                st.feed_effect(c.eid, out, attempts=1, started=1.0, ended=1.25)


def test_bare_reducer_replay_reproduces_receipts_and_causal_ids() -> None:
    term = wf.par(
        wf.task("a", spec("x")),
        wf.task("b", spec("y"), on_error=wf.task("c", lambda ctx: {"c": 1})),
    )
    prog = wf.compile(term)
    st = ExecState(prog, {"k": 1}, case_id="bare", scheduler=wf.Seeded(3))
    drive(st, {"x": {"x": 1}, "y": OSError("no")})
    assert st.status is Status.DONE
    log = wf.replay_log(st.events)
    assert log.root == "bare"
    again = ExecState(prog, {"k": 1}, case_id="other", scheduler=wf.Replay(log))
    run_with_inputs(again, log.inputs)
    assert as_json(receipts(again.events)) == as_json(receipts(st.events))
    rs = receipts(st.events, steps=False)
    assert sorted((r.task, r.outcome, r.attempts, r.started, r.ended) for r in rs) == [
        ("a", "ok", 1, 1.0, 1.25),
        ("b", "error", 2, 1.0, 2.0),
    ]
    assert all(r.causal_id.startswith("bare/") for r in receipts(again.events))


def test_causal_ids_follow_token_and_step() -> None:
    # a fused run of pure tasks ending in an Effect: the effect's step is its own
    term = wf.seq(
        wf.task("p0", lambda ctx: {"a": 1}),
        wf.task("p1", lambda ctx: {"b": 1}),
        wf.task("e", spec("k")),
        wf.par(wf.task("f", spec("k")), wf.task("g", spec("k"))),
    )
    st = ExecState(wf.compile(term), case_id="ids")
    assert st.run() is Status.BLOCKED
    (cmd,) = st.take_outbox()
    assert isinstance(cmd, StartEffect)
    assert cmd.causal_id == "ids/t1/s2"
    assert st.steps == 3
    assert cmd.effect == wf.Effect("k", {"a": 1, "b": 1})
    assert cmd.fn is None
    assert st.ctx == {"a": 1, "b": 1}
    st.feed_effect(cmd.eid, None)
    st.run()
    ids = sorted(c.causal_id for c in st.take_outbox() if isinstance(c, StartEffect))
    assert ids == ["ids/t4/s4", "ids/t5/s5"]
    # the same case again: the same ids
    st2 = ExecState(wf.compile(term), case_id="ids")
    st2.run()
    assert [c.causal_id for c in st2.take_outbox() if isinstance(c, StartEffect)] == ["ids/t1/s2"]


def test_fused_run_budget_stops_before_an_effect() -> None:
    term = wf.seq(wf.task("p0", lambda ctx: {"a": 1}), wf.task("e", spec("k")))
    st = ExecState(wf.compile(term))
    assert st.run(1) is Status.RUNNING
    assert st.ctx == {"a": 1}
    assert not st.outbox
    assert st.run(1) is Status.BLOCKED
    assert st.steps == 2
    (cmd,) = st.take_outbox()
    assert isinstance(cmd, StartEffect)
    assert cmd.causal_id == "case/t1/s1"


def test_snapshot_keeps_pending_effects_and_governance() -> None:
    term = wf.seq(
        wf.task("a", spec("k"), retry=wf.Retry(3, 0.5), timeout=4),
        wf.task("b", spec("k")),
    )
    prog = wf.compile(term)
    st = ExecState(
        prog, {"n": 1}, case_id="snap", allow=frozenset({"k"}), budget=wf.Budget(max_effects=1)
    )
    st.run()
    (cmd,) = st.take_outbox()
    assert isinstance(cmd, StartEffect)
    st.feed_effect_retry(cmd.eid, 1, OSError("x"), 0.5)
    text = dumps_snapshot(st.snapshot())
    back = ExecState.restore(
        prog,
        loads_snapshot(text),
        case_id="elsewhere",
        allow=frozenset({"k"}),
        budget=wf.Budget(max_effects=1),
    )
    (again,) = pending_commands(back)
    assert isinstance(again, StartEffect)
    assert (again.causal_id, again.key, again.kind, again.effect) == (
        cmd.causal_id,
        cmd.key,
        "k",
        cmd.effect,
    )
    assert (again.timeout, again.retry) == (4.0, wf.Retry(3, 0.5))
    assert back.effect_attempts(cmd.eid) == 1
    assert back.budget_usage() == st.budget_usage()
    back.feed_effect(cmd.eid, {"done": 1}, attempts=2)
    assert back.run() is Status.FAILED  # b is over the budget of 1 effect
    assert isinstance(back.error, wf.BudgetExceeded)
    rs = receipts(back.events, steps=False, root="snap")
    assert [(r.causal_id, r.outcome, r.attempts) for r in rs] == [
        ("snap/t1/s0", "ok", 2),
        ("snap/t1/s1", "over_budget", 0),
    ]
    assert back.governor is not None
    assert back.governor.allow == frozenset({"k"})


def test_withdrawn_effect_ignores_retry_and_result() -> None:
    st = ExecState(wf.compile(wf.region("r", wf.task("a", spec("k")))))
    st.run()
    (cmd,) = st.take_outbox()
    assert isinstance(cmd, StartEffect)
    assert st.cancel_region("r") == 1
    assert st.feed_effect_retry(cmd.eid, 1, OSError("late"), 1.0) is False
    assert st.feed_effect(cmd.eid, {"late": 1}) is False
    (r,) = receipts(st.events, steps=False)
    assert (r.outcome, r.attempts) == ("cancelled", 1)
    assert st.run() is Status.DONE
    assert st.feed_effect_retry(cmd.eid, 1, OSError("done"), 1.0) is False


def test_effect_timeout_error_gives_a_timed_out_receipt_in_the_bare_reducer() -> None:
    st = ExecState(wf.compile(wf.task("a", spec("k"))))
    st.run()
    (cmd,) = st.take_outbox()
    assert isinstance(cmd, StartEffect)
    st.feed_effect(cmd.eid, error=wf.EffectTimeout("slow"))
    (r,) = receipts(st.events)
    assert (r.outcome, r.attempts, r.error_type) == ("timed_out", 1, "EffectTimeout")
    log = wf.replay_log(st.events)
    again = ExecState(wf.compile(wf.task("a", spec("k"))), scheduler=wf.Replay(log))
    run_with_inputs(again, log.inputs)
    assert as_json(receipts(again.events)) == as_json(receipts(st.events))


async def test_a_case_id_reused_after_forget_never_gets_the_old_runs_keys(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # issue 10 item 3: keys are unique per case *run*
    ledger = Ledger()
    async with open_substrate(effect_handler=ledger) as sub:
        keys = []
        for _ in range(2):
            cid = await sub.new_case(TERM, {"n": 1}, case_id="reused")
            await sub.signal(cid, "go", 1)
            await sub.wait(cid)
            keys.append({r.key for r in sub.receipts(cid) if r.source == "effect"})
            sub.forget(cid)
    assert keys[0]
    assert keys[1]
    assert keys[0].isdisjoint(keys[1])


async def _echo(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _ctx_hash(task: str, ctx: Mapping[str, Any]) -> str:
    return stable_hash({"task": task, "kind": task, "ctx": dict(ctx)})


def test_request_hash_is_of_the_ctx_at_request_time_across_replay_and_snapshot() -> None:
    # a and b are requested together (one shared copy of the ctx); the signal
    # then writes x, and c is requested from the new ctx; a and b complete
    # after that write, so their receipts are built when the ctx has changed
    term = wf.par(
        wf.task("a", _echo),
        wf.task("b", _echo),
        wf.seq(wf.wait_signal("go", store_as="x"), wf.task("c", _echo)),
    )
    prog = wf.compile(term)
    st = ExecState(prog, {"x": 1, "big": {"nested": [1, 2]}}, case_id="h")
    assert st.run() is Status.BLOCKED
    first = {c.name: c for c in st.take_outbox() if isinstance(c, StartEffect)}
    assert sorted(first) == ["a", "b"]
    st.feed_signal("go", 7)
    assert st.run() is Status.BLOCKED
    (c,) = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
    # what each effect was given stays what the ctx was at its request
    assert first["a"].ctx == first["b"].ctx == {"x": 1, "big": {"nested": [1, 2]}}
    assert c.ctx == {"x": 7, "big": {"nested": [1, 2]}}
    with pytest.raises(TypeError):
        first["a"].ctx["x"] = 2  # type: ignore[index]
    check_invariants(st)
    text = dumps_snapshot(st.snapshot())  # a and b still pending: their hashes go along
    for cmd in (first["a"], first["b"], c):  # each result is a write before the next receipt
        st.feed_effect(cmd.eid, {cmd.name: 1})
    assert st.run() is Status.DONE
    want = {
        "a": _ctx_hash("a", {"x": 1, "big": {"nested": [1, 2]}}),
        "b": _ctx_hash("b", {"x": 1, "big": {"nested": [1, 2]}}),
        "c": _ctx_hash("c", {"x": 7, "big": {"nested": [1, 2]}}),
    }
    rs = receipts(st.events, steps=False)
    assert {r.task: r.request for r in rs} == want
    # the same receipts from a replay of the trace
    log = wf.replay_log(st.events)
    again = ExecState(prog, {"x": 1, "big": {"nested": [1, 2]}}, scheduler=wf.Replay(log))
    run_with_inputs(again, log.inputs)
    assert as_json(receipts(again.events, steps=False)) == as_json(rs)
    # and from the snapshot taken while a and b were pending
    back = ExecState.restore(prog, loads_snapshot(text), case_id="h")
    for cmd in pending_commands(back):
        assert isinstance(cmd, StartEffect)
        back.feed_effect(cmd.eid, {cmd.name: 1})
    assert back.run() is Status.DONE
    assert {r.task: r.request for r in receipts(back.events, steps=False)} == want


def test_effects_requested_from_an_unchanged_ctx_share_one_copy() -> None:
    st = ExecState(wf.compile(wf.par(*(wf.task(f"e{i}", _echo) for i in range(3)))), {"k": 1})
    st.run()
    cmds = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
    assert len({id(c.ctx) for c in cmds}) == 1
    st.feed_effect(cmds[0].eid, {"k": 2})
    check_invariants(st)  # the write dropped the cached copy
    assert cmds[1].ctx == {"k": 1}
    assert st.ctx == {"k": 2}


def test_instances_get_their_own_ctx_copy_and_hash() -> None:
    # an mi instance's view reads its item and the case ctx, which other
    # tokens write to: its effects get a copy per request, never a cached one
    term = wf.par(
        wf.mi(wf.task("e", _echo), items=["a", "b"], collect="out"),
        wf.seq(wf.wait_signal("go", store_as="x"), wf.task("late", _echo)),
    )
    st = ExecState(wf.compile(term), {"x": 1})
    assert st.run() is Status.BLOCKED
    cmds = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
    assert [dict(c.ctx) for c in cmds] == [
        {"x": 1, "item": "a", "index": 0},
        {"x": 1, "item": "b", "index": 1},
    ]
    st.feed_signal("go", 2)
    st.run()
    check_invariants(st)
    assert [c.ctx["x"] for c in cmds] == [1, 1]
    for c in cmds:
        st.feed_effect(c.eid, {"r": c.ctx["item"]})
    (late,) = [c for c in st.take_outbox() if isinstance(c, StartEffect)]
    st.feed_effect(late.eid, {})
    assert st.run() is Status.DONE
    rs = {(r.task, r.causal_id): r.request for r in receipts(st.events, steps=False)}
    assert sorted(rs.values()) == sorted(
        [
            _ctx_hash("e", {"x": 1, "item": "a", "index": 0}),
            _ctx_hash("e", {"x": 1, "item": "b", "index": 1}),
            _ctx_hash("late", {"x": 2}),
        ]
    )
