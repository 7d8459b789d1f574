"""Taking a snapshot: the object graph of an :class:`ExecState` as records.

:func:`snapshot` walks everything reachable from the state (tokens, control
frames, region activations, ctx layers), checks identities (one object per
id) and writes each object as its record (:mod:`.records`), references as
ids.  Waits are read by position, so both the engine's wait records
(``wftrio.engine.protocol``) and plain tuples of the same shape are taken.
The records of tokens, frames, regions and ctx layers are filled from the
schema (:mod:`wftrio.engine.schema`): a VALUE field is copied, a reference
written as an id, so a field added to an object and its record needs no
change here.
"""

from __future__ import annotations

from typing import Any, cast

from wftrio.engine._state import ExecState
from wftrio.engine.objects import CtxLayer, Frame, JoinInst, LoopFrame, MIInst, RegionInst, Token
from wftrio.engine.protocol import DeferWait, EffectWait, SignalWait, WaitKind, error_info
from wftrio.engine.schema import SCHEMA, Kind
from wftrio.errors import EngineError
from wftrio.scheduling import Deterministic, Replay, Scheduler, Seeded
from wftrio.trace import TraceLevel

from .jsonvalues import jsonable_copy, program_fingerprint, ser_error
from .records import (
    SNAPSHOT_VERSION,
    CtxLayerSnap,
    DeferAlt,
    DeferWaitSnap,
    DeterministicState,
    EffectWaitSnap,
    ErrorSnap,
    FrameSnap,
    GovernanceSnap,
    JoinSnap,
    LoopSnap,
    MIResult,
    MISnap,
    PendingEffect,
    PendingTimer,
    RegionSnap,
    ReplayState,
    SchedulerState,
    SeededState,
    SignalWaitSnap,
    StateSnapshot,
    TokenSnap,
    Waiter,
    WaitSnap,
)

__all__ = ["snapshot"]


class _Graph:
    """The objects reachable from a state, by kind and id (identity-checked)."""

    def __init__(self) -> None:
        self.tokens: dict[int, Token] = {}
        self.frames: dict[int, Frame] = {}
        self.regions: dict[int, RegionInst] = {}
        self.scopes: dict[int, CtxLayer] = {}
        self._todo: list[Token | Frame | RegionInst | CtxLayer] = []

    def _add(self, table: dict[int, Any], what: str, obj: Any) -> None:
        seen = table.get(obj.id)
        if seen is None:
            table[obj.id] = obj
            self._todo.append(obj)
        elif seen is not obj:
            raise EngineError(f"snapshot: two distinct {what} objects share id {obj.id}")

    def token(self, tok: Token) -> None:
        self._add(self.tokens, "token", tok)

    def frame(self, f: Frame | None) -> None:
        if f is not None:
            self._add(self.frames, "frame", f)

    def region(self, r: RegionInst | None) -> None:
        if r is not None:
            self._add(self.regions, "region", r)

    def scope(self, s: CtxLayer | None) -> None:
        if s is not None:
            self._add(self.scopes, "scope", s)

    def drain(self) -> None:
        pending = self._todo
        while pending:
            o = pending.pop()
            if isinstance(o, Token):
                self.frame(o.frame)
                self.region(o.region)
                self.scope(o.scope)
            elif isinstance(o, Frame):
                self.frame(o.parent)
                if isinstance(o, JoinInst | MIInst):
                    self.region(o.region)
                    self.scope(o.scope)
                    self.region(o.cancel_region)
                    if isinstance(o, JoinInst):
                        self.frame(o.blocks)
            elif isinstance(o, RegionInst):
                self.region(o.parent)
                self.frame(o.frame)
                self.scope(o.scope)
                for t in o.tokens:
                    self.token(t)
                for c in o.children:
                    self.region(c)
            else:
                self.scope(o.parent)


def _id(obj: Any) -> int | None:
    return None if obj is None else int(obj.id)


def _wait_snap(tok: Token) -> WaitSnap | None:
    w = tok.wait
    if w is None:
        return None
    if isinstance(w, EffectWait):
        return EffectWaitSnap(w.eid)
    if isinstance(w, SignalWait):
        return SignalWaitSnap(w.name)
    if isinstance(w, DeferWait):
        return DeferWaitSnap(
            tuple(
                DeferAlt(a.alt, signal=str(a.key))
                if a.kind is WaitKind.SIGNAL
                else DeferAlt(a.alt, timer=int(a.key))
                for a in w.arms
            )
        )
    raise EngineError(f"snapshot: token #{tok.id} waits on {w!r}, an unknown kind of wait")


def _refs_and_values(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The snapshotted VALUE and REF fields of ``cls`` (from the schema)."""
    fields = SCHEMA[cls].fields
    return (
        tuple(f.name for f in fields if f.snapshot and f.kind is Kind.VALUE),
        tuple(f.name for f in fields if f.snapshot and f.kind is Kind.REF),
    )


_GRAPH: tuple[type, ...] = (Token, JoinInst, LoopFrame, MIInst, RegionInst, CtxLayer)
_PLANS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {
    cls: _refs_and_values(cls) for cls in _GRAPH
}


def _fields(obj: Any, cls: type, **special: Any) -> dict[str, Any]:
    """A record's fields for ``obj``, derived from the schema.

    VALUE fields are taken as they are, references become ids (a set of
    objects a tuple of ids, in order); ``special`` gives the fields that
    need a form of their own (a wait, ctx data, mi results).
    """
    values, refs = _PLANS[cls]
    out = {n: getattr(obj, n) for n in values if n not in special}
    for n in refs:
        v = getattr(obj, n)
        out[n] = None if v is None else tuple(x.id for x in v) if isinstance(v, dict) else v.id
    out.update(special)
    return out


def _frame_snap(f: Frame) -> FrameSnap:
    t = type(f)
    if t is JoinInst:
        return JoinSnap(**_fields(f, JoinInst))
    if t is LoopFrame:
        return LoopSnap(**_fields(f, LoopFrame))
    if t is MIInst:
        assert isinstance(f, MIInst)
        results = tuple(
            MIResult(index=i, data=jsonable_copy(d, f"mi #{f.id} results[{i}]"))
            for i, d in f.results.items()
        )
        items = None if f.items is None else tuple(jsonable_copy(f.items, f"mi #{f.id} items"))
        return MISnap(**_fields(f, MIInst, results=results, items=items))
    raise EngineError(f"snapshot: frame {f!r} is of an unknown kind")


def _layer_snap(s: CtxLayer, root: CtxLayer) -> CtxLayerSnap:
    where = "ctx" if s is root else f"mi instance {s.index} (scope #{s.id})"
    return CtxLayerSnap(
        **_fields(
            s,
            CtxLayer,
            data=jsonable_copy(s.data, where),
            base=None if s.base is None else jsonable_copy(s.base, f"{where} item"),
        )
    )


def _scheduler_state(s: Scheduler) -> SchedulerState:
    # exact types: a subclass may carry state this function does not know about
    if type(s) is Deterministic:
        return DeterministicState()
    if type(s) is Seeded:
        version, state, gauss = s.state()
        return SeededState(
            seed=s.seed,
            preemptive=s.preemptive,
            rng_version=version,
            rng_state=tuple(state),
            rng_gauss=gauss,
        )
    if type(s) is Replay:
        for i, ev in enumerate(s.log.inputs):
            jsonable_copy(ev.data, f"scheduler.log.inputs[{i}].data")
        return ReplayState(log=s.log, pos=s.state())
    raise ser_error(
        f"snapshot: the scheduler {s!r} has no snapshot form; only Deterministic, Seeded and "
        "Replay policies can be snapshotted"
    )


def snapshot(st: ExecState) -> StateSnapshot:
    """Take a :class:`StateSnapshot` of ``st`` (between steps).

    The outbox is not included: drain it first (see the module docstring).

    Raises:
        SerializationError: a ctx value, mi item or result, or queued signal
            payload is not a JSON value (the message names its key), or the
            scheduler policy has no snapshot form.
    """
    g = _Graph()
    g.scope(st.root)
    for tok in st.tokens.values():
        g.token(tok)
    if st.current is not None:
        g.token(st.current)
    for insts in st.regions.values():
        for r in insts:
            g.region(r)
    for name in st.waiters:
        for tok, _alt in st.signal_waiters(name):
            g.token(tok)
    for tok in st.effects.values():
        g.token(tok)
    for tok, _alt in st.timers.values():
        g.token(tok)
    g.drain()

    tokens = tuple(
        TokenSnap(**_fields(t, Token, wait=_wait_snap(t)))
        for t in sorted(g.tokens.values(), key=lambda t: t.id)
    )
    regions = tuple(
        RegionSnap(**_fields(r, RegionInst)) for r in sorted(g.regions.values(), key=lambda r: r.id)
    )
    err = st.error
    return StateSnapshot(
        version=SNAPSHOT_VERSION,
        fingerprint=program_fingerprint(st.program),
        case_id=st.case_id,
        status=st.status,
        error=None if err is None else ErrorSnap(**error_info(err)),
        trace_level=cast(TraceLevel, st.level),  # set_level checked it
        t0=st.t0,
        elapsed=(st.clock() - st.t0) if st.clock is not None else 0.0,
        next_id=st.next_id,
        seq=st.seq,
        steps=st.steps,
        epoch=st.epoch,
        scheduler=_scheduler_state(st.scheduler),
        root=st.root.id,
        scopes=tuple(_layer_snap(s, st.root) for _, s in sorted(g.scopes.items())),
        frames=tuple(_frame_snap(f) for _, f in sorted(g.frames.items())),
        regions=regions,
        tokens=tokens,
        # withdrawn tokens the ready queue still lists can never run: left out
        ready=tuple(t.id for t in st.ready if t.alive),
        current=_id(st.current),
        region_index={sid: tuple(r.id for r in insts) for sid, insts in st.regions.items()},
        signals={
            name: tuple(jsonable_copy(p, f"signals[{name!r}][{i}]") for i, p in enumerate(q))
            for name, q in st.signals.items()
        },
        waiters={
            name: tuple(Waiter(t.id, alt) for t, alt in st.signal_waiters(name))
            for name in st.waiters
        },
        effects=tuple(_pending_effect(st, eid, t) for eid, t in st.effects.items()),
        timers=tuple(PendingTimer(tid, t.id, alt) for tid, (t, alt) in st.timers.items()),
        governance=_governance_snap(st),
        causal_root=st.root_id if st.root_id != st.case_id else None,
    )


def _pending_effect(st: ExecState, eid: int, tok: Token) -> PendingEffect:
    meta = st.effect_meta.get(eid) if st.effect_meta else None
    if meta is None:
        return PendingEffect(eid, tok.id)
    spec = meta.spec
    if not isinstance(meta.request, str):  # a deferred request hash: computed now, and kept
        meta.request = meta.request.value()
    return PendingEffect(
        eid,
        tok.id,
        causal_id=meta.causal_id,
        kind=meta.kind,
        request=meta.request,
        cost=meta.cost,
        requested_at=meta.requested_at,
        attempts=meta.attempts,
        epoch=meta.epoch,
        spec_kind=None if spec is None else spec.kind,
        spec_payload=None if spec is None else jsonable_copy(spec.payload, f"effects[{eid}]"),
        spec_cost=None if spec is None else spec.cost,
    )


def _governance_snap(st: ExecState) -> GovernanceSnap | None:
    g = st.governor
    if g is None:
        return None
    b = g.budget
    return GovernanceSnap(
        allow=None if g.allow is None else tuple(sorted(g.allow)),
        max_effects=None if b is None else b.max_effects,
        max_time=None if b is None else b.max_time,
        max_cost=None if b is None else b.max_cost,
        effects=g.effects,
        time=g.time,
        cost=g.cost,
    )
