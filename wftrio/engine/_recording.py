"""The trace recording half of :class:`~wftrio.engine.ExecState` (a mixin).

Every event the reducer records goes through :meth:`Recording.emit` (or
:meth:`Recording.record` for an event a hot loop built itself); what
happens to it depends on the trace level, ``keep_events`` and
``on_event``, decided once in :meth:`Recording._set_recorder`.  Compact
records (a fused run of pure tasks, a receipt waiting for its request
hash) stay compact until the trace is read (:attr:`Recording.events`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wftrio.engine._fused import FusedRun, materialise
from wftrio.engine.frozen import ATOMIC, NO_UPDATES, FrozenDict, freeze, freeze_items
from wftrio.engine.objects import Token
from wftrio.engine.protocol import EventKind
from wftrio.errors import EngineError
from wftrio.trace import MIN_KINDS, TraceEvent

if TYPE_CHECKING:
    from wftrio.engine._receipt_records import CtxDigest, PendingReceipt

__all__ = ["Recording", "scope_of"]

_new_event = tuple.__new__


def _record_nothing(ev: TraceEvent) -> None:
    """The recorder at level ``"none"`` (never called: events are not built)."""


def scope_of(tok: Token) -> str | None:
    """The id of the innermost user region holding ``tok`` (None outside any)."""
    r = tok.region
    while r is not None and r.scope_id is None:
        r = r.parent
    return r.scope_id if r is not None else None


class Recording:
    """Trace recording for :class:`~wftrio.engine.ExecState`, which holds the fields below."""

    # ExecState's fields that recording reads and writes (slotted here, so the
    # mixin may assign them; ``schema.slot_names`` sees them through the MRO)
    __slots__ = (
        "_events",
        "_lazy",
        "_record",
        "_unhashed",
        "case_id",
        "clock",
        "full",
        "keep_events",
        "level",
        "on_event",
        "seq",
        "t0",
        "tracing",
    )

    case_id: str
    clock: Callable[[], float] | None
    t0: float
    seq: int
    level: str
    full: bool
    tracing: bool
    keep_events: bool
    on_event: Callable[[TraceEvent], None] | None
    _events: list[Any]
    _lazy: int  # 0: events only; 1: also PendingReceipts / effect tuples; 2: a FusedRun
    _unhashed: CtxDigest | None
    _record: Callable[[TraceEvent], None] | None  # None: append to _events

    def set_level(self, level: str) -> None:
        """Change the trace level (``"none"``, ``"min"``, ``"full"``)."""
        if level not in ("none", "min", "full"):
            raise EngineError(f"trace level {level!r}: expected 'none', 'min' or 'full'")
        self.level = level
        self.full = level == "full"
        self.tracing = level != "none"
        self._set_recorder()

    def emit(
        self,
        kind: EventKind,
        name: str | None,
        tok: Token | None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Record an event of ``kind`` if the trace level keeps it.

        The event gets the next sequence number, the case id, ``tok``'s id
        and region (``None`` for a case-level event), the case time and
        ``data`` (default ``{}``).  Callers on hot paths test ``self.full``
        (or ``self.tracing``) first so that no argument is built when the
        level drops the event anyway.

        The event holds the kind's plain string (``EventKind.X == "x"``), as
        a trace read back from JSON does: live and loaded traces compare,
        print and pickle alike.
        """
        if not self.tracing or (not self.full and kind not in MIN_KINDS):
            return
        seq = self.seq
        self.seq = seq + 1
        tid = sid = None
        if tok is not None:
            tid = tok.id
            if tok.region is not None:
                sid = scope_of(tok)
        clock = self.clock
        t = (clock() - self.t0) if clock is not None else 0.0
        kv = kind._value_  # the plain str (see above); .value costs 5x more
        rec = self._record
        if rec is None:
            # kept, no callback: a plain tuple, which the collector stops tracking
            # when its values are scalars (a TraceEvent and its FrozenDict stay
            # tracked for life); built into the same event when read (plain_event)
            if data is None:
                self._events.append((seq, self.case_id, kv, name, tid, sid, t))
            else:
                if type(data) is not FrozenDict and not ATOMIC.issuperset(map(type, data.values())):
                    data = {k: freeze(v) for k, v in data.items()}  # (as freeze_items)
                event = (seq, self.case_id, kv, name, tid, sid, t, *data, *data.values())
                self._events.append(event)
            if not self._lazy:
                self._lazy = 1
            return
        frozen = (
            NO_UPDATES
            if data is None
            else data
            if type(data) is FrozenDict  # already frozen (task updates)
            else freeze_items(data)
        )
        rec(_new_event(TraceEvent, (seq, self.case_id, kv, name, tid, sid, t, frozen)))

    def record(self, ev: TraceEvent) -> None:
        """Record a trace event built by the caller (it must carry the next ``seq``).

        Only call while tracing (``self.tracing``): at level ``"none"`` no
        event is built and nothing is recorded.
        """
        rec = self._record
        if rec is None:
            self._events.append(ev)
        else:
            rec(ev)

    @property
    def recorder(self) -> Callable[[TraceEvent], None]:
        """The callable :meth:`record` calls: a loop recording many events fetches it once."""
        rec = self._record
        return self._events.append if rec is None else rec

    def region_id(self, tok: Token) -> str | None:
        """The id of the innermost user region holding ``tok`` (None outside any)."""
        return scope_of(tok)

    def now(self) -> float:
        """Case time for a trace event: seconds since the case started."""
        return (self.clock() - self.t0) if self.clock is not None else 0.0

    @property
    def events(self) -> list[TraceEvent]:
        """The recorded trace events (the live list).

        A fused run of pure tasks at level ``"full"`` and a receipt waiting
        for its request hash are kept as compact records until this is read,
        then turned into their events in place (engine/_fused.py): the list
        read is always made of ``TraceEvent``s.
        """
        if self._lazy:
            materialise(self._events)
            self._lazy = 0
        return self._events

    @events.setter
    def events(self, value: list[TraceEvent]) -> None:
        self._events = value
        self._lazy = 0
        self._set_recorder()

    def has_events(self) -> bool:
        """Whether any event was recorded since the last ``take_events`` (builds none)."""
        return bool(self._events)

    def record_compact(
        self, rec: FusedRun | PendingReceipt, digest: CtxDigest | None = None
    ) -> None:
        """Record a compact record that ``events`` turns into its events when read.

        Only while ``keep_events`` and without ``on_event``.  A receipt
        (``digest``: the ctx digest its request hash waits for) of another
        ctx snapshot than the last one builds the last one's digest now,
        which drops its copy of the ctx: pending receipts keep at most one
        ctx copy alive per case, however many effects it runs.
        """
        if digest is not None and digest is not self._unhashed:
            if self._unhashed is not None:
                self._unhashed.prefix()
            self._unhashed = digest
        self._events.append(rec)
        self._lazy = 2 if type(rec) is FusedRun else (self._lazy or 1)

    def _record_and_call(self, ev: TraceEvent) -> None:
        if self.keep_events:
            self._events.append(ev)
        if self.on_event is not None:
            self.on_event(ev)

    def _set_recorder(self) -> None:
        if not self.tracing:
            # nothing is recorded: keep no bound method alive per waiting case
            self._record = _record_nothing
        elif self.on_event is None and self.keep_events:
            # None: append to _events (no bound method kept alive per case)
            self._record = None
        else:
            self._record = self._record_and_call

    def take_events(self, *, defer_receipts: bool = False) -> list[TraceEvent]:
        """Return and clear the recorded events.

        With ``defer_receipts`` the list may hold ``PendingReceipt`` records
        and an effect's compact ``effect_requested`` / ``effect_completed``
        tuples (engine/_receipt_records.py), one per event, for a host that
        builds them only when its trace is read (``wftrio.engine.materialise``).
        """
        lazy = self._lazy
        if lazy and (lazy > 1 or not defer_receipts):
            # (receipts alone, kept for the reader: nothing to build here)
            materialise(self._events, keep_receipts=defer_receipts)
        self._lazy = 0
        out = self._events
        self._events = []
        self._set_recorder()
        return out
