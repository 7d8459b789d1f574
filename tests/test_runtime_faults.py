"""Faults from user code: a stray ``trio.Cancelled`` or other ``BaseException``
fails only its case; ``KeyboardInterrupt`` / ``SystemExit`` stop the whole
substrate and come out of ``open_substrate`` unwrapped."""

from __future__ import annotations

from typing import Any

import pytest
import trio
import trio.testing

import wftrio as wf
from wftrio.errors import EscapedBaseException
from wftrio.runtime import CaseState, open_substrate


class Boom(BaseException):
    """A BaseException subclass that is nobody's cancellation."""


async def catch_a_cancelled() -> BaseException:
    with trio.CancelScope() as inner:
        inner.cancel()
        try:
            await trio.lowlevel.checkpoint()
        except trio.Cancelled as exc:
            return exc
    raise AssertionError("not cancelled")  # pragma: no cover


def raising_effect(make: Any, after: float = 1.0) -> Any:
    async def effect(ctx: Any) -> None:
        await trio.sleep(after)
        raise await make()

    return effect


async def stray() -> BaseException:
    return await catch_a_cancelled()


async def boom() -> BaseException:
    return Boom("not a cancellation")


class Slow:
    def __init__(self) -> None:
        self.cleaned: list[str] = []

    def task(self, name: str, seconds: float = 10.0) -> Any:
        async def effect(ctx: Any) -> dict[str, Any]:
            try:
                await trio.sleep(seconds)
            finally:
                self.cleaned.append(name)
            return {name: True}

        return wf.task(name, effect)


@pytest.mark.parametrize("make", [stray, boom], ids=["stray_cancelled", "base_exception"])
async def test_an_escaping_base_exception_fails_only_its_case(
    autojump_clock: trio.testing.MockClock, make: Any
) -> None:
    slow = Slow()
    term = wf.par(slow.task("slow"), wf.task("bad", raising_effect(make)))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        other = await sub.new_case(slow.task("neighbour", 20.0))
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
        err = info.value.cause
        assert isinstance(err, EscapedBaseException)
        assert isinstance(err.__cause__, trio.Cancelled if make is stray else Boom)
        assert "'bad'" in str(err)
        assert sub.status(cid).state is CaseState.FAILED
        # a receipt for every effect in flight: the culprit's error, the rest cancelled
        outcomes = {r.task: r.outcome for r in sub.receipts(cid, steps=False)}
        assert outcomes == {"bad": "error", "slow": "cancelled"}
        assert "slow" in slow.cleaned
        # the neighbour and the substrate are untouched
        assert (await sub.wait(other)).state is CaseState.DONE
        assert sub.stats().cases_failed == 1


async def test_on_error_does_not_catch_an_escaping_base_exception(
    autojump_clock: trio.testing.MockClock,
) -> None:
    term = wf.task(
        "bad",
        raising_effect(boom),
        on_error=wf.task("handled", lambda ctx: {"handled": True}),
    )
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
        assert isinstance(info.value.cause, EscapedBaseException)
        res = info.value.result
        assert "handled" not in res.ctx
        assert [r.outcome for r in res.receipts(steps=False)] == ["error"]


async def test_a_pure_task_raising_a_base_exception_fails_its_case() -> None:
    def bad(ctx: Any) -> None:
        raise Boom("from a pure task")

    async with open_substrate() as sub:
        cid = await sub.new_case(wf.seq(wf.task("ok", lambda ctx: {"a": 1}), wf.task("bad", bad)))
        with pytest.raises(wf.CaseFailed) as info:
            await sub.wait(cid)
        assert isinstance(info.value.cause, EscapedBaseException)
        assert isinstance(info.value.cause.__cause__, Boom)
        assert (await sub.wait(await sub.new_case(wf.task("ok", lambda ctx: None)))).state == "done"


async def test_the_cases_own_cancellation_is_not_stray(
    autojump_clock: trio.testing.MockClock,
) -> None:
    slow = Slow()
    term = wf.region("r", slow.task("e"), compensate=wf.task("undo", lambda ctx: {"undone": 1}))
    async with open_substrate() as sub:
        cid = await sub.new_case(term)
        await sub.wait_state(cid, CaseState.WAITING_EFFECT)
        await sub.cancel_region(cid, "r")
        res = await sub.wait(cid)
        assert res.ctx == {"undone": 1}
        assert [r.outcome for r in res.receipts(steps=False)] == ["cancelled"]
        cid2 = await sub.new_case(slow.task("f"))
        await sub.wait_state(cid2, CaseState.WAITING_EFFECT)
        await sub.cancel(cid2)
        with pytest.raises(wf.CaseCancelled):
            await sub.wait(cid2)


# -- KeyboardInterrupt / SystemExit ----------------------------------------


@pytest.mark.parametrize("exc_type", [KeyboardInterrupt, SystemExit])
@pytest.mark.parametrize("where", ["effect", "pure", "first_burst"])
async def test_keyboard_interrupt_and_system_exit_stop_everything_unwrapped(
    autojump_clock: trio.testing.MockClock, exc_type: type[BaseException], where: str
) -> None:
    slow = Slow()
    original = exc_type("stop")

    async def effect(ctx: Any) -> None:
        await trio.sleep(1)
        raise original

    def pure(ctx: Any) -> None:
        raise original

    culprit = {
        "effect": wf.task("bad", effect),
        "pure": wf.seq(wf.wait_signal("go"), wf.task("bad", pure)),
        # raised inside new_case, which takes the first burst
        "first_burst": wf.task("bad", pure),
    }[where]
    subs: list[wf.Substrate] = []

    async def main() -> None:
        async with open_substrate() as sub:
            subs.append(sub)
            a = await sub.new_case(slow.task("a"))
            b = await sub.new_case(culprit)
            if where == "pure":
                await sub.signal(b, "go")
            await sub.wait(a)

    with pytest.raises(exc_type) as info:
        await main()
    (sub,) = subs
    (a, b) = sub.case_ids()
    assert info.value is original  # the original exception, not a group around it
    assert slow.cleaned == ["a"]  # the other case was cancelled, its cleanup ran
    assert sub.status(a).state is CaseState.CANCELLED
    assert sub.status(b).state.final


def test_keyboard_interrupt_from_wf_run_is_unwrapped() -> None:
    def pure(ctx: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        wf.run(wf.task("bad", pure))
