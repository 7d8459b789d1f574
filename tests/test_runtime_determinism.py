"""Reproducible runs on the runtime (issue 10 item 4).

* Effects and timers finishing at the same virtual instant are fed in the
  order the case issued them, whatever order trio ran their tasks in, so a
  ``Seeded`` case gives the same trace run after run.
* A replayed cancellation keeps its reason (``cancel``, ``timeout``).
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.runtime import open_substrate


def _effect(i: int, seconds: float = 1.0) -> wf.Term:
    async def fn(ctx: Any) -> dict[str, int]:
        await trio.sleep(seconds)
        return {f"e{i}": i}

    return wf.task(f"e{i}", fn)


def _same_instant_term() -> wf.Term:
    timers = wf.defer(
        wf.after(1.0, wf.task("timer", lambda ctx: {"t": 1})),
        wf.on_signal("never", wf.task("never", lambda ctx: None)),
    )
    return wf.seq(wf.par(*[_effect(i) for i in range(6)], timers), wf.task("end", lambda c: None))


def _run_seeded(seed: int) -> tuple[tuple[str, str | None], ...]:
    async def main() -> tuple[tuple[str, str | None], ...]:
        async with open_substrate() as sub:
            cid = await sub.new_case(
                _same_instant_term(), scheduler=wf.Seeded(seed), trace_level="full"
            )
            await sub.wait(cid)
            return tuple((str(e.kind), e.name) for e in sub.events(cid))

    return trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0))


@pytest.mark.parametrize("seed", [0, 7])
def test_seeded_case_is_reproducible_when_effects_finish_at_one_instant(seed: int) -> None:
    traces = {_run_seeded(seed) for _ in range(12)}
    assert len(traces) == 1


def test_same_instant_effects_are_fed_in_issue_order() -> None:
    trace = _run_seeded(3)
    started = [n for k, n in trace if k == "effect_requested"]
    completed = [n for k, n in trace if k == "effect_completed"]
    assert completed == started


async def _cancelled_trace(**options: Any) -> tuple[list[wf.TraceEvent], str | None]:
    term = wf.seq(wf.task("a", lambda ctx: None), wf.wait_signal("never"))
    async with open_substrate() as sub:
        cid = await sub.new_case(term, trace_level="full", **options)
        if "timeout" not in options:
            await trio.sleep(2)
            await sub.cancel(cid)
        with pytest.raises(wf.CaseCancelled) as info:
            await sub.wait(cid)
        return sub.events(cid), info.value.result.reason


@pytest.mark.parametrize(
    ("options", "reason"), [({"timeout": 5}, "timeout"), ({}, "cancel")], ids=["timeout", "cancel"]
)
async def test_replayed_cancellation_keeps_its_reason(
    autojump_clock: Any, options: dict[str, Any], reason: str
) -> None:
    trace, got = await _cancelled_trace(**options)
    assert got == reason
    [ev] = [e for e in trace if e.kind == "case_cancelled"]
    assert ev.data["reason"] == reason

    term = wf.seq(wf.task("a", lambda ctx: None), wf.wait_signal("never"))
    async with open_substrate() as sub:
        cid = await sub.new_case(
            term, scheduler=wf.Replay(wf.replay_log(trace)), trace_level="full"
        )
        with pytest.raises(wf.CaseCancelled) as info:
            await sub.wait(cid)
        assert info.value.result.reason == reason
        again = sub.events(cid)
    assert [(e.kind, e.name, e.time, e.data) for e in again] == [
        (e.kind, e.name, e.time, e.data) for e in trace
    ]
