"""Malformed values thrown at the substrate's entry points: each gets a typed
error naming the argument, changes nothing in other cases, and never hangs."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st

import wftrio as wf
from wftrio.errors import OptionError, UnknownRegion
from wftrio.runtime import CaseState, open_substrate

JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.binary(max_size=4),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

TERM = wf.seq(
    wf.region("r", wf.wait_signal("go")),
    wf.task("done", lambda ctx: {"done": True}),
)


async def poke(sub: wf.Substrate, cid: str, which: str, value: Any) -> BaseException | None:
    try:
        with trio.fail_after(5):
            if which == "signal":
                await sub.signal(cid, value)
            elif which == "cancel_region":
                await sub.cancel_region(cid, value)
            elif which == "wait_state":
                await sub.wait_state(cid, value)
            elif which == "case_id":
                await sub.signal(value, "go")
            else:
                await sub.new_case(TERM, **{which: value})
    except trio.TooSlowError:  # pragma: no cover - the property fails below
        raise
    except wf.WftrioError as exc:
        return exc
    return None


@given(
    which=st.sampled_from(
        [
            "signal",
            "cancel_region",
            "wait_state",
            "case_id",
            "keep_events",
            "max_pending_signals",
            "step_quanta",
            "timeout",
            "trace_level",
        ]
    ),
    value=JUNK,
)
def test_malformed_values_get_typed_errors_and_disturb_nobody(which: str, value: Any) -> None:
    async def main() -> None:
        async with open_substrate() as sub:
            bystander = await sub.new_case(TERM)
            victim = await sub.new_case(TERM)
            await sub.wait_state(bystander, CaseState.WAITING_SIGNAL)
            await sub.wait_state(victim, CaseState.WAITING_SIGNAL)
            before = sub.events(bystander)
            err = await poke(sub, victim, which, value)
            if err is not None:  # the error names the argument
                names = {
                    "signal": ("name", "signal"),
                    "cancel_region": ("scope_id", "region"),
                    "wait_state": ("state",),
                    "case_id": ("case",),
                }.get(which, (which,))
                assert any(n in str(err) for n in names), (which, err)
            # the bystander saw nothing; both cases still run to the end
            assert sub.events(bystander) == before
            for cid in (bystander, victim):
                if not sub.status(cid).state.final:
                    if sub.status(cid).live_regions:
                        await sub.signal(cid, "go")
                    await sub.wait_state(cid)
            assert sub.status(bystander).state is CaseState.DONE

    trio.run(main)


# one regression test per refused argument (tests/test_fuzz_entrypoints.py
# fuzzes the same entry points): a typed error naming the argument, and a
# neighbour case on the same substrate untouched


class _NotAClock:
    def __repr__(self) -> str:
        return "<not a clock>"


def _refuses(call: Any, arg: str, exc: type[BaseException] = OptionError) -> None:
    with pytest.raises(exc) as info:
        call()
    assert isinstance(info.value, wf.WftrioError)
    assert isinstance(info.value, ValueError | LookupError)
    assert arg in str(info.value), str(info.value)


@pytest.mark.parametrize("sinks", [5, [5], "x", {"a": print}, {print}])
def test_open_substrate_refuses_malformed_sinks(sinks: Any) -> None:
    _refuses(lambda: open_substrate(sinks=sinks), "sinks")


def test_open_substrate_takes_none_or_a_list_of_sinks() -> None:
    assert open_substrate(sinks=None).hub.sinks == ()
    assert len(open_substrate(sinks=(print, wf.MemorySink())).hub.sinks) == 2


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("signals", 5),
        ("signals", [1]),
        ("signals", [("go",)]),
        ("signals", [(1, None)]),
        ("signals", [("", None)]),
        ("signals", "go"),
        ("clock", 5),
        ("clock", _NotAClock()),
    ],
)
def test_run_refuses_malformed_signals_and_clock(option: str, value: Any) -> None:
    _refuses(lambda: wf.run(TERM, **{option: value}), option)


def test_run_refuses_a_ctx_with_non_str_keys() -> None:
    _refuses(lambda: wf.run(TERM, {1: 2}), "ctx")


async def _with_neighbour(body: Any) -> None:
    """Run ``body(sub, case)`` next to a neighbour waiting on the same substrate."""
    async with open_substrate() as sub:
        neighbour = await sub.new_case(TERM)
        case = await sub.new_case(TERM)
        await sub.wait_state(neighbour, CaseState.WAITING_SIGNAL)
        before = sub.events(neighbour)
        await body(sub, case)
        assert sub.events(neighbour) == before
        assert len(sub.case_ids()) == 2  # nothing was started
        await sub.signal(neighbour, "go")
        assert (await sub.wait(neighbour)).ctx == {"done": True}
        await sub.cancel(case)


async def _refuses_async(call: Any, arg: str, exc: type[BaseException] = OptionError) -> None:
    with pytest.raises(exc) as info:
        await call()
    assert isinstance(info.value, wf.WftrioError)
    assert isinstance(info.value, ValueError | LookupError)
    assert arg in str(info.value), str(info.value)


async def test_new_case_refuses_a_ctx_with_non_str_keys() -> None:
    async def body(sub: wf.Substrate, case: str) -> None:
        await _refuses_async(lambda: sub.new_case(TERM, {1: 2}), "ctx")
        await _refuses_async(lambda: sub.new_case(TERM, {"a": 1, (1,): 2}), "ctx")

    await _with_neighbour(body)


async def test_new_case_refuses_an_empty_case_id() -> None:
    async def body(sub: wf.Substrate, case: str) -> None:
        await _refuses_async(lambda: sub.new_case(TERM, None, ""), "case_id")

    await _with_neighbour(body)


async def test_signal_refuses_an_empty_name() -> None:
    async def body(sub: wf.Substrate, case: str) -> None:
        await _refuses_async(lambda: sub.signal(case, ""), "name")
        await _refuses_async(lambda: sub.signal(case, "", transient=True), "name")
        assert sub.status(case).pending_signals == {}

    await _with_neighbour(body)


async def test_cancel_region_refuses_an_unknown_region() -> None:
    async def body(sub: wf.Substrate, case: str) -> None:
        await _refuses_async(lambda: sub.cancel_region(case, "nope"), "scope_id", UnknownRegion)
        assert sub.status(case).live_regions == ("r",)

    await _with_neighbour(body)


@pytest.mark.parametrize("state", ["bogus", [], None, 1])
async def test_wait_state_refuses_what_is_not_a_case_state(state: Any) -> None:
    async def body(sub: wf.Substrate, case: str) -> None:
        with trio.fail_after(5):
            await _refuses_async(lambda: sub.wait_state(case, state), "states")

    await _with_neighbour(body)


@pytest.mark.parametrize("bad", [-1, math.nan, math.inf, "x", True, [1]])
async def test_wait_refuses_a_malformed_timeout(bad: Any) -> None:
    async def body(sub: wf.Substrate, case: str) -> None:
        with trio.fail_after(5):
            await _refuses_async(lambda: sub.wait(case, timeout=bad), "timeout")

    await _with_neighbour(body)


async def test_wait_takes_a_timeout_of_zero() -> None:
    async def body(sub: wf.Substrate, case: str) -> None:
        with pytest.raises(trio.TooSlowError):
            await sub.wait(case, timeout=0)

    await _with_neighbour(body)
