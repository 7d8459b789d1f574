"""An effect's outcome fed to the reducer (``ExecState.feed_effect``; pure: imports no trio).

Split from ``engine/_effects.py`` (the request side).  An ok outcome merges
the effect's updates as one reducer step and records its ``effect_completed``
and ``receipt`` events; in the common case (events kept without
``on_event``, a deferred request hash) both stay compact records until the
trace is read (``engine/_receipt_records.py``).  A failure goes to the task's
``on_error`` term, or fails the case.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from wftrio.compiler.program import TaskOps
from wftrio.effects import causal_id
from wftrio.engine._blocking import plain_join_pcs
from wftrio.engine._effects import (
    _RECEIPT,
    DEQUE_AT,
    EffectMeta,
    _effect_receipt,
    fail_task,
    task_operands,
)
from wftrio.engine._receipt_records import DeferredRequest, PendingReceipt, completed_event
from wftrio.engine._recording import scope_of
from wftrio.engine.frozen import ATOMIC, FrozenDict, as_updates, freeze_items
from wftrio.engine.objects import JoinInst
from wftrio.engine.protocol import FINAL, EventKind, Status, error_info
from wftrio.errors import EffectTimeout, EngineError, TaskError
from wftrio.governance import Governor
from wftrio.trace import TraceEvent

if TYPE_CHECKING:
    from wftrio.engine._state import ExecState
    from wftrio.engine.objects import Token

__all__ = ["complete", "complete_all", "late"]

_EFFECT_COMPLETED: str = EventKind.EFFECT_COMPLETED.value
_new_event = tuple.__new__  # builds a NamedTuple from all its fields, in one call


def complete(
    st: ExecState,
    eid: int,
    result: Mapping[str, Any] | None,
    error: BaseException | None,
    attempts: int,
    started: float | None,
    ended: float | None,
    outcome: str | None,
) -> bool:
    """Take the outcome of effect ``eid`` (see ``ExecState.feed_effect``)."""
    if st.status in FINAL:
        return False
    tok = st.effects.pop(eid, None)
    if tok is None:
        if not st.issued(eid):
            raise EngineError(f"feed_effect({eid}): no such effect was ever requested")
        return False
    meta = st.effect_meta.pop(eid) if st.effect_meta else None
    ins = st.program.instrs[tok.pc]
    ops = ins.ops
    if type(ops) is not TaskOps:  # pragma: no cover - effects block at tasks only
        ins, ops = task_operands(st, tok)
    name = ops.name
    tok.wait = None
    if meta is None:  # pragma: no cover - every effect is requested through request()
        meta = EffectMeta(causal_id(st.root_id, tok.id, -1), name, "", 0.0, st.now(), None)
    t0 = meta.requested_at if started is None else started
    t1 = st.now() if ended is None else ended
    updates: FrozenDict | None = None
    if error is None and result is not None:
        if type(result) is dict:
            # the common result costs one pass (as in the pure-task loop):
            # str keys, values that need no freezing; else as_updates
            for k, v in result.items():
                if type(k) is not str or type(v) not in ATOMIC:
                    break
            else:
                updates = FrozenDict(result)
        if updates is None:
            try:
                updates = as_updates(result, name, ins.path)
            except TaskError as exc:
                error = exc
    g = st.governor
    if g is None:
        g = st.governor = Governor()
    if t1 > t0:  # Governor.charge_time, inlined
        g.time += t1 - t0
    if error is not None:
        if outcome not in ("error", "timed_out"):
            outcome = "timed_out" if isinstance(error, EffectTimeout) else "error"
        info = error_info(error)
        st.emit(
            EventKind.EFFECT_FAILED,
            name,
            tok,
            {
                "eid": eid,
                "at_step": st.steps,
                **info,
                "outcome": outcome,
                "attempts": attempts,
                "started": t0,
                "ended": t1,
            },
        )
        _effect_receipt(st, tok, name, meta, outcome, attempts, t0, t1, **info)
        fail_task(st, tok, error, name, ops.on_error, woken=True)
        return True
    if st.tracing:
        # the runtime's values are all atomic (a caller's may not be: frozen then)
        frozen = type(attempts) is int and type(t0) is float and type(t1) is float
        f = tok.frame  # late(tok), its first frame inlined (a par's join)
        is_late = f is not None and (
            f.fired if type(f) is JoinInst and f.parent is None else late(tok)
        )
        if (
            frozen
            and not is_late
            and st.on_event is None
            and st.keep_events
            and type(meta.request) is DeferredRequest
        ):
            # the common outcome: its effect_completed event and its receipt
            # kept as compact records, built when the trace is read
            _completed_compact(st, tok, eid, name, meta, updates, attempts, t0, t1)
        else:
            _completed_eager(st, tok, eid, name, meta, updates, attempts, t0, t1, frozen, is_late)
    if updates:
        scope = tok.scope
        scope.snap = None
        scope.data.update(updates)
    if st.full:
        st.emit(EventKind.TASK_COMPLETED, name, tok, updates if updates is not None else {})
    tok.pc = ins.next
    ready = st.ready
    if type(ready) is list and len(ready) < DEQUE_AT:  # ExecState.make_ready, inlined
        ready.insert(0, tok)
    else:
        st.make_ready(tok)
    st.status = Status.RUNNING
    return True


def complete_all(
    st: ExecState,
    batch: Iterable[Any],
    fail: Callable[[Exception], None],
) -> int:
    """Take a batch of outcomes ``(eid, result, error, attempts, started, ended, outcome)``.

    The same as :func:`complete` called on each in turn (an exception it
    raises goes to ``fail``, and the batch goes on), returning how many
    were taken.  The common outcome (an ok ``dict`` of atomic values from
    the runtime, not late, events kept as compact records at a level below
    ``full``) is taken here, with what the outcomes of a batch share read
    once (issue 12, figure 9); any other goes through :func:`complete`.

    Fed while nothing is runnable (and the scheduler never preempts), the
    batch also takes the next step of each woken token that the next
    ``run`` would take first, in the same order, when that step is an
    arrival at a plain join that does not fire it: ``st.steps`` grows by
    one per arrival, once the batch is taken.
    """
    fast = st.tracing and not st.full and st.on_event is None and st.keep_events
    instrs = st.program.instrs
    taken = 0
    # a woken token whose next step is a plain join's arrival that does not
    # fire it arrives here (see below) while nothing else is runnable
    joins = (
        plain_join_pcs(st.program)
        if fast and not st.preemptive and st.current is None and not st.ready
        else None
    )
    arrivals = 0
    for msg in batch:
        eid, result, error, attempts, t0, t1, _ = msg
        tok = meta = None
        if (
            fast
            and error is None
            and type(result) is dict
            and type(attempts) is int
            and type(t0) is float
            and type(t1) is float
            and st.status not in FINAL
        ):
            tok = st.effects.get(eid)
            metas = st.effect_meta
            if tok is not None and metas:
                meta = metas.get(eid)
                f = tok.frame  # late(tok), its first frame inlined (a par's join)
                if (
                    meta is None
                    or type(meta.request) is not DeferredRequest
                    or type((ins := instrs[tok.pc]).ops) is not TaskOps
                    or (
                        f is not None
                        and (f.fired if type(f) is JoinInst and f.parent is None else late(tok))
                    )
                ):
                    meta = None
                else:
                    for k, v in result.items():
                        if type(k) is not str or type(v) not in ATOMIC:
                            meta = None
                            break
        if meta is None or tok is None:
            joins = None  # complete() may make a token ready: the loop runs it first
            try:
                if complete(st, *msg):
                    taken += 1
            except Exception as exc:
                fail(exc)
            continue
        # complete() and _completed_compact() for the common outcome
        del st.effects[eid]
        del metas[eid]  # type: ignore[union-attr]
        tok.wait = None
        name = ins.ops.name  # type: ignore[union-attr]
        updates = FrozenDict(result)
        g = st.governor
        if g is None:
            g = st.governor = Governor()
        if t1 > t0:  # Governor.charge_time, inlined
            g.time += t1 - t0
        _completed_compact(st, tok, eid, name, meta, updates, attempts, t0, t1)
        if updates:
            scope = tok.scope
            scope.snap = None
            scope.data.update(updates)
        tok.pc = nxt = ins.next
        st.status = Status.RUNNING
        taken += 1
        if (
            joins is not None
            and nxt in joins
            and tok.region is None
            and type(f) is JoinInst  # (tok.frame, read for the late test above)
            and f.arrived + 1 < f.needed
        ):
            # the step the run loop would take next with this token, taken
            # now: its arrival at a plain join that does not fire it (the
            # join's handler: count it, the token ends).  Only while every
            # token woken so far arrived so, in the order the loop would pop
            # them, so that it is the same step; counted once the batch is
            # taken, so the later outcomes' at_step is the one they would
            # have (issue 12, figure 9)
            f.arrived += 1
            st.kill(tok)
            arrivals += 1
            continue
        joins = None
        ready = st.ready  # ExecState.make_ready, inlined (tok.wait is None already)
        if type(ready) is deque:
            ready.appendleft(tok)
        elif len(ready) < DEQUE_AT:
            ready.insert(0, tok)
        else:
            st.make_ready(tok)
    st.steps += arrivals
    return taken


def close_ok(meta: EffectMeta, attempts: int, t0: float, t1: float) -> EffectMeta:
    """``meta``, dropped from its state, closed with an ok outcome: its receipt's record.

    A ``PendingReceipt`` keeps it and builds the receipt from it when read
    (``EffectMeta.ok_receipt``): no tuple of the receipt's arguments per
    outcome.  ``attempts`` becomes the outcome's count.
    """
    meta.attempts = attempts
    meta.started = t0
    meta.ended = t1
    return meta


def _completed_compact(
    st: ExecState,
    tok: Token,
    eid: int,
    name: str,
    meta: EffectMeta,
    updates: FrozenDict | None,
    attempts: int,
    t0: float,
    t1: float,
) -> None:
    """An ok outcome's ``effect_completed`` and ``receipt`` events, as compact records.

    Events kept without ``on_event``, atomic values, not late, a deferred
    request hash: the two events :func:`_completed_eager` records, built
    when the trace is read (``completed_event``, ``PendingReceipt``).
    """
    seq = st.seq
    st.seq = seq + 2
    sid = scope_of(tok) if tok.region is not None else None
    clock = st.clock
    # one clock reading for the outcome's two events (one reducer step)
    t = (clock() - st.t0) if clock is not None else 0.0
    case_id = st.case_id
    tid = tok.id
    req = meta.request
    events = st._events
    events.append(
        (completed_event, seq, case_id, name, tid, sid, t, eid, st.steps, updates, attempts, t0, t1)
    )
    closed = close_ok(meta, attempts, t0, t1)
    rec = _new_event(
        PendingReceipt, (seq + 1, case_id, _RECEIPT, name, tid, sid, t, closed, req, updates)
    )
    st.record_compact(rec, req.digest)  # type: ignore[union-attr]


def _completed_eager(
    st: ExecState,
    tok: Token,
    eid: int,
    name: str,
    meta: EffectMeta,
    updates: FrozenDict | None,
    attempts: int,
    t0: float,
    t1: float,
    frozen: bool,
    is_late: bool,
) -> None:
    """An ok outcome's ``effect_completed`` and ``receipt`` events, built now."""
    data: dict[str, Any]
    if is_late:
        data = {
            "eid": eid,
            "at_step": st.steps,
            "result": updates,
            "attempts": attempts,
            "started": t0,
            "ended": t1,
            "late": True,  # its branch's join already fired (docs/SEMANTICS.md, [JOIN])
        }
    elif frozen:  # built frozen: no second dict
        data = FrozenDict(
            eid=eid, at_step=st.steps, result=updates, attempts=attempts, started=t0, ended=t1
        )
    else:
        data = {
            "eid": eid,
            "at_step": st.steps,
            "result": updates,
            "attempts": attempts,
            "started": t0,
            "ended": t1,
        }
    clock = st.clock
    region = tok.region
    if st.on_event is None and st.keep_events:
        # emit() and _effect_receipt() inlined (the common case: events
        # kept, no callback): the same two events, in fewer calls
        seq = st.seq
        st.seq = seq + 2
        sid = scope_of(tok) if region is not None else None
        # one clock reading for the outcome's two events (one reducer step)
        t = (clock() - st.t0) if clock is not None else 0.0
        events = st._events
        events.append(
            _new_event(
                TraceEvent,
                (
                    seq,
                    st.case_id,
                    _EFFECT_COMPLETED,
                    name,
                    tok.id,
                    sid,
                    t,
                    data
                    if type(data) is FrozenDict
                    else FrozenDict(data)
                    if frozen
                    else freeze_items(data),
                ),
            )
        )
        req = meta.request
        if type(req) is DeferredRequest:
            st.record_compact(
                _new_event(
                    PendingReceipt,
                    (
                        seq + 1,
                        st.case_id,
                        _RECEIPT,
                        name,
                        tok.id,
                        sid,
                        t,
                        close_ok(meta, attempts, t0, t1),
                        req,
                        updates,
                    ),
                ),
                req.digest,
            )
        else:
            st.seq = seq + 1
            _effect_receipt(st, tok, name, meta, "ok", attempts, t0, t1, result_of=updates)
    else:
        st.emit(
            EventKind.EFFECT_COMPLETED,
            name,
            tok,
            data if type(data) is FrozenDict or not frozen else FrozenDict(data),
        )
        _effect_receipt(st, tok, name, meta, "ok", attempts, t0, t1, result_of=updates)


def late(tok: Token) -> bool:
    """Whether ``tok`` runs in a late branch: one of its joins has already fired.

    Such a branch is absorbed when it arrives ([JOIN]); what it writes meanwhile
    is merged like any update, and its effects' ``effect_completed`` events say
    ``late: true``.  O(depth of the token's frame stack); called once per effect
    outcome, never in the pure-task loop.
    """
    f = tok.frame
    while f is not None:
        if isinstance(f, JoinInst) and f.fired:
            return True
        f = f.parent
    return False
