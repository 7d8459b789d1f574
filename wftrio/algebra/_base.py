"""Equality, hashing and repr of term nodes without recursion.

Terms may be nested far deeper than Python's recursion limit, and attrs'
generated ``__eq__`` / ``__hash__`` / ``__repr__`` recurse into the
children.  :class:`NodeBase` replaces them: a node's hash is computed once,
when it is built (its children are hashed by then, so that is constant
work), and ``==`` and ``repr`` run on explicit stacks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, TypeAlias

import attrs

__all__ = ["EqKey", "NodeBase", "Parts", "joined"]

# what NodeBase._repr_parts returns: text, and nodes to render in its place
Parts: TypeAlias = list["str | NodeBase"]
# what NodeBase._eq_key returns: plain values compared with ==, then child nodes
EqKey: TypeAlias = tuple[tuple[object, ...], tuple["NodeBase | None", ...]]


class NodeBase:
    """Equality, hashing and repr without recursion, for terms and their options.

    A subclass defines ``_eq_key`` (its plain values, compared with ``==``,
    and its child nodes, compared by the same loop) and ``_repr_parts``;
    its ``__attrs_post_init__`` calls :meth:`_seal` once its fields are
    checked.
    """

    __slots__ = ()
    _hash: int | None

    if TYPE_CHECKING:  # every node class defines both; declared here for the type checker

        def _eq_key(self) -> EqKey: ...

        def _repr_parts(self) -> Parts: ...

    def _seal(self, *values: object) -> None:
        # children are built (and hashed) first, so this is O(number of fields)
        try:
            h: int | None = hash((type(self).__name__, *values))
        except TypeError:  # an unhashable fn or policy: the term is unhashable too
            h = None
        object.__setattr__(self, "_hash", h)

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if type(other) is not type(self):
            return NotImplemented
        return _equal(self, other)

    def __ne__(self, other: object) -> bool:
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self) -> int:
        h = self._hash
        if h is None:
            raise TypeError(f"unhashable term (a field is unhashable): {self!r}")
        return h

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        # rebuild through __init__ (checks again, hashes in the new process): a
        # stored hash would be wrong in another process, where str hashes differ
        fields = attrs.fields(type(self))  # type: ignore[arg-type]
        return type(self), tuple(getattr(self, f.name) for f in fields if f.init)

    def __repr__(self) -> str:
        out: list[str] = []
        stack: Parts = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
            else:
                parts = item._repr_parts()
                parts.reverse()
                stack.extend(parts)
        return "".join(out)


def _equal(a: NodeBase, b: NodeBase) -> bool:
    stack: list[tuple[NodeBase | None, NodeBase | None]] = [(a, b)]
    while stack:
        x, y = stack.pop()
        if x is y:
            continue
        if x is None or y is None or type(x) is not type(y):
            return False
        hx, hy = x._hash, y._hash
        if hx is not None and hy is not None and hx != hy:
            return False
        vx, kx = x._eq_key()
        vy, ky = y._eq_key()
        if len(kx) != len(ky) or vx != vy:
            return False
        stack.extend(zip(kx, ky, strict=True))
    return True


def joined(items: Iterable[NodeBase], sep: str = ", ") -> Parts:
    out: Parts = []
    for item in items:
        if out:
            out.append(sep)
        out.append(item)
    return out
