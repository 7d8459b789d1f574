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

from wftrio.engine._objects import Frame, RegionInst, Scope, Token
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
    budgets), enums and exceptions too, and the read-only ``EMPTY`` dict is
    a shared constant: shared.
    """
    got = _COPIED.get(cls)
    if got is None:
        got = issubclass(cls, _ENGINE) or (
            cls.__module__.startswith(_MUTABLE_MODULES)
            and "__slots__" in cls.__dict__
            and not attrs.has(cls)
            and not issubclass(cls, enum.Enum | BaseException | dict | tuple)
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


# ExecState slots shared with the copy (everything else is copied)
_SHARED = frozenset(
    {"program", "code", "scheduler", "clock", "on_event", "_record", "error", "status"}
)


class _Copier:
    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}

    def scope(self, sc: Scope) -> Scope:
        new: Scope | None = self.memo.get(id(sc))
        if new is None:
            parent = self.scope(sc.parent) if sc.parent is not None else None
            new = Scope(sc.id, dict(sc.data), parent, sc.base, sc.index)
            self.memo[id(sc)] = new
        return new

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
    _, names = _slots(ExecState)
    for n in names:
        try:
            v = getattr(st, n)
        except AttributeError:
            continue
        setattr(new, n, v if n in _SHARED else c.val(v))
    new._set_recorder()
    return new
