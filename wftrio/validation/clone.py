"""Copying a case's execution state, so that the explorer can branch.

The explorer steps the *real* reducer (:class:`~wftrio.engine.ExecState`
and the opcode handlers of the engine); every state it stores must be
independent of the others (it applies the moves it tries to the state in
place and undoes them, see :mod:`wftrio.validation.checkpoint`, and copies
the result only when it is a new state).  :func:`clone_state` copies the object
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

The per-class copy functions are generated from the schema once, at import
(plain attribute reads and one tuple per object, no per-field loop).  The
same walk can hand back a :class:`~wftrio.validation.checkpoint.Checkpoint`
of the copy (:func:`clone_with_checkpoint`): the tuple of fields each copied
object was given is what a checkpoint saves, so a state the explorer stores
comes with the checkpoint it will be expanded with, at the cost of one more
copy of each container.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from wftrio.engine import ExecState
from wftrio.engine.objects import EMPTY, CtxLayer
from wftrio.engine.schema import SCHEMA, Kind
from wftrio.validation.checkpoint import (
    COPY,
    PLANS,
    PUT,
    Checkpoint,
    put_dict,
    slow_load,
    slow_save,
)

__all__ = ["clone_state", "clone_with_checkpoint"]

_CopyFn = Callable[[Any, "_Copier"], Any]


def _generated(cls: type) -> _CopyFn:
    """The copy function of ``cls``: a new object given every field, as the schema says.

    ``VALUE`` / ``CONST`` / ``DERIVED`` fields are shared, ``DATA`` containers
    copied one level deep, ``REF`` fields remapped.  The id is set first, so
    that a half-built Token copy already hashes (tokens hash by id, and a
    token can be reached again through its region's token set while it is
    being copied).
    """
    fields = SCHEMA[cls].fields
    exprs = []
    for f in fields:
        if f.kind is Kind.REF:
            exprs.append(f"val(o.{f.name})")
        elif f.kind is Kind.DATA:
            exprs.append(f"data(o.{f.name})")
        else:
            exprs.append(f"o.{f.name}")
    has_id = any(f.name == "id" for f in fields)
    src = (
        "def copy(o, c):\n"
        "    n = new(cls)\n"
        "    c.memo[id(o)] = n\n" + ("    n.id = o.id\n" if has_id else "") + "    val = c.val\n"
        "    data = c.data\n"
        f"    v = ({', '.join(exprs)},)\n"
        "    load(n, v)\n"
        "    c.objects.append((load, n, v))\n"
        "    return n\n"
    )
    ns: dict[str, Any] = {"new": cls.__new__, "cls": cls, "load": PLANS[cls][1]}
    exec(compile(src, f"<clone {cls.__name__}>", "exec"), ns)
    fn: _CopyFn = ns["copy"]
    return fn


_COPIERS: dict[type, _CopyFn] = {cls: _generated(cls) for cls in SCHEMA if cls is not CtxLayer}


class _Copier:
    __slots__ = ("containers", "keep", "memo", "objects")

    def __init__(self, keep: bool) -> None:
        self.memo: dict[int, Any] = {}
        self.keep = keep  # also record the containers, for a checkpoint of the copy
        self.objects: list[tuple[Any, Any, tuple[Any, ...]]] = []
        self.containers: list[tuple[Callable[[Any, Any], None], Any, Any]] = []

    def layer(self, sc: CtxLayer) -> CtxLayer:
        new: CtxLayer | None = self.memo.get(id(sc))
        if new is None:
            parent = self.layer(sc.parent) if sc.parent is not None else None
            # the schema's DATA fields: data copied, base never mutated (shared);
            # the DERIVED view and maps are rebuilt by the constructor
            data = dict(sc.data)
            new = CtxLayer(sc.id, data, parent, sc.base, sc.index)
            self.memo[id(sc)] = new
            if self.keep:
                save, load, _, _ = PLANS[CtxLayer]
                self.objects.append((load, new, save(new)))
                self.containers.append((put_dict, data, data.copy()))
        return new

    def data(self, v: Any) -> Any:
        """A fresh DATA container one level deep (deques inside a dict too); values shared."""
        t = type(v)
        if t is dict:
            new: Any = {k: self.data(x) if type(x) is deque else x for k, x in v.items()}
        elif t is list:
            new = list(v)
        elif t is deque:
            new = deque(v)
        else:
            return v  # None, EMPTY (shared by design), or an immutable value
        if self.keep:
            self.containers.append((PUT[t], new, COPY[t](new)))
        return new

    def val(self, v: Any) -> Any:
        """The copy of a REF field's value: objects remapped, containers rebuilt."""
        if v is None:
            return None
        t: Any = type(v)
        copy = _COPIERS.get(t)
        if copy is not None:
            new = self.memo.get(id(v))
            if new is None:
                try:
                    new = copy(v, self)
                except AttributeError:  # a slot never assigned: left unassigned
                    new = self.slow(v)
            return new
        if t is CtxLayer:
            return self.layer(v)
        if t is int or t is str:
            return v
        val = self.val
        if t is dict or t is OrderedDict:  # OrderedDict: a signal's waiters
            new = t((val(k), val(x)) for k, x in v.items())
        elif t is list:
            new = [val(x) for x in v]
        elif t is deque:  # the ready stack, once long (ExecState.make_ready)
            new = deque(val(x) for x in v)
        elif t is tuple:
            return tuple(val(x) for x in v)
        elif t is set:
            new = {val(x) for x in v}
        elif v is EMPTY:
            return v
        else:
            raise TypeError(
                f"clone_state: a REF field holds a {t.__name__}, which is neither an object "
                "of a class in wftrio.engine.schema.SCHEMA nor a container of them"
            )
        if self.keep:
            self.containers.append((PUT[t], new, COPY[t](new)))
        return new

    def slow(self, o: Any) -> Any:
        """Copy ``o`` field by field (a slot of it was never assigned)."""
        t: Any = type(o)
        new = self.memo.get(id(o))
        if new is None:
            new = self.memo[id(o)] = t.__new__(t)
        for f in SCHEMA[t].fields:
            v = getattr(o, f.name, slow_save)
            if v is slow_save:
                continue
            if f.kind is Kind.REF:
                v = self.val(v)
            elif f.kind is Kind.DATA:
                v = self.data(v)
            setattr(new, f.name, v)
        self.objects = [e for e in self.objects if e[1] is not new]
        self.objects.append((slow_load, new, slow_save(new)))
        return new

    def state(self, st: ExecState) -> ExecState:
        new: ExecState = _COPIERS[ExecState](st, self)
        new.set_level(new.level)  # rebinds the DERIVED recorder to the copy's events
        if self.keep:  # its fields as they are now, the recorder included
            for i, (_, o, _) in enumerate(self.objects):
                if o is new:
                    save, load, _, _ = PLANS[ExecState]
                    self.objects[i] = (load, new, save(new))
                    break
        return new


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
    return _Copier(False).state(st)


def clone_with_checkpoint(st: ExecState) -> tuple[ExecState, Checkpoint]:
    """:func:`clone_state`, and a :class:`Checkpoint` of the copy, from one walk.

    The checkpoint restores the copy as it is now, like ``Checkpoint(copy)``,
    except that it leaves out what the copy shares with ``st`` and the
    reducer never changes in place (a ctx layer's ``base``).
    """
    c = _Copier(True)
    new = c.state(st)
    return new, Checkpoint.of(c.objects, c.containers)
