"""Snapshots of a case's execution state, and restoring them.

A :class:`StateSnapshot` is a plain-data image of an
:class:`~wftrio.engine.ExecState` taken *between* steps (never from inside a
task function or an ``on_event`` callback).  It holds no callables and no
object references: every token, control frame, region activation and scope
is a record keyed by its id, and records refer to each other by id, so
:func:`restore` rebuilds the same object graph (frames shared by several
tokens, ``JoinInst.parent`` chains, region parent/children/token sets, scope
chains and their read-through ``ChainMap`` views) with the same identities.
``wftrio.serialize.dumps_snapshot`` / ``loads_snapshot`` turn it into JSON.

What a snapshot does not hold, and what that means for callers:

* **The Program.**  Restore with the Program compiled from the same term; a
  fingerprint of its instruction table is checked (:class:`ProgramMismatch`
  otherwise).  Task and effect functions come from the Program.
* **The outbox.**  Drain it (``take_outbox``) and act on it before taking a
  snapshot.  A restored state starts with an empty outbox; after a restore
  into a fresh runtime, :func:`pending_commands` lists the ``StartEffect`` /
  ``StartTimer`` commands for every effect and timer still pending, so they
  can be started again (an effect gets the ctx as it is at that point, a
  timer its full duration).
* **Recorded events.**  A restored state's ``events`` starts empty; its
  trace continues with the next ``seq``.
* **Exceptions.**  A failed case's error is kept as ``error_type`` and
  message and comes back as :class:`~wftrio.engine.RecordedError`.

Ctx values (and mi items, signal payloads, mi results) must be JSON values:
``None``, ``bool``, ``int``, ``float``, ``str``, ``list`` and ``dict`` with
``str`` keys, nested freely.  Anything else (tuples included: JSON has none,
and a tuple that came back as a list would change the ctx) makes
:func:`snapshot` raise ``SerializationError`` naming the offending key.
Aliasing between ctx values is not preserved.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar, cast

import attrs

from wftrio.engine import protocol
from wftrio.engine._objects import Frame, JoinInst, LoopFrame, MIInst, RegionInst, Scope, Token
from wftrio.engine._state import ExecState, StartEffect, StartTimer, Status, error_info
from wftrio.engine.program import Program
from wftrio.errors import EngineError, RecordedError
from wftrio.scheduling import Deterministic, Replay, Scheduler, Seeded
from wftrio.trace import ReplayLog, TraceLevel

__all__ = [
    "SNAPSHOT_VERSION",
    "DeferAlt",
    "DeferWait",
    "DeterministicState",
    "EffectWait",
    "ErrorSnap",
    "GovernanceSnap",
    "FrameSnap",
    "JoinSnap",
    "LoopSnap",
    "MIResult",
    "MISnap",
    "PendingEffect",
    "PendingTimer",
    "RegionSnap",
    "ReplayState",
    "SchedulerState",
    "ScopeSnap",
    "SeededState",
    "SignalWait",
    "StateSnapshot",
    "TokenSnap",
    "WaitSnap",
    "Waiter",
    "jsonable_copy",
    "pending_commands",
    "program_fingerprint",
    "restore",
    "snapshot",
]

SNAPSHOT_VERSION = 1
"""Bumped whenever the snapshot format changes incompatibly."""


# ---------------------------------------------------------------------------
# errors (defined in wftrio.serialize, which imports this module)


def _ser_error(message: str, path: str | None = None) -> Exception:
    from wftrio.errors import SerializationError

    return SerializationError(message, paths=() if path is None else (path,))


def _mismatch(message: str) -> Exception:
    from wftrio.errors import ProgramMismatch

    return ProgramMismatch(message)


# ---------------------------------------------------------------------------
# the snapshot records


@attrs.frozen(kw_only=True)
class ScopeSnap:
    """A :class:`~wftrio.engine._objects.Scope`: ctx layer of the case or of an mi instance."""

    id: int
    parent: int | None
    data: dict[str, Any]
    base: dict[str, Any] | None
    index: int


@attrs.frozen(kw_only=True)
class JoinSnap:
    """A :class:`~wftrio.engine._objects.JoinInst` (one split/join activation)."""

    TAG: ClassVar[str] = "join"
    id: int
    parent: int | None
    region: int | None
    scope: int
    needed: int
    started: int
    arrived: int
    fired: bool
    cont: int
    cancel_region: int | None


@attrs.frozen(kw_only=True)
class LoopSnap:
    """A :class:`~wftrio.engine._objects.LoopFrame` (a ``loop(times=n)`` counter)."""

    TAG: ClassVar[str] = "loop"
    id: int
    parent: int | None
    count: int


@attrs.frozen(kw_only=True)
class MIResult:
    """The updates of one finished mi instance."""

    index: int
    data: dict[str, Any]


@attrs.frozen(kw_only=True)
class MISnap:
    """A :class:`~wftrio.engine._objects.MIInst` (one multiple-instance activation)."""

    TAG: ClassVar[str] = "mi"
    id: int
    parent: int | None
    region: int | None
    scope: int
    n: int
    needed: int | None
    done: int
    fired: bool
    cont: int
    results: tuple[MIResult, ...]  # in completion order


FrameSnap = JoinSnap | LoopSnap | MISnap
"""A control frame; tagged by ``"kind"`` in JSON."""


@attrs.frozen(kw_only=True)
class RegionSnap:
    """A :class:`~wftrio.engine._objects.RegionInst` (tokens, children in their order)."""

    id: int
    scope_id: str | None
    parent: int | None
    frame: int | None
    scope: int
    cancel_pc: int
    tokens: tuple[int, ...]
    children: tuple[int, ...]
    exited: bool
    alive: bool


@attrs.frozen
class EffectWait:
    """The token waits for effect ``eid``."""

    TAG: ClassVar[str] = "effect"
    eid: int


@attrs.frozen
class SignalWait:
    """The token waits for signal ``name`` (``wait_signal``)."""

    TAG: ClassVar[str] = "signal"
    name: str


@attrs.frozen
class DeferAlt:
    """One armed ``defer`` alternative: a signal name or a timer id."""

    alt: int
    signal: str | None = None
    timer: int | None = None


@attrs.frozen
class DeferWait:
    """The token waits for the first of its ``defer`` alternatives."""

    TAG: ClassVar[str] = "defer"
    alts: tuple[DeferAlt, ...]


WaitSnap = EffectWait | SignalWait | DeferWait
"""What a blocked token waits on; tagged by ``"on"`` in JSON."""


@attrs.frozen(kw_only=True)
class TokenSnap:
    """A live :class:`~wftrio.engine._objects.Token`."""

    id: int
    pc: int
    frame: int | None
    region: int | None
    scope: int
    wait: WaitSnap | None


@attrs.frozen
class Waiter:
    """A token waiting for a signal, and the ``defer`` alternative it waits with."""

    token: int
    alt: int


@attrs.frozen
class PendingEffect:
    """Effect ``eid`` requested by ``token`` and not yet fed back.

    The other fields restore what its receipt needs (``EffectMeta``): causal
    id, kind, request hash, cost, request time and attempts retried so far,
    and for an ``Effect`` spec its kind, payload (a JSON value) and cost.
    """

    eid: int
    token: int
    causal_id: str = ""
    kind: str = ""
    request: str = ""
    cost: float = 0.0
    requested_at: float = 0.0
    attempts: int = 0
    spec_kind: str | None = None
    spec_payload: Any = None
    spec_cost: float | None = None


@attrs.frozen(kw_only=True)
class GovernanceSnap:
    """A case's :class:`~wftrio.governance.Governor`: its options and what it used."""

    allow: tuple[str, ...] | None = None
    max_effects: int | None = None
    max_time: float | None = None
    max_cost: float | None = None
    effects: int = 0
    time: float = 0.0
    cost: float = 0.0


@attrs.frozen
class PendingTimer:
    """Timer ``tid`` armed by ``token`` for its ``defer`` alternative ``alt``."""

    tid: int
    token: int
    alt: int


@attrs.frozen
class ErrorSnap:
    """Why a case failed, as recorded in its trace."""

    error_type: str
    error: str


@attrs.frozen
class DeterministicState:
    """The deterministic scheduler (stateless)."""

    TAG: ClassVar[str] = "deterministic"


@attrs.frozen(kw_only=True)
class SeededState:
    """A :class:`~wftrio.scheduling.Seeded` scheduler and its generator's state."""

    TAG: ClassVar[str] = "seeded"
    seed: int
    preemptive: bool
    rng_version: int
    rng_state: tuple[int, ...]
    rng_gauss: float | None


@attrs.frozen(kw_only=True)
class ReplayState:
    """A :class:`~wftrio.scheduling.Replay` scheduler: its log and position in it."""

    TAG: ClassVar[str] = "replay"
    log: ReplayLog
    pos: int


SchedulerState = DeterministicState | SeededState | ReplayState
"""The scheduler policy's state; tagged by ``"kind"`` in JSON."""


@attrs.frozen(kw_only=True)
class StateSnapshot:
    """Everything needed to rebuild one case's :class:`~wftrio.engine.ExecState`.

    Take one with ``st.snapshot()`` between steps; rebuild with
    ``ExecState.restore(program, snap)``.  Treat it as immutable (its dicts
    are private copies; restoring copies them again, so one snapshot can be
    restored any number of times).

    Attributes:
        version: :data:`SNAPSHOT_VERSION` of the format.
        fingerprint: :func:`program_fingerprint` of the Program it came from.
        case_id / status / error / trace_level / steps / seq: as on the state.
        t0: the state's clock value when the case started.
        elapsed: case time at the snapshot (0.0 without a clock).
        next_id: the next id the state hands out (tokens, frames, effects...).
        scheduler: the scheduler policy's state.
        root: id of the case's root scope (whose ``data`` is the case ctx).
        scopes / frames / regions / tokens: every object reachable from the
            state, sorted by id, referring to one another by id.
        ready: the ready queue's live tokens (ids), in order.
        current: the token being run, if any.
        region_index: user region id -> ids of its live activations, in order.
        signals: queued persistent signals' payloads, by name, oldest first.
        waiters: signal name -> tokens waiting for it, oldest first.
        effects: pending effects, in request order.
        timers: armed timers, in arming order.
        governance: the case's allowlist, budget and budget use, if any.
        causal_root: the root effect causal ids derive from (``None``: the case id).
    """

    version: int
    fingerprint: str
    case_id: str
    status: Status
    error: ErrorSnap | None
    trace_level: TraceLevel
    t0: float
    elapsed: float
    next_id: int
    seq: int
    steps: int
    scheduler: SchedulerState
    root: int
    scopes: tuple[ScopeSnap, ...]
    frames: tuple[FrameSnap, ...]
    regions: tuple[RegionSnap, ...]
    tokens: tuple[TokenSnap, ...]
    ready: tuple[int, ...]
    current: int | None
    region_index: dict[str, tuple[int, ...]]
    signals: dict[str, tuple[Any, ...]]
    waiters: dict[str, tuple[Waiter, ...]]
    effects: tuple[PendingEffect, ...]
    timers: tuple[PendingTimer, ...]
    governance: GovernanceSnap | None = None
    causal_root: str | None = None


# ---------------------------------------------------------------------------
# JSON values


def jsonable_copy(value: Any, path: str) -> Any:
    """Return a deep copy of ``value``, checking that it is a JSON value.

    JSON values are ``None``, ``bool``, ``int``, ``float``, ``str`` (and
    their subclasses, e.g. ``StrEnum`` members), ``list`` and ``dict`` with
    ``str`` keys.

    Raises:
        SerializationError: some part of ``value`` is not a JSON value (a
            tuple, set, bytes, object, non-str key, or a cycle); the message
            and ``paths`` name it, starting from ``path``.
    """
    return _copy(value, path, set())


def _copy(value: Any, path: str, active: set[int]) -> Any:
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, list | dict | MappingProxyType):
        key = id(value)
        if key in active:
            raise _ser_error(f"{path}: circular reference; JSON cannot hold cycles", path)
        active.add(key)
        try:
            if isinstance(value, list):
                return [_copy(v, f"{path}[{i}]", active) for i, v in enumerate(value)]
            out: dict[str, Any] = {}
            for k, v in value.items():
                if not isinstance(k, str):
                    raise _ser_error(
                        f"{path}: key {k!r} is a {type(k).__name__}; JSON object keys are strings",
                        path,
                    )
                out[k] = _copy(v, f"{path}[{k!r}]", active)
            return out
        finally:
            active.discard(key)
    hint = " (JSON has no tuples: use a list)" if isinstance(value, tuple) else ""
    raise _ser_error(
        f"{path}: {type(value).__name__} {value!r:.60} is not a JSON value{hint}; ctx values, "
        "mi items and signal payloads must be None, bool, int, float, str, list or dict "
        "with str keys to be snapshotted",
        path,
    )


# ---------------------------------------------------------------------------
# program fingerprints

_FINGERPRINTS: weakref.WeakKeyDictionary[Program, str] = weakref.WeakKeyDictionary()


def _stable(value: Any) -> Any:
    """A process-independent stand-in for an instruction argument."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple | list):
        return [_stable(v) for v in value]
    return "<callable>" if callable(value) else f"<{type(value).__name__}>"


def program_fingerprint(program: Program) -> str:
    """A short string identifying ``program``'s instruction table.

    Stable across processes (it hashes opcodes, node paths, successors and
    the non-callable arguments: task names, region ids, counts, ...), so a
    snapshot taken in one process can be checked against a Program compiled
    in another.
    """
    fp = _FINGERPRINTS.get(program)
    if fp is None:
        rows = [
            [ins.op, ins.path, ins.next, [[k, _stable(v)] for k, v in sorted(ins.args.items())]]
            for ins in program.instrs
        ]
        blob = json.dumps([program.entry, rows], separators=(",", ":")).encode()
        fp = f"{len(program.instrs)}:{hashlib.sha256(blob).hexdigest()[:20]}"
        _FINGERPRINTS[program] = fp
    return fp


# ---------------------------------------------------------------------------
# snapshot


class _Graph:
    """The objects reachable from a state, by kind and id (identity-checked)."""

    def __init__(self) -> None:
        self.tokens: dict[int, Token] = {}
        self.frames: dict[int, Frame] = {}
        self.regions: dict[int, RegionInst] = {}
        self.scopes: dict[int, Scope] = {}
        self._todo: list[Token | Frame | RegionInst | Scope] = []

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

    def scope(self, s: Scope | None) -> None:
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
                if isinstance(o, JoinInst):
                    self.region(o.region)
                    self.scope(o.scope)
                    self.region(o.cancel_region)
                elif isinstance(o, MIInst):
                    self.region(o.region)
                    self.scope(o.scope)
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
    w: Any = tok.wait  # an engine.protocol record, read by position here
    if w is None:
        return None
    if w[0] == "effect":
        return EffectWait(w[1])
    if w[0] == "signal":
        return SignalWait(w[1])
    if w[0] == "defer":
        return DeferWait(
            tuple(
                DeferAlt(alt, signal=key) if kind == "signal" else DeferAlt(alt, timer=key)
                for kind, key, alt in w[1]
            )
        )
    raise EngineError(f"snapshot: token #{tok.id} waits on {w!r}, an unknown kind of wait")


def _frame_snap(f: Frame) -> FrameSnap:
    if isinstance(f, JoinInst):
        return JoinSnap(
            id=f.id,
            parent=_id(f.parent),
            region=_id(f.region),
            scope=f.scope.id,
            needed=f.needed,
            started=f.started,
            arrived=f.arrived,
            fired=f.fired,
            cont=f.cont,
            cancel_region=_id(f.cancel_region),
        )
    if isinstance(f, LoopFrame):
        return LoopSnap(id=f.id, parent=_id(f.parent), count=f.count)
    if isinstance(f, MIInst):
        return MISnap(
            id=f.id,
            parent=_id(f.parent),
            region=_id(f.region),
            scope=f.scope.id,
            n=f.n,
            needed=f.needed,
            done=f.done,
            fired=f.fired,
            cont=f.cont,
            results=tuple(
                MIResult(index=i, data=jsonable_copy(d, f"mi #{f.id} results[{i}]"))
                for i, d in f.results.items()
            ),
        )
    raise EngineError(f"snapshot: frame {f!r} is of an unknown kind")


def _scope_snap(s: Scope, root: Scope) -> ScopeSnap:
    where = "ctx" if s is root else f"mi instance {s.index} (scope #{s.id})"
    return ScopeSnap(
        id=s.id,
        parent=_id(s.parent),
        data=jsonable_copy(s.data, where),
        base=None if s.base is None else jsonable_copy(s.base, f"{where} item"),
        index=s.index,
    )


def _scheduler_state(s: Scheduler) -> SchedulerState:
    # exact types: a subclass may carry state this function does not know about
    if type(s) is Deterministic:
        return DeterministicState()
    if type(s) is Seeded:
        version, state, gauss = s._rng.getstate()
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
        return ReplayState(log=s.log, pos=s._pos)
    raise _ser_error(
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
        TokenSnap(
            id=t.id,
            pc=t.pc,
            frame=_id(t.frame),
            region=_id(t.region),
            scope=t.scope.id,
            wait=_wait_snap(t),
        )
        for t in sorted(g.tokens.values(), key=lambda t: t.id)
    )
    regions = tuple(
        RegionSnap(
            id=r.id,
            scope_id=r.scope_id,
            parent=_id(r.parent),
            frame=_id(r.frame),
            scope=r.scope.id,
            cancel_pc=r.cancel_pc,
            tokens=tuple(t.id for t in r.tokens),
            children=tuple(c.id for c in r.children),
            exited=r.exited,
            alive=r.alive,
        )
        for r in sorted(g.regions.values(), key=lambda r: r.id)
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
        next_id=st._next_id,
        seq=st.seq,
        steps=st.steps,
        scheduler=_scheduler_state(st.scheduler),
        root=st.root.id,
        scopes=tuple(_scope_snap(s, st.root) for _, s in sorted(g.scopes.items())),
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
    return PendingEffect(
        eid,
        tok.id,
        causal_id=meta.causal_id,
        kind=meta.kind,
        request=meta.request,
        cost=meta.cost,
        requested_at=meta.requested_at,
        attempts=meta.attempts,
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


def _restore_governance(st: ExecState, snap: StateSnapshot) -> None:
    from wftrio.effects import Effect
    from wftrio.engine._effects import EffectMeta
    from wftrio.governance import Budget, Governor

    gs = snap.governance
    if gs is not None:
        limits = (gs.max_effects, gs.max_time, gs.max_cost)
        budget = None if limits == (None, None, None) else Budget(*limits)
        g = st.governor = Governor(None if gs.allow is None else frozenset(gs.allow), budget)
        g.effects, g.time, g.cost = gs.effects, gs.time, gs.cost
    # a case restored under another id keeps deriving the same causal ids
    st.root_id = snap.causal_root if snap.causal_root is not None else snap.case_id
    for e in snap.effects:
        if not e.causal_id:
            continue
        spec = None
        if e.spec_kind is not None:
            spec = Effect(e.spec_kind, jsonable_copy(e.spec_payload, "spec"), e.spec_cost)
        if st.effect_meta is None:
            st.effect_meta = {}
        st.effect_meta[e.eid] = EffectMeta(
            e.causal_id, e.kind, e.request, e.cost, e.requested_at, spec, e.attempts
        )


# ---------------------------------------------------------------------------
# restore

_T = TypeVar("_T")


def _by_id(items: Iterable[Any], where: str) -> dict[int, tuple[int, Any]]:
    out: dict[int, tuple[int, Any]] = {}
    for i, item in enumerate(items):
        if item.id in out:
            raise _ser_error(f"{where}[{i}].id: duplicate id {item.id}", f"{where}[{i}].id")
        out[item.id] = (i, item)
    return out


class _Rebuild:
    """Builds the object graph of a snapshot, checking every reference."""

    def __init__(self, program: Program, snap: StateSnapshot) -> None:
        self.n_pc = len(program.instrs)
        self.next_id = snap.next_id
        self.scopes = self._build_scopes(snap.scopes)
        self.frames: dict[int, Frame] = {}
        self.regions: dict[int, RegionInst] = {}
        self.tokens: dict[int, Token] = {}
        self._build_frames(snap.frames)
        self._build_regions(snap.regions)
        self._build_tokens(snap.tokens)
        self._link_frames(snap.frames)
        self._link_regions(snap.regions)
        self._link_tokens(snap.tokens)

    # lookups

    def _check_id(self, i: int, path: str) -> None:
        if not 0 <= i < self.next_id:
            raise _ser_error(f"{path}: id {i} is outside [0, next_id={self.next_id})", path)

    def _pc(self, pc: int, path: str, *, allow_none: bool = False) -> int:
        if not (0 <= pc < self.n_pc or (allow_none and pc == -1)):
            raise _ser_error(f"{path}: pc {pc} is outside the program (0..{self.n_pc - 1})", path)
        return pc

    @staticmethod
    def get(table: dict[int, _T], what: str, i: int, path: str) -> _T:
        obj = table.get(i)
        if obj is None:
            raise _ser_error(f"{path}: no {what} with id {i} in the snapshot", path)
        return obj

    def scope(self, i: int, path: str) -> Scope:
        return self.get(self.scopes, "scope", i, path)

    def frame(self, i: int | None, path: str) -> Frame | None:
        return None if i is None else self.get(self.frames, "frame", i, path)

    def region(self, i: int | None, path: str) -> RegionInst | None:
        return None if i is None else self.get(self.regions, "region", i, path)

    def token(self, i: int, path: str) -> Token:
        return self.get(self.tokens, "token", i, path)

    # construction

    def _build_scopes(self, snaps: tuple[ScopeSnap, ...]) -> dict[int, Scope]:
        by_id = _by_id(snaps, "scopes")
        built: dict[int, Scope] = {}
        for sid in by_id:
            chain: list[tuple[int, ScopeSnap]] = []
            on_chain: set[int] = set()
            cur: int | None = sid
            while cur is not None and cur not in built:
                if cur in on_chain:
                    raise _ser_error(
                        f"scopes: the parent chain of scope {sid} is a cycle", "scopes"
                    )
                entry = by_id.get(cur)
                if entry is None:
                    i = chain[-1][0]
                    raise _ser_error(
                        f"scopes[{i}].parent: no scope with id {cur} in the snapshot",
                        f"scopes[{i}].parent",
                    )
                on_chain.add(cur)
                chain.append(entry)
                cur = entry[1].parent
            for i, s in reversed(chain):
                self._check_id(s.id, f"scopes[{i}].id")
                built[s.id] = Scope(
                    s.id,
                    jsonable_copy(s.data, f"scopes[{i}].data"),
                    None if s.parent is None else built[s.parent],
                    None if s.base is None else jsonable_copy(s.base, f"scopes[{i}].base"),
                    s.index,
                )
        return built

    def _build_frames(self, snaps: tuple[FrameSnap, ...]) -> None:
        for _, (i, f) in _by_id(snaps, "frames").items():
            p = f"frames[{i}]"
            self._check_id(f.id, f"{p}.id")
            obj: Frame
            if isinstance(f, JoinSnap):
                j = JoinInst(
                    f.id,
                    None,
                    None,
                    self.scope(f.scope, f"{p}.scope"),
                    f.needed,
                    f.started,
                    self._pc(f.cont, f"{p}.cont"),
                )
                j.arrived = f.arrived
                j.fired = f.fired
                obj = j
            elif isinstance(f, LoopSnap):
                obj = LoopFrame(f.id, None, f.count)
            else:
                m = MIInst(
                    f.id,
                    None,
                    None,
                    self.scope(f.scope, f"{p}.scope"),
                    f.n,
                    f.needed,
                    self._pc(f.cont, f"{p}.cont"),
                )
                m.done = f.done
                m.fired = f.fired
                m.results = {
                    r.index: jsonable_copy(r.data, f"{p}.results[{k}].data")
                    for k, r in enumerate(f.results)
                }
                obj = m
            self.frames[f.id] = obj

    def _build_regions(self, snaps: tuple[RegionSnap, ...]) -> None:
        for _, (i, r) in _by_id(snaps, "regions").items():
            p = f"regions[{i}]"
            self._check_id(r.id, f"{p}.id")
            obj = RegionInst(
                r.id,
                r.scope_id,
                None,
                None,
                self.scope(r.scope, f"{p}.scope"),
                self._pc(r.cancel_pc, f"{p}.cancel_pc", allow_none=True),
            )
            obj.exited = r.exited
            obj.alive = r.alive
            self.regions[r.id] = obj

    def _build_tokens(self, snaps: tuple[TokenSnap, ...]) -> None:
        for _, (i, t) in _by_id(snaps, "tokens").items():
            p = f"tokens[{i}]"
            self._check_id(t.id, f"{p}.id")
            self._pc(t.pc, f"{p}.pc")
            self.tokens[t.id] = Token(t.id, t.pc, None, None, self.scope(t.scope, f"{p}.scope"))

    # linking

    def _link_frames(self, snaps: tuple[FrameSnap, ...]) -> None:
        for i, f in enumerate(snaps):
            p = f"frames[{i}]"
            obj = self.frames[f.id]
            obj.parent = self.frame(f.parent, f"{p}.parent")
            if isinstance(f, JoinSnap):
                assert isinstance(obj, JoinInst)
                obj.region = self.region(f.region, f"{p}.region")
                obj.cancel_region = self.region(f.cancel_region, f"{p}.cancel_region")
            elif isinstance(f, MISnap):
                assert isinstance(obj, MIInst)
                obj.region = self.region(f.region, f"{p}.region")
        # parents were created earlier (smaller ids), so a cycle means a corrupt snapshot
        for i, f in enumerate(snaps):
            seen: set[int] = set()
            cur: Frame | None = self.frames[f.id]
            while cur is not None:
                if cur.id in seen:
                    raise _ser_error(f"frames[{i}].parent: the parent chain is a cycle")
                seen.add(cur.id)
                cur = cur.parent

    def _link_regions(self, snaps: tuple[RegionSnap, ...]) -> None:
        for i, r in enumerate(snaps):
            p = f"regions[{i}]"
            obj = self.regions[r.id]
            obj.parent = self.region(r.parent, f"{p}.parent")
            obj.frame = self.frame(r.frame, f"{p}.frame")
            obj.tokens = {self.token(t, f"{p}.tokens[{k}]"): None for k, t in enumerate(r.tokens)}
            obj.children = {
                self.get(self.regions, "region", c, f"{p}.children[{k}]"): None
                for k, c in enumerate(r.children)
            }

    def _link_tokens(self, snaps: tuple[TokenSnap, ...]) -> None:
        for i, t in enumerate(snaps):
            p = f"tokens[{i}]"
            tok = self.tokens[t.id]
            tok.frame = self.frame(t.frame, f"{p}.frame")
            tok.region = self.region(t.region, f"{p}.region")
            w = t.wait
            if w is None:
                tok.wait = None
            elif isinstance(w, EffectWait):
                tok.wait = protocol.EffectWait.of(w.eid)
            elif isinstance(w, SignalWait):
                tok.wait = protocol.SignalWait.of(w.name)
            else:
                regs: list[protocol.DeferArm] = []
                for k, a in enumerate(w.alts):
                    if (a.signal is None) == (a.timer is None):
                        raise _ser_error(
                            f"{p}.wait.alts[{k}]: give exactly one of signal and timer",
                            f"{p}.wait.alts[{k}]",
                        )
                    regs.append(
                        protocol.DeferArm(protocol.WaitKind.SIGNAL, a.signal, a.alt)
                        if a.signal is not None
                        else protocol.DeferArm(protocol.WaitKind.TIMER, int(a.timer or 0), a.alt)
                    )
                tok.wait = protocol.DeferWait.of(tuple(regs))


def _restore_scheduler(s: SchedulerState) -> Scheduler:
    if isinstance(s, DeterministicState):
        return Deterministic()
    if isinstance(s, SeededState):
        seeded = Seeded(s.seed, preemptive=s.preemptive)
        try:
            seeded._rng.setstate((s.rng_version, tuple(s.rng_state), s.rng_gauss))
        except (TypeError, ValueError) as exc:
            raise _ser_error(f"scheduler.rng_state: not a random.Random state: {exc}") from exc
        return seeded
    replay = Replay(s.log)
    replay._pos = s.pos
    return replay


def restore(
    program: Program,
    snap: StateSnapshot,
    *,
    case_id: str | None = None,
    scheduler: Scheduler | None = None,
    trace_level: str | None = None,
    clock: Callable[[], float] | None = None,
    on_event: Callable[[Any], None] | None = None,
    keep_events: bool = True,
) -> ExecState:
    """Rebuild the :class:`ExecState` a snapshot was taken of.

    Args:
        program: the Program the snapshot was taken from (compiled from the
            same term; checked by fingerprint).
        snap: the snapshot.
        case_id: the case id for new trace events (default: the snapshot's).
        scheduler: a policy to continue with, used as given (default: the
            snapshot's scheduler in the state it was in).
        trace_level: default: the snapshot's.
        clock: the clock for new trace times; case time continues from the
            snapshot's ``elapsed`` (time between snapshot and restore does not
            count).  ``None`` records 0.0 as usual.
        on_event / keep_events: as for :class:`ExecState`.

    Returns:
        A state that continues exactly as the snapshotted one would have: the
        same steps, trace events (from the next ``seq``), ctx and outcome for
        the same inputs.  Its outbox and ``events`` start empty; see
        :func:`pending_commands`.

    Raises:
        ProgramMismatch: the snapshot was taken from a different program.
        SerializationError: the snapshot is inconsistent (a dangling id, a pc
            outside the program, ...); the message names the field.
    """
    if not isinstance(snap, StateSnapshot):
        raise _ser_error(f"restore: expected a StateSnapshot, got {type(snap).__name__}")
    if snap.version != SNAPSHOT_VERSION:
        raise _ser_error(
            f"version: snapshot format {snap.version} is not supported (expected "
            f"{SNAPSHOT_VERSION})",
            "version",
        )
    fp = program_fingerprint(program)
    if snap.fingerprint != fp:
        raise _mismatch(
            f"restore: the snapshot of case {snap.case_id!r} was taken from a different "
            f"program (fingerprint {snap.fingerprint}, this program's is {fp}); restore it "
            "with the Program compiled from the workflow term it was running"
        )
    graph = _Rebuild(program, snap)
    st = ExecState(
        program,
        None,
        case_id=snap.case_id if case_id is None else case_id,
        scheduler=_restore_scheduler(snap.scheduler) if scheduler is None else scheduler,
        trace_level=snap.trace_level if trace_level is None else trace_level,
        clock=clock,
        on_event=on_event,
        keep_events=keep_events,
        _restoring=True,
    )
    st.root = graph.scope(snap.root, "root")
    if st.root.parent is not None:
        raise _ser_error(f"root: scope {snap.root} has a parent; a root scope has none", "root")
    st._next_id = snap.next_id
    st.seq = snap.seq
    st.steps = snap.steps
    st.status = snap.status
    st.error = (
        None if snap.error is None else RecordedError(snap.error.error_type, snap.error.error)
    )
    st.t0 = snap.t0 if clock is None else clock() - snap.elapsed
    # every token in a snapshot is live; the state registers them in id order
    st.tokens = dict(sorted(graph.tokens.items()))
    st.ready = [graph.token(i, f"ready[{k}]") for k, i in enumerate(snap.ready)]
    st.current = None if snap.current is None else graph.token(snap.current, "current")
    st.regions = {
        sid: {
            graph.get(graph.regions, "region", i, f"region_index[{sid!r}][{k}]"): None
            for k, i in enumerate(ids)
        }
        for sid, ids in snap.region_index.items()
    }
    st.signals = {
        name: deque(jsonable_copy(list(q), f"signals[{name!r}]"))
        for name, q in snap.signals.items()
    }
    st.waiters = {}
    for name, ws in snap.waiters.items():
        toks = {graph.token(w.token, f"waiters[{name!r}][{k}]"): w.alt for k, w in enumerate(ws)}
        if len(toks) > 1:
            st.waiters[name] = toks
        elif toks:  # a lone waiter is the token itself (ExecState.add_waiter)
            st.waiters[name] = next(iter(toks))
    st.effects = {
        e.eid: graph.token(e.token, f"effects[{k}].token") for k, e in enumerate(snap.effects)
    }
    st.timers = {
        t.tid: (graph.token(t.token, f"timers[{k}].token"), t.alt)
        for k, t in enumerate(snap.timers)
    }
    _restore_governance(st, snap)
    return st


def pending_commands(st: ExecState) -> list[StartEffect | StartTimer]:
    """The commands that (re)start every pending effect and armed timer of ``st``.

    After restoring a snapshot into a fresh runtime nothing is running on
    the case's behalf; issue these to get its effects and timers going
    again.  A restarted effect gets the ctx as it is now (the original call
    may have seen an older one) and a timer its full duration; effect and
    timer ids are those the state expects results and firings for.
    """
    out: list[StartEffect | StartTimer] = []
    instrs = st.program.instrs
    for eid, tok in st.effects.items():
        args = instrs[tok.pc].args
        meta = st.effect_meta.get(eid) if st.effect_meta else None
        spec = meta.spec if meta is not None else None
        out.append(
            StartEffect(
                eid,
                args["name"],
                args["fn"] if spec is None else None,
                MappingProxyType(dict(tok.scope.view)),
                tok.region.path() if tok.region is not None else (),
                tok.id,
                kind=meta.kind if meta is not None else args.get("kind") or args["name"],
                effect=spec,
                causal_id=meta.causal_id if meta is not None else "",
                key=meta.key if meta is not None else "",
                timeout=args.get("timeout"),
                retry=args.get("retry"),
            )
        )
    for tid, (tok, alt) in st.timers.items():
        _kind, seconds = instrs[tok.pc].args["alts"][alt]
        out.append(StartTimer(tid, float(seconds)))
    return out
