"""``wf.run``'s lighter supervision tree: one nursery, no store to open, no sink task.

What ``async with open_substrate()`` guarantees still holds: errors come out
unwrapped (no exception group), ``KeyboardInterrupt`` / ``SystemExit`` from
the case stop the run as themselves, a case left waiting is cancelled and
its effects' cleanup runs, and the defaults of a substrate are parsed once.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.runtime._substrate import Substrate


def _inc(ctx: Any) -> dict[str, Any]:
    return {"n": ctx.get("n", 0) + 1}


async def _effect_inc(ctx: Any) -> dict[str, Any]:
    await trio.lowlevel.checkpoint()
    return {"n": ctx.get("n", 0) + 1}


def _fail(ctx: Any) -> dict[str, Any]:
    raise ValueError("no")


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
def test_an_effect_raising_keyboard_interrupt_stops_wf_run_unwrapped(
    exc_type: type[BaseException],
) -> None:
    original = exc_type("stop")

    async def effect(ctx: Any) -> None:
        await trio.lowlevel.checkpoint()
        raise original

    with pytest.raises(exc_type) as info:
        wf.run(wf.seq(wf.task("e", _effect_inc), wf.task("bad", effect)))
    assert info.value is original


def test_errors_come_out_of_wf_run_unwrapped() -> None:
    with pytest.raises(wf.CaseFailed) as info:
        wf.run(wf.seq(wf.task("e", _effect_inc), wf.task("bad", _fail)))
    assert isinstance(info.value.cause, ValueError)
    with pytest.raises(wf.CaseFailed):
        wf.run(wf.task("bad", _fail))  # failed in new_case's first burst
    with pytest.raises(wf.OptionError):
        wf.run(wf.task("t", _inc), step_quanta=0)
    with pytest.raises(wf.CaseCancelled):
        wf.run(wf.seq(wf.task("e", _effect_inc), wf.wait_signal("go")), timeout=0.01)


def test_a_stuck_case_with_an_effect_behind_it_is_cancelled_and_cleaned_up() -> None:
    cleaned: list[str] = []

    async def effect(ctx: Any) -> dict[str, Any]:
        try:
            await trio.sleep_forever()
        finally:
            cleaned.append("e")
        return {}  # pragma: no cover - never reached

    term = wf.par(wf.wait_signal("go"), wf.task("e", effect))
    with pytest.raises(wf.CaseStuck) as info:
        wf.run(term, clock=trio.testing.MockClock(autojump_threshold=0))
    assert cleaned == ["e"]
    assert info.value.result is not None
    assert info.value.result.state is wf.CaseState.CANCELLED


def test_wf_run_with_effects_and_signals() -> None:
    term = wf.seq(wf.task("a", _effect_inc), wf.wait_signal("go"), wf.task("b", _effect_inc))
    res = wf.run(term, signals=[("go", None)])
    assert res.ctx == {"n": 2}
    assert [r.task for r in res.receipts(steps=False)] == ["a", "b"]


def test_a_substrate_is_opened_once_either_way() -> None:
    async def main() -> None:
        sub = Substrate()
        async with trio.open_nursery() as nursery:
            sub._open_one_shot(nursery)
            with pytest.raises(wf.SubstrateClosed):
                sub._open_one_shot(nursery)
            sub._close_one_shot()
        with pytest.raises(wf.SubstrateClosed):
            await sub.new_case(wf.task("t", _inc))

    trio.run(main)


def test_substrate_defaults_are_parsed_once_and_checked_when_given() -> None:
    a, b = Substrate(), Substrate()
    assert a.defaults is b.defaults  # the default options, parsed once
    c = Substrate(step_quanta=1000)  # given explicitly: parsed, and equal
    assert c.defaults == a.defaults
    assert Substrate(trace_level="min").defaults.trace_level == "min"
    assert a.defaults.trace_level == "full"
    with pytest.raises(wf.OptionError, match="validate"):
        Substrate(validate=1)  # equal to True, but not a bool: still refused
    with pytest.raises(wf.OptionError, match="unknown option"):
        Substrate(bogus=1)
