"""Copying a case's execution state, so that the explorer can branch.

The explorer steps the *real* reducer (:class:`~wftrio.engine.ExecState`
and the opcode handlers of the engine); to try every outcome of a state it
needs independent copies of it.  :func:`clone_state` copies the object
graph (tokens, frames, region activations, ctx layers, effect metadata, the
governor and the state's tables) with the same ids, sharing what is
immutable (the Program, its callables, trace events, commands, ctx values).

The copy is derived from :data:`wftrio.engine.schema.SCHEMA`: for each class
it shares ``VALUE`` / ``CONST`` / ``DERIVED`` fields, copies ``DATA``
containers one level deep, and remaps ``REF`` fields (objects of a class in
the schema are copied once each; dicts, lists, tuples and sets of them are
rebuilt).  A class that is not in the schema is never copied: it is shared,
so a new mutable engine class must be declared there (``tests/test_schema.py``
fails until it is).  Ctx layers are rebuilt through their constructor (their
read-only view derives from the data dicts), and the copy of the state
rebinds its recorder.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

from wftrio.engine import ExecState
from wftrio.engine.objects import EMPTY, CtxLayer
from wftrio.engine.schema import SCHEMA, Kind

__all__ = ["clone_state"]


def _copy_data(v: Any) -> Any:
    """A fresh container one level deep (deques inside a dict too); values shared."""
    t = type(v)
    if t is dict:
        return {k: deque(x) if type(x) is deque else x for k, x in v.items()}
    if t is list:
        return list(v)
    if t is deque:
        return deque(v)
    return v  # None, EMPTY (shared by design), or an immutable value


# per class: (names shared, names copied as DATA, names remapped as REF); "id"
# first among the shared ones so that a half-built Token copy already hashes
# (tokens hash by id, and a token can be reached again through its region's
# token set while it is being copied)
_Plan = tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]


def _plan(cls: type) -> _Plan:
    fields = SCHEMA[cls].fields
    shared = [f.name for f in fields if f.kind in (Kind.VALUE, Kind.CONST, Kind.DERIVED)]
    shared.sort(key=lambda n: n != "id")
    return (
        tuple(shared),
        tuple(f.name for f in fields if f.kind is Kind.DATA),
        tuple(f.name for f in fields if f.kind is Kind.REF),
    )


_PLANS: dict[type, _Plan] = {cls: _plan(cls) for cls in SCHEMA if cls is not CtxLayer}
_STATE_PLAN = _PLANS.pop(ExecState)
_unset = object()


class _Copier:
    __slots__ = ("memo",)

    def __init__(self) -> None:
        self.memo: dict[int, Any] = {}

    def layer(self, sc: CtxLayer) -> CtxLayer:
        new: CtxLayer | None = self.memo.get(id(sc))
        if new is None:
            parent = self.layer(sc.parent) if sc.parent is not None else None
            # the schema's DATA fields: data copied, base never mutated (shared);
            # the DERIVED view and maps are rebuilt by the constructor
            new = CtxLayer(sc.id, dict(sc.data), parent, sc.base, sc.index)
            self.memo[id(sc)] = new
        return new

    def fill(self, o: Any, new: Any, plan: _Plan) -> None:
        shared, data, refs = plan
        for n in shared:
            v = getattr(o, n, _unset)
            if v is not _unset:
                setattr(new, n, v)
        for n in data:
            setattr(new, n, _copy_data(getattr(o, n)))
        val = self.val
        for n in refs:
            setattr(new, n, val(getattr(o, n)))

    def val(self, v: Any) -> Any:
        """The copy of a REF field's value: objects remapped, containers rebuilt."""
        if v is None:
            return None
        t: Any = type(v)
        plan = _PLANS.get(t)
        if plan is not None:
            new = self.memo.get(id(v))
            if new is None:
                new = t.__new__(t)
                self.memo[id(v)] = new
                self.fill(v, new, plan)
            return new
        if t is CtxLayer:
            return self.layer(v)
        if t is int or t is str:
            return v
        if t is dict or t is OrderedDict:  # OrderedDict: a signal's waiters
            val = self.val
            return t((val(k), val(x)) for k, x in v.items())
        if t is list:
            return [self.val(x) for x in v]
        if t is OrderedDict:  # a signal's waiters (several), in arrival order
            val = self.val
            return OrderedDict((val(k), val(x)) for k, x in v.items())
        if t is deque:  # the ready stack, once long (ExecState.make_ready)
            return deque(self.val(x) for x in v)
        if t is tuple:
            return tuple(self.val(x) for x in v)
        if t is set:
            return {self.val(x) for x in v}
        if v is EMPTY:
            return v
        raise TypeError(
            f"clone_state: a REF field holds a {t.__name__}, which is neither an object "
            "of a class in wftrio.engine.schema.SCHEMA nor a container of them"
        )


def clone_state(st: ExecState) -> ExecState:
    """Return an independent copy of ``st`` that continues exactly as ``st`` would.

    The copy shares the Program, the scheduler object, the clock and the
    event callback with ``st`` (the schema's constants); tokens, frames,
    regions, ctx layers, effect metadata, the governor, signal queues,
    waiter tables, pending effects and timers, the ready stack, the outbox
    and the events list are copied (ctx dicts one level deep: ctx values are
    never mutated in place by the reducer), and the recorder is rebound to
    the copy.
    """
    c = _Copier()
    new = ExecState.__new__(ExecState)
    c.memo[id(st)] = new
    c.fill(st, new, _STATE_PLAN)
    new.set_level(new.level)  # rebinds the DERIVED recorder to the copy's events
    return new
