"""Malformed values thrown at the substrate's entry points: each gets a typed
error naming the argument, changes nothing in other cases, and never hangs."""

from __future__ import annotations

from typing import Any

import trio
from hypothesis import given
from hypothesis import strategies as st

import wftrio as wf
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
