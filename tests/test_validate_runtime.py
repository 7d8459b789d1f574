"""new_case / wf.run validate workflows (once per Program) and refuse invalid ones."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio import patterns as P
from wftrio.errors import InvalidWorkflow, OptionError
from wftrio.trace import ReplayLog
from wftrio.validation import replay_witness, witness_log
from wftrio.validation._api import _CHECKED


def nop(ctx: Mapping[str, Any]) -> None:
    return None


async def call_api(ctx: Mapping[str, Any]) -> None:
    return None


def crossed() -> wf.Term:
    return wf.par(
        P.critical_section("A", P.critical_section("B", wf.task("x", nop))),
        P.critical_section("B", P.critical_section("A", wf.task("y", nop))),
    )


async def test_new_case_refuses_an_invalid_workflow_with_its_issues() -> None:
    term = crossed()
    async with wf.open_substrate() as sub:
        with pytest.raises(InvalidWorkflow) as info:
            # no time budget: the issue list is the same on every machine
            # (with the default 50 ms one, a slow machine adds a WF200)
            await sub.new_case(term, case_id="c1", validate_budget=None)
        assert [i.code for i in info.value.issues] == ["WF202"]
        assert "WF202 error" in str(info.value)
        assert "validate=False" in str(info.value)
        assert isinstance(info.value, ValueError)
        assert isinstance(info.value, wf.WftrioError)
        assert sub.stats().cases_started == 0  # nothing was started, nothing is lost
        # a warning never refuses a workflow
        ok = await sub.new_case(wf.par(wf.wait_signal("go"), wf.terminate()))
        assert (await sub.wait(ok)).state is wf.CaseState.DONE


async def test_validate_false_starts_it_anyway() -> None:
    # the deterministic scheduler runs the first branch to its end before the
    # second starts, so this case never meets the interleaving that livelocks
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(crossed(), validate=False)
        assert (await sub.wait(cid)).state is wf.CaseState.DONE
    async with wf.open_substrate(validate=False) as sub:
        cid = await sub.new_case(crossed())
        assert (await sub.wait(cid)).state is wf.CaseState.DONE


def test_run_validates_too() -> None:
    with pytest.raises(InvalidWorkflow):
        # no time budget: with the default 50 ms one a loaded machine (or a GC
        # pass over a big test process) stops the exploration before WF202
        wf.run(crossed(), validate_budget=None)
    assert wf.run(wf.seq(wf.task("a", nop))).state is wf.CaseState.DONE


async def test_the_verdict_is_cached_per_program() -> None:
    term = wf.seq(wf.task("a", nop), wf.wait_signal("go"))
    program = wf.compile(term)
    _CHECKED.pop(program, None)
    async with wf.open_substrate() as sub:
        first = await sub.new_case(term)
        verdict = _CHECKED[program]
        for _ in range(3):
            await sub.new_case(term)
        assert _CHECKED[program] is verdict  # validated once
        await sub.signal(first, "go")
        assert (await sub.wait(first)).state is wf.CaseState.DONE


async def test_validate_option_must_be_a_bool() -> None:
    async with wf.open_substrate() as sub:
        with pytest.raises(OptionError, match="validate"):
            await sub.new_case(wf.task("a", nop), validate="yes")
    with pytest.raises(OptionError, match="validate"):
        wf.open_substrate(validate=1)


async def _replay_on_runtime(term: wf.Term, log: ReplayLog) -> wf.CaseInfo:
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(term, scheduler=wf.Replay(log), validate=False)
        await trio.testing.wait_all_tasks_blocked()
        info = sub.status(cid)
        await sub.cancel(cid)
        return info


DEADLOCKS = [
    # a join waiting on a branch that can never reach it
    wf.seq(wf.par(wf.seq(wf.task("a", nop), wf.wait_signal("never")), wf.task("b", nop))),
    # an effect first, then a milestone that can never hold
    wf.seq(
        wf.task("call", call_api),
        wf.par(P.milestone("m", wf.task("ship", nop)), wf.wait_signal("m:reached")),
    ),
    # instances racing for a signal that comes once
    wf.seq(wf.wait_signal("go"), wf.mi(wf.wait_signal("tick"), count=2)),
]


@pytest.mark.parametrize("term", DEADLOCKS)
async def test_the_runtime_driven_along_a_deadlock_witness_deadlocks(term: wf.Term) -> None:
    issues = [i for i in wf.validate(term, signals=["go", "m:expired"]) if i.code == "WF201"]
    assert issues
    for issue in issues:
        log = witness_log(term, issue.witness)
        info = await _replay_on_runtime(term, log)
        st = replay_witness(term, issue.witness)
        assert info.state is wf.CaseState.WAITING_SIGNAL
        assert sorted(info.waiting_signals) == st.blocked_on()["signals"]
        assert info.steps == st.steps
        assert info.effects_in_flight == 0
        assert info.timers == 0


def test_witness_log_refuses_condition_outcomes() -> None:
    term = wf.seq(wf.xor(wf.branch(lambda c: True, wf.wait_signal("never")), wf.task("a", nop)))
    (issue,) = [i for i in wf.validate(term, signals=["go"]) if i.code == "WF201"]
    with pytest.raises(ValueError, match="condition outcome"):
        witness_log(term, issue.witness)
