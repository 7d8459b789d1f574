"""The end of a case (a base of :class:`~wftrio.runtime._runner.Case`).

How a case fails (:meth:`CaseEnd._fail`) and concludes: its final state,
its result, its last events kept, the substrate's books
(:meth:`CaseEnd._conclude`, also for a case that ended in its first
burst).  The runner (``_runner``) decides when.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wftrio.engine import FINAL, ExecState, Status
from wftrio.engine.frozen import FrozenDict
from wftrio.engine.program import Program
from wftrio.governance import BudgetUsage
from wftrio.registry import RegisteredWorkflow
from wftrio.runtime._inbox import NO_INBOX
from wftrio.runtime._messages import count_signals
from wftrio.runtime._parking import Parking
from wftrio.runtime._types import CaseResult, CaseState, new_result
from wftrio.trace import EventKind

if TYPE_CHECKING:
    from wftrio.runtime._children import Children
    from wftrio.runtime._replay import ReplayFeed
    from wftrio.terms import Term

__all__ = ["CaseEnd"]


_FINAL_OF = {
    Status.DONE: CaseState.DONE,
    Status.FAILED: CaseState.FAILED,
    Status.CANCELLED: CaseState.CANCELLED,
}


# the data of a case_state event, one shared read-only mapping per state
# (a waiting case keeps two of these events: ~180 B each when built per case)
_FROM = {s: FrozenDict({"from": s.value}) for s in CaseState}


class CaseEnd(Parking):
    """The failure and end methods of :class:`~wftrio.runtime._runner.Case`."""

    # the fields the end writes; Case holds the rest
    __slots__ = (
        "_budget",
        "_end",
        "_term",
        "error",
        "finished_at",
        "kids",
        "program",
        "reason",
        "replay",
        "result",
        "st",
        "state",
        "undelivered",
    )

    _budget: BudgetUsage | None
    _end: tuple[int, dict[str, int] | None] | None
    _term: Term | None
    error: BaseException | None
    finished_at: float | None
    kids: Children | None
    program: Program
    reason: str | None
    replay: ReplayFeed | None
    result: CaseResult | None
    st: ExecState | None
    state: CaseState
    undelivered: int
    workflow: RegisteredWorkflow | None
    _ctx0: Any
    _cancel_at: float | None
    _watch: Any

    def _fail(self, exc: Exception) -> None:
        """An exception escaped user code handling, the reducer or the runner."""
        if isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
            inner = exc.exceptions[0]
            if isinstance(inner, Exception):
                exc = inner
        st = self.st
        if st is None or st.status in FINAL:
            if self.error is None:
                self.error = exc
            return
        try:
            st.fail(None, exc, where="runtime")
        except Exception:
            st.status = Status.FAILED
        if st.error is None:
            st.error = exc

    def _conclude(self) -> None:
        """Record the final state and result (synchronous: safe when cancelled)."""
        st = self.st
        sub = self.sub
        if st is None:  # initialisation failed
            final = CaseState.FAILED
            ctx: dict[str, Any] = dict(self._ctx0 or {})
            steps = 0
        else:
            if st.status not in FINAL:
                if self.reason is None:
                    self.reason = "shutdown" if sub.closing else "aborted"
                st.cancel(self.reason)
            if st.outbox:
                st.take_outbox()
            if self.durable is not None:
                self._check_caught_up(st)
            final = _FINAL_OF[st.status]
            if final is CaseState.FAILED and self.error is None:
                self.error = st.error
            ctx = st.ctx  # not copied: the state is dropped below, its dict is the result's
            steps = st.steps
            self._end = (steps, st.pending_signals() if st.signals else None)
            self._budget = st.budget_usage()
        if final is not CaseState.CANCELLED:
            self.reason = None
        self.finished_at = sub.now()
        inbox = self.inbox
        if inbox is not NO_INBOX:  # (a case ending in its first burst never had one)
            left = inbox.close()
            if left:
                self.undelivered += count_signals(left)
        old = self.state
        if old is not final:  # _set_state(final), inlined (the watcher is set last)
            self.state = final
            if st is not None and st.tracing:
                st.emit(EventKind.CASE_STATE, final._value_, None, _FROM[old])
        if self.durable is None and not self.targets:
            self._keep(st)  # _commit, for a case with no store and no sink
        else:
            self._commit()
            if self.durable is not None and not sub.closing:
                self.durable.finish(final.value, ctx)
        events = self.events
        self.result = new_result(
            self.case_id,
            final,
            ctx,
            events if events is not None else [],  # copied when first read (CaseResult.trace)
            self.error,
            self.reason,
            steps,
        )
        if final is CaseState.CANCELLED and self._cancel_at is not None:
            sub.counters.case_cancel_latency(self.finished_at - self._cancel_at)
        self.st = None
        self.kids = None
        self.replay = None
        if self.workflow is None:
            self._term = self.program.term  # kept: one reference
        self.program = None  # type: ignore[assignment]
        sub.case_finished(self)
        if self._watch is not None:
            self._watch.value = final
