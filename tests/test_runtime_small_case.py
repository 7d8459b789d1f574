"""Issue 12's small case (figure 11): the shortcuts of new_case, wait and the ids.

Each shortcut is checked against what it stands for: the substrate's memo of
the last term started (compile and validation skipped) refuses the same
workflows, at every budget, as the compiler and ``check_program`` do; the id
pool survives a fork and threads (``tests/test_effect_hot_paths.py``) and
hands out valid uuid4 ids after a refill.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import pytest
import trio

import wftrio as wf
from wftrio import compiler
from wftrio import patterns as P
from wftrio.errors import InvalidWorkflow, TermTypeError
from wftrio.runtime import _ids
from wftrio.validation import _api


def _inc(ctx: Mapping[str, Any]) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


def _nop(ctx: Mapping[str, Any]) -> None:
    return None


def _crossed() -> wf.Term:
    # WF202: validation refuses it (tests/test_validate_runtime.py)
    return wf.par(
        P.critical_section("A", P.critical_section("B", wf.task("x", _nop))),
        P.critical_section("B", P.critical_section("A", wf.task("y", _nop))),
    )


async def test_an_invalid_term_is_refused_every_time_it_is_started() -> None:
    term = _crossed()
    async with wf.open_substrate() as sub:
        for _ in range(3):  # a refusal is never remembered as a pass
            with pytest.raises(InvalidWorkflow):
                await sub.new_case(term, validate_budget=None)
        # validate=False starts it, and does not make it pass validation later
        cid = await sub.new_case(term, validate=False)
        assert (await sub.wait(cid)).state is wf.CaseState.DONE
        with pytest.raises(InvalidWorkflow):
            await sub.new_case(term, validate_budget=None)
        assert sub.stats().cases_started == 1


async def test_a_pass_counts_for_its_budget_only(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float | None] = []
    real = _api.check_program

    def spy(program: Any, where: str = "new_case()", *, budget_s: float | None = 0.05) -> Any:
        calls.append(budget_s)
        return real(program, where, budget_s=budget_s)

    monkeypatch.setattr("wftrio.runtime._new_case.check_program", spy)
    term = wf.seq(wf.task("a", _inc), wf.task("b", _inc))
    other = wf.task("c", _inc)
    async with wf.open_substrate() as sub:
        for _ in range(3):
            await sub.new_case(term)
        assert calls == [0.05]  # checked once, then remembered
        await sub.new_case(term, validate_budget=None)
        await sub.new_case(term, validate_budget=None)
        assert calls == [0.05, None]
        await sub.new_case(term)  # another budget than the one remembered
        assert calls == [0.05, None, 0.05]
        await sub.new_case(other)  # another term: compiled and checked
        await sub.new_case(term)  # and the first one again
        assert calls == [0.05, None, 0.05, 0.05, 0.05]
        await sub.new_case(term, validate=False)
        assert len(calls) == 5
        for cid in sub.case_ids():
            assert (await sub.wait(cid)).ctx["n"] >= 1


async def test_a_remembered_term_runs_after_the_compiler_cache_is_cleared() -> None:
    term = wf.seq(wf.task("a", _inc), wf.task("b", _inc))
    async with wf.open_substrate() as sub:
        first = await sub.new_case(term)
        compiler.clear_cache()
        again = await sub.new_case(term)
        a, b = await sub.wait(first), await sub.wait(again)
        assert a.ctx == b.ctx == {"n": 2}
        assert [e.kind for e in a.trace] == [e.kind for e in b.trace]
        with pytest.raises(TermTypeError):  # not a term: still refused
            await sub.new_case(object())  # type: ignore[arg-type]


async def test_wait_on_a_finished_case_is_a_checkpoint() -> None:
    async with wf.open_substrate() as sub:
        cid = await sub.new_case(wf.task("t", _inc))
        with trio.CancelScope() as scope:
            scope.cancel()
            with pytest.raises(trio.Cancelled):
                await sub.wait(cid)
        assert (await sub.wait(cid, timeout=0)).ctx == {"n": 1}


def test_ids_after_many_refills_are_distinct_uuid4() -> None:
    _ids._pool.clear()
    seen = set()
    for _ in range(_ids._POOL_IDS * 5 + 3):  # five refills and some
        case_id, token = _ids.new_ids()
        u = uuid.UUID(hex=case_id)
        assert (u.hex, u.version, u.variant) == (case_id, 4, uuid.RFC_4122)
        assert len(token) == 8
        int(token, 16)
        seen.add(case_id)
    assert len(seen) == _ids._POOL_IDS * 5 + 3


def test_a_case_whose_state_cannot_be_built_has_a_start_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a reducer bug")

    # started_at is read with the ExecState's first clock reading: a case
    # whose ExecState cannot be built reads it on its own
    monkeypatch.setattr("wftrio.runtime._runner.ExecState", broken)

    async def main() -> wf.CaseInfo:
        async with wf.open_substrate() as sub:
            cid = await sub.new_case(wf.task("t", _inc))
            with pytest.raises(wf.CaseFailed, match="reducer bug"):
                await sub.wait(cid)
            return sub.status(cid)

    info = trio.run(main)
    assert info.state is wf.CaseState.FAILED
    assert info.started_at is not None
    assert info.finished_at is not None
    assert info.finished_at >= info.started_at
