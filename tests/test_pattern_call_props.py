"""WCP-22 properties: random terms with sub-workflow calls (``terms(calls=True)``)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

import wftrio as wf
from wftrio.engine import ExecState, Status
from wftrio.engine.consistency import violations
from wftrio.engine.replay import run_with_inputs
from wftrio.scheduling import Replay, Seeded
from wftrio.serialize import dumps_snapshot, loads_snapshot
from wftrio.terms import Call, Term, walk
from wftrio.testing.strategies import InvalidArgument, terms
from wftrio.validation import check_program

PURE = terms(calls=True, signals=False, timers=False, effects=False, max_depth=3,
             max_width=3, max_leaves=8)  # fmt: skip
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def calls(term: Term) -> list[Call]:
    return [n for _, n in walk(term) if isinstance(n, Call)]


def test_the_strategy_draws_calls_only_when_asked() -> None:
    once = settings(database=None, max_examples=2000, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck))  # fmt: skip
    found = find(PURE, lambda t: len(calls(t)) >= 2, settings=once)
    assert len({c.name for c in calls(found)}) == len(calls(found))  # fresh names
    with pytest.raises(hypothesis_no_example()):
        find(terms(max_leaves=8), lambda t: bool(calls(t)), settings=settings(
            database=None, max_examples=300))  # fmt: skip


def hypothesis_no_example() -> type[Exception]:
    import hypothesis.errors

    return hypothesis.errors.NoSuchExample


def test_calls_is_checked() -> None:
    with pytest.raises(InvalidArgument, match="calls"):
        terms(calls=1)  # type: ignore[arg-type]


@FAST
@given(PURE)
def test_generated_terms_with_calls_pass_validation(term: Term) -> None:
    assert all(not i.is_error for i in check_program(wf.compile(term)))


@FAST
@given(PURE, st.integers(0, 2**16), st.floats(0, 1))
def test_runs_replay_and_resume_from_a_snapshot_identically(
    term: Term, seed: int, frac: float
) -> None:
    ref = ExecState(wf.compile(term), {"a": 1}, scheduler=Seeded(seed))
    status = ref.run()
    assert status in (Status.DONE, Status.FAILED)
    assert violations(ref) == []
    # replay of the Seeded run
    log = wf.replay_log(ref.events)
    again = ExecState(wf.compile(term), {"a": 1}, scheduler=Replay(log))
    run_with_inputs(again, log.inputs)
    assert again.events == ref.events
    assert again.ctx == ref.ctx
    # snapshot at a random step, through JSON, then run on
    part = ExecState(wf.compile(term), {"a": 1}, scheduler=Seeded(seed))
    part.run(max_steps=max(1, round(frac * ref.steps)))
    snap = part.snapshot()
    restored = ExecState.restore(part.program, loads_snapshot(dumps_snapshot(snap)))
    assert restored.snapshot() == snap
    assert restored.run() is status
    assert restored.ctx == ref.ctx
    assert violations(restored) == []


OPEN = terms(calls=True, effects=True, max_depth=3, max_width=3, max_leaves=8)


@FAST
@given(OPEN, st.integers(0, 2**16))
def test_driven_with_signals_effects_timers_and_cancellations(term: Term, seed: int) -> None:
    from wftrio.testing import Environment, check_invariants, drive

    st_ = ExecState(wf.compile(term), {"a": 1}, scheduler=Seeded(seed))
    drive(st_, Environment(seed), check=check_invariants)
    assert violations(st_) == []
