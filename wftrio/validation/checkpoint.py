"""Stepping a state in place and putting it back: the explorer's copy-on-write.

Most moves the explorer tries lead to a state it has already stored (on
``mi(mi(first(1)(a, b), 2), 2)``, 25,000 of 30,000 edges), so copying the
whole state before every move (:func:`~wftrio.validation.clone.clone_state`)
mostly builds copies that are keyed and dropped.  Instead the explorer takes
a :class:`Checkpoint` of the state it expands, applies each move *in place*
(the real reducer, unchanged), keys the result, copies it only when the key
is new, and :meth:`Checkpoint.restore` puts the state back before the next
move.  So a move costs the step, the key and a restore; a full copy is made
once per stored state.

Like the copier, the checkpoint is derived from
:data:`wftrio.engine.schema.SCHEMA`, and it covers exactly what the copier
copies: every object of a class in the schema reachable through ``REF``
fields (each field's value is saved, whatever its kind), every container a
``REF`` field holds (its contents, in order, and the containers and objects
in them), and the ``DATA`` containers one level deep (deques inside a dict
too; the reducer never mutates the values in them in place).  Restoring
writes every saved field back and every saved container's contents back *in
place*, so identities are kept (a ctx layer's read-through view keeps
reading its own ``data`` dict), and objects or containers the move created
become unreachable.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any

from wftrio.engine import ExecState
from wftrio.engine.objects import EMPTY
from wftrio.engine.schema import SCHEMA, Kind

__all__ = ["Checkpoint"]

_Save = Callable[[Any], tuple[Any, ...]]
_Load = Callable[[Any, tuple[Any, ...]], None]
# per class: save (every field, schema order; AttributeError on a slot never
# assigned), load (the inverse), the positions of its REF fields and of its
# DATA fields in the saved tuple
_Plan = tuple[_Save, _Load, tuple[int, ...], tuple[int, ...]]
_UNSET: Any = object()


def _plan(cls: type) -> _Plan:
    """Save and load functions of ``cls``'s fields, compiled once (plain attribute access)."""
    fields = SCHEMA[cls].fields
    get = ", ".join(f"o.{f.name}" for f in fields)
    src = f"def save(o):\n    return ({get},)\ndef load(o, v):\n    {get}, = v\n"
    ns: dict[str, Any] = {}
    exec(compile(src, f"<checkpoint {cls.__name__}>", "exec"), ns)
    return (
        ns["save"],
        ns["load"],
        tuple(i for i, f in enumerate(fields) if f.kind is Kind.REF),
        tuple(i for i, f in enumerate(fields) if f.kind is Kind.DATA),
    )


PLANS: dict[type, _Plan] = {cls: _plan(cls) for cls in SCHEMA}


def slow_save(o: Any) -> tuple[Any, ...]:
    """Every field of ``o``, :data:`_UNSET` for a slot never assigned."""
    return tuple(getattr(o, f.name, _UNSET) for f in SCHEMA[type(o)].fields)


def slow_load(o: Any, v: tuple[Any, ...]) -> None:
    for f, x in zip(SCHEMA[type(o)].fields, v, strict=True):
        if x is not _UNSET:
            setattr(o, f.name, x)
        elif hasattr(o, f.name):
            delattr(o, f.name)


def put_dict(c: Any, saved: Any) -> None:
    c.clear()
    c.update(saved)


def put_list(c: Any, saved: Any) -> None:
    c[:] = saved


def put_deque(c: Any, saved: Any) -> None:
    c.clear()
    c.extend(saved)


PUT: dict[type, Callable[[Any, Any], None]] = {
    dict: put_dict,
    OrderedDict: put_dict,
    set: put_dict,  # clear + update
    list: put_list,
    deque: put_deque,
}
COPY: dict[type, Callable[[Any], Any]] = {
    dict: dict.copy,
    OrderedDict: dict.copy,  # a plain dict keeps the order to put back
    set: set.copy,
    list: list.copy,
    deque: tuple,
}


class Checkpoint:
    """Everything :meth:`restore` needs to put a state back exactly as it was.

    Take it of the state about to be changed in place; it holds the state's
    objects and containers (so their ids stay theirs while it lives).
    """

    __slots__ = ("_containers", "_empty", "_objects")

    def __init__(self, st: ExecState) -> None:
        objects: list[tuple[_Load, Any, tuple[Any, ...]]] = []
        containers: list[tuple[Callable[[Any, Any], None], Any, Any]] = []
        seen: set[int] = set()
        stack: list[Any] = [st]
        plans = PLANS
        copies = COPY
        puts = PUT
        while stack:
            o = stack.pop()
            t = type(o)
            plan = plans.get(t)
            if plan is not None:
                if id(o) in seen:
                    continue
                seen.add(id(o))
                save, load, refs, datas = plan
                try:
                    vals = save(o)
                except AttributeError:  # a slot never assigned: kept unassigned
                    vals = slow_save(o)
                    load = slow_load
                objects.append((load, o, vals))
                for i in refs:
                    v = vals[i]
                    if v is not None:
                        stack.append(v)
                for i in datas:
                    d = vals[i]
                    copy = copies.get(type(d))
                    if copy is None or id(d) in seen:  # None, EMPTY, an immutable value
                        continue
                    seen.add(id(d))
                    containers.append((puts[type(d)], d, copy(d)))
                    if type(d) is dict:
                        for x in d.values():
                            if type(x) is deque and id(x) not in seen:
                                seen.add(id(x))
                                containers.append((put_deque, x, tuple(x)))
                continue
            copy = copies.get(t)
            if copy is not None:  # a container of references
                if id(o) in seen:
                    continue
                seen.add(id(o))
                saved = copy(o)
                containers.append((puts[t], o, saved))
                if t is dict or t is OrderedDict:
                    for k, x in o.items():
                        if type(k) in plans:
                            stack.append(k)
                        if x is not None and type(x) is not int and type(x) is not str:
                            stack.append(x)
                else:
                    stack.extend(x for x in saved if x is not None)
            elif t is tuple:
                stack.extend(x for x in o if x is not None)
            elif t is not int and t is not str and t is not bool and o is not EMPTY:
                raise TypeError(
                    f"Checkpoint: a REF field holds a {t.__name__}, which is neither an "
                    "object of a class in wftrio.engine.schema.SCHEMA nor a container of them"
                )
        self._set(objects, containers)

    def _set(
        self,
        objects: list[tuple[_Load, Any, tuple[Any, ...]]],
        containers: list[tuple[Callable[[Any, Any], None], Any, Any]],
    ) -> None:
        self._objects = objects
        # most containers are empty (a region's children, a layer's data, mi
        # results): restoring those is clearing them, when a move filled them
        self._containers = [e for e in containers if e[2]]
        self._empty = [c for _, c, saved in containers if not saved]

    @classmethod
    def of(
        cls,
        objects: list[tuple[Any, Any, tuple[Any, ...]]],
        containers: list[tuple[Callable[[Any, Any], None], Any, Any]],
    ) -> Checkpoint:
        """A checkpoint from saved fields and containers (see ``clone_with_checkpoint``)."""
        ck = cls.__new__(cls)
        ck._set(objects, containers)
        return ck

    def restore(self) -> None:
        """Put every saved field and container's contents back (in place)."""
        for load, o, vals in self._objects:
            load(o, vals)
        for put, c, saved in self._containers:
            put(c, saved)
        for c in self._empty:
            if c:
                c.clear()
