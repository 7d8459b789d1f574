"""A fused run of pure tasks at trace level full, recorded compactly.

A pure task records one ``task_completed`` event at level ``"full"``.  In a
fused straight-line run (``_ops._task``) every event of the run shares the
case id, the token, its region and the case time; only the sequence number,
the task name and the updates differ, and the names are the Program's.  So
the run records one :class:`FusedRun` holding the updates, and
``ExecState.events`` turns it into the same :class:`~wftrio.trace.TraceEvent`
values, one per task, the first time the trace is read.  Building and
freezing an event per task costs more than running a tiny task; a run of
10,000 tasks built 10,000 events nobody read until the case ended (see
docs/BENCHMARKS.md, figure 6).

The events read back are exactly those the eager loop records: the same
``seq``, kind, name, token, scope, time and data (the updates frozen as they
were merged into the ctx).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from sys import getrefcount
from typing import TYPE_CHECKING, Any, NamedTuple

from wftrio.effects import Effect
from wftrio.engine.frozen import ATOMIC, NO_UPDATES, FrozenDict, as_updates
from wftrio.trace import EventKind, TraceEvent

if TYPE_CHECKING:
    from wftrio.compiler.program import Instr
    from wftrio.engine._state import ExecState
    from wftrio.engine.objects import Token

__all__ = ["FusedRun", "materialise", "plain_event", "run_compact"]

_COMPLETED: str = EventKind.TASK_COMPLETED.value
_new_event = tuple.__new__


def plain_event(r: tuple[Any, ...]) -> TraceEvent:
    """The event of a plain record :meth:`~wftrio.engine._recording.Recording.emit` kept.

    ``r``: ``(seq, case_id, kind, name, token, scope, time, *keys, *values)``,
    the data's keys then its (frozen) values, in order.  A plain tuple:
    CPython stops tracking it at its first collection when its items are
    untracked (strings, numbers, ``None``: most events), where a
    ``TraceEvent`` (a tuple subclass) and its ``FrozenDict`` data stay
    tracked as long as they live, traversed by every collection of the
    oldest generation (docs/BENCHMARKS.md, figure 12b).
    """
    n = (len(r) - 7) >> 1
    data = FrozenDict(zip(r[7 : 7 + n], r[7 + n :], strict=True)) if n else NO_UPDATES
    return _new_event(TraceEvent, (*r[:7], data))


class FusedRun(NamedTuple):
    """The ``task_completed`` events of one fused run, not yet built (a value).

    ``updates[j]`` is what task ``pc + j`` returned: a private copy of a
    plain dict (frozen when the event is built), or an already frozen
    mapping.  A run is complete (never appended to) once it is recorded.
    """

    seq: int
    case_id: str
    names: Sequence[str]
    pc: int
    token: int
    scope: str | None
    time: float
    updates: list[Mapping[str, Any]]

    def events(self) -> list[TraceEvent]:
        """The run's events, as the eager loop records them."""
        new = _new_event
        te = TraceEvent
        cid = self.case_id
        tid = self.token
        rid = self.scope
        t = self.time
        kind = _COMPLETED
        ups = self.updates
        pc = self.pc
        return [
            new(te, (s, cid, kind, n, tid, rid, t, FrozenDict(u) if type(u) is dict else u))
            for s, n, u in zip(
                range(self.seq, self.seq + len(ups)),
                self.names[pc : pc + len(ups)],
                ups,
                strict=True,
            )
        ]


def materialise(recorded: list[Any], *, keep_receipts: bool = False) -> None:
    """Replace each compact record of ``recorded`` by its events, in place.

    The records are :class:`FusedRun`, ``PendingReceipt``, the plain tuples
    of :func:`plain_event` and an effect's compact ``effect_requested`` /
    ``effect_completed`` tuples (engine/_receipt_records.py);
    ``keep_receipts`` leaves all but the first (one record per event) for a
    reader further on.  In place: the
    list object stays the one the recorder appends to.
    """
    out: list[Any] = []
    extend = out.extend
    append = out.append
    te = TraceEvent
    for e in recorded:
        t = type(e)
        if t is te:
            append(e)
        elif t is tuple:
            # a plain event (plain_event: its seq first), or an effect's
            # (engine/_receipt_records.py: its builder first)
            append(e if keep_receipts else plain_event(e) if type(e[0]) is int else e[0](e))
        elif t is FusedRun or not keep_receipts:
            extend(e.events())
        else:
            append(e)
    recorded[:] = out


def run_compact(
    st: ExecState,
    tok: Token,
    pc: int,
    stop: int,
    fns: Sequence[Callable[[Any], Any] | None],
    names: Sequence[str],
    instrs: Sequence[Instr],
) -> tuple[int, Any, Exception | None]:
    """Run the pure tasks ``pc .. stop - 1`` of ``tok`` and record them as one :class:`FusedRun`.

    The loop of ``_ops._task`` at level full (the caller checked that the
    state keeps its events and has no ``on_event``).  Returns ``(i, r,
    exc)``: the pc reached, what task ``i`` returned when it returned an
    ``Effect`` spec (``i < stop``), and the exception task ``i`` raised
    (``None`` if none).  The tasks before ``i`` are merged and recorded.
    """
    scope = tok.scope
    view = scope.view
    data = scope.data
    # one time per fused run: no checkpoint happens inside it, so to the rest
    # of the program every step of the run happens at the same moment
    t = st.now()
    ups: list[Mapping[str, Any]] = []
    push = ups.append
    refs = getrefcount
    atomic = ATOMIC
    r: Any = None
    exc: Exception | None = None
    i = pc
    try:
        while i < stop:
            r = fns[i](view)  # type: ignore[misc]
            if r is not None:
                if type(r) is dict:
                    for k, v in r.items():
                        if type(k) is not str or type(v) not in atomic:
                            r = as_updates(r, names[i], instrs[i].path)
                            push(r)
                            break
                    else:
                        # the task may keep, and change, the dict it returned: then
                        # the run keeps a private copy; a dict nothing else refers
                        # to (the local ``r`` and getrefcount's argument) is kept
                        # itself, as nobody can change it any more (CPython)
                        push(r if refs(r) == 2 else r.copy())
                    data.update(r)
                elif isinstance(r, Effect):
                    break
                else:
                    r = as_updates(r, names[i], instrs[i].path)
                    data.update(r)
                    push(r)
            else:
                push(NO_UPDATES)
            i += 1
    except Exception as e:
        exc = e
    if ups:
        seq = st.seq
        st.seq = seq + len(ups)
        st.record_compact(FusedRun(seq, st.case_id, names, pc, tok.id, st.region_id(tok), t, ups))
    return i, r, exc
