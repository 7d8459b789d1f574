"""What the substrate's API reads off a case: its status, its result, whether it takes a signal.

Functions over a :class:`~wftrio.runtime._runner.Case` (the runner keeps
the case's state; these only read it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wftrio.errors import CaseCancelled, CaseFailed, SignalQueueFull, UnknownSignal
from wftrio.governance import BudgetUsage
from wftrio.runtime._types import CaseInfo, CaseResult, CaseState
from wftrio.runtime._workflow import signal_names

if TYPE_CHECKING:
    from wftrio.runtime._runner import Case

__all__ = ["check_signal", "info", "outcome"]


def check_signal(case: Case, name: str) -> None:
    """Refuse a persistent signal the case can never consume, or cannot hold.

    Raises:
        UnknownSignal: no ``wait_signal`` / ``on_signal`` of the workflow names it.
        SignalQueueFull: ``max_pending_signals`` signals wait unconsumed
            (queued in the reducer or in the inbox) and no token waits for
            ``name``.
    """
    known = signal_names(case.program.term)
    if name not in known:
        raise UnknownSignal(
            f"signal(): name={name!r}: case {case.case_id!r} never waits for that "
            "signal; its workflow waits for "
            f"{', '.join(map(repr, sorted(known))) or 'no signals'}"
        )
    limit = case.opts.max_pending_signals
    st = case.st
    if limit is None or st is None or st.waiters.get(name):
        return
    held = sum(len(q) for q in st.signals.values()) + len(case.inbox)
    if held >= limit:
        raise SignalQueueFull(
            f"signal(): case {case.case_id!r} already holds {held} signals nobody has "
            f"consumed (max_pending_signals={limit}); {name!r} was not accepted"
        )


def outcome(case: Case) -> CaseResult:
    """The result of a finished case.

    Raises:
        CaseFailed: the case ended FAILED.
        CaseCancelled: the case ended CANCELLED.
    """
    res = case.result
    assert res is not None
    if res.state is CaseState.FAILED:
        raise CaseFailed(case.case_id, res.error, res)
    if res.state is CaseState.CANCELLED:
        raise CaseCancelled(case.case_id, res)
    return res


def info(case: Case) -> CaseInfo:
    """A snapshot for ``sub.status``."""
    st = case.st
    kids = case.kids
    if st is not None:
        steps = st.steps
        in_flight = len(st.effects)
        timers = len(st.timers)
        pending = st.pending_signals()
        waiting = tuple(sorted(n for n, w in st.waiters.items() if w))
        regions = tuple(st.live_regions())
        budget = st.budget_usage()
        ctx = dict(st.ctx)
    else:
        budget = case._budget or BudgetUsage(0, 0.0, 0.0, case.opts.budget)
        steps, held = case._end if case._end is not None else (0, None)
        pending = dict(held) if held else {}  # (None: none held)
        in_flight = timers = 0
        waiting = regions = ()
        res = case.result
        ctx = dict(res.ctx) if res is not None else dict(case._ctx0 or {})
    wf = case.workflow
    term = case.program.term if case.program is not None else (wf.term if wf else case._term)
    return CaseInfo(
        case_id=case.case_id,
        state=case.state,
        steps=steps,
        effects_in_flight=in_flight,
        effect_tasks=len(kids.effects) if kids is not None else 0,
        timers=timers,
        pending_signals=pending,
        waiting_signals=waiting,
        live_regions=regions,
        inbox=len(case.inbox),
        started_at=case.started_at,
        finished_at=case.finished_at,
        reason=case.reason,
        error=case.error,
        trace_level=case.level,
        events=len(case.events) if case.events is not None else 0,
        undelivered_signals=case.undelivered,
        budget=budget,
        sink_errors=case.notes.sink_errors if case.notes else 0,
        sink_error=case.notes.sink_error if case.notes else None,
        events_dropped=case.notes.events_dropped if case.notes else 0,
        effect_names=tuple(c.name for c in kids.effects.values()) if kids else (),
        workflow=case.workflow.name if case.workflow is not None else None,
        workflow_version=case.workflow.version if case.workflow is not None else None,
        ctx=ctx,
        term=term,
    )
