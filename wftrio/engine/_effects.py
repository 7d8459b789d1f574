"""The reducer's side of the effect boundary (pure: imports no trio).

Requesting an effect ([EFFECT] in docs/SEMANTICS.md, extended in
docs/EFFECTS.md): derive its causal id and idempotency key, hash its
request, ask the case's :class:`~wftrio.governance.Governor` (allowlists of
the case and of the regions around the token, then the budget), and either
refuse it (a receipt, then the task fails) or block the token and emit a
``StartEffect`` carrying everything the runtime needs (function or spec,
ctx snapshot, ids, timeout, retry policy).

Taking an outcome (``feed_effect``), a retry notice (``feed_effect_retry``)
or withdrawing a pending effect records the matching input event (with
what replay needs to rebuild the receipt: attempts, start and end time,
outcome) and a ``receipt`` event.  A failure goes to the task's
``on_error`` term when it has one, else it fails the case.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from wftrio.compiler.program import Instr, RegionEnterOps, TaskOps
from wftrio.effects import Effect, causal_id, idempotency_key
from wftrio.engine._receipt_records import (
    NOTHING,
    DeferredRequest,
    PendingReceipt,
    build_receipt,
    ctx_snapshot,
    requested_event,
)
from wftrio.engine._recording import scope_of
from wftrio.engine.frozen import FrozenDict
from wftrio.engine.objects import EMPTY
from wftrio.engine.protocol import (
    FINAL,
    EffectWait,
    EventKind,
    StartEffect,
    Status,
    WaitKind,
    error_info,
)
from wftrio.errors import BudgetExceeded, EngineError, GuardViolation, TaskError
from wftrio.governance import Governor
from wftrio.receipts import Receipt, canonical, stable_hash
from wftrio.trace import TraceEvent

if TYPE_CHECKING:
    from wftrio.engine._state import ExecState
    from wftrio.engine.objects import Token

__all__ = [
    "EffectMeta",
    "audit_step",
    "cancelled",
    "fail_task",
    "region_allows",
    "request",
    "retried",
]


class EffectMeta:
    """What the reducer keeps about one pending effect (``st.effect_meta[eid]``).

    ``attempts`` counts the attempts the runtime reported as failed and
    retried (``effect_retry`` inputs); the attempt in flight is the next one.
    ``epoch`` is the state's ``epoch`` when the effect was requested: the
    runtime starts an effect's function only once the reduction that
    requested it has blocked (the epoch moved on), so an effect withdrawn in
    its own epoch never started.  Restored metas get -1 (requested before
    the snapshot, started again by the host).

    ``key``, the idempotency key (always ``idempotency_key(causal_id)``), is
    ``None`` until :meth:`idem_key` computes it: a receipt derives it when
    it is built, and a host that derives it itself (``ExecState.defer_keys``)
    gets ``StartEffect`` commands with ``key=None``, so an effect nobody asks
    the key of costs no SHA-256.
    """

    __slots__ = (
        "attempts",
        "causal_id",
        "cost",
        "ended",
        "epoch",
        "key",
        "kind",
        "request",
        "requested_at",
        "spec",
        "started",
    )

    # 0.0 until the meta is closed with an ok outcome (close_ok): the
    # outcome's attempt count goes to ``attempts``, its times here
    started: float
    ended: float

    def __init__(
        self,
        cid: str,
        kind: str,
        request: str | DeferredRequest,
        cost: float,
        requested_at: float,
        spec: Effect | None,
        attempts: int = 0,
        epoch: int = -1,
    ) -> None:
        self.causal_id = cid
        self.key: str | None = None
        self.kind = kind
        self.request = request
        self.cost = cost
        self.requested_at = requested_at
        self.spec = spec
        self.attempts = attempts
        self.epoch = epoch
        self.started = self.ended = 0.0  # the outcome's times, set by close_ok

    def idem_key(self) -> str:
        """The idempotency key (computed on the first call, then kept)."""
        k = self.key
        if k is None:
            k = self.key = idempotency_key(self.causal_id)
        return k

    def ok_receipt(self, name: str) -> Receipt:
        """The receipt of the ok outcome this meta was closed with (:func:`close_ok`)."""
        return build_receipt(
            self.causal_id,
            self.kind,
            name,
            "ok",
            self.attempts,
            self.started,
            self.ended,
            self.key,
            self.cost,
            _NO_EXTRA,
        )

    def __repr__(self) -> str:
        return f"<EffectMeta {self.causal_id} {self.kind!r} attempts={self.attempts}>"


def region_allows(instrs: Iterable[Instr]) -> dict[str, frozenset[str]]:
    """Region id -> its ``allow=`` set, for the regions of a program that have one."""
    return {
        ops.scope_id: ops.allow
        for ins in instrs
        if isinstance(ops := ins.ops, RegionEnterOps) and ops.allow is not None
    }


def task_operands(st: ExecState, tok: Token) -> tuple[Instr, TaskOps]:
    """The instruction a token blocked on its effect stands at, and its operands."""
    ins = st.program.instrs[tok.pc]
    ops = ins.ops
    if not isinstance(ops, TaskOps):  # pragma: no cover - effects block at tasks only
        raise EngineError(f"token {tok.id} waits for an effect at {ins.op} {ins.path}")
    return ins, ops


def _governor(st: ExecState) -> Governor:
    g = st.governor
    if g is None:
        g = st.governor = Governor()
    return g


_RECEIPT: str = EventKind.RECEIPT.value


def _receipt(
    st: ExecState,
    tok: Token,
    name: str,
    r: Receipt | tuple[Any, ...],
    request: str | DeferredRequest,
    result_of: Any = NOTHING,
) -> None:
    """Record receipt ``r`` with ``request`` (and ``result``: the hash of ``result_of``).

    An async task's receipt is recorded as a :class:`PendingReceipt` when the
    state keeps its events without an ``on_event`` callback: both hashes are
    computed when the trace is read.
    """
    if not st.tracing:
        return
    if isinstance(request, DeferredRequest) and st.on_event is None and st.keep_events:
        seq = st.seq
        st.seq = seq + 1
        rec = PendingReceipt(
            seq,
            st.case_id,
            _RECEIPT,
            name,
            tok.id,
            st.region_id(tok),
            st.now(),
            r,
            request,
            result_of,
        )
        st.record_compact(rec, request.digest)
        return
    if type(r) is tuple:
        r = build_receipt(*r)
    assert isinstance(r, Receipt)
    data = r.to_data()
    data["request"] = request if isinstance(request, str) else request.value()
    if result_of is not NOTHING:
        data["result"] = stable_hash(result_of)
    st.emit(EventKind.RECEIPT, name, tok, data)


def _effect_receipt(
    st: ExecState,
    tok: Token,
    name: str,
    meta: EffectMeta,
    outcome: str,
    attempts: int,
    started: float,
    ended: float,
    result_of: Any = NOTHING,
    **extra: Any,
) -> None:
    """Record the receipt of a requested effect's outcome (ok, error, cancelled...).

    ``result_of``: the updates applied, whose hash is the receipt's ``result``.
    """
    if not st.tracing:
        return
    # the Receipt is built when its event is (when the trace is read): only
    # its arguments are kept on the hot path
    _receipt(
        st,
        tok,
        name,
        (meta.causal_id, meta.kind, name, outcome, attempts, started, ended, meta.key)
        + (meta.cost, extra),
        meta.request,
        result_of,
    )


def request(
    st: ExecState,
    tok: Token,
    ins: Instr,
    a: TaskOps,
    step: int,
    spec: Effect | None,
    allows: Mapping[str, frozenset[str]],
) -> None:
    """Token ``tok`` at instruction ``ins`` (operands ``a``) asks for an effect at step ``step``.

    ``spec`` is the :class:`Effect` a sync task returned, or ``None`` for an
    async task function.  ``tok.pc`` must be the task's pc.
    """
    if spec is None and not allows:
        request_fn(st, tok, a, step)
        return
    name = a.name
    on_error = a.on_error
    declared = a.kind
    cost: float
    ctx: Mapping[str, Any] | None = None
    if spec is None:
        kind = declared if declared is not None else name
        cost = a.cost or 0.0
        snap = ctx_snapshot(tok.scope)
        ctx = snap.view
        req: str | DeferredRequest = snap.deferred(name, kind)
    else:
        kind = spec.kind
        if declared is not None and kind != declared:
            fail_task(
                st,
                tok,
                TaskError(
                    f"task {name!r} at {ins.path} is declared kind={declared!r} but "
                    f"returned an Effect of kind {kind!r}"
                ),
                name,
                on_error,
                woken=False,
            )
            return
        cost = spec.cost if spec.cost is not None else (a.cost or 0.0)
        req = stable_hash({"task": name, "kind": kind, "payload": spec.payload})
    cid = causal_id(st.root_id, tok.id, step)
    scopes: list[tuple[str, frozenset[str]]] = []
    if allows:
        r = tok.region
        while r is not None:
            sid = r.scope_id
            if sid is not None and sid in allows:
                scopes.append((sid, allows[sid]))
            r = r.parent
    refusal = _governor(st).admit(kind, name, cost, scopes)
    now = st.now()
    if refusal is not None:
        _refuse(st, tok, name, kind, cid, now, refusal, req, on_error)
        return
    eid = st.new_id()
    if st.effects is EMPTY:
        st.effects = {}
    st.effects[eid] = tok
    st.block(tok, EffectWait.of(eid))
    meta = EffectMeta(cid, kind, req, cost, now, spec, epoch=st.epoch)
    if st.effect_meta is None:
        st.effect_meta = {}
    st.effect_meta[eid] = meta
    regions = tok.region.path() if tok.region is not None else ()
    if ctx is None:  # an Effect spec's handler gets the ctx too (not hashed: its payload is)
        ctx = ctx_snapshot(tok.scope).view
    st.outbox.append(
        StartEffect(
            eid,
            name,
            a.fn if spec is None else None,
            ctx,
            regions,
            tok.id,
            kind=kind,
            effect=spec,
            causal_id=cid,
            key=None if st.defer_keys else meta.idem_key(),
            timeout=a.timeout,
            retry=a.retry,
        )
    )
    if st.full:
        st.emit(EventKind.TASK_STARTED, name, tok)
    if st.tracing:  # the data is an int and two str: frozen as built
        st.emit(
            EventKind.EFFECT_REQUESTED, name, tok, FrozenDict(eid=eid, kind=kind, causal_id=cid)
        )


_EFFECT_REQUESTED: str = EventKind.EFFECT_REQUESTED.value
_EFFECT_COMPLETED: str = EventKind.EFFECT_COMPLETED.value
DEQUE_AT = 32
"""``ExecState.make_ready`` turns the ready stack into a deque once it holds this many."""
_NO_EXTRA: dict[str, Any] = {}  # a receipt's extra fields when it has none (never mutated)
_new_event = tuple.__new__  # builds a NamedTuple from all its fields, in one call
_EFFECT = WaitKind.EFFECT
_new_meta = object.__new__  # an EffectMeta without its __init__ call (its fields set in place)


def request_fn(st: ExecState, tok: Token, a: TaskOps, step: int) -> None:
    """:func:`request` for an async task function in no region with an allowlist.

    The same ids, admission, commands and events as the general path, in
    fewer calls: this is every effect of a plain ``par`` of async tasks
    (issue 12, figure 9).
    """
    name = a.name
    kind = a.kind if a.kind is not None else name
    cost = a.cost or 0.0
    scope = tok.scope
    snap = scope.snap
    if snap is None:
        snap = ctx_snapshot(scope)
    req = _new_event(DeferredRequest, (snap.digest, name, kind))
    tid = tok.id
    cid = f"{st.root_id}/t{tid}/s{step}"
    g = st.governor
    if g is None:
        g = st.governor = Governor()
    if g.allow is not None or g.budget is not None:
        refusal = g.admit(kind, name, cost, ())
    else:  # nothing to refuse: admit() reduced to its charges
        refusal = None
        g.effects += 1
        g.cost += cost
    clock = st.clock
    now = (clock() - st.t0) if clock is not None else 0.0
    if refusal is not None:
        _refuse(st, tok, name, kind, cid, now, refusal, req, a.on_error)
        return
    eid = st._next_id
    st._next_id = eid + 1
    effects = st.effects
    if effects is EMPTY:
        effects = st.effects = {}
    effects[eid] = tok
    tok.wait = _new_event(EffectWait, (_EFFECT, eid))  # no NamedTuple __new__ call
    if st.current is tok:
        st.current = None
    meta = _new_meta(EffectMeta)  # EffectMeta(cid, kind, req, cost, now, None, 0, st.epoch)
    meta.causal_id = cid
    meta.key = None
    meta.kind = kind
    meta.request = req
    meta.cost = cost
    meta.requested_at = now
    meta.spec = None
    meta.attempts = 0
    meta.epoch = st.epoch
    meta.started = meta.ended = 0.0
    metas = st.effect_meta
    if metas is None:
        metas = st.effect_meta = {}
    metas[eid] = meta
    region = tok.region
    st.outbox.append(
        _new_event(
            StartEffect,
            (
                eid,
                name,
                a.fn,
                snap.view,
                region.path() if region is not None else (),
                tid,
                kind,
                None,
                cid,
                None if st.defer_keys else meta.idem_key(),
                a.timeout,
                a.retry,
            ),
        )
    )
    t = now  # the request's own time: one clock reading per request...
    if st.full:
        st.emit(EventKind.TASK_STARTED, name, tok)
        t = (clock() - st.t0) if clock is not None else 0.0  # ...unless one came between
    if st.tracing:  # emit() inlined: the data is an int and two str, frozen as built
        seq = st.seq
        st.seq = seq + 1
        sid = scope_of(tok) if region is not None else None
        rec = st._record
        if rec is None:
            # events kept without a callback: a compact record, built into
            # the same event when the trace is read (requested_event)
            st._events.append((requested_event, seq, st.case_id, name, tid, sid, t, eid, kind, cid))
            st._lazy = st._lazy or 1
        else:
            rec(
                _new_event(
                    TraceEvent,
                    (
                        seq,
                        st.case_id,
                        _EFFECT_REQUESTED,
                        name,
                        tid,
                        sid,
                        t,
                        FrozenDict(eid=eid, kind=kind, causal_id=cid),
                    ),
                )
            )


def _refuse(
    st: ExecState,
    tok: Token,
    name: str,
    kind: str,
    cid: str,
    now: float,
    refusal: GuardViolation | BudgetExceeded,
    req: str | DeferredRequest,
    on_error: int,
) -> None:
    """An effect the governor refused: its receipt (no attempt), then the task fails."""
    _receipt(
        st,
        tok,
        name,
        Receipt(
            causal_id=cid,
            kind=kind,
            task=name,
            outcome="disallowed" if isinstance(refusal, GuardViolation) else "over_budget",
            attempts=0,
            started=now,
            ended=now,
            request="",
            key=idempotency_key(cid),
            error_type=type(refusal).__qualname__,
            error=str(refusal),
            detail=refusal.info,
        ),
        req,
    )
    fail_task(st, tok, refusal, name, on_error, woken=False)


def fail_task(
    st: ExecState, tok: Token, exc: BaseException, name: str, on_error: int, *, woken: bool
) -> None:
    """Task ``name`` of ``tok`` failed with ``exc``: run its ``on_error`` term, or fail the case.

    ``woken``: the token is blocked (an effect outcome is being fed) rather
    than the one the reducer is stepping.
    """
    if on_error < 0:
        st.fail(tok, exc, name)
        return
    st.emit(EventKind.TASK_FAILED, name, tok, {**error_info(exc), "on_error": True})
    tok.pc = on_error
    if woken:
        st.make_ready(tok)
        st.status = Status.RUNNING


def retried(st: ExecState, eid: int, attempt: int, error: BaseException, delay: float) -> bool:
    """The runtime retries effect ``eid`` after its failed attempt ``attempt``."""
    if st.status in FINAL:
        return False
    tok = st.effects.get(eid)
    if tok is None:
        return False
    meta = st.effect_meta.get(eid) if st.effect_meta else None
    if meta is not None:
        meta.attempts = max(meta.attempts, attempt)
    name = task_operands(st, tok)[1].name
    st.emit(
        EventKind.EFFECT_RETRY,
        name,
        tok,
        {
            "eid": eid,
            "at_step": st.steps,
            "attempt": attempt,
            **error_info(error),
            "delay": delay,
        },
    )
    return True


def cancelled(st: ExecState, tok: Token, eid: int, name: str) -> None:
    """Pending effect ``eid`` was withdrawn: charge its time, record its cancelled receipt.

    The time from its request to its withdrawal counts against the case's
    ``max_time`` budget, like a finished effect's.  Its attempts are the
    failed ones reported so far plus the one in flight; an effect withdrawn
    in the epoch that requested it (before the reduction blocked) was never
    started by the host, so it made no attempt (``attempts=0``).
    """
    meta = st.effect_meta.pop(eid, None) if st.effect_meta else None
    if meta is None:
        return
    now = st.now()
    _governor(st).charge_time(now - meta.requested_at)
    attempts = meta.attempts + (meta.epoch != st.epoch)
    _effect_receipt(st, tok, name, meta, "cancelled", attempts, meta.requested_at, now)


def audit_step(
    st: ExecState,
    tok: Token,
    name: str,
    kind: str,
    step: int,
    updates: Mapping[str, Any],
) -> None:
    """Record the receipt of an audited step (a sync task declared with ``kind=``).

    Its request hash is of the ctx the step saw: call it before its updates merge.
    """
    if not st.tracing:
        return
    now = st.now()
    _receipt(
        st,
        tok,
        name,
        Receipt(
            causal_id=causal_id(st.root_id, tok.id, step),
            kind=kind,
            task=name,
            outcome=_audit_outcome(kind, updates),
            attempts=1,
            started=now,
            ended=now,
            request="",
            result=stable_hash(updates),
            detail=canonical(updates),
            source="audit",
        ),
        ctx_snapshot(tok.scope).request_hash(name, kind),
    )


def _audit_outcome(kind: str, updates: Mapping[str, Any]) -> str:
    """An audited step's outcome: ``"rejected"`` for an approval's rejecting decision.

    An approval point's decision step (``kind="approval"``, see
    :func:`wftrio.patterns.approval`) stores its decision record
    ``{"decision": ..., "by": ..., "note": ...}``; a rejection is its
    receipt's outcome, so a reader of receipts sees who said no without
    opening ``detail``.  Every other audited step is ``"ok"``.
    """
    if kind == "approval":
        for v in updates.values():
            if isinstance(v, Mapping) and v.get("decision") == "rejected":
                return "rejected"
    return "ok"
