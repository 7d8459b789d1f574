"""A tiny driver for the examples: runs a case on wftrio's pure reducer.

The reducer (``wftrio.engine.ExecState``) never waits for anything itself:
``run()`` steps the case until it is finished or every live token waits on
the outside world, and the commands it leaves in its outbox say what the
outside world should do (start a timer, start or cancel an effect).  This
driver plays the outside world for the examples:

* it sends the scripted signals one at a time, each when the case is blocked;
* when no signal is left, time passes: the earliest pending timer fires;
* effects are not used by these examples.

The trio runtime (``wf.run``, ``wf.open_substrate``) does the same with real
signals, real effects and trio's clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import wftrio as wf
from wftrio.engine import CancelTimer, ExecState, StartEffect, StartTimer, Status
from wftrio.trace import TraceEvent

__all__ = ["format_event", "print_trace", "run_case", "task_names"]

Signal = tuple[str, Any]
"""A scripted signal: ``(name, payload)``."""


class _SimClock:
    """Simulated time: advances only when the driver fires a timer."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def run_case(
    workflow: wf.Term,
    ctx: Mapping[str, Any] | None = None,
    signals: Sequence[Signal] = (),
    *,
    case_id: str = "case",
) -> ExecState:
    """Run ``workflow`` to completion on the pure reducer.

    Args:
        workflow: the term to run.
        ctx: the initial case ctx.
        signals: signals to send, in order, each one when the case is blocked.
        case_id: the id recorded in the trace.

    Returns:
        The final execution state: ``.status``, ``.ctx`` and ``.events``
        (the full trace).

    Raises:
        RuntimeError: the workflow asked for an effect (not used here).
    """
    clock = _SimClock()
    st = ExecState(wf.compile(workflow), ctx, case_id=case_id, clock=clock)
    deadlines: dict[int, float] = {}
    script = list(reversed(signals))
    while st.run() is Status.BLOCKED:
        for cmd in st.take_outbox():
            if isinstance(cmd, StartTimer):
                deadlines[cmd.tid] = clock.now + cmd.seconds
            elif isinstance(cmd, CancelTimer):
                deadlines.pop(cmd.tid, None)
            elif isinstance(cmd, StartEffect):
                raise RuntimeError(f"effect {cmd.name!r}: this driver runs no effects")
        if script:
            name, payload = script.pop()
            st.feed_signal(name, payload)
        elif deadlines:
            tid = min(deadlines, key=deadlines.__getitem__)
            clock.now = deadlines.pop(tid)
            st.fire_timer(tid)
        else:
            break  # blocked for good: nothing left to send
    return st


def task_names(events: Iterable[TraceEvent]) -> list[str]:
    """The names of the tasks that completed, in trace order."""
    return [str(ev.name) for ev in events if ev.kind == "task_completed"]


def format_event(ev: TraceEvent) -> str:
    """One line for a trace event: seq, case time, kind, name, details."""
    details = ", ".join(f"{k}={v!r}" for k, v in ev.data.items())
    where = f" [{ev.scope}]" if ev.scope is not None else ""
    return f"{ev.seq:3d} {ev.time:6.1f}s  {ev.kind:<17} {ev.name or '':<26}{where} {details}"


def print_trace(title: str, st: ExecState) -> None:
    """Print a case's trace, one line per event, then its final state."""
    print(f"== {title}")
    for ev in st.events:
        print(format_event(ev))
    print(f"-> {st.status}: {dict(st.ctx)}")
    print()
