"""The trace and store side of a case (a base of :class:`~wftrio.runtime._runner.Case`).

It moves the reducer's new events to the durable store, the case's
in-memory window and the trace-sink queue, and keeps what a case notes about
itself beyond its trace.  The runner (``_runner``) decides when.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from wftrio.engine import FINAL, ExecState, Status
from wftrio.errors import OptionError
from wftrio.runtime._durable import CaseLog
from wftrio.runtime._inbox import Inbox
from wftrio.runtime._sinks import SinkSlot, TraceSink
from wftrio.runtime._types import CaseOptions, CaseState
from wftrio.trace import TraceEvent

if TYPE_CHECKING:
    from wftrio.runtime._replay import ReplayFeed
    from wftrio.runtime._substrate import Substrate

__all__ = ["CaseNotes", "CaseRecord"]

logger = logging.getLogger("wftrio.runtime")


class CaseNotes:
    """What a case noted about itself beyond its trace (made at the first note).

    Kept out of :class:`Case`'s own slots: most cases never note anything,
    and a waiting case should stay small.
    """

    __slots__ = ("events_dropped", "sink_error", "sink_errors")

    def __init__(self) -> None:
        self.sink_errors = 0  # events a sink could not write
        self.sink_error: str | None = None  # the last of them, described
        self.events_dropped = 0  # oldest events dropped from memory (keep_events=)


class CaseRecord:
    """The trace and store plumbing of a case (its other fields are :class:`Case`'s)."""

    # the fields this plumbing writes; Case holds the rest
    __slots__ = ("_unsent", "events", "level", "notes", "targets")

    sub: Substrate
    case_id: str
    st: ExecState | None
    state: CaseState
    opts: CaseOptions
    inbox: Inbox
    durable: CaseLog | None
    replay: ReplayFeed | None
    level: str
    events: list[TraceEvent] | None
    targets: tuple[SinkSlot, ...]
    notes: CaseNotes | None
    _unsent: list[TraceEvent] | None
    _fail: Callable[[Exception], None]  # the runner's: the case fails with it

    # -- tracing -------------------------------------------------------------

    def set_trace(self, level: str, sink: TraceSink | None, detach: bool) -> None:
        """Change the trace level (and per-case sink) of the live case.

        Raises:
            OptionError: another level for a durable case (nothing changed):
                its resume replays at its stored level and checks the events
                against the stored ones, so a level changed live would make
                it unresumable.
        """
        if self.durable is not None and level != self.level:
            raise OptionError(
                f"trace(): case {self.case_id!r} is durable: its trace level ({self.level!r}) "
                "is what its store replays and cannot change while it runs; attach a sink "
                f"at level {self.level!r} instead"
            )
        if self.st is not None:
            self.st.set_level(level)
        self.level = level
        if sink is not None or detach:
            shared = self.sub.hub.sinks
            self.targets = shared + (SinkSlot(sink, False),) if sink is not None else shared
            if sink is not None:
                self.sub.hub.ensure_running()

    def _notes(self) -> CaseNotes:
        notes = self.notes
        if notes is None:
            notes = self.notes = CaseNotes()
        return notes

    def sink_failed(self, sink: TraceSink, ev: TraceEvent, exc: BaseException) -> None:
        """A sink could not write event ``ev`` of this case: count it, keep a note.

        Only that event is lost, for that sink only (see ``_sinks``).
        """
        notes = self._notes()
        if not notes.sink_errors:
            logger.warning(
                "trace sink %r cannot write event %d (%s) of case %r: %r; "
                "only that event is lost (further ones are counted in status().sink_errors)",
                sink,
                ev.seq,
                ev.kind,
                self.case_id,
                exc,
            )
        notes.sink_errors += 1
        notes.sink_error = (
            f"sink_error: {sink!r} could not write event {ev.seq} ({ev.kind}): "
            f"{type(exc).__name__}: {exc}"
        )

    def _commit(self) -> None:
        """Move the reducer's new events to the case store (and the sink queue)."""
        st = self.st
        if st is None:
            return
        log = self.durable
        if log is None and not self.targets:
            self._keep(st)
            return
        if not st.has_events():
            if log is not None and log.timers and not self.sub.closing:
                log.commit((), self._snapshottable(), self.state.value)
            return
        evs = st.take_events()  # stored or sent to sinks now: receipts built
        if log is not None and not self.sub.closing:
            # a shutdown's cancellation is not the case's end: not stored
            live = self.replay is None and st.status not in FINAL  # the finish stores the last
            err = log.commit(evs, self._snapshottable(), self.state.value, st.ctx if live else None)
            if err is not None:
                self._fail(err)
            if log.deliver and evs[-1].seq + 1 >= log.stored:
                self.deliver_requests()  # the resumed case has caught up
        if self.targets:
            if self._unsent is None:
                self._unsent = list(evs)
            else:
                self._unsent.extend(evs)
        self._window(evs)

    def _keep(self, st: ExecState | None) -> None:
        """:meth:`_commit` of a case with no store and no sink: its events kept in memory."""
        if st is None or not st.has_events():
            return
        # receipts' request hashes are computed when the trace is read (materialise)
        evs = st.take_events(defer_receipts=True)
        events = self.events
        if events is None:
            self.events = events = evs
            keep = self.opts.keep_events
            if keep is None or len(events) <= keep:
                return  # (the common case: a first batch within the window)
        self._window(evs)

    def _window(self, evs: list[TraceEvent]) -> None:
        """Add ``evs`` to the case's in-memory events, keeping the latest ``keep_events``."""
        events = self.events
        if events is None:
            events = self.events = evs
        elif events is not evs:
            events.extend(evs)
        keep = self.opts.keep_events
        if keep is not None and len(events) > keep:
            # a long-lived case keeps a window of its latest events; sinks
            # (queued above) receive every one
            drop = len(events) - keep
            del events[:drop]
            self._notes().events_dropped += drop

    def _check_caught_up(self, st: ExecState) -> None:
        """A resumed case ending before its replay emitted every stored event fails.

        (It diverged: see ``_durable``; not a cancellation, which can come from
        the runtime at any point: a timeout, a shutdown.)
        """
        log = self.durable
        assert log is not None
        if st.status is Status.CANCELLED or self.sub.closing:
            return
        err = log.short_of(st.seq, st.status.value)
        if err is not None:
            st.status = Status.FAILED
            st.error = err

    def _stalled_replay(self, st: ExecState) -> bool:
        """Fail a resumed case blocking, its replay done, short of its stored events.

        With no effect or timer running, only an input can move it on, and
        every stored input has been fed: it would wait forever (requests are
        delivered once it has emitted every stored event again).
        """
        log = self.durable
        if (
            log is None
            or self.replay is not None
            or st.seq >= log.stored
            or log.diverged is not None
            or st.effects
            or st.timers
        ):
            return False
        self._fail(
            log.diverge(
                f"its replay waits after {st.seq} events with nothing running, where the "
                f"store holds {log.stored}"
            )
        )
        return True

    def _snapshottable(self) -> ExecState | None:
        """The state if a snapshot may be taken now (live, outbox drained, not replaying)."""
        st = self.st
        if st is None or st.status in FINAL or st.outbox or self.replay is not None:
            return None
        return st

    def deliver_requests(self) -> None:
        """Put a resumed case's committed, unconsumed requests in its inbox."""
        log = self.durable
        assert log is not None
        msgs, log.deliver = log.deliver, []
        for msg in msgs:
            self.inbox.put(msg)

    async def _flush(self) -> None:
        """Commit, then send unsent events to the trace-sink task (may block)."""
        self._commit()
        batch = self._unsent
        if batch:
            self._unsent = None
            try:
                await self.sub.hub.send(self.sink_failed, self.targets, batch)
            except BaseException:
                # not queued (cancelled): keep the batch for the final flush
                self._unsent = batch + (self._unsent or [])
                raise
