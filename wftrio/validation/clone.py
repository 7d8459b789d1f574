"""Copying a case's execution state, so that the explorer can branch.

The explorer steps the *real* reducer (:class:`~wftrio.engine.ExecState`
and the opcode handlers of ``engine/_ops.py``); to try every outcome of a
state it needs independent copies of it.  :func:`clone_state` copies the
object graph (tokens, frames, region activations, scopes and the state's
tables) with the same ids, sharing what is immutable (the Program, its
callables, trace events, commands, ctx values).

The copy is generic over the slots of the engine's classes, so a slot added
to ``ExecState`` or to a frame class is copied without a change here:
objects of the engine's (and the governor's) mutable classes are copied and
remapped, dicts / lists / tuples / sets / deques are rebuilt with their
contents remapped, anything else (attrs values, callables, ctx values) is
shared.
Scopes are rebuilt through their constructor (their read-only view is
derived from the data dict).
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Any

import attrs

from wftrio.engine._objects import Frame, JoinInst, LoopFrame, MIInst, RegionInst, Scope, Token
from wftrio.engine._state import ExecState

__all__ = ["clone_state"]

_ENGINE = (Token, Frame, RegionInst, Scope)
_SLOTS: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {}
_MUTABLE_MODULES = ("wftrio.engine", "wftrio.governance")
_COPIED: dict[type, bool] = {}


def _copied(cls: type) -> bool:
    """Whether instances of ``cls`` are per-case mutable state to copy.

    The engine's own slotted bookkeeping classes (and the governor's
    counters) are; attrs classes there are values (commands, receipts,
    budgets), enums and exceptions too: shared.
    """
    got = _COPIED.get(cls)
    if got is None:
        got = issubclass(cls, _ENGINE) or (
            cls.__module__.startswith(_MUTABLE_MODULES)
            and "__slots__" in cls.__dict__
            and not attrs.has(cls)
            and not issubclass(cls, enum.Enum | BaseException)
        )
        _COPIED[cls] = got
    return got


def _slots(cls: type) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The slot names of ``cls`` (whole MRO): ``(id-like first, the rest)``.

    ``id`` goes first so that a half-built Token copy already hashes (tokens
    hash by id, and a token can be reached again through its region's token
    set while it is being copied).
    """
    got = _SLOTS.get(cls)
    if got is None:
        names: list[str] = []
        for c in cls.__mro__:
            for n in c.__dict__.get("__slots__", ()):
                if n not in ("__weakref__", "__dict__") and n not in names:
                    names.append(n)
        first = tuple(n for n in names if n == "id")
        got = (first, tuple(n for n in names if n != "id"))
        _SLOTS[cls] = got
    return got


_FAST: dict[type, tuple[str, ...]] = {
    Token: ("alive", "frame", "id", "pc", "region", "scope", "wait"),
    JoinInst: (
        "arrived",
        "cancel_region",
        "cont",
        "fired",
        "id",
        "needed",
        "parent",
        "region",
        "scope",
        "started",
    ),
    LoopFrame: ("count", "id", "parent"),
    MIInst: (
        "cont",
        "done",
        "fired",
        "id",
        "n",
        "needed",
        "parent",
        "region",
        "results",
        "scope",
    ),
    RegionInst: (
        "alive",
        "cancel_pc",
        "children",
        "exited",
        "frame",
        "id",
        "parent",
        "scope",
        "scope_id",
        "tokens",
    ),
}
# a class whose slots changed since this table was written is copied generically
_FAST_OK = {cls: set(_slots(cls)[0] + _slots(cls)[1]) == set(names) for cls, names in _FAST.items()}

# ExecState slots shared with the copy, and those copied by _Copier.state
_SHARED = frozenset(
    {"program", "code", "scheduler", "clock", "on_event", "_record", "error", "status"}
)


class _Copier:
    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}

    # -- fast paths for the engine's own classes ----------------------------

    def tok(self, t: Token) -> Token:
        new: Token | None = self.memo.get(id(t))
        if new is not None:
            return new
        if not _FAST_OK[Token]:
            return self.obj(t)  # type: ignore[no-any-return]
        new = Token.__new__(Token)
        self.memo[id(t)] = new
        new.id = t.id
        new.pc = t.pc
        new.wait = t.wait  # a tuple of ids and names: immutable
        new.alive = t.alive
        f = t.frame
        new.frame = self.frame(f) if f is not None else None
        r = t.region
        new.region = self.region(r) if r is not None else None
        new.scope = self.scope(t.scope)
        return new

    def frame(self, f: Frame) -> Frame:
        new: Any = self.memo.get(id(f))
        if new is not None:
            return new  # type: ignore[no-any-return]
        cls = type(f)
        if not _FAST_OK.get(cls, False):
            return self.obj(f)  # type: ignore[no-any-return]
        new = cls.__new__(cls)
        self.memo[id(f)] = new
        new.id = f.id
        p = f.parent
        new.parent = self.frame(p) if p is not None else None
        if cls is LoopFrame:
            new.count = f.count  # type: ignore[attr-defined]
            return new  # type: ignore[no-any-return]
        o: Any = f
        r = o.region
        new.region = self.region(r) if r is not None else None
        new.scope = self.scope(o.scope)
        new.needed = o.needed
        new.fired = o.fired
        new.cont = o.cont
        if cls is JoinInst:
            new.started = o.started
            new.arrived = o.arrived
            c = o.cancel_region
            new.cancel_region = self.region(c) if c is not None else None
        else:
            new.n = o.n
            new.done = o.done
            new.results = dict(o.results)  # values: dicts never mutated afterwards
        return new  # type: ignore[no-any-return]

    def region(self, r: RegionInst) -> RegionInst:
        new: RegionInst | None = self.memo.get(id(r))
        if new is not None:
            return new
        if not _FAST_OK[RegionInst]:
            return self.obj(r)  # type: ignore[no-any-return]
        new = RegionInst.__new__(RegionInst)
        self.memo[id(r)] = new
        new.id = r.id
        new.scope_id = r.scope_id
        new.cancel_pc = r.cancel_pc
        new.exited = r.exited
        new.alive = r.alive
        p = r.parent
        new.parent = self.region(p) if p is not None else None
        f = r.frame
        new.frame = self.frame(f) if f is not None else None
        new.scope = self.scope(r.scope)
        new.tokens = {self.tok(t): None for t in r.tokens}
        new.children = {self.region(c): None for c in r.children}
        return new

    def scope(self, sc: Scope) -> Scope:
        new: Scope | None = self.memo.get(id(sc))
        if new is None:
            parent = self.scope(sc.parent) if sc.parent is not None else None
            new = Scope(sc.id, dict(sc.data), parent, sc.base, sc.index)
            self.memo[id(sc)] = new
        return new

    # -- the generic copy ----------------------------------------------------

    def obj(self, o: Any) -> Any:
        new = self.memo.get(id(o))
        if new is not None:
            return new
        cls: Any = type(o)
        if cls is Scope:
            return self.scope(o)
        new = cls.__new__(cls)
        self.memo[id(o)] = new
        first, rest = _slots(cls)
        for n in first:
            setattr(new, n, getattr(o, n))
        for n in rest:
            try:
                v = getattr(o, n)
            except AttributeError:
                continue
            setattr(new, n, self.val(v))
        d = getattr(o, "__dict__", None)
        if d is not None:
            new.__dict__.update({k: self.val(x) for k, x in d.items()})
        return new

    def val(self, v: Any) -> Any:
        if v is None:
            return None
        t = type(v)
        if t is int or t is str or t is bool or t is float:
            return v
        if t is Token:
            return self.tok(v)
        if _copied(t):
            return self.obj(v)
        if t is dict:
            return {self.val(k): self.val(x) for k, x in v.items()}
        if t is list:
            return [self.val(x) for x in v]
        if t is tuple:
            return tuple(self.val(x) for x in v)
        if t is deque:
            return deque(v)  # queued signal payloads: values, shared
        if t is set:
            return {self.val(x) for x in v}
        return v  # immutable or shared by design (Program, callables, commands, events)

    def state(self, st: ExecState, new: ExecState) -> set[str]:
        """Copy the tables of ``st`` the engine is known to have; return their names."""
        tok = self.tok
        new.tokens = {i: tok(t) for i, t in st.tokens.items()}
        new.ready = [tok(t) for t in st.ready]
        new.current = tok(st.current) if st.current is not None else None
        new.signals = {n: deque(q) for n, q in st.signals.items()}
        new.waiters = {
            n: {tok(t): a for t, a in ws.items()} if isinstance(ws, dict) else tok(ws)
            for n, ws in st.waiters.items()
        }
        new.effects = {e: tok(t) for e, t in st.effects.items()}
        new.timers = {i: (tok(t), a) for i, (t, a) in st.timers.items()}
        region = self.region
        new.regions = {sid: {region(r): None for r in rs} for sid, rs in st.regions.items()}
        new.root = self.scope(st.root)
        new.outbox = list(st.outbox)
        new.events = list(st.events)
        return {
            "tokens",
            "ready",
            "current",
            "signals",
            "waiters",
            "effects",
            "timers",
            "regions",
            "root",
            "outbox",
            "events",
        }


def clone_state(st: ExecState) -> ExecState:
    """Return an independent copy of ``st`` that continues exactly as ``st`` would.

    The copy shares the Program, the scheduler object, the clock and the
    event callback with ``st``; tokens, frames, regions, scopes, signal
    queues, waiter tables, pending effects and timers, the ready stack and
    the outbox list are copied (ctx dicts shallowly: ctx values are never
    mutated in place by the reducer).  The recorded events list is copied
    and the recorder rebound to the copy.
    """
    c = _Copier()
    new = ExecState.__new__(ExecState)
    c.memo[id(st)] = new
    done = c.state(st, new)
    _, names = _slots(ExecState)
    for n in names:
        if n in done:
            continue
        try:
            v = getattr(st, n)
        except AttributeError:
            continue
        setattr(new, n, v if n in _SHARED else c.val(v))
    new._set_recorder()
    return new
