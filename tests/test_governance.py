"""Governance: approval points, budgets, allowlists, and the task/region options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.engine import ExecState, Status
from wftrio.errors import GovernanceError
from wftrio.governance import Governor, as_allow, as_budget
from wftrio.receipts import OUTCOMES, receipts
from wftrio.runtime import open_substrate

SIGNAL = wf.approval_signal("deploy")


def deploy(ctx: Mapping[str, Any]) -> dict[str, bool]:
    return {"deployed": True}


def approvals(rs: list[wf.Receipt]) -> list[dict[str, Any]]:
    return [r.detail["approval:deploy"] for r in rs if r.kind == "approval" and r.detail]


# ---------------------------------------------------------------------------
# approval points


async def test_approval_runs_then_and_leaves_a_receipt_naming_the_approver(
    autojump_clock: trio.testing.MockClock,
) -> None:
    term = wf.seq(
        wf.approval("deploy", "ann", then=wf.task("deploy", deploy)), wf.task("z", deploy)
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term, case_id="a1")
        assert await sub.wait_state(cid, wf.CaseState.WAITING_SIGNAL) is wf.CaseState.WAITING_SIGNAL
        assert sub.status(cid).waiting_signals == (SIGNAL,)
        await trio.sleep(4)
        await sub.signal(cid, SIGNAL, wf.approve("ann", "ship it"))
        res = await sub.wait(cid)
        (r,) = [r for r in sub.receipts(cid) if r.kind == "approval"]
    assert res.ctx["deployed"] is True
    assert res.ctx[SIGNAL] == {"decision": "approved", "by": "ann", "note": "ship it"}
    assert (r.task, r.source, r.outcome, r.attempts, r.started) == (
        "approval:deploy",
        "audit",
        "ok",
        1,
        4.0,
    )
    assert r.detail == {SIGNAL: {"decision": "approved", "by": "ann", "note": "ship it"}}
    assert r.causal_id.startswith("a1~")  # the case id and its run nonce
    assert "/t1/s" in r.causal_id


async def test_rejection_fails_the_case_naming_who_rejected() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(wf.approval("deploy", then=wf.task("deploy", deploy)))
        await sub.signal(cid, SIGNAL, wf.reject("bob", "not today"))
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
        rs = sub.receipts(cid)
    err = info.value.cause
    assert isinstance(err, wf.ApprovalRejected)
    assert (err.name, err.by, err.note) == ("deploy", "bob", "not today")
    assert "rejected by 'bob': not today" in str(err)
    assert approvals(rs) == [{"decision": "rejected", "by": "bob", "note": "not today"}]
    assert "deployed" not in info.value.result.ctx


async def test_a_rejected_approval_s_receipt_says_rejected_and_names_who() -> None:
    term = wf.approval("deploy", approver=["ann", "bob"], on_reject=wf.task("undo", deploy))
    async with open_substrate() as sub:
        cid = await sub.new_case(term, case_id="r1")
        await sub.signal(cid, SIGNAL, wf.approve("eve"))  # not an approver: ignored, "ok"
        await sub.signal(cid, SIGNAL, wf.reject("bob", "not today"))
        await sub.wait(cid)
        decisions = [r for r in sub.receipts(cid) if r.kind == "approval"]
    assert [r.outcome for r in decisions] == ["ok", "rejected"]
    rejected = decisions[1]
    assert rejected.outcome in OUTCOMES
    assert rejected.detail == {SIGNAL: {"decision": "rejected", "by": "bob", "note": "not today"}}
    assert (rejected.source, rejected.task) == ("audit", "approval:deploy")


async def test_rejection_with_on_reject_compensates_and_goes_on() -> None:
    term = wf.seq(
        wf.approval(
            "deploy",
            then=wf.task("deploy", deploy),
            on_reject=wf.task("rollback", lambda ctx: {"rolled_back": ctx[SIGNAL]["by"]}),
        ),
        wf.task("after", lambda ctx: {"after": True}),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.signal(cid, SIGNAL, wf.reject("bob"))
        res = await sub.wait(cid)
    assert res.ctx["rolled_back"] == "bob"
    assert res.ctx["after"] is True
    assert "deployed" not in res.ctx


async def test_decisions_from_non_approvers_and_malformed_ones_are_ignored() -> None:
    term = wf.approval("deploy", approver=["ann", "bob"], then=wf.task("deploy", deploy))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        # sent before the case reaches the point: persistent signals wait for it
        await sub.signal(cid, SIGNAL, wf.approve("eve"))
        await sub.signal(cid, SIGNAL, {"yes": True})
        await sub.signal(cid, SIGNAL, "approve")
        await sub.signal(cid, SIGNAL, wf.reject("bob", "needs review"))
        with pytest.raises(wf.CaseFailed):
            await sub.wait(cid)
        decided = approvals(sub.receipts(cid))
    assert [(d["decision"], d["by"]) for d in decided] == [
        ("ignored", "eve"),
        ("ignored", None),
        ("ignored", None),
        ("rejected", "bob"),
    ]
    assert decided[0]["reason"] == "'eve' is not an approver of 'deploy'"
    assert decided[1]["reason"].startswith("malformed decision")


async def test_approval_waits_until_a_decision() -> None:
    async with open_substrate() as sub:
        cid = await sub.new_case(wf.approval("deploy", "ann"))
        await sub.signal(cid, SIGNAL, wf.approve("mallory"))
        await sub.wait_state(cid, wf.CaseState.WAITING_SIGNAL)
        await trio.testing.wait_all_tasks_blocked()
        assert sub.status(cid).state is wf.CaseState.WAITING_SIGNAL
        await sub.signal(cid, SIGNAL, wf.approve("ann"))
        res = await sub.wait(cid)
    assert res.state is wf.CaseState.DONE


def test_approval_on_the_bare_reducer_and_its_replay() -> None:
    prog = wf.compile(wf.approval("deploy", then=wf.task("deploy", deploy)))
    st = ExecState(prog)
    assert st.run() is Status.BLOCKED
    st.feed_signal(SIGNAL, wf.approve("ann"))
    assert st.run() is Status.DONE
    assert st.ctx["deployed"] is True
    log = wf.replay_log(st.events)
    again = ExecState(prog, scheduler=wf.Replay(log))
    from wftrio.engine.replay import run_with_inputs

    run_with_inputs(again, log.inputs)
    assert [r.to_json() for r in receipts(again.events)] == [
        r.to_json() for r in receipts(st.events)
    ]


def test_approval_argument_errors() -> None:
    with pytest.raises(wf.TermError, match="name"):
        wf.approval("")
    with pytest.raises(wf.TermError, match="approver"):
        wf.approval("x", approver=[""])
    with pytest.raises(wf.TermError, match="approver"):
        wf.approval("x", approver=3)  # type: ignore[arg-type]
    with pytest.raises(wf.TermError, match="then"):
        wf.approval("x", then="deploy")  # type: ignore[arg-type]
    with pytest.raises(wf.TermError, match="on_reject"):
        wf.approval("x", on_reject=1)  # type: ignore[arg-type]
    with pytest.raises(wf.TermError, match="by"):
        wf.approve("")
    with pytest.raises(wf.TermError, match="note"):
        wf.reject("ann", note=3)  # type: ignore[arg-type]
    assert wf.approve("ann") == {"decision": "approve", "by": "ann", "note": None}
    assert wf.approval_signal("x") == "approval:x"


# ---------------------------------------------------------------------------
# budgets and allowlists (values)


def test_budget_validation_and_normalisation() -> None:
    assert wf.Budget(max_effects=2, max_time=1, max_cost=3) == wf.Budget(2, 1.0, 3.0)
    for bad in ({"max_effects": -1}, {"max_effects": 1.5}, {"max_time": -2}, {"max_cost": "x"}):
        with pytest.raises(GovernanceError):
            wf.Budget(**bad)
    with pytest.raises(GovernanceError, match="max_effects"):
        wf.Budget(max_effects=True)
    assert as_budget(None) is None
    assert as_budget({"max_cost": 2}) == wf.Budget(max_cost=2)
    with pytest.raises(GovernanceError, match="unknown budget"):
        as_budget({"max_money": 1})
    with pytest.raises(GovernanceError):
        as_budget(5)
    assert as_allow(["a", "b"]) == frozenset({"a", "b"})
    assert as_allow(None) is None
    with pytest.raises(GovernanceError):
        as_allow("ab")
    with pytest.raises(GovernanceError):
        as_allow([1])
    assert issubclass(GovernanceError, ValueError)
    assert issubclass(GovernanceError, wf.WftrioError)


def test_governor_checks_allowlists_before_budgets() -> None:
    g = Governor(frozenset({"a", "b"}), wf.Budget(max_effects=2, max_cost=3))
    assert g.admit("a", "t", 1, []) is None
    v = g.admit("c", "t", 0, [])
    assert isinstance(v, wf.GuardViolation)
    assert v.scope is None
    assert v.allowed == ("a", "b")
    v = g.admit("b", "t", 0, [("inner", frozenset({"a"})), ("outer", frozenset({"b"}))])
    assert isinstance(v, wf.GuardViolation)
    assert v.scope == "inner"
    over = g.admit("a", "t", 5, [])
    assert isinstance(over, wf.BudgetExceeded)
    assert over.resource == "cost"
    assert "cost 1 + 5 > 3" in str(over)
    assert g.admit("b", "t", 1, []) is None
    over = g.admit("b", "t", 0, [])
    assert isinstance(over, wf.BudgetExceeded)
    assert over.resource == "effects"
    assert g.usage() == wf.BudgetUsage(2, 0.0, 2.0, wf.Budget(max_effects=2, max_cost=3))
    g.charge_time(1.5)
    g.charge_time(-1)
    assert g.time == 1.5
    t = Governor(None, wf.Budget(max_time=1))
    t.charge_time(1)
    over = t.admit("x", "t", 0, [])
    assert isinstance(over, wf.BudgetExceeded)
    assert over.requested is None
    assert "used 1 of 1" in str(over)
    assert wf.BudgetUsage(0, 0.0, 0.0).remaining == {"effects": None, "time": None, "cost": None}


def test_region_allow_and_task_options_are_validated_and_part_of_the_term() -> None:
    r = wf.region("r", wf.task("a", deploy), allow=["b", "a"])
    assert r.allow == frozenset({"a", "b"})
    assert repr(r) == "region('r', task('a', deploy), allow={'a', 'b'})"
    assert r != wf.region("r", wf.task("a", deploy))
    assert r == wf.region("r", wf.task("a", deploy), allow={"a", "b"})
    with pytest.raises(wf.TermError, match="allow"):
        wf.region("r", wf.task("a", deploy), allow="a")
    with pytest.raises(wf.TermError, match="allow"):
        wf.region("r", wf.task("a", deploy), allow={""})
    t = wf.task("a", deploy, timeout=2, retry=wf.Retry(2), cost=1, kind="k")
    assert (t.timeout, t.retry, t.cost, t.kind, t.on_error) == (2.0, wf.Retry(2), 1.0, "k", None)
    assert repr(t) == "task('a', deploy, timeout=2.0, retry=Retry(2, 0.0), cost=1.0, kind='k')"
    assert t != wf.task("a", deploy)
    assert hash(t) != hash(wf.task("a", deploy))
    for bad in (
        {"timeout": 0},
        {"timeout": float("inf")},
        {"retry": 3},
        {"on_error": "undo"},
        {"cost": -1},
        {"kind": ""},
    ):
        with pytest.raises(wf.TermError, match=next(iter(bad))):
            wf.task("a", deploy, **bad)
    with pytest.raises(TypeError):
        wf.task("a", deploy, 3)  # type: ignore[call-arg]  # options are keyword-only


def test_on_error_regions_count_for_uniqueness() -> None:
    undo = wf.region("r", wf.task("u", deploy))
    with pytest.raises(wf.TermError, match="duplicate region id 'r'"):
        wf.seq(wf.task("a", deploy, on_error=undo), wf.region("r", wf.task("b", deploy)))
    t = wf.task("a", deploy, on_error=undo)
    assert t.children() == (undo,)
    assert t.region_ids == frozenset({"r"})


def test_retry_policy_values() -> None:
    r = wf.Retry(5, 0.5, factor=3, max_backoff=2)
    assert [r.delay(n) for n in (1, 2, 3)] == [0.5, 1.5, 2.0]
    assert r.retries(OSError())
    assert not wf.Retry(on=KeyError).retries(OSError())
    assert repr(wf.Retry(2, 1, on=(KeyError, OSError))) == "Retry(2, 1.0, on=(KeyError, OSError))"
    assert repr(wf.Retry(on=KeyError)) == "Retry(3, 0.0, on=(KeyError,))"
    for bad in (
        {"attempts": 0},
        {"attempts": True},
        {"backoff": -1},
        {"factor": 0.5},
        {"max_backoff": -1},
        {"on": BaseException},
        {"on": ()},
        {"on": "x"},
    ):
        with pytest.raises(wf.TermError):
            wf.Retry(**bad)


def test_compiled_options() -> None:
    undo = wf.task("undo", deploy)
    prog = wf.compile(wf.seq(wf.task("a", deploy, on_error=undo, kind="k"), wf.task("b", deploy)))
    ops = [(i.op, i.args.get("on_error"), i.next) for i in prog.instrs]
    # the step, its on_error term (continuing where the task would), then b
    assert ops[:3] == [("step", 1, 2), ("task", None, 2), ("task", None, 3)]
