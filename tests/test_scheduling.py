"""Scheduler policies check what they are given when they are built.

``wf.Seeded(seed)`` takes only an int seed (a run must be reproducible);
``wf.Replay(log)`` takes only a ``ReplayLog`` that a case could have
recorded, so a replay never waits for a step behind the case or a time
that never comes (issue 10 item 1): it fails at once, on the runtime too.
"""

from __future__ import annotations

import math
from typing import Any

import attrs
import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.errors import ReplayDivergence, SchedulerError, SerializationError
from wftrio.scheduling import (
    MAX_CASE_TIME,
    Deterministic,
    Replay,
    Seeded,
    make_scheduler,
    replay_log_problems,
)
from wftrio.serialize import dumps_log, loads_log
from wftrio.trace import InputEvent, ReplayLog

TERM = wf.seq(
    wf.xor(wf.task("l", lambda ctx: {"side": "l"}), wf.task("r", lambda ctx: {"side": "r"})),
    wf.wait_signal("go", store_as="got"),
    wf.wait_signal("again", store_as="again"),
)


def recorded() -> ReplayLog:
    """The log of a Seeded run of TERM: one choice, two signal inputs."""

    async def main() -> ReplayLog:
        async with wf.open_substrate() as sub:
            case = await sub.new_case(TERM, scheduler=wf.Seeded(3), trace_level="min")
            await trio.sleep(1)
            await sub.signal(case, "go", 1)
            await trio.sleep(2)
            await sub.signal(case, "again", 2)
            return wf.replay_log((await sub.wait(case)).trace)

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


LOG = recorded()


def with_input(n: int, **changes: Any) -> ReplayLog:
    inputs = list(LOG.inputs)
    inputs[n] = attrs.evolve(inputs[n], **changes)
    return attrs.evolve(LOG, inputs=tuple(inputs))


def test_the_recorded_log_is_well_formed() -> None:
    assert len(LOG.inputs) == 2
    assert LOG.choices
    assert replay_log_problems(LOG) == []
    assert Replay(LOG).log is LOG
    assert loads_log(dumps_log(LOG)) == LOG


# ---------------------------------------------------------------------------
# Seeded


@pytest.mark.parametrize(
    "seed", [None, True, False, 1.0, math.nan, math.inf, "x", b"x", (1,), [1], object()]
)
def test_seeded_takes_only_an_int_seed(seed: Any) -> None:
    with pytest.raises(SchedulerError, match=r"Seeded\(seed=.*seed must be an int") as info:
        Seeded(seed)
    assert isinstance(info.value, TypeError)


@pytest.mark.parametrize("seed", [0, -1, 2**80])
def test_any_int_is_a_seed(seed: int) -> None:
    a, b = Seeded(seed), Seeded(seed)
    assert [a.pick(10, "x") for _ in range(5)] == [b.pick(10, "x") for _ in range(5)]


def test_seeded_preemptive_is_a_bool() -> None:
    with pytest.raises(SchedulerError, match="preemptive"):
        Seeded(1, preemptive=1)  # type: ignore[arg-type]


def test_new_case_refuses_a_seeded_without_an_int_seed() -> None:
    with pytest.raises(SchedulerError, match="seed"):
        wf.run(TERM, scheduler=wf.Seeded("1"), signals=[("go", 1), ("again", 2)])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# Replay: the log's type


@pytest.mark.parametrize("log", [None, 5, "log", {"choices": []}, [], dumps_log(LOG)])
def test_replay_takes_only_a_replay_log(log: Any) -> None:
    with pytest.raises(SchedulerError, match=r"Replay\(log=.*log must be a wf.ReplayLog") as info:
        Replay(log)
    assert isinstance(info.value, TypeError)


# ---------------------------------------------------------------------------
# Replay: logs no case could have recorded

BAD_LOGS: dict[str, tuple[ReplayLog, str]] = {
    "negative choice": (attrs.evolve(LOG, choices=(-1,)), "choices[0]"),
    "bool choice": (attrs.evolve(LOG, choices=(True,)), "choices[0]"),
    "str choice": (attrs.evolve(LOG, choices=("0",)), "choices[0]"),
    "choices not a sequence": (attrs.evolve(LOG, choices=5), "choices"),
    "inputs not a sequence": (attrs.evolve(LOG, inputs=None), "inputs"),
    "input not an InputEvent": (attrs.evolve(LOG, inputs=({"kind": "x"},)), "inputs[0]"),
    "negative at_step": (with_input(0, at_step=-1), "inputs[0].at_step"),
    "at_step not an int": (with_input(0, at_step=1.5), "inputs[0].at_step"),
    "at_step going back": (
        with_input(1, at_step=LOG.inputs[0].at_step - 1),
        "inputs[1].at_step",
    ),
    "time inf": (with_input(0, time=math.inf), "inputs[0].time"),
    "time nan": (with_input(0, time=math.nan), "inputs[0].time"),
    "time 1e300": (with_input(0, time=1e300), "inputs[0].time"),
    "time past MAX_CASE_TIME": (with_input(1, time=MAX_CASE_TIME * 2), "inputs[1].time"),
    "negative time": (with_input(0, time=-1.0), "inputs[0].time"),
    "time going back": (with_input(1, time=LOG.inputs[0].time - 0.5), "inputs[1].time"),
    "unknown kind": (with_input(0, kind="task_completed"), "inputs[0].kind"),
    "preemptive not a bool": (attrs.evolve(LOG, preemptive=None), "preemptive"),
}


@pytest.mark.parametrize("case", sorted(BAD_LOGS))
def test_replay_refuses_a_log_no_case_could_have_recorded(case: str) -> None:
    log, field = BAD_LOGS[case]
    assert field in [p for p, _ in replay_log_problems(log)]
    with pytest.raises(
        ReplayDivergence, match=r"Replay\(log\): no case could have recorded"
    ) as info:
        Replay(log)
    assert field in str(info.value)


@pytest.mark.parametrize("case", sorted(BAD_LOGS))
def test_restoring_a_replay_from_a_bad_log_is_a_scheduler_error(case: str) -> None:
    log, _ = BAD_LOGS[case]
    with pytest.raises(SchedulerError, match="Replay"):
        Replay.from_state(log, 0)


def _json_text(log: Any) -> str | None:
    """``log`` as JSON, or None for a log JSON cannot hold (the converter refuses it)."""
    if not (
        isinstance(log.choices, tuple)
        and isinstance(log.inputs, tuple)
        and all(isinstance(i, InputEvent) for i in log.inputs)
    ):
        return None
    try:
        return dumps_log(log)
    except SerializationError:
        return None


@pytest.mark.parametrize(
    ("case", "field"),
    [(c, f) for c, (log, f) in sorted(BAD_LOGS.items()) if _json_text(log) is not None],
)
def test_loads_log_refuses_what_replay_refuses(case: str, field: str) -> None:
    text = _json_text(BAD_LOGS[case][0])
    assert text is not None
    with pytest.raises(SerializationError) as info:
        loads_log(text)
    assert f"$.{field}" in info.value.paths
    assert f"$.{field}" in str(info.value)


def test_loads_log_names_every_bad_field() -> None:
    text = dumps_log(with_input(0, at_step=-4)).replace('"choices": [', '"choices": [-2, ')
    with pytest.raises(SerializationError) as info:
        loads_log(text)
    assert set(info.value.paths) == {"$.choices[0]", "$.inputs[0].at_step"}
    assert "a choice is an int >= 0, not -2" in str(info.value)


# ---------------------------------------------------------------------------
# on the runtime: a bad log fails at once, nothing hangs, the neighbour is untouched


@pytest.mark.parametrize("case", sorted(BAD_LOGS))
async def test_a_case_replayed_from_a_bad_log_fails_at_once(
    case: str, autojump_clock: trio.testing.MockClock
) -> None:
    log, _ = BAD_LOGS[case]
    with trio.fail_after(60):
        async with wf.open_substrate() as sub:
            neighbour = await sub.new_case(TERM, scheduler=wf.Replay(LOG))
            start = trio.current_time()
            with pytest.raises((ReplayDivergence, SchedulerError)):
                await sub.new_case(TERM, scheduler=wf.Replay(log))
            assert trio.current_time() == start
            assert sub.case_ids() == [neighbour]
            result = await sub.wait(neighbour)
            assert result.ctx["got"] == 1
            assert result.ctx["again"] == 2


async def test_a_good_replay_still_reproduces_the_run(
    autojump_clock: trio.testing.MockClock,
) -> None:
    with trio.fail_after(60):
        async with wf.open_substrate() as sub:
            case = await sub.new_case(TERM, scheduler=wf.Replay(LOG), trace_level="min")
            result = await sub.wait(case)
    assert wf.replay_log(result.trace) == attrs.evolve(LOG, root=LOG.root)


# ---------------------------------------------------------------------------
# the scheduler= option


@pytest.mark.parametrize("spec", [None, "Deterministic", "seeded", 0, Seeded, Replay])
def test_make_scheduler_refuses_what_names_no_policy(spec: Any) -> None:
    with pytest.raises(SchedulerError, match=r"scheduler=.*expected 'deterministic'"):
        make_scheduler(spec)


def test_scheduler_none_is_refused_by_the_runtime_options() -> None:
    with pytest.raises(SchedulerError, match="scheduler=None"):
        wf.open_substrate(scheduler=None)
    with pytest.raises(SchedulerError, match="scheduler=None"):
        wf.run(wf.task("t", lambda ctx: None), scheduler=None)


def test_make_scheduler_gives_each_case_its_own_policy() -> None:
    assert isinstance(make_scheduler("deterministic"), Deterministic)
    seeded = Seeded(5)
    assert make_scheduler(seeded) is not seeded
    replay = Replay(LOG)
    fresh = make_scheduler(replay)
    assert isinstance(fresh, Replay)
    assert fresh is not replay
    assert fresh.log is LOG
