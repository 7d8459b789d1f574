"""Replay: driving a reducer with recorded inputs, without a runtime.

:func:`run_with_inputs` runs an :class:`~wftrio.engine.ExecState` and feeds
it the external inputs of a recorded trace (``wftrio.replay_log(trace).inputs``)
at the steps they were consumed at, reproducing the recorded run;
:func:`feed_input` feeds one such input.  The runtime's replay and the
durable resume use the same two functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from wftrio.engine._state import ExecState
from wftrio.engine.protocol import FINAL, EventKind, Status
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
    if kind in (EventKind.SIGNAL_RECEIVED, EventKind.SIGNAL_DROPPED):
        st.feed_signal(
            str(ev.name),
            d.get("payload"),
            transient=bool(d.get("transient", kind == EventKind.SIGNAL_DROPPED)),
        )
    elif kind == EventKind.EFFECT_COMPLETED:
        st.feed_effect(int(d["eid"]), d.get("result"), **_effect_info(d))
    elif kind == EventKind.EFFECT_FAILED:
        st.feed_effect(
            int(d["eid"]),
            error=RecordedError(str(d.get("error_type")), str(d.get("error"))),
            outcome=d.get("outcome"),
            **_effect_info(d),
        )
    elif kind == EventKind.EFFECT_RETRY:
        st.feed_effect_retry(
            int(d["eid"]),
            int(d.get("attempt", 1)),
            RecordedError(str(d.get("error_type")), str(d.get("error"))),
            float(d.get("delay", 0.0)),
        )
    elif kind == EventKind.TIMER_FIRED:
        st.fire_timer(int(d["tid"]))
    elif kind in (EventKind.REGION_CANCELLED, EventKind.REGION_CANCEL_IGNORED):
        st.cancel_region(str(ev.name))
    elif kind == EventKind.CASE_CANCELLED:
        st.cancel(str(d.get("reason", "cancel")))
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
        steps = limit - (st.steps - start)
        if pending:
            steps = min(steps, pending[-1].at_step - st.steps)
        if steps <= 0:
            return st.status
        status = st.run(steps)
        if status in FINAL or (status is Status.BLOCKED and not pending):
            return status
        if status is Status.BLOCKED and pending[-1].at_step > st.steps:
            raise ReplayDivergence(
                f"replay: the case blocked at step {st.steps} but the next recorded input "
                f"({pending[-1].kind} {pending[-1].name!r}) is at step {pending[-1].at_step}"
            )
