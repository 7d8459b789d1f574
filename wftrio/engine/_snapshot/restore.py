"""Restoring a snapshot: checks first, then the object graph, then the state.

:func:`restore` refuses a snapshot of another Program
(:class:`~wftrio.errors.ProgramMismatch`), runs the consistency checks of
:mod:`.checks`, builds every object of the graph and links the references
(each checked: a dangling id, a cycle of parents, a pc outside the program
is a :class:`~wftrio.errors.SerializationError` naming the field), and
hands the result to :meth:`ExecState.from_parts`, the one way a state is
assembled from outside; the state is then held to the engine's invariants
(:mod:`wftrio.engine.consistency`) before it is returned.
:func:`pending_commands` lists what a fresh runtime must start again for a
restored case.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable
from types import MappingProxyType
from typing import Any, TypeVar

from wftrio.effects import Effect
from wftrio.engine._effects import EffectMeta
from wftrio.engine._state import ExecState, StartEffect, StartTimer
from wftrio.engine.consistency import violations
from wftrio.engine.frozen import freeze, freeze_items
from wftrio.engine.objects import CtxLayer, Frame, JoinInst, LoopFrame, MIInst, RegionInst, Token
from wftrio.engine.program import ForkOps, Program
from wftrio.engine.protocol import DeferArm, DeferWait, EffectWait, SignalWait, WaitKind
from wftrio.engine.schema import SCHEMA, Kind
from wftrio.errors import ProgramMismatch, RecordedError, SchedulerError, WftrioError
from wftrio.governance import Budget
from wftrio.scheduling import Deterministic, Replay, Scheduler, Seeded
from wftrio.trace import TraceEvent

from .checks import check_snapshot, governor_for
from .jsonvalues import instr_arg, jsonable_copy, program_fingerprint, ser_error
from .records import (
    SNAPSHOT_VERSION,
    CtxLayerSnap,
    DeterministicState,
    EffectWaitSnap,
    FrameSnap,
    JoinSnap,
    LoopSnap,
    MISnap,
    RegionSnap,
    SchedulerState,
    SeededState,
    SignalWaitSnap,
    StateSnapshot,
    TokenSnap,
)

__all__ = ["pending_commands", "restore"]

_T = TypeVar("_T")


def _by_id(items: Iterable[Any], where: str) -> dict[int, tuple[int, Any]]:
    out: dict[int, tuple[int, Any]] = {}
    for i, item in enumerate(items):
        if item.id in out:
            raise ser_error(f"{where}[{i}].id: duplicate id {item.id}", f"{where}[{i}].id")
        out[item.id] = (i, item)
    return out


def _value_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in SCHEMA[cls].fields if f.snapshot and f.kind is Kind.VALUE)


_VALUES: dict[type, tuple[str, ...]] = {
    cls: _value_fields(cls) for cls in (JoinInst, LoopFrame, MIInst, RegionInst)
}
_VALUES[Token] = tuple(n for n in _value_fields(Token) if n != "wait")  # linked with its refs


def _set_values(obj: Any, record: Any) -> None:
    """Set ``obj``'s snapshotted VALUE fields (from the schema) from its record.

    Constructors take what they need (ids, checked program counters); every
    other value field (counters, flags) is set here, so a field added to an
    object and its record needs no change in this module.
    """
    for name in _VALUES[type(obj)]:
        setattr(obj, name, getattr(record, name))


class _Rebuild:
    """Builds the object graph of a snapshot, checking every reference."""

    def __init__(self, program: Program, snap: StateSnapshot) -> None:
        self.program = program
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
            raise ser_error(f"{path}: id {i} is outside [0, next_id={self.next_id})", path)

    def _pc(self, pc: int, path: str, *, allow_none: bool = False) -> int:
        if not (0 <= pc < self.n_pc or (allow_none and pc == -1)):
            raise ser_error(f"{path}: pc {pc} is outside the program (0..{self.n_pc - 1})", path)
        return pc

    @staticmethod
    def get(table: dict[int, _T], what: str, i: int, path: str) -> _T:
        obj = table.get(i)
        if obj is None:
            raise ser_error(f"{path}: no {what} with id {i} in the snapshot", path)
        return obj

    def scope(self, i: int, path: str) -> CtxLayer:
        return self.get(self.scopes, "scope", i, path)

    def frame(self, i: int | None, path: str) -> Frame | None:
        return None if i is None else self.get(self.frames, "frame", i, path)

    def region(self, i: int | None, path: str) -> RegionInst | None:
        return None if i is None else self.get(self.regions, "region", i, path)

    def token(self, i: int, path: str) -> Token:
        return self.get(self.tokens, "token", i, path)

    # construction

    def _build_scopes(self, snaps: tuple[CtxLayerSnap, ...]) -> dict[int, CtxLayer]:
        by_id = _by_id(snaps, "scopes")
        built: dict[int, CtxLayer] = {}
        for sid in by_id:
            chain: list[tuple[int, CtxLayerSnap]] = []
            on_chain: set[int] = set()
            cur: int | None = sid
            while cur is not None and cur not in built:
                if cur in on_chain:
                    raise ser_error(f"scopes: the parent chain of scope {sid} is a cycle", "scopes")
                entry = by_id.get(cur)
                if entry is None:
                    i = chain[-1][0]
                    raise ser_error(
                        f"scopes[{i}].parent: no scope with id {cur} in the snapshot",
                        f"scopes[{i}].parent",
                    )
                on_chain.add(cur)
                chain.append(entry)
                cur = entry[1].parent
            for i, s in reversed(chain):
                self._check_id(s.id, f"scopes[{i}].id")
                # values are frozen as a live case's are (docs/SEMANTICS.md, "Tasks")
                built[s.id] = CtxLayer(
                    s.id,
                    dict(freeze_items(jsonable_copy(s.data, f"scopes[{i}].data"))),
                    None if s.parent is None else built[s.parent],
                    None
                    if s.base is None
                    else dict(freeze_items(jsonable_copy(s.base, f"scopes[{i}].base"))),
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
                obj = j
            elif isinstance(f, LoopSnap):
                obj = LoopFrame(f.id, None)
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
                m.results = {
                    r.index: freeze_items(jsonable_copy(r.data, f"{p}.results[{k}].data"))
                    for k, r in enumerate(f.results)
                }
                if f.spawned is not None and f.spawned != f.n:
                    if not 0 <= f.spawned < f.n or f.items is None or len(f.items) != f.n:
                        raise ser_error(
                            f"{p}.spawned: {f.spawned} instances spawned of {f.n}, with "
                            f"{'no' if f.items is None else len(f.items)} items",
                            f"{p}.spawned",
                        )
                    m.items = list(jsonable_copy(list(f.items), f"{p}.items"))
                    m.spawned = f.spawned
                obj = m
            _set_values(obj, f)
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
            _set_values(obj, r)
            self.regions[r.id] = obj

    def _build_tokens(self, snaps: tuple[TokenSnap, ...]) -> None:
        for _, (i, t) in _by_id(snaps, "tokens").items():
            p = f"tokens[{i}]"
            self._check_id(t.id, f"{p}.id")
            self._pc(t.pc, f"{p}.pc")
            tok = Token(t.id, t.pc, None, None, self.scope(t.scope, f"{p}.scope"))
            _set_values(tok, t)
            self.tokens[t.id] = tok

    # linking

    def _link_blocking(self, obj: JoinInst, f: JoinSnap, p: str) -> None:
        """A blocking join's fields: its fork, what it holds and whom it blocks."""
        if f.site != -1:
            ins = self.program.instrs[self._pc(f.site, f"{p}.site")]
            if not (isinstance(ins.ops, ForkOps) and ins.ops.blocking):
                raise ser_error(f"{p}.site: pc {f.site} is no blocking join's fork", f"{p}.site")
        if f.held is not None and (f.site == -1 or f.held < 0):
            raise ser_error(f"{p}.held: {f.held} arrivals held at no blocking join", f"{p}.held")
        if f.blocks is not None:
            nxt = self.frame(f.blocks, f"{p}.blocks")
            if not isinstance(nxt, JoinInst) or f.site == -1 or nxt.held is None:
                raise ser_error(f"{p}.blocks: frame {f.blocks} is no held join", f"{p}.blocks")
            obj.blocks = nxt

    def _link_frames(self, snaps: tuple[FrameSnap, ...]) -> None:
        for i, f in enumerate(snaps):
            p = f"frames[{i}]"
            obj = self.frames[f.id]
            obj.parent = self.frame(f.parent, f"{p}.parent")
            if isinstance(f, JoinSnap):
                assert isinstance(obj, JoinInst)
                obj.region = self.region(f.region, f"{p}.region")
                obj.cancel_region = self.region(f.cancel_region, f"{p}.cancel_region")
                self._link_blocking(obj, f, p)
            elif isinstance(f, MISnap):
                assert isinstance(obj, MIInst)
                obj.region = self.region(f.region, f"{p}.region")
                obj.cancel_region = self.region(f.cancel_region, f"{p}.cancel_region")
        # parents were created earlier (smaller ids), so a cycle means a corrupt snapshot
        for i, f in enumerate(snaps):
            seen: set[int] = set()
            cur: Frame | None = self.frames[f.id]
            while cur is not None:
                if cur.id in seen:
                    raise ser_error(f"frames[{i}].parent: the parent chain is a cycle")
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
        # a cycle of parents would send every walk up the region tree round for ever
        for i, r in enumerate(snaps):
            seen: set[int] = set()
            cur: RegionInst | None = self.regions[r.id]
            while cur is not None:
                if cur.id in seen:
                    raise ser_error(f"regions[{i}].parent: the parent chain is a cycle")
                seen.add(cur.id)
                cur = cur.parent

    def _link_tokens(self, snaps: tuple[TokenSnap, ...]) -> None:
        for i, t in enumerate(snaps):
            p = f"tokens[{i}]"
            tok = self.tokens[t.id]
            tok.frame = self.frame(t.frame, f"{p}.frame")
            tok.region = self.region(t.region, f"{p}.region")
            w = t.wait
            if w is None:
                tok.wait = None
            elif isinstance(w, EffectWaitSnap):
                tok.wait = EffectWait.of(w.eid)
            elif isinstance(w, SignalWaitSnap):
                tok.wait = SignalWait.of(w.name)
            else:  # the arms were checked (exactly one of signal and timer each)
                tok.wait = DeferWait.of(
                    tuple(
                        DeferArm(WaitKind.SIGNAL, a.signal, a.alt)
                        if a.signal is not None
                        else DeferArm(WaitKind.TIMER, a.timer if a.timer is not None else -1, a.alt)
                        for a in w.alts
                    )
                )


def _restore_scheduler(s: SchedulerState) -> Scheduler:
    if isinstance(s, DeterministicState):
        return Deterministic()
    try:
        if isinstance(s, SeededState):
            return Seeded.from_state(
                s.seed, (s.rng_version, s.rng_state, s.rng_gauss), preemptive=s.preemptive
            )
        return Replay.from_state(s.log, s.pos)
    except SchedulerError as exc:
        raise ser_error(f"scheduler: {exc}", "scheduler") from exc


def _effect_meta(snap: StateSnapshot) -> dict[int, EffectMeta]:
    out: dict[int, EffectMeta] = {}
    for k, e in enumerate(snap.effects):
        if not e.causal_id:
            continue
        spec = None
        if e.spec_kind is not None:
            payload = jsonable_copy(e.spec_payload, f"effects[{k}].spec_payload")
            try:
                spec = Effect(e.spec_kind, payload, e.spec_cost)
            except WftrioError as exc:
                raise ser_error(f"effects[{k}].spec_kind: {exc}", f"effects[{k}]") from exc
        out[e.eid] = EffectMeta(
            e.causal_id,
            e.kind,
            e.request,
            e.cost,
            e.requested_at,
            spec,
            e.attempts,
            e.epoch,
        )
    return out


def restore(
    program: Program,
    snap: StateSnapshot,
    *,
    case_id: str | None = None,
    scheduler: Scheduler | None = None,
    trace_level: str | None = None,
    clock: Callable[[], float] | None = None,
    on_event: Callable[[TraceEvent], None] | None = None,
    keep_events: bool = True,
    allow: frozenset[str] | None = None,
    budget: Budget | None = None,
) -> ExecState:
    """Rebuild the :class:`ExecState` a snapshot was taken of.

    The snapshot is untrusted input: it is checked completely (see
    :mod:`wftrio.engine._snapshot.checks`) before anything is rebuilt.

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
        allow / budget: the case's allowlist and budget, as given to
            ``new_case``.  They must be those the snapshot ran under (a
            snapshot cannot grant itself an allowlist or a budget); what the
            case used of its budget comes from the snapshot.

    Returns:
        A state that continues exactly as the snapshotted one would have: the
        same steps, trace events (from the next ``seq``), ctx and outcome for
        the same inputs.  Its outbox and ``events`` start empty; see
        :func:`pending_commands`.

    Raises:
        ProgramMismatch: the snapshot was taken from a different program.
        SerializationError: the snapshot is inconsistent (a dangling id, a pc
            outside the program or not matching the token's wait, a negative
            counter, a finished case with live tokens, a wait without its
            pending entry, a region the program does not have, text that is
            not valid Unicode, data nested too deeply, other governance
            options than ``allow`` / ``budget``); ``paths`` names the field.
    """
    if not isinstance(snap, StateSnapshot):
        raise ser_error(f"restore: expected a StateSnapshot, got {type(snap).__name__}")
    if snap.version != SNAPSHOT_VERSION:
        raise ser_error(
            f"version: snapshot format {snap.version} is not supported (expected "
            f"{SNAPSHOT_VERSION})",
            "version",
        )
    fp = program_fingerprint(program)
    if snap.fingerprint != fp:
        raise ProgramMismatch(
            f"restore: the snapshot of case {snap.case_id!r} was taken from a different "
            f"program (fingerprint {snap.fingerprint}, this program's is {fp}); restore it "
            "with the Program compiled from the workflow term it was running"
        )
    check_snapshot(program, snap)
    governor = governor_for(snap, allow, budget)
    graph = _Rebuild(program, snap)
    root = graph.scope(snap.root, "root")
    if root.parent is not None:
        raise ser_error(f"root: scope {snap.root} has a parent; a root scope has none", "root")
    regions = {
        sid: {
            graph.get(graph.regions, "region", i, f"region_index[{sid!r}][{k}]"): None
            for k, i in enumerate(ids)
        }
        for sid, ids in snap.region_index.items()
    }
    waiters: dict[str, Token | dict[Token, int]] = {}
    for name, ws in snap.waiters.items():
        toks = {graph.token(w.token, f"waiters[{name!r}][{k}]"): w.alt for k, w in enumerate(ws)}
        if len(toks) > 1:
            waiters[name] = OrderedDict(toks)  # as add_waiter keeps them
        elif toks:  # a lone waiter is the token itself (ExecState.add_waiter)
            waiters[name] = next(iter(toks))
    st = ExecState.from_parts(
        program,
        case_id=snap.case_id if case_id is None else case_id,
        scheduler=_restore_scheduler(snap.scheduler) if scheduler is None else scheduler,
        trace_level=snap.trace_level if trace_level is None else trace_level,
        clock=clock,
        on_event=on_event,
        keep_events=keep_events,
        # a case restored under another id keeps deriving the same causal ids
        causal_root=snap.causal_root if snap.causal_root is not None else snap.case_id,
        root=root,
        next_id=snap.next_id,
        seq=snap.seq,
        steps=snap.steps,
        epoch=snap.epoch,
        status=snap.status,
        error=None
        if snap.error is None
        else RecordedError(snap.error.error_type, snap.error.error),
        t0=snap.t0 if clock is None else clock() - snap.elapsed,
        # every token in a snapshot is live; the state registers them in id order
        tokens=dict(sorted(graph.tokens.items())),
        ready=[graph.token(i, f"ready[{k}]") for k, i in enumerate(snap.ready)],
        current=None if snap.current is None else graph.token(snap.current, "current"),
        regions=regions,
        signals={
            name: deque(freeze(v) for v in jsonable_copy(list(q), f"signals[{name!r}]"))
            for name, q in snap.signals.items()
        },
        waiters=waiters,
        effects={
            e.eid: graph.token(e.token, f"effects[{k}].token") for k, e in enumerate(snap.effects)
        },
        timers={
            t.tid: (graph.token(t.token, f"timers[{k}].token"), t.alt)
            for k, t in enumerate(snap.timers)
        },
        effect_meta=_effect_meta(snap),
        governor=governor,
    )
    # the rebuilt graph keeps the engine's invariants, or the snapshot was inconsistent
    bad = violations(st)
    if bad:
        field, message = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise ser_error(f"{field}: the snapshot is inconsistent: {message}{more}", field)
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
        ins = instrs[tok.pc]
        name: str = instr_arg(ins, "name")
        meta = st.effect_meta.get(eid) if st.effect_meta else None
        spec = meta.spec if meta is not None else None
        out.append(
            StartEffect(
                eid,
                name,
                instr_arg(ins, "fn") if spec is None else None,
                MappingProxyType(dict(tok.scope.view)),
                tok.region.path() if tok.region is not None else (),
                tok.id,
                kind=meta.kind if meta is not None else instr_arg(ins, "kind") or name,
                effect=spec,
                causal_id=meta.causal_id if meta is not None else "",
                key=meta.idem_key() if meta is not None else "",
                timeout=instr_arg(ins, "timeout"),
                retry=instr_arg(ins, "retry"),
            )
        )
    for tid, (tok, alt) in st.timers.items():
        _kind, seconds = instr_arg(instrs[tok.pc], "alts")[alt]
        out.append(StartTimer(tid, float(seconds)))
    return out
