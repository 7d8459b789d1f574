"""Driving a reducer with recorded inputs (replay) and without a runtime."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wftrio.engine._state import FINAL, ExecState, Status
from wftrio.errors import RecordedError, ReplayDivergence
from wftrio.trace import InputEvent

__all__ = ["feed_input", "run_with_inputs"]


def feed_input(st: ExecState, ev: InputEvent) -> None:
    """Feed one recorded external input back into ``st``.

    Raises:
        ReplayDivergence: the input's kind is unknown.
    """
    d = ev.data
    kind = ev.kind
    if kind in ("signal_received", "signal_dropped"):
        st.feed_signal(
            str(ev.name),
            d.get("payload"),
            transient=bool(d.get("transient", kind == "signal_dropped")),
        )
    elif kind == "effect_completed":
        st.feed_effect(int(d["eid"]), d.get("result"), **_effect_info(d))
    elif kind == "effect_failed":
        st.feed_effect(
            int(d["eid"]),
            error=RecordedError(str(d.get("error_type")), str(d.get("error"))),
            outcome=d.get("outcome"),
            **_effect_info(d),
        )
    elif kind == "effect_retry":
        st.feed_effect_retry(
            int(d["eid"]),
            int(d.get("attempt", 1)),
            RecordedError(str(d.get("error_type")), str(d.get("error"))),
            float(d.get("delay", 0.0)),
        )
    elif kind == "timer_fired":
        st.fire_timer(int(d["tid"]))
    elif kind in ("region_cancelled", "region_cancel_ignored"):
        st.cancel_region(str(ev.name))
    elif kind == "case_cancelled":
        st.cancel()
    else:
        raise ReplayDivergence(f"replay: cannot feed an input of kind {kind!r}")


def _effect_info(d: Mapping[str, Any]) -> dict[str, Any]:
    """The attempts and times a recorded effect outcome carries (older traces: none)."""
    out: dict[str, Any] = {"attempts": int(d.get("attempts", 1))}
    for k in ("started", "ended"):
        v = d.get(k)
        if v is not None:
            out[k] = float(v)
    return out


def run_with_inputs(
    st: ExecState, inputs: Iterable[InputEvent] = (), *, max_steps: int | None = None
) -> Status:
    """Run ``st`` to a final or blocked state, feeding ``inputs`` at their steps.

    Each input is fed when the case's step count reaches its ``at_step``,
    exactly where the recorded run consumed it.  Without inputs this runs
    the case until it finishes or blocks on the outside world.

    Raises:
        ReplayDivergence: the case blocked or finished before reaching the
            step an input was recorded at.
    """
    pending = list(inputs)
    pending.reverse()
    limit = max_steps if max_steps is not None else 1 << 62
    start = st.steps
    while True:
        while pending and pending[-1].at_step <= st.steps:
            ev = pending.pop()
            if ev.at_step < st.steps:
                raise ReplayDivergence(
                    f"replay: input {ev.kind} {ev.name!r} was recorded at step {ev.at_step} "
                    f"but the case is already at step {st.steps}"
                )
            feed_input(st, ev)
        budget = limit - (st.steps - start)
        if pending:
            budget = min(budget, pending[-1].at_step - st.steps)
        if budget <= 0:
            return st.status
        status = st.run(budget)
        if status in FINAL or (status is Status.BLOCKED and not pending):
            return status
        if status is Status.BLOCKED and pending[-1].at_step > st.steps:
            raise ReplayDivergence(
                f"replay: the case blocked at step {st.steps} but the next recorded input "
                f"({pending[-1].kind} {pending[-1].name!r}) is at step {pending[-1].at_step}"
            )
